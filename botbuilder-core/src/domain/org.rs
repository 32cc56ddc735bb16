use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::role::Role;
use crate::id::{OrgId, RoleId, UserId};

/// An organization: the tenant. Everything else (bots, keys, audit entries) belongs to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// The organization's id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Limits and preferences.
    #[serde(default)]
    pub settings: OrgSettings,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// An organization to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
}

/// An organization's limits and preferences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgSettings {
    /// Most the organization's language model calls may cost per calendar month (UTC), in
    /// millionths of a US dollar; `None`: no limit. Once reached, calls are refused before
    /// they are made and conversations get the bot's unavailable message.
    pub monthly_spend_limit_micros: Option<i64>,
}

/// Changes to an organization; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrganizationPatch {
    /// New display name.
    pub name: Option<String>,
    /// New settings (replace the whole object).
    pub settings: Option<OrgSettings>,
}

/// A user's membership in an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization.
    pub org_id: OrgId,
    /// The member.
    pub user_id: UserId,
    /// The member's role in the organization.
    pub role_id: RoleId,
    /// When the user joined.
    pub created_at: DateTime<Utc>,
}

/// An organization seen from one of its members: the organization and the member's role.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgMembership {
    /// The organization.
    pub organization: Organization,
    /// The member's role there.
    pub role: Role,
}
