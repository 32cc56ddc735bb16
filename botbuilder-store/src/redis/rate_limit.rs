//! The rate limiter every instance shares: GCRA in one Lua script, on Redis's clock.

use async_trait::async_trait;
use botbuilder_core::rate_limit::{Quota, RateLimitError, RateLimiter};
use std::time::Duration;

use super::RedisConnection;

/// Longest a limiter call waits for Redis: past it the call reports `Unavailable`, so an
/// unreachable Redis slows no request by more than this.
pub const LIMITER_TIMEOUT: Duration = Duration::from_millis(100);

/// GCRA (the generic cell rate algorithm, as in ATM's traffic contracts and `governor`): the
/// key holds its theoretical arrival time (TAT, µs on the server's clock). A call at `now` is
/// admitted when `TAT - now <= tolerance`; consuming moves TAT one emission interval on.
/// Returns 0 when admitted, else the µs until a call would be.
///
/// KEYS[1]: the key. ARGV[1]: emission interval (period / burst, µs). ARGV[2]: tolerance
/// (period - interval, µs). ARGV[3]: `1` to consume, `0` to peek.
const GCRA: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait > 0 then return wait end
if ARGV[3] == '1' then
  local next_tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
end
return 0
";

/// The shared limiter (see [`GCRA`] for the algorithm): the same contract as the in-process
/// [`crate::memory::MemoryRateLimiter`], so a quota of N per minute allows N in total across
/// every instance. One round trip per call; each key expires once its bucket is full again.
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    redis: RedisConnection,
    script: redis::Script,
}

impl RedisRateLimiter {
    /// A limiter on `redis`.
    pub fn new(redis: RedisConnection) -> Self {
        Self {
            redis,
            script: redis::Script::new(GCRA),
        }
    }

    async fn admit(&self, key: &str, quota: Quota, consume: bool) -> Result<(), RateLimitError> {
        let burst = quota.burst.max(1);
        let interval = micros(quota.period / burst);
        let tolerance = micros(quota.period).saturating_sub(interval);
        let mut connection = self.redis.manager.clone();
        let mut invocation = self.script.key(self.redis.key(&format!("rate:{key}")));
        invocation
            .arg(interval)
            .arg(tolerance)
            .arg(u8::from(consume));
        let wait: i64 =
            tokio::time::timeout(LIMITER_TIMEOUT, invocation.invoke_async(&mut connection))
                .await
                .map_err(|elapsed| RateLimitError::Unavailable(Box::new(elapsed)))?
                .map_err(|e| RateLimitError::Unavailable(Box::new(e)))?;
        if wait > 0 {
            return Err(RateLimitError::Limited {
                retry_after: Duration::from_micros(wait.unsigned_abs()),
            });
        }
        Ok(())
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, quota: Quota) -> Result<(), RateLimitError> {
        self.admit(key, quota, true).await
    }

    async fn peek(&self, key: &str, quota: Quota) -> Result<(), RateLimitError> {
        self.admit(key, quota, false).await
    }
}
