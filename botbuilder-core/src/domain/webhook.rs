//! Customers' webhook endpoints, the events they subscribe to, and the delivery of each event
//! to each endpoint.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::SealedSecret;
use crate::id::{OrgId, SessionId, WebhookDeliveryId, WebhookId};

/// What happened, as named in the webhook's `type` (the names are the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WebhookEventType {
    /// A conversation (session) began.
    #[serde(rename = "conversation.started")]
    ConversationStarted,
    /// A user's message was stored.
    #[serde(rename = "message.received")]
    MessageReceived,
    /// A bot's or an agent's message was stored.
    #[serde(rename = "message.sent")]
    MessageSent,
    /// The conversation was handed to human agents.
    #[serde(rename = "conversation.handoff")]
    ConversationHandoff,
    /// The agents gave the conversation back to the bot (or it ended during the handoff).
    #[serde(rename = "conversation.released")]
    ConversationReleased,
    /// Someone rated a message.
    #[serde(rename = "feedback.created")]
    FeedbackCreated,
    /// A knowledge-base document was ingested and is searchable.
    #[serde(rename = "document.ready")]
    DocumentReady,
    /// A knowledge-base document could not be ingested.
    #[serde(rename = "document.failed")]
    DocumentFailed,
}

impl WebhookEventType {
    /// Every event type, in a stable order.
    pub const ALL: [Self; 8] = [
        Self::ConversationStarted,
        Self::MessageReceived,
        Self::MessageSent,
        Self::ConversationHandoff,
        Self::ConversationReleased,
        Self::FeedbackCreated,
        Self::DocumentReady,
        Self::DocumentFailed,
    ];

    /// The name (`message.sent`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConversationStarted => "conversation.started",
            Self::MessageReceived => "message.received",
            Self::MessageSent => "message.sent",
            Self::ConversationHandoff => "conversation.handoff",
            Self::ConversationReleased => "conversation.released",
            Self::FeedbackCreated => "feedback.created",
            Self::DocumentReady => "document.ready",
            Self::DocumentFailed => "document.failed",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A customer's endpoint that receives the organization's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookId,
    /// The organization whose events it receives.
    pub org_id: OrgId,
    /// Where events are posted (`https://…`).
    pub url: String,
    /// A note for people.
    pub description: String,
    /// The event types it receives, sorted, never empty.
    pub events: Vec<WebhookEventType>,
    /// Whether events are sent to it. A disabled endpoint gets no new deliveries.
    pub enabled: bool,
    /// Why it was disabled by the platform (`410 Gone`), for people.
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_…`), sealed bound to this organization and endpoint
    /// ([`crate::secrets::webhook_binding`]). Shown once, when created or rotated.
    pub secret: SealedSecret,
    /// The secret before the last rotation, still signing beside the new one until
    /// `previous_secret_expires_at`.
    pub previous_secret: Option<SealedSecret>,
    /// When the previous secret stops signing.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Whether it receives events of `kind`.
    pub fn receives(&self, kind: WebhookEventType) -> bool {
        self.enabled && self.events.contains(&kind)
    }
}

/// An endpoint to create. The caller chooses the id, because the secret is sealed bound to
/// it before the row exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEndpoint {
    /// Its id ([`WebhookId::new`]).
    pub id: WebhookId,
    /// Where events are posted.
    pub url: String,
    /// A note for people.
    pub description: String,
    /// The event types, sorted, never empty.
    pub events: Vec<WebhookEventType>,
    /// The sealed signing secret.
    pub secret: SealedSecret,
}

/// A change to an endpoint; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointPatch {
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New event types (sorted, never empty).
    pub events: Option<Vec<WebhookEventType>>,
    /// Enable or disable it.
    pub enabled: Option<bool>,
    /// Why it was disabled (`Some(None)` clears it).
    pub disabled_reason: Option<Option<String>>,
    /// A rotated secret: the new one, and the one it replaces with when that stops signing.
    pub rotated_secret: Option<RotatedSecret>,
    /// The same secrets sealed again (master key rotation): the current one, and the
    /// previous one if there is one (its expiry stays).
    pub resealed: Option<(SealedSecret, Option<SealedSecret>)>,
}

/// A secret rotation ([`WebhookEndpointPatch::rotated_secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedSecret {
    /// The new secret.
    pub secret: SealedSecret,
    /// The secret it replaces.
    pub previous: SealedSecret,
    /// When the replaced secret stops signing.
    pub previous_expires_at: DateTime<Utc>,
}

/// One event in the webhook outbox, recorded by the store in the transaction that made the
/// change (a stored message, a session's new status, a document's ingestion result), and
/// waiting to be rendered and fanned out to the endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Position in the outbox: the order events happened in.
    pub seq: i64,
    /// The organization.
    pub org_id: OrgId,
    /// What happened.
    pub kind: WebhookEventType,
    /// The conversation it belongs to, if any (events of one session are delivered in order).
    pub session_id: Option<SessionId>,
    /// The id of what it is about: the session, message (for feedback, the rated message) or
    /// document.
    pub subject: Uuid,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl WebhookEvent {
    /// What orders its deliveries: its session, or for an event outside conversations its
    /// subject.
    pub fn order_key(&self) -> Uuid {
        self.session_id.map_or(self.subject, |s| s.as_uuid())
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDeliveryState {
    /// Waiting to be sent, or to be retried.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up: every attempt failed, the endpoint was disabled, or the target was refused.
    Failed,
}

impl WebhookDeliveryState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One try at posting a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// From sending the request to the end of the answer, in milliseconds.
    pub duration_ms: u64,
    /// What went wrong, for people (`None` on success).
    pub error: Option<String>,
}

/// The most attempts a delivery keeps in its log (the newest).
pub const KEPT_ATTEMPTS: usize = 20;

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// Its id.
    pub id: WebhookDeliveryId,
    /// The organization.
    pub org_id: OrgId,
    /// The endpoint.
    pub endpoint_id: WebhookId,
    /// The event's id: the `webhook-id` header, the same on every attempt.
    pub event_id: Uuid,
    /// The event's position in the outbox.
    pub event_seq: i64,
    /// The event's type.
    pub event_type: WebhookEventType,
    /// What orders it ([`WebhookEvent::order_key`]).
    pub order_key: Uuid,
    /// The JSON body posted.
    pub payload: serde_json::Value,
    /// Where it stands.
    pub state: WebhookDeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// The newest attempts, oldest first (at most [`KEPT_ATTEMPTS`]).
    pub attempt_log: Vec<WebhookAttempt>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the endpoint accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The answer to a claim ([`crate::store::WebhookRepo::claim_webhook_delivery`]).
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookClaim {
    /// The order's next delivery, leased to the caller under `lease` until it records the
    /// attempt (or the lease runs out).
    Claimed {
        /// The delivery.
        delivery: Box<WebhookDelivery>,
        /// The lease's token, which recording the attempt takes.
        lease: Uuid,
    },
    /// The order's next delivery is due, but its endpoint has as many deliveries in flight
    /// as it may: try again shortly.
    EndpointBusy,
    /// Nothing to send now: the order is empty, its next delivery is not due, or another
    /// worker is sending it.
    NothingDue,
}

impl WebhookDelivery {
    /// The `webhook-id` header of its every attempt: `msg_` and the event's id.
    pub fn webhook_id(&self) -> String {
        format!("msg_{}", self.event_id.simple())
    }
}

/// What became of an attempt ([`crate::store::WebhookRepo::record_webhook_attempt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Accepted: the delivery succeeded.
    Succeeded,
    /// Failed; try again at this time.
    RetryAt(DateTime<Utc>),
    /// Failed for good.
    GaveUp,
}

/// A rendered event, ready to fan out ([`crate::store::WebhookRepo::fan_out_webhook_event`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedEvent {
    /// Its id, sent as `webhook-id`.
    pub id: Uuid,
    /// The body every endpoint receives.
    pub payload: serde_json::Value,
}
