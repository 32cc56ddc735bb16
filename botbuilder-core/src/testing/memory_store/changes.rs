//! The change feed of the in-memory store: recorded beside each write, under the same lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Data, InMemoryStore};
use crate::domain::{Change, ChangeRecord};
use crate::store::{ChangeRepo, StoreResult};

/// The feed and the last `seq` handed out (kept when the feed is pruned).
#[derive(Debug, Default)]
pub(super) struct Changes {
    last_seq: u64,
    records: Vec<ChangeRecord>,
}

impl Data {
    /// Records `change` (call it in the write it describes, before releasing the lock).
    pub(super) fn record_change(&mut self, change: Change, at: DateTime<Utc>) {
        let changes = &mut self.changes;
        changes.last_seq += 1;
        changes.records.push(ChangeRecord {
            seq: changes.last_seq,
            change,
            at,
        });
    }
}

#[async_trait]
impl ChangeRepo for InMemoryStore {
    async fn changes_after(&self, after: u64, limit: u32) -> StoreResult<Vec<ChangeRecord>> {
        let data = self.data();
        let records = &data.changes.records;
        let start = records.partition_point(|r| r.seq <= after);
        Ok(records[start..]
            .iter()
            .take(limit as usize)
            .copied()
            .collect())
    }

    async fn last_change_seq(&self) -> StoreResult<u64> {
        Ok(self.data().changes.last_seq)
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut data = self.data();
        let records = &mut data.changes.records;
        let old = records.len();
        records.retain(|r| r.at >= before);
        Ok((old - records.len()) as u64)
    }
}
