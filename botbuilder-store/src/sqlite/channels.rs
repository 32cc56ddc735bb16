//! Connected channels and their outbox (the `messages_outbox` trigger of migration 0014
//! writes a delivery in the statement that stores each reply).

use async_trait::async_trait;
use botbuilder_core::domain::{
    Channel, ChannelPatch, ChannelStatus, Delivery, NewChannel, session_channel,
};
use botbuilder_core::id::{BotId, ChannelId, MessageId, OrgId, SessionId};
use botbuilder_core::store::{ChannelRepo, DeliveryUpdate, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::channels::{ChannelRow, DeliveryRow, channel_columns, channels, deliveries};
use crate::rows::micros;

macro_rules! delivery_columns {
    () => {
        "d.message_id, d.organization_id, d.channel_id, d.session_id, d.state, d.parts_sent, \
         d.platform_status, d.attempts, d.last_error, d.created_at, d.sent_at, \
         (SELECT json_group_array(external_id) FROM \
            (SELECT external_id FROM delivery_parts p WHERE p.message_id = d.message_id \
             ORDER BY position)) AS external_ids"
    };
}

#[async_trait]
impl ChannelRepo for SqliteStore {
    async fn create_channel(
        &self,
        org: OrgId,
        bot: BotId,
        new: NewChannel,
    ) -> StoreResult<Channel> {
        let settings = crate::rows::json_text(&new.settings)?;
        let row = sqlx::query_as::<_, ChannelRow>(concat!(
            "INSERT INTO channels (id, organization_id, bot_id, kind, name, session_channel, \
             settings, key_id, nonce, ciphertext, status, created_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
             WHERE EXISTS (SELECT 1 FROM bots WHERE organization_id = ?2 AND id = ?3) \
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
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        row.try_into()
    }

    async fn get_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<Channel> {
        let found = self.locate_channel(channel).await?;
        if found.org_id != org {
            return Err(StoreError::NotFound);
        }
        Ok(found)
    }

    async fn locate_channel(&self, channel: ChannelId) -> StoreResult<Channel> {
        sqlx::query_as::<_, ChannelRow>(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE id = ?"
        ))
        .bind(channel.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    async fn list_channels(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Channel>> {
        let rows = sqlx::query_as::<_, ChannelRow>(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE organization_id = ? AND bot_id = ? ORDER BY id"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        channels(rows)
    }

    async fn all_channels(&self) -> StoreResult<Vec<Channel>> {
        let rows = sqlx::query_as::<_, ChannelRow>(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        channels(rows)
    }

    async fn update_channel(
        &self,
        org: OrgId,
        channel: ChannelId,
        patch: ChannelPatch,
    ) -> StoreResult<Channel> {
        let settings = patch
            .settings
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let secrets = patch.secrets.as_ref();
        let row = sqlx::query_as::<_, ChannelRow>(concat!(
            "UPDATE channels SET name = COALESCE(?3, name), status = COALESCE(?4, status), \
             last_error = CASE WHEN ?5 THEN ?6 ELSE last_error END, \
             settings = COALESCE(?7, settings), key_id = COALESCE(?8, key_id), \
             nonce = COALESCE(?9, nonce), ciphertext = COALESCE(?10, ciphertext), \
             last_inbound_at = COALESCE(?11, last_inbound_at), \
             last_outbound_at = COALESCE(?12, last_outbound_at) \
             WHERE id = ?1 AND organization_id = ?2 RETURNING ",
            channel_columns!()
        ))
        .bind(channel.as_uuid())
        .bind(org.as_uuid())
        .bind(patch.name)
        .bind(patch.status.map(ChannelStatus::as_str))
        .bind(patch.last_error.is_some())
        .bind(patch.last_error.flatten())
        .bind(settings)
        .bind(secrets.map(|s| s.key_id.clone()))
        .bind(secrets.map(|s| s.nonce.clone()))
        .bind(secrets.map(|s| s.ciphertext.clone()))
        .bind(patch.inbound_at.map(micros))
        .bind(patch.outbound_at.map(micros))
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        row.try_into()
    }

    async fn delete_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM channels WHERE id = ? AND organization_id = ?")
            .bind(channel.as_uuid())
            .bind(org.as_uuid())
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())
    }

    async fn pending_deliveries(
        &self,
        org: OrgId,
        session: SessionId,
    ) -> StoreResult<Vec<Delivery>> {
        sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries d WHERE d.session_id = ? AND d.state = 'pending' \
              AND d.organization_id = ? ORDER BY d.message_id"
        ))
        .bind(session.as_uuid())
        .bind(org.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)
        .and_then(deliveries)
    }

    async fn get_delivery(&self, org: OrgId, message: MessageId) -> StoreResult<Delivery> {
        sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries d WHERE d.message_id = ? AND d.organization_id = ?"
        ))
        .bind(message.as_uuid())
        .bind(org.as_uuid())
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    async fn update_delivery(
        &self,
        org: OrgId,
        message: MessageId,
        update: DeliveryUpdate,
    ) -> StoreResult<Delivery> {
        let now = micros(self.now());
        let (sql, text, extra): (&str, Option<String>, Option<String>) = match update {
            DeliveryUpdate::PartSent { external_id } => {
                let mut tx = self.writer.begin().await.map_err(store_err)?;
                if let Some(external_id) = external_id {
                    sqlx::query(
                        "INSERT OR IGNORE INTO delivery_parts (channel_id, external_id, message_id, position) \
                         SELECT channel_id, ?3, message_id, parts_sent FROM deliveries \
                         WHERE message_id = ?1 AND organization_id = ?2",
                    )
                    .bind(message.as_uuid())
                    .bind(org.as_uuid())
                    .bind(external_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?;
                }
                let done = sqlx::query(
                    "UPDATE deliveries SET parts_sent = parts_sent + 1 \
                     WHERE message_id = ? AND organization_id = ?",
                )
                .bind(message.as_uuid())
                .bind(org.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
                expect_one(done.rows_affected())?;
                tx.commit().await.map_err(store_err)?;
                return self.get_delivery(org, message).await;
            }
            DeliveryUpdate::AttemptFailed { error } => (
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?3 \
                 WHERE message_id = ?1 AND organization_id = ?2",
                Some(error),
                None,
            ),
            DeliveryUpdate::Sent => (
                "UPDATE deliveries SET state = 'sent', sent_at = ?5 \
                 WHERE message_id = ?1 AND organization_id = ?2",
                None,
                None,
            ),
            DeliveryUpdate::Failed { error } => (
                "UPDATE deliveries SET state = 'failed', last_error = ?3 \
                 WHERE message_id = ?1 AND organization_id = ?2",
                Some(error),
                None,
            ),
            DeliveryUpdate::Skipped { reason } => (
                "UPDATE deliveries SET state = 'skipped', last_error = ?3 \
                 WHERE message_id = ?1 AND organization_id = ?2",
                Some(reason),
                None,
            ),
            DeliveryUpdate::PlatformStatus { status, error } => (
                "UPDATE deliveries SET platform_status = ?4, last_error = COALESCE(?3, last_error) \
                 WHERE message_id = ?1 AND organization_id = ?2",
                error,
                Some(status),
            ),
        };
        let done = sqlx::query(sql)
            .bind(message.as_uuid())
            .bind(org.as_uuid())
            .bind(text)
            .bind(extra)
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        self.get_delivery(org, message).await
    }

    async fn find_delivery(&self, channel: ChannelId, external_id: &str) -> StoreResult<Delivery> {
        sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM delivery_parts p JOIN deliveries d ON d.message_id = p.message_id \
              WHERE p.channel_id = ? AND p.external_id = ?"
        ))
        .bind(channel.as_uuid())
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    async fn sessions_with_pending_deliveries(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, SessionId)>> {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT organization_id, session_id FROM deliveries \
             WHERE state = 'pending' AND created_at < ? \
             GROUP BY organization_id, session_id ORDER BY MIN(created_at) LIMIT ?",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|(org, session)| (org.into(), session.into()))
            .collect())
    }
}
