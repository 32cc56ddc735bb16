//! The store conformance suite against SQLite, each case on a fresh database.

use botbuilder_store::SqliteStore;

async fn fresh() -> Option<SqliteStore> {
    Some(SqliteStore::in_memory().await.expect("in-memory sqlite"))
}

botbuilder_core::store_conformance_suite!(fresh());

/// The same suite against a file database, which exercises WAL and the connection pool.
mod file {
    use botbuilder_store::SqliteStore;

    async fn fresh() -> Option<SqliteStore> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        // Leak the directory so it outlives the test's store; the OS temp dir is cleaned up.
        std::mem::forget(dir);
        Some(SqliteStore::connect(&url).await.expect("file sqlite"))
    }

    botbuilder_core::store_conformance_suite!(fresh());
}
