//! A bot's analytics: conversations, messages, users, intents, fallbacks, handoffs, feedback,
//! response time and language model spend over a time window, as a series of buckets and
//! totals, computed by the store's SQL ([`AnalyticsRepo`]).
//!
//! ```no_run
//! # async fn run(store: &dyn botbuilder_core::store::Store, org: botbuilder_core::id::OrgId,
//! #              bot: botbuilder_core::id::BotId) -> Result<(), Box<dyn std::error::Error>> {
//! use botbuilder_core::analytics::{AnalyticsQuery, bot_analytics};
//! use botbuilder_core::domain::AnalyticsInterval;
//! let until = chrono::Utc::now();
//! let query = AnalyticsQuery::new(bot, until - chrono::TimeDelta::days(7), until,
//!                                 AnalyticsInterval::Day)?;
//! // Or the default window: a week ending now, by day.
//! let week = AnalyticsQuery::within(bot, None, None, None, until)?;
//! let report = bot_analytics(store, org, &query).await?;
//! println!("{} conversations, fallback rate {:?}", report.totals.conversations,
//!          report.totals.fallback_rate());
//! # Ok(()) }
//! ```

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::domain::{ActivityCounts, AnalyticsBucket, AnalyticsInterval, BotAnalytics, BucketGrid};
use crate::id::{BotId, OrgId};
use crate::store::{AnalyticsRepo, StoreResult};
use crate::validate::{FieldIssue, Invalid};

/// Most buckets one report may have: about 83 days by the hour.
pub const MAX_BUCKETS: usize = 2_000;

/// Longest window one report may span, in days: a year (a leap one included), which bounds
/// the rows a report reads.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// How many of the most recognised intents a report lists.
pub const TOP_INTENTS: u32 = 10;

/// Which bot, which window, which buckets: checked on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsQuery {
    bot: BotId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    interval: AnalyticsInterval,
}

impl AnalyticsQuery {
    /// A query with defaults for what is not given: `until` now, `since` midnight UTC six
    /// days before `until`'s day (a week with that day), by day. Checked as [`Self::new`].
    pub fn within(
        bot: BotId,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        interval: Option<AnalyticsInterval>,
        now: DateTime<Utc>,
    ) -> Result<Self, Invalid> {
        let until = until.unwrap_or(now);
        let since = since.unwrap_or_else(|| {
            let six_days_before = until - TimeDelta::days(6);
            six_days_before
                .duration_trunc(TimeDelta::days(1))
                .unwrap_or(six_days_before)
        });
        Self::new(bot, since, until, interval.unwrap_or_default())
    }

    /// A query, checked: `until` must come after `since`, the window may span at most
    /// [`MAX_WINDOW_DAYS`] days and [`MAX_BUCKETS`] buckets of `interval` (errors name
    /// `until`, `since` and `interval`).
    pub fn new(
        bot: BotId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        interval: AnalyticsInterval,
    ) -> Result<Self, Invalid> {
        if until <= since {
            return Err(issue("until", "must be after since".into()));
        }
        if until - since > TimeDelta::days(MAX_WINDOW_DAYS) {
            return Err(issue(
                "since",
                format!("the window may span at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        let buckets = BucketGrid::aligned(since, until, interval).len();
        if buckets > MAX_BUCKETS {
            return Err(issue(
                "interval",
                format!(
                    "the window spans {buckets} buckets, more than {MAX_BUCKETS}: use a wider \
                     interval or a shorter window"
                ),
            ));
        }
        Ok(Self {
            bot,
            since,
            until,
            interval,
        })
    }
}

impl AnalyticsQuery {
    /// The bot.
    pub fn bot(&self) -> BotId {
        self.bot
    }

    /// Window start (inclusive).
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// Window end (exclusive).
    pub fn until(&self) -> DateTime<Utc> {
        self.until
    }

    /// Bucket width of the series.
    pub fn interval(&self) -> AnalyticsInterval {
        self.interval
    }
}

fn issue(field: &str, message: String) -> Invalid {
    Invalid(vec![FieldIssue {
        field: field.to_owned(),
        message,
    }])
}

/// The analytics of `org`'s `query.bot()`: every bucket of the window (empty ones as zeros),
/// totals over the whole window, and the [`TOP_INTENTS`] most recognised intents. Another
/// organization's bot reads as having no activity.
pub async fn bot_analytics<S: AnalyticsRepo + ?Sized>(
    store: &S,
    org: OrgId,
    query: &AnalyticsQuery,
) -> StoreResult<BotAnalytics> {
    let grid = BucketGrid::aligned(query.since(), query.until(), query.interval());
    let mut series: Vec<AnalyticsBucket> = (0..grid.len())
        .map(|i| AnalyticsBucket {
            start: grid.start(i),
            counts: ActivityCounts::default(),
        })
        .collect();
    for (index, counts) in store.bot_activity(org, query.bot(), &grid).await? {
        if let Some(bucket) = series.get_mut(index) {
            bucket.counts = counts;
        }
    }
    let whole = BucketGrid::whole(query.since(), query.until());
    let totals = store
        .bot_activity(org, query.bot(), &whole)
        .await?
        .into_iter()
        .next()
        .map(|(_, counts)| counts)
        .unwrap_or_default();
    let top_intents = store
        .top_intents(org, query.bot(), query.since(), query.until(), TOP_INTENTS)
        .await?;
    Ok(BotAnalytics {
        since: query.since(),
        until: query.until(),
        interval: query.interval(),
        totals,
        series,
        top_intents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn a_query_needs_a_window_of_a_bounded_number_of_buckets() {
        let bot = BotId::new();
        let now = Utc::now();
        let day = AnalyticsInterval::Day;
        assert!(AnalyticsQuery::new(bot, now, now - TimeDelta::days(1), day).is_err());
        assert!(AnalyticsQuery::new(bot, now, now, day).is_err());
        assert!(AnalyticsQuery::new(bot, now - TimeDelta::days(365), now, day).is_ok());
        let field =
            |since: TimeDelta, interval| match AnalyticsQuery::new(bot, now - since, now, interval)
            {
                Err(Invalid(issues)) => issues[0].field.clone(),
                Ok(_) => "accepted".to_owned(),
            };
        assert_eq!(
            field(TimeDelta::days(120), AnalyticsInterval::Hour),
            "interval"
        );
        assert_eq!(field(TimeDelta::days(367), day), "since", "over a year");
        assert_eq!(field(TimeDelta::days(-1), day), "until");
    }

    #[test]
    fn the_default_window_is_a_week_with_the_day_of_until() {
        let bot = BotId::new();
        let now = "2026-11-30T15:20:00Z".parse::<DateTime<Utc>>().unwrap();
        let week = AnalyticsQuery::within(bot, None, None, None, now).unwrap();
        assert_eq!(week.since().to_rfc3339(), "2026-11-24T00:00:00+00:00");
        assert_eq!(
            (week.until(), week.interval()),
            (now, AnalyticsInterval::Day)
        );
        let until = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let before = AnalyticsQuery::within(bot, None, Some(until), None, now).unwrap();
        assert_eq!(before.since().to_rfc3339(), "2025-12-26T00:00:00+00:00");
    }
}
