//! API keys ([`ApiKeyRepo`]) on Postgres: creating, listing and deleting run in a transaction
//! scoped to the key's organization; finding a key by its hash is how a request's organization
//! is discovered, so it crosses tenants and acts for the platform. The hash is unique across
//! every organization (the unique index is not subject to row-level security).

use async_trait::async_trait;
use botbuilder_core::domain::{ApiKey, NewApiKey};
use botbuilder_core::id::{ApiKeyId, OrgId};
use botbuilder_core::store::{ApiKeyRepo, StoreResult};
use uuid::Uuid;

use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::{ApiKeyRow, micros, permissions_json};

macro_rules! key_columns {
    () => {
        "id, organization_id, name, prefix, permissions, created_by, created_at, expires_at"
    };
}

#[async_trait]
impl ApiKeyRepo for PgStore {
    async fn create_api_key(&self, org: OrgId, new: NewApiKey) -> StoreResult<ApiKey> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, ApiKeyRow>(concat!(
            "INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, permissions,
                                   created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
            key_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(&new.name)
        .bind(&new.prefix)
        .bind(&new.key_hash)
        .bind(permissions_json(&new.permissions))
        .bind(new.created_by.map(|u| u.as_uuid()))
        .bind(micros(self.now()))
        .bind(new.expires_at.map(micros))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>> {
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE organization_id = $1 ORDER BY id"
        ))
        .bind(org.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    async fn delete_api_key(&self, org: OrgId, key: ApiKeyId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE organization_id = $1 AND id = $2")
            .bind(org.as_uuid())
            .bind(key.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }

    async fn find_api_key_by_hash(&self, key_hash: &[u8]) -> StoreResult<ApiKey> {
        let mut tx = self.platform().await?;
        let row = sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }
}
