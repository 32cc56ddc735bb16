//! Roles ([`RoleRepo`]) on Postgres, each call in a transaction scoped to its organization.
//!
//! Differences from SQLite: `builtin` is a boolean, and deleting a role first locks it
//! (`FOR UPDATE`). Without the lock, a member being given the role by a concurrent transaction
//! is invisible to the delete's "held by nobody" check; the foreign key would still keep the
//! role, but the delete would fail as `NotFound` rather than `Conflict`. With it, the delete
//! waits for that transaction (whose foreign key check holds the role `FOR KEY SHARE`) and
//! then sees its member, or the other transaction waits and finds the role gone.

use async_trait::async_trait;
use botbuilder_core::domain::{NewRole, Role, RolePatch};
use botbuilder_core::id::{OrgId, RoleId};
use botbuilder_core::store::{RoleRepo, StoreError, StoreResult};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{PgStore, commit};
use crate::error::store_err;
use crate::rows::{RoleRow, micros, permissions_json};

macro_rules! role_columns {
    () => {
        "id, organization_id, name, description, permissions, builtin, created_at"
    };
}

/// Rank of custom roles: they list after the four built-ins (ranks 0..=3).
const CUSTOM_RANK: i32 = 100;

/// A role of `org`, read in `tx`; `NotFound` if unknown or another organization's.
async fn fetch_role(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    role: RoleId,
) -> StoreResult<Role> {
    sqlx::query_as::<_, RoleRow>(concat!(
        "SELECT ",
        role_columns!(),
        " FROM roles WHERE organization_id = $1 AND id = $2"
    ))
    .bind(org.as_uuid())
    .bind(role.as_uuid())
    .fetch_one(&mut **tx)
    .await
    .map_err(store_err)?
    .try_into()
}

/// After a guarded write on a role touched no row: `NotFound` if the role is not `org`'s,
/// otherwise `Conflict` with `why`.
async fn missing_or(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    role: RoleId,
    why: &str,
) -> StoreError {
    match fetch_role(tx, org, role).await {
        Ok(_) => StoreError::Conflict(why.to_owned()),
        Err(e) => e,
    }
}

#[async_trait]
impl RoleRepo for PgStore {
    async fn create_role(&self, org: OrgId, new: NewRole) -> StoreResult<Role> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, RoleRow>(concat!(
            "INSERT INTO roles (id, organization_id, name, description, permissions, builtin,
                                rank, created_at)
             VALUES ($1, $2, $3, $4, $5, false, $6, $7) RETURNING ",
            role_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(&new.name)
        .bind(&new.description)
        .bind(permissions_json(&new.permissions))
        .bind(CUSTOM_RANK)
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match store_err(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a role named `{}` already exists", new.name))
            }
            other => other,
        })?;
        commit(tx).await?;
        row.try_into()
    }

    async fn get_role(&self, org: OrgId, role: RoleId) -> StoreResult<Role> {
        let mut tx = self.tenant(org).await?;
        let role = fetch_role(&mut tx, org, role).await?;
        commit(tx).await?;
        Ok(role)
    }

    async fn find_role_by_name(&self, org: OrgId, name: &str) -> StoreResult<Role> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, RoleRow>(concat!(
            "SELECT ",
            role_columns!(),
            " FROM roles WHERE organization_id = $1 AND name = $2"
        ))
        .bind(org.as_uuid())
        .bind(name)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn list_roles(&self, org: OrgId) -> StoreResult<Vec<Role>> {
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, RoleRow>(concat!(
            "SELECT ",
            role_columns!(),
            " FROM roles WHERE organization_id = $1 ORDER BY rank, id"
        ))
        .bind(org.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        rows.into_iter().map(Role::try_from).collect()
    }

    async fn update_role(&self, org: OrgId, role: RoleId, patch: RolePatch) -> StoreResult<Role> {
        let mut tx = self.tenant(org).await?;
        // A taken name fails the unique constraint (`Conflict`).
        let row = sqlx::query_as::<_, RoleRow>(concat!(
            "UPDATE roles SET name = COALESCE($3, name), description = COALESCE($4, description),
                    permissions = COALESCE($5, permissions)
             WHERE organization_id = $1 AND id = $2 AND NOT builtin RETURNING ",
            role_columns!()
        ))
        .bind(org.as_uuid())
        .bind(role.as_uuid())
        .bind(patch.name)
        .bind(patch.description)
        .bind(patch.permissions.as_ref().map(permissions_json))
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        let Some(row) = row else {
            return Err(missing_or(&mut tx, org, role, "built-in roles cannot be changed").await);
        };
        commit(tx).await?;
        row.try_into()
    }

    async fn delete_role(&self, org: OrgId, role: RoleId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        // Waits for transactions giving the role to a member (see the module docs).
        sqlx::query("SELECT 1 FROM roles WHERE organization_id = $1 AND id = $2 FOR UPDATE")
            .bind(org.as_uuid())
            .bind(role.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        let done = sqlx::query(
            "DELETE FROM roles WHERE organization_id = $1 AND id = $2 AND NOT builtin
               AND NOT EXISTS (SELECT 1 FROM organization_members
                               WHERE organization_id = $1 AND role_id = $2)",
        )
        .bind(org.as_uuid())
        .bind(role.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            // The role exists (it is locked), so a rule refused the delete.
            return Err(StoreError::Conflict(
                "built-in roles and roles held by members cannot be deleted".to_owned(),
            ));
        }
        commit(tx).await
    }
}
