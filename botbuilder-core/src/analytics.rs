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
//! let report = bot_analytics(store, org, &query).await?;
//! println!("{} conversations, fallback rate {:?}", report.totals.conversations,
//!          report.totals.fallback_rate());
//! # Ok(()) }
//! ```

use chrono::{DateTime, Utc};

use crate::domain::{ActivityCounts, AnalyticsBucket, AnalyticsInterval, BotAnalytics, BucketGrid};
use crate::id::{BotId, OrgId};
use crate::store::{AnalyticsRepo, StoreResult};
use crate::validate::{FieldIssue, Invalid};

/// Most buckets one report may have: about 83 days by the hour, or 5 years by the day.
pub const MAX_BUCKETS: usize = 2_000;

/// How many of the most recognised intents a report lists.
pub const TOP_INTENTS: u32 = 10;

/// Which bot, which window, which buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// The bot.
    pub bot: BotId,
    /// Window start (inclusive).
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// Bucket width of the series.
    pub interval: AnalyticsInterval,
}

impl AnalyticsQuery {
    /// A query, checked: `until` must come after `since`, and the window may span at most
    /// [`MAX_BUCKETS`] buckets of `interval` (errors name `until` and `interval`).
    pub fn new(
        bot: BotId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        interval: AnalyticsInterval,
    ) -> Result<Self, Invalid> {
        if until <= since {
            return Err(issue("until", "must be after since".into()));
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

fn issue(field: &str, message: String) -> Invalid {
    Invalid(vec![FieldIssue {
        field: field.to_owned(),
        message,
    }])
}

/// The analytics of `org`'s `query.bot`: every bucket of the window (empty ones as zeros),
/// totals over the whole window, and the [`TOP_INTENTS`] most recognised intents. Another
/// organization's bot reads as having no activity.
pub async fn bot_analytics<S: AnalyticsRepo + ?Sized>(
    store: &S,
    org: OrgId,
    query: &AnalyticsQuery,
) -> StoreResult<BotAnalytics> {
    let grid = BucketGrid::aligned(query.since, query.until, query.interval);
    let mut series: Vec<AnalyticsBucket> = (0..grid.len())
        .map(|i| AnalyticsBucket {
            start: grid.start(i),
            counts: ActivityCounts::default(),
        })
        .collect();
    for (index, counts) in store.bot_activity(org, query.bot, &grid).await? {
        if let Some(bucket) = series.get_mut(index) {
            bucket.counts = counts;
        }
    }
    let whole = BucketGrid::whole(query.since, query.until);
    let totals = store
        .bot_activity(org, query.bot, &whole)
        .await?
        .into_iter()
        .next()
        .map(|(_, counts)| counts)
        .unwrap_or_default();
    let top_intents = store
        .top_intents(org, query.bot, query.since, query.until, TOP_INTENTS)
        .await?;
    Ok(BotAnalytics {
        since: query.since,
        until: query.until,
        interval: query.interval,
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
        let Err(Invalid(issues)) = AnalyticsQuery::new(
            bot,
            now - TimeDelta::days(365),
            now,
            AnalyticsInterval::Hour,
        ) else {
            panic!("a year by the hour is too many buckets");
        };
        assert_eq!(issues[0].field, "interval");
    }
}
