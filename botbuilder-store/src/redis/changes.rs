//! The change bus across instances: an instance that reads new changes from the store's feed
//! announces it on a Redis channel, and every instance reads its feed when it hears one, so a
//! change reaches the others in a round trip instead of a poll interval.
//!
//! The message carries no change, only a wake-up: the feed in the store stays the one source,
//! so a lost message costs at most [`botbuilder_core::change::POLL_INTERVAL`].

use std::sync::Arc;
use std::time::Duration;

use botbuilder_core::change::{Change, ChangeBus, ChangeListener};
use futures::StreamExt;
use tokio::sync::Notify;

use super::RedisConnection;

/// The channel (after the prefix) the announcements go to.
pub const CHANGES_CHANNEL: &str = "changes";

/// How long a lost pub/sub connection waits before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Announces changes to the other instances and wakes the local bus when they announce
/// theirs. Listen to the bus with it ([`ChangeBus::listen`]), then spawn
/// [`ChangeAnnouncer::run`].
#[derive(Debug)]
pub struct ChangeAnnouncer {
    redis: RedisConnection,
    pending: Notify,
}

impl ChangeAnnouncer {
    /// An announcer on `redis`.
    pub fn new(redis: RedisConnection) -> Arc<Self> {
        Arc::new(Self {
            redis,
            pending: Notify::new(),
        })
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
                        .arg("changed")
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
                            while messages.next().await.is_some() {
                                bus.wake();
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

/// Every change the bus delivers schedules one announcement.
impl ChangeListener for ChangeAnnouncer {
    fn on_change(&self, _: &Change) {
        self.pending.notify_one();
    }
}
