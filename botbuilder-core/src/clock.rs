//! Time as a port, so tests can control it.

use std::fmt;

use chrono::{DateTime, Utc};

/// A source of the current time. Inject one everywhere time matters (token expiry, rate
/// limits, session timeouts) so tests can move time without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Clone, Copy, Default)]
pub struct SystemClock;

impl fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemClock")
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
