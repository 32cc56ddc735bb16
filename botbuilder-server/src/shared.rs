//! What several instances of the server share beyond the database: with
//! `BOTBUILDER_REDIS_URL` (feature `redis`, on by default), the rate limiter, the cache of
//! trained NLU models, the change bus's announcements, and web chat replies published on one
//! instance for visitor streams open on another all run over Redis. Without it, the rate
//! limiter is in-process, each instance trains its own models, the change bus polls the store
//! alone, and a visitor's stream hears the replies published on its own instance.

use std::sync::Arc;

use botbuilder_channels::web::WebChannel;
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
    /// The second level of the instances' caches (trained NLU models).
    cache: botbuilder_store::redis::RedisCache,
    announcer: Arc<botbuilder_store::redis::ChangeAnnouncer>,
    /// Web chat parts for the other instances' visitor streams.
    web: Arc<botbuilder_store::redis::Fanout>,
    /// What this instance's web channel sent, until [`SharedInfra::run`] relays it.
    web_sent: Arc<std::sync::Mutex<Option<WebSent>>>,
}

#[cfg(feature = "redis")]
type WebSent = tokio::sync::mpsc::Receiver<(
    botbuilder_core::channel::Recipient,
    botbuilder_core::channel::Part,
)>;

/// The pub/sub channel (after the prefix) of web chat parts.
#[cfg(feature = "redis")]
const WEB_CHANNEL: &str = "webchat";

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
            use botbuilder_store::redis::{
                ChangeAnnouncer, Fanout, RedisCache, RedisConnection, RedisRateLimiter,
            };
            let connection = RedisConnection::connect(url)
                .await
                .with_context(|| format!("cannot reach Redis at {}", redacted(url)))?;
            let cache = RedisCache::connect(&connection)
                .await
                .with_context(|| format!("cannot reach Redis at {}", redacted(url)))?;
            Ok(Self {
                limiter: Arc::new(RedisRateLimiter::new(connection.clone())),
                redis: Some(Redis {
                    cache,
                    announcer: ChangeAnnouncer::new(connection.clone()),
                    web: Fanout::new(connection.clone(), WEB_CHANNEL),
                    web_sent: Arc::default(),
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

    /// The cache every instance shares (with Redis), behind each instance's own.
    pub fn cache(&self) -> Option<Arc<dyn botbuilder_core::cache::Cache>> {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return Some(Arc::new(redis.cache.clone()));
        }
        None
    }

    /// Tells the other instances (with Redis) that this one made changes; call after a
    /// catch-up delivered some.
    pub fn announce(&self) {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            redis.announcer.announce();
        }
    }

    /// The web chat channel: with Redis, what it sends also goes to the other instances
    /// (relayed by [`SharedInfra::run`]).
    pub fn web_channel(&self) -> WebChannel {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            let (web, sent) = WebChannel::default().with_fanout();
            *redis.web_sent.lock().expect("web relay poisoned") = Some(sent);
            return web;
        }
        WebChannel::default()
    }

    /// Carries change announcements between the instances and `bus`, and web chat parts
    /// between the instances and `web`, until dropped (nothing to do without Redis).
    pub async fn run(self, bus: Arc<ChangeBus>, web: WebChannel) {
        #[cfg(feature = "redis")]
        if let Some(redis) = self.redis {
            let sent = redis.web_sent.lock().expect("web relay poisoned").take();
            let relay_out = async {
                let Some(mut sent) = sent else { return };
                while let Some(part) = sent.recv().await {
                    let Ok(payload) = serde_json::to_vec(&part) else {
                        continue;
                    };
                    if let Err(e) = redis.web.publish(&payload).await {
                        tracing::warn!("cannot relay a web chat reply over Redis: {e}");
                    }
                }
            };
            let relay_in = redis.web.listen(
                || {},
                |payload| {
                    let web = &web;
                    async move {
                        match serde_json::from_slice(&payload) {
                            Ok((to, part)) => web.deliver_from_elsewhere(&to, &part),
                            Err(e) => tracing::warn!("unreadable web chat relay message: {e}"),
                        }
                    }
                },
            );
            tokio::join!(redis.announcer.run(bus), relay_out, relay_in);
        }
        #[cfg(not(feature = "redis"))]
        let _ = (bus, web);
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
