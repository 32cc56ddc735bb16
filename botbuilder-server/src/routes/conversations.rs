//! Conversations over the API: open a session, send messages through the engine, read
//! transcripts, the handoff inbox (agent replies, release), and feedback on messages.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{Message, Rating, Session, SessionStatus};
use botbuilder_core::engine::{EngineError, Inbound};
use botbuilder_core::id::{BotId, MessageId, SessionId};
use botbuilder_core::nlu::{EntityMatch, IntentScore};
use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::input::{PageQuery, opt_not_blank};
use super::views::PageView;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, Query, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// The channel of conversations opened through this API.
const API_CHANNEL: &str = "api";

/// Largest message text, in bytes; longer texts are refused with 413.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A session as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Id (use it as `session_id`).
    pub session_id: Uuid,
    /// Channel.
    pub channel: String,
    /// The user on the channel.
    pub external_user: String,
    /// `active`, `handoff` or `ended`.
    pub status: String,
    /// The flow version the session runs.
    pub flow_version: Option<u32>,
    /// Session variables.
    #[schema(value_type = Object)]
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Last message time.
    pub last_activity_at: DateTime<Utc>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            session_id: s.id.as_uuid(),
            channel: s.channel.clone(),
            external_user: s.external_user.clone(),
            status: s.status.as_str().to_owned(),
            flow_version: s.flow_version,
            variables: s.state.variables.clone(),
            created_at: s.created_at,
            last_activity_at: s.last_activity_at,
        }
    }
}

/// A stored message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Id (rate it with `POST /orgs/{org}/messages/{id}/feedback`).
    pub id: Uuid,
    /// `inbound` (user), `outbound` (bot) or `agent` (human).
    pub direction: String,
    /// Text.
    pub text: String,
    /// Buttons, entities and other structured content.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Detected intent (inbound).
    pub intent: Option<String>,
    /// Its confidence.
    pub confidence: Option<f32>,
    /// Prompt tokens spent.
    pub prompt_tokens: u32,
    /// Completion tokens spent.
    pub completion_tokens: u32,
    /// What generating it cost, in millionths of a US dollar.
    pub cost_micros: i64,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl MessageView {
    /// The view a web chat visitor gets: without the `llm` record of the payload (which
    /// provider and model answered, why others failed) and with only the name and status of
    /// the tools that ran (not their arguments): the organization's business.
    pub fn for_visitor(message: &Message) -> Self {
        let mut view = Self::from(message);
        if let Some(payload) = view.payload.as_object_mut() {
            payload.remove("llm");
            if let Some(serde_json::Value::Array(tools)) = payload.get_mut("tools") {
                for tool in tools.iter_mut() {
                    *tool = json!({ "name": tool["name"], "status": tool["status"] });
                }
            }
        }
        view
    }
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.as_uuid(),
            direction: m.direction.as_str().to_owned(),
            text: m.text.clone(),
            payload: m.payload.clone(),
            intent: m.intent.clone(),
            confidence: m.confidence,
            prompt_tokens: m.prompt_tokens,
            completion_tokens: m.completion_tokens,
            cost_micros: m.cost_micros,
            created_at: m.created_at,
        }
    }
}

/// Opens a conversation.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenConversation {
    /// Your id for the end user (default: a new random id).
    #[garde(length(chars, min = 1, max = 200), custom(opt_not_blank))]
    pub user: Option<String>,
}

/// A user message.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// What the user says (at most 16 KiB; more is 413).
    #[garde(skip)]
    pub text: String,
}

/// A human agent's reply.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentReply {
    /// The reply.
    #[garde(length(chars, min = 1, max = 4_000), custom(super::input::not_blank))]
    pub text: String,
}

/// Feedback on a bot message.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// `up` or `down`.
    #[garde(skip)]
    #[schema(value_type = String)]
    pub rating: Rating,
    /// Optional comment.
    #[garde(length(chars, max = 2_000))]
    pub comment: Option<String>,
}

/// The bot's answer to one message.
#[derive(Debug, Serialize, ToSchema)]
pub struct TurnView {
    /// The session that handled it (a new one after an idle timeout).
    pub session: SessionView,
    /// The stored user message.
    pub message: MessageView,
    /// The bot's replies, in order (none while a human agent has the conversation).
    pub replies: Vec<MessageView>,
    /// Detected intent, or `none`.
    pub intent: String,
    /// Intent ranking.
    #[schema(value_type = Vec<Object>)]
    pub ranking: Vec<IntentScore>,
    /// Entities found.
    #[schema(value_type = Vec<Object>)]
    pub entities: Vec<EntityMatch>,
}

/// Session filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// `active`, `handoff` or `ended`.
    pub status: Option<String>,
    /// Items per page, 1..=200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// `{bot}` path parameter.
#[derive(Debug, Deserialize)]
pub struct BotPath {
    /// The bot id.
    pub bot: BotId,
}

/// `{bot}` and `{session}` path parameters.
#[derive(Debug, Deserialize)]
pub struct SessionPath {
    /// The bot id.
    pub bot: BotId,
    /// The session id.
    pub session: SessionId,
}

/// `{message}` path parameter.
#[derive(Debug, Deserialize)]
pub struct MessagePath {
    /// The message id.
    pub message: MessageId,
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::BotNotFound | EngineError::SessionNotFound => Self::NotFound,
            EngineError::NotHandedOff => {
                Self::Conflict("the conversation is not handed off".to_owned())
            }
            EngineError::Conflict => {
                Self::Conflict("another message of this session was being handled; retry".into())
            }
            EngineError::Store(e) => e.into(),
            EngineError::Knowledge(e) => (*e).into(),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Runs a turn to its end even if the client goes away (the turn is stored, its model calls
/// accounted), like a streamed turn does.
pub(crate) async fn run_turn(
    engine: &std::sync::Arc<botbuilder_core::engine::Engine>,
    inbound: Inbound,
    history: Option<Vec<botbuilder_core::llm::ChatMessage>>,
) -> Result<botbuilder_core::engine::Turn, EngineError> {
    let engine = engine.clone();
    let task = tokio::spawn(async move {
        match history {
            Some(history) => engine.handle_with_history(inbound, history).await,
            None => engine.handle(inbound).await,
        }
    });
    match task.await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // Cancelled: the runtime is shutting down.
        Err(join) => Err(EngineError::Store(
            botbuilder_core::store::StoreError::Unavailable(Box::new(join)),
        )),
    }
}

/// The session, checked to belong to the bot of the path.
async fn session_of(
    state: &AppState,
    access_org: botbuilder_core::id::OrgId,
    path: &SessionPath,
) -> ApiResult<Session> {
    let session = state.store.get_session(access_org, path.session).await?;
    if session.bot_id != path.bot {
        return Err(ApiError::NotFound);
    }
    Ok(session)
}

/// Opens a conversation with the bot on the `api` channel.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/conversations", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    request_body(content = OpenConversation, description = "Optional"),
    responses((status = 201, body = SessionView), (status = 404, body = Problem)))]
pub async fn open_conversation(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsWrite>,
    Path(path): Path<BotPath>,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let request: OpenConversation = crate::extract::optional_json(&body)?;
    let user = request.user.unwrap_or_else(|| Uuid::now_v7().to_string());
    let session = state
        .engine
        .open_conversation(access.org, path.bot, API_CHANNEL, &user)
        .await?;
    let audit = AuditRecord::new("conversation.open").target("session", session.id);
    Ok((
        StatusCode::CREATED,
        audit,
        Json(SessionView::from(&session)),
    ))
}

/// Sends a user message; the bot's replies come back in the response, as JSON or (with
/// `Accept: text/event-stream`) as server-sent events.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("session" = Uuid, Path, description = "Session id")),
    request_body = SendMessage,
    responses((status = 200, body = TurnView), (status = 404, body = Problem), (status = 413, body = Problem)))]
pub async fn send_message(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsWrite>,
    Path(path): Path<SessionPath>,
    headers: axum::http::HeaderMap,
    ValidJson(req): ValidJson<SendMessage>,
) -> ApiResult<axum::response::Response> {
    if req.text.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if req.text.trim().is_empty() {
        return Err(ApiError::field("text", "must not be blank"));
    }
    let session = session_of(&state, access.org, &path).await?;
    // Writing into a conversation of another channel speaks as its user there: that is not a
    // turn of the caller's own, so it is audited.
    let audit = (session.channel != API_CHANNEL).then(|| {
        AuditRecord::new("conversation.message")
            .target("session", session.id)
            .details(serde_json::json!({ "channel": session.channel }))
    });
    let inbound = Inbound {
        org: access.org,
        bot: path.bot,
        channel: session.channel,
        external_user: session.external_user,
        text: req.text,
    };
    if super::webchat::wants_stream(&headers) {
        let events = super::webchat::turn_events(
            state.engine.handle_stream(inbound),
            super::webchat::Audience::Organization,
        );
        return Ok((audit, events.await?).into_response());
    }
    let turn = run_turn(&state.engine, inbound, None).await?;
    let replies: Vec<MessageView> = turn.replies.iter().map(MessageView::from).collect();
    let view = Json(TurnView {
        session: (&turn.session).into(),
        message: (&turn.inbound).into(),
        replies,
        intent: turn.intent.unwrap_or_else(|| "none".to_owned()),
        ranking: turn.ranking,
        entities: turn.entities,
    });
    Ok((audit, view).into_response())
}

/// The bot's sessions, newest first (`?status=handoff` is the agents' inbox).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/conversations", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"), SessionQuery),
    responses((status = 200, body = PageView<SessionView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsRead>,
    Path(path): Path<BotPath>,
    Query(q): Query<SessionQuery>,
) -> ApiResult<Json<PageView<SessionView>>> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            SessionStatus::parse(s)
                .ok_or_else(|| ApiError::field("status", "expected active, handoff or ended"))
        })
        .transpose()?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page();
    let sessions = state
        .store
        .list_sessions(access.org, path.bot, status, page)
        .await?;
    Ok(Json(PageView::from_page(&sessions)))
}

/// One session: its channel, user, status (`handoff` while a person answers) and variables.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("session" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = Problem)))]
pub async fn get_conversation(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsRead>,
    Path(path): Path<SessionPath>,
) -> ApiResult<Json<SessionView>> {
    let session = session_of(&state, access.org, &path).await?;
    Ok(Json((&session).into()))
}

/// Most messages `?last=` reads at once.
const MAX_LAST: u32 = 500;

/// Which messages of a transcript: a page from the start (`limit`, `cursor`), or its tail.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TranscriptQuery {
    /// Messages per page, 1..=200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, or the id of the newest message seen: the page then
    /// holds the messages after it (how a live view polls for new ones).
    pub cursor: Option<Uuid>,
    /// Instead of paging: the newest `last` messages (1..=500), oldest first, with no next
    /// page (an inbox opens a long conversation at its end this way).
    pub last: Option<u32>,
}

/// A session's transcript, oldest first: paged from its start, or its last messages.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("session" = Uuid, Path, description = "Session id"), TranscriptQuery),
    responses((status = 200, body = PageView<MessageView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list_messages(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsRead>,
    Path(path): Path<SessionPath>,
    Query(q): Query<TranscriptQuery>,
) -> ApiResult<Json<PageView<MessageView>>> {
    session_of(&state, access.org, &path).await?;
    if let Some(last) = q.last {
        if q.cursor.is_some() || q.limit.is_some() {
            return Err(ApiError::field("last", "takes neither cursor nor limit"));
        }
        if !(1..=MAX_LAST).contains(&last) {
            return Err(ApiError::field("last", format!("must be 1..={MAX_LAST}")));
        }
        let recent = state
            .store
            .recent_messages(access.org, path.session, last)
            .await?;
        return Ok(Json(PageView {
            items: recent.iter().map(MessageView::from).collect(),
            next_cursor: None,
        }));
    }
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let messages = state
        .store
        .list_messages(access.org, path.session, page.page())
        .await?;
    Ok(Json(PageView::from_page(&messages)))
}

/// A human agent answers a conversation in handoff.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/reply", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("session" = Uuid, Path, description = "Session id")),
    request_body = AgentReply,
    responses((status = 201, body = MessageView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn handoff_reply(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsWrite>,
    Path(path): Path<SessionPath>,
    ValidJson(req): ValidJson<AgentReply>,
) -> ApiResult<impl IntoResponse> {
    let agent = access.principal.actor().to_key();
    let stored = state
        .engine
        .agent_reply(access.org, path.bot, path.session, req.text, &agent)
        .await?;
    let audit = AuditRecord::new("handoff.reply").target("session", path.session);
    Ok((StatusCode::CREATED, audit, Json(MessageView::from(&stored))))
}

/// Gives the conversation back to the bot: the flow starts over at the next message.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/release", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("session" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn handoff_release(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsWrite>,
    Path(path): Path<SessionPath>,
) -> ApiResult<impl IntoResponse> {
    let saved = state
        .engine
        .release_handoff(access.org, path.bot, path.session)
        .await?;
    let audit = AuditRecord::new("handoff.release").target("session", path.session);
    Ok((audit, Json(SessionView::from(&saved))))
}

/// Rates a message (a second rating replaces the first).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/messages/{message}/feedback", tag = "conversations", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("message" = Uuid, Path, description = "Message id")),
    request_body = FeedbackRequest,
    responses((status = 201, description = "Stored: `{id, message_id, rating, comment, created_at}`", body = serde_json::Value), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn feedback(
    State(state): State<AppState>,
    access: OrgAccess<perm::ConversationsWrite>,
    Path(path): Path<MessagePath>,
    ValidJson(req): ValidJson<FeedbackRequest>,
) -> ApiResult<impl IntoResponse> {
    let stored = state
        .engine
        .record_feedback(access.org, path.message, req.rating, req.comment)
        .await?;
    let audit = AuditRecord::new("feedback.create").target("message", path.message);
    Ok((StatusCode::CREATED, audit, Json(feedback_body(&stored))))
}

/// The JSON answer for stored feedback.
pub(crate) fn feedback_body(stored: &botbuilder_core::domain::Feedback) -> serde_json::Value {
    json!({ "id": stored.id, "message_id": stored.message_id, "rating": stored.rating,
            "comment": stored.comment, "created_at": stored.created_at })
}
