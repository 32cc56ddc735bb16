//! Slack Events API and interactivity: request verification and parsing ([`SlackInbound`])
//! and the sender ([`SlackApi`]).
//!
//! Protocol (<https://api.slack.com/authentication/verifying-requests-from-slack>,
//! <https://api.slack.com/apis/events-api>):
//! - every request carries `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex>`, an
//!   HMAC-SHA256 of `v0:{timestamp}:{raw body}` under the signing secret; a timestamp more
//!   than [`REPLAY_WINDOW_SECS`] from now is refused (replay);
//! - `url_verification` is answered with its challenge; `event_callback` envelopes carry one
//!   event; in channels the bot answers `app_mention`s, in direct messages every `message`;
//!   a message is identified by its channel and `ts` (Slack retries with `X-Slack-Retry-Num`
//!   when it got no 2xx within 3 s, and also sends a `message` event for each mention);
//!   messages from bots (`bot_id`, or any `subtype`) are ignored, so the bot never answers
//!   itself;
//! - button clicks arrive at the interactivity URL form-encoded (`payload=<JSON>`, type
//!   `block_actions`), signed the same way;
//! - a session is a thread (a mention in a channel starts one under itself) or a direct
//!   message channel; replies are `chat.postMessage` in it, with Block Kit buttons; text is escaped (`&`, `<`,
//!   `>`) so a reply can never mention `@channel` or forge a link.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::channel::RateLimits;
use botbuilder_core::channel::{
    Capabilities, ChannelError, ChannelKind, ChannelSender, Choices, DeliveryReceipt,
    InboundAdapter, InboundEvent, InboundKind, InboundRequest, ParseError, Parsed, Part, Recipient,
    VerifyError, button_reference,
};
use botbuilder_core::fetch::{FetchRequest, Fetcher};
use botbuilder_core::rate_limit::Quota;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::verify::{hex, hmac_sha256, same};

/// The Web API unless a channel names another server.
pub const DEFAULT_API_BASE_URL: &str = "https://slack.com/api";
/// How far a request's timestamp may be from now, in seconds.
pub const REPLAY_WINDOW_SECS: i64 = 300;
/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// The longest button value, in bytes.
const MAX_BUTTON_VALUE_BYTES: usize = 2000;
/// How long one API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What Slack shows: 3,000 UTF-16 units per section block, 25 buttons of 75 characters,
/// image blocks; no quick replies or typing indicator for bots.
pub const CAPABILITIES: Capabilities = Capabilities::text_only()
    .with_text_len(3000)
    .with_buttons(25, 75)
    .with_media(false, true, false);

/// The inbound half of one Slack app.
#[derive(Clone)]
pub struct SlackInbound {
    signing_secret: String,
}

impl std::fmt::Debug for SlackInbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackInbound").finish_non_exhaustive()
    }
}

impl SlackInbound {
    /// Accepts requests signed with `signing_secret`.
    pub fn new(signing_secret: impl Into<String>) -> Self {
        Self {
            signing_secret: signing_secret.into(),
        }
    }

    /// The `X-Slack-Signature` of `body` sent at `timestamp` (Unix seconds).
    pub fn signature(&self, timestamp: &str, body: &[u8]) -> String {
        let mac = hmac_sha256(
            self.signing_secret.as_bytes(),
            &[b"v0:", timestamp.as_bytes(), b":", body],
        );
        format!("v0={}", hex(&mac))
    }
}

impl InboundAdapter for SlackInbound {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Slack
    }

    fn verify(&self, request: &InboundRequest, now: DateTime<Utc>) -> Result<(), VerifyError> {
        if request.method != "POST" {
            return Err(VerifyError::Method);
        }
        let timestamp = request
            .header(TIMESTAMP_HEADER)
            .ok_or(VerifyError::Missing("X-Slack-Request-Timestamp"))?;
        let given = request
            .header(SIGNATURE_HEADER)
            .ok_or(VerifyError::Missing("X-Slack-Signature"))?;
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::Mismatch("X-Slack-Request-Timestamp"))?;
        let age = now.timestamp().saturating_sub(sent);
        if age.abs() > REPLAY_WINDOW_SECS {
            return Err(VerifyError::Stale {
                age_secs: age,
                max_secs: REPLAY_WINDOW_SECS,
            });
        }
        let expected = self.signature(timestamp.trim(), &request.body);
        if self.signing_secret.is_empty() || !same(given.trim().as_bytes(), expected.as_bytes()) {
            return Err(VerifyError::Mismatch("X-Slack-Signature"));
        }
        Ok(())
    }

    fn parse(&self, request: &InboundRequest) -> Result<Parsed, ParseError> {
        let error = |message: String| ParseError::new(ChannelKind::Slack, message);
        let form = request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        if form {
            let payload = url_form_value(&request.body, "payload")
                .ok_or_else(|| error("missing form field `payload`".to_owned()))?;
            let payload: Value =
                serde_json::from_str(&payload).map_err(|e| error(format!("payload: {e}")))?;
            return interaction(&payload).map(Parsed::Events).map_err(error);
        }
        let body: Value =
            serde_json::from_slice(&request.body).map_err(|e| error(e.to_string()))?;
        match body["type"].as_str() {
            Some("url_verification") => body["challenge"]
                .as_str()
                .map(|c| Parsed::Challenge(c.to_owned()))
                .ok_or_else(|| error("challenge: expected a string".to_owned())),
            Some("event_callback") => event_callback(&body).map(Parsed::Events).map_err(error),
            Some(_) => Ok(Parsed::Events(Vec::new())),
            None => Err(error("type: expected a string".to_owned())),
        }
    }
}

fn url_form_value(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

fn text_of<'a>(value: &'a Value, field: &str) -> Result<&'a str, String> {
    value[field]
        .as_str()
        .ok_or_else(|| format!("{field}: expected a string"))
}

fn event_callback(body: &Value) -> Result<Vec<InboundEvent>, String> {
    text_of(body, "event_id")?;
    let event = &body["event"];
    let kind = event["type"].as_str().unwrap_or_default();
    let from_bot = event.get("bot_id").is_some_and(|b| !b.is_null())
        || event.get("subtype").is_some_and(|s| !s.is_null());
    let direct = event["channel_type"].as_str() == Some("im");
    // In channels the bot answers when mentioned (`app_mention`); the `message` event Slack
    // also sends for that mention, and every other channel message, are not for it.
    let for_the_bot = kind == "app_mention" || (kind == "message" && direct);
    if !for_the_bot || from_bot {
        return Ok(Vec::new());
    }
    // A person wrote it (bots were dropped above); the session is the thread, not the user.
    text_of(event, "user").map_err(|e| format!("event.{e}"))?;
    let channel = text_of(event, "channel").map_err(|e| format!("event.{e}"))?;
    let ts = text_of(event, "ts").map_err(|e| format!("event.{e}"))?;
    // The thread it came from; a mention in a channel starts one under itself.
    let thread = match event["thread_ts"].as_str() {
        Some(thread) => Some(thread.to_owned()),
        None if direct => None,
        None => Some(ts.to_owned()),
    };
    Ok(vec![InboundEvent {
        // A message's channel and timestamp identify it whichever event carried it, and
        // Slack's retries repeat them.
        event_id: format!("{channel}:{ts}"),
        external_user: session_of(channel, thread.as_deref()),
        user_name: None,
        reply_to: Recipient {
            conversation: channel.to_owned(),
            thread,
        },
        kind: InboundKind::Text {
            text: without_leading_mentions(event["text"].as_str().unwrap_or_default()),
        },
    }])
}

/// `<@U0LAN0Z89> is it everything?` → `is it everything?`: the mention that addressed the
/// bot is not part of what was said.
fn without_leading_mentions(text: &str) -> String {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("<@")
        && let Some(end) = after.find('>')
    {
        rest = after[end + 1..].trim_start();
    }
    rest.to_owned()
}

/// One session per thread (`channel/thread_ts`), or per direct-message channel.
fn session_of(channel: &str, thread: Option<&str>) -> String {
    match thread {
        Some(thread) => format!("{channel}/{thread}"),
        None => channel.to_owned(),
    }
}

fn interaction(payload: &Value) -> Result<Vec<InboundEvent>, String> {
    if payload["type"].as_str() != Some("block_actions") {
        return Ok(Vec::new());
    }
    let user = text_of(&payload["user"], "id").map_err(|e| format!("user.{e}"))?;
    let channel = text_of(&payload["channel"], "id").map_err(|e| format!("channel.{e}"))?;
    let action = &payload["actions"][0];
    let value = text_of(action, "value").map_err(|e| format!("actions[0].{e}"))?;
    let message = &payload["message"];
    let thread = message["thread_ts"].as_str().map(str::to_owned);
    // No event id for clicks: the action's own timestamp with the user is unique per click.
    let clicked_at = action["action_ts"].as_str().unwrap_or_default();
    Ok(vec![InboundEvent {
        event_id: format!("action:{user}:{clicked_at}"),
        external_user: session_of(channel, thread.as_deref()),
        user_name: payload["user"]["name"].as_str().map(str::to_owned),
        reply_to: Recipient {
            conversation: channel.to_owned(),
            thread,
        },
        kind: InboundKind::ButtonPress {
            payload: value.to_owned(),
            title: action["text"]["text"].as_str().map(str::to_owned),
            ack: None,
            message_id: message["ts"].as_str().map(str::to_owned),
        },
    }])
}

/// Escapes the three characters Slack's `mrkdwn` gives meaning (`&`, `<`, `>`), so text
/// cannot mention `@channel`, a user or a link it does not show.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Web API client of one bot token (`xoxb-…`).
#[derive(Clone)]
pub struct SlackApi {
    base_url: String,
    bot_token: String,
    fetcher: Arc<dyn Fetcher>,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SlackApi {
    /// A client for `bot_token` at `api_base_url` (default [`DEFAULT_API_BASE_URL`]),
    /// through `fetcher` (the outbound guard).
    pub fn new(
        bot_token: impl Into<String>,
        api_base_url: Option<&str>,
        fetcher: Arc<dyn Fetcher>,
    ) -> Self {
        Self {
            base_url: crate::outbound::api_root(api_base_url, DEFAULT_API_BASE_URL),
            bot_token: bot_token.into(),
            fetcher,
        }
    }

    /// Checks the token (`auth.test`); returns the bot's user id.
    pub async fn auth_test(&self) -> Result<String, ChannelError> {
        let answer = self.call("auth.test", json!({})).await?;
        Ok(answer["user_id"].as_str().unwrap_or_default().to_owned())
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, ChannelError> {
        let request = FetchRequest {
            method: "POST".to_owned(),
            url: format!("{}/{method}", self.base_url),
            headers: vec![
                (
                    "authorization".to_owned(),
                    format!("Bearer {}", self.bot_token),
                ),
                (
                    "content-type".to_owned(),
                    "application/json; charset=utf-8".to_owned(),
                ),
            ],
            body: Some(body.to_string()),
            timeout: CALL_TIMEOUT,
            max_body_bytes: Some(1 << 20),
            follow_redirects: true,
            truncate_body: false,
        };
        let response = self
            .fetcher
            .fetch(request)
            .await
            .map_err(|e| crate::outbound::fetch_error(e, None))?;
        if response.status == 429 {
            return Err(ChannelError::RateLimited {
                retry_after: response.retry_after,
            });
        }
        if response.status >= 500 {
            return Err(ChannelError::Transient(
                format!("HTTP {}", response.status).into(),
            ));
        }
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if answer["ok"].as_bool() == Some(true) {
            return Ok(answer);
        }
        // HTTP 200 can still be a failure: `{"ok":false,"error":"…"}`.
        let error = answer["error"]
            .as_str()
            .map_or_else(|| format!("HTTP {}", response.status), str::to_owned);
        Err(match error.as_str() {
            "ratelimited" => ChannelError::RateLimited {
                retry_after: response.retry_after,
            },
            "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
            | "token_expired" | "missing_scope" => ChannelError::Unauthorized(error),
            "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => {
                ChannelError::Transient(error.into())
            }
            _ => ChannelError::Permanent(error),
        })
    }
}

/// Longest text of a section block, in characters, counted after escaping.
const MAX_SECTION_CHARS: usize = 3000;

/// `escaped` in pieces of at most `max` characters, never cutting an entity (`&amp;`).
fn sections(escaped: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = escaped;
    while rest.chars().count() > max {
        let mut cut = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        if let Some(amp) = rest[..cut].rfind('&')
            && !rest[amp..cut].contains(';')
            && cut - amp < 5
        {
            cut = amp;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

fn blocks(text: &str, choices: Option<&Choices>) -> Vec<Value> {
    let mut blocks = Vec::new();
    // The formatter cut the text to 3,000 characters; escaping may lengthen it.
    for piece in sections(&escape(text), MAX_SECTION_CHARS) {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": piece } }));
    }
    if let Some(choices) = choices {
        let buttons: Vec<Value> = choices
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                json!({
                    "type": "button",
                    "text": { "type": "plain_text", "text": o.title, "emoji": true },
                    "action_id": format!("choice_{i}"),
                    "value": button_reference(i, &o.payload, MAX_BUTTON_VALUE_BYTES),
                })
            })
            .collect();
        blocks.push(json!({ "type": "actions", "elements": buttons }));
    }
    blocks
}

#[async_trait]
impl ChannelSender for SlackApi {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Slack
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// About one message a second per channel, short bursts allowed
    /// (api.slack.com/docs/rate-limits, `chat.postMessage`).
    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_conversation: Some(Quota {
                burst: 3,
                period: Duration::from_secs(3),
            }),
            overall: None,
        }
    }

    async fn send(&self, to: &Recipient, part: &Part) -> Result<DeliveryReceipt, ChannelError> {
        let mut body = json!({ "channel": to.conversation });
        if let Some(thread) = &to.thread {
            body["thread_ts"] = json!(thread);
        }
        match part {
            Part::Typing => return Ok(DeliveryReceipt::default()),
            Part::Image(image) => {
                body["text"] = json!(escape(&image.alt));
                body["blocks"] = json!([{
                    "type": "image",
                    "image_url": image.url,
                    "alt_text": if image.alt.is_empty() { "image" } else { image.alt.as_str() },
                }]);
            }
            Part::Text { text, choices } => {
                // `text` is the notification fallback; the blocks are what is shown.
                body["text"] = json!(escape(text));
                body["blocks"] = json!(blocks(text, choices.as_ref()));
            }
        }
        let sent = self.call("chat.postMessage", body).await?;
        Ok(DeliveryReceipt {
            external_id: sent["ts"].as_str().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests;
