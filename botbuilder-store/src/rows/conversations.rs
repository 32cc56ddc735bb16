//! Rows of sessions and messages, and the stored forms of session state and ratings (see
//! the [module docs](super)).

use botbuilder_core::domain::{
    Message, MessageDirection, Rating, Session, SessionState, SessionStatus,
};
use botbuilder_core::store::{StoreError, StoreResult};
use uuid::Uuid;

use super::from_micros;
use crate::error::corrupt;

macro_rules! session_columns {
    () => {
        "id, organization_id, bot_id, channel, external_user, flow_version, status, state, \
         revision, created_at, last_activity_at"
    };
}

macro_rules! message_columns {
    () => {
        "id, organization_id, bot_id, session_id, direction, text, payload, intent, confidence, \
         prompt_tokens, completion_tokens, cost_micros, created_at"
    };
}

pub(crate) use {message_columns, session_columns};

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: Uuid,
    organization_id: Uuid,
    bot_id: Uuid,
    channel: String,
    external_user: String,
    flow_version: Option<i64>,
    status: String,
    state: String,
    revision: i64,
    created_at: i64,
    last_activity_at: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> StoreResult<Self> {
        Ok(Session {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            bot_id: r.bot_id.into(),
            channel: r.channel,
            external_user: r.external_user,
            flow_version: r
                .flow_version
                .map(u32::try_from)
                .transpose()
                .map_err(|e| corrupt("flow version", e))?,
            status: SessionStatus::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
            state: serde_json::from_str(&r.state).map_err(|e| corrupt("session state", e))?,
            revision: r.revision,
            created_at: from_micros(r.created_at),
            last_activity_at: from_micros(r.last_activity_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: Uuid,
    organization_id: Uuid,
    bot_id: Uuid,
    session_id: Uuid,
    direction: String,
    text: String,
    payload: String,
    intent: Option<String>,
    confidence: Option<f64>,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
    created_at: i64,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(r: MessageRow) -> StoreResult<Self> {
        let tokens = |n: i64| u32::try_from(n).map_err(|e| corrupt("token count", e));
        Ok(Message {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            bot_id: r.bot_id.into(),
            session_id: r.session_id.into(),
            direction: MessageDirection::parse(&r.direction)
                .ok_or_else(|| corrupt("direction", &r.direction))?,
            text: r.text,
            payload: serde_json::from_str(&r.payload).map_err(|e| corrupt("payload", e))?,
            intent: r.intent,
            #[allow(clippy::cast_possible_truncation)]
            confidence: r.confidence.map(|c| c as f32),
            prompt_tokens: tokens(r.prompt_tokens)?,
            completion_tokens: tokens(r.completion_tokens)?,
            cost_micros: r.cost_micros,
            created_at: from_micros(r.created_at),
        })
    }
}

/// The stored form of a session's state (JSON text).
pub(crate) fn state_json(state: &SessionState) -> StoreResult<String> {
    serde_json::to_string(state).map_err(|e| corrupt("session state", e))
}

const RATINGS: [(Rating, &str); 2] = [(Rating::Up, "up"), (Rating::Down, "down")];

/// The stored name of a rating.
pub(crate) fn rating_name(rating: Rating) -> &'static str {
    RATINGS
        .iter()
        .find(|(r, _)| *r == rating)
        .map_or("up", |(_, n)| n)
}

/// The rating stored as `name`.
pub(crate) fn parse_rating(name: &str) -> StoreResult<Rating> {
    RATINGS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(r, _)| *r)
        .ok_or_else(|| corrupt("feedback rating", name))
}
