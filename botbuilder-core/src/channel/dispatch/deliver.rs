//! The delivery half of the channel worker: a session's outbox, in order, to its platform.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use super::{ChannelWorker, MAX_INLINE_WAIT, Outcome, backoff};

/// Messages read back to find the user's last one for a service window: a session with more
/// bot and agent messages than this since the user wrote counts as outside it.
const WINDOW_SCAN: u32 = 500;
use crate::channel::service::{ChannelServiceError, PreparedChannel};
use crate::channel::{ChannelError, OutboundMessage, Recipient, format};
use crate::domain::{
    Channel, ChannelPatch, Delivery, Message, MessageDirection, session_channel_of,
};
use crate::id::{MessageId, OrgId, SessionId};
use crate::queue::LeasedJob;
use crate::rate_limit::RateLimitError;
use crate::store::{DeliveryUpdate, StoreError};

impl ChannelWorker {
    pub(super) async fn deliver_job(&self, job: &LeasedJob) -> Outcome {
        let parsed = (|| {
            let org: OrgId = serde_json::from_value(job.payload["org"].clone()).ok()?;
            let session: SessionId = serde_json::from_value(job.payload["session"].clone()).ok()?;
            Some((org, session))
        })();
        let Some((org, session)) = parsed else {
            tracing::warn!(job = %job.id, "malformed delivery job dropped");
            return Outcome::Done;
        };
        let lock = {
            let mut sessions = self.sessions.lock().expect("session locks poisoned");
            sessions.retain(|_, lock| Arc::strong_count(lock) > 1);
            sessions.entry(session).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        match self.deliver(org, session).await {
            Ok(()) => Outcome::Done,
            Err(Undelivered::Gone) => Outcome::Done,
            Err(Undelivered::Retry { after, reason }) => {
                if job.attempt >= super::DELIVER_ATTEMPTS {
                    self.give_up(org, session, &reason).await;
                }
                Outcome::Retry {
                    after: after
                        .unwrap_or_else(|| backoff(job.attempt))
                        .max(backoff(job.attempt) / 2),
                    reason,
                }
            }
        }
    }

    /// Marks the session's pending replies `failed` after the last attempt, so the replies
    /// that come later are not held behind them (the job itself is dead-lettered).
    async fn give_up(&self, org: OrgId, session: SessionId, reason: &str) {
        let error = format!(
            "gave up after {} attempts: {reason}",
            super::DELIVER_ATTEMPTS
        );
        let pending = self
            .store
            .pending_deliveries(org, session)
            .await
            .unwrap_or_default();
        for delivery in pending {
            let update = DeliveryUpdate::Failed {
                error: error.clone(),
            };
            if let Err(e) = self
                .store
                .update_delivery(org, delivery.message_id, update)
                .await
            {
                tracing::warn!(session = %session, "cannot mark a delivery failed: {e}");
            }
        }
    }

    /// Delivers every pending reply of `session`, in order (see the module docs), including
    /// those stored while it runs.
    pub async fn deliver(&self, org: OrgId, session: SessionId) -> Result<(), Undelivered> {
        // Bounded: a session whose bot keeps answering is left to the jobs its replies enqueue.
        for _ in 0..16 {
            if !self.deliver_pending(org, session).await? {
                break;
            }
        }
        Ok(())
    }

    /// Delivers the replies pending now; `false` when there were none.
    async fn deliver_pending(&self, org: OrgId, session: SessionId) -> Result<bool, Undelivered> {
        let pending = self
            .store
            .pending_deliveries(org, session)
            .await
            .map_err(Undelivered::store)?;
        let Some(first) = pending.first() else {
            return Ok(false);
        };
        let prepared = match self.channels.prepared(first.channel_id).await {
            Ok(p) if p.opened.channel.org_id == org => p,
            Ok(_) | Err(ChannelServiceError::Store(StoreError::NotFound)) => {
                return Err(Undelivered::Gone);
            }
            Err(e) => return Err(Undelivered::retry(None, &e)),
        };
        let found = self
            .store
            .get_session(org, session)
            .await
            .map_err(Undelivered::store)?;
        if session_channel_of(&found.channel).map(|(_, id)| id) != Some(prepared.opened.channel.id)
        {
            return Err(Undelivered::Gone);
        }
        let recipient = prepared
            .opened
            .channel
            .kind
            .recipient_of(&found.external_user);
        let outside_window = match prepared.sender.service_window() {
            Some(window) => {
                let recent = self
                    .store
                    .recent_messages(org, session, WINDOW_SCAN)
                    .await
                    .map_err(Undelivered::store)?;
                let last_inbound = recent
                    .iter()
                    .rev()
                    .find(|m| m.direction == MessageDirection::Inbound);
                let window = TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX);
                last_inbound.is_none_or(|m| self.clock.now() - m.created_at > window)
            }
            None => false,
        };
        for delivery in pending {
            if outside_window {
                let reason = "not sent: outside the platform's 24-hour customer-service window \
                              (the user has not written since; only an approved template may be sent)";
                self.update(
                    org,
                    delivery.message_id,
                    DeliveryUpdate::Skipped {
                        reason: reason.to_owned(),
                    },
                )
                .await?;
                continue;
            }
            let message = match self.store.get_message(org, delivery.message_id).await {
                Ok(message) => message,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(Undelivered::store(e)),
            };
            self.deliver_one(&prepared, &recipient, &delivery, &message)
                .await?;
        }
        Ok(true)
    }

    async fn deliver_one(
        &self,
        prepared: &PreparedChannel,
        recipient: &Recipient,
        delivery: &Delivery,
        message: &Message,
    ) -> Result<(), Undelivered> {
        let org = delivery.org_id;
        let channel = &prepared.opened.channel;
        let outbound = OutboundMessage::from_stored(&message.text, &message.payload);
        let parts = format(&outbound, &prepared.sender.capabilities());
        for part in parts.iter().skip(delivery.parts_sent as usize) {
            self.within_rate_limits(prepared, recipient).await?;
            match prepared.sender.send(recipient, part).await {
                Ok(receipt) => {
                    // Platform message ids are unique per conversation (a Telegram chat, a
                    // Slack channel), so they are kept with it.
                    let external_id = receipt
                        .external_id
                        .map(|id| super::part_key(&recipient.conversation, &id));
                    self.update(org, message.id, DeliveryUpdate::PartSent { external_id })
                        .await?;
                }
                Err(ChannelError::Permanent(why)) => {
                    self.update(org, message.id, DeliveryUpdate::Failed { error: why })
                        .await?;
                    return Ok(());
                }
                Err(e) => {
                    let reason = crate::error_chain(&e);
                    self.update(
                        org,
                        message.id,
                        DeliveryUpdate::AttemptFailed {
                            error: reason.clone(),
                        },
                    )
                    .await?;
                    if matches!(e, ChannelError::Unauthorized(_)) {
                        self.channels.record_error(channel, &e).await;
                    }
                    let after = match e {
                        ChannelError::RateLimited { retry_after } => retry_after,
                        _ => None,
                    };
                    return Err(Undelivered::Retry { after, reason });
                }
            }
        }
        self.update(org, message.id, DeliveryUpdate::Sent).await?;
        self.touch_outbound(channel).await;
        Ok(())
    }

    async fn update(
        &self,
        org: OrgId,
        message: MessageId,
        update: DeliveryUpdate,
    ) -> Result<(), Undelivered> {
        self.store
            .update_delivery(org, message, update)
            .await
            .map(drop)
            .map_err(Undelivered::store)
    }

    async fn touch_outbound(&self, channel: &Channel) {
        let patch = ChannelPatch {
            outbound_at: Some(self.clock.now()),
            ..ChannelPatch::default()
        };
        if let Err(e) = self
            .store
            .update_channel(channel.org_id, channel.id, patch)
            .await
        {
            tracing::warn!(channel = %channel.id, "cannot record the last outbound time: {e}");
        }
    }

    /// Waits for the per-conversation and overall quotas, in place up to
    /// [`MAX_INLINE_WAIT`]; a longer wait retries the job after it.
    async fn within_rate_limits(
        &self,
        prepared: &PreparedChannel,
        to: &Recipient,
    ) -> Result<(), Undelivered> {
        let limits = prepared.sender.rate_limits();
        let id = prepared.opened.channel.id;
        let keyed = [
            (
                format!("channel:{id}:to:{}", to.conversation),
                limits.per_conversation,
            ),
            (format!("channel:{id}"), limits.overall),
        ];
        for (key, quota) in keyed {
            let Some(quota) = quota else { continue };
            loop {
                match self.limiter.check(&key, quota).await {
                    Ok(()) => break,
                    Err(RateLimitError::Limited { retry_after })
                        if retry_after <= MAX_INLINE_WAIT =>
                    {
                        tokio::time::sleep(retry_after).await;
                    }
                    Err(RateLimitError::Limited { retry_after }) => {
                        return Err(Undelivered::Retry {
                            after: Some(retry_after),
                            reason: "waiting for the platform's rate limit".to_owned(),
                        });
                    }
                    // The limiter is down: send anyway; the platform's own 429 still holds us.
                    Err(RateLimitError::Unavailable(e)) => {
                        tracing::warn!("rate limiter unavailable: {e}");
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Why a session's replies were not all delivered.
#[derive(Debug)]
pub enum Undelivered {
    /// The channel or session no longer exists (nothing to do).
    Gone,
    /// Try again later, after `after` when the platform said.
    Retry {
        /// The platform's `retry_after`, if any.
        after: Option<Duration>,
        /// Why, for the dead-letter list.
        reason: String,
    },
}

impl Undelivered {
    fn store(e: StoreError) -> Self {
        Self::retry(None, &e)
    }

    fn retry(after: Option<Duration>, e: &dyn std::error::Error) -> Self {
        Self::Retry {
            after,
            reason: crate::error_chain(e),
        }
    }
}

impl std::fmt::Display for Undelivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gone => f.write_str("the channel or session is gone"),
            Self::Retry { reason, .. } => f.write_str(reason),
        }
    }
}
