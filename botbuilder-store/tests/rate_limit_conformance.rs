//! The rate limiter contract, on the in-process limiter and (feature `redis`, with
//! `BOTBUILDER_TEST_REDIS_URL` set, as `scripts/test` does) on Redis.

mod memory {
    use std::sync::Arc;

    use botbuilder_core::rate_limit::RateLimiter;
    use botbuilder_store::memory::MemoryRateLimiter;

    async fn limiter() -> Option<Arc<dyn RateLimiter>> {
        Some(Arc::new(MemoryRateLimiter::default()))
    }

    botbuilder_core::rate_limit_conformance_suite!(limiter());
}

#[cfg(feature = "redis")]
mod redis {
    use std::sync::Arc;

    use botbuilder_core::rate_limit::RateLimiter;
    use botbuilder_store::redis::{RedisConnection, RedisRateLimiter};

    async fn limiter() -> Option<Arc<dyn RateLimiter>> {
        let url = std::env::var("BOTBUILDER_TEST_REDIS_URL").ok()?;
        let redis = RedisConnection::connect_with_prefix(&url, "test:")
            .await
            .expect("BOTBUILDER_TEST_REDIS_URL answers");
        Some(Arc::new(RedisRateLimiter::new(redis)))
    }

    botbuilder_core::rate_limit_conformance_suite!(limiter());
}
