//! WhatsApp Cloud API (Meta Graph): webhook verification and parsing
//! ([`WhatsAppInbound`]) and the sender ([`WhatsAppApi`]).
//!
//! Protocol (<https://developers.facebook.com/docs/whatsapp/cloud-api>):
//! - subscribing, Meta sends `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`;
//!   when the token is ours we answer the challenge as it came;
//! - every `POST` carries `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the **raw
//!   body** under the app secret (Meta signs an escaped-unicode form, so the bytes are never
//!   re-serialized before checking);
//! - messages arrive in `entry[].changes[].value.messages[]` (id `wamid…`, the deduplication
//!   key), delivery receipts in `…value.statuses[]`; events for another phone number id than
//!   the channel's are ignored;
//! - replies go to `POST {base}/{version}/{phone_number_id}/messages` with a bearer token:
//!   text, up to 3 reply buttons (title ≤ 20 chars, id ≤ 256), a list of up to 10 rows (title
//!   ≤ 24), numbered text beyond ([`botbuilder_core::channel::format()`] decides);
//! - free-form messages are allowed only within 24 hours of the user's last message (the
//!   customer-service window, [`SERVICE_WINDOW`]); outside it Meta refuses them (error
//!   131047), and the dispatcher does not send them at all.

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

use crate::verify::{hex, hmac_sha256, same};

/// The Graph API unless a channel names another server.
pub const DEFAULT_API_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version called.
pub const API_VERSION: &str = "v21.0";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// How long after a user's last message free-form replies are allowed.
pub const SERVICE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Meta's error code for a free-form message outside the customer-service window.
pub const OUTSIDE_WINDOW_ERROR: i64 = 131_047;
/// The longest reply button id, in bytes.
const MAX_BUTTON_ID_BYTES: usize = 256;
/// How long one API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The label of the button that opens a list (≤ 20 characters).
const LIST_BUTTON_LABEL: &str = "Options";

/// What WhatsApp shows: text in messages of 1,024 UTF-16 units (the body limit of an
/// interactive message, so text and buttons always travel together), 3 reply buttons of 20
/// characters, a list of 10 rows of 24, images; no quick replies or typing indicator.
pub const CAPABILITIES: Capabilities = Capabilities::text_only()
    .with_text_len(1024)
    .with_buttons(3, 20)
    .with_list(10, 24)
    .with_media(false, true, false);

/// The inbound half of one WhatsApp channel.
#[derive(Clone)]
pub struct WhatsAppInbound {
    app_secret: String,
    verify_token: String,
    phone_number_id: String,
}

impl std::fmt::Debug for WhatsAppInbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppInbound")
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

impl WhatsAppInbound {
    /// Accepts notifications signed with `app_secret` for `phone_number_id`, and the
    /// subscription handshake carrying `verify_token`.
    pub fn new(
        app_secret: impl Into<String>,
        verify_token: impl Into<String>,
        phone_number_id: impl Into<String>,
    ) -> Self {
        Self {
            app_secret: app_secret.into(),
            verify_token: verify_token.into(),
            phone_number_id: phone_number_id.into(),
        }
    }
}

impl WhatsAppInbound {
    /// The `X-Hub-Signature-256` of `body` (`sha256=<hex>`).
    pub fn signature(&self, body: &[u8]) -> String {
        format!(
            "sha256={}",
            hex(&hmac_sha256(self.app_secret.as_bytes(), &[body]))
        )
    }
}

impl InboundAdapter for WhatsAppInbound {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WhatsApp
    }

    fn verify(&self, request: &InboundRequest, _now: DateTime<Utc>) -> Result<(), VerifyError> {
        match request.method.as_str() {
            "GET" => {
                if request.query_param("hub.mode").as_deref() != Some("subscribe") {
                    return Err(VerifyError::Missing("hub.mode=subscribe"));
                }
                let given = request
                    .query_param("hub.verify_token")
                    .ok_or(VerifyError::Missing("hub.verify_token"))?;
                if self.verify_token.is_empty()
                    || !same(given.as_bytes(), self.verify_token.as_bytes())
                {
                    return Err(VerifyError::Mismatch("hub.verify_token"));
                }
                Ok(())
            }
            "POST" => {
                let given = request
                    .header(SIGNATURE_HEADER)
                    .ok_or(VerifyError::Missing("X-Hub-Signature-256"))?;
                let expected = self.signature(&request.body);
                let given = given.trim().to_ascii_lowercase();
                if self.app_secret.is_empty() || !same(given.as_bytes(), expected.as_bytes()) {
                    return Err(VerifyError::Mismatch("X-Hub-Signature-256"));
                }
                Ok(())
            }
            _ => Err(VerifyError::Method),
        }
    }

    fn parse(&self, request: &InboundRequest) -> Result<Parsed, ParseError> {
        if request.method == "GET" {
            let challenge = request
                .query_param("hub.challenge")
                .ok_or_else(|| ParseError::new(ChannelKind::WhatsApp, "missing hub.challenge"))?;
            return Ok(Parsed::Challenge(challenge));
        }
        let notification: wire::Notification = serde_json::from_slice(&request.body)
            .map_err(|e| ParseError::new(ChannelKind::WhatsApp, e.to_string()))?;
        if notification.object != "whatsapp_business_account" {
            return Err(ParseError::new(
                ChannelKind::WhatsApp,
                format!(
                    "object: expected `whatsapp_business_account`, got `{}`",
                    notification.object
                ),
            ));
        }
        let mut events = Vec::new();
        let changes = notification.entry.into_iter().flat_map(|e| e.changes);
        for change in changes.filter(|c| c.field == "messages") {
            let Some(value) = change.value else { continue };
            let ours = value
                .metadata
                .as_ref()
                .is_some_and(|m| m.phone_number_id == self.phone_number_id);
            if ours {
                events_of(value, &mut events);
            }
        }
        Ok(Parsed::Events(events))
    }
}

fn events_of(value: wire::Value, events: &mut Vec<InboundEvent>) {
    let name_of = |wa_id: &str| {
        value
            .contacts
            .iter()
            .find(|c| c.wa_id == wa_id)
            .and_then(|c| c.profile.as_ref())
            .map(|p| p.name.clone())
    };
    for message in &value.messages {
        let Some(kind) = kind_of(message) else {
            continue;
        };
        events.push(InboundEvent {
            event_id: message.id.clone(),
            external_user: message.from.clone(),
            user_name: name_of(&message.from),
            reply_to: Recipient::new(message.from.clone()),
            kind,
        });
    }
    for status in &value.statuses {
        let error = status.errors.first().map(|e| {
            let code = e.code.map_or_else(String::new, |c| format!("{c}: "));
            let text = e
                .message
                .clone()
                .or_else(|| e.title.clone())
                .unwrap_or_default();
            format!("{code}{text}")
        });
        events.push(InboundEvent {
            event_id: format!("{}:{}", status.id, status.status),
            external_user: status.recipient_id.clone(),
            user_name: None,
            reply_to: Recipient::new(status.recipient_id.clone()),
            kind: InboundKind::DeliveryStatus {
                message_id: status.id.clone(),
                status: status.status.clone(),
                error,
            },
        });
    }
}

fn kind_of(message: &wire::Message) -> Option<InboundKind> {
    let press = |payload: &str, title: &str| InboundKind::ButtonPress {
        payload: payload.to_owned(),
        title: Some(title.to_owned()),
        ack: None,
        message_id: message
            .context
            .as_ref()
            .map(|c| c.id.clone())
            .filter(|id| !id.is_empty()),
    };
    match message.kind.as_str() {
        "text" => message.text.as_ref().map(|t| InboundKind::Text {
            text: t.body.clone(),
        }),
        "interactive" => {
            let interactive = message.interactive.as_ref()?;
            let reply = interactive
                .button_reply
                .as_ref()
                .or(interactive.list_reply.as_ref())?;
            Some(press(&reply.id, &reply.title))
        }
        "button" => message.button.as_ref().map(|b| press(&b.payload, &b.text)),
        "location" => message.location.as_ref().map(|l| InboundKind::Attachment {
            media: "location".to_owned(),
            reference: format!("{},{}", l.latitude, l.longitude),
            caption: None,
        }),
        media => {
            let file = match media {
                "image" => message.image.as_ref(),
                "audio" | "voice" => message.audio.as_ref(),
                "video" => message.video.as_ref(),
                "document" => message.document.as_ref(),
                "sticker" => message.sticker.as_ref(),
                _ => None,
            }?;
            Some(InboundKind::Attachment {
                media: media.to_owned(),
                reference: file.id.clone(),
                caption: file.caption.clone(),
            })
        }
    }
}

/// The sender of one WhatsApp phone number.
#[derive(Clone)]
pub struct WhatsAppApi {
    base_url: String,
    phone_number_id: String,
    access_token: String,
    fetcher: Arc<dyn Fetcher>,
}

impl std::fmt::Debug for WhatsAppApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppApi")
            .field("base_url", &self.base_url)
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

impl WhatsAppApi {
    /// A sender for `phone_number_id` with `access_token`, at `api_base_url` (default
    /// [`DEFAULT_API_BASE_URL`]), through `fetcher` (the outbound guard).
    pub fn new(
        phone_number_id: impl Into<String>,
        access_token: impl Into<String>,
        api_base_url: Option<&str>,
        fetcher: Arc<dyn Fetcher>,
    ) -> Self {
        Self {
            base_url: crate::outbound::api_root(api_base_url, DEFAULT_API_BASE_URL),
            phone_number_id: phone_number_id.into(),
            access_token: access_token.into(),
            fetcher,
        }
    }

    /// Checks the token and phone number (`GET /{phone_number_id}`); returns the display
    /// phone number.
    pub async fn check(&self) -> Result<String, ChannelError> {
        let url = format!("{}/{API_VERSION}/{}", self.base_url, self.phone_number_id);
        let number = self.call("GET", url, None).await?;
        Ok(number["display_phone_number"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn call(
        &self,
        method: &str,
        url: String,
        body: Option<Value>,
    ) -> Result<Value, ChannelError> {
        let mut headers = vec![(
            "authorization".to_owned(),
            format!("Bearer {}", self.access_token),
        )];
        if body.is_some() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        let request = FetchRequest {
            method: method.to_owned(),
            url,
            headers,
            body: body.map(|b| b.to_string()),
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
        if (200..300).contains(&response.status) {
            return Ok(serde_json::from_slice(&response.body).unwrap_or(Value::Null));
        }
        let error = serde_json::from_slice::<wire::ErrorBody>(&response.body)
            .ok()
            .map(|b| b.error);
        Err(api_error(response.status, error, response.retry_after))
    }

    fn interactive(&self, text: &str, choices: &Choices) -> Value {
        let reference = |i: usize, payload: &str| {
            button_reference(i, payload, MAX_BUTTON_ID_BYTES).into_owned()
        };
        let body = json!({ "text": if text.is_empty() { "…" } else { text } });
        match choices.style {
            Style::List => json!({
                "type": "list",
                "body": body,
                "action": {
                    "button": LIST_BUTTON_LABEL,
                    "sections": [{
                        "rows": choices.options.iter().enumerate()
                            .map(|(i, o)| json!({ "id": reference(i, &o.payload), "title": o.title }))
                            .collect::<Vec<_>>(),
                    }],
                },
            }),
            Style::Buttons | Style::QuickReplies => json!({
                "type": "button",
                "body": body,
                "action": {
                    "buttons": choices.options.iter().enumerate()
                        .map(|(i, o)| json!({
                            "type": "reply",
                            "reply": { "id": reference(i, &o.payload), "title": o.title },
                        }))
                        .collect::<Vec<_>>(),
                },
            }),
        }
    }
}

fn api_error(
    status: u16,
    error: Option<wire::GraphError>,
    retry_after: Option<Duration>,
) -> ChannelError {
    let code = error.as_ref().and_then(|e| e.code);
    let message = error
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let described = match code {
        Some(code) => format!("{code}: {message}"),
        None => message,
    };
    match (status, code) {
        // Throughput and spam limits (Graph codes 4, 80007, 130429, 131048, 131056).
        (429, _) | (_, Some(4 | 80_007 | 130_429 | 131_048 | 131_056)) => {
            ChannelError::RateLimited { retry_after }
        }
        (401, _) | (_, Some(190)) => ChannelError::Unauthorized(described),
        (500..=599, _) | (_, Some(1 | 2 | 131_000)) => ChannelError::Transient(described.into()),
        _ => ChannelError::Permanent(described),
    }
}

#[async_trait]
impl ChannelSender for WhatsAppApi {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WhatsApp
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// 80 messages a second per phone number (the Cloud API's default throughput).
    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_conversation: None,
            overall: Some(Quota::per_second(80)),
        }
    }

    fn service_window(&self) -> Option<Duration> {
        Some(SERVICE_WINDOW)
    }

    async fn send(&self, to: &Recipient, part: &Part) -> Result<DeliveryReceipt, ChannelError> {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.conversation,
        });
        match part {
            // No typing indicator without a message to mark read: nothing to send.
            Part::Typing => return Ok(DeliveryReceipt::default()),
            Part::Image(image) => {
                body["type"] = json!("image");
                body["image"] = json!({ "link": image.url, "caption": image.alt });
            }
            Part::Text {
                text,
                choices: Some(choices),
            } => {
                body["type"] = json!("interactive");
                body["interactive"] = self.interactive(text, choices);
            }
            Part::Text {
                text,
                choices: None,
            } => {
                body["type"] = json!("text");
                body["text"] = json!({ "body": text, "preview_url": false });
            }
        }
        let url = format!(
            "{}/{API_VERSION}/{}/messages",
            self.base_url, self.phone_number_id
        );
        let sent = self.call("POST", url, Some(body)).await?;
        Ok(DeliveryReceipt {
            external_id: sent["messages"][0]["id"].as_str().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests;
