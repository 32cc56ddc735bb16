//! Cache port (in-process by default, Redis for several instances).

use std::time::Duration;

use async_trait::async_trait;

use crate::BoxError;

/// A cache failure. Callers treat a cache as optional: on error, compute the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The backend could not be reached.
    #[error("cache unavailable")]
    Unavailable(#[source] BoxError),
}

/// A byte-valued cache with per-entry time to live.
///
/// Contract: a `get` after `set` returns the value until the TTL passes or it is deleted;
/// entries may vanish earlier (eviction), so the cache is never the source of truth.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value under `key`, or `None` on a miss.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;

    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError>;

    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
}
