//! The change feed's row.

use botbuilder_core::domain::{Change, ChangeRecord};
use botbuilder_core::store::StoreResult;
use uuid::Uuid;

use super::from_micros;
use crate::error::corrupt;

/// One row of the `changes` table.
#[derive(sqlx::FromRow)]
pub(crate) struct ChangeRow {
    seq: i64,
    organization_id: Uuid,
    kind: String,
    subject_id: Option<Uuid>,
    parent_id: Option<Uuid>,
    created_at: i64,
}

impl ChangeRow {
    pub(crate) fn into_record(self) -> StoreResult<ChangeRecord> {
        let org = self.organization_id.into();
        // A row this build cannot read (a kind added by a newer release sharing the database)
        // must not stall the feed: it forgets everything of its organization instead.
        let change = Change::from_parts(org, &self.kind, self.subject_id, self.parent_id)
            .unwrap_or_else(|| {
                tracing::warn!(seq = self.seq, kind = %self.kind, "unknown change; forgetting its organization");
                Change::Organization { org }
            });
        Ok(ChangeRecord {
            seq: u64::try_from(self.seq).map_err(|e| corrupt("changes.seq", e))?,
            change,
            at: from_micros(self.created_at),
        })
    }
}
