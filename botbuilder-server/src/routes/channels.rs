//! A bot's messaging channels: connect (credentials checked with the platform, secrets
//! sealed and never returned), show (status, webhook URL, last traffic, last error), test,
//! disconnect, and the deliveries that failed every attempt. The rules live in
//! [`botbuilder_core::channel::ChannelService`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::channel::{ChannelKind, ChannelRequest, ChannelServiceError};
use botbuilder_core::domain::Channel;
use botbuilder_core::id::{BotId, ChannelId};
use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

impl From<ChannelServiceError> for ApiError {
    fn from(e: ChannelServiceError) -> Self {
        match e {
            ChannelServiceError::Invalid(invalid) => invalid.into(),
            ChannelServiceError::Store(e) => e.into(),
            ChannelServiceError::Unsupported(kind) => Self::field(
                "type",
                format!("this server cannot connect {kind} channels"),
            ),
            ChannelServiceError::Upstream(e) => Self::BadGateway(botbuilder_core::error_chain(&e)),
            ChannelServiceError::Queue(e) => Self::Unavailable(Box::new(e)),
            e @ ChannelServiceError::AlreadyConnected(_) => Self::Conflict(e.to_string()),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// A channel to connect.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectChannel {
    /// `telegram`, `whatsapp` or `slack`.
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: String,
    /// A name for people (default: the platform's name for the account, e.g. `@acme_bot`).
    #[garde(skip)]
    #[serde(default)]
    pub name: Option<String>,
    /// The platform's settings. Telegram: `bot_token`. WhatsApp: `access_token`,
    /// `phone_number_id`, `app_secret`, `verify_token`. Slack: `bot_token`,
    /// `signing_secret`. Each may add `api_base_url` (a self-hosted Telegram Bot API server;
    /// it must pass the outbound guard).
    #[garde(skip)]
    #[schema(value_type = Object)]
    pub config: Value,
}

impl std::fmt::Debug for ConnectChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectChannel")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A connected channel, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// The channel's id (in its webhook URL).
    pub id: Uuid,
    /// The bot answering on it.
    pub bot_id: Uuid,
    /// `telegram`, `whatsapp` or `slack`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its name.
    pub name: String,
    /// `connected` (webhook), `polling` (Telegram without a public URL) or `error`.
    pub status: String,
    /// Where the platform sends events (set it in the WhatsApp or Slack app settings;
    /// Telegram is told at connection); absent without `BOTBUILDER_PUBLIC_URL`.
    pub webhook_url: Option<String>,
    /// Its settings that are not secret.
    #[schema(value_type = Object)]
    pub settings: Value,
    /// When the last event arrived.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// When the last message was delivered.
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// The last problem connecting, receiving or sending.
    pub last_error: Option<String>,
    /// When it was connected.
    pub created_at: DateTime<Utc>,
}

fn view(state: &AppState, c: &Channel) -> ChannelView {
    ChannelView {
        id: c.id.as_uuid(),
        bot_id: c.bot_id.as_uuid(),
        kind: c.kind.as_str().to_owned(),
        name: c.name.clone(),
        status: c.status.as_str().to_owned(),
        webhook_url: state.channels.webhook_url(c),
        settings: c.settings.clone(),
        last_inbound_at: c.last_inbound_at,
        last_outbound_at: c.last_outbound_at,
        last_error: c.last_error.clone(),
        created_at: c.created_at,
    }
}

/// `{bot}` path parameter.
#[derive(Debug, Deserialize)]
pub struct BotPath {
    /// The bot id.
    pub bot: BotId,
}

/// `{bot}` and `{channel}` path parameters.
#[derive(Debug, Deserialize)]
pub struct ChannelPath {
    /// The bot id.
    pub bot: BotId,
    /// The channel id.
    pub channel: ChannelId,
}

/// The bot's channels.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/channels", tag = "channels", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    responses((status = 200, body = Vec<ChannelView>), (status = 404, body = Problem)))]
pub async fn list_channels(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
) -> ApiResult<Json<Vec<ChannelView>>> {
    let channels = state.channels.list(access.org, path.bot).await?;
    Ok(Json(channels.iter().map(|c| view(&state, c)).collect()))
}

/// Connects a channel: the credentials are checked with the platform first (a refusal is a
/// 400 naming the field), then sealed; Telegram is pointed at the webhook (or long-polls
/// without `BOTBUILDER_PUBLIC_URL`). A platform that does not answer is a 502; a Telegram bot
/// connected to another channel already is a 409 (it has one webhook).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/channels", tag = "channels", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    request_body = ConnectChannel,
    responses((status = 201, body = ChannelView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 502, body = Problem)))]
pub async fn connect_channel(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<BotPath>,
    ValidJson(req): ValidJson<ConnectChannel>,
) -> ApiResult<impl IntoResponse> {
    let kind = ChannelKind::parse(&req.kind)
        .filter(|k| *k != ChannelKind::Web)
        .ok_or_else(|| {
            ApiError::field("type", "expected one of `telegram`, `whatsapp`, `slack`")
        })?;
    let request = ChannelRequest {
        kind,
        name: req.name,
        config: req.config,
    };
    let channel = state
        .channels
        .connect(access.org, path.bot, request)
        .await?;
    if channel.status == botbuilder_core::domain::ChannelStatus::Polling {
        crate::spawn_poller(&state, channel.id);
    }
    let audit = AuditRecord::new("channel.connect")
        .target("channel", channel.id)
        .details(json!({ "bot": channel.bot_id, "type": kind.as_str(), "name": channel.name }));
    Ok((StatusCode::CREATED, audit, Json(view(&state, &channel))))
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}", tag = "channels", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("channel" = Uuid, Path, description = "Channel id")),
    responses((status = 200, body = ChannelView), (status = 404, body = Problem)))]
pub async fn get_channel(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<ChannelPath>,
) -> ApiResult<Json<ChannelView>> {
    let channel = state
        .channels
        .get(access.org, path.bot, path.channel)
        .await?;
    Ok(Json(view(&state, &channel)))
}

/// Disconnects a channel (Telegram's webhook is deleted) and drops its undelivered replies.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}", tag = "channels", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("channel" = Uuid, Path, description = "Channel id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn disconnect_channel(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<ChannelPath>,
) -> ApiResult<impl IntoResponse> {
    state
        .channels
        .disconnect(access.org, path.bot, path.channel)
        .await?;
    let audit = AuditRecord::new("channel.disconnect").target("channel", path.channel);
    Ok((audit, StatusCode::NO_CONTENT))
}

/// The outcome of testing a channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelTest {
    /// Whether the platform accepted the credentials.
    pub ok: bool,
    /// The platform's name for the account (`@acme_bot`, a phone number, a bot user id).
    pub account: Option<String>,
    /// Why not, when not.
    pub error: Option<String>,
    /// The channel, with the outcome recorded.
    pub channel: ChannelView,
}

/// Checks the channel's credentials with the platform now (`getMe`, the phone number,
/// `auth.test`) and records the outcome on it.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}/test", tag = "channels", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("channel" = Uuid, Path, description = "Channel id")),
    responses((status = 200, body = ChannelTest), (status = 404, body = Problem)))]
pub async fn test_channel(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<ChannelPath>,
) -> ApiResult<Json<ChannelTest>> {
    let (channel, outcome) = state
        .channels
        .test(access.org, path.bot, path.channel)
        .await?;
    Ok(Json(ChannelTest {
        ok: outcome.is_ok(),
        account: outcome.as_ref().ok().cloned(),
        error: outcome.err(),
        channel: view(&state, &channel),
    }))
}

/// A delivery that failed every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadDeliveryView {
    /// The job.
    pub job_id: Uuid,
    /// The conversation whose replies were not delivered.
    pub session_id: Option<Uuid>,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// Deliveries to the channel that failed every attempt, oldest first, at most 100.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}/dead-letters", tag = "channels", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("channel" = Uuid, Path, description = "Channel id")),
    responses((status = 200, body = Vec<DeadDeliveryView>), (status = 404, body = Problem)))]
pub async fn dead_deliveries(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<ChannelPath>,
) -> ApiResult<Json<Vec<DeadDeliveryView>>> {
    let dead = state
        .channels
        .dead_deliveries(access.org, path.bot, path.channel)
        .await?;
    Ok(Json(
        dead.into_iter()
            .map(|d| DeadDeliveryView {
                job_id: d.id,
                session_id: d.payload["session"].as_str().and_then(|s| s.parse().ok()),
                attempts: d.attempts,
                last_error: d.last_error,
            })
            .collect(),
    ))
}
