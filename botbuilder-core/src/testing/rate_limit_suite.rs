//! The rate limiter conformance suite: one `pub async fn` per clause of the
//! [`RateLimiter`] contract, on real time (a shared limiter such as Redis keeps its own clock),
//! with short periods. Backends run every clause through
//! [`crate::rate_limit_conformance_suite!`]. Each clause uses keys of its own, so clauses may
//! share one backend.

use std::sync::Arc;
use std::time::Duration;

use crate::rate_limit::{Quota, RateLimitError, RateLimiter};

fn key(tag: &str) -> String {
    format!("suite:{tag}:{}", uuid::Uuid::now_v7().simple())
}

fn retry_after(result: Result<(), RateLimitError>) -> Duration {
    match result {
        Err(RateLimitError::Limited { retry_after }) => retry_after,
        other => panic!("expected Limited, got {other:?}"),
    }
}

/// A burst is admitted at once; the next call is refused with the time one unit takes to
/// refill (period / burst), and admitted once that time has passed, once.
pub async fn a_burst_is_admitted_then_refused_until_a_unit_refills(limiter: &dyn RateLimiter) {
    let key = key("burst");
    let quota = Quota {
        burst: 3,
        period: Duration::from_millis(900),
    };
    for _ in 0..3 {
        limiter.check(&key, quota).await.unwrap();
    }
    let wait = retry_after(limiter.check(&key, quota).await);
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(300),
        "{wait:?}"
    );
    tokio::time::sleep(wait + Duration::from_millis(30)).await;
    limiter.check(&key, quota).await.unwrap();
    retry_after(limiter.check(&key, quota).await);
}

/// Keys are independent: one key's exhaustion refuses nothing for another.
pub async fn keys_are_independent(limiter: &dyn RateLimiter) {
    let (a, b) = (key("a"), key("b"));
    let quota = Quota::per_minute(1);
    limiter.check(&a, quota).await.unwrap();
    retry_after(limiter.check(&a, quota).await);
    limiter.check(&b, quota).await.unwrap();
}

/// Peeking says whether a check would be admitted and consumes nothing.
pub async fn peeking_consumes_nothing(limiter: &dyn RateLimiter) {
    let key = key("peek");
    let quota = Quota::per_minute(2);
    for _ in 0..5 {
        limiter.peek(&key, quota).await.unwrap();
    }
    limiter.check(&key, quota).await.unwrap();
    limiter.check(&key, quota).await.unwrap();
    retry_after(limiter.peek(&key, quota).await);
    retry_after(limiter.check(&key, quota).await);
}

/// Concurrent checks of one key admit exactly the burst, never more.
pub async fn concurrent_checks_admit_exactly_the_burst(limiter: Arc<dyn RateLimiter>) {
    let key = key("concurrent");
    let quota = Quota::per_minute(10);
    let calls: Vec<_> = (0..40)
        .map(|_| {
            let (limiter, key) = (limiter.clone(), key.clone());
            tokio::spawn(async move { limiter.check(&key, quota).await.is_ok() })
        })
        .collect();
    let mut admitted = 0;
    for call in calls {
        admitted += usize::from(call.await.unwrap());
    }
    assert_eq!(admitted, 10);
}

/// Expands one `#[tokio::test]` per clause for a backend. `$make` evaluates to a future of
/// `Option<Arc<dyn RateLimiter>>`; `None` skips (printing why) outside CI only.
#[macro_export]
macro_rules! rate_limit_conformance_suite {
    ($make:expr) => {
        $crate::__rate_limit_cases!($make;
            a_burst_is_admitted_then_refused_until_a_unit_refills,
            keys_are_independent,
            peeking_consumes_nothing,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_checks_admit_exactly_the_burst() {
            if let Some(limiter) = $crate::__backend_or_skip!($make, "concurrent_checks_admit_exactly_the_burst", $crate::rate_limit::RateLimiter) {
                $crate::testing::rate_limit_suite::concurrent_checks_admit_exactly_the_burst(limiter).await;
            }
        }
    };
}

/// The backend `$make` makes (a future of `Option<Arc<dyn $port>>`), or `None` with a note
/// that `$case` is skipped; under CI a missing backend fails instead. Shared by the
/// conformance suites of backends that need a service (rate limiters, caches).
#[doc(hidden)]
#[macro_export]
macro_rules! __backend_or_skip {
    ($make:expr, $case:expr, $port:path) => {{
        let made: Option<std::sync::Arc<dyn $port>> = $make.await;
        if made.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{}: backend not configured, and under CI every backend must run",
                $case
            );
            eprintln!("skipped {}: backend not configured", $case);
        }
        made
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __rate_limit_cases {
    ($make:expr; $($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            if let Some(limiter) = $crate::__backend_or_skip!($make, stringify!($case), $crate::rate_limit::RateLimiter) {
                $crate::testing::rate_limit_suite::$case(limiter.as_ref()).await;
            }
        }
    )+};
}
