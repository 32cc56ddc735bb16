//! Redis backends (feature `redis`) for what several instances must share: the rate limiter
//! ([`RedisRateLimiter`]), a cache ([`RedisCache`], e.g. for trained NLU models), the change
//! bus's wake-ups ([`ChangeAnnouncer`]) and any other message for the other instances
//! ([`Fanout`], e.g. web chat replies for the instance that holds the visitor's stream).
//!
//! Redis is never the system of record: a limiter that cannot reach it reports
//! [`botbuilder_core::rate_limit::RateLimitError::Unavailable`] (the caller decides), and a
//! lost announcement only costs the change bus's poll interval, because the changes
//! themselves are in the store's change feed; a cache that cannot reach it misses, and the
//! caller computes the value.
//!
//! One [`redis::aio::ConnectionManager`] (multiplexed, reconnecting by itself) carries the
//! commands; pub/sub has a connection of its own, and so has the cache (its values are large).

mod cache;
mod changes;
mod fanout;
mod rate_limit;

pub use cache::{CACHE_TIMEOUT, RedisCache};
pub use changes::{CHANGES_CHANNEL, ChangeAnnouncer};
pub use fanout::Fanout;
pub use rate_limit::{LIMITER_TIMEOUT, RedisRateLimiter};

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long a command may take before it fails (a limiter must not hang a request).
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// A connection to one Redis server, shared by its backends. Cheap to clone.
#[derive(Clone)]
pub struct RedisConnection {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`); every key and channel
    /// is prefixed with `botbuilder:`.
    ///
    /// # Errors
    /// The URL is invalid or the server does not answer.
    pub async fn connect(url: &str) -> redis::RedisResult<Self> {
        Self::connect_with_prefix(url, "botbuilder:").await
    }

    /// Like [`RedisConnection::connect`] with another key prefix (several deployments, or
    /// tests, sharing one server).
    ///
    /// # Errors
    /// The URL is invalid or the server does not answer.
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2);
        let manager = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Self {
            client,
            manager,
            prefix: prefix.to_owned(),
        })
    }

    /// Checks the server answers (`PING`; used by `/readyz`) within a second.
    ///
    /// # Errors
    /// The server is unreachable, slow, or answered with an error.
    pub async fn ping(&self) -> redis::RedisResult<()> {
        let mut connection = self.manager.clone();
        let ping = redis::cmd("PING");
        tokio::time::timeout(
            Duration::from_secs(1),
            ping.query_async::<()>(&mut connection),
        )
        .await
        .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))?
    }

    /// The name of pub/sub channel `name`. Channels are shared by every database of a Redis
    /// server, so the name carries the database number besides the prefix.
    fn channel(&self, name: &str) -> String {
        format!(
            "{}{}:{name}",
            self.prefix,
            self.client.get_connection_info().redis_settings().db()
        )
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}
