use async_trait::async_trait;
use botbuilder_core::domain::{NewOrganization, NewUser, Organization, User};
use botbuilder_core::id::UserId;
use botbuilder_core::store::{StoreResult, UserRepo};
use uuid::Uuid;

use super::SqliteStore;
use super::orgs::insert_org_with_owner;
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

async fn insert_user<'c, E>(db: E, new: &NewUser, now: i64) -> StoreResult<User>
where
    E: sqlx::SqliteExecutor<'c>,
{
    sqlx::query_as::<_, UserRow>(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
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
impl UserRepo for SqliteStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        insert_user(&self.writer, &new, micros(self.now())).await
    }

    async fn create_user_with_org(
        &self,
        user: NewUser,
        org: NewOrganization,
    ) -> StoreResult<(User, Organization)> {
        let now = micros(self.now());
        let mut tx = self.write_transaction().await?;
        let user = insert_user(&mut *tx, &user, now).await?;
        let org = insert_org_with_owner(&mut tx, &org, user.id, now).await?;
        tx.commit().await.map_err(store_err)?;
        Ok((user, org))
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(select_user!(" WHERE id = ?"))
            .bind(id.as_uuid())
            .fetch_one(&self.pool)
            .await
            .map(User::from)
            .map_err(store_err)
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(select_user!(" WHERE email = ?"))
            .bind(normalize_email(email))
            .fetch_one(&self.pool)
            .await
            .map(User::from)
            .map_err(store_err)
    }
}
