//! The job queue conformance suite against the in-process queue and the durable SQLite queue
//! (in memory and on a file).

use std::sync::Arc;

use botbuilder_core::testing::ManualClock;
use botbuilder_store::SqliteStore;
use botbuilder_store::memory_queue::MemoryJobQueue;
use chrono::Utc;

mod memory {
    use super::*;

    async fn fresh() -> Option<(MemoryJobQueue, Arc<ManualClock>)> {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        Some((MemoryJobQueue::new(clock.clone()), clock))
    }

    botbuilder_core::queue_conformance_suite!(fresh());
}

mod sqlite {
    use super::*;

    async fn fresh() -> Option<(SqliteStore, Arc<ManualClock>)> {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = SqliteStore::in_memory().await.expect("in-memory sqlite");
        Some((store.with_clock(clock.clone()), clock))
    }

    botbuilder_core::queue_conformance_suite!(fresh());
}

mod sqlite_file {
    use super::*;

    async fn fresh() -> Option<(SqliteStore, Arc<ManualClock>)> {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let url = format!("sqlite://{}", dir.join("queue.db").display());
        let store = SqliteStore::connect(&url).await.expect("file sqlite");
        Some((store.with_clock(clock.clone()), clock))
    }

    botbuilder_core::queue_conformance_suite!(fresh());
}
