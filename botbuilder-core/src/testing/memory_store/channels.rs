//! [`ChannelRepo`] for the in-memory store, with the outbox written beside each reply.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Data, InMemoryStore};
use crate::domain::{
    Change, Channel, ChannelPatch, Delivery, DeliveryState, Message, MessageDirection, NewChannel,
};
use crate::id::{BotId, ChannelId, MessageId, OrgId, SessionId};
use crate::store::{ChannelRepo, DeliveryUpdate, StoreError, StoreResult};

impl Data {
    /// What the SQLite triggers do: a message gets its webhook event, and a reply in a
    /// connected channel's session gets a pending delivery.
    pub(super) fn outbox(&mut self, message: &Message) {
        let kind = if message.direction == MessageDirection::Inbound {
            crate::domain::WebhookEventType::MessageReceived
        } else {
            crate::domain::WebhookEventType::MessageSent
        };
        self.webhook_event(
            message.org_id,
            kind,
            Some(message.session_id),
            message.id.as_uuid(),
            message.created_at,
        );
        if !matches!(
            message.direction,
            MessageDirection::Outbound | MessageDirection::Agent
        ) {
            return;
        }
        let Some(session) = self.sessions.get(&message.session_id) else {
            return;
        };
        let channel = self
            .channels
            .values()
            .find(|c| c.org_id == message.org_id && c.session_channel() == session.channel);
        if let Some(channel) = channel {
            let delivery = Delivery {
                message_id: message.id,
                org_id: message.org_id,
                channel_id: channel.id,
                session_id: message.session_id,
                state: DeliveryState::Pending,
                parts_sent: 0,
                external_ids: Vec::new(),
                platform_status: None,
                attempts: 0,
                last_error: None,
                created_at: message.created_at,
                sent_at: None,
            };
            self.deliveries.insert(message.id, delivery);
        }
    }

    /// Deletes the channels `gone` picks, with their outbox (what SQLite's foreign keys do).
    pub(super) fn forget_channels(&mut self, gone: impl Fn(&Channel) -> bool) {
        let ids: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| gone(c))
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.channels.remove(&id);
            self.deliveries.retain(|_, d| d.channel_id != id);
            self.delivery_parts.retain(|(c, _), _| *c != id);
        }
    }

    fn delivery_in(&mut self, org: OrgId, message: MessageId) -> StoreResult<&mut Delivery> {
        self.deliveries
            .get_mut(&message)
            .filter(|d| d.org_id == org)
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl ChannelRepo for InMemoryStore {
    async fn create_channel(
        &self,
        org: OrgId,
        bot: BotId,
        new: NewChannel,
    ) -> StoreResult<Channel> {
        let now = self.now();
        let mut data = self.data();
        data.bot_of(org, bot)?;
        if data.channels.contains_key(&new.id) {
            return Err(StoreError::Conflict("already exists".to_owned()));
        }
        let channel = Channel {
            id: new.id,
            org_id: org,
            bot_id: bot,
            kind: new.kind,
            name: new.name,
            settings: new.settings,
            secrets: new.secrets,
            status: new.status,
            last_error: None,
            last_inbound_at: None,
            last_outbound_at: None,
            created_at: now,
        };
        data.channels.insert(channel.id, channel.clone());
        Ok(channel)
    }

    async fn get_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<Channel> {
        self.data()
            .channels
            .get(&channel)
            .filter(|c| c.org_id == org)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn locate_channel(&self, channel: ChannelId) -> StoreResult<Channel> {
        self.data()
            .channels
            .get(&channel)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn list_channels(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Channel>> {
        Ok(self
            .data()
            .channels
            .values()
            .filter(|c| c.org_id == org && c.bot_id == bot)
            .cloned()
            .collect())
    }

    async fn all_channels(&self) -> StoreResult<Vec<Channel>> {
        Ok(self.data().channels.values().cloned().collect())
    }

    async fn update_channel(
        &self,
        org: OrgId,
        channel: ChannelId,
        patch: ChannelPatch,
    ) -> StoreResult<Channel> {
        let now = self.now();
        let mut data = self.data();
        let stored = data
            .channels
            .get_mut(&channel)
            .filter(|c| c.org_id == org)
            .ok_or(StoreError::NotFound)?;
        let before = stored.clone();
        if let Some(name) = patch.name {
            stored.name = name;
        }
        if let Some(status) = patch.status {
            stored.status = status;
        }
        if let Some(error) = patch.last_error {
            stored.last_error = error;
        }
        if let Some(settings) = patch.settings {
            stored.settings = settings;
        }
        if let Some(secrets) = patch.secrets {
            stored.secrets = secrets;
        }
        if let Some(at) = patch.inbound_at {
            stored.last_inbound_at = Some(at);
        }
        if let Some(at) = patch.outbound_at {
            stored.last_outbound_at = Some(at);
        }
        let updated = stored.clone();
        // Activity timestamps and errors are not configuration: they record no change.
        if updated.name != before.name
            || updated.status != before.status
            || updated.settings != before.settings
            || updated.secrets != before.secrets
        {
            data.record_change(Change::Channel { org, channel }, now);
        }
        Ok(updated)
    }

    async fn delete_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<()> {
        let mut data = self.data();
        if data.channels.get(&channel).is_none_or(|c| c.org_id != org) {
            return Err(StoreError::NotFound);
        }
        data.forget_channels(|c| c.id == channel);
        data.record_change(Change::Channel { org, channel }, self.now());
        Ok(())
    }

    async fn pending_deliveries(
        &self,
        org: OrgId,
        session: SessionId,
    ) -> StoreResult<Vec<Delivery>> {
        Ok(self
            .data()
            .deliveries
            .values()
            .filter(|d| d.org_id == org && d.session_id == session)
            .filter(|d| d.state == DeliveryState::Pending)
            .cloned()
            .collect())
    }

    async fn get_delivery(&self, org: OrgId, message: MessageId) -> StoreResult<Delivery> {
        self.data().delivery_in(org, message).map(|d| d.clone())
    }

    async fn update_delivery(
        &self,
        org: OrgId,
        message: MessageId,
        update: DeliveryUpdate,
    ) -> StoreResult<Delivery> {
        let now = self.now();
        let mut data = self.data();
        let delivery = data.delivery_in(org, message)?;
        let mut part = None;
        match update {
            DeliveryUpdate::PartSent { external_id } => {
                if let Some(id) = external_id {
                    delivery.external_ids.push(id.clone());
                    part = Some((delivery.channel_id, id));
                }
                delivery.parts_sent += 1;
            }
            DeliveryUpdate::AttemptFailed { error } => {
                delivery.attempts += 1;
                delivery.last_error = Some(error);
            }
            DeliveryUpdate::Sent => {
                delivery.state = DeliveryState::Sent;
                delivery.sent_at = Some(now);
            }
            DeliveryUpdate::Failed { error } => {
                delivery.state = DeliveryState::Failed;
                delivery.last_error = Some(error);
            }
            DeliveryUpdate::Skipped { reason } => {
                delivery.state = DeliveryState::Skipped;
                delivery.last_error = Some(reason);
            }
            DeliveryUpdate::PlatformStatus { status, error } => {
                delivery.platform_status = Some(status);
                if error.is_some() {
                    delivery.last_error = error;
                }
            }
        }
        let updated = delivery.clone();
        if let Some(key) = part {
            data.delivery_parts.entry(key).or_insert(message);
        }
        Ok(updated)
    }

    async fn find_delivery(&self, channel: ChannelId, external_id: &str) -> StoreResult<Delivery> {
        let data = self.data();
        let message = data
            .delivery_parts
            .get(&(channel, external_id.to_owned()))
            .ok_or(StoreError::NotFound)?;
        data.deliveries
            .get(message)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn sessions_with_pending_deliveries(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, SessionId)>> {
        let data = self.data();
        let mut oldest: Vec<(DateTime<Utc>, OrgId, SessionId)> = Vec::new();
        for d in data.deliveries.values() {
            if d.state != DeliveryState::Pending || d.created_at >= before {
                continue;
            }
            match oldest
                .iter_mut()
                .find(|(_, o, s)| *o == d.org_id && *s == d.session_id)
            {
                Some(entry) => entry.0 = entry.0.min(d.created_at),
                None => oldest.push((d.created_at, d.org_id, d.session_id)),
            }
        }
        oldest.sort();
        Ok(oldest
            .into_iter()
            .take(limit as usize)
            .map(|(_, org, session)| (org, session))
            .collect())
    }
}
