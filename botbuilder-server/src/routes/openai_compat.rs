//! An OpenAI-compatible API for every bot: `POST /v1/chat/completions` and `GET /v1/models`
//! (platform.openai.com/docs/api-reference/chat), so any OpenAI SDK pointed at
//! `http://host:8080/v1` talks to a bot.
//!
//! - Authentication: an organization API key with `chat:completions` (a user's access token
//!   has no organization to pick bots from).
//! - `model` is a bot's id or its slug (its name lower-cased, runs of other characters turned
//!   into `-`); the bot's system prompt, knowledge bases and flow apply.
//! - `messages` are the conversation so far: the last one must be the user's; earlier ones
//!   are the history the bot answers with (system messages add instructions after the bot's
//!   own). `user` names the end user: each is one stored session (transcripts, handoff);
//!   without it every request is a session of its own.
//! - `stream: true` answers in chunks (`chat.completion.chunk`) ending with `data: [DONE]`,
//!   with a last chunk carrying `usage` when `stream_options.include_usage` is set.
//! - Errors use OpenAI's `{"error":{"message","type","param","code"}}` shape (the problem
//!   middleware converts every error under `/v1/`).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use botbuilder_core::domain::{Bot, Permission};
use botbuilder_core::engine::{EngineError, Inbound, Turn, TurnEvent};
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::llm::{ChatMessage, ChatRole};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Principal};
use crate::state::AppState;

/// The channel turns from this API are stored under.
pub const CHANNEL: &str = "openai";

/// A chat completion request (fields this API does not use, such as `temperature`, are
/// accepted and ignored: the bot's settings apply).
#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    /// A bot id or slug.
    pub model: String,
    /// The conversation, oldest first.
    pub messages: Vec<IncomingMessage>,
    /// Answer in chunks.
    #[serde(default)]
    pub stream: bool,
    /// `include_usage`.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// The end user (one stored session each).
    #[serde(default)]
    pub user: Option<String>,
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with the usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// One message of the conversation.
#[derive(Debug, Deserialize)]
pub struct IncomingMessage {
    /// `system`, `developer`, `user`, `assistant` (`tool` messages are skipped).
    pub role: String,
    /// Text, or a list of parts of which the `text` ones are read.
    #[serde(default)]
    pub content: Value,
}

impl IncomingMessage {
    fn text(&self) -> String {
        match &self.content {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }
}

/// Longest `user`, in characters.
const MAX_USER_CHARS: usize = 200;
/// Longest message text, in bytes.
const MAX_TEXT_BYTES: usize = 16 * 1024;

/// A bot's slug: its name lower-cased, runs of characters other than letters and digits
/// turned into one `-`, trimmed of `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// The organization of an API key allowed to use this API.
fn organization(principal: &Principal) -> ApiResult<OrgId> {
    match principal {
        Principal::ApiKey(key) if key.permissions.contains(Permission::ChatCompletions) => {
            Ok(key.org_id)
        }
        Principal::ApiKey(_) => Err(ApiError::Forbidden(
            "this API key lacks the chat:completions permission".into(),
        )),
        Principal::User(_) => Err(ApiError::Forbidden(
            "use an organization API key with the chat:completions permission".into(),
        )),
    }
}

/// Every bot of `org` (this API's model list).
async fn bots(state: &AppState, org: OrgId) -> ApiResult<Vec<Bot>> {
    let mut all = Vec::new();
    let mut page = botbuilder_core::domain::PageRequest::first(200);
    loop {
        let found = state.store.list_bots(org, page).await?;
        all.extend(found.items);
        match found.next_cursor {
            Some(cursor) if all.len() < 10_000 => page.cursor = Some(cursor),
            _ => return Ok(all),
        }
    }
}

/// The bot `model` names in `org`.
async fn bot_for(state: &AppState, org: OrgId, model: &str) -> ApiResult<Bot> {
    let not_found = || {
        ApiError::Missing(format!(
            "the model `{model}` does not exist: use a bot's id or slug (GET /v1/models)"
        ))
    };
    if let Ok(id) = model.parse::<BotId>() {
        return state.store.get_bot(org, id).await.map_err(|e| match e {
            botbuilder_core::store::StoreError::NotFound => not_found(),
            other => other.into(),
        });
    }
    let mut matching: Vec<Bot> = bots(state, org)
        .await?
        .into_iter()
        .filter(|b| slug(&b.name) == model)
        .collect();
    match matching.len() {
        0 => Err(not_found()),
        1 => Ok(matching.remove(0)),
        _ => Err(ApiError::field(
            "model",
            format!("several bots are called `{model}`; use the bot's id"),
        )),
    }
}

/// The inbound message and the history before it.
fn conversation(req: &ChatCompletionRequest) -> ApiResult<(String, Vec<ChatMessage>)> {
    let Some((last, earlier)) = req.messages.split_last() else {
        return Err(ApiError::field("messages", "must not be empty"));
    };
    if last.role != "user" {
        return Err(ApiError::field(
            "messages",
            "the last message must be the user's",
        ));
    }
    let text = last.text();
    if text.trim().is_empty() {
        return Err(ApiError::field("messages", "the last message has no text"));
    }
    let mut history = Vec::with_capacity(earlier.len());
    for m in earlier {
        let role = match m.role.as_str() {
            "system" | "developer" => ChatRole::System,
            "user" => ChatRole::User,
            "assistant" => ChatRole::Assistant,
            _ => continue,
        };
        history.push(ChatMessage::new(role, m.text()));
    }
    let total: usize = text.len() + history.iter().map(|m| m.content.len()).sum::<usize>();
    if total > MAX_TEXT_BYTES * 16 {
        return Err(ApiError::PayloadTooLarge);
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok((text, history))
}

/// The answer's text: every reply of the turn with text, in order.
fn content(turn: &Turn) -> String {
    turn.replies
        .iter()
        .map(|r| r.text.as_str())
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn usage_json(turn: &Turn) -> Value {
    json!({
        "prompt_tokens": turn.usage.prompt_tokens,
        "completion_tokens": turn.usage.completion_tokens,
        "total_tokens": turn.usage.prompt_tokens + turn.usage.completion_tokens,
    })
}

/// Answers a chat completion with a bot (see the module docs).
pub async fn chat_completions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let org = organization(&principal)?;
    let req: ChatCompletionRequest = crate::extract::parse_json(&body)?;
    if req
        .user
        .as_ref()
        .is_some_and(|u| u.trim().is_empty() || u.chars().count() > MAX_USER_CHARS)
    {
        return Err(ApiError::field(
            "user",
            format!("must have 1 to {MAX_USER_CHARS} characters"),
        ));
    }
    let bot = bot_for(&state, org, &req.model).await?;
    let (text, history) = conversation(&req)?;
    let external_user = req
        .user
        .clone()
        .unwrap_or_else(|| format!("request-{}", uuid::Uuid::now_v7().simple()));
    let inbound = Inbound {
        org,
        bot: bot.id,
        channel: CHANNEL.to_owned(),
        external_user,
        text,
    };
    let model = req.model.clone();
    let created = state.clock.now().timestamp();
    if req.stream {
        let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
        let events = state.engine.handle_stream_with_history(inbound, history);
        return Ok(stream(events, model, created, include_usage).into_response());
    }
    let turn = super::conversations::run_turn(&state.engine, inbound, Some(history))
        .await
        .map_err(ApiError::from)?;
    let id = turn
        .replies
        .last()
        .map_or(turn.inbound.id, |m| m.id)
        .as_uuid()
        .simple();
    Ok(Json(json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content(&turn) },
            "finish_reason": "stop",
        }],
        "usage": usage_json(&turn),
    }))
    .into_response())
}

/// The turn as OpenAI chunks.
fn stream(
    events: botbuilder_core::engine::TurnStream,
    model: String,
    created: i64,
    include_usage: bool,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let chunk = move |choices: Value, usage: Value| {
        let mut data = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices,
        });
        if !usage.is_null() {
            data["usage"] = usage;
        }
        Event::default().data(data.to_string())
    };
    let opening = chunk(
        json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }]),
        Value::Null,
    );
    let text_chunk = {
        let chunk = chunk.clone();
        move |text: String| {
            chunk(
                json!([{ "index": 0, "delta": { "content": text }, "finish_reason": null }]),
                Value::Null,
            )
        }
    };
    // The content is the turn's replies with text in order, two line breaks apart (as
    // `content` joins them): the model's text as it is written, the others whole when they
    // complete. `shown` counts the replies with text sent so far.
    let mut shown = 0usize;
    let mut in_reply = false;
    let body = events.flat_map(move |item| {
        let out: Vec<Event> = match item {
            Ok(TurnEvent::TextDelta(text)) => {
                if text.is_empty() {
                    Vec::new()
                } else {
                    let text = if !in_reply && shown > 0 {
                        format!("\n\n{text}")
                    } else {
                        text
                    };
                    in_reply = true;
                    vec![text_chunk(text)]
                }
            }
            Ok(TurnEvent::Reply { text, streamed }) => {
                let was_streaming = std::mem::replace(&mut in_reply, false);
                if streamed || text.is_empty() {
                    shown += usize::from(was_streaming);
                    Vec::new()
                } else if was_streaming {
                    // The model's text gave way to another (an apology after a cut): it
                    // ends that reply's text.
                    shown += 1;
                    vec![text_chunk(text)]
                } else {
                    let separated = if shown > 0 {
                        format!("\n\n{text}")
                    } else {
                        text
                    };
                    shown += 1;
                    vec![text_chunk(separated)]
                }
            }
            Ok(TurnEvent::Done(turn)) => {
                let mut out = Vec::new();
                out.push(chunk(
                    json!([{ "index": 0, "delta": {}, "finish_reason": "stop" }]),
                    Value::Null,
                ));
                if include_usage {
                    out.push(chunk(json!([]), usage_json(&turn)));
                }
                out
            }
            Ok(_) => Vec::new(),
            Err(e) => vec![stream_error(e)],
        };
        futures::stream::iter(out.into_iter().map(Ok))
    });
    let all = futures::stream::once(async move { Ok(opening) })
        .chain(body)
        .chain(futures::stream::once(async {
            Ok(Event::default().data("[DONE]"))
        }));
    Sse::new(all).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// A failure after the stream started, as OpenAI streams report one.
fn stream_error(e: EngineError) -> Event {
    let error = ApiError::from(e);
    let (status, code) = error.parts();
    Event::default().data(
        json!({ "error": {
            "message": status.canonical_reason().unwrap_or("error"),
            "type": if status.is_server_error() { "server_error" } else { "invalid_request_error" },
            "param": null,
            "code": code,
        } })
        .to_string(),
    )
}

/// The bots an API key may talk to, as models.
pub async fn list_models(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Value>> {
    let org = organization(&principal)?;
    let data: Vec<Value> = bots(&state, org)
        .await?
        .iter()
        .map(|bot| {
            json!({
                "id": bot.id.to_string(),
                "object": "model",
                "created": bot.created_at.timestamp(),
                "owned_by": "botbuilder",
                "name": bot.name,
                "slug": slug(&bot.name),
            })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_lower_case_words_joined_by_dashes() {
        assert_eq!(slug("Support Bot (EU)"), "support-bot-eu");
        assert_eq!(slug("  Ünïcode — FAQ!! "), "ünïcode-faq");
        assert_eq!(slug("---"), "");
    }
}
