//! An organization's webhook endpoints: add (the signing secret is shown once), list,
//! change, rotate the secret, remove, read the delivery log and redeliver. The rules live in
//! [`botbuilder_core::webhook::WebhookService`]; delivery in its worker.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{Permission, WebhookAttempt, WebhookDelivery, WebhookEndpoint};
use botbuilder_core::id::{WebhookDeliveryId, WebhookId};
use botbuilder_core::webhook::{
    CreatedEndpoint, EndpointChange, EndpointRequest, WebhookServiceError,
};
use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::PageQuery;
use super::views::PageView;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

impl From<WebhookServiceError> for ApiError {
    fn from(e: WebhookServiceError) -> Self {
        match e {
            WebhookServiceError::Invalid(invalid) => invalid.into(),
            WebhookServiceError::Store(e) => e.into(),
            WebhookServiceError::TooMany | WebhookServiceError::Disabled => {
                Self::Conflict(e.to_string())
            }
            WebhookServiceError::Queue(e) => Self::Unavailable(Box::new(e)),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// An endpoint to add.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where events are posted: an `http(s)` URL that passes the outbound guard.
    #[garde(skip)]
    pub url: String,
    /// A note for people (at most 500 characters).
    #[garde(skip)]
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to receive (default: all): `conversation.started`, `message.received`,
    /// `message.sent`, `conversation.handoff`, `conversation.released`, `feedback.created`,
    /// `document.ready`, `document.failed`.
    #[garde(skip)]
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

/// A change to an endpoint; absent fields stay.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// New URL.
    #[garde(skip)]
    #[serde(default)]
    pub url: Option<String>,
    /// New description.
    #[garde(skip)]
    #[serde(default)]
    pub description: Option<String>,
    /// New event types.
    #[garde(skip)]
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// `true` enables it again (after a `410 Gone`); `false` disables it and fails its
    /// pending deliveries.
    #[garde(skip)]
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A webhook endpoint, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Its id.
    pub id: Uuid,
    /// Where events are posted.
    pub url: String,
    /// A note for people.
    pub description: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// Whether events are sent to it.
    pub enabled: bool,
    /// Why the platform disabled it (`410 Gone`).
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs (a second signature).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&WebhookEndpoint> for WebhookView {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.as_uuid(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.iter().map(|t| t.as_str().to_owned()).collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret, shown this once. Its `Debug` leaves the secret out.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_…`): verify `webhook-signature` with it (Standard
    /// Webhooks). It is not shown again.
    pub secret: String,
}

impl std::fmt::Debug for WebhookWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWithSecret")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

/// The scheme, host and port of a URL: what the audit log records of an endpoint, since
/// receivers often carry a credential in the path or query.
fn origin(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| String::new(), |u| u.origin().ascii_serialization())
}

/// Webhooks send the organization's conversations and documents to another system: besides
/// `webhooks:*`, subscribing and reading what was sent takes `conversations:read`.
fn require_conversations_read<P>(access: &OrgAccess<P>) -> ApiResult<()> {
    if access.permissions.contains(Permission::ConversationsRead) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "webhooks carry conversations: this also takes `conversations:read`".to_owned(),
        ))
    }
}

impl From<&CreatedEndpoint> for WebhookWithSecret {
    fn from(c: &CreatedEndpoint) -> Self {
        Self {
            webhook: WebhookView::from(&c.endpoint),
            secret: c.secret.clone(),
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// What went wrong.
    pub error: Option<String>,
}

impl From<&WebhookAttempt> for AttemptView {
    fn from(a: &WebhookAttempt) -> Self {
        Self {
            at: a.at,
            status: a.status,
            duration_ms: a.duration_ms,
            error: a.error.clone(),
        }
    }
}

/// One event's delivery to the endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Its id.
    pub id: Uuid,
    /// The `webhook-id` header (the same on every attempt).
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    /// Attempts made since it was created or last redelivered (the log keeps earlier ones).
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the endpoint accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The newest attempts (at most 20), oldest first.
    pub attempt_log: Vec<AttemptView>,
    /// The body posted.
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<&WebhookDelivery> for DeliveryView {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            id: d.id.as_uuid(),
            event_id: d.webhook_id(),
            event_type: d.event_type.as_str().to_owned(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            attempt_log: d.attempt_log.iter().map(AttemptView::from).collect(),
            payload: d.payload.clone(),
        }
    }
}

/// `{webhook}` path parameter.
#[derive(Debug, Deserialize)]
pub struct WebhookPath {
    /// The endpoint id.
    pub webhook: WebhookId,
}

/// `{webhook}` and `{delivery}` path parameters.
#[derive(Debug, Deserialize)]
pub struct DeliveryPath {
    /// The endpoint id.
    pub webhook: WebhookId,
    /// The delivery id.
    pub delivery: WebhookDeliveryId,
}

/// The organization's webhook endpoints, oldest first, paged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = PageView<WebhookView>), (status = 403, body = Problem)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksRead>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<PageView<WebhookView>>> {
    let page = state.webhooks.list(access.org, q.page()).await?;
    Ok(Json(PageView::from_page(&page)))
}

/// Adds an endpoint; the answer carries its signing secret, shown this once. A URL the
/// outbound guard refuses outright (another scheme, a private, loopback or link-local
/// address) is a 400 naming `url`; a name that resolves to such an address fails at
/// delivery, where it is checked on every attempt. Takes `conversations:read` as well.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksManage>,
    ValidJson(req): ValidJson<CreateWebhook>,
) -> ApiResult<impl IntoResponse> {
    require_conversations_read(&access)?;
    let created = state
        .webhooks
        .create(
            access.org,
            EndpointRequest {
                url: req.url,
                description: req.description,
                events: req.events,
            },
        )
        .await?;
    let audit = AuditRecord::new("webhook.create")
        .target("webhook", created.endpoint.id)
        .details(
            json!({ "origin": origin(&created.endpoint.url), "events": created.endpoint.events }),
        );
    Ok((
        StatusCode::CREATED,
        audit,
        Json(WebhookWithSecret::from(&created)),
    ))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/webhooks/{webhook}", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("webhook" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookView), (status = 404, body = Problem)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksRead>,
    Path(path): Path<WebhookPath>,
) -> ApiResult<Json<WebhookView>> {
    let endpoint = state.webhooks.get(access.org, path.webhook).await?;
    Ok(Json(WebhookView::from(&endpoint)))
}

/// Changes an endpoint (URL, description, event types, enabled).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/webhooks/{webhook}", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("webhook" = Uuid, Path, description = "Endpoint id")),
    request_body = UpdateWebhook,
    responses((status = 200, body = WebhookView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksManage>,
    Path(path): Path<WebhookPath>,
    ValidJson(req): ValidJson<UpdateWebhook>,
) -> ApiResult<impl IntoResponse> {
    require_conversations_read(&access)?;
    let endpoint = state
        .webhooks
        .update(
            access.org,
            path.webhook,
            EndpointChange {
                url: req.url,
                description: req.description,
                events: req.events,
                enabled: req.enabled,
            },
        )
        .await?;
    let audit = AuditRecord::new("webhook.update")
        .target("webhook", endpoint.id)
        .details(json!({ "origin": origin(&endpoint.url), "enabled": endpoint.enabled }));
    Ok((audit, Json(WebhookView::from(&endpoint))))
}

/// Removes an endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/webhooks/{webhook}", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("webhook" = Uuid, Path, description = "Endpoint id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksManage>,
    Path(path): Path<WebhookPath>,
) -> ApiResult<impl IntoResponse> {
    state.webhooks.delete(access.org, path.webhook).await?;
    let audit = AuditRecord::new("webhook.delete").target("webhook", path.webhook);
    Ok((audit, StatusCode::NO_CONTENT))
}

/// Gives the endpoint a new signing secret, shown this once. For 24 hours every webhook
/// carries two signatures, the new secret's and the old one's, so the receiver can switch
/// without losing a message.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/webhooks/{webhook}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("webhook" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookWithSecret), (status = 404, body = Problem)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksManage>,
    Path(path): Path<WebhookPath>,
) -> ApiResult<impl IntoResponse> {
    let rotated = state
        .webhooks
        .rotate_secret(access.org, path.webhook)
        .await?;
    let audit = AuditRecord::new("webhook.rotate_secret").target("webhook", path.webhook);
    Ok((audit, Json(WebhookWithSecret::from(&rotated))))
}

/// The endpoint's deliveries, newest first, paged: state, attempts with status codes and
/// durations, and the body posted.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("webhook" = Uuid, Path, description = "Endpoint id"),
        PageQuery),
    responses((status = 200, body = PageView<DeliveryView>), (status = 404, body = Problem)))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksRead>,
    Path(path): Path<WebhookPath>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<PageView<DeliveryView>>> {
    require_conversations_read(&access)?;
    let page = state
        .webhooks
        .deliveries(access.org, path.webhook, q.page())
        .await?;
    Ok(Json(PageView::from_page(&page)))
}

/// Sends a delivery again, whatever became of it (after the deliveries before it in its
/// conversation). A disabled endpoint is a 409: enable it first.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("webhook" = Uuid, Path, description = "Endpoint id"),
        ("delivery" = Uuid, Path, description = "Delivery id")),
    responses((status = 202, body = DeliveryView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn redeliver_webhook(
    State(state): State<AppState>,
    access: OrgAccess<perm::WebhooksManage>,
    Path(path): Path<DeliveryPath>,
) -> ApiResult<impl IntoResponse> {
    require_conversations_read(&access)?;
    let delivery = state
        .webhooks
        .redeliver(access.org, path.webhook, path.delivery)
        .await?;
    let audit = AuditRecord::new("webhook.redeliver")
        .target("webhook", path.webhook)
        .details(json!({ "delivery": path.delivery }));
    Ok((
        StatusCode::ACCEPTED,
        audit,
        Json(DeliveryView::from(&delivery)),
    ))
}
