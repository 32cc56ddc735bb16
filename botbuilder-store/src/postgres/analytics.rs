//! [`AnalyticsRepo`] on Postgres: the SQLite aggregations ([`crate::sqlite`]'s analytics) in
//! Postgres' dialect, read from the replica when one is configured (a report tolerates
//! replication lag). Parameters: `$1` organization, `$2` bot, `$3`/`$4` the window, `$5` the
//! grid's origin and `$6` its width, all times in microseconds.
//!
//! What differs from SQLite: the payload is JSON text, cast to `jsonb` to read the handoff
//! marker; sums of `bigint` are `numeric`, so they are cast back; the median response time is
//! `percentile_cont(0.5)` in SQL rather than computed in Rust.

use async_trait::async_trait;
use botbuilder_core::domain::{ActivityCounts, BucketGrid, IntentCount};
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{AnalyticsRepo, StoreResult};
use chrono::{DateTime, Utc};

use super::{PgStore, commit};
use crate::error::store_err;
use crate::rows::analytics::{Buckets, MessageCountsRow};
use crate::rows::micros;

const SESSIONS: &str = "SELECT (created_at - $5) / $6 AS bucket, COUNT(*)
     FROM sessions
     WHERE bot_id = $2 AND organization_id = $1 AND created_at >= $3 AND created_at < $4
     GROUP BY bucket";

const MESSAGES: &str = "SELECT (created_at - $5) / $6 AS bucket,
       COUNT(*) FILTER (WHERE direction = 'inbound') AS messages_in,
       COUNT(*) FILTER (WHERE direction <> 'inbound') AS messages_out,
       COUNT(*) FILTER (WHERE direction = 'inbound' AND (intent IS NULL OR intent = 'none'))
         AS fallbacks,
       COUNT(DISTINCT session_id) FILTER (WHERE direction = 'inbound') AS active_conversations,
       COUNT(DISTINCT session_id) FILTER (
         WHERE direction = 'outbound' AND payload::jsonb ->> 'handoff' = 'waiting'
       ) AS handoffs,
       COALESCE(SUM(prompt_tokens), 0)::bigint AS prompt_tokens,
       COALESCE(SUM(completion_tokens), 0)::bigint AS completion_tokens,
       COALESCE(SUM(cost_micros), 0)::bigint AS cost_micros
     FROM messages
     WHERE bot_id = $2 AND organization_id = $1 AND created_at >= $3 AND created_at < $4
     GROUP BY bucket";

/// Users by channel and id; the length prefix keeps `("a", "bc")` apart from `("ab", "c")`.
const USERS: &str = "SELECT (m.created_at - $5) / $6 AS bucket,
       COUNT(DISTINCT length(s.channel) || ':' || s.channel || s.external_user)
     FROM messages m
     JOIN sessions s ON s.organization_id = m.organization_id AND s.id = m.session_id
     WHERE m.bot_id = $2 AND m.organization_id = $1 AND m.direction = 'inbound'
       AND m.created_at >= $3 AND m.created_at < $4
     GROUP BY bucket";

const FEEDBACK: &str = "SELECT (m.created_at - $5) / $6 AS bucket,
       COUNT(*) FILTER (WHERE f.rating = 'up'), COUNT(*) FILTER (WHERE f.rating = 'down')
     FROM messages m
     JOIN message_feedback f ON f.message_id = m.id
     WHERE m.bot_id = $2 AND m.organization_id = $1 AND m.created_at >= $3 AND m.created_at < $4
     GROUP BY bucket";

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

const TOP_INTENTS: &str = "SELECT intent, COUNT(*) AS n
     FROM messages
     WHERE bot_id = $2 AND organization_id = $1 AND created_at >= $3 AND created_at < $4
       AND direction = 'inbound' AND intent IS NOT NULL AND intent <> 'none'
     GROUP BY intent
     ORDER BY n DESC, intent COLLATE \"C\"
     LIMIT $5";

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
impl AnalyticsRepo for PgStore {
    async fn bot_activity(
        &self,
        org: OrgId,
        bot: BotId,
        grid: &BucketGrid,
    ) -> StoreResult<Vec<(usize, ActivityCounts)>> {
        let mut tx = self.tenant_replica(org).await?;
        let mut buckets = Buckets::default();
        buckets.add_conversations(
            grid_query!(sqlx::query_as(SESSIONS), org, bot, grid)
                .fetch_all(&mut *tx)
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
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?,
        );
        buckets.add_unique_users(
            grid_query!(sqlx::query_as(USERS), org, bot, grid)
                .fetch_all(&mut *tx)
                .await
                .map_err(store_err)?,
        );
        buckets.add_feedback(
            grid_query!(sqlx::query_as(FEEDBACK), org, bot, grid)
                .fetch_all(&mut *tx)
                .await
                .map_err(store_err)?,
        );
        buckets.add_median_responses(
            grid_query!(sqlx::query_as(RESPONSES), org, bot, grid)
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
        let rows: Vec<(String, i64)> = sqlx::query_as(TOP_INTENTS)
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .bind(micros(since))
            .bind(micros(until))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        commit(tx).await?;
        Ok(rows
            .into_iter()
            .map(|(intent, n)| IntentCount {
                intent,
                count: u64::try_from(n).unwrap_or(0),
            })
            .collect())
    }
}
