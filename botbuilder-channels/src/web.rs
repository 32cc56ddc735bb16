//! The web chat channel: bot messages are published to whoever listens for that session (an
//! SSE stream of the web chat API), and a bounded backlog lets a late listener catch up.

use async_trait::async_trait;
use botbuilder_core::channel::{
    Capabilities, ChannelError, ChannelKind, ChannelSender, DeliveryReceipt, Part, Recipient,
};
use tokio::sync::broadcast;

/// Messages buffered per channel for slow listeners before the oldest are dropped.
pub const DEFAULT_BUFFER: usize = 1024;

/// A message published by the web channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDelivery {
    /// The web chat session it is for.
    pub to: Recipient,
    /// The part of a reply.
    pub part: Part,
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
impl ChannelSender for WebChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Web
    }

    /// Any length of text, 10 buttons (more become numbered lines), quick replies, images
    /// and typing: the widget shows them all.
    fn capabilities(&self) -> Capabilities {
        Capabilities::text_only()
            .with_buttons(10, 0)
            .with_media(true, true, true)
    }

    /// Publishes the message. Having no listener is not an error: web clients also fetch
    /// history over REST.
    async fn send(&self, to: &Recipient, part: &Part) -> Result<DeliveryReceipt, ChannelError> {
        let _listeners = self.sender.send(WebDelivery {
            to: to.clone(),
            part: part.clone(),
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
        let to = Recipient::new("session-1");
        let part = Part::Text {
            text: "hi".into(),
            choices: None,
        };
        channel.send(&to, &part).await.unwrap();
        let got = rx.recv().await.unwrap();
        assert_eq!(got, WebDelivery { to, part });
    }
}
