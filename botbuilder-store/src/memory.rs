//! In-process infrastructure for a single instance: a GCRA rate limiter and a TTL cache.
//! Several instances behind a load balancer need the Redis backends instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::cache::{Cache, CacheError};
use botbuilder_core::clock::{Clock, SystemClock};
use botbuilder_core::rate_limit::{Quota, RateLimitError, RateLimiter};
use chrono::{DateTime, TimeDelta, Utc};

/// Entries kept before stale ones are swept.
const SWEEP_THRESHOLD: usize = 10_000;

/// A keyed GCRA (generic cell rate algorithm) limiter held in memory.
///
/// Each key stores one timestamp (its theoretical arrival time), so memory is O(active keys);
/// keys whose bucket has refilled are swept once the map grows past a threshold.
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    state: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter").finish_non_exhaustive()
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl MemoryRateLimiter {
    /// A limiter reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(HashMap::new()),
        }
    }
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl MemoryRateLimiter {
    /// GCRA: admits when the key's theoretical arrival time is within the burst tolerance;
    /// `consume` moves it one interval on.
    fn admit(&self, key: &str, quota: Quota, consume: bool) -> Result<(), RateLimitError> {
        let now = self.clock.now();
        let burst = quota.burst.max(1);
        let interval = delta(quota.period / burst);
        let tolerance = delta(quota.period) - interval;
        let mut state = self.state.lock().expect("rate limiter poisoned");
        if state.len() > SWEEP_THRESHOLD {
            state.retain(|_, tat| *tat > now);
        }
        let tat = state.get(key).copied().unwrap_or(now).max(now);
        let wait = tat - now - tolerance;
        if wait > TimeDelta::zero() {
            return Err(RateLimitError::Limited {
                retry_after: wait.to_std().unwrap_or_default(),
            });
        }
        if consume {
            state.insert(key.to_owned(), tat + interval);
        }
        Ok(())
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, quota: Quota) -> Result<(), RateLimitError> {
        self.admit(key, quota, true)
    }

    async fn peek(&self, key: &str, quota: Quota) -> Result<(), RateLimitError> {
        self.admit(key, quota, false)
    }
}

/// A cached value and the instant it expires.
type CacheEntry = (Vec<u8>, DateTime<Utc>);

/// A TTL cache in a `HashMap`, swept of expired entries as it grows.
pub struct MemoryCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, CacheEntry>>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache").finish_non_exhaustive()
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl MemoryCache {
    /// A cache reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let now = self.clock.now();
        let entries = self.entries.lock().expect("cache poisoned");
        Ok(entries
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(value, _)| value.clone()))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().expect("cache poisoned");
        if entries.len() > SWEEP_THRESHOLD {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        entries.insert(key.to_owned(), (value, now + delta(ttl)));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.entries.lock().expect("cache poisoned").remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::testing::ManualClock;

    #[tokio::test]
    async fn limiter_admits_a_burst_then_refuses_until_refill() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let limiter = MemoryRateLimiter::new(clock.clone());
        let quota = Quota::per_minute(3);
        for _ in 0..3 {
            limiter.check("ip:1", quota).await.unwrap();
        }
        let Err(RateLimitError::Limited { retry_after }) = limiter.check("ip:1", quota).await
        else {
            panic!("fourth request should be limited");
        };
        assert_eq!(retry_after, Duration::from_secs(20));
        limiter
            .check("ip:2", quota)
            .await
            .expect("keys are independent");
        clock.advance(TimeDelta::seconds(20));
        limiter
            .check("ip:1", quota)
            .await
            .expect("one unit refilled");
        assert!(limiter.check("ip:1", quota).await.is_err());
    }

    #[tokio::test]
    async fn peeking_consumes_nothing() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let limiter = MemoryRateLimiter::new(clock);
        let quota = Quota::per_minute(2);
        for _ in 0..5 {
            limiter.peek("k", quota).await.unwrap();
        }
        limiter.check("k", quota).await.unwrap();
        limiter.check("k", quota).await.unwrap();
        assert!(limiter.peek("k", quota).await.is_err());
        assert!(limiter.check("k", quota).await.is_err());
    }

    #[tokio::test]
    async fn cache_expires_entries() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let cache = MemoryCache::new(clock.clone());
        cache
            .set("k", b"v".to_vec(), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(cache.get("k").await.unwrap(), Some(b"v".to_vec()));
        clock.advance(TimeDelta::seconds(11));
        assert_eq!(cache.get("k").await.unwrap(), None);
        cache.delete("missing").await.unwrap();
    }
}
