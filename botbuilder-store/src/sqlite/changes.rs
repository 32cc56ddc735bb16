//! The change feed ([`ChangeRepo`]): rows written by the triggers of migration 0017.

use async_trait::async_trait;
use botbuilder_core::domain::ChangeRecord;
use botbuilder_core::store::{ChangeRepo, StoreResult};
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::error::{corrupt, store_err};
use crate::rows::{ChangeRow, micros};

#[async_trait]
impl ChangeRepo for SqliteStore {
    async fn changes_after(&self, after: u64, limit: u32) -> StoreResult<Vec<ChangeRecord>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        sqlx::query_as::<_, ChangeRow>(
            "SELECT seq, organization_id, kind, subject_id, parent_id, created_at
             FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(ChangeRow::into_record)
        .collect()
    }

    async fn last_change_seq(&self) -> StoreResult<u64> {
        // AUTOINCREMENT keeps the highest seq ever used in sqlite_sequence, also once pruned.
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?;
        u64::try_from(seq).map_err(|e| corrupt("sqlite_sequence.seq", e))
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let pruned = sqlx::query("DELETE FROM changes WHERE created_at < ?")
            .bind(micros(before))
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        Ok(pruned.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::domain::Change;
    use botbuilder_core::id::OrgId;

    #[tokio::test]
    async fn a_change_this_build_cannot_read_forgets_its_organization_and_the_feed_goes_on() {
        let store = SqliteStore::in_memory().await.unwrap();
        let org = OrgId::new();
        sqlx::query(
            "INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
             VALUES (?, 'from_a_newer_release', NULL, NULL, 0), (?, 'bot', NULL, NULL, 0)",
        )
        .bind(org.as_uuid())
        .bind(org.as_uuid())
        .execute(&store.writer)
        .await
        .unwrap();
        let read = store.changes_after(0, 10).await.unwrap();
        let changes: Vec<Change> = read.iter().map(|r| r.change).collect();
        assert_eq!(changes, [Change::Organization { org }; 2]);
        assert!(read[0].seq < read[1].seq);
    }
}
