//! What several instances of the server share beyond the database: with
//! `BOTBUILDER_REDIS_URL`, the rate limiter and the change bus's announcements run over Redis
//! (feature `redis`, on by default); without it, the rate limiter is in-process and the
//! change bus polls the store alone.

use std::sync::Arc;

use botbuilder_core::change::ChangeBus;
use botbuilder_core::clock::Clock;
use botbuilder_core::rate_limit::RateLimiter;
use botbuilder_store::memory::MemoryRateLimiter;

/// See the module docs. Cheap to clone.
#[derive(Clone)]
pub struct SharedInfra {
    /// Admits or refuses requests (in-process, or shared over Redis).
    pub limiter: Arc<dyn RateLimiter>,
    #[cfg(feature = "redis")]
    redis: Option<Redis>,
}

#[cfg(feature = "redis")]
#[derive(Clone)]
struct Redis {
    connection: botbuilder_store::redis::RedisConnection,
    announcer: Arc<botbuilder_store::redis::ChangeAnnouncer>,
}

impl std::fmt::Debug for SharedInfra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedInfra")
            .field("redis", &self.uses_redis())
            .finish_non_exhaustive()
    }
}

impl SharedInfra {
    /// Redis at `redis_url`, or the in-process stand-ins when it is `None`.
    ///
    /// # Errors
    /// Redis does not answer at `redis_url`, or this build has no Redis support.
    pub async fn connect(redis_url: Option<&str>, clock: &Arc<dyn Clock>) -> anyhow::Result<Self> {
        let Some(url) = redis_url else {
            return Ok(Self::in_process(clock));
        };
        #[cfg(feature = "redis")]
        {
            use anyhow::Context;
            use botbuilder_store::redis::{ChangeAnnouncer, RedisConnection, RedisRateLimiter};
            let connection = RedisConnection::connect(url)
                .await
                .with_context(|| format!("cannot reach Redis at {}", redacted(url)))?;
            Ok(Self {
                limiter: Arc::new(RedisRateLimiter::new(connection.clone())),
                redis: Some(Redis {
                    announcer: ChangeAnnouncer::new(connection.clone()),
                    connection,
                }),
            })
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = url;
            anyhow::bail!(
                "this build has no Redis support (feature `redis`); unset BOTBUILDER_REDIS_URL"
            )
        }
    }

    /// The in-process stand-ins (one instance).
    pub fn in_process(clock: &Arc<dyn Clock>) -> Self {
        Self {
            limiter: Arc::new(MemoryRateLimiter::new(clock.clone())),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// Whether Redis is in use.
    pub fn uses_redis(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.redis.is_some();
        #[cfg(not(feature = "redis"))]
        false
    }

    /// Tells the other instances (with Redis) that this one made changes; call after a
    /// catch-up delivered some.
    pub fn announce(&self) {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.announcer.announce();
        }
    }

    /// Carries announcements between the instances and `bus` until dropped (nothing to do
    /// without Redis).
    pub async fn run_announcements(self, bus: Arc<ChangeBus>) {
        #[cfg(feature = "redis")]
        if let Some(redis) = self.redis {
            redis.announcer.run(bus).await;
        }
        #[cfg(not(feature = "redis"))]
        let _ = bus;
    }

    /// `None` without Redis, else whether it answers (for `/readyz`).
    pub async fn redis_ready(&self) -> Option<bool> {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return Some(match redis.connection.ping().await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "Redis readiness check failed");
                    false
                }
            });
        }
        None
    }
}

/// `url` without its password, for messages.
#[cfg(feature = "redis")]
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
