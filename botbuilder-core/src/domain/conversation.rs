use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{BotId, FeedbackId, MessageId, OrgId, SessionId};

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// The bot is talking.
    Active,
    /// Handed to a human agent; the bot stays silent until released.
    Handoff,
    /// Finished (an `end` node, or idle past the bot's timeout).
    Ended,
}

impl SessionStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Handoff => "handoff",
            Self::Ended => "ended",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "active" => Some(Self::Active),
            "handoff" => Some(Self::Handoff),
            "ended" => Some(Self::Ended),
            _ => None,
        }
    }
}

/// What the flow executor remembers between turns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The node waiting for the user's next message (an `ask`), if any.
    pub current_node: Option<String>,
    /// The session's variables (a JSON object).
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Invalid answers given to the current `ask`.
    pub attempts: u32,
}

/// One conversation between a bot and one user on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// The organization owning the bot.
    pub org_id: OrgId,
    /// The bot.
    pub bot_id: BotId,
    /// Channel id (`web`, `api`, `telegram`, ...).
    pub channel: String,
    /// The user's id on that channel.
    pub external_user: String,
    /// The published flow version the session runs (kept for its whole life).
    pub flow_version: Option<u32>,
    /// Where it stands.
    pub status: SessionStatus,
    /// The executor's memory.
    pub state: SessionState,
    /// Incremented by every state change; writes name the revision they read, so two
    /// concurrent turns cannot both apply (optimistic concurrency).
    pub revision: i64,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When its last message was stored.
    pub last_activity_at: DateTime<Utc>,
}

/// A session to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// Channel id.
    pub channel: String,
    /// The user's id on the channel.
    pub external_user: String,
    /// The flow version to run.
    pub flow_version: Option<u32>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageDirection {
    /// The user.
    Inbound,
    /// The bot.
    Outbound,
    /// A human agent (during a handoff).
    Agent,
}

impl MessageDirection {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
            Self::Agent => "agent",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "inbound" => Some(Self::Inbound),
            "outbound" => Some(Self::Outbound),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The message's id (time-ordered).
    pub id: MessageId,
    /// The organization.
    pub org_id: OrgId,
    /// The bot.
    pub bot_id: BotId,
    /// The session.
    pub session_id: SessionId,
    /// Who wrote it.
    pub direction: MessageDirection,
    /// Text.
    pub text: String,
    /// Structured content: buttons offered, a button's payload, citations.
    pub payload: serde_json::Value,
    /// The detected intent (inbound messages).
    pub intent: Option<String>,
    /// Its confidence.
    pub confidence: Option<f32>,
    /// Prompt tokens spent producing it (outbound AI answers).
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// Cost in millionths of a US dollar.
    pub cost_micros: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A message to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Who wrote it.
    pub direction: MessageDirection,
    /// Text.
    pub text: String,
    /// Structured content.
    pub payload: serde_json::Value,
    /// Detected intent.
    pub intent: Option<String>,
    /// Its confidence.
    pub confidence: Option<f32>,
    /// The language model call that wrote it, if one did: its tokens and cost are stored on
    /// the message and counted in the organization's usage (which outlives the message).
    pub llm: Option<LlmCall>,
}

/// A language model call, as accounted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmCall {
    /// Provider id.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// What it cost, in millionths of a US dollar.
    pub cost_micros: i64,
    /// Whether the tokens were counted here (the provider reported none, or the answer was
    /// cut off) rather than reported.
    pub estimated: bool,
}

/// A thumbs up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// Helpful.
    Up,
    /// Not helpful.
    Down,
}

/// Feedback on one bot message (a second rating replaces the first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// The feedback's id.
    pub id: FeedbackId,
    /// The organization.
    pub org_id: OrgId,
    /// The rated message.
    pub message_id: MessageId,
    /// The rating.
    pub rating: Rating,
    /// Free text.
    pub comment: Option<String>,
    /// When it was given.
    pub created_at: DateTime<Utc>,
}

impl NewMessage {
    /// A plain text message from `direction`, with nothing else recorded.
    pub fn text(direction: MessageDirection, text: impl Into<String>) -> Self {
        Self {
            direction,
            text: text.into(),
            payload: serde_json::Value::Null,
            intent: None,
            confidence: None,
            llm: None,
        }
    }

    /// The stored message this becomes, for stores that assign the id and time themselves.
    pub fn into_message(
        self,
        id: MessageId,
        org_id: OrgId,
        bot_id: BotId,
        session_id: SessionId,
        created_at: DateTime<Utc>,
    ) -> Message {
        Message {
            id,
            org_id,
            bot_id,
            session_id,
            direction: self.direction,
            text: self.text,
            payload: self.payload,
            intent: self.intent,
            confidence: self.confidence,
            prompt_tokens: self.llm.as_ref().map_or(0, |c| c.prompt_tokens),
            completion_tokens: self.llm.as_ref().map_or(0, |c| c.completion_tokens),
            cost_micros: self.llm.as_ref().map_or(0, |c| c.cost_micros),
            created_at,
        }
    }
}
