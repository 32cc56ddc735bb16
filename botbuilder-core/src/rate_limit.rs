//! Rate limiting port.

use std::time::Duration;

use async_trait::async_trait;

use crate::BoxError;

/// A quota: `burst` requests at once, refilled at `burst` per `period` (GCRA semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Requests allowed in a burst (and per period).
    pub burst: u32,
    /// The period over which `burst` requests are allowed.
    pub period: Duration,
}

impl Quota {
    /// `n` requests per minute.
    pub const fn per_minute(n: u32) -> Self {
        Self {
            burst: n,
            period: Duration::from_secs(60),
        }
    }

    /// `n` requests per second.
    pub const fn per_second(n: u32) -> Self {
        Self {
            burst: n,
            period: Duration::from_secs(1),
        }
    }
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// Over quota; try again after `retry_after`.
    #[error("rate limited; retry after {retry_after:?}")]
    Limited {
        /// How long until a request would be admitted.
        retry_after: Duration,
    },
    /// The limiter's backend failed. Callers decide whether to fail open or closed.
    #[error("rate limiter unavailable")]
    Unavailable(#[source] BoxError),
}

/// Admits or refuses requests per key (an IP, an email, an API key).
///
/// Contract: each admitted call consumes one unit of `key`'s quota; keys are independent; a
/// refused call consumes nothing and reports when the next one would be admitted.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Consumes one unit for `key` under `quota`, or says how long to wait.
    async fn check(&self, key: &str, quota: Quota) -> Result<(), RateLimitError>;

    /// Whether a [`RateLimiter::check`] of `key` under `quota` would be admitted now,
    /// consuming nothing (to refuse before doing work that only failures pay for, such as a
    /// login whose failures are counted).
    async fn peek(&self, key: &str, quota: Quota) -> Result<(), RateLimitError>;
}
