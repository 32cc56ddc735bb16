//! [`AnalyticsRepo`] for SQLite: the shared aggregations ([`AnalyticsSql`]) over the
//! `(bot_id, created_at)` indexes of sessions and messages (migration 0018), read in one
//! transaction so every count comes from the same snapshot. The median response time is
//! taken in Rust: SQLite has no percentile function.

use std::sync::LazyLock;

use async_trait::async_trait;
use botbuilder_core::domain::{ActivityCounts, BucketGrid, IntentCount, median_ms};
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{AnalyticsRepo, StoreResult};
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::error::store_err;
use crate::rows::analytics::{
    AnalyticsSql, Dialect, bind_grid, intent_counts, shared_activity, top_intents_query,
};

static SQL: LazyLock<AnalyticsSql> = LazyLock::new(|| {
    AnalyticsSql::new(&Dialect {
        param: |n| format!("?{n}"),
        starts_handoff: "json_extract(payload, '$.handoff') = 'waiting'",
        sum: |column| format!("COALESCE(SUM({column}), 0)"),
        intent_order: "intent",
    })
});

/// Each user's message the bot answered next, with the time to that answer.
const RESPONSES: &str = "SELECT bucket, next_at - created_at FROM (
       SELECT (created_at - ?5) / ?6 AS bucket, direction, created_at,
              LEAD(direction) OVER turn AS next_direction,
              LEAD(created_at) OVER turn AS next_at
       FROM messages
       WHERE bot_id = ?2 AND organization_id = ?1 AND created_at >= ?3 AND created_at < ?4
       WINDOW turn AS (PARTITION BY session_id ORDER BY id)
     )
     WHERE direction = 'inbound' AND next_direction = 'outbound'
     ORDER BY bucket";

#[async_trait]
impl AnalyticsRepo for SqliteStore {
    async fn bot_activity(
        &self,
        org: OrgId,
        bot: BotId,
        grid: &BucketGrid,
    ) -> StoreResult<Vec<(usize, ActivityCounts)>> {
        let mut tx = self.pool.begin().await.map_err(store_err)?;
        let mut buckets = shared_activity!(SQL, tx, org, bot, grid);
        let responses: Vec<(i64, i64)> = bind_grid!(sqlx::query_as(RESPONSES), org, bot, grid)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        let mut medians = Vec::new();
        for bucket in responses.chunk_by(|a, b| a.0 == b.0) {
            let mut times: Vec<i64> = bucket.iter().map(|(_, micros)| *micros).collect();
            if let Some(ms) = median_ms(&mut times) {
                medians.push((bucket[0].0, ms));
            }
        }
        buckets.add_median_responses(medians);
        Ok(buckets.into_vec())
    }

    async fn top_intents(
        &self,
        org: OrgId,
        bot: BotId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<IntentCount>> {
        let rows = top_intents_query!(SQL, org, bot, since, until, limit)
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(intent_counts(rows))
    }
}
