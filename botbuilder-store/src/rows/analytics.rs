//! Bucketed counts of a bot's activity ([`botbuilder_core::store::AnalyticsRepo`]). Both SQL
//! backends run the same aggregations ([`AnalyticsSql`], in each one's [`Dialect`]), every row
//! keyed by its bucket index (`(created_at - origin) / width`, in microseconds), and merge
//! them here; only the median response time is computed differently by each.

use std::collections::BTreeMap;

use botbuilder_core::domain::{ActivityCounts, IntentCount};

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The buckets filled so far, by index.
#[derive(Default)]
pub(crate) struct Buckets(BTreeMap<usize, ActivityCounts>);

impl Buckets {
    /// Bucket `index` (a non-negative index the SQL computed).
    pub(crate) fn at(&mut self, index: i64) -> &mut ActivityCounts {
        self.0
            .entry(usize::try_from(index).unwrap_or(0))
            .or_default()
    }

    /// Adds sessions started: `(bucket, count)` rows.
    pub(crate) fn add_conversations(&mut self, rows: Vec<(i64, i64)>) {
        for (bucket, n) in rows {
            self.at(bucket).conversations = count(n);
        }
    }

    /// Adds distinct users who wrote: `(bucket, count)` rows.
    pub(crate) fn add_unique_users(&mut self, rows: Vec<(i64, i64)>) {
        for (bucket, n) in rows {
            self.at(bucket).unique_users = count(n);
        }
    }

    /// Adds feedback: `(bucket, up, down)` rows.
    pub(crate) fn add_feedback(&mut self, rows: Vec<(i64, i64, i64)>) {
        for (bucket, up, down) in rows {
            let counts = self.at(bucket);
            counts.feedback_up = count(up);
            counts.feedback_down = count(down);
        }
    }

    /// Adds message counts.
    pub(crate) fn add_messages(&mut self, rows: Vec<MessageCountsRow>) {
        for row in rows {
            let counts = self.at(row.bucket);
            counts.messages_in = count(row.messages_in);
            counts.messages_out = count(row.messages_out);
            counts.classified_messages = count(row.classified_messages);
            counts.fallbacks = count(row.fallbacks);
            counts.active_conversations = count(row.active_conversations);
            counts.handoffs = count(row.handoffs);
            counts.prompt_tokens = count(row.prompt_tokens);
            counts.completion_tokens = count(row.completion_tokens);
            counts.cost_micros = row.cost_micros;
        }
    }

    /// Sets median response times: `(bucket, median in milliseconds)` rows.
    pub(crate) fn add_median_responses(&mut self, rows: Vec<(i64, f64)>) {
        for (bucket, ms) in rows {
            self.at(bucket).median_response_ms = Some(ms);
        }
    }

    /// The buckets in index order.
    pub(crate) fn into_vec(self) -> Vec<(usize, ActivityCounts)> {
        self.0.into_iter().collect()
    }
}

/// Message counts of one bucket.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageCountsRow {
    bucket: i64,
    messages_in: i64,
    messages_out: i64,
    classified_messages: i64,
    fallbacks: i64,
    active_conversations: i64,
    handoffs: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
}

/// The aggregations both SQL backends run, written once: parameters are `{1}` to `{6}`
/// (organization, bot, window start and end, grid origin and width) and each backend says how
/// it numbers parameters, detects the handoff marker and sums `bigint`s.
pub(crate) struct AnalyticsSql {
    /// `(bucket, sessions started)`.
    pub(crate) sessions: &'static str,
    /// [`MessageCountsRow`]s.
    pub(crate) messages: &'static str,
    /// `(bucket, distinct users who wrote)`.
    pub(crate) users: &'static str,
    /// `(bucket, up, down)`.
    pub(crate) feedback: &'static str,
    /// `(intent, count)`, most frequent first; `{5}` is the limit.
    pub(crate) top_intents: &'static str,
}

/// How one SQL dialect writes what the aggregations need.
pub(crate) struct Dialect {
    /// Parameter `n` (`?n`, `$n`).
    pub(crate) param: fn(u8) -> String,
    /// A boolean expression: the row's `payload` (JSON text) marks the start of a handoff.
    pub(crate) starts_handoff: &'static str,
    /// `SUM` of an integer column, as a 64-bit integer.
    pub(crate) sum: fn(&str) -> String,
    /// How intents sort, ties after counts (byte order on every backend).
    pub(crate) intent_order: &'static str,
}

impl AnalyticsSql {
    /// The statements in `dialect`, built once per backend (a `static`): each is leaked to
    /// stay `'static`, which is what sqlx takes as SQL audited to be free of injected input.
    pub(crate) fn new(dialect: &Dialect) -> Self {
        let p = dialect.param;
        let (org, bot, since, until, origin, width) = (p(1), p(2), p(3), p(4), p(5), p(6));
        let window = |t: &str| {
            format!(
                "{t}bot_id = {bot} AND {t}organization_id = {org} \
                 AND {t}created_at >= {since} AND {t}created_at < {until}"
            )
        };
        let bucket = |t: &str| format!("({t}created_at - {origin}) / {width} AS bucket");
        let sum = dialect.sum;
        Self {
            sessions: format!(
                "SELECT {}, COUNT(*) FROM sessions WHERE {} GROUP BY bucket",
                bucket(""),
                window("")
            )
            .leak(),
            messages: format!(
                "SELECT {},
                   COUNT(*) FILTER (WHERE direction = 'inbound') AS messages_in,
                   COUNT(*) FILTER (WHERE direction <> 'inbound') AS messages_out,
                   COUNT(*) FILTER (WHERE direction = 'inbound' AND confidence IS NOT NULL)
                     AS classified_messages,
                   COUNT(*) FILTER (WHERE direction = 'inbound' AND confidence IS NOT NULL
                                      AND (intent IS NULL OR intent = 'none')) AS fallbacks,
                   COUNT(DISTINCT session_id) FILTER (WHERE direction = 'inbound')
                     AS active_conversations,
                   COUNT(DISTINCT session_id) FILTER (WHERE direction = 'outbound' AND {})
                     AS handoffs,
                   {} AS prompt_tokens, {} AS completion_tokens, {} AS cost_micros
                 FROM messages WHERE {} GROUP BY bucket",
                bucket(""),
                dialect.starts_handoff,
                sum("prompt_tokens"),
                sum("completion_tokens"),
                sum("cost_micros"),
                window("")
            )
            .leak(),
            // Users by channel and id; the length prefix keeps ("a", "bc") apart from ("ab", "c").
            users: format!(
                "SELECT {}, COUNT(DISTINCT length(s.channel) || ':' || s.channel || s.external_user)
                 FROM messages m
                 JOIN sessions s ON s.organization_id = m.organization_id AND s.id = m.session_id
                 WHERE {} AND m.direction = 'inbound' GROUP BY bucket",
                bucket("m."),
                window("m.")
            )
            .leak(),
            feedback: format!(
                "SELECT {}, COUNT(*) FILTER (WHERE f.rating = 'up'),
                        COUNT(*) FILTER (WHERE f.rating = 'down')
                 FROM messages m JOIN message_feedback f ON f.message_id = m.id
                 WHERE {} GROUP BY bucket",
                bucket("m."),
                window("m.")
            )
            .leak(),
            top_intents: format!(
                "SELECT intent, COUNT(*) AS n FROM messages
                 WHERE {} AND direction = 'inbound' AND intent IS NOT NULL AND intent <> 'none'
                 GROUP BY intent ORDER BY n DESC, {} LIMIT {}",
                window(""),
                dialect.intent_order,
                p(5)
            )
            .leak(),
        }
    }
}

/// Binds the parameters of every aggregation of [`AnalyticsSql`] but `top_intents`:
/// organization, bot, window, grid origin and width (times in microseconds).
macro_rules! bind_grid {
    ($query:expr, $org:expr, $bot:expr, $grid:expr) => {
        $query
            .bind($org.as_uuid())
            .bind($bot.as_uuid())
            .bind($crate::rows::micros($grid.since))
            .bind($crate::rows::micros($grid.until))
            .bind($crate::rows::micros($grid.origin))
            .bind($grid.width_micros())
    };
}
pub(crate) use bind_grid;

/// [`AnalyticsSql::top_intents`] with its parameters bound: organization, bot, window
/// (microseconds) and limit.
macro_rules! top_intents_query {
    ($sql:expr, $org:expr, $bot:expr, $since:expr, $until:expr, $limit:expr) => {
        sqlx::query_as::<_, (String, i64)>($sql.top_intents)
            .bind($org.as_uuid())
            .bind($bot.as_uuid())
            .bind($crate::rows::micros($since))
            .bind($crate::rows::micros($until))
            .bind(i64::from($limit))
    };
}
pub(crate) use top_intents_query;

/// Runs the shared aggregations of `$sql` ([`AnalyticsSql`]) on the transaction `$tx` and
/// evaluates to the filled [`Buckets`] (or returns the store error).
macro_rules! shared_activity {
    ($sql:expr, $tx:ident, $org:expr, $bot:expr, $grid:expr) => {{
        use $crate::error::store_err;
        use $crate::rows::analytics::{Buckets, MessageCountsRow, bind_grid};
        let mut buckets = Buckets::default();
        buckets.add_conversations(
            bind_grid!(sqlx::query_as($sql.sessions), $org, $bot, $grid)
                .fetch_all(&mut *$tx)
                .await
                .map_err(store_err)?,
        );
        buckets.add_messages(
            bind_grid!(
                sqlx::query_as::<_, MessageCountsRow>($sql.messages),
                $org,
                $bot,
                $grid
            )
            .fetch_all(&mut *$tx)
            .await
            .map_err(store_err)?,
        );
        buckets.add_unique_users(
            bind_grid!(sqlx::query_as($sql.users), $org, $bot, $grid)
                .fetch_all(&mut *$tx)
                .await
                .map_err(store_err)?,
        );
        buckets.add_feedback(
            bind_grid!(sqlx::query_as($sql.feedback), $org, $bot, $grid)
                .fetch_all(&mut *$tx)
                .await
                .map_err(store_err)?,
        );
        buckets
    }};
}
pub(crate) use shared_activity;

/// `(intent, count)` rows as [`IntentCount`]s.
pub(crate) fn intent_counts(rows: Vec<(String, i64)>) -> Vec<IntentCount> {
    rows.into_iter()
        .map(|(intent, n)| IntentCount {
            intent,
            count: count(n),
        })
        .collect()
}
