//! A bot's analytics over a date range: what [`botbuilder_core::analytics`] computes, as JSON.

use axum::Json;
use axum::extract::State;
use botbuilder_core::analytics::{AnalyticsQuery, bot_analytics};
use botbuilder_core::domain::{ActivityCounts, AnalyticsInterval, BotAnalytics};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bots::BotPath;
use super::input::instant;
use crate::error::{ApiResult, Problem};
use crate::extract::{OrgAccess, Path, Query, perm};
use crate::state::AppState;

/// The window and the buckets of the series.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsParams {
    /// From this instant (RFC 3339) or day (`2026-11-01`, UTC midnight) on [default: midnight
    /// UTC six days before the day of `until`, so a week with that day].
    pub since: Option<String>,
    /// Until this instant or day (exclusive) [default: now].
    pub until: Option<String>,
    /// Bucket width of the series: `hour` or `day` (default). A window spans at most 366 days
    /// and 2,000 buckets.
    #[param(value_type = Option<String>)]
    pub interval: Option<AnalyticsInterval>,
}

/// What a bucket, or the whole window, adds up to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    /// Conversations started.
    pub conversations: u64,
    /// Conversations in which a user wrote.
    pub active_conversations: u64,
    /// Messages from users.
    pub messages_in: u64,
    /// Messages to users: the bot's replies and human agents' messages.
    pub messages_out: u64,
    /// Distinct users (channel and user id) who wrote.
    pub unique_users: u64,
    /// Users' messages an intent classifier read (those to a bot with intents).
    pub classified_messages: u64,
    /// Classified messages with no recognised intent (`none`).
    pub fallbacks: u64,
    /// `fallbacks / classified_messages` (0 to 1); null without any (a bot without intents).
    pub fallback_rate: Option<f64>,
    /// Conversations handed over to a person.
    pub handoffs: u64,
    /// `handoffs / active_conversations` (0 to 1); null without any.
    pub handoff_rate: Option<f64>,
    /// Replies rated up.
    pub feedback_up: u64,
    /// Replies rated down.
    pub feedback_down: u64,
    /// Median time from a user's message to the bot's reply, in milliseconds; null without
    /// replies.
    pub median_response_ms: Option<f64>,
    /// Prompt tokens of the language model calls that wrote replies.
    pub prompt_tokens: u64,
    /// Tokens those calls generated.
    pub completion_tokens: u64,
    /// What those calls cost, in millionths of a US dollar.
    pub cost_micros: i64,
}

impl From<&ActivityCounts> for ActivityView {
    fn from(c: &ActivityCounts) -> Self {
        Self {
            conversations: c.conversations,
            active_conversations: c.active_conversations,
            messages_in: c.messages_in,
            messages_out: c.messages_out,
            unique_users: c.unique_users,
            classified_messages: c.classified_messages,
            fallbacks: c.fallbacks,
            fallback_rate: c.fallback_rate(),
            handoffs: c.handoffs,
            handoff_rate: c.handoff_rate(),
            feedback_up: c.feedback_up,
            feedback_down: c.feedback_down,
            median_response_ms: c.median_response_ms,
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            cost_micros: c.cost_micros,
        }
    }
}

/// One bucket of the series.
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketView {
    /// The bucket's start (on the hour, or at midnight UTC).
    pub start: DateTime<Utc>,
    /// What it adds up to.
    #[serde(flatten)]
    pub counts: ActivityView,
}

/// How often users' messages were recognised as an intent.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntentCountView {
    /// The intent.
    pub intent: String,
    /// Users' messages recognised as it.
    pub count: u64,
}

/// A bot's analytics.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsView {
    /// Window start.
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// Bucket width of the series.
    #[schema(value_type = String)]
    pub interval: AnalyticsInterval,
    /// The whole window (distinct users and the median over the window, not sums of buckets).
    pub totals: ActivityView,
    /// Every bucket of the window in time order, empty ones included.
    pub series: Vec<BucketView>,
    /// The ten most recognised intents, most frequent first.
    pub top_intents: Vec<IntentCountView>,
}

impl From<BotAnalytics> for AnalyticsView {
    fn from(report: BotAnalytics) -> Self {
        Self {
            since: report.since,
            until: report.until,
            interval: report.interval,
            totals: ActivityView::from(&report.totals),
            series: report
                .series
                .iter()
                .map(|b| BucketView {
                    start: b.start,
                    counts: ActivityView::from(&b.counts),
                })
                .collect(),
            top_intents: report
                .top_intents
                .into_iter()
                .map(|i| IntentCountView {
                    intent: i.intent,
                    count: i.count,
                })
                .collect(),
        }
    }
}

/// A bot's conversations, messages, users, top intents, fallback and handoff rates, feedback,
/// median response time, tokens and cost over a window, in totals and by hour or day.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/analytics", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("bot" = uuid::Uuid, Path, description = "Bot id"), AnalyticsParams),
    responses((status = 200, body = AnalyticsView), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_analytics(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
    Query(params): Query<AnalyticsParams>,
) -> ApiResult<Json<AnalyticsView>> {
    let instant_of = |value: Option<&str>, field| value.map(|v| instant(v, field)).transpose();
    let query = AnalyticsQuery::within(
        path.bot,
        instant_of(params.since.as_deref(), "since")?,
        instant_of(params.until.as_deref(), "until")?,
        params.interval,
        state.clock.now(),
    )?;
    // An unknown bot, or another organization's, is a 404 rather than a report of nothing.
    state.store.get_bot(access.org, path.bot).await?;
    let report = bot_analytics(state.store.as_ref(), access.org, &query).await?;
    Ok(Json(report.into()))
}
