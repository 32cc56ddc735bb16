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

/// Changes to an organization; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrganizationPatch {
    /// New display name.
    pub name: Option<String>,
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
