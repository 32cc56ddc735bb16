//! Organizations' sealed provider credentials ([`CredentialRepo`]) on Postgres.
//!
//! The statements are SQLite's, with numbered placeholders, each in a transaction scoped to
//! its organization; what differs:
//! - [`CredentialRepo::all_provider_credentials`] (re-sealing under a new master key, an
//!   operator's command) belongs to no tenant, so it acts for the platform.
//! - Re-sealing stays compare-and-set under concurrent writers: the conditional `UPDATE`
//!   locks the row, and a writer that waited for another's commit re-checks its condition on
//!   the committed row (`READ COMMITTED`), so of two re-seals from one envelope exactly one
//!   matches. Storing credentials is one `INSERT … ON CONFLICT DO UPDATE`, atomic too.
//! - Providers are ordered bytewise, as in SQLite (the column is `COLLATE "C"`).

use async_trait::async_trait;
use botbuilder_core::domain::{NewProviderCredential, ProviderCredential, SealedSecret};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{CredentialRepo, StoreError, StoreResult};
use sqlx::PgConnection;

use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::credentials::{CredentialRow, credential_columns};
use crate::rows::micros;

/// Whether `org` has credentials for `provider`, read with `db`.
async fn exists(db: &mut PgConnection, org: OrgId, provider: &str) -> StoreResult<bool> {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM provider_credentials
                        WHERE organization_id = $1 AND provider = $2)",
    )
    .bind(org.as_uuid())
    .bind(provider)
    .fetch_one(db)
    .await
    .map_err(store_err)
}

#[async_trait]
impl CredentialRepo for PgStore {
    async fn put_provider_credential(
        &self,
        org: OrgId,
        new: NewProviderCredential,
    ) -> StoreResult<ProviderCredential> {
        let now = micros(self.now());
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, CredentialRow>(concat!(
            "INSERT INTO provider_credentials (",
            credential_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             ON CONFLICT (organization_id, provider) DO UPDATE SET
                 key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce,
                 ciphertext = EXCLUDED.ciphertext, hint = EXCLUDED.hint,
                 base_url = EXCLUDED.base_url, updated_at = EXCLUDED.updated_at
             RETURNING ",
            credential_columns!()
        ))
        .bind(org.as_uuid())
        .bind(&new.provider)
        .bind(&new.secret.key_id)
        .bind(&new.secret.nonce)
        .bind(&new.secret.ciphertext)
        .bind(&new.hint)
        .bind(&new.base_url)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(row.into())
    }

    async fn get_provider_credential(
        &self,
        org: OrgId,
        provider: &str,
    ) -> StoreResult<ProviderCredential> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, CredentialRow>(concat!(
            "SELECT ",
            credential_columns!(),
            " FROM provider_credentials WHERE organization_id = $1 AND provider = $2"
        ))
        .bind(org.as_uuid())
        .bind(provider)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.map(Into::into).ok_or(StoreError::NotFound)
    }

    async fn list_provider_credentials(&self, org: OrgId) -> StoreResult<Vec<ProviderCredential>> {
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, CredentialRow>(concat!(
            "SELECT ",
            credential_columns!(),
            " FROM provider_credentials WHERE organization_id = $1 ORDER BY provider"
        ))
        .bind(org.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn delete_provider_credential(&self, org: OrgId, provider: &str) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done = sqlx::query(
            "DELETE FROM provider_credentials WHERE organization_id = $1 AND provider = $2",
        )
        .bind(org.as_uuid())
        .bind(provider)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }

    async fn all_provider_credentials(&self) -> StoreResult<Vec<ProviderCredential>> {
        let mut tx = self.platform().await?;
        let rows = sqlx::query_as::<_, CredentialRow>(concat!(
            "SELECT ",
            credential_columns!(),
            " FROM provider_credentials ORDER BY organization_id, provider"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn reseal_provider_credential(
        &self,
        org: OrgId,
        provider: &str,
        expected: &SealedSecret,
        secret: SealedSecret,
    ) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done = sqlx::query(
            "UPDATE provider_credentials SET key_id = $1, nonce = $2, ciphertext = $3
             WHERE organization_id = $4 AND provider = $5
               AND key_id = $6 AND nonce = $7 AND ciphertext = $8",
        )
        .bind(&secret.key_id)
        .bind(&secret.nonce)
        .bind(&secret.ciphertext)
        .bind(org.as_uuid())
        .bind(provider)
        .bind(&expected.key_id)
        .bind(&expected.nonce)
        .bind(&expected.ciphertext)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 1 {
            return commit(tx).await;
        }
        // Nothing matched: gone, or changed since it was read.
        let still_there = exists(&mut tx, org, provider).await?;
        commit(tx).await?;
        if still_there {
            Err(StoreError::Conflict(
                "the credentials changed since they were read".into(),
            ))
        } else {
            Err(StoreError::NotFound)
        }
    }
}
