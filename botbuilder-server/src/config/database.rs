//! How the server connects to its database beyond the URL: the pool size, the statement time
//! limit and an optional read replica (Postgres; the embedded SQLite store sizes itself).

use std::path::PathBuf;
use std::time::Duration;

use super::PartialSettings;

/// Default time limit of one statement (Postgres), in seconds.
pub const DEFAULT_STATEMENT_TIMEOUT_SECS: u64 = 30;

/// The default directory for saved vector graphs: `PATH.indexes` beside a SQLite database
/// file (`sqlite://PATH` or `sqlite:PATH`); none for an in-memory SQLite database or for
/// Postgres (set `BOTBUILDER_INDEX_DIR` on each instance's local disk there).
pub fn default_index_dir(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.contains("mode=memory");
    (!in_memory).then(|| PathBuf::from(format!("{path}.indexes")))
}

/// Resolved database connection settings (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseOptions {
    /// `BOTBUILDER_DATABASE_MAX_CONNECTIONS`: connections in the pool (`None`: the backend's
    /// default, 16 for Postgres).
    pub max_connections: Option<u32>,
    /// `BOTBUILDER_DATABASE_STATEMENT_TIMEOUT_SECS`: the longest one statement may run.
    pub statement_timeout: Duration,
    /// `BOTBUILDER_DATABASE_REPLICA_URL`: a Postgres read replica for read-only queries that
    /// tolerate replication lag (usage reports, the audit log).
    pub replica_url: Option<String>,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            statement_timeout: Duration::from_secs(DEFAULT_STATEMENT_TIMEOUT_SECS),
            replica_url: None,
        }
    }
}

impl DatabaseOptions {
    /// The options a settings layer names, with defaults for the rest.
    pub(super) fn from_partial(partial: &PartialSettings) -> anyhow::Result<Self> {
        if partial.database_max_connections == Some(0) {
            anyhow::bail!("BOTBUILDER_DATABASE_MAX_CONNECTIONS must be at least 1");
        }
        if partial.database_statement_timeout_secs == Some(0) {
            anyhow::bail!("BOTBUILDER_DATABASE_STATEMENT_TIMEOUT_SECS must be at least 1");
        }
        Ok(Self {
            max_connections: partial.database_max_connections,
            statement_timeout: Duration::from_secs(
                partial
                    .database_statement_timeout_secs
                    .unwrap_or(DEFAULT_STATEMENT_TIMEOUT_SECS),
            ),
            replica_url: partial.database_replica_url.clone(),
        })
    }
}
