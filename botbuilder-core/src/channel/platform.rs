//! The port a messaging platform implements to be connectable: building a channel's two
//! halves from its settings, checking its credentials, and registering its webhook.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    ChannelError, ChannelKind, ChannelSender, InboundAdapter, InboundEvent, OpenedChannel,
};

/// One messaging platform (implemented in `botbuilder-channels`).
#[async_trait]
pub trait ChannelPlatform: Send + Sync + 'static {
    /// The platform.
    fn kind(&self) -> ChannelKind;

    /// The platform's id of the account `channel` acts as, when an account may be connected
    /// to one channel only (Telegram: connecting a bot again would move its one webhook, and
    /// disconnecting either channel would delete it). `None` (the default): no such limit.
    fn exclusive_account(&self, channel: &OpenedChannel) -> Option<String> {
        let _ = channel;
        None
    }

    /// Secret settings generated when a channel is connected (Telegram's webhook
    /// `secret_token`), stored with the others.
    fn generated_secrets(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The inbound half of `channel`.
    fn inbound(&self, channel: &OpenedChannel) -> Arc<dyn InboundAdapter>;

    /// The outbound half of `channel`.
    fn sender(&self, channel: &OpenedChannel) -> Arc<dyn ChannelSender>;

    /// Checks the credentials with the platform; returns what it calls the account
    /// (`@acme_bot`, a phone number, a bot user id).
    async fn check(&self, channel: &OpenedChannel) -> Result<String, ChannelError>;

    /// Points the platform at `webhook_url` (Telegram `setWebhook`), or, without one, gets it
    /// ready for [`ChannelPlatform::poll`]; returns whether the channel polls. Platforms whose
    /// webhook is set in their own console (WhatsApp, Slack) do nothing and never poll.
    async fn register(
        &self,
        channel: &OpenedChannel,
        webhook_url: Option<&str>,
    ) -> Result<bool, ChannelError>;

    /// Stops the platform sending to us (Telegram `deleteWebhook`); nothing by default.
    async fn unregister(&self, channel: &OpenedChannel) -> Result<(), ChannelError> {
        let _ = channel;
        Ok(())
    }

    /// Long-polls for events after `offset`, waiting up to `wait`; returns them and the
    /// offset to ask from next (it confirms these to the platform). Only platforms that can
    /// poll (Telegram `getUpdates`) override this.
    async fn poll(
        &self,
        channel: &OpenedChannel,
        offset: i64,
        wait: Duration,
    ) -> Result<(Vec<InboundEvent>, i64), ChannelError> {
        let _ = (channel, offset, wait);
        Err(ChannelError::Permanent(format!(
            "{} cannot poll for updates",
            self.kind().as_str()
        )))
    }
}

/// The platforms a server can connect, by kind.
#[derive(Clone, Default)]
pub struct Platforms(HashMap<ChannelKind, Arc<dyn ChannelPlatform>>);

impl std::fmt::Debug for Platforms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Platforms {
    /// These platforms (a later one of the same kind replaces an earlier one).
    pub fn new(platforms: impl IntoIterator<Item = Arc<dyn ChannelPlatform>>) -> Self {
        Self(platforms.into_iter().map(|p| (p.kind(), p)).collect())
    }

    /// The platform of `kind`, if this server has it.
    pub fn get(&self, kind: ChannelKind) -> Option<&Arc<dyn ChannelPlatform>> {
        self.0.get(&kind)
    }
}
