//! The store and job queue conformance suites against Postgres, each case on a fresh database
//! of the server named by `BOTBUILDER_TEST_POSTGRES_URL` (required under `CI`).
#![cfg(feature = "postgres")]

use std::sync::Arc;

use botbuilder_core::testing::ManualClock;
use botbuilder_store::postgres::testing::fresh_database;
use botbuilder_store::postgres::{PgSettings, PgStore};
use chrono::Utc;

async fn fresh_store(test: &str) -> Option<PgStore> {
    let url = fresh_database(test).await?;
    // Small pools: every case has a database of its own, and cases run in parallel.
    let settings = PgSettings {
        max_connections: 4,
        ..PgSettings::default()
    };
    Some(
        PgStore::connect(&url, settings)
            .await
            .expect("postgres store"),
    )
}

mod store {
    use super::*;

    botbuilder_core::store_conformance_suite!(fresh_store("store conformance"));
}

mod queue {
    use super::*;

    async fn fresh() -> Option<(PgStore, Arc<ManualClock>)> {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = fresh_store("queue conformance").await?;
        Some((store.with_clock(clock.clone()), clock))
    }

    botbuilder_core::queue_conformance_suite!(fresh());
}
