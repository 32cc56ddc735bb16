//! Rows of webhook endpoints, events and deliveries (see the [module docs](super)), and the
//! stored forms of their event lists and leases.

use std::time::Duration;

use botbuilder_core::domain::{
    SealedSecret, WebhookDelivery, WebhookDeliveryState, WebhookEndpoint, WebhookEvent,
    WebhookEventType,
};
use botbuilder_core::store::{StoreError, StoreResult};
use uuid::Uuid;

use super::from_micros;
use crate::error::corrupt;

macro_rules! endpoint_columns {
    () => {
        "id, organization_id, url, description, events, enabled, disabled_reason, key_id, nonce, \
         ciphertext, previous_key_id, previous_nonce, previous_ciphertext, \
         previous_secret_expires_at, created_at, updated_at"
    };
}

macro_rules! delivery_columns {
    () => {
        "d.id, d.organization_id, d.endpoint_id, e.event_id, d.event_seq, e.type AS event_type, \
         d.order_key, e.payload, d.state, d.attempts, d.attempt_log, d.next_attempt_at, \
         d.created_at, d.delivered_at"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct EndpointRow {
    id: Uuid,
    organization_id: Uuid,
    url: String,
    description: String,
    events: String,
    enabled: bool,
    disabled_reason: Option<String>,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    previous_key_id: Option<String>,
    previous_nonce: Option<Vec<u8>>,
    previous_ciphertext: Option<Vec<u8>>,
    previous_secret_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;

    fn try_from(r: EndpointRow) -> StoreResult<Self> {
        let previous_secret = match (r.previous_key_id, r.previous_nonce, r.previous_ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => Some(SealedSecret {
                key_id,
                nonce,
                ciphertext,
            }),
            _ => None,
        };
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            url: r.url,
            description: r.description,
            events: serde_json::from_str(&r.events).map_err(|e| corrupt("webhook events", e))?,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            secret: SealedSecret {
                key_id: r.key_id,
                nonce: r.nonce,
                ciphertext: r.ciphertext,
            },
            previous_secret,
            previous_secret_expires_at: r.previous_secret_expires_at.map(from_micros),
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    id: Uuid,
    organization_id: Uuid,
    endpoint_id: Uuid,
    event_id: Option<Uuid>,
    event_seq: i64,
    event_type: String,
    order_key: Uuid,
    payload: Option<String>,
    state: String,
    attempts: i64,
    attempt_log: String,
    next_attempt_at: Option<i64>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = StoreError;

    fn try_from(r: DeliveryRow) -> StoreResult<Self> {
        let bad = |what: &str| corrupt("webhook delivery", format!("{} {what}", r.id));
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            endpoint_id: r.endpoint_id.into(),
            event_id: r.event_id.ok_or_else(|| bad("has no event id"))?,
            event_seq: r.event_seq,
            event_type: WebhookEventType::parse(&r.event_type).ok_or_else(|| bad("type"))?,
            order_key: r.order_key,
            payload: serde_json::from_str(r.payload.as_deref().unwrap_or_default())
                .map_err(|_| bad("payload"))?,
            state: WebhookDeliveryState::parse(&r.state).ok_or_else(|| bad("state"))?,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            attempt_log: serde_json::from_str(&r.attempt_log).map_err(|_| bad("attempt log"))?,
            next_attempt_at: r.next_attempt_at.map(from_micros),
            created_at: from_micros(r.created_at),
            delivered_at: r.delivered_at.map(from_micros),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    organization_id: Uuid,
    r#type: String,
    session_id: Option<Uuid>,
    subject_id: Uuid,
    created_at: i64,
}

impl TryFrom<EventRow> for WebhookEvent {
    type Error = StoreError;

    fn try_from(r: EventRow) -> StoreResult<Self> {
        Ok(Self {
            seq: r.seq,
            org_id: r.organization_id.into(),
            kind: WebhookEventType::parse(&r.r#type)
                .ok_or_else(|| corrupt("webhook event type", &r.r#type))?,
            session_id: r.session_id.map(Into::into),
            subject: r.subject_id,
            created_at: from_micros(r.created_at),
        })
    }
}

pub(crate) fn events_json(events: &[WebhookEventType]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.as_micros()).unwrap_or(i64::MAX)
}

pub(crate) use {delivery_columns, endpoint_columns};
