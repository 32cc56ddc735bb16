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

impl ApiKey {
    /// What the key may do now: its scope narrowed to what its creator may do now in the
    /// key's organization (`creator`: the creator's current permissions there, `None` when
    /// they are no longer a member). A key lives no longer, and reaches no further, than its
    /// creator's rights: `None` means the key may do nothing (its creator left, or their
    /// account is gone and the key no longer names one).
    pub fn effective_permissions(&self, creator: Option<&PermissionSet>) -> Option<PermissionSet> {
        match (self.created_by, creator) {
            (Some(_), Some(current)) => Some(self.permissions.intersection(current)),
            (None, _) | (Some(_), None) => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Permission;

    #[test]
    fn a_key_reaches_no_further_than_its_creator() {
        let scope: PermissionSet = [Permission::BotsRead, Permission::MembersManage]
            .into_iter()
            .collect();
        let key = ApiKey {
            id: ApiKeyId::new(),
            org_id: OrgId::new(),
            name: "ci".into(),
            prefix: "bb_x".into(),
            permissions: scope.clone(),
            created_by: Some(UserId::new()),
            created_at: Utc::now(),
            expires_at: None,
        };
        let viewer: PermissionSet = [Permission::BotsRead, Permission::OrgRead]
            .into_iter()
            .collect();
        assert_eq!(
            key.effective_permissions(Some(&viewer)),
            Some([Permission::BotsRead].into_iter().collect())
        );
        assert_eq!(key.effective_permissions(None), None, "the creator left");
        let orphan = ApiKey {
            created_by: None,
            ..key
        };
        assert_eq!(
            orphan.effective_permissions(Some(&scope)),
            None,
            "no creator, no rights"
        );
    }
}
