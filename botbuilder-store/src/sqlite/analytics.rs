//! [`AnalyticsRepo`] for SQLite: aggregations over the `(bot_id, created_at)` indexes of
//! sessions and messages (migration 0018). Parameters: `?1` organization, `?2` bot, `?3`/`?4`
//! the window, `?5` the grid's origin and `?6` its width, all times in microseconds.

use async_trait::async_trait;
use botbuilder_core::domain::{ActivityCounts, BucketGrid, IntentCount, median_ms};
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{AnalyticsRepo, StoreResult};
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::error::store_err;
use crate::rows::analytics::{Buckets, MessageCountsRow};
use crate::rows::micros;

const SESSIONS: &str = "SELECT (created_at - ?5) / ?6 AS bucket, COUNT(*)
     FROM sessions
     WHERE bot_id = ?2 AND organization_id = ?1 AND created_at >= ?3 AND created_at < ?4
     GROUP BY bucket";

const MESSAGES: &str = "SELECT (created_at - ?5) / ?6 AS bucket,
       COUNT(*) FILTER (WHERE direction = 'inbound') AS messages_in,
       COUNT(*) FILTER (WHERE direction <> 'inbound') AS messages_out,
       COUNT(*) FILTER (WHERE direction = 'inbound' AND (intent IS NULL OR intent = 'none'))
         AS fallbacks,
       COUNT(DISTINCT session_id) FILTER (WHERE direction = 'inbound') AS active_conversations,
       COUNT(DISTINCT session_id) FILTER (
         WHERE direction = 'outbound' AND json_extract(payload, '$.handoff') = 'waiting'
       ) AS handoffs,
       COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
       COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
       COALESCE(SUM(cost_micros), 0) AS cost_micros
     FROM messages
     WHERE bot_id = ?2 AND organization_id = ?1 AND created_at >= ?3 AND created_at < ?4
     GROUP BY bucket";

/// Users by channel and id; the length prefix keeps `("a", "bc")` apart from `("ab", "c")`.
const USERS: &str = "SELECT (m.created_at - ?5) / ?6 AS bucket,
       COUNT(DISTINCT length(s.channel) || ':' || s.channel || s.external_user)
     FROM messages m
     JOIN sessions s ON s.organization_id = m.organization_id AND s.id = m.session_id
     WHERE m.bot_id = ?2 AND m.organization_id = ?1 AND m.direction = 'inbound'
       AND m.created_at >= ?3 AND m.created_at < ?4
     GROUP BY bucket";

const FEEDBACK: &str = "SELECT (m.created_at - ?5) / ?6 AS bucket,
       COUNT(*) FILTER (WHERE f.rating = 'up'), COUNT(*) FILTER (WHERE f.rating = 'down')
     FROM messages m
     JOIN message_feedback f ON f.message_id = m.id
     WHERE m.bot_id = ?2 AND m.organization_id = ?1 AND m.created_at >= ?3 AND m.created_at < ?4
     GROUP BY bucket";

/// Each user's message the bot answered next, with the time to that answer (the median is
/// taken in Rust: SQLite has no percentile function).
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

const TOP_INTENTS: &str = "SELECT intent, COUNT(*) AS n
     FROM messages
     WHERE bot_id = ?2 AND organization_id = ?1 AND created_at >= ?3 AND created_at < ?4
       AND direction = 'inbound' AND intent IS NOT NULL AND intent <> 'none'
     GROUP BY intent
     ORDER BY n DESC, intent
     LIMIT ?5";

/// Binds the parameters every aggregation takes.
macro_rules! grid_query {
    ($query:expr, $org:expr, $bot:expr, $grid:expr) => {
        $query
            .bind($org.as_uuid())
            .bind($bot.as_uuid())
            .bind(micros($grid.since))
            .bind(micros($grid.until))
            .bind(micros($grid.origin))
            .bind($grid.width_micros())
    };
}

#[async_trait]
impl AnalyticsRepo for SqliteStore {
    async fn bot_activity(
        &self,
        org: OrgId,
        bot: BotId,
        grid: &BucketGrid,
    ) -> StoreResult<Vec<(usize, ActivityCounts)>> {
        let mut buckets = Buckets::default();
        buckets.add_conversations(
            grid_query!(sqlx::query_as(SESSIONS), org, bot, grid)
                .fetch_all(&self.pool)
                .await
                .map_err(store_err)?,
        );
        buckets.add_messages(
            grid_query!(
                sqlx::query_as::<_, MessageCountsRow>(MESSAGES),
                org,
                bot,
                grid
            )
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?,
        );
        buckets.add_unique_users(
            grid_query!(sqlx::query_as(USERS), org, bot, grid)
                .fetch_all(&self.pool)
                .await
                .map_err(store_err)?,
        );
        buckets.add_feedback(
            grid_query!(sqlx::query_as(FEEDBACK), org, bot, grid)
                .fetch_all(&self.pool)
                .await
                .map_err(store_err)?,
        );
        let responses: Vec<(i64, i64)> = grid_query!(sqlx::query_as(RESPONSES), org, bot, grid)
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?;
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
        let rows: Vec<(String, i64)> = sqlx::query_as(TOP_INTENTS)
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .bind(micros(since))
            .bind(micros(until))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|(intent, n)| IntentCount {
                intent,
                count: u64::try_from(n).unwrap_or(0),
            })
            .collect())
    }
}
