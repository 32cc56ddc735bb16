use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::permission::{Permission, PermissionSet};
use crate::id::{OrgId, RoleId};

/// The four roles every organization starts with. They cannot be changed or deleted.
///
/// | permission        | owner | admin | editor | viewer |
/// |-------------------|:-----:|:-----:|:------:|:------:|
/// | `org:read`        |   ✓   |   ✓   |   ✓    |   ✓    |
/// | `org:update`      |   ✓   |   ✓   |        |        |
/// | `org:delete`      |   ✓   |       |        |        |
/// | `members:read`    |   ✓   |   ✓   |   ✓    |   ✓    |
/// | `members:manage`  |   ✓   |   ✓   |        |        |
/// | `roles:read`      |   ✓   |   ✓   |   ✓    |   ✓    |
/// | `roles:manage`    |   ✓   |   ✓   |        |        |
/// | `api_keys:read`   |   ✓   |   ✓   |        |        |
/// | `api_keys:manage` |   ✓   |   ✓   |        |        |
/// | `audit:read`      |   ✓   |   ✓   |        |        |
/// | `bots:read`       |   ✓   |   ✓   |   ✓    |   ✓    |
/// | `bots:write`      |   ✓   |   ✓   |   ✓    |        |
/// | `bots:delete`     |   ✓   |   ✓   |   ✓    |        |
/// | `conversations:read`  | ✓ |   ✓   |   ✓    |   ✓    |
/// | `conversations:write` | ✓ |   ✓   |   ✓    |        |
///
/// Beyond the matrix: only an owner may grant or take away the owner role, and the last owner
/// of an organization can be neither removed nor demoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltinRole {
    /// Everything, including deleting the organization.
    Owner,
    /// Everything but deleting the organization or touching owners.
    Admin,
    /// Builds bots; reads the organization.
    Editor,
    /// Reads only.
    Viewer,
}

impl BuiltinRole {
    /// All built-in roles, most powerful first.
    pub const ALL: [BuiltinRole; 4] = [Self::Owner, Self::Admin, Self::Editor, Self::Viewer];

    /// The role's name, unique within an organization.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }

    /// Looks a built-in role up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The role's permissions (the matrix above).
    pub fn permissions(self) -> PermissionSet {
        use Permission::*;
        let read = [OrgRead, MembersRead, RolesRead, BotsRead, ConversationsRead];
        match self {
            Self::Owner => PermissionSet::all(),
            Self::Admin => Permission::ALL
                .iter()
                .copied()
                .filter(|p| *p != OrgDelete)
                .collect(),
            Self::Editor => read
                .into_iter()
                .chain([BotsWrite, BotsDelete, ConversationsWrite, ChatCompletions])
                .collect(),
            Self::Viewer => read.into_iter().collect(),
        }
    }
}

/// A named permission set inside one organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// The role's id.
    pub id: RoleId,
    /// The organization the role belongs to.
    pub org_id: OrgId,
    /// Name, unique within the organization (`owner`, `admin`, ... or a custom name).
    pub name: String,
    /// Free text shown to administrators.
    pub description: String,
    /// What holders of the role may do.
    pub permissions: PermissionSet,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
    /// When the role was created.
    pub created_at: DateTime<Utc>,
}

impl Role {
    /// Whether this is the built-in owner role.
    pub fn is_owner(&self) -> bool {
        self.builtin && self.name == BuiltinRole::Owner.name()
    }
}

/// A custom role to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRole {
    /// Name, unique within the organization.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The permission set.
    pub permissions: PermissionSet,
}

/// Changes to a custom role; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolePatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New permission set.
    pub permissions: Option<PermissionSet>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_nest() {
        let [owner, admin, editor, viewer] = BuiltinRole::ALL.map(BuiltinRole::permissions);
        assert!(owner.is_superset(&admin));
        assert!(admin.is_superset(&editor));
        assert!(editor.is_superset(&viewer));
        assert!(!admin.contains(Permission::OrgDelete));
        assert!(!editor.contains(Permission::MembersManage));
        assert!(!editor.contains(Permission::ApiKeysManage));
        assert!(!viewer.contains(Permission::BotsWrite));
    }
}
