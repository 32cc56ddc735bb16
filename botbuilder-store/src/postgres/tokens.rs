//! Refresh tokens ([`RefreshTokenRepo`]) on Postgres. They belong to users, not organizations,
//! so `refresh_tokens` has no row-level security and every call is one statement on the pool.
//!
//! Consuming a token is one conditional `UPDATE … WHERE used_at IS NULL AND revoked_at IS
//! NULL`: of two concurrent rotations, the second waits for the first's row lock, re-checks the
//! condition on the row the first left (read committed), and touches nothing, so exactly one
//! wins, as with SQLite's single writer.

use async_trait::async_trait;
use botbuilder_core::domain::{NewRefreshToken, RefreshToken};
use botbuilder_core::id::TokenFamilyId;
use botbuilder_core::store::{RefreshTokenRepo, StoreResult};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PgStore;
use crate::error::store_err;
use crate::rows::{RefreshTokenRow, micros};

macro_rules! token_columns {
    () => {
        "id, family_id, user_id, token_hash, created_at, expires_at, used_at, revoked_at"
    };
}

#[async_trait]
impl RefreshTokenRepo for PgStore {
    async fn insert_refresh_token(&self, new: NewRefreshToken) -> StoreResult<RefreshToken> {
        sqlx::query_as::<_, RefreshTokenRow>(concat!(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
            token_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(new.family_id.as_uuid())
        .bind(new.user_id.as_uuid())
        .bind(&new.token_hash)
        .bind(micros(self.now()))
        .bind(micros(new.expires_at))
        .fetch_one(&self.pool)
        .await
        .map(RefreshToken::from)
        .map_err(store_err)
    }

    async fn find_refresh_token(&self, token_hash: &[u8]) -> StoreResult<RefreshToken> {
        sqlx::query_as::<_, RefreshTokenRow>(concat!(
            "SELECT ",
            token_columns!(),
            " FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_one(&self.pool)
        .await
        .map(RefreshToken::from)
        .map_err(store_err)
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(micros(at))
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_refresh_family(
        &self,
        family: TokenFamilyId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(micros(at))
        .bind(family.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(())
    }
}
