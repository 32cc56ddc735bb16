//! Webhooks and long polling: verified events recorded for processing, each once.

use std::time::Duration;

use serde_json::json;

use super::{
    ChannelService, ChannelServiceError, INBOUND_ATTEMPTS, INBOUND_JOB, ReceiveError, Reception,
};
use crate::channel::{ChannelKind, InboundEvent, InboundRequest, Parsed};
use crate::domain::Channel;
use crate::id::ChannelId;
use crate::queue::NewJob;
use crate::store::StoreError;

impl ChannelService {
    /// Handles a webhook request for `channel` (of the platform `kind` its URL names):
    /// verifies it, answers a handshake, or records each event for processing once (a
    /// redelivery with the same event id is recorded as a duplicate and not processed again).
    pub async fn receive(
        &self,
        kind: ChannelKind,
        channel: ChannelId,
        request: &InboundRequest,
    ) -> Result<Reception, ReceiveError> {
        let prepared = match self.prepared(channel).await {
            Ok(prepared) if prepared.opened.channel.kind == kind => prepared,
            Ok(_) | Err(ChannelServiceError::Store(StoreError::NotFound)) => {
                return Err(ReceiveError::UnknownChannel);
            }
            Err(e) => return Err(ReceiveError::Unavailable(crate::error_chain(&e))),
        };
        prepared.inbound.verify(request, self.clock.now())?;
        match prepared.inbound.parse(request)? {
            Parsed::Challenge(text) => Ok(Reception::Challenge(text)),
            Parsed::Events(events) => self.accept(&prepared.opened.channel, events).await,
        }
    }

    /// Records verified events of `channel` for processing, each once.
    pub async fn accept(
        &self,
        channel: &Channel,
        events: Vec<InboundEvent>,
    ) -> Result<Reception, ReceiveError> {
        let (mut new, mut duplicates) = (0, 0);
        for event in events {
            let key = format!("{}:{}", channel.id, event.event_id);
            let job = NewJob {
                kind: INBOUND_JOB.to_owned(),
                payload: json!({ "org": channel.org_id, "channel": channel.id, "event": event }),
                max_attempts: INBOUND_ATTEMPTS,
            };
            match self.queue.enqueue_once(job, &key).await {
                Ok(Some(_)) => new += 1,
                Ok(None) => duplicates += 1,
                Err(e) => return Err(ReceiveError::Unavailable(crate::error_chain(&e))),
            }
        }
        if new > 0 {
            self.wake.notify_waiters();
        }
        Ok(Reception::Accepted { new, duplicates })
    }

    /// Long-polls `channel` (Telegram without a public URL) until `stop` resolves,
    /// recording each batch of events like a webhook would. A failure is recorded on the
    /// channel and retried after a pause; deleting the channel ends the loop.
    pub async fn poll(&self, channel: ChannelId, stop: impl Future<Output = ()>) {
        const WAIT: Duration = Duration::from_secs(20);
        const PAUSE: Duration = Duration::from_secs(5);
        tokio::pin!(stop);
        let mut offset = 0;
        loop {
            let prepared = match self.prepared(channel).await {
                Ok(prepared) => prepared,
                Err(ChannelServiceError::Store(StoreError::NotFound)) => return,
                Err(e) => {
                    tracing::warn!(channel = %channel, "cannot poll: {e}");
                    tokio::select! { () = &mut stop => return, () = tokio::time::sleep(PAUSE) => continue }
                }
            };
            let Some(platform) = self.platforms.get(prepared.opened.channel.kind).cloned() else {
                return;
            };
            let polled = tokio::select! {
                () = &mut stop => return,
                polled = platform.poll(&prepared.opened, offset, WAIT) => polled,
            };
            match polled {
                Ok((events, next)) => {
                    if !events.is_empty()
                        && let Err(e) = self.accept(&prepared.opened.channel, events).await
                    {
                        // Not confirmed to the platform: asked again from the same offset.
                        tracing::warn!(channel = %channel, "cannot record polled events: {e}");
                        tokio::select! { () = &mut stop => return, () = tokio::time::sleep(PAUSE) => {} }
                        continue;
                    }
                    offset = next;
                }
                Err(e) => {
                    tracing::warn!(channel = %channel, "polling failed: {e}");
                    self.record_error(&prepared.opened.channel, &e).await;
                    tokio::select! { () = &mut stop => return, () = tokio::time::sleep(PAUSE) => {} }
                }
            }
        }
    }
}
