//! The public web chat API for the embeddable widget: a session token per visitor, messages
//! as JSON or as a server-sent event stream, and the visitor's history.
//!
//! Session tokens are HS256 JWTs with their own audience, bound to one bot and one visitor,
//! valid for [`SESSION_TOKEN_TTL`]. No user account or API key is involved, so these routes
//! are rate limited per IP like everything else and never reveal anything but the visitor's
//! own conversation.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{ACCEPT, AUTHORIZATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use botbuilder_core::domain::{MessageDirection, PageRequest};
use botbuilder_core::engine::{EngineError, Inbound, TurnEvent, TurnStream};
use botbuilder_core::id::{BotId, MessageId, OrgId};
use botbuilder_core::rate_limit::Quota;
use futures::StreamExt as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::conversations::{FeedbackRequest, MAX_MESSAGE_BYTES, MessageView, feedback_body};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ClientIp, Path, ValidJson};
use crate::state::AppState;

/// Lifetime of a web chat session token.
pub const SESSION_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Audience of web chat session tokens (never accepted as access tokens, and vice versa).
pub const WEBCHAT_AUDIENCE: &str = "botbuilder-webchat";
/// Channel id of web chat sessions.
pub const CHANNEL: &str = "web";

#[derive(Debug, Serialize, Deserialize)]
struct WebchatClaims {
    aud: String,
    sub: String,
    bot: Uuid,
    org: Uuid,
    iat: i64,
    exp: i64,
}

/// A visitor's session token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionToken {
    /// Send as `Authorization: Bearer <token>` to the other web chat routes.
    pub session_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// A visitor's message.
#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorMessage {
    /// What the visitor says (at most 16 KiB).
    #[garde(skip)]
    pub text: String,
}

/// The bot's replies (JSON mode).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebchatReply {
    /// The stored visitor message.
    pub message: MessageView,
    /// The bot's replies, in order (none while a human agent has the conversation).
    pub replies: Vec<MessageView>,
}

/// `{bot}` path parameter.
#[derive(Debug, Deserialize)]
pub struct BotPath {
    /// The bot id.
    pub bot: BotId,
}

/// The visitor behind a valid session token for the bot in the path.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The bot's organization.
    pub org: OrgId,
    /// The bot.
    pub bot: BotId,
    /// The visitor's id on the web channel.
    pub external_user: String,
    /// When the session token expires (Unix seconds).
    pub expires_at: i64,
}

fn keys(state: &AppState) -> (EncodingKey, DecodingKey) {
    let secret = state.webchat_secret.as_bytes();
    (
        EncodingKey::from_secret(secret),
        DecodingKey::from_secret(secret),
    )
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(path) = Path::<BotPath>::from_request_parts(parts, state).await?;
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[WEBCHAT_AUDIENCE]);
        validation.set_required_spec_claims(&["aud", "sub", "exp"]);
        let (_, decoding) = keys(state);
        let claims = jsonwebtoken::decode::<WebchatClaims>(token.trim(), &decoding, &validation)
            .map_err(|_| ApiError::Unauthorized)?
            .claims;
        if claims.bot != path.bot.as_uuid() {
            return Err(ApiError::Unauthorized);
        }
        Ok(Self {
            org: claims.org.into(),
            bot: path.bot,
            external_user: claims.sub,
            expires_at: claims.exp,
        })
    }
}

/// How the widget presents a bot: its name and the appearance of its settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebchatConfig {
    /// The bot's name (the widget's title when `title` is unset).
    pub bot_name: String,
    /// The header's title.
    pub title: Option<String>,
    /// The accent color (`#rrggbb` or `#rgb`).
    pub color: Option<String>,
    /// The avatar's `https` URL.
    pub avatar_url: Option<String>,
    /// The first message shown before the visitor writes (Markdown).
    pub greeting: Option<String>,
    /// The input's placeholder.
    pub placeholder: Option<String>,
    /// The launcher's corner: `right` or `left`.
    pub position: String,
    /// The language of the widget's own words (BCP 47).
    pub language: Option<String>,
}

/// How long browsers may keep a bot's appearance, in seconds.
const CONFIG_MAX_AGE_SECS: u32 = 60;

/// The bot's public appearance for the widget. Needs no token; a page may read it only from
/// an origin the bot allows (or the server's own).
#[utoipa::path(get, path = "/api/v1/webchat/{bot}/config", tag = "webchat",
    params(("bot" = Uuid, Path, description = "Bot id")),
    responses((status = 200, body = WebchatConfig), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn config(
    State(state): State<AppState>,
    Path(path): Path<BotPath>,
) -> ApiResult<Response> {
    let bot = state.store.get_public_bot(path.bot).await?;
    let appearance = bot.settings.appearance;
    let position = match appearance.position {
        botbuilder_core::domain::WidgetPosition::Left => "left",
        botbuilder_core::domain::WidgetPosition::Right => "right",
    };
    let config = WebchatConfig {
        bot_name: bot.name,
        title: appearance.title,
        color: appearance.color,
        avatar_url: appearance.avatar_url,
        greeting: appearance.greeting,
        placeholder: appearance.placeholder,
        position: position.to_owned(),
        language: appearance.language,
    };
    Ok((
        [(
            axum::http::header::CACHE_CONTROL,
            format!("public, max-age={CONFIG_MAX_AGE_SECS}"),
        )],
        Json(config),
    )
        .into_response())
}

/// Starts a visitor session with a bot and returns its token.
#[utoipa::path(post, path = "/api/v1/webchat/{bot}/sessions", tag = "webchat",
    params(("bot" = Uuid, Path, description = "Bot id")),
    responses((status = 201, body = SessionToken), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(path): Path<BotPath>,
) -> ApiResult<Response> {
    let quota = Quota::per_minute(state.http.webchat_sessions_per_ip_per_minute);
    let key = format!("webchat-ip:{}", crate::middleware::client_bucket(&ip));
    if let Err(refused) = crate::middleware::rate_limit::charge(&state, &key, quota).await {
        return Ok(refused);
    }
    let bot = state.store.get_public_bot(path.bot).await?;
    let now = state.clock.now().timestamp();
    let ttl = i64::try_from(SESSION_TOKEN_TTL.as_secs()).unwrap_or(i64::MAX);
    let claims = WebchatClaims {
        aud: WEBCHAT_AUDIENCE.to_owned(),
        sub: format!("visitor-{}", Uuid::now_v7()),
        bot: bot.id.as_uuid(),
        org: bot.org_id.as_uuid(),
        iat: now,
        exp: now.saturating_add(ttl),
    };
    let (encoding, _) = keys(&state);
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &encoding)
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((
        StatusCode::CREATED,
        Json(SessionToken {
            session_token: token,
            expires_in: SESSION_TOKEN_TTL.as_secs(),
        }),
    )
        .into_response())
}

/// Whether the client asked for server-sent events.
pub(crate) fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// Sends the visitor's message. With `Accept: text/event-stream` the replies arrive as
/// server-sent events (`delta` while the model writes, `message` per reply, then `done`), with
/// keep-alive comments.
#[utoipa::path(post, path = "/api/v1/webchat/{bot}/messages", tag = "webchat",
    params(("bot" = Uuid, Path, description = "Bot id")),
    request_body = VisitorMessage,
    responses(
        (status = 200, description = "JSON, or an SSE stream with `Accept: text/event-stream`", body = WebchatReply),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem)))]
pub async fn send_message(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    ValidJson(req): ValidJson<VisitorMessage>,
) -> ApiResult<Response> {
    if req.text.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if req.text.trim().is_empty() {
        return Err(ApiError::field("text", "must not be blank"));
    }
    let inbound = Inbound {
        org: visitor.org,
        bot: visitor.bot,
        channel: CHANNEL.to_owned(),
        external_user: visitor.external_user,
        text: req.text,
    };
    if wants_stream(&headers) {
        return turn_events(state.engine.handle_stream(inbound), Audience::Visitor).await;
    }
    let turn = super::conversations::run_turn(&state.engine, inbound, None).await?;
    Ok(Json(WebchatReply {
        message: (&turn.inbound).into(),
        replies: turn.replies.iter().map(MessageView::for_visitor).collect(),
    })
    .into_response())
}

/// Who reads a turn's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Members and API keys of the organization: everything.
    Organization,
    /// A web chat visitor: see [`MessageView::for_visitor`].
    Visitor,
}

impl Audience {
    fn view(self, message: &botbuilder_core::domain::Message) -> MessageView {
        match self {
            Self::Organization => MessageView::from(message),
            Self::Visitor => MessageView::for_visitor(message),
        }
    }
}

/// A turn as server-sent events: `delta` (`{"text"}`) while the language model writes, `tool`
/// (`{"name","status"}`, with arguments and timing for the organization) as its tools run, then
/// `message` per stored reply, then `done` with the token usage and cost; keep-alive
/// comments every 15 s. A failure before the first event is an ordinary problem response
/// (404 for a deleted bot, ...); a later one ends the stream with an `error` event.
pub(crate) async fn turn_events(mut stream: TurnStream, audience: Audience) -> ApiResult<Response> {
    let first = match stream.next().await {
        Some(Ok(event)) => event,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(ApiError::Internal("the turn ended without a result".into())),
    };
    let events = futures::stream::once(async move { Ok(first) })
        .chain(stream)
        .flat_map(move |item| futures::stream::iter(sse_events(item, audience)));
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn sse_events(
    item: Result<TurnEvent, EngineError>,
    audience: Audience,
) -> Vec<Result<Event, Infallible>> {
    let json = |name: &str, data: serde_json::Value| {
        Event::default().event(name).json_data(data).ok().map(Ok)
    };
    match item {
        Ok(TurnEvent::TextDelta(text)) => json("delta", serde_json::json!({ "text": text }))
            .into_iter()
            .collect(),
        Ok(TurnEvent::Tool(run)) => {
            let data = match audience {
                Audience::Organization => run.to_json(),
                Audience::Visitor => serde_json::json!({ "name": run.name, "status": run.status }),
            };
            json("tool", data).into_iter().collect()
        }
        Ok(TurnEvent::Done(turn)) => {
            let mut events: Vec<_> = turn
                .replies
                .iter()
                .filter_map(|reply| {
                    Event::default()
                        .event("message")
                        .json_data(audience.view(reply))
                        .ok()
                        .map(Ok)
                })
                .collect();
            events.extend(json(
                "done",
                serde_json::json!({
                    "usage": {
                        "prompt_tokens": turn.usage.prompt_tokens,
                        "completion_tokens": turn.usage.completion_tokens,
                    },
                    "cost_micros": turn.cost_micros,
                }),
            ));
            events
        }
        Ok(_) => Vec::new(),
        Err(e) => {
            let status = ApiError::from(e).into_response().status();
            json(
                "error",
                serde_json::json!({
                    "status": status.as_u16(),
                    "title": status.canonical_reason().unwrap_or("Error"),
                }),
            )
            .into_iter()
            .collect()
        }
    }
}

/// `{bot}/messages/{message}` path parameters.
#[derive(Debug, Deserialize)]
pub struct MessagePath {
    /// The bot id.
    pub bot: BotId,
    /// The message id.
    pub message: MessageId,
}

/// Rates one of the bot's messages in the visitor's own conversation (a second rating
/// replaces the first). Messages of other visitors are 404, the visitor's own messages 400.
#[utoipa::path(post, path = "/api/v1/webchat/{bot}/messages/{message}/feedback", tag = "webchat",
    params(("bot" = Uuid, Path, description = "Bot id"), ("message" = Uuid, Path, description = "Message id")),
    request_body = FeedbackRequest,
    responses((status = 201, description = "Stored"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn feedback(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(path): Path<MessagePath>,
    ValidJson(req): ValidJson<FeedbackRequest>,
) -> ApiResult<impl IntoResponse> {
    let message = state.store.get_message(visitor.org, path.message).await?;
    let session = state
        .store
        .get_session(visitor.org, message.session_id)
        .await?;
    let own = session.bot_id == path.bot
        && session.channel == CHANNEL
        && session.external_user == visitor.external_user;
    if !own {
        return Err(ApiError::NotFound);
    }
    if message.direction == MessageDirection::Inbound {
        return Err(ApiError::field(
            "message",
            "only the bot's messages can be rated",
        ));
    }
    let stored = state
        .engine
        .record_feedback(visitor.org, message.id, req.rating, req.comment)
        .await?;
    Ok((StatusCode::CREATED, Json(feedback_body(&stored))))
}

/// The visitor's conversation so far, oldest first.
#[utoipa::path(get, path = "/api/v1/webchat/{bot}/messages", tag = "webchat",
    params(("bot" = Uuid, Path, description = "Bot id")),
    responses((status = 200, body = Vec<MessageView>), (status = 401, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    visitor: Visitor,
) -> ApiResult<Json<Vec<MessageView>>> {
    let Some(session) = state
        .store
        .find_open_session(visitor.org, visitor.bot, CHANNEL, &visitor.external_user)
        .await?
    else {
        return Ok(Json(Vec::new()));
    };
    let page = state
        .store
        .list_messages(
            visitor.org,
            session.id,
            PageRequest::first(PageRequest::MAX_LIMIT),
        )
        .await?;
    Ok(Json(
        page.items.iter().map(MessageView::for_visitor).collect(),
    ))
}
