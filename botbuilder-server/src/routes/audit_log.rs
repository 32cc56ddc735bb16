//! The audit log.

use axum::Json;
use axum::extract::State;
use botbuilder_core::domain::{Actor, AuditFilter, PageRequest};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::views::{AuditEntryView, PageView};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Query, perm};
use crate::state::AppState;

/// Filters and paging for the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Exact action (`bot.create`).
    pub action: Option<String>,
    /// `user:<id>`, `api_key:<id>`, `system`, or a bare user id.
    pub actor: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Items per page, 1..=200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

fn parse_actor(raw: &str) -> ApiResult<Actor> {
    Actor::from_key(raw)
        .or_else(|| raw.parse().ok().map(Actor::User))
        .ok_or_else(|| ApiError::field("actor", "expected user:<id>, api_key:<id> or system"))
}

/// Entries newest first, filtered and paged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit-log", tag = "audit", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), AuditQuery),
    responses((status = 200, body = PageView<AuditEntryView>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_audit_log(
    State(state): State<AppState>,
    access: OrgAccess<perm::AuditRead>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<PageView<AuditEntryView>>> {
    let filter = AuditFilter {
        action: q.action,
        actor: q.actor.as_deref().map(parse_actor).transpose()?,
        since: q.since,
        until: q.until,
    };
    let page = PageRequest {
        limit: q.limit.unwrap_or(PageRequest::DEFAULT_LIMIT),
        cursor: q.cursor,
    };
    let entries = state.store.list_audit(access.org, &filter, page).await?;
    Ok(Json(PageView::from_page(&entries)))
}
