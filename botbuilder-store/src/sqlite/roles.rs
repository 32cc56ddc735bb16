use async_trait::async_trait;
use botbuilder_core::domain::{NewRole, Role, RolePatch};
use botbuilder_core::id::{OrgId, RoleId};
use botbuilder_core::store::{RoleRepo, StoreError, StoreResult};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::store_err;
use crate::rows::{RoleRow, micros, permissions_json};

macro_rules! role_columns {
    () => {
        "id, organization_id, name, description, permissions, builtin, created_at"
    };
}

/// Rank of custom roles: they list after the four built-ins (ranks 0..=3).
const CUSTOM_RANK: i64 = 100;

impl SqliteStore {
    /// After a guarded write on a role touched no row: `NotFound` if the role is not `org`'s,
    /// otherwise `Conflict` with `why`.
    async fn role_missing_or(&self, org: OrgId, role: RoleId, why: &str) -> StoreError {
        match self.get_role(org, role).await {
            Ok(_) => StoreError::Conflict(why.to_owned()),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl RoleRepo for SqliteStore {
    async fn create_role(&self, org: OrgId, new: NewRole) -> StoreResult<Role> {
        sqlx::query_as::<_, RoleRow>(concat!(
            "INSERT INTO roles (id, organization_id, name, description, permissions, builtin, rank, created_at)
             VALUES (?, ?, ?, ?, ?, 0, ?, ?) RETURNING ",
            role_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(&new.name)
        .bind(&new.description)
        .bind(permissions_json(&new.permissions))
        .bind(CUSTOM_RANK)
        .bind(micros(self.now()))
        .fetch_one(&self.writer)
        .await
        .map_err(|e| match store_err(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a role named `{}` already exists", new.name))
            }
            other => other,
        })?
        .try_into()
    }

    async fn get_role(&self, org: OrgId, role: RoleId) -> StoreResult<Role> {
        sqlx::query_as::<_, RoleRow>(concat!(
            "SELECT ",
            role_columns!(),
            " FROM roles WHERE organization_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(role.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn find_role_by_name(&self, org: OrgId, name: &str) -> StoreResult<Role> {
        sqlx::query_as::<_, RoleRow>(concat!(
            "SELECT ",
            role_columns!(),
            " FROM roles WHERE organization_id = ? AND name = ?"
        ))
        .bind(org.as_uuid())
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_roles(&self, org: OrgId) -> StoreResult<Vec<Role>> {
        sqlx::query_as::<_, RoleRow>(concat!(
            "SELECT ",
            role_columns!(),
            " FROM roles WHERE organization_id = ? ORDER BY rank, id"
        ))
        .bind(org.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Role::try_from)
        .collect()
    }

    async fn update_role(&self, org: OrgId, role: RoleId, patch: RolePatch) -> StoreResult<Role> {
        let row = sqlx::query_as::<_, RoleRow>(concat!(
            "UPDATE roles SET name = COALESCE(?3, name), description = COALESCE(?4, description),
                    permissions = COALESCE(?5, permissions)
             WHERE organization_id = ?1 AND id = ?2 AND builtin = 0 RETURNING ",
            role_columns!()
        ))
        .bind(org.as_uuid())
        .bind(role.as_uuid())
        .bind(patch.name)
        .bind(patch.description)
        .bind(patch.permissions.as_ref().map(permissions_json))
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?;
        match row {
            Some(row) => row.try_into(),
            None => Err(self
                .role_missing_or(org, role, "built-in roles cannot be changed")
                .await),
        }
    }

    async fn delete_role(&self, org: OrgId, role: RoleId) -> StoreResult<()> {
        let done = sqlx::query(
            "DELETE FROM roles WHERE organization_id = ?1 AND id = ?2 AND builtin = 0
               AND NOT EXISTS (SELECT 1 FROM organization_members
                               WHERE organization_id = ?1 AND role_id = ?2)",
        )
        .bind(org.as_uuid())
        .bind(role.as_uuid())
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(self
                .role_missing_or(
                    org,
                    role,
                    "built-in roles and roles held by members cannot be deleted",
                )
                .await);
        }
        Ok(())
    }
}
