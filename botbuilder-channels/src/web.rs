//! The web chat channel: bot messages are published to whoever listens for that session (an
//! SSE stream of the web chat API), and a bounded backlog lets a late listener catch up.

use async_trait::async_trait;
use botbuilder_core::channel::{
    Channel, ChannelCapabilities, ChannelError, DeliveryReceipt, OutboundMessage, Recipient,
};
use tokio::sync::broadcast;

/// Messages buffered per channel for slow listeners before the oldest are dropped.
pub const DEFAULT_BUFFER: usize = 1024;

/// A message published by the web channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDelivery {
    /// The web chat session it is for.
    pub to: Recipient,
    /// The message.
    pub message: OutboundMessage,
}

/// Delivers bot messages to web chat listeners through an in-process broadcast.
#[derive(Debug, Clone)]
pub struct WebChannel {
    sender: broadcast::Sender<WebDelivery>,
}

impl Default for WebChannel {
    fn default() -> Self {
        Self::new(DEFAULT_BUFFER)
    }
}

impl WebChannel {
    /// A channel buffering up to `buffer` messages for slow listeners.
    pub fn new(buffer: usize) -> Self {
        let (sender, _) = broadcast::channel(buffer.max(1));
        Self { sender }
    }

    /// Listens to every delivery from now on; filter by [`WebDelivery::to`].
    pub fn subscribe(&self) -> broadcast::Receiver<WebDelivery> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl Channel for WebChannel {
    fn id(&self) -> &str {
        "web"
    }

    fn capabilities(&self) -> ChannelCapabilities {
        let mut caps = ChannelCapabilities::default();
        caps.max_buttons = 10;
        caps
    }

    /// Publishes the message. Having no listener is not an error: web clients also fetch
    /// history over REST.
    async fn send(
        &self,
        to: &Recipient,
        message: &OutboundMessage,
    ) -> Result<DeliveryReceipt, ChannelError> {
        let _listeners = self.sender.send(WebDelivery {
            to: to.clone(),
            message: message.clone(),
        });
        Ok(DeliveryReceipt::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listeners_receive_sent_messages() {
        let channel = WebChannel::default();
        let mut rx = channel.subscribe();
        let to = Recipient("session-1".into());
        let message = OutboundMessage {
            text: "hi".into(),
            buttons: vec![],
        };
        channel.send(&to, &message).await.unwrap();
        let got = rx.recv().await.unwrap();
        assert_eq!(got, WebDelivery { to, message });
    }
}
