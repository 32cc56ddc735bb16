use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::permission::PermissionSet;
use crate::id::{ApiKeyId, OrgId, UserId};

/// An API key: a long-lived credential scoped to one organization and a permission set.
///
/// The secret itself is shown once at creation and never stored; the store keeps a hash of it
/// and a short non-secret `prefix` that identifies the key in lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The key's id.
    pub id: ApiKeyId,
    /// The only organization the key can act in.
    pub org_id: OrgId,
    /// A label chosen by its creator.
    pub name: String,
    /// The first characters of the key, safe to display (`bb_Ab3dE`).
    pub prefix: String,
    /// What the key may do (never more than its creator could when it was made).
    pub permissions: PermissionSet,
    /// The user who created the key, if any.
    pub created_by: Option<UserId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// After this instant the key is refused; `None` = no expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API key to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApiKey {
    /// Label.
    pub name: String,
    /// Displayable prefix of the secret.
    pub prefix: String,
    /// A cryptographic hash of the whole secret (the lookup key).
    pub key_hash: Vec<u8>,
    /// Scope.
    pub permissions: PermissionSet,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Optional expiry.
    pub expires_at: Option<DateTime<Utc>>,
}
