//! A bot's flow: the draft (validated on save) and publication into immutable versions.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use botbuilder_core::domain::FlowDraft;
use botbuilder_core::flow::{Flow, FlowIssue};
use botbuilder_core::id::BotId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{OrgAccess, Path, is_json, parse_json, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// A bot's flow as the editor sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowView {
    /// The draft graph (`{nodes, edges}`); a bare start node until first saved.
    #[schema(value_type = Object)]
    pub flow: Flow,
    /// When the draft was last saved, if ever.
    pub updated_at: Option<DateTime<Utc>>,
    /// The newest published version, if any.
    pub published_version: Option<u32>,
    /// What is allowed but probably not meant (`field`: `nodes[<id>]`, and why), such as an
    /// `ask` without an `invalid` edge.
    pub warnings: Vec<FieldError>,
}

/// The warnings of `flow`, as fields.
fn warnings(flow: &Flow) -> Vec<FieldError> {
    flow.warnings()
        .into_iter()
        .map(|issue| FieldError::new(issue.location(), issue.message))
        .collect()
}

/// A published version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedView {
    /// The version number.
    pub version: u32,
    /// When it was published.
    pub created_at: DateTime<Utc>,
}

/// `{bot}` path parameter.
#[derive(Debug, Deserialize)]
pub struct BotPath {
    /// The bot id.
    pub bot: BotId,
}

/// The flow a bot starts with: one start node.
fn empty_flow() -> Flow {
    Flow::parse(json!({ "nodes": [{ "id": "start", "type": "start", "data": {} }] }))
        .expect("the empty flow is valid")
}

fn issues_to_error(issues: Vec<FlowIssue>) -> ApiError {
    ApiError::Validation(
        issues
            .into_iter()
            .map(|issue| FieldError::new(issue.location(), issue.message))
            .collect(),
    )
}

/// The draft and the newest published version.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/flow", tag = "flows", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), ("bot" = uuid::Uuid, Path, description = "Bot id")),
    responses((status = 200, body = FlowView), (status = 404, body = Problem)))]
pub async fn get_flow(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
) -> ApiResult<Json<FlowView>> {
    let draft = state.store.get_flow_draft(access.org, path.bot).await?;
    let latest = state
        .store
        .latest_flow_version(access.org, path.bot)
        .await?;
    let (flow, updated_at) = match draft {
        Some(FlowDraft {
            flow, updated_at, ..
        }) => (flow, Some(updated_at)),
        None => (empty_flow(), None),
    };
    Ok(Json(FlowView {
        warnings: warnings(&flow),
        flow,
        updated_at,
        published_version: latest.map(|v| v.version),
    }))
}

/// Saves the draft. The graph is validated first: every problem is listed, each naming the
/// node (`nodes[<id>]`) or edge (`edges[<id>]`) at fault.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/bots/{bot}/flow", tag = "flows", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), ("bot" = uuid::Uuid, Path, description = "Bot id")),
    request_body(content = Object, description = "ReactFlow-compatible `{nodes, edges}`"),
    responses((status = 200, body = FlowView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn put_flow(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<BotPath>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_json(content_type) {
        return Err(ApiError::expected_json());
    }
    let value: serde_json::Value = parse_json(&body)?;
    let flow = Flow::parse(value).map_err(issues_to_error)?;
    let draft = state
        .store
        .save_flow_draft(access.org, path.bot, flow)
        .await?;
    let latest = state
        .store
        .latest_flow_version(access.org, path.bot)
        .await?;
    let audit = AuditRecord::new("flow.save").target("bot", path.bot);
    Ok((
        audit,
        Json(FlowView {
            warnings: warnings(&draft.flow),
            flow: draft.flow,
            updated_at: Some(draft.updated_at),
            published_version: latest.map(|v| v.version),
        }),
    ))
}

/// Publishes the saved draft as the next version; new sessions run it, running sessions keep
/// theirs.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/flow/publish", tag = "flows", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), ("bot" = uuid::Uuid, Path, description = "Bot id")),
    responses((status = 201, body = PublishedView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn publish_flow(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<BotPath>,
) -> ApiResult<impl IntoResponse> {
    let draft = state
        .store
        .get_flow_draft(access.org, path.bot)
        .await?
        .ok_or_else(|| ApiError::Conflict("save a flow before publishing it".to_owned()))?;
    let issues = draft.flow.validate();
    if !issues.is_empty() {
        return Err(issues_to_error(issues));
    }
    let published = state
        .store
        .publish_flow(access.org, path.bot, draft.flow)
        .await?;
    let audit = AuditRecord::new("flow.publish")
        .target("bot", path.bot)
        .details(json!({ "version": published.version }));
    Ok((
        StatusCode::CREATED,
        audit,
        Json(PublishedView {
            version: published.version,
            created_at: published.created_at,
        }),
    ))
}
