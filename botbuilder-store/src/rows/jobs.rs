//! Rows of the durable job queue (see the [module docs](super)).

use std::time::Duration;

use botbuilder_core::queue::DeadJob;
use chrono::TimeDelta;
use uuid::Uuid;

use super::micros;

/// A dead-lettered job as selected: `id, kind, payload, last_error, attempts`.
pub(crate) type DeadJobRow = (Uuid, String, String, Option<String>, i64);

/// A duration in the stored unit of times, microseconds (a lease, a retry delay).
pub(crate) fn duration_micros(d: Duration) -> i64 {
    micros(chrono::DateTime::UNIX_EPOCH + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX))
}

/// A stored attempt count.
pub(crate) fn attempts(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn dead_job((id, kind, payload, last_error, n): DeadJobRow) -> DeadJob {
    DeadJob {
        id,
        kind,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        last_error,
        attempts: attempts(n),
    }
}
