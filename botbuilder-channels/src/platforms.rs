//! The three platforms as [`ChannelPlatform`]s: what the server connects channels with.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::channel::{
    ChannelError, ChannelKind, ChannelPlatform, ChannelSender, InboundAdapter, InboundEvent,
    OpenedChannel, Platforms,
};
use botbuilder_core::fetch::Fetcher;

/// Every platform this build has, calling out through `fetcher` (the outbound guard).
#[allow(clippy::vec_init_then_push)] // each push is behind its platform's feature
pub fn platforms(fetcher: Arc<dyn Fetcher>) -> Platforms {
    let mut all: Vec<Arc<dyn ChannelPlatform>> = Vec::new();
    #[cfg(feature = "telegram")]
    all.push(Arc::new(Telegram(fetcher.clone())));
    #[cfg(feature = "whatsapp")]
    all.push(Arc::new(WhatsApp(fetcher.clone())));
    #[cfg(feature = "slack")]
    all.push(Arc::new(Slack(fetcher.clone())));
    let _ = fetcher;
    Platforms::new(all)
}

/// Telegram: webhook with a generated secret token, or long polling without a public URL.
#[cfg(feature = "telegram")]
#[derive(Clone)]
pub struct Telegram(pub Arc<dyn Fetcher>);

#[cfg(feature = "telegram")]
impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telegram")
    }
}

#[cfg(feature = "telegram")]
impl Telegram {
    fn api(&self, channel: &OpenedChannel) -> crate::telegram::TelegramApi {
        crate::telegram::TelegramApi::new(
            channel.secret("bot_token"),
            channel.api_base_url(),
            self.0.clone(),
        )
    }
}

#[cfg(feature = "telegram")]
#[async_trait]
impl ChannelPlatform for Telegram {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn generated_secrets(&self) -> Vec<(&'static str, String)> {
        vec![("secret_token", crate::telegram::new_secret_token())]
    }

    /// The bot's id: the number before the colon of its token
    /// (<https://core.telegram.org/bots/api#authorizing-your-bot>).
    fn exclusive_account(&self, channel: &OpenedChannel) -> Option<String> {
        let (id, _) = channel.secret("bot_token").split_once(':')?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_owned())
    }

    fn inbound(&self, channel: &OpenedChannel) -> Arc<dyn InboundAdapter> {
        Arc::new(crate::telegram::TelegramInbound::new(
            channel.secret("secret_token"),
        ))
    }

    fn sender(&self, channel: &OpenedChannel) -> Arc<dyn ChannelSender> {
        Arc::new(self.api(channel))
    }

    async fn check(&self, channel: &OpenedChannel) -> Result<String, ChannelError> {
        let username = self.api(channel).get_me().await?;
        Ok(if username.is_empty() {
            username
        } else {
            format!("@{username}")
        })
    }

    async fn register(
        &self,
        channel: &OpenedChannel,
        webhook_url: Option<&str>,
    ) -> Result<bool, ChannelError> {
        let api = self.api(channel);
        match webhook_url {
            Some(url) => api
                .set_webhook(url, channel.secret("secret_token"))
                .await
                .map(|()| false),
            // getUpdates works only without a webhook.
            None => api.delete_webhook().await.map(|()| true),
        }
    }

    async fn unregister(&self, channel: &OpenedChannel) -> Result<(), ChannelError> {
        self.api(channel).delete_webhook().await
    }

    async fn poll(
        &self,
        channel: &OpenedChannel,
        offset: i64,
        wait: Duration,
    ) -> Result<(Vec<InboundEvent>, i64), ChannelError> {
        let updates = self.api(channel).get_updates(offset, wait).await?;
        let mut next = offset;
        let mut events = Vec::new();
        for update in &updates {
            match crate::telegram::parse_update(update) {
                Ok((id, event)) => {
                    next = next.max(id.saturating_add(1));
                    events.extend(event);
                }
                Err(e) => tracing::warn!("skipped a malformed Telegram update: {e}"),
            }
        }
        Ok((events, next))
    }
}

/// WhatsApp Cloud API: the webhook is set in Meta's app dashboard.
#[cfg(feature = "whatsapp")]
#[derive(Clone)]
pub struct WhatsApp(pub Arc<dyn Fetcher>);

#[cfg(feature = "whatsapp")]
impl std::fmt::Debug for WhatsApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WhatsApp")
    }
}

#[cfg(feature = "whatsapp")]
impl WhatsApp {
    fn api(&self, channel: &OpenedChannel) -> crate::whatsapp::WhatsAppApi {
        crate::whatsapp::WhatsAppApi::new(
            channel.setting("phone_number_id").unwrap_or_default(),
            channel.secret("access_token"),
            channel.api_base_url(),
            self.0.clone(),
        )
    }
}

#[cfg(feature = "whatsapp")]
#[async_trait]
impl ChannelPlatform for WhatsApp {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WhatsApp
    }

    fn inbound(&self, channel: &OpenedChannel) -> Arc<dyn InboundAdapter> {
        Arc::new(crate::whatsapp::WhatsAppInbound::new(
            channel.secret("app_secret"),
            channel.secret("verify_token"),
            channel.setting("phone_number_id").unwrap_or_default(),
        ))
    }

    fn sender(&self, channel: &OpenedChannel) -> Arc<dyn ChannelSender> {
        Arc::new(self.api(channel))
    }

    async fn check(&self, channel: &OpenedChannel) -> Result<String, ChannelError> {
        self.api(channel).check().await
    }

    async fn register(&self, _: &OpenedChannel, _: Option<&str>) -> Result<bool, ChannelError> {
        Ok(false)
    }
}

/// Slack: the event and interactivity URLs are set in the app's settings.
#[cfg(feature = "slack")]
#[derive(Clone)]
pub struct Slack(pub Arc<dyn Fetcher>);

#[cfg(feature = "slack")]
impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slack")
    }
}

#[cfg(feature = "slack")]
impl Slack {
    fn api(&self, channel: &OpenedChannel) -> crate::slack::SlackApi {
        crate::slack::SlackApi::new(
            channel.secret("bot_token"),
            channel.api_base_url(),
            self.0.clone(),
        )
    }
}

#[cfg(feature = "slack")]
#[async_trait]
impl ChannelPlatform for Slack {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Slack
    }

    fn inbound(&self, channel: &OpenedChannel) -> Arc<dyn InboundAdapter> {
        Arc::new(crate::slack::SlackInbound::new(
            channel.secret("signing_secret"),
        ))
    }

    fn sender(&self, channel: &OpenedChannel) -> Arc<dyn ChannelSender> {
        Arc::new(self.api(channel))
    }

    async fn check(&self, channel: &OpenedChannel) -> Result<String, ChannelError> {
        self.api(channel).auth_test().await
    }

    async fn register(&self, _: &OpenedChannel, _: Option<&str>) -> Result<bool, ChannelError> {
        Ok(false)
    }
}
