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
        // Kept (not deleted on drop) so it outlives this function; it lives in the OS temp dir.
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let url = format!("sqlite://{}", dir.join("test.db").display());
        Some(SqliteStore::connect(&url).await.expect("file sqlite"))
    }

    botbuilder_core::store_conformance_suite!(fresh());
}
