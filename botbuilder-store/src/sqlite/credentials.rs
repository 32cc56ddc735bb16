use async_trait::async_trait;
use botbuilder_core::domain::{NewProviderCredential, ProviderCredential, SealedSecret};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{CredentialRepo, StoreError, StoreResult};

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::credentials::{CredentialRow, credential_columns as columns};
use crate::rows::micros;

#[async_trait]
impl CredentialRepo for SqliteStore {
    async fn put_provider_credential(
        &self,
        org: OrgId,
        new: NewProviderCredential,
    ) -> StoreResult<ProviderCredential> {
        let now = micros(self.now());
        let row = sqlx::query_as::<_, CredentialRow>(concat!(
            "INSERT INTO provider_credentials (",
            columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (organization_id, provider) DO UPDATE SET
                 key_id = excluded.key_id, nonce = excluded.nonce,
                 ciphertext = excluded.ciphertext, hint = excluded.hint,
                 base_url = excluded.base_url, updated_at = excluded.updated_at
             RETURNING ",
            columns!()
        ))
        .bind(org.as_uuid())
        .bind(&new.provider)
        .bind(&new.secret.key_id)
        .bind(&new.secret.nonce)
        .bind(&new.secret.ciphertext)
        .bind(&new.hint)
        .bind(&new.base_url)
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?;
        Ok(row.into())
    }

    async fn get_provider_credential(
        &self,
        org: OrgId,
        provider: &str,
    ) -> StoreResult<ProviderCredential> {
        sqlx::query_as::<_, CredentialRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM provider_credentials WHERE organization_id = ? AND provider = ?"
        ))
        .bind(org.as_uuid())
        .bind(provider)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .map(Into::into)
        .ok_or(StoreError::NotFound)
    }

    async fn list_provider_credentials(&self, org: OrgId) -> StoreResult<Vec<ProviderCredential>> {
        Ok(sqlx::query_as::<_, CredentialRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM provider_credentials WHERE organization_id = ? ORDER BY provider"
        ))
        .bind(org.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn delete_provider_credential(&self, org: OrgId, provider: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "DELETE FROM provider_credentials WHERE organization_id = ? AND provider = ?",
        )
        .bind(org.as_uuid())
        .bind(provider)
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        expect_one(done.rows_affected())
    }

    async fn all_provider_credentials(&self) -> StoreResult<Vec<ProviderCredential>> {
        Ok(sqlx::query_as::<_, CredentialRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM provider_credentials ORDER BY organization_id, provider"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn reseal_provider_credential(
        &self,
        org: OrgId,
        provider: &str,
        expected: &SealedSecret,
        secret: SealedSecret,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE provider_credentials SET key_id = ?1, nonce = ?2, ciphertext = ?3
             WHERE organization_id = ?4 AND provider = ?5
               AND key_id = ?6 AND nonce = ?7 AND ciphertext = ?8",
        )
        .bind(&secret.key_id)
        .bind(&secret.nonce)
        .bind(&secret.ciphertext)
        .bind(org.as_uuid())
        .bind(provider)
        .bind(&expected.key_id)
        .bind(&expected.nonce)
        .bind(&expected.ciphertext)
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        // Nothing matched: gone, or changed since it was read.
        match self.get_provider_credential(org, provider).await {
            Ok(_) => Err(StoreError::Conflict(
                "the credentials changed since they were read".into(),
            )),
            Err(e) => Err(e),
        }
    }
}
