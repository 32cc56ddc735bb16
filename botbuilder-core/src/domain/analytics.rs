//! What a bot's conversations add up to over a time window: the shapes of
//! [`crate::analytics`] and of [`crate::store::AnalyticsRepo`].

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The payload key of the reply that starts a handoff, whose value is [`HANDOFF_WAITING`]
/// (`{"handoff": "waiting"}`): how widgets show that a person will reply, and how analytics
/// count handoffs.
pub const HANDOFF_KEY: &str = "handoff";

/// The value of [`HANDOFF_KEY`] on the reply that starts a handoff.
pub const HANDOFF_WAITING: &str = "waiting";

/// The value of [`HANDOFF_KEY`] on the reminder a visitor who writes during a handoff gets
/// (once): not a new handoff.
pub const HANDOFF_REMINDER: &str = "reminder";

/// Whether a message's payload marks the start of a handoff.
pub fn starts_handoff(payload: &serde_json::Value) -> bool {
    payload.get(HANDOFF_KEY).and_then(|v| v.as_str()) == Some(HANDOFF_WAITING)
}

/// The width of the buckets of a time series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalyticsInterval {
    /// One bucket per hour (UTC).
    Hour,
    /// One bucket per calendar day (UTC).
    #[default]
    Day,
}

impl AnalyticsInterval {
    /// The bucket width.
    pub fn width(self) -> TimeDelta {
        match self {
            Self::Hour => TimeDelta::hours(1),
            Self::Day => TimeDelta::days(1),
        }
    }
}

/// A window cut into equal buckets: bucket `i` holds what happened in
/// `[origin + i·width, origin + (i+1)·width)`, clipped to `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketGrid {
    /// Window start (inclusive).
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// Start of bucket 0: `since` or earlier.
    pub origin: DateTime<Utc>,
    /// Bucket width (positive).
    pub width: TimeDelta,
}

impl BucketGrid {
    /// The whole window as one bucket.
    pub fn whole(since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        Self {
            since,
            until,
            origin: since,
            width: until - since,
        }
    }

    /// The window cut at whole `interval`s of UTC time, so buckets start on the hour or at
    /// midnight whatever `since` is (the first and last buckets may be partial).
    pub fn aligned(
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        interval: AnalyticsInterval,
    ) -> Self {
        let origin = since.duration_trunc(interval.width()).unwrap_or(since);
        Self {
            since,
            until,
            origin,
            width: interval.width(),
        }
    }

    /// How many buckets the window spans.
    pub fn len(&self) -> usize {
        let span = (self.until - self.origin)
            .num_microseconds()
            .unwrap_or(i64::MAX);
        let width = self.width_micros();
        usize::try_from(span.div_euclid(width) + i64::from(span.rem_euclid(width) != 0))
            .unwrap_or(0)
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start of bucket `index`.
    pub fn start(&self, index: usize) -> DateTime<Utc> {
        self.origin + self.width * i32::try_from(index).unwrap_or(i32::MAX)
    }

    /// The bucket holding `at` (which must lie in the window).
    pub fn index_of(&self, at: DateTime<Utc>) -> usize {
        let offset = (at - self.origin).num_microseconds().unwrap_or(0).max(0);
        usize::try_from(offset / self.width_micros()).unwrap_or(usize::MAX)
    }

    /// The width in microseconds (the unit the stores keep times in).
    pub fn width_micros(&self) -> i64 {
        self.width.num_microseconds().unwrap_or(i64::MAX).max(1)
    }
}

/// What one bucket (or the whole window) adds up to. Every count is of things in the bucket:
/// conversations by when they started, messages by when they were written, feedback by the
/// time of the message it rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityCounts {
    /// Conversations (sessions) started.
    pub conversations: u64,
    /// Conversations in which a user wrote.
    pub active_conversations: u64,
    /// Messages from users.
    pub messages_in: u64,
    /// Messages to users: the bot's replies and human agents' messages.
    pub messages_out: u64,
    /// Distinct users (channel and user id) who wrote.
    pub unique_users: u64,
    /// Users' messages an intent classifier read (those to bots with intents).
    pub classified_messages: u64,
    /// Classified messages in which no intent was recognised (the `none` intent).
    pub fallbacks: u64,
    /// Conversations handed over to a person (a reply started the handoff).
    pub handoffs: u64,
    /// Replies rated up.
    pub feedback_up: u64,
    /// Replies rated down.
    pub feedback_down: u64,
    /// The median time from a user's message to the bot's next reply in its conversation,
    /// in milliseconds (the mean of the two middle ones for an even count); `None` with no
    /// replied message.
    pub median_response_ms: Option<f64>,
    /// Prompt tokens of the language model calls that wrote replies.
    pub prompt_tokens: u64,
    /// Tokens those calls generated.
    pub completion_tokens: u64,
    /// What those calls cost, in millionths of a US dollar.
    pub cost_micros: i64,
}

impl ActivityCounts {
    /// Share of classified messages without a recognised intent (0 to 1); `None` without
    /// any (a bot without intents has no fallbacks to count).
    pub fn fallback_rate(&self) -> Option<f64> {
        ratio(self.fallbacks, self.classified_messages)
    }

    /// Share of active conversations handed over to a person (0 to 1); `None` without any.
    pub fn handoff_rate(&self) -> Option<f64> {
        ratio(self.handoffs, self.active_conversations).map(|r| r.min(1.0))
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The median of response times given in microseconds, in milliseconds: the middle value, or
/// the mean of the two middle ones (as SQL's `percentile_cont(0.5)`); `None` when empty.
pub fn median_ms(micros: &mut [i64]) -> Option<f64> {
    if micros.is_empty() {
        return None;
    }
    micros.sort_unstable();
    let middle = micros.len() / 2;
    let median = if micros.len() % 2 == 1 {
        micros[middle] as f64
    } else {
        (micros[middle - 1] as f64 + micros[middle] as f64) / 2.0
    };
    Some(median / 1000.0)
}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsBucket {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// What it adds up to.
    pub counts: ActivityCounts,
}

/// How often users' messages were recognised as one intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentCount {
    /// The intent.
    pub intent: String,
    /// Users' messages recognised as it.
    pub count: u64,
}

/// A bot's analytics over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotAnalytics {
    /// Window start (inclusive).
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// The series' bucket width.
    pub interval: AnalyticsInterval,
    /// The whole window (distinct counts and the median over the window, not sums of buckets).
    pub totals: ActivityCounts,
    /// Every bucket of the window in time order, empty ones included.
    pub series: Vec<AnalyticsBucket>,
    /// The most recognised intents, most frequent first (ties by name).
    pub top_intents: Vec<IntentCount>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }

    #[test]
    fn an_aligned_grid_starts_on_the_hour_and_covers_the_window() {
        let grid = BucketGrid::aligned(at(9, 30), at(12, 0), AnalyticsInterval::Hour);
        assert_eq!(grid.origin, at(9, 0));
        assert_eq!(grid.len(), 3);
        assert_eq!(grid.start(2), at(11, 0));
        assert_eq!(grid.index_of(at(9, 30)), 0);
        assert_eq!(grid.index_of(at(11, 59)), 2);
        let partial = BucketGrid::aligned(at(9, 0), at(12, 1), AnalyticsInterval::Hour);
        assert_eq!(partial.len(), 4);
    }

    #[test]
    fn a_whole_grid_is_one_bucket() {
        let grid = BucketGrid::whole(at(9, 17), at(21, 3));
        assert_eq!(grid.len(), 1);
        assert_eq!(grid.index_of(at(21, 2)), 0);
    }

    #[test]
    fn the_median_takes_the_middle_or_the_mean_of_the_two_middles() {
        assert_eq!(median_ms(&mut []), None);
        assert_eq!(median_ms(&mut [3_000, 1_000, 2_000]), Some(2.0));
        assert_eq!(median_ms(&mut [4_000, 1_000, 2_000, 3_000]), Some(2.5));
    }

    #[test]
    fn rates_are_none_without_a_denominator_and_at_most_one() {
        let mut counts = ActivityCounts::default();
        assert_eq!(counts.fallback_rate(), None);
        assert_eq!(counts.handoff_rate(), None);
        counts.messages_in = 5;
        counts.classified_messages = 4;
        counts.fallbacks = 1;
        counts.active_conversations = 1;
        counts.handoffs = 2;
        assert_eq!(counts.fallback_rate(), Some(0.25));
        assert_eq!(counts.handoff_rate(), Some(1.0));
    }
}
