//! The repository of connected channels and their outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{Channel, ChannelPatch, Delivery, NewChannel};
use crate::id::{BotId, ChannelId, MessageId, OrgId, SessionId};

/// A change to a delivery in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryUpdate {
    /// The next part was accepted by the platform, with its id there (if it gave one).
    PartSent {
        /// The platform's id of the part.
        external_id: Option<String>,
    },
    /// An attempt failed and will be retried.
    AttemptFailed {
        /// Why, for people.
        error: String,
    },
    /// Every part was sent.
    Sent,
    /// The platform refused it for good.
    Failed {
        /// Why, for people.
        error: String,
    },
    /// Not sent on purpose.
    Skipped {
        /// Why, for people.
        reason: String,
    },
    /// The platform reported what became of it (`delivered`, `read`, `failed`).
    PlatformStatus {
        /// The platform's word.
        status: String,
        /// Its error, when it failed.
        error: Option<String>,
    },
}

/// Connected channels (per bot, secrets sealed) and the outbox of replies to them.
///
/// Contract of the outbox: every message stored with direction `outbound` or `agent` in a
/// session whose `channel` is a connected channel's [`Channel::session_channel`] gets a
/// pending [`Delivery`] **in the same transaction** as the message; deleting the channel
/// deletes its deliveries.
#[async_trait]
pub trait ChannelRepo: Send + Sync + 'static {
    /// Connects a channel to `bot` (`NotFound` when the bot is not the organization's).
    async fn create_channel(&self, org: OrgId, bot: BotId, new: NewChannel)
    -> StoreResult<Channel>;

    /// One channel of the organization.
    async fn get_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<Channel>;

    /// A channel by id alone: for webhooks, whose URL names only the channel, and workers.
    async fn locate_channel(&self, channel: ChannelId) -> StoreResult<Channel>;

    /// The channels of a bot, oldest first.
    async fn list_channels(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Channel>>;

    /// Every channel of every organization (long polling at start-up, key rotation).
    async fn all_channels(&self) -> StoreResult<Vec<Channel>>;

    /// Changes a channel's name, settings, secrets or standing.
    async fn update_channel(
        &self,
        org: OrgId,
        channel: ChannelId,
        patch: ChannelPatch,
    ) -> StoreResult<Channel>;

    /// Disconnects a channel (its outbox goes with it; its sessions stay).
    async fn delete_channel(&self, org: OrgId, channel: ChannelId) -> StoreResult<()>;

    /// The session's deliveries still pending, in message order.
    async fn pending_deliveries(
        &self,
        org: OrgId,
        session: SessionId,
    ) -> StoreResult<Vec<Delivery>>;

    /// One delivery.
    async fn get_delivery(&self, org: OrgId, message: MessageId) -> StoreResult<Delivery>;

    /// Records progress on a delivery ([`DeliveryUpdate`]).
    async fn update_delivery(
        &self,
        org: OrgId,
        message: MessageId,
        update: DeliveryUpdate,
    ) -> StoreResult<Delivery>;

    /// The delivery one of whose parts the platform knows as `external_id` on `channel`.
    async fn find_delivery(&self, channel: ChannelId, external_id: &str) -> StoreResult<Delivery>;

    /// Sessions with a delivery pending since before `before`, oldest first, at most `limit`:
    /// what a sweep hands to the dispatcher again after a crash or a lost wake-up.
    async fn sessions_with_pending_deliveries(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, SessionId)>>;
}
