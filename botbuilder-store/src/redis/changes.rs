//! The change bus across instances: an instance that made changes announces it on a Redis
//! channel ([`ChangeAnnouncer::announce`], after its own catch-up found them), and every other
//! instance reads its feed when it hears one, so a change reaches them in a round trip instead
//! of a poll interval. Only the instance that made a change announces it, and each ignores its
//! own announcements, so one change costs one message and one read per other instance.
//!
//! The message carries no change, only the announcing instance's id: the feed in the store
//! stays the one source, so a lost message costs at most
//! [`botbuilder_core::change::POLL_INTERVAL`].

use std::sync::Arc;
use std::time::Duration;

use botbuilder_core::change::ChangeBus;
use futures::StreamExt;
use tokio::sync::Notify;

use super::RedisConnection;

/// The channel (after the prefix) the announcements go to.
pub const CHANGES_CHANNEL: &str = "changes";

/// How long a lost pub/sub connection waits before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Announces this instance's changes to the others and wakes the local bus when they
/// announce theirs: call [`ChangeAnnouncer::announce`] after a catch-up that delivered
/// changes, and spawn [`ChangeAnnouncer::run`].
#[derive(Debug)]
pub struct ChangeAnnouncer {
    redis: RedisConnection,
    /// This instance's id in its announcements.
    instance: String,
    pending: Notify,
}

impl ChangeAnnouncer {
    /// An announcer on `redis`.
    pub fn new(redis: RedisConnection) -> Arc<Self> {
        Arc::new(Self {
            redis,
            instance: uuid::Uuid::now_v7().to_string(),
            pending: Notify::new(),
        })
    }

    /// Schedules one announcement (several before it is sent become one).
    pub fn announce(&self) {
        self.pending.notify_one();
    }

    /// Publishes an announcement whenever the bus delivered changes (several at once become
    /// one), and wakes `bus` whenever another instance announces; reconnects by itself.
    /// Runs until dropped.
    pub async fn run(self: Arc<Self>, bus: Arc<ChangeBus>) {
        let channel = self.redis.key(CHANGES_CHANNEL);
        let publisher = {
            let this = self.clone();
            let channel = channel.clone();
            async move {
                loop {
                    this.pending.notified().await;
                    let mut connection = this.redis.manager.clone();
                    let published = redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg(&this.instance)
                        .query_async::<i64>(&mut connection)
                        .await;
                    if let Err(e) = published {
                        tracing::debug!("cannot announce a change over Redis: {e}");
                    }
                }
            }
        };
        let subscriber = async move {
            loop {
                match self.redis.client.get_async_pubsub().await {
                    Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                        Ok(()) => {
                            // Changes announced while we were away are in the feed.
                            bus.wake();
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                let from = message.get_payload::<String>().unwrap_or_default();
                                if from != self.instance {
                                    bus.wake();
                                }
                            }
                            tracing::warn!("Redis change announcements stopped; reconnecting");
                        }
                        Err(e) => tracing::warn!("cannot subscribe to Redis announcements: {e}"),
                    },
                    Err(e) => tracing::warn!("cannot connect to Redis for announcements: {e}"),
                }
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        };
        tokio::join!(publisher, subscriber);
    }
}
