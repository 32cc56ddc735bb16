//! The cache contract, on the in-process cache and (feature `redis`, with
//! `BOTBUILDER_TEST_REDIS_URL` set, as `scripts/test` does) on Redis.

mod memory {
    use std::sync::Arc;

    use botbuilder_core::cache::Cache;
    use botbuilder_store::memory::MemoryCache;

    async fn cache() -> Option<Arc<dyn Cache>> {
        Some(Arc::new(MemoryCache::default()))
    }

    botbuilder_core::cache_conformance_suite!(cache());
}

#[cfg(feature = "redis")]
mod redis {
    use std::sync::Arc;

    use botbuilder_core::cache::Cache;
    use botbuilder_store::redis::{RedisCache, RedisConnection};

    async fn cache() -> Option<Arc<dyn Cache>> {
        let url = std::env::var("BOTBUILDER_TEST_REDIS_URL").ok()?;
        let redis = RedisConnection::connect_with_prefix(&url, "test:")
            .await
            .expect("BOTBUILDER_TEST_REDIS_URL answers");
        let cache = RedisCache::connect(&redis)
            .await
            .expect("a cache connection");
        Some(Arc::new(cache))
    }

    botbuilder_core::cache_conformance_suite!(cache());
}
