//! The change bus across instances: an instance that made changes announces it
//! ([`ChangeAnnouncer::announce`], after its own catch-up found them), and every other
//! instance reads its feed when it hears one, so a change reaches them in a round trip instead
//! of a poll interval. Only the instance that made a change announces it, and none hears its
//! own announcements ([`Fanout`]), so one change costs one message and one read per other
//! instance.
//!
//! The message carries no change: the feed in the store stays the one source, so a lost
//! message costs at most [`botbuilder_core::change::POLL_INTERVAL`].

use std::sync::Arc;

use botbuilder_core::change::ChangeBus;
use tokio::sync::Notify;

use super::RedisConnection;
use super::fanout::Fanout;

/// The channel (after the prefix) the announcements go to.
pub const CHANGES_CHANNEL: &str = "changes";

/// Announces this instance's changes to the others and wakes the local bus when they
/// announce theirs: call [`ChangeAnnouncer::announce`] after a catch-up that delivered
/// changes, and spawn [`ChangeAnnouncer::run`].
#[derive(Debug)]
pub struct ChangeAnnouncer {
    fanout: Arc<Fanout>,
    pending: Notify,
}

impl ChangeAnnouncer {
    /// An announcer on `redis`.
    pub fn new(redis: RedisConnection) -> Arc<Self> {
        Arc::new(Self {
            fanout: Fanout::new(redis, CHANGES_CHANNEL),
            pending: Notify::new(),
        })
    }

    /// Schedules one announcement (several before it is sent become one).
    pub fn announce(&self) {
        self.pending.notify_one();
    }

    /// Publishes the scheduled announcements, and wakes `bus` whenever another instance
    /// announces (and after each reconnection, for what was announced meanwhile). Runs until
    /// dropped.
    pub async fn run(self: Arc<Self>, bus: Arc<ChangeBus>) {
        let publisher = async {
            loop {
                self.pending.notified().await;
                if let Err(e) = self.fanout.publish(b"changed").await {
                    tracing::debug!("cannot announce a change over Redis: {e}");
                }
            }
        };
        let listener = self.fanout.listen(|| bus.wake(), |_| async { bus.wake() });
        tokio::join!(publisher, listener);
    }
}
