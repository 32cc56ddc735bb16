use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! permissions {
    ($($(#[$meta:meta])* $variant:ident => $name:literal),+ $(,)?) => {
        /// One thing a member or an API key may do inside an organization.
        ///
        /// Serialized as `area:action` strings (`"bots:write"`), which is also the form the
        /// HTTP API and the documentation use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Permission {
            $($(#[$meta])* #[serde(rename = $name)] $variant,)+
        }

        impl Permission {
            /// Every permission, in a stable order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            /// The `area:action` name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)+
                }
            }
        }

        impl FromStr for Permission {
            type Err = UnknownPermission;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Permission::$variant),)+
                    other => Err(UnknownPermission(other.to_owned())),
                }
            }
        }
    };
}

permissions! {
    /// See the organization.
    OrgRead => "org:read",
    /// Rename the organization.
    OrgUpdate => "org:update",
    /// Delete the organization and everything in it.
    OrgDelete => "org:delete",
    /// List members.
    MembersRead => "members:read",
    /// Add, remove and change the role of members.
    MembersManage => "members:manage",
    /// List roles.
    RolesRead => "roles:read",
    /// Create, change and delete custom roles.
    RolesManage => "roles:manage",
    /// List API keys (never their secrets).
    ApiKeysRead => "api_keys:read",
    /// Create and revoke API keys.
    ApiKeysManage => "api_keys:manage",
    /// Read the audit log.
    AuditRead => "audit:read",
    /// See bots and their configuration.
    BotsRead => "bots:read",
    /// Create, change and clone bots.
    BotsWrite => "bots:write",
    /// Delete bots.
    BotsDelete => "bots:delete",
    /// Read conversations and transcripts.
    ConversationsRead => "conversations:read",
    /// Talk to bots, reply as a human agent, hand conversations back, rate messages.
    ConversationsWrite => "conversations:write",
    /// Talk to bots through the OpenAI-compatible `/v1/chat/completions` API.
    ChatCompletions => "chat:completions",
    /// See which language model providers have credentials (masked, never the keys).
    CredentialsRead => "credentials:read",
    /// Set, test and remove the organization's provider credentials.
    CredentialsManage => "credentials:manage",
    /// Read token usage and spend.
    UsageRead => "usage:read",
    /// See the organization's webhook endpoints and their delivery logs.
    WebhooksRead => "webhooks:read",
    /// Add, change, remove webhook endpoints, rotate their secrets and redeliver events.
    WebhooksManage => "webhooks:manage",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission `{0}`")]
pub struct UnknownPermission(pub String);

/// A set of permissions (a role's, or an API key's scope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every permission.
    pub fn all() -> Self {
        Permission::ALL.iter().copied().collect()
    }

    /// Whether `permission` is in the set.
    pub fn contains(&self, permission: Permission) -> bool {
        self.0.contains(&permission)
    }

    /// Whether every permission of `other` is also in `self`.
    pub fn is_superset(&self, other: &PermissionSet) -> bool {
        self.0.is_superset(&other.0)
    }

    /// The permissions, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    /// Number of permissions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one permission.
    pub fn insert(&mut self, permission: Permission) {
        self.0.insert(permission);
    }

    /// The permissions in both sets.
    #[must_use]
    pub fn intersection(&self, other: &PermissionSet) -> PermissionSet {
        Self(self.0.intersection(&other.0).copied().collect())
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), *p);
            let json = serde_json::to_string(p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert!("bots:fly".parse::<Permission>().is_err());
    }
}
