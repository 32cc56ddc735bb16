//! Language model usage and spend of an organization, from its usage ledger (which outlives
//! deleted bots and conversations).

use axum::Json;
use axum::extract::State;
use botbuilder_core::domain::{UsageGrouping, UsageQuery, UsageRow};
use botbuilder_core::id::BotId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::input::instant;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Query, perm};
use crate::state::AppState;

/// Which calls, and how to sum them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// Only this bot's calls.
    #[param(value_type = Option<uuid::Uuid>)]
    pub bot: Option<BotId>,
    /// From this instant (RFC 3339) or day (`2026-11-01`, UTC) on [default: the start of the
    /// current month].
    pub since: Option<String>,
    /// Until this instant or day (exclusive) [default: now].
    pub until: Option<String>,
    /// `day` (default), `bot` or `model`.
    #[param(value_type = Option<String>)]
    pub group_by: Option<UsageGrouping>,
}

/// Sums of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRowView {
    /// The day (`group_by=day`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The bot (`group_by=bot`; it may since have been deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub bot_id: Option<BotId>,
    /// The provider (`group_by=model`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The model (`group_by=model`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Calls made.
    pub calls: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Cost in millionths of a US dollar.
    pub cost_micros: i64,
}

impl From<UsageRow> for UsageRowView {
    fn from(r: UsageRow) -> Self {
        Self {
            day: r.day,
            bot_id: r.bot_id,
            provider: r.provider,
            model: r.model,
            calls: r.calls,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cost_micros: r.cost_micros,
        }
    }
}

/// Usage in a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    /// Window start.
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// The grouping.
    #[schema(value_type = String)]
    pub group_by: UsageGrouping,
    /// One row per group, in key order.
    pub rows: Vec<UsageRowView>,
    /// All rows added up.
    pub total: UsageRowView,
    /// The monthly spend limit, if any (micro-dollars).
    pub monthly_spend_limit_micros: Option<i64>,
    /// What this calendar month's calls cost so far (micro-dollars).
    pub month_spent_micros: i64,
}

/// Token usage and cost of the organization's language model calls.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/usage", tag = "usage", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), UsageParams),
    responses((status = 200, body = UsageView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn get_usage(
    State(state): State<AppState>,
    access: OrgAccess<perm::UsageRead>,
    Query(params): Query<UsageParams>,
) -> ApiResult<Json<UsageView>> {
    let now = state.clock.now();
    let month = botbuilder_core::engine::month_of(now);
    let since = params
        .since
        .as_deref()
        .map(|v| instant(v, "since"))
        .transpose()?
        .unwrap_or(month);
    let until = params
        .until
        .as_deref()
        .map(|v| instant(v, "until"))
        .transpose()?
        .unwrap_or(now);
    if since >= until {
        return Err(ApiError::field("until", "must be after since"));
    }
    let query = UsageQuery {
        bot: params.bot,
        since,
        until,
        group_by: params.group_by.unwrap_or_default(),
    };
    let rows = state.store.usage(access.org, &query).await?;
    let mut total = UsageRowView {
        day: None,
        bot_id: None,
        provider: None,
        model: None,
        calls: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_micros: 0,
    };
    for row in &rows {
        total.calls += row.calls;
        total.prompt_tokens += row.prompt_tokens;
        total.completion_tokens += row.completion_tokens;
        total.cost_micros += row.cost_micros;
    }
    let limit = state
        .store
        .get_org(access.org)
        .await?
        .settings
        .monthly_spend_limit_micros;
    let month_spent_micros = state.store.spend_since(access.org, month).await?;
    Ok(Json(UsageView {
        since,
        until,
        group_by: query.group_by,
        rows: rows.into_iter().map(UsageRowView::from).collect(),
        total,
        monthly_spend_limit_micros: limit,
        month_spent_micros,
    }))
}
