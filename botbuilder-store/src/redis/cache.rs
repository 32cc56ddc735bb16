//! The cache every instance shares (the second level behind each instance's own, e.g. for
//! trained NLU models: [`botbuilder_core::nlu::ModelCache::with_shared`]).
//!
//! Values are plain Redis strings (`GET`, `SET … PX`, `DEL`), so a value may be up to 512 MB.
//! Values of megabytes would hold up the small, latency-bound commands of the rate limiter on
//! a shared multiplexed connection, so the cache has a connection of its own. Every call
//! gives up after [`CACHE_TIMEOUT`], reconnecting included, and the caller computes the value.

use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::cache::{Cache, CacheError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::RedisConnection;

/// Longest a cache call waits for Redis, reconnecting and queueing behind other calls
/// included (a 10 MB value takes about 10 ms on loopback); past it the call fails with
/// [`CacheError::Unavailable`].
pub const CACHE_TIMEOUT: Duration = Duration::from_secs(2);

/// See the module docs. Cheap to clone.
#[derive(Clone)]
pub struct RedisCache {
    manager: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache on the server of `redis`, under its key prefix followed by `cache:`, over a
    /// connection of its own.
    ///
    /// # Errors
    /// The server does not answer.
    pub async fn connect(redis: &RedisConnection) -> redis::RedisResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(CACHE_TIMEOUT))
            .set_number_of_retries(2);
        let manager = ConnectionManager::new_with_config(redis.client.clone(), config).await?;
        Ok(Self {
            manager,
            prefix: redis.key("cache:"),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

/// Runs `command` within [`CACHE_TIMEOUT`].
async fn bounded<T>(command: impl Future<Output = redis::RedisResult<T>>) -> Result<T, CacheError> {
    tokio::time::timeout(CACHE_TIMEOUT, command)
        .await
        .map_err(|elapsed| CacheError::Unavailable(Box::new(elapsed)))?
        .map_err(|e| CacheError::Unavailable(Box::new(e)))
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut connection = self.manager.clone();
        bounded(
            redis::cmd("GET")
                .arg(self.key(key))
                .query_async(&mut connection),
        )
        .await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let mut connection = self.manager.clone();
        // Redis takes a positive signed 64-bit expiry.
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut set = redis::cmd("SET");
        set.arg(self.key(key)).arg(value).arg("PX").arg(millis);
        bounded(set.query_async(&mut connection)).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut connection = self.manager.clone();
        bounded(
            redis::cmd("DEL")
                .arg(self.key(key))
                .query_async::<()>(&mut connection),
        )
        .await
    }
}
