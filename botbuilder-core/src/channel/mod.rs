//! Messaging channels: the ports a platform (web chat, Telegram, WhatsApp, Slack) implements,
//! and the one formatter that fits the engine's messages to each of them.
//!
//! A channel has two halves:
//! - an **inbound adapter** ([`InboundAdapter`]): checks that a webhook request really comes
//!   from the platform (a secret token, an HMAC over the raw body) and parses it into
//!   normalized [`InboundEvent`]s, each carrying the platform's event id so a redelivery is
//!   processed once;
//! - an **outbound sender** ([`ChannelSender`]): delivers one [`Part`] of a reply.
//!
//! Between the engine and the sender sits [`format()`]: it maps an [`OutboundMessage`] (text,
//! buttons, quick replies, image, typing) onto the channel's [`Capabilities`], degrading
//! gracefully: too many buttons become a list, then numbered text; long text is split at the
//! platform's limit. What each channel supports:
//!
//! | | web | Telegram | WhatsApp | Slack |
//! |---|---|---|---|---|
//! | text per message | unlimited | 4,096 | 1,024 (an interactive body's limit) | 3,000 |
//! | buttons | 10 | 10 (inline keyboard) | 3 reply buttons | 25 (Block Kit) |
//! | list beyond the buttons | — | — | 10 rows | — |
//! | more choices than that | numbered text | numbered text | numbered text | numbered text |
//! | quick replies | yes | yes (reply keyboard) | as buttons | as buttons |
//! | button title | — | — | 20 chars (list rows 24) | 75 chars |
//! | button payload | — | 64 bytes (longer kept server-side) | 256 chars | 2,000 chars |
//! | image | yes | yes (`sendPhoto`) | yes | yes (image block) |
//! | typing indicator | yes | yes (`sendChatAction`) | no | no |

mod config;
mod dispatch;
mod format;
mod inbound;
mod platform;
mod service;

pub use config::{
    API_BASE_URL, ChannelConfig, MAX_SETTING_CHARS, OpenedChannel, SettingSpec, check_config,
    credential_field, settings_of,
};
pub use dispatch::{ChannelWorker, DELIVER_ATTEMPTS, DELIVER_JOB, MAX_INLINE_WAIT, Undelivered};
pub use format::{Capabilities, Choices, Part, Style, format, numbered_choice};
pub use inbound::{
    InboundAdapter, InboundEvent, InboundKind, InboundRequest, ParseError, Parsed, VerifyError,
};
pub use platform::{ChannelPlatform, Platforms};
pub use service::{
    ACCOUNT_ID_SETTING, ChannelRequest, ChannelService, ChannelServiceError, INBOUND_ATTEMPTS,
    INBOUND_JOB, OPENED_TTL, PreparedChannel, ReceiveError, Reception, reseal_channels,
};

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::BoxError;

/// The messaging platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// The web chat (REST + SSE) and the REST API.
    Web,
    /// Telegram Bot API.
    Telegram,
    /// WhatsApp Cloud API (Meta Graph).
    #[serde(rename = "whatsapp")]
    WhatsApp,
    /// Slack Events API and interactivity.
    Slack,
}

impl ChannelKind {
    /// The name used in URLs, settings and stored rows.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Telegram => "telegram",
            Self::WhatsApp => "whatsapp",
            Self::Slack => "slack",
        }
    }

    /// Where replies to a session of this platform go, from the session's external user
    /// ([`InboundEvent::external_user`]): a Slack session is one thread, `channel/thread_ts`;
    /// elsewhere the user's conversation id is the whole recipient.
    pub fn recipient_of(self, external_user: &str) -> Recipient {
        match (self, external_user.split_once('/')) {
            (Self::Slack, Some((channel, thread))) => Recipient {
                conversation: channel.to_owned(),
                thread: Some(thread.to_owned()),
            },
            _ => Recipient::new(external_user),
        }
    }

    /// Parses [`ChannelKind::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "web" => Some(Self::Web),
            "telegram" => Some(Self::Telegram),
            "whatsapp" => Some(Self::WhatsApp),
            "slack" => Some(Self::Slack),
            _ => None,
        }
    }
}

/// The recipient `conversation` of a web chat visitor on the web channel: `{bot}/{visitor}`
/// (the session is the recipient's `thread`), so a visitor's event stream picks out their
/// deliveries without a lookup.
pub fn web_visitor_key(bot: crate::id::BotId, visitor: &str) -> String {
    format!("{bot}/{visitor}")
}

/// A button or quick reply offered with a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Button {
    /// Text shown on the button.
    pub title: String,
    /// What comes back when it is pressed.
    pub payload: String,
}

/// The payload a platform carries for the button at `index`: `payload` itself when it is
/// non-empty, fits in `max_bytes` and does not start with `#`; else `#<index>`, and the
/// payload stays server-side, found again from the stored message the button was on
/// ([`kept_button_index`]). Telegram allows 64 bytes of `callback_data`, WhatsApp 256 of a
/// button id, Slack 2,000 of a button value.
pub fn button_reference(
    index: usize,
    payload: &str,
    max_bytes: usize,
) -> std::borrow::Cow<'_, str> {
    if payload.is_empty() || payload.len() > max_bytes || payload.starts_with('#') {
        std::borrow::Cow::Owned(format!("#{index}"))
    } else {
        std::borrow::Cow::Borrowed(payload)
    }
}

/// The button index a kept payload's reference names (`#3` → 3); `None` for a payload sent
/// as itself.
pub fn kept_button_index(reference: &str) -> Option<usize> {
    reference.strip_prefix('#')?.parse().ok()
}

/// An image sent with (or as) a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Public `https` URL of the image.
    pub url: String,
    /// Text describing it (alt text, caption).
    #[serde(default)]
    pub alt: String,
}

/// A message of the engine for a channel to deliver, before [`format()`] fits it to the
/// channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// Plain text (channels convert to their own markup).
    pub text: String,
    /// Buttons, in display order.
    #[serde(default)]
    pub buttons: Vec<Button>,
    /// Quick replies (suggested answers that disappear once used), in display order.
    #[serde(default)]
    pub quick_replies: Vec<Button>,
    /// An image shown before the text.
    #[serde(default)]
    pub image: Option<Image>,
    /// Show a typing indicator before the message.
    #[serde(default)]
    pub typing: bool,
}

impl OutboundMessage {
    /// A text-only message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The message a stored reply asks for: its text, and the `buttons`, `quick_replies` and
    /// `image` of its payload (ignored when malformed).
    pub fn from_stored(text: &str, payload: &serde_json::Value) -> Self {
        let field = |name: &str| payload.get(name).cloned().unwrap_or_default();
        Self {
            text: text.to_owned(),
            buttons: serde_json::from_value(field("buttons")).unwrap_or_default(),
            quick_replies: serde_json::from_value(field("quick_replies")).unwrap_or_default(),
            image: serde_json::from_value(field("image")).unwrap_or_default(),
            typing: false,
        }
    }
}

/// Where a message goes on a platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recipient {
    /// The conversation: a Telegram chat id, a WhatsApp `wa_id`, a Slack channel id, a web
    /// chat session id.
    pub conversation: String,
    /// The thread inside it, where the platform has threads (Slack `thread_ts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

impl Recipient {
    /// A recipient without a thread.
    pub fn new(conversation: impl Into<String>) -> Self {
        Self {
            conversation: conversation.into(),
            thread: None,
        }
    }
}

/// What a channel said after delivering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The channel's id for the sent message, when it returns one.
    pub external_id: Option<String>,
}

/// A delivery failure, sorted by what the caller does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The platform asked us to slow down.
    #[error("rate limited by the channel")]
    RateLimited {
        /// Wait this long before retrying, if the platform said.
        retry_after: Option<Duration>,
    },
    /// Network or 5xx; retry with backoff.
    #[error("transient channel failure: {0}")]
    Transient(#[source] BoxError),
    /// Credentials were refused; an operator must fix the channel settings.
    #[error("the platform refused the channel's credentials: {0}")]
    Unauthorized(String),
    /// The message can never be delivered (blocked user, bad recipient, outside a window).
    #[error("the platform rejected the message: {0}")]
    Permanent(String),
}

impl ChannelError {
    /// Whether sending the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_))
    }
}

/// Delivers formatted messages to one messaging platform (one connected channel).
///
/// Contract: `send` is not idempotent (a retry may deliver twice), so callers retry only
/// what [`ChannelError::is_retryable`] says; parts are sent in order, one at a time per
/// conversation.
#[async_trait]
pub trait ChannelSender: Send + Sync + 'static {
    /// The platform.
    fn kind(&self) -> ChannelKind;

    /// What this channel can show ([`format()`] fits messages to it).
    fn capabilities(&self) -> Capabilities;

    /// Delivers one part of a reply.
    async fn send(&self, to: &Recipient, part: &Part) -> Result<DeliveryReceipt, ChannelError>;

    /// Tells the platform a button press was received ([`InboundKind::ButtonPress::ack`]):
    /// Telegram's `answerCallbackQuery`, without which the user's client keeps spinning.
    /// Nothing by default.
    async fn acknowledge(&self, ack: &str) -> Result<(), ChannelError> {
        let _ = ack;
        Ok(())
    }

    /// How fast the platform lets a bot send; the dispatcher stays within it.
    fn rate_limits(&self) -> RateLimits {
        RateLimits::default()
    }

    /// How long after the user's last message free-form replies are allowed (WhatsApp's
    /// 24-hour customer-service window); `None`: always.
    fn service_window(&self) -> Option<Duration> {
        None
    }
}

/// A platform's sending limits (GCRA quotas, see [`crate::rate_limit::Quota`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Per conversation (a Telegram chat, a Slack channel).
    pub per_conversation: Option<crate::rate_limit::Quota>,
    /// For the whole channel (one bot token, one phone number).
    pub overall: Option<crate::rate_limit::Quota>,
}
