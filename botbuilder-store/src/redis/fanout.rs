//! Messages to every other instance over Redis pub/sub: each message carries its sender's
//! instance id, and an instance never hears its own. Best effort, as pub/sub is: a message
//! published while an instance is disconnected is lost to it, so what it carries must also be
//! recoverable another way (the change feed) or be worth no more than a live update.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::RedisConnection;

/// How long a lost pub/sub connection waits before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// One pub/sub channel between the instances (see the module docs).
#[derive(Debug)]
pub struct Fanout {
    redis: RedisConnection,
    channel: String,
    instance: String,
}

impl Fanout {
    /// The channel `name` (after the connection's prefix) on `redis`, for this instance.
    pub fn new(redis: RedisConnection, name: &str) -> Arc<Self> {
        Arc::new(Self {
            channel: redis.channel(name),
            redis,
            instance: uuid::Uuid::now_v7().simple().to_string(),
        })
    }

    /// Publishes `payload` to the other instances.
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn publish(&self, payload: &[u8]) -> redis::RedisResult<()> {
        let mut message = Vec::with_capacity(self.instance.len() + 1 + payload.len());
        message.extend_from_slice(self.instance.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(payload);
        let mut connection = self.redis.manager.clone();
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(message)
            .query_async::<i64>(&mut connection)
            .await
            .map(drop)
    }

    /// Hands every other instance's payload to `receive`, reconnecting by itself; calls
    /// `connected` after each (re)subscription (messages sent meanwhile are lost). Runs until
    /// dropped.
    pub async fn listen<F, Fut>(&self, connected: impl Fn(), receive: F)
    where
        F: Fn(Vec<u8>) -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            match self.redis.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(&self.channel).await {
                    Ok(()) => {
                        connected();
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            let bytes: Vec<u8> = message.get_payload_bytes().to_vec();
                            let Some(at) = bytes.iter().position(|b| *b == b'\n') else {
                                continue;
                            };
                            if bytes[..at] != *self.instance.as_bytes() {
                                receive(bytes[at + 1..].to_vec()).await;
                            }
                        }
                        tracing::warn!(channel = %self.channel, "Redis pub/sub stopped; reconnecting");
                    }
                    Err(e) => {
                        tracing::warn!(channel = %self.channel, "cannot subscribe over Redis: {e}")
                    }
                },
                Err(e) => tracing::warn!("cannot connect to Redis for pub/sub: {e}"),
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    }
}
