//! Mapping backend errors to [`StoreError`] (private, so core never names sqlx).

// Only the SQL stores convert sqlx errors, and only SQLite decodes every row type yet.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use botbuilder_core::queue::QueueError;
use botbuilder_core::store::{StoreError, StoreResult};

/// Maps a sqlx error to the port's error, sorted by what the caller does next.
pub(crate) fn store_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => return StoreError::NotFound,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            return StoreError::Unavailable(Box::new(e));
        }
        _ => {}
    }
    if let Some(db) = e.as_database_error() {
        if db.is_unique_violation() {
            return StoreError::Conflict("already exists".to_owned());
        }
        if db.is_foreign_key_violation() {
            return StoreError::NotFound;
        }
        #[cfg(feature = "postgres")]
        if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            return if postgres_transient(pg.code()) {
                StoreError::Unavailable(Box::new(e))
            } else {
                StoreError::Backend(Box::new(e))
            };
        }
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), and the machine failing the database:
        // SQLITE_IOERR (10), SQLITE_FULL (13, the disk) and SQLITE_CANTOPEN (14); extended
        // codes included. None is the caller's doing, and each may pass.
        if let Some(code) = db.code().and_then(|c| c.parse::<i32>().ok())
            && matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
        {
            return StoreError::Unavailable(Box::new(e));
        }
    }
    StoreError::Backend(Box::new(e))
}

/// Whether a Postgres SQLSTATE is the server's or the network's passing trouble rather than
/// the statement's fault (PostgreSQL manual, appendix A "PostgreSQL Error Codes"): class 08
/// (connection exception), 53 (insufficient resources), 57 (operator intervention: shutdown,
/// crash recovery, `statement_timeout`'s `57014`), 58 (system error: I/O), `40001`
/// (serialization failure), `40P01` (deadlock) and `55P03` (lock not available).
#[cfg(feature = "postgres")]
fn postgres_transient(code: &str) -> bool {
    matches!(code.get(..2), Some("08" | "53" | "57" | "58"))
        || matches!(code, "40001" | "40P01" | "55P03")
}

/// `Ok` when a write touched a row, `NotFound` when it touched none.
pub(crate) fn expect_one(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A unique-name violation, said in words the client understands.
pub(crate) fn name_conflict(name: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match store_err(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("the name `{name}` is already used"))
        }
        other => other,
    }
}

/// A job queue's statement failed: the queue is unavailable (the caller retries later).
pub(crate) fn queue_unavailable(e: sqlx::Error) -> QueueError {
    QueueError::Unavailable(Box::new(e))
}

/// A stored value that does not decode (corrupt JSON, unknown permission).
pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("corrupt {what} in store: {e}").into())
}
