//! The inbound half of a channel: verify a webhook request, then parse it into normalized
//! events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChannelKind, Recipient};

/// A webhook request as it arrived: verifiers need the exact bytes of the body (platforms
/// sign them, and a re-serialized body would not match). Its `Debug` shows header names
/// only (Telegram's secret token is a header).
#[derive(Clone, PartialEq, Eq)]
pub struct InboundRequest {
    /// `GET` (handshakes) or `POST`.
    pub method: String,
    /// Headers; names compare case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The raw query string, without `?`.
    pub query: String,
    /// The raw body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for InboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("InboundRequest")
            .field("method", &self.method)
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl InboundRequest {
    /// A `POST` with these headers and body.
    pub fn post(headers: Vec<(String, String)>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST".to_owned(),
            headers,
            query: String::new(),
            body: body.into(),
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Why a webhook request was not accepted as coming from the platform. Nothing of it is
/// processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature or token header is absent.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// The signature or token does not match.
    #[error("`{0}` does not match")]
    Mismatch(&'static str),
    /// Signed too long ago (or in the future): a possible replay.
    #[error("the request timestamp is {age_secs} s away from now (at most {max_secs} s allowed)")]
    Stale {
        /// How far the timestamp is from now, in seconds.
        age_secs: i64,
        /// The window allowed, in seconds.
        max_secs: i64,
    },
    /// A method this endpoint does not take.
    #[error("method not allowed")]
    Method,
}

/// A verified request whose body is not what the platform documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} webhook: {message}")]
pub struct ParseError {
    /// The platform.
    pub kind: &'static str,
    /// What is wrong, naming the field where possible.
    pub message: String,
}

impl ParseError {
    /// A parse error of `kind`'s payload.
    pub fn new(kind: ChannelKind, message: impl Into<String>) -> Self {
        Self {
            kind: kind.as_str(),
            message: message.into(),
        }
    }
}

/// What a verified request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A handshake: answer 200 with this text (Slack `url_verification`, WhatsApp
    /// `hub.challenge`).
    Challenge(String),
    /// Events to process (possibly none: update kinds the bot does not handle).
    Events(Vec<InboundEvent>),
}

/// One normalized event from a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// The platform's id for this event (Telegram `update_id`, WhatsApp `wamid…`, Slack
    /// `event_id`): a redelivery carries the same id and is processed once.
    pub event_id: String,
    /// Whose conversation it is: one session per bot, channel and this id. Replies to the
    /// session go to [`ChannelKind::recipient_of`] this id (a Telegram chat, a WhatsApp
    /// number, a Slack `channel/thread`).
    pub external_user: String,
    /// The person's display name, when the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Where replies go: always [`ChannelKind::recipient_of`] the external user.
    pub reply_to: Recipient,
    /// What happened.
    pub kind: InboundKind,
}

/// What an inbound event is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundKind {
    /// The user wrote text.
    Text {
        /// The text.
        text: String,
    },
    /// The user pressed a button (or picked a list row).
    ButtonPress {
        /// The button's payload as sent (a channel may have kept a long one server-side:
        /// then this is its key, resolved before the engine sees it).
        payload: String,
        /// The button's title, when the platform repeats it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// What the platform wants acknowledged (Telegram's callback query id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ack: Option<String>,
        /// The platform's id of the message the button was on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
    },
    /// The user sent a file, photo, voice note or location.
    Attachment {
        /// What it is (`photo`, `document`, `audio`, `video`, `voice`, `sticker`,
        /// `location`, ...).
        media: String,
        /// The platform's reference to fetch it (a file id, a media id).
        reference: String,
        /// Its caption, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// The platform reports what became of a message the bot sent.
    DeliveryStatus {
        /// The platform's id of the sent message.
        message_id: String,
        /// `sent`, `delivered`, `read`, `failed`.
        status: String,
        /// Why it failed, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// The inbound half of one connected channel, holding that channel's verification secret.
///
/// Contract: [`InboundAdapter::verify`] runs before [`InboundAdapter::parse`] and looks only
/// at the raw request (secrets compared in constant time); `parse` never panics, whatever the
/// bytes, and returns events in the order the platform sent them.
pub trait InboundAdapter: Send + Sync + 'static {
    /// The platform.
    fn kind(&self) -> ChannelKind;

    /// Accepts the request as the platform's, or says why not.
    fn verify(&self, request: &InboundRequest, now: DateTime<Utc>) -> Result<(), VerifyError>;

    /// The handshake to answer or the events to process.
    fn parse(&self, request: &InboundRequest) -> Result<Parsed, ParseError>;
}
