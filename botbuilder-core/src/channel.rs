//! Messaging channel port (web chat, Telegram, WhatsApp, Slack).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::BoxError;

/// A button or quick reply offered with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// Text shown on the button.
    pub title: String,
    /// What comes back when it is pressed.
    pub payload: String,
}

/// A message for a channel to deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// Plain text (channels convert to their own markup).
    pub text: String,
    /// Buttons, in display order.
    pub buttons: Vec<Button>,
}

/// The conversation partner on a channel (chat id, phone number, Slack channel...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recipient(pub String);

/// What a channel said after delivering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The channel's id for the sent message, when it returns one.
    pub external_id: Option<String>,
}

/// What a channel supports; defaults are the least common denominator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelCapabilities {
    /// Most buttons one message can carry (0 = none).
    pub max_buttons: usize,
    /// Longest text one message can carry, in characters (0 = unlimited).
    pub max_text_chars: usize,
}

/// A delivery failure, sorted by what the caller does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The platform asked us to slow down.
    #[error("rate limited by the channel")]
    RateLimited {
        /// Wait this long before retrying, if the platform said.
        retry_after: Option<std::time::Duration>,
    },
    /// Network or 5xx; retry with backoff.
    #[error("transient channel failure")]
    Transient(#[source] BoxError),
    /// Credentials were refused; an operator must fix the channel settings.
    #[error("channel credentials rejected")]
    Unauthorized,
    /// The message can never be delivered (blocked user, bad recipient).
    #[error("message rejected by the channel")]
    Permanent(#[source] BoxError),
}

/// Delivers bot messages to one messaging platform. Inbound traffic reaches the engine
/// through the server's webhook routes; this port only sends.
///
/// Contract: `send` is not idempotent (a retry may deliver twice), so callers retry only on
/// [`ChannelError::RateLimited`] and [`ChannelError::Transient`].
#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// Stable id (`"web"`, `"telegram"`).
    fn id(&self) -> &str;

    /// Conservative default: text only.
    fn capabilities(&self) -> ChannelCapabilities {
        ChannelCapabilities::default()
    }

    /// Delivers one message.
    async fn send(
        &self,
        to: &Recipient,
        message: &OutboundMessage,
    ) -> Result<DeliveryReceipt, ChannelError>;
}
