//! Organizations ([`OrgRepo`]) on Postgres.
//!
//! Unlike SQLite, the organization's id is generated before its transaction opens: the
//! transaction is scoped to that organization ([`PgStore::tenant`]), so row-level security
//! accepts the inserts of the organization, its roles and its owner. The four built-in roles go
//! in one statement (`unnest` over arrays) rather than one each. Listing a user's
//! organizations crosses tenants, so it acts for the platform. Deleting an organization
//! cascades through the foreign keys, which row-level security does not stop.

use async_trait::async_trait;
use botbuilder_core::domain::{
    BuiltinRole, Member, NewOrganization, OrgMembership, Organization, OrganizationPatch,
};
use botbuilder_core::id::{OrgId, UserId};
use botbuilder_core::store::{OrgRepo, StoreError, StoreResult};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::{MemberRow, OrgRow, member_columns, micros, permissions_json};

macro_rules! org_columns {
    () => {
        "id, name, settings, created_at, updated_at"
    };
}

/// Inserts organization `id`, its built-in roles and the owner membership inside `tx`, which
/// must be scoped to `id` (or the platform). `NotFound` if `owner` does not exist.
pub(super) async fn insert_org_with_owner(
    tx: &mut Transaction<'static, Postgres>,
    id: OrgId,
    new: &NewOrganization,
    owner: UserId,
    now: i64,
) -> StoreResult<Organization> {
    let org: Organization = sqlx::query_as::<_, OrgRow>(concat!(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)
         RETURNING ",
        org_columns!()
    ))
    .bind(id.as_uuid())
    .bind(&new.name)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(store_err)?
    .try_into()?;
    let owner_role = insert_builtin_roles(tx, id, now).await?;
    sqlx::query(
        "INSERT INTO organization_members (organization_id, user_id, role_id, created_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id.as_uuid())
    .bind(owner.as_uuid())
    .bind(owner_role)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(store_err)?;
    Ok(org)
}

/// Inserts the four built-in roles of `org`, ranked in [`BuiltinRole::ALL`] order, and returns
/// the owner role's id.
async fn insert_builtin_roles(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    now: i64,
) -> StoreResult<Uuid> {
    let ids: Vec<Uuid> = BuiltinRole::ALL.iter().map(|_| Uuid::now_v7()).collect();
    let names: Vec<&str> = BuiltinRole::ALL.iter().map(|r| r.name()).collect();
    let descriptions: Vec<String> = BuiltinRole::ALL
        .iter()
        .map(|r| format!("Built-in {} role", r.name()))
        .collect();
    let permissions: Vec<String> = BuiltinRole::ALL
        .iter()
        .map(|r| permissions_json(&r.permissions()))
        .collect();
    let ranks: Vec<i32> = (0..).take(BuiltinRole::ALL.len()).collect();
    sqlx::query(
        "INSERT INTO roles (id, organization_id, name, description, permissions, builtin, rank,
                            created_at)
         SELECT r.id, $1, r.name, r.description, r.permissions, true, r.rank, $2
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::integer[])
              AS r(id, name, description, permissions, rank)",
    )
    .bind(org.as_uuid())
    .bind(now)
    .bind(&ids)
    .bind(&names)
    .bind(&descriptions)
    .bind(&permissions)
    .bind(&ranks)
    .execute(&mut **tx)
    .await
    .map_err(store_err)?;
    let owner = BuiltinRole::ALL
        .iter()
        .position(|r| *r == BuiltinRole::Owner)
        .map(|i| ids[i]);
    owner.ok_or_else(|| StoreError::Backend("no built-in owner role".into()))
}

#[async_trait]
impl OrgRepo for PgStore {
    async fn create_org(&self, new: NewOrganization, owner: UserId) -> StoreResult<Organization> {
        let now = micros(self.now());
        let id = OrgId::new();
        let mut tx = self.tenant(id).await?;
        let org = insert_org_with_owner(&mut tx, id, &new, owner, now).await?;
        commit(tx).await?;
        Ok(org)
    }

    async fn get_org(&self, org: OrgId) -> StoreResult<Organization> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, OrgRow>(concat!(
            "SELECT ",
            org_columns!(),
            " FROM organizations WHERE id = $1"
        ))
        .bind(org.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
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
        // Every organization of the user: across tenants, so as the platform.
        let mut tx = self.platform().await?;
        let rows = sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            member_columns!(),
            ", o.id AS o_id, o.name AS o_name, o.settings AS o_settings,
               o.created_at AS o_created_at, o.updated_at AS o_updated_at
             FROM organization_members m
             JOIN users u ON u.id = m.user_id
             JOIN roles r ON r.id = m.role_id
             JOIN organizations o ON o.id = m.organization_id
             WHERE m.user_id = $1
             ORDER BY o.id"
        ))
        .bind(user.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        rows.into_iter()
            .map(|row| {
                Ok(OrgMembership {
                    role: Member::try_from(row.member)?.role,
                    organization: Organization::try_from(OrgRow {
                        id: row.o_id,
                        name: row.o_name,
                        settings: row.o_settings,
                        created_at: row.o_created_at,
                        updated_at: row.o_updated_at,
                    })?,
                })
            })
            .collect()
    }

    async fn update_org(&self, org: OrgId, patch: OrganizationPatch) -> StoreResult<Organization> {
        let settings = patch
            .settings
            .map(|s| serde_json::to_string(&s))
            .transpose()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, OrgRow>(concat!(
            "UPDATE organizations SET name = COALESCE($2, name), settings = COALESCE($3, settings),
                    updated_at = $4
             WHERE id = $1 RETURNING ",
            org_columns!()
        ))
        .bind(org.as_uuid())
        .bind(patch.name)
        .bind(settings)
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn delete_org(&self, org: OrgId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }
}
