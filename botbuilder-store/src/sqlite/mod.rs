//! The embedded SQLite store: one file (or memory), WAL, foreign keys on, a busy timeout, and
//! embedded migrations. It implements every repository of [`botbuilder_core::store`].
//!
//! SQLite allows one writer at a time. Letting every pooled connection write makes concurrent
//! writers collide and back off in the busy handler (sleeping milliseconds each time), so a
//! file store keeps two pools: readers (several connections, reading in parallel under WAL)
//! and a single writer connection that every mutation goes through, queued fairly in-process.
//! Conversation turns' writes waiting for it together are committed together (group commit,
//! see `turn_writes`): under load, one transaction carries many sessions' messages.
//!
//! SQLite would otherwise checkpoint the WAL into the database file inside whichever commit
//! crosses 1,000 pages, stalling that request on an fsync. A file store turns automatic
//! checkpoints off and runs a passive checkpoint every [`CHECKPOINT_INTERVAL`] on a reader
//! connection instead, off the request path.

mod analytics;
mod api_keys;
mod audit;
mod bots;
mod changes;
mod channels;
mod conversations;
mod credentials;
mod flows;
mod knowledge;
mod members;
mod nlu;
mod orgs;
mod queue;
mod roles;
mod tokens;
mod turn_writes;
mod usage;
mod users;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::clock::{Clock, SystemClock};
use botbuilder_core::store::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::store_err;

/// How long a connection waits for a lock held by another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a file store checkpoints its write-ahead log.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Connections in the pool for a file database.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The SQLite implementation of [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    /// Reads (several connections for a file database).
    pool: SqlitePool,
    /// Every write (one connection, or the same pool as reads in memory).
    writer: SqlitePool,
    clock: Arc<dyn Clock>,
    /// Conversation turns' writes, committed together when several wait (group commit).
    turn_writes: Arc<turn_writes::GroupCommit>,
    /// Stops the background checkpoints when the last clone of the store is dropped.
    _checkpoints: Option<Arc<AbortOnDrop>>,
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Checkpoints the WAL every [`CHECKPOINT_INTERVAL`] until the pool closes.
fn spawn_checkpoints(pool: SqlitePool) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    }))
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path.db`,
    /// `sqlite::memory:`), and runs pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(Box::new(e)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // Each connection to `:memory:` is its own database, so memory stores use one.
        let max = if in_memory {
            1
        } else {
            DEFAULT_MAX_CONNECTIONS
        };
        // A local SQLite connection cannot go stale, so skip the ping sqlx would otherwise send
        // before every acquire (a second round trip to the connection's worker thread).
        let mut pool = SqlitePoolOptions::new()
            .max_connections(max)
            .test_before_acquire(false);
        if in_memory {
            pool = pool.idle_timeout(None).max_lifetime(None);
        }
        let pool = pool
            .connect_with(options.clone())
            .await
            .map_err(store_err)?;
        let mut store = Self::from_pool(pool);
        if !in_memory {
            store.writer = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(options.pragma("wal_autocheckpoint", "0"))
                .await
                .map_err(store_err)?;
            store.turn_writes = Arc::new(turn_writes::GroupCommit::new(store.writer.clone()));
            store._checkpoints = Some(Arc::new(spawn_checkpoints(store.pool.clone())));
        }
        store.migrate().await?;
        Ok(store)
    }

    /// A fresh private in-memory database (for tests and examples).
    pub async fn in_memory() -> StoreResult<Self> {
        Self::connect("sqlite::memory:").await
    }

    /// Wraps an existing pool, used for reads and writes alike. Migrations are not run; call
    /// [`SqliteStore::migrate`].
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            writer: pool.clone(),
            turn_writes: Arc::new(turn_writes::GroupCommit::new(pool.clone())),
            pool,
            clock: Arc::new(SystemClock),
            _checkpoints: None,
        }
    }

    /// Replaces the clock used for timestamps.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Applies pending embedded migrations (idempotent).
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))
    }

    /// The pool used for reads.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// A write transaction that takes the database's write lock at once (`BEGIN IMMEDIATE`):
    /// another process writing (the server while `botbuilder kb ingest` runs) makes it wait in
    /// the busy handler, where a deferred transaction reading first would fail with `database
    /// is locked` when it came to write.
    async fn write_transaction(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_err)
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

use crate::error::expect_one;

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use botbuilder_core::domain::{NewBot, NewOrganization, NewUser};
    use botbuilder_core::store::prelude::*;

    use super::*;

    /// A full disk is the machine's failure, not the caller's: the store says `Unavailable`
    /// (a 503 over HTTP), not a backend error (a 500).
    #[tokio::test]
    async fn a_full_disk_is_unavailable_not_a_backend_error() {
        let store = SqliteStore::in_memory().await.unwrap();
        let (_, org) = store
            .create_user_with_org(
                NewUser {
                    email: "full@example.com".into(),
                    name: "F".into(),
                    password_hash: "x".into(),
                },
                NewOrganization {
                    name: "Full".into(),
                },
            )
            .await
            .unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        let cap = format!("PRAGMA max_page_count = {}", pages + 1);
        sqlx::query(sqlx::AssertSqlSafe(cap))
            .execute(&store.writer)
            .await
            .unwrap();
        let big = NewBot {
            name: "big".into(),
            description: "x".repeat(200_000),
            ..NewBot::default()
        };
        match store.create_bot(org.id, big).await {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
