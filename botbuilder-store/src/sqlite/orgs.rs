use async_trait::async_trait;
use botbuilder_core::domain::{
    BuiltinRole, NewOrganization, OrgMembership, Organization, OrganizationPatch, Role,
};
use botbuilder_core::id::{OrgId, UserId};
use botbuilder_core::store::{OrgRepo, StoreError, StoreResult};
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::store_err;
use crate::rows::{MemberRow, OrgRow, member_columns, micros, permissions_json};

/// Inserts an organization, its built-in roles and the owner membership inside `tx`.
pub(crate) async fn insert_org_with_owner(
    tx: &mut Transaction<'static, Sqlite>,
    new: &NewOrganization,
    owner: UserId,
    now: i64,
) -> StoreResult<Organization> {
    let org: Organization = sqlx::query_as::<_, OrgRow>(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)
         RETURNING id, name, settings, created_at, updated_at",
    )
    .bind(Uuid::now_v7())
    .bind(&new.name)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(store_err)?
    .try_into()?;
    let mut owner_role = None;
    for (rank, builtin) in BuiltinRole::ALL.into_iter().enumerate() {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO roles (id, organization_id, name, description, permissions, builtin, rank, created_at)
             VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(id)
        .bind(org.id.as_uuid())
        .bind(builtin.name())
        .bind(format!("Built-in {} role", builtin.name()))
        .bind(permissions_json(&builtin.permissions()))
        .bind(i64::try_from(rank).unwrap_or_default())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(store_err)?;
        if builtin == BuiltinRole::Owner {
            owner_role = Some(id);
        }
    }
    sqlx::query(
        "INSERT INTO organization_members (organization_id, user_id, role_id, created_at)
         VALUES (?, ?, ?, ?)",
    )
    .bind(org.id.as_uuid())
    .bind(owner.as_uuid())
    .bind(owner_role)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(store_err)?;
    Ok(org)
}

#[async_trait]
impl OrgRepo for SqliteStore {
    async fn create_org(&self, new: NewOrganization, owner: UserId) -> StoreResult<Organization> {
        let now = micros(self.now());
        let mut tx = self.write_transaction().await?;
        let org = insert_org_with_owner(&mut tx, &new, owner, now).await?;
        tx.commit().await.map_err(store_err)?;
        Ok(org)
    }

    async fn get_org(&self, org: OrgId) -> StoreResult<Organization> {
        sqlx::query_as::<_, OrgRow>(
            "SELECT id, name, settings, created_at, updated_at FROM organizations WHERE id = ?",
        )
        .bind(org.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_orgs_for_user(&self, user: UserId) -> StoreResult<Vec<OrgMembership>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            member: MemberRow,
            o_id: Uuid,
            o_name: String,
            o_settings: String,
            o_created_at: i64,
            o_updated_at: i64,
        }
        let rows = sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            member_columns!(),
            ", o.id AS o_id, o.name AS o_name, o.settings AS o_settings,
               o.created_at AS o_created_at, o.updated_at AS o_updated_at
             FROM organization_members m
             JOIN users u ON u.id = m.user_id
             JOIN roles r ON r.id = m.role_id
             JOIN organizations o ON o.id = m.organization_id
             WHERE m.user_id = ?
             ORDER BY o.id"
        ))
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        rows.into_iter()
            .map(|row| {
                let member = botbuilder_core::domain::Member::try_from(row.member)?;
                let role: Role = member.role;
                Ok(OrgMembership {
                    organization: Organization::try_from(OrgRow {
                        id: row.o_id,
                        name: row.o_name,
                        settings: row.o_settings,
                        created_at: row.o_created_at,
                        updated_at: row.o_updated_at,
                    })?,
                    role,
                })
            })
            .collect()
    }

    async fn update_org(&self, org: OrgId, patch: OrganizationPatch) -> StoreResult<Organization> {
        sqlx::query_as::<_, OrgRow>(
            "UPDATE organizations SET name = COALESCE(?, name), settings = COALESCE(?, settings),
                    updated_at = ? WHERE id = ?
             RETURNING id, name, settings, created_at, updated_at",
        )
        .bind(patch.name)
        .bind(
            patch
                .settings
                .map(|s| serde_json::to_string(&s))
                .transpose()
                .map_err(|e| StoreError::Backend(Box::new(e)))?,
        )
        .bind(micros(self.now()))
        .bind(org.as_uuid())
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn delete_org(&self, org: OrgId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM organizations WHERE id = ?")
            .bind(org.as_uuid())
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        super::expect_one(done.rows_affected())
    }
}
