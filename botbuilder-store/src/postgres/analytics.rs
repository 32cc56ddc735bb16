//! [`AnalyticsRepo`] on Postgres: the shared aggregations ([`AnalyticsSql`]) in Postgres'
//! dialect, in one tenant transaction on the replica when one is configured (a report
//! tolerates replication lag).
//!
//! What differs from SQLite: the payload is JSON text, read as `json` (which, unlike `jsonb`,
//! accepts any escape a stored payload may hold) and only when its text names the marker;
//! sums of `bigint` are `numeric`, so they are cast back; intents sort by bytes (`COLLATE
//! "C"`) as SQLite sorts them; the median response time is `percentile_cont(0.5)` in SQL.

use std::sync::LazyLock;

use async_trait::async_trait;
use botbuilder_core::domain::{ActivityCounts, BucketGrid, IntentCount};
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{AnalyticsRepo, StoreResult};
use chrono::{DateTime, Utc};

use super::{PgStore, commit};
use crate::error::store_err;
use crate::rows::analytics::{
    AnalyticsSql, Dialect, bind_grid, intent_counts, shared_activity, top_intents_query,
};

static SQL: LazyLock<AnalyticsSql> = LazyLock::new(|| {
    AnalyticsSql::new(&Dialect {
        param: |n| format!("${n}"),
        starts_handoff: "CASE WHEN payload LIKE '%\"handoff\":\"waiting\"%'
                              THEN (payload::json ->> 'handoff') = 'waiting' ELSE false END",
        sum: |column| format!("COALESCE(SUM({column}), 0)::bigint"),
        intent_order: "intent COLLATE \"C\"",
    })
});

/// The median time from a user's message to the bot's next message of the conversation,
/// in milliseconds.
const RESPONSES: &str = "SELECT bucket,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY next_at - created_at) / 1000.0::float8
     FROM (
       SELECT (created_at - $5) / $6 AS bucket, direction, created_at,
              LEAD(direction) OVER turn AS next_direction,
              LEAD(created_at) OVER turn AS next_at
       FROM messages
       WHERE bot_id = $2 AND organization_id = $1 AND created_at >= $3 AND created_at < $4
       WINDOW turn AS (PARTITION BY session_id ORDER BY id)
     ) turns
     WHERE direction = 'inbound' AND next_direction = 'outbound'
     GROUP BY bucket";

#[async_trait]
impl AnalyticsRepo for PgStore {
    async fn bot_activity(
        &self,
        org: OrgId,
        bot: BotId,
        grid: &BucketGrid,
    ) -> StoreResult<Vec<(usize, ActivityCounts)>> {
        let mut tx = self.tenant_replica(org).await?;
        let mut buckets = shared_activity!(SQL, tx, org, bot, grid);
        buckets.add_median_responses(
            bind_grid!(sqlx::query_as(RESPONSES), org, bot, grid)
                .fetch_all(&mut *tx)
                .await
                .map_err(store_err)?,
        );
        commit(tx).await?;
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
        let mut tx = self.tenant_replica(org).await?;
        let rows = top_intents_query!(SQL, org, bot, since, until, limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        commit(tx).await?;
        Ok(intent_counts(rows))
    }
}
