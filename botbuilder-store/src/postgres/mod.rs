//! The Postgres store (feature `postgres`): [`PgStore`] implements every repository and the
//! durable job queue on Postgres 17+ with the `vector` (pgvector) and `unaccent` extensions.
//! Every statement runs in a transaction scoped to one tenant, so row-level security is a
//! second wall behind the repositories' own `organization_id = $1` (see
//! `migrations/postgres/0001_foundation.sql`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), botbuilder_core::store::StoreError> {
//! use botbuilder_core::store::Store;
//! use botbuilder_store::postgres::{PgSettings, PgStore};
//!
//! let store = PgStore::connect("postgres://botbuilder@localhost/botbuilder", PgSettings::default())
//!     .await?; // migrates as the login role, then acts as the database's application role
//! store.ping().await?;
//! # Ok(()) }
//! ```
//!
//! What differs from SQLite, by design: keyword search ranks with `ts_rank` over a stemmed,
//! accent-free `tsvector` (no BM25, so scores differ; the order contract holds); the change
//! feed is numbered in commit order under one advisory lock taken by its writers (migration
//! 0006); webhook events are numbered in commit order per conversation or document (0005).
//! Vectors are stored in a `vector` column and searched by the in-process index; an
//! approximate index in Postgres is separate work.
//!
//! - [`connect`] runs the migrations as the login role (which owns the tables), then opens a
//!   pool whose connections `SET ROLE` to the database's application role
//!   (`botbuilder_app_<database>`, which owns nothing) and carry the statement timeout.
//! - [`begin_tenant`] starts a transaction that sees and writes only `org`'s rows;
//!   [`begin_platform`] one that acts for the platform (sign-in by email, an API key by its
//!   hash, background sweeps). A transaction that does neither sees no tenant row.
//! - The tenant is set with `set_config(…, true)`: it ends with its transaction, committed or
//!   aborted, so a pooled connection never carries one tenant into the next.

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
pub mod testing;
mod tokens;
mod usage;
mod users;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use botbuilder_core::clock::{Clock, SystemClock};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, SqlSafeStr, Transaction};

use crate::error::store_err;

/// Connections in the pool unless configured.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a pooled connection (or a new one) before the store answers
/// `Unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one statement may run unless configured.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the pool is sized, how long a statement may take, and where lag-tolerant reads go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// Connections in the pool (and in the replica's pool).
    pub max_connections: u32,
    /// `statement_timeout` of every connection.
    pub statement_timeout: Duration,
    /// A read replica (`postgres://…`) for reads that tolerate replication lag: usage reports
    /// and the audit log. `None`: the primary serves every read.
    pub replica_url: Option<String>,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            replica_url: None,
        }
    }
}

/// Migrates the database at `url` (`postgres://…`), then opens the application's pool (see
/// the module docs).
///
/// # Errors
/// The database is unreachable, or a migration fails.
pub async fn connect(url: &str, settings: &PgSettings) -> StoreResult<PgPool> {
    let options: PgConnectOptions = url.parse().map_err(store_err)?;
    // One connection of the login role, which owns the tables (a pool rather than a bare
    // connection keeps the future `Send` for callers behind `async_trait`).
    let owner = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .map_err(store_err)?;
    let migrated = match sqlx::migrate!("migrations/postgres").run(&owner).await {
        Ok(()) => sqlx::raw_sql(ENSURE_APP_ROLE)
            .execute(&owner)
            .await
            .map(drop)
            .map_err(store_err),
        Err(e) => Err(store_err(e.into())),
    };
    owner.close().await;
    migrated?;
    open_pool(options, settings).await
}

/// Run by the owner after migrating: this database's application role exists, the owner may
/// act as it, and it may read and write every table and sequence, these and future ones.
/// Idempotent; it also mends a database restored under another name or onto another server.
const ENSURE_APP_ROLE: &str = "DO $$
DECLARE
    app text := botbuilder_app_role();
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = app) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', app);
    END IF;
    IF NOT pg_has_role(current_user, app, 'MEMBER') THEN
        EXECUTE format('GRANT %I TO CURRENT_USER', app);
    END IF;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', app);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', app);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public
                        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', app);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public
                        GRANT USAGE, SELECT ON SEQUENCES TO %I', app);
END
$$";

/// A pool of application-role connections to an already migrated database (the primary, or a
/// replica of it).
async fn open_pool(options: PgConnectOptions, settings: &PgSettings) -> StoreResult<PgPool> {
    let timeout_ms = settings.statement_timeout.as_millis().to_string();
    PgPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        // While the server restarts, refuses connections or is out of them, a request gets
        // its 503 after this long rather than sqlx's default 30 s of retries.
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |connection, _| {
            let timeout_ms = timeout_ms.clone();
            Box::pin(async move {
                // `SET ROLE` to the role migration 0001 made for this database, in one round
                // trip with the timeout.
                sqlx::query(
                    "SELECT set_config('role', botbuilder_app_role(), false),
                            set_config('statement_timeout', $1, false)",
                )
                .bind(timeout_ms)
                .execute(&mut *connection)
                .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(store_err)
}

/// A transaction that sees and writes only `org`'s rows.
///
/// # Errors
/// The database is unreachable.
pub async fn begin_tenant(
    pool: &PgPool,
    org: OrgId,
) -> StoreResult<Transaction<'static, Postgres>> {
    begin_as(pool, Some(org)).await
}

/// A transaction that acts for the platform: every organization's rows (for operations that
/// belong to no tenant, see the module docs).
///
/// # Errors
/// The database is unreachable.
pub async fn begin_platform(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    begin_as(pool, None).await
}

/// Begins a transaction of `tenant`, or of the platform for `None`, in one round trip: both
/// settings (always both: a transaction is a tenant's or the platform's, never both) and
/// `BEGIN` travel as one simple query. Statements before a `BEGIN` in one query join the
/// transaction it opens (Postgres protocol, "Multiple Statements in a Simple Query"), so the
/// settings last until it ends; a setting that fails leaves no transaction open. The tenant
/// is written into the statement, which is safe because it is a `Uuid`'s hyphenated hex.
async fn begin_as(
    pool: &PgPool,
    tenant: Option<OrgId>,
) -> StoreResult<Transaction<'static, Postgres>> {
    let (org, system) = match tenant {
        Some(org) => (org.as_uuid().hyphenated().to_string(), ""),
        None => (String::new(), "on"),
    };
    let begin = format!(
        "SELECT set_config('botbuilder.org', '{org}', true), \
                set_config('botbuilder.system', '{system}', true); BEGIN"
    );
    begin_whole(pool, sqlx::AssertSqlSafe(begin).into_sql_str()).await
}

/// Begins a transaction with `statement` on a task of its own. A caller that goes away midway
/// (its client hung up) must not leave the pooled connection inside a transaction nobody
/// holds: sqlx rolls back only a transaction whose `BEGIN` was answered, so a `BEGIN` dropped
/// in flight would hold the connection's later statements in it, uncommitted, with its tenant.
/// The task always sees the answer through; a transaction nobody took is dropped there, which
/// rolls it back.
///
/// # Errors
/// The database is unreachable, or `statement` failed.
pub(crate) async fn begin_whole(
    pool: &PgPool,
    statement: sqlx::SqlStr,
) -> StoreResult<Transaction<'static, Postgres>> {
    let pool = pool.clone();
    match tokio::spawn(async move { pool.begin_with(statement).await }).await {
        Ok(begun) => begun.map_err(store_err),
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        // Cancelled: the runtime is shutting down.
        Err(stopped) => Err(StoreError::Unavailable(Box::new(stopped))),
    }
}

/// The Postgres implementation of the store ports: every repository runs its statements in a
/// transaction scoped to the organization it acts in ([`begin_tenant`]), or to the platform
/// for the few that belong to no tenant ([`begin_platform`]); a conversation turn's calls are
/// functions that scope their own transaction the same way (migration 0007).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Lag-tolerant reads (a replica, when configured; else the primary).
    replica: PgPool,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Migrates the database at `url` and opens the store (see [`connect`]).
    ///
    /// # Errors
    /// The database is unreachable, or a migration fails.
    pub async fn connect(url: &str, settings: PgSettings) -> StoreResult<Self> {
        let mut store = Self::from_pool(connect(url, &settings).await?);
        if let Some(replica) = &settings.replica_url {
            let options: PgConnectOptions = replica.parse().map_err(store_err)?;
            store.replica = open_pool(options, &settings).await?;
        }
        Ok(store)
    }

    /// Wraps a pool opened by [`connect`] (its connections act as the application role); every
    /// read goes to it.
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            replica: pool.clone(),
            pool,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock used for timestamps.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The application's pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
        self.replica.close().await;
    }

    /// A transaction that sees and writes only `org`'s rows.
    async fn tenant(&self, org: OrgId) -> StoreResult<Transaction<'static, Postgres>> {
        begin_tenant(&self.pool, org).await
    }

    /// A read-only transaction on the replica (the primary when none is configured) that sees
    /// only `org`'s rows, for reads that tolerate replication lag.
    async fn tenant_replica(&self, org: OrgId) -> StoreResult<Transaction<'static, Postgres>> {
        begin_tenant(&self.replica, org).await
    }

    /// A transaction acting for the platform (no tenant; see the module docs).
    async fn platform(&self) -> StoreResult<Transaction<'static, Postgres>> {
        begin_platform(&self.pool).await
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(())
    }
}

/// `text` without NUL characters, which Postgres `text` and `jsonb` cannot hold. For text the
/// platform did not write and only shows (an upstream's error message, a response excerpt):
/// what a person typed is refused or cleaned before it reaches the store.
fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        text.replace('\0', "").into()
    } else {
        text.into()
    }
}

/// Commits `tx`, mapping the error.
async fn commit(tx: Transaction<'static, Postgres>) -> StoreResult<()> {
    tx.commit().await.map_err(store_err)
}

use crate::error::expect_one;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod storable_tests {
    #[test]
    fn nul_characters_are_removed_and_the_rest_kept() {
        assert_eq!(super::storable("a\0b\0"), "ab");
        assert!(matches!(
            super::storable("héllo"),
            std::borrow::Cow::Borrowed("héllo")
        ));
    }
}
