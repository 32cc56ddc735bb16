//! Bucketed counts of a bot's activity ([`botbuilder_core::store::AnalyticsRepo`]). Each
//! backend runs the same five aggregations in its own dialect, every row keyed by its bucket
//! index (`(created_at - origin) / width`, in microseconds), and merges them here.

use std::collections::BTreeMap;

use botbuilder_core::domain::ActivityCounts;

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
    fallbacks: i64,
    active_conversations: i64,
    handoffs: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
}
