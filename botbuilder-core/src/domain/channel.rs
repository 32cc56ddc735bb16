use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SealedSecret;
use crate::channel::ChannelKind;
use crate::id::{BotId, ChannelId, MessageId, OrgId, SessionId};

/// Where a connected channel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// Receiving through its webhook.
    Connected,
    /// Receiving by long polling (Telegram without a public URL).
    Polling,
    /// The platform refused its credentials, or connecting failed: see `last_error`.
    Error,
}

impl ChannelStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Polling => "polling",
            Self::Error => "error",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "connected" => Some(Self::Connected),
            "polling" => Some(Self::Polling),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// A messaging channel connected to a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The channel's id (in its webhook URL).
    pub id: ChannelId,
    /// The organization.
    pub org_id: OrgId,
    /// The bot answering on it.
    pub bot_id: BotId,
    /// The platform.
    pub kind: ChannelKind,
    /// A name for people.
    pub name: String,
    /// Settings that are not secret (`api_base_url`, `phone_number_id`, …), a JSON object.
    pub settings: serde_json::Value,
    /// The secret settings (tokens, app secret, signing secret, webhook secret token) as one
    /// sealed JSON object, bound to this organization, channel and platform
    /// ([`crate::secrets::channel_binding`]). Never returned by the API.
    pub secrets: SealedSecret,
    /// Where it stands.
    pub status: ChannelStatus,
    /// The last problem connecting, receiving or sending, for people.
    pub last_error: Option<String>,
    /// When the last inbound event was accepted.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// When the last message was delivered.
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// When it was connected.
    pub created_at: DateTime<Utc>,
}

impl Channel {
    /// The `channel` of this channel's sessions ([`session_channel`]).
    pub fn session_channel(&self) -> String {
        session_channel(self.kind, self.id)
    }
}

/// The `channel` recorded on sessions of a connected channel: `telegram:<channel id>`, so the
/// same user on two channels (or two organizations) has two sessions.
pub fn session_channel(kind: ChannelKind, id: ChannelId) -> String {
    format!("{}:{id}", kind.as_str())
}

/// The connected channel a session's `channel` names; `None` for `web`, `api` and other
/// channels without a connection.
pub fn session_channel_of(channel: &str) -> Option<(ChannelKind, ChannelId)> {
    let (kind, id) = channel.split_once(':')?;
    Some((ChannelKind::parse(kind)?, id.parse().ok()?))
}

/// A channel to connect. The caller chooses the id, because the secrets are sealed bound to
/// it before the row exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// Its id ([`ChannelId::new`]).
    pub id: ChannelId,
    /// The platform.
    pub kind: ChannelKind,
    /// A name for people.
    pub name: String,
    /// Settings that are not secret.
    pub settings: serde_json::Value,
    /// The sealed secret settings.
    pub secrets: SealedSecret,
    /// Where it stands once connected.
    pub status: ChannelStatus,
}

/// A change to a channel's standing; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelPatch {
    /// New name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<ChannelStatus>,
    /// New last error (`Some(None)` clears it).
    pub last_error: Option<Option<String>>,
    /// New settings.
    pub settings: Option<serde_json::Value>,
    /// New sealed secrets.
    pub secrets: Option<SealedSecret>,
    /// An inbound event was accepted at this time.
    pub inbound_at: Option<DateTime<Utc>>,
    /// A message was delivered at this time.
    pub outbound_at: Option<DateTime<Utc>>,
}

/// What became of a reply on its way to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting to be sent (or retried).
    Pending,
    /// Every part was accepted by the platform.
    Sent,
    /// The platform refused it for good (see `last_error`).
    Failed,
    /// Not sent on purpose (outside WhatsApp's 24-hour window, …; see `last_error`).
    Skipped,
}

impl DeliveryState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            "skipped" => Some(Self::Skipped),
            _ => None,
        }
    }
}

/// A reply in the outbox of a connected channel: written in the same transaction as the
/// message, so no stored reply is ever forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The reply (one delivery per message).
    pub message_id: MessageId,
    /// The organization.
    pub org_id: OrgId,
    /// The channel.
    pub channel_id: ChannelId,
    /// The session.
    pub session_id: SessionId,
    /// Where it stands.
    pub state: DeliveryState,
    /// Parts already accepted by the platform (a retry resumes after them).
    pub parts_sent: u32,
    /// The platform's ids of the sent parts.
    pub external_ids: Vec<String>,
    /// The platform's last word on it (`delivered`, `read`, `failed`), from status events.
    pub platform_status: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last problem, for people.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When its last part was accepted.
    pub sent_at: Option<DateTime<Utc>>,
}
