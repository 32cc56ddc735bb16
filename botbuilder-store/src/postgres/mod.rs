//! The Postgres store's foundation (feature `postgres`; the repositories are being built on
//! it): migrations, a pool that acts as the non-owning role `botbuilder_app`, and
//! transactions scoped to one tenant, so row-level security is a second wall behind the
//! repositories' own `organization_id = $1` (see `migrations/postgres/0001_foundation.sql`).
//!
//! - [`connect`] runs the migrations as the login role (which owns the tables), then opens a
//!   pool whose connections `SET ROLE botbuilder_app` and carry the statement timeout.
//! - [`begin_tenant`] starts a transaction that sees and writes only `org`'s rows;
//!   [`begin_platform`] one that acts for the platform (sign-in by email, an API key by its
//!   hash, background sweeps). A transaction that does neither sees no tenant row.
//! - The tenant is set with `set_config(…, true)`: it ends with its transaction, committed or
//!   aborted, so a pooled connection never carries one tenant into the next.

use std::time::Duration;

use botbuilder_core::id::OrgId;
use botbuilder_core::store::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgPool, Postgres, Transaction};

use crate::error::store_err;

/// Connections in the pool unless configured.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// How long one statement may run unless configured.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the pool is sized and how long a statement may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgSettings {
    /// Connections in the pool.
    pub max_connections: u32,
    /// `statement_timeout` of every connection.
    pub statement_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
        }
    }
}

/// Migrates the database at `url` (`postgres://…`), then opens the application's pool (see
/// the module docs).
///
/// # Errors
/// The database is unreachable, or a migration fails.
pub async fn connect(url: &str, settings: PgSettings) -> StoreResult<PgPool> {
    let options: PgConnectOptions = url.parse().map_err(store_err)?;
    let mut owner = options.connect().await.map_err(store_err)?;
    sqlx::migrate!("migrations/postgres")
        .run(&mut owner)
        .await
        .map_err(|e| store_err(e.into()))?;
    owner.close().await.map_err(store_err)?;
    let timeout_ms = settings.statement_timeout.as_millis();
    PgPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .after_connect(move |connection, _| {
            Box::pin(async move {
                connection.execute("SET ROLE botbuilder_app").await?;
                let timeout = format!("SET statement_timeout = {timeout_ms}");
                connection.execute(sqlx::AssertSqlSafe(timeout)).await?;
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
    let mut tx = pool.begin().await.map_err(store_err)?;
    sqlx::query("SELECT set_config('botbuilder.org', $1, true)")
        .bind(org.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
    Ok(tx)
}

/// A transaction that acts for the platform: every organization's rows (for operations that
/// belong to no tenant, see the module docs).
///
/// # Errors
/// The database is unreachable.
pub async fn begin_platform(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.map_err(store_err)?;
    sqlx::query("SELECT set_config('botbuilder.system', 'on', true)")
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
    Ok(tx)
}

#[cfg(test)]
mod tests;
