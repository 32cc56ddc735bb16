//! The cache every instance shares (the second level behind each instance's own, e.g. for
//! trained NLU models: [`botbuilder_core::nlu::ModelCache::with_shared`]).
//!
//! Values are plain Redis strings (`GET`, `SET … PX`, `DEL`), so a value may be up to 512 MB.
//! Values of megabytes would hold up the small, latency-bound commands of the rate limiter on
//! a shared multiplexed connection, so the cache has a connection of its own, with a longer
//! response timeout ([`CACHE_TIMEOUT`]).

use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::cache::{Cache, CacheError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::RedisConnection;

/// Longest a cache command waits for Redis (a 10 MB value takes milliseconds on a LAN); past
/// it the call fails and the caller computes the value itself.
pub const CACHE_TIMEOUT: Duration = Duration::from_secs(5);

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

fn unavailable(e: redis::RedisError) -> CacheError {
    CacheError::Unavailable(Box::new(e))
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut connection = self.manager.clone();
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let mut connection = self.manager.clone();
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut connection = self.manager.clone();
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }
}
