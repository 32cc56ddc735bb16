//! Connected channels and their outbox on Postgres (the `messages_outbox` trigger of
//! migration 0005 writes a delivery in the statement that stores each reply).
//!
//! What differs from SQLite:
//! - Lookups that name no organization (a channel by id for the platforms' webhooks and the
//!   workers, every channel at start-up, a delivery by a platform's id, the sweep of pending
//!   deliveries) run as the platform; everything else in the organization's transaction.
//! - A delivery's part ids are aggregated with `json_agg` (SQLite: `json_group_array`).
//! - Recording a sent part takes its position from the delivery's counter in the same
//!   `UPDATE … RETURNING` that advances it: the row lock makes two concurrent parts take two
//!   positions, where SQLite's single writer serialized a read and a write.
//! - A write and the read of its result share one transaction.

use async_trait::async_trait;
use botbuilder_core::domain::{
    Channel, ChannelPatch, ChannelStatus, Delivery, NewChannel, session_channel,
};
use botbuilder_core::id::{BotId, ChannelId, MessageId, OrgId, SessionId};
use botbuilder_core::store::{ChannelRepo, DeliveryUpdate, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{PgStore, commit, expect_one, storable};
use crate::error::store_err;
use crate::rows::channels::{ChannelRow, DeliveryRow, channel_columns, channels, deliveries};
use crate::rows::{json_text, micros};

/// A delivery's columns (table alias `d`), its parts' platform ids as a JSON array in part
/// order.
macro_rules! delivery_columns {
    () => {
        "d.message_id, d.organization_id, d.channel_id, d.session_id, d.state, d.parts_sent, \
         d.platform_status, d.attempts, d.last_error, d.created_at, d.sent_at, \
         COALESCE((SELECT json_agg(x.external_id ORDER BY x.position) FROM delivery_parts x \
                   WHERE x.message_id = d.message_id), '[]')::text AS external_ids"
    };
}

/// One delivery of the organization, read in `tx`.
async fn delivery_in(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    message: MessageId,
) -> StoreResult<Delivery> {
    sqlx::query_as::<_, DeliveryRow>(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries d WHERE d.message_id = $1 AND d.organization_id = $2"
    ))
    .bind(message.as_uuid())
    .bind(org.as_uuid())
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_err)?
    .ok_or(StoreError::NotFound)?
    .try_into()
}

/// Records a sent part: advances the counter and, when the platform named the part, keeps
/// its id at the counter's previous value. `NotFound` when the delivery is not the
/// organization's.
async fn record_part(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    message: MessageId,
    external_id: Option<String>,
) -> StoreResult<()> {
    // The row lock of this UPDATE orders concurrent parts: each gets its own position.
    let (channel, position): (Uuid, i64) = sqlx::query_as(
        "UPDATE deliveries SET parts_sent = parts_sent + 1
         WHERE message_id = $1 AND organization_id = $2
         RETURNING channel_id, parts_sent - 1",
    )
    .bind(message.as_uuid())
    .bind(org.as_uuid())
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_err)?
    .ok_or(StoreError::NotFound)?;
    if let Some(external_id) = external_id {
        sqlx::query(
            "INSERT INTO delivery_parts (channel_id, external_id, organization_id, message_id,
                                         position)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(channel)
        .bind(external_id)
        .bind(org.as_uuid())
        .bind(message.as_uuid())
        .bind(position)
        .execute(&mut **tx)
        .await
        .map_err(store_err)?;
    }
    Ok(())
}

/// Applies every [`DeliveryUpdate`] but [`DeliveryUpdate::PartSent`] (see [`record_part`]);
/// `NotFound` when the delivery is not the organization's.
async fn apply_update(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    message: MessageId,
    update: DeliveryUpdate,
    now: i64,
) -> StoreResult<()> {
    let query = |sql: &'static str| sqlx::query(sql).bind(message.as_uuid()).bind(org.as_uuid());
    let done = match update {
        DeliveryUpdate::PartSent { external_id } => {
            return record_part(tx, org, message, external_id).await;
        }
        DeliveryUpdate::AttemptFailed { error } => query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $3
             WHERE message_id = $1 AND organization_id = $2",
        )
        .bind(storable(&error).into_owned()),
        DeliveryUpdate::Sent => query(
            "UPDATE deliveries SET state = 'sent', sent_at = $3
             WHERE message_id = $1 AND organization_id = $2",
        )
        .bind(now),
        DeliveryUpdate::Failed { error } => query(
            "UPDATE deliveries SET state = 'failed', last_error = $3
             WHERE message_id = $1 AND organization_id = $2",
        )
        .bind(storable(&error).into_owned()),
        DeliveryUpdate::Skipped { reason } => query(
            "UPDATE deliveries SET state = 'skipped', last_error = $3
             WHERE message_id = $1 AND organization_id = $2",
        )
        .bind(reason),
        DeliveryUpdate::PlatformStatus { status, error } => query(
            "UPDATE deliveries SET platform_status = $3, last_error = COALESCE($4, last_error)
             WHERE message_id = $1 AND organization_id = $2",
        )
        .bind(status)
        .bind(error.map(|e| storable(&e).into_owned())),
    }
    .execute(&mut **tx)
    .await
    .map_err(store_err)?;
    expect_one(done.rows_affected())
}

#[async_trait]
impl ChannelRepo for PgStore {
    async fn create_channel(
        &self,
        org: OrgId,
        bot: BotId,
        new: NewChannel,
    ) -> StoreResult<Channel> {
        let settings = json_text(&new.settings)?;
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, ChannelRow>(concat!(
            "INSERT INTO channels (id, organization_id, bot_id, kind, name, session_channel, \
             settings, key_id, nonce, ciphertext, status, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
             WHERE EXISTS (SELECT 1 FROM bots WHERE organization_id = $2 AND id = $3) \
             RETURNING ",
            channel_columns!()
        ))
        .bind(new.id.as_uuid())
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(session_channel(new.kind, new.id))
        .bind(settings)
        .bind(&new.secrets.key_id)
        .bind(&new.secrets.nonce)
        .bind(&new.secrets.ciphertext)
        .bind(new.status.as_str())
        .bind(micros(self.now()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn get_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<Channel> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, ChannelRow>(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.as_uuid())
        .bind(channel.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn locate_channel(&self, channel: ChannelId) -> StoreResult<Channel> {
        let mut tx = self.platform().await?;
        let row = sqlx::query_as::<_, ChannelRow>(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE id = $1"
        ))
        .bind(channel.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn list_channels(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Channel>> {
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, ChannelRow>(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE organization_id = $1 AND bot_id = $2 ORDER BY id"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        channels(rows)
    }

    async fn all_channels(&self) -> StoreResult<Vec<Channel>> {
        let mut tx = self.platform().await?;
        let rows = sqlx::query_as::<_, ChannelRow>(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels ORDER BY id"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        channels(rows)
    }

    async fn update_channel(
        &self,
        org: OrgId,
        channel: ChannelId,
        patch: ChannelPatch,
    ) -> StoreResult<Channel> {
        let settings = patch.settings.as_ref().map(json_text).transpose()?;
        let secrets = patch.secrets.as_ref();
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, ChannelRow>(concat!(
            "UPDATE channels SET name = COALESCE($3, name), status = COALESCE($4, status), \
             last_error = CASE WHEN $5::boolean THEN $6::text ELSE last_error END, \
             settings = COALESCE($7, settings), key_id = COALESCE($8, key_id), \
             nonce = COALESCE($9, nonce), ciphertext = COALESCE($10, ciphertext), \
             last_inbound_at = COALESCE($11, last_inbound_at), \
             last_outbound_at = COALESCE($12, last_outbound_at) \
             WHERE id = $1 AND organization_id = $2 RETURNING ",
            channel_columns!()
        ))
        .bind(channel.as_uuid())
        .bind(org.as_uuid())
        .bind(patch.name)
        .bind(patch.status.map(ChannelStatus::as_str))
        .bind(patch.last_error.is_some())
        .bind(
            patch
                .last_error
                .flatten()
                .map(|e| storable(&e).into_owned()),
        )
        .bind(settings)
        .bind(secrets.map(|s| s.key_id.clone()))
        .bind(secrets.map(|s| s.nonce.clone()))
        .bind(secrets.map(|s| s.ciphertext.clone()))
        .bind(patch.inbound_at.map(micros))
        .bind(patch.outbound_at.map(micros))
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn delete_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done = sqlx::query("DELETE FROM channels WHERE id = $1 AND organization_id = $2")
            .bind(channel.as_uuid())
            .bind(org.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }

    async fn pending_deliveries(
        &self,
        org: OrgId,
        session: SessionId,
    ) -> StoreResult<Vec<Delivery>> {
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries d WHERE d.session_id = $1 AND d.state = 'pending' \
              AND d.organization_id = $2 ORDER BY d.message_id"
        ))
        .bind(session.as_uuid())
        .bind(org.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        deliveries(rows)
    }

    async fn get_delivery(&self, org: OrgId, message: MessageId) -> StoreResult<Delivery> {
        let mut tx = self.tenant(org).await?;
        let delivery = delivery_in(&mut tx, org, message).await?;
        commit(tx).await?;
        Ok(delivery)
    }

    async fn update_delivery(
        &self,
        org: OrgId,
        message: MessageId,
        update: DeliveryUpdate,
    ) -> StoreResult<Delivery> {
        let now = micros(self.now());
        let mut tx = self.tenant(org).await?;
        apply_update(&mut tx, org, message, update, now).await?;
        let delivery = delivery_in(&mut tx, org, message).await?;
        commit(tx).await?;
        Ok(delivery)
    }

    async fn find_delivery(&self, channel: ChannelId, external_id: &str) -> StoreResult<Delivery> {
        let mut tx = self.platform().await?;
        let row = sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM delivery_parts p JOIN deliveries d ON d.message_id = p.message_id \
              WHERE p.channel_id = $1 AND p.external_id = $2"
        ))
        .bind(channel.as_uuid())
        .bind(external_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn sessions_with_pending_deliveries(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, SessionId)>> {
        let mut tx = self.platform().await?;
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT organization_id, session_id FROM deliveries \
             WHERE state = 'pending' AND created_at < $1 \
             GROUP BY organization_id, session_id ORDER BY MIN(created_at) LIMIT $2",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(rows
            .into_iter()
            .map(|(org, session)| (org.into(), session.into()))
            .collect())
    }
}
