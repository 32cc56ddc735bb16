//! User accounts ([`UserRepo`]) on Postgres.
//!
//! `users` belongs to no tenant and has no row-level security, so single statements run on the
//! pool without a transaction. Sign-up is the exception: it creates the organization too, so it
//! runs in a transaction scoped to that organization, whose id is generated here before the
//! transaction opens (the policies on `organizations`, `roles` and `organization_members` must
//! see the tenant to accept the inserts).

use async_trait::async_trait;
use botbuilder_core::domain::{NewOrganization, NewUser, Organization, User};
use botbuilder_core::id::{OrgId, UserId};
use botbuilder_core::store::{StoreResult, UserRepo};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::orgs::insert_org_with_owner;
use super::{PgStore, commit};
use crate::error::store_err;
use crate::rows::{UserRow, micros, normalize_email};

macro_rules! select_user {
    ($tail:literal) => {
        concat!(
            "SELECT id, email, name, password_hash, created_at FROM users",
            $tail
        )
    };
}

/// Inserts a user (the email normalized); a taken email is `Conflict`.
async fn insert_user<'c>(db: impl PgExecutor<'c>, new: &NewUser, now: i64) -> StoreResult<User> {
    sqlx::query_as::<_, UserRow>(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, email, name, password_hash, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(normalize_email(&new.email))
    .bind(&new.name)
    .bind(&new.password_hash)
    .bind(now)
    .fetch_one(db)
    .await
    .map(User::from)
    .map_err(store_err)
}

#[async_trait]
impl UserRepo for PgStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        insert_user(&self.pool, &new, micros(self.now())).await
    }

    async fn create_user_with_org(
        &self,
        user: NewUser,
        org: NewOrganization,
    ) -> StoreResult<(User, Organization)> {
        let now = micros(self.now());
        let org_id = OrgId::new();
        let mut tx = self.tenant(org_id).await?;
        let user = insert_user(&mut *tx, &user, now).await?;
        let org = insert_org_with_owner(&mut tx, org_id, &org, user.id, now).await?;
        commit(tx).await?;
        Ok((user, org))
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(select_user!(" WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_one(&self.pool)
            .await
            .map(User::from)
            .map_err(store_err)
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(select_user!(" WHERE email = $1"))
            .bind(normalize_email(email))
            .fetch_one(&self.pool)
            .await
            .map(User::from)
            .map_err(store_err)
    }
}
