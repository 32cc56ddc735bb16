//! Web chat as a channel: an agent's reply in a web chat session is formatted for the web
//! channel's capabilities and sent through its [`ChannelSender`](super::super::ChannelSender),
//! which publishes it to the visitor's event stream. Live only: the visitor's history is the
//! durable record, over REST.

use super::ChannelWorker;
use crate::channel::{ChannelKind, OutboundMessage, Recipient, format};
use crate::domain::Message;

impl ChannelWorker {
    /// Publishes `message` to its web chat visitor, if its session is a web chat's and this
    /// worker has a web sender ([`ChannelWorker::with_web`]).
    pub(super) async fn publish_to_web(&self, message: &Message) {
        let Some(web) = &self.web else {
            return;
        };
        let session = match self
            .store
            .get_session(message.org_id, message.session_id)
            .await
        {
            Ok(session) => session,
            Err(e) => {
                tracing::warn!(session = %message.session_id, "cannot read a web reply's session: {e}");
                return;
            }
        };
        if session.channel != ChannelKind::Web.as_str() {
            return;
        }
        // The visitor (`{bot}/{visitor}`), and the session as the thread.
        let to = Recipient {
            conversation: crate::channel::web_visitor_key(session.bot_id, &session.external_user),
            thread: Some(session.id.to_string()),
        };
        let outbound = OutboundMessage::from_stored(&message.text, &message.payload);
        for part in format(&outbound, &web.capabilities()) {
            if let Err(e) = web.send(&to, &part).await {
                tracing::warn!(session = %session.id, "cannot publish a web reply: {e}");
                return;
            }
        }
    }
}
