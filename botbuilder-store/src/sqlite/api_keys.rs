use async_trait::async_trait;
use botbuilder_core::domain::{ApiKey, NewApiKey};
use botbuilder_core::id::{ApiKeyId, OrgId};
use botbuilder_core::store::{ApiKeyRepo, StoreResult};
use uuid::Uuid;

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::{ApiKeyRow, micros, permissions_json};

macro_rules! key_columns {
    () => {
        "id, organization_id, name, prefix, permissions, created_by, created_at, expires_at"
    };
}

#[async_trait]
impl ApiKeyRepo for SqliteStore {
    async fn create_api_key(&self, org: OrgId, new: NewApiKey) -> StoreResult<ApiKey> {
        sqlx::query_as::<_, ApiKeyRow>(concat!(
            "INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, permissions,
                                   created_by, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
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
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>> {
        sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE organization_id = ? ORDER BY id"
        ))
        .bind(org.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
    }

    async fn delete_api_key(&self, org: OrgId, key: ApiKeyId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM api_keys WHERE organization_id = ? AND id = ?")
            .bind(org.as_uuid())
            .bind(key.as_uuid())
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())
    }

    async fn find_api_key_by_hash(&self, key_hash: &[u8]) -> StoreResult<ApiKey> {
        sqlx::query_as::<_, ApiKeyRow>(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE key_hash = ?"
        ))
        .bind(key_hash.to_vec())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }
}
