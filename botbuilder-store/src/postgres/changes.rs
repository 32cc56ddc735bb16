//! The change feed ([`ChangeRepo`]) on Postgres: rows written by the triggers of migration
//! 0006, numbered in commit order because every writer holds one advisory lock from taking its
//! number until it commits (see the migration). The feed spans every organization, so it is
//! read and pruned by the platform.

use async_trait::async_trait;
use botbuilder_core::domain::ChangeRecord;
use botbuilder_core::store::{ChangeRepo, StoreResult};
use chrono::{DateTime, Utc};

use super::{PgStore, commit};
use crate::error::{corrupt, store_err};
use crate::rows::ChangeRow;
use crate::rows::micros;

#[async_trait]
impl ChangeRepo for PgStore {
    async fn changes_after(&self, after: u64, limit: u32) -> StoreResult<Vec<ChangeRecord>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let mut tx = self.platform().await?;
        let rows = sqlx::query_as::<_, ChangeRow>(
            "SELECT seq, organization_id, kind, subject_id, parent_id, created_at
             FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        rows.into_iter().map(ChangeRow::into_record).collect()
    }

    async fn last_change_seq(&self) -> StoreResult<u64> {
        let mut tx = self.platform().await?;
        // Waits for writers in flight, so the number answered is never one still uncommitted.
        sqlx::query("SELECT pg_advisory_xact_lock_shared(botbuilder_changes_lock())")
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        // The sequence remembers the highest number ever taken, also once pruned.
        let seq: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM changes_seq",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        u64::try_from(seq).map_err(|e| corrupt("changes_seq", e))
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.platform().await?;
        let pruned = sqlx::query("DELETE FROM changes WHERE created_at < $1")
            .bind(micros(before))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        commit(tx).await?;
        Ok(pruned.rows_affected())
    }
}
