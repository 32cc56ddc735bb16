//! Telegram Bot API: webhook verification and parsing ([`TelegramInbound`]), and the API
//! client that sends replies and manages the webhook ([`TelegramApi`]).
//!
//! Protocol (<https://core.telegram.org/bots/api>):
//! - `setWebhook` registers our URL with a `secret_token`, which Telegram repeats in the
//!   `X-Telegram-Bot-Api-Secret-Token` header of every update: there is no HMAC, so the
//!   header is compared in constant time;
//! - an update is `{"update_id", "message" | "callback_query" | …}`; `update_id` identifies it
//!   for deduplication;
//! - inline keyboard buttons carry `callback_data` of 1–64 bytes: a longer payload (or one
//!   starting with `#`) is sent as `#<index>` and resolved from the stored message it was on
//!   ([`botbuilder_core::channel::button_reference`]); every press is answered with `answerCallbackQuery`, or the
//!   user's client keeps spinning;
//! - errors are `{"ok":false,"error_code","description","parameters":{"retry_after"}}`.

mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::channel::RateLimits;
use botbuilder_core::channel::{
    Capabilities, ChannelError, ChannelKind, ChannelSender, Choices, DeliveryReceipt,
    InboundAdapter, InboundEvent, InboundKind, InboundRequest, ParseError, Parsed, Part, Recipient,
    Style, VerifyError, button_reference,
};
use botbuilder_core::fetch::{FetchRequest, Fetcher};
use botbuilder_core::rate_limit::Quota;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::verify::same;
use wire::{ApiResponse, Update};

/// Where the Bot API lives unless a channel names a self-hosted server.
pub const DEFAULT_API_BASE_URL: &str = "https://api.telegram.org";
/// The header carrying the webhook's secret token.
pub const SECRET_TOKEN_HEADER: &str = "x-telegram-bot-api-secret-token";
/// The longest `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA_BYTES: usize = 64;
/// How long one API call may take (a long poll adds its own wait).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest caption of a photo, in characters.
const MAX_CAPTION_CHARS: usize = 1024;

/// What Telegram shows: 4,096 UTF-16 units of text, an inline keyboard (10 buttons here, one
/// per row), reply keyboards for quick replies, photos and the typing action.
pub const CAPABILITIES: Capabilities = Capabilities::text_only()
    .with_text_len(4096)
    .with_buttons(10, 0)
    .with_media(true, true, true);

/// A new webhook secret token: 48 characters of `A-Z a-z 0-9 _ -` (the alphabet
/// `setWebhook` allows), 288 bits from the system's random generator.
pub fn new_secret_token() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut bytes = [0u8; 48];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator failed");
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
        .collect()
}

/// The inbound half of one Telegram channel.
#[derive(Clone)]
pub struct TelegramInbound {
    secret_token: String,
}

impl std::fmt::Debug for TelegramInbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramInbound").finish_non_exhaustive()
    }
}

impl TelegramInbound {
    /// Accepts updates carrying `secret_token` (the one given to `setWebhook`).
    pub fn new(secret_token: impl Into<String>) -> Self {
        Self {
            secret_token: secret_token.into(),
        }
    }
}

impl InboundAdapter for TelegramInbound {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn verify(&self, request: &InboundRequest, _now: DateTime<Utc>) -> Result<(), VerifyError> {
        if request.method != "POST" {
            return Err(VerifyError::Method);
        }
        let given = request
            .header(SECRET_TOKEN_HEADER)
            .ok_or(VerifyError::Missing("X-Telegram-Bot-Api-Secret-Token"))?;
        if self.secret_token.is_empty() || !same(given.as_bytes(), self.secret_token.as_bytes()) {
            return Err(VerifyError::Mismatch("X-Telegram-Bot-Api-Secret-Token"));
        }
        Ok(())
    }

    fn parse(&self, request: &InboundRequest) -> Result<Parsed, ParseError> {
        let update: Update = serde_json::from_slice(&request.body)
            .map_err(|e| ParseError::new(ChannelKind::Telegram, e.to_string()))?;
        Ok(Parsed::Events(event_of(update).into_iter().collect()))
    }
}

/// The normalized event of one update; `None` for kinds a bot does not handle (edits,
/// channel posts, other bots' messages, …).
fn event_of(update: Update) -> Option<InboundEvent> {
    let event_id = update.update_id.to_string();
    if let Some(query) = update.callback_query {
        let chat = query
            .message
            .as_ref()
            .map_or(query.from.id, |m| m.chat.id)
            .to_string();
        return Some(InboundEvent {
            event_id,
            external_user: chat.clone(),
            user_name: Some(display_name(&query.from)),
            reply_to: Recipient::new(chat),
            kind: InboundKind::ButtonPress {
                payload: query.data.unwrap_or_default(),
                title: None,
                ack: Some(query.id),
                message_id: query.message.map(|m| m.message_id.to_string()),
            },
        });
    }
    let message = update.message?;
    if message.from.as_ref().is_some_and(|u| u.is_bot) {
        return None;
    }
    let chat = message.chat.id.to_string();
    let kind = if let Some(text) = message.text {
        InboundKind::Text { text }
    } else {
        let (media, reference) = attachment_of(&message)?;
        InboundKind::Attachment {
            media: media.to_owned(),
            reference,
            caption: message.caption,
        }
    };
    Some(InboundEvent {
        event_id,
        external_user: chat.clone(),
        user_name: message.from.as_ref().map(display_name),
        reply_to: Recipient::new(chat),
        kind,
    })
}

fn attachment_of(message: &wire::Message) -> Option<(&'static str, String)> {
    // The largest photo size comes last.
    if let Some(photo) = message.photo.last() {
        return Some(("photo", photo.file_id.clone()));
    }
    let files = [
        ("document", &message.document),
        ("audio", &message.audio),
        ("video", &message.video),
        ("voice", &message.voice),
        ("sticker", &message.sticker),
    ];
    for (media, file) in files {
        if let Some(file) = file {
            return Some((media, file.file_id.clone()));
        }
    }
    message
        .location
        .as_ref()
        .map(|l| ("location", format!("{},{}", l.latitude, l.longitude)))
}

fn display_name(user: &wire::User) -> String {
    match &user.last_name {
        Some(last) => format!("{} {last}", user.first_name),
        None => user.first_name.clone(),
    }
}

/// Parses one update as `getUpdates` returns it: its id (to move the offset past it, even
/// when it is a kind the bot ignores) and its event.
pub fn parse_update(update: &Value) -> Result<(i64, Option<InboundEvent>), ParseError> {
    let update: Update = serde_json::from_value(update.clone())
        .map_err(|e| ParseError::new(ChannelKind::Telegram, e.to_string()))?;
    Ok((update.update_id, event_of(update)))
}

/// The Bot API client of one bot token.
#[derive(Clone)]
pub struct TelegramApi {
    base_url: String,
    token: String,
    fetcher: Arc<dyn Fetcher>,
}

impl std::fmt::Debug for TelegramApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramApi")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl TelegramApi {
    /// A client for `token` at `api_base_url` (default [`DEFAULT_API_BASE_URL`]), sending
    /// through `fetcher` (the outbound guard).
    pub fn new(
        token: impl Into<String>,
        api_base_url: Option<&str>,
        fetcher: Arc<dyn Fetcher>,
    ) -> Self {
        Self {
            base_url: crate::outbound::api_root(api_base_url, DEFAULT_API_BASE_URL),
            token: token.into(),
            fetcher,
        }
    }

    /// The bot's username (`getMe`): checks the token.
    pub async fn get_me(&self) -> Result<String, ChannelError> {
        let me = self.call("getMe", json!({}), CALL_TIMEOUT).await?;
        Ok(me["username"].as_str().unwrap_or_default().to_owned())
    }

    /// Points the bot's updates at `url`, to be sent with `secret_token`.
    pub async fn set_webhook(&self, url: &str, secret_token: &str) -> Result<(), ChannelError> {
        let body = json!({
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": ["message", "callback_query"],
        });
        self.call("setWebhook", body, CALL_TIMEOUT).await.map(drop)
    }

    /// Stops webhook delivery (long polling works again).
    pub async fn delete_webhook(&self) -> Result<(), ChannelError> {
        self.call("deleteWebhook", json!({}), CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Long-polls for updates after `offset` (the last seen `update_id` + 1), waiting up to
    /// `wait` for one; returns them raw, for [`parse_update`].
    pub async fn get_updates(
        &self,
        offset: i64,
        wait: Duration,
    ) -> Result<Vec<Value>, ChannelError> {
        let body = json!({
            "offset": offset,
            "timeout": wait.as_secs(),
            "allowed_updates": ["message", "callback_query"],
        });
        let result = self.call("getUpdates", body, CALL_TIMEOUT + wait).await?;
        Ok(match result {
            Value::Array(updates) => updates,
            _ => Vec::new(),
        })
    }

    /// Stops the spinner on a pressed button (`answerCallbackQuery`).
    pub async fn answer_callback_query(&self, id: &str) -> Result<(), ChannelError> {
        self.call(
            "answerCallbackQuery",
            json!({ "callback_query_id": id }),
            CALL_TIMEOUT,
        )
        .await
        .map(drop)
    }

    /// Calls `method` with a JSON body and returns its `result`.
    async fn call(
        &self,
        method: &str,
        body: Value,
        timeout: Duration,
    ) -> Result<Value, ChannelError> {
        let request = FetchRequest {
            method: "POST".to_owned(),
            url: format!("{}/bot{}/{method}", self.base_url, self.token),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: Some(body.to_string()),
            timeout,
            max_body_bytes: Some(16 << 20),
            follow_redirects: true,
            truncate_body: false,
        };
        let response = self
            .fetcher
            .fetch(request)
            .await
            .map_err(|e| crate::outbound::fetch_error(e, Some(&self.token)))?;
        let answer: Option<ApiResponse> = serde_json::from_slice(&response.body).ok();
        match answer {
            Some(answer) if answer.ok && (200..300).contains(&response.status) => Ok(answer.result),
            answer => Err(api_error(response.status, answer, response.retry_after)),
        }
    }

    async fn send_text(
        &self,
        to: &Recipient,
        text: &str,
        choices: Option<&Choices>,
    ) -> Result<Value, ChannelError> {
        let mut body = json!({ "chat_id": to.conversation, "text": text });
        if text.is_empty() {
            body["text"] = json!("…"); // Telegram refuses an empty message
        }
        if let Some(choices) = choices {
            body["reply_markup"] = match choices.style {
                Style::QuickReplies => json!({
                    "keyboard": choices.options.iter()
                        .map(|o| vec![json!({ "text": o.title })]).collect::<Vec<_>>(),
                    "one_time_keyboard": true,
                    "resize_keyboard": true,
                }),
                Style::Buttons | Style::List => json!({
                    "inline_keyboard": choices.options.iter().enumerate()
                        .map(|(i, o)| vec![json!({
                            "text": o.title,
                            "callback_data": button_reference(i, &o.payload, MAX_CALLBACK_DATA_BYTES),
                        })])
                        .collect::<Vec<_>>(),
                }),
            };
        }
        self.call("sendMessage", body, CALL_TIMEOUT).await
    }
}

fn api_error(
    status: u16,
    answer: Option<ApiResponse>,
    retry_after: Option<Duration>,
) -> ChannelError {
    let code = answer
        .as_ref()
        .and_then(|a| a.error_code)
        .map_or(i64::from(status), |c| c);
    let description = answer
        .as_ref()
        .and_then(|a| a.description.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let retry_after = answer
        .as_ref()
        .and_then(|a| a.parameters.as_ref())
        .and_then(|p| p.retry_after)
        .map(Duration::from_secs)
        .or(retry_after);
    match code {
        429 => ChannelError::RateLimited { retry_after },
        401 | 404 => ChannelError::Unauthorized(description),
        500..=599 => ChannelError::Transient(description.into()),
        _ if answer.is_none() => ChannelError::Transient(description.into()),
        _ => ChannelError::Permanent(description),
    }
}

#[async_trait]
impl ChannelSender for TelegramApi {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn acknowledge(&self, ack: &str) -> Result<(), ChannelError> {
        self.answer_callback_query(ack).await
    }

    /// About one message a second per chat (short bursts of three) and 30 a second in all
    /// (Bot FAQ, "My bot is hitting limits").
    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_conversation: Some(Quota {
                burst: 3,
                period: Duration::from_secs(3),
            }),
            overall: Some(Quota::per_second(30)),
        }
    }

    async fn send(&self, to: &Recipient, part: &Part) -> Result<DeliveryReceipt, ChannelError> {
        let result = match part {
            Part::Typing => {
                let body = json!({ "chat_id": to.conversation, "action": "typing" });
                self.call("sendChatAction", body, CALL_TIMEOUT).await?
            }
            Part::Image(image) => {
                let caption: String = image.alt.chars().take(MAX_CAPTION_CHARS).collect();
                let body =
                    json!({ "chat_id": to.conversation, "photo": image.url, "caption": caption });
                self.call("sendPhoto", body, CALL_TIMEOUT).await?
            }
            Part::Text { text, choices } => self.send_text(to, text, choices.as_ref()).await?,
        };
        Ok(DeliveryReceipt {
            external_id: result["message_id"].as_i64().map(|id| id.to_string()),
        })
    }
}

#[cfg(test)]
mod tests;
