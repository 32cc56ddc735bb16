//! The monthly spend limit of an organization, enforced before a language model is called.
//!
//! Each call first reserves its worst case: the prompt's tokens at the input price plus
//! `max_tokens` at the output price. A call is refused when what the organization spent this
//! calendar month (UTC, from the usage ledger) plus what concurrent calls reserved plus this
//! estimate would pass the limit; so concurrent turns can overspend by at most the gap
//! between one call's estimate and its reported usage (which `max_tokens` bounds), never by a
//! turn per concurrent caller. When the call ends its reservation turns into its actual
//! cost. Free models (unpriced, `local`) are never refused.
//!
//! The spent amount is read from the store at the first call of a month and again every
//! [`SPEND_REFRESH`], so several instances sharing a database each see the others' spend
//! within that delay (each enforces its own reservations).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::id::OrgId;
use crate::store::{Store, StoreError};

/// How long a read of the month's spend is trusted before it is read again.
pub const SPEND_REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Ledger {
    month: DateTime<Utc>,
    spent: i64,
    reserved: i64,
    read_at: Instant,
}

/// Reservations per organization (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct SpendGuard {
    ledgers: Mutex<HashMap<OrgId, Ledger>>,
}

/// The limit would be passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitReached;

/// An estimate held against an organization's limit until the call ends.
#[derive(Debug)]
pub(crate) struct Reservation {
    guard: Arc<SpendGuard>,
    org: OrgId,
    month: DateTime<Utc>,
    estimate: i64,
    settled: bool,
}

/// The start of `now`'s calendar month (UTC): where a monthly spend limit starts counting.
pub fn month_of(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

impl SpendGuard {
    /// Reserves `estimate` micro-dollars for `org` under `limit`; `Ok(None)` when nothing
    /// needs holding (no limit, or a free call).
    pub(crate) async fn reserve(
        self: &Arc<Self>,
        store: &dyn Store,
        org: OrgId,
        limit: Option<i64>,
        estimate: i64,
        now: DateTime<Utc>,
    ) -> Result<Result<Option<Reservation>, LimitReached>, StoreError> {
        let Some(limit) = limit else {
            return Ok(Ok(None));
        };
        if estimate <= 0 {
            return Ok(Ok(None));
        }
        let month = month_of(now);
        let stale = {
            let ledgers = self.ledgers.lock().expect("spend ledgers poisoned");
            ledgers
                .get(&org)
                .is_none_or(|l| l.month != month || l.read_at.elapsed() > SPEND_REFRESH)
        };
        if stale {
            let spent = store.spend_since(org, month).await?;
            let mut ledgers = self.ledgers.lock().expect("spend ledgers poisoned");
            let ledger = ledgers.entry(org).or_insert(Ledger {
                month,
                spent,
                reserved: 0,
                read_at: Instant::now(),
            });
            if ledger.month != month {
                ledger.reserved = 0;
            }
            ledger.month = month;
            ledger.spent = spent;
            ledger.read_at = Instant::now();
        }
        let mut ledgers = self.ledgers.lock().expect("spend ledgers poisoned");
        let Some(ledger) = ledgers.get_mut(&org) else {
            return Ok(Err(LimitReached));
        };
        if ledger
            .spent
            .saturating_add(ledger.reserved)
            .saturating_add(estimate)
            > limit
        {
            return Ok(Err(LimitReached));
        }
        ledger.reserved += estimate;
        Ok(Ok(Some(Reservation {
            guard: self.clone(),
            org,
            month,
            estimate,
            settled: false,
        })))
    }

    fn release(&self, org: OrgId, month: DateTime<Utc>, estimate: i64, actual: i64) {
        if let Some(ledger) = self
            .ledgers
            .lock()
            .expect("spend ledgers poisoned")
            .get_mut(&org)
        {
            // A reservation of a month that has ended was dropped with that month's ledger.
            if ledger.month == month {
                ledger.reserved = (ledger.reserved - estimate).max(0);
            }
            // The call's cost is recorded now, in the current month.
            ledger.spent += actual;
        }
    }
}

impl Reservation {
    /// The call cost `actual`: the estimate is released and the cost counted.
    pub(crate) fn settle(mut self, actual: i64) {
        self.settled = true;
        self.guard
            .release(self.org, self.month, self.estimate, actual);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.guard.release(self.org, self.month, self.estimate, 0);
        }
    }
}
