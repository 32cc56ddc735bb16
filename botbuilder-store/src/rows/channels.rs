//! Rows of connected channels and of their outbox deliveries (see the [module docs](super)).
//! A delivery's `external_ids` is the JSON array of its parts' platform ids, in part order,
//! which each backend aggregates in its own dialect.

use botbuilder_core::channel::ChannelKind;
use botbuilder_core::domain::{Channel, ChannelStatus, Delivery, DeliveryState, SealedSecret};
use botbuilder_core::store::{StoreError, StoreResult};
use uuid::Uuid;

use super::from_micros;

macro_rules! channel_columns {
    () => {
        "id, organization_id, bot_id, kind, name, settings, key_id, nonce, ciphertext, status, \
         last_error, last_inbound_at, last_outbound_at, created_at"
    };
}

pub(crate) use channel_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    id: Uuid,
    organization_id: Uuid,
    bot_id: Uuid,
    kind: String,
    name: String,
    settings: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    status: String,
    last_error: Option<String>,
    last_inbound_at: Option<i64>,
    last_outbound_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<ChannelRow> for Channel {
    type Error = StoreError;

    fn try_from(r: ChannelRow) -> StoreResult<Self> {
        let corrupt =
            |what: &str| StoreError::Backend(format!("corrupt channel {}: {what}", r.id).into());
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            bot_id: r.bot_id.into(),
            kind: ChannelKind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?,
            name: r.name.clone(),
            settings: serde_json::from_str(&r.settings).map_err(|_| corrupt("settings"))?,
            secrets: SealedSecret {
                key_id: r.key_id.clone(),
                nonce: r.nonce.clone(),
                ciphertext: r.ciphertext.clone(),
            },
            status: ChannelStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            last_error: r.last_error,
            last_inbound_at: r.last_inbound_at.map(from_micros),
            last_outbound_at: r.last_outbound_at.map(from_micros),
            created_at: from_micros(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    message_id: Uuid,
    organization_id: Uuid,
    channel_id: Uuid,
    session_id: Uuid,
    state: String,
    parts_sent: i64,
    platform_status: Option<String>,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
    external_ids: String,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(r: DeliveryRow) -> StoreResult<Self> {
        let corrupt = |what: &str| {
            StoreError::Backend(format!("corrupt delivery {}: {what}", r.message_id).into())
        };
        Ok(Self {
            message_id: r.message_id.into(),
            org_id: r.organization_id.into(),
            channel_id: r.channel_id.into(),
            session_id: r.session_id.into(),
            state: DeliveryState::parse(&r.state).ok_or_else(|| corrupt("state"))?,
            parts_sent: u32::try_from(r.parts_sent).unwrap_or(0),
            external_ids: serde_json::from_str(&r.external_ids)
                .map_err(|_| corrupt("external ids"))?,
            platform_status: r.platform_status,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            last_error: r.last_error,
            created_at: from_micros(r.created_at),
            sent_at: r.sent_at.map(from_micros),
        })
    }
}

/// Channels from their rows.
pub(crate) fn channels(rows: Vec<ChannelRow>) -> StoreResult<Vec<Channel>> {
    rows.into_iter().map(TryInto::try_into).collect()
}

/// Deliveries from their rows.
pub(crate) fn deliveries(rows: Vec<DeliveryRow>) -> StoreResult<Vec<Delivery>> {
    rows.into_iter().map(TryInto::try_into).collect()
}
