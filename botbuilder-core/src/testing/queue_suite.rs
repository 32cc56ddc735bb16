//! The job queue conformance suite: one function per clause of the [`JobQueue`] contract.
//!
//! A backend's test file expands [`crate::queue_conformance_suite!`] with an expression giving
//! `Option<(queue, Arc<ManualClock>)>` (a fresh queue reading time from that clock; `None`
//! when the backend is not configured, which fails under `CI=true`).

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;

use super::ManualClock;
use crate::queue::{JobQueue, NewJob, QueueError};
use uuid::Uuid;

fn job(kind: &str, max_attempts: u32) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: json!({ "document": "d-1", "note": "🤖" }),
        max_attempts,
    }
}

const LEASE: Duration = Duration::from_secs(30);

/// Jobs are leased oldest first, by kind, once at a time, and completed once.
pub async fn jobs_are_leased_in_order_and_completed_once(q: &dyn JobQueue, _: &ManualClock) {
    let a = q.enqueue(job("ingest", 3)).await.unwrap();
    let b = q.enqueue(job("ingest", 3)).await.unwrap();
    q.enqueue(job("send", 3)).await.unwrap();
    let first = q.reserve(&["ingest"], LEASE).await.unwrap().unwrap();
    assert_eq!((first.id, first.attempt), (a, 1));
    assert_eq!(first.payload, json!({ "document": "d-1", "note": "🤖" }));
    let second = q.reserve(&["ingest"], LEASE).await.unwrap().unwrap();
    assert_eq!(second.id, b);
    assert!(q.reserve(&["ingest"], LEASE).await.unwrap().is_none());
    assert_eq!(
        q.reserve(&["ingest", "send"], LEASE)
            .await
            .unwrap()
            .unwrap()
            .kind,
        "send"
    );
    q.complete(a).await.unwrap();
    assert!(matches!(q.complete(a).await, Err(QueueError::NotFound)));
    assert!(matches!(
        q.complete(uuid::Uuid::now_v7()).await,
        Err(QueueError::NotFound)
    ));
}

/// A keyed job is enqueued once: the same key again enqueues nothing (also after the first
/// job completed), until the key's retention ran out; other keys are independent.
pub async fn keyed_jobs_are_enqueued_once(q: &dyn JobQueue, clock: &ManualClock) {
    let first = q
        .enqueue_once(job("inbound", 3), "telegram:c1:100")
        .await
        .unwrap();
    let first = first.expect("a new key enqueues");
    assert_eq!(
        q.enqueue_once(job("inbound", 3), "telegram:c1:100")
            .await
            .unwrap(),
        None
    );
    let other = q
        .enqueue_once(job("inbound", 3), "telegram:c2:100")
        .await
        .unwrap();
    assert!(other.is_some());
    let leased = q.reserve(&["inbound"], LEASE).await.unwrap().unwrap();
    assert_eq!(leased.id, first);
    q.complete(first).await.unwrap();
    assert_eq!(
        q.enqueue_once(job("inbound", 3), "telegram:c1:100")
            .await
            .unwrap(),
        None
    );
    clock.advance(TimeDelta::from_std(crate::queue::ENQUEUE_ONCE_RETENTION).unwrap());
    clock.advance(TimeDelta::seconds(1));
    assert!(
        q.enqueue_once(job("inbound", 3), "telegram:c1:100")
            .await
            .unwrap()
            .is_some()
    );
}

/// A failure retries after the delay; the last allowed failure dead-letters the job.
pub async fn failures_retry_after_the_delay_then_dead_letter(
    q: &dyn JobQueue,
    clock: &ManualClock,
) {
    let id = q.enqueue(job("ingest", 2)).await.unwrap();
    q.reserve(&["ingest"], LEASE).await.unwrap().unwrap();
    q.fail(id, "boom", Duration::from_secs(10)).await.unwrap();
    assert!(
        q.reserve(&["ingest"], LEASE).await.unwrap().is_none(),
        "not before the delay"
    );
    clock.advance(TimeDelta::seconds(10));
    let retry = q.reserve(&["ingest"], LEASE).await.unwrap().unwrap();
    assert_eq!((retry.id, retry.attempt), (id, 2));
    q.fail(id, "boom again", Duration::from_secs(10))
        .await
        .unwrap();
    clock.advance(TimeDelta::seconds(60));
    assert!(q.reserve(&["ingest"], LEASE).await.unwrap().is_none());
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].kind, "ingest");
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].last_error.as_deref(), Some("boom again"));
    assert!(matches!(
        q.fail(id, "late", Duration::ZERO).await,
        Err(QueueError::NotFound)
    ));
}

/// A lease that runs out makes the job available again, until its attempts are used up.
pub async fn an_expired_lease_makes_the_job_available_again(q: &dyn JobQueue, clock: &ManualClock) {
    let id = q.enqueue(job("ingest", 2)).await.unwrap();
    q.reserve(&["ingest"], Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(
        q.reserve(&["ingest"], LEASE).await.unwrap().is_none(),
        "still leased"
    );
    clock.advance(TimeDelta::seconds(6));
    let again = q
        .reserve(&["ingest"], Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempt), (id, 2));
    clock.advance(TimeDelta::seconds(6));
    // Both attempts' workers vanished: not leased a third time, and reaped once.
    assert!(q.reserve(&["ingest"], LEASE).await.unwrap().is_none());
    assert!(q.reap_expired(&["other"]).await.unwrap().is_empty());
    let reaped = q.reap_expired(&["ingest"]).await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!((reaped[0].id, reaped[0].attempts), (id, 2));
    assert_eq!(reaped[0].payload["document"], "d-1");
    assert_eq!(reaped[0].last_error.as_deref(), Some("lease expired"));
    assert!(
        q.reap_expired(&["ingest"]).await.unwrap().is_empty(),
        "once"
    );
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].last_error.as_deref(), Some("lease expired"));
    assert!(q.reserve(&["ingest"], LEASE).await.unwrap().is_none());
}

/// A worker that extends its lease keeps the job from others; only the holder of the current
/// attempt can extend it, and not after its lease ran out or the job was completed.
pub async fn extending_a_lease_keeps_the_job_from_other_workers(
    q: &dyn JobQueue,
    clock: &ManualClock,
) {
    let short = Duration::from_secs(5);
    let id = q.enqueue(job("ingest", 3)).await.unwrap();
    let first = q.reserve(&["ingest"], short).await.unwrap().unwrap();
    for _ in 0..3 {
        clock.advance(TimeDelta::seconds(4));
        q.extend_lease(&first, short).await.unwrap();
        assert!(q.reserve(&["ingest"], short).await.unwrap().is_none());
    }
    assert!(
        q.reap_expired(&["ingest"]).await.unwrap().is_empty(),
        "a held lease is not reaped"
    );
    clock.advance(TimeDelta::seconds(6));
    assert!(
        matches!(
            q.extend_lease(&first, short).await,
            Err(QueueError::NotFound)
        ),
        "too late: the lease ran out"
    );
    let second = q.reserve(&["ingest"], short).await.unwrap().unwrap();
    assert_eq!((second.id, second.attempt), (id, 2));
    assert!(
        matches!(
            q.extend_lease(&first, short).await,
            Err(QueueError::NotFound)
        ),
        "a stale holder cannot extend the new holder's lease"
    );
    q.extend_lease(&second, short).await.unwrap();
    q.complete(id).await.unwrap();
    assert!(matches!(
        q.extend_lease(&second, short).await,
        Err(QueueError::NotFound)
    ));
}

/// Dead letters are found by kind and payload field, and a retried one runs again with a
/// full set of attempts.
pub async fn dead_letters_are_found_by_payload_and_retried(q: &dyn JobQueue, clock: &ManualClock) {
    let mine = NewJob {
        kind: "ingest".to_owned(),
        payload: serde_json::json!({ "kb": "kb-1", "n": 1 }),
        max_attempts: 1,
    };
    let theirs = NewJob {
        payload: serde_json::json!({ "kb": "kb-2", "n": 2 }),
        ..mine.clone()
    };
    let other_kind = NewJob {
        kind: "email".to_owned(),
        ..mine.clone()
    };
    let mut ids = Vec::new();
    for job in [mine, theirs, other_kind] {
        let id = q.enqueue(job).await.unwrap();
        let leased = q
            .reserve(&["ingest", "email"], LEASE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.id, id);
        q.fail(id, "broken", Duration::ZERO).await.unwrap();
        ids.push(id);
    }
    let found = q
        .dead_letters_where("ingest", "kb", "kb-1", 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, ids[0]);
    assert_eq!(found[0].payload["n"], 1);
    assert!(
        q.dead_letters_where("ingest", "kb", "kb-9", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        q.dead_letters_where("ingest", "n", "1", 10)
            .await
            .unwrap()
            .is_empty(),
        "strings only"
    );

    q.retry_dead(ids[0]).await.unwrap();
    clock.advance(TimeDelta::seconds(1));
    let again = q.reserve(&["ingest"], LEASE).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (ids[0], 1));
    q.complete(again.id).await.unwrap();
    assert!(
        q.dead_letters_where("ingest", "kb", "kb-1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(q.dead_letters(10).await.unwrap().len(), 2);
    assert!(matches!(
        q.retry_dead(ids[0]).await,
        Err(QueueError::NotFound)
    ));
    assert!(matches!(
        q.retry_dead(Uuid::now_v7()).await,
        Err(QueueError::NotFound)
    ));
}

/// Expands the suite for one backend (see the module docs).
#[macro_export]
macro_rules! queue_conformance_suite {
    ($make:expr) => {
        $crate::__queue_cases!($make;
            jobs_are_leased_in_order_and_completed_once,
            keyed_jobs_are_enqueued_once,
            failures_retry_after_the_delay_then_dead_letter,
            an_expired_lease_makes_the_job_available_again,
            extending_a_lease_keeps_the_job_from_other_workers,
            dead_letters_are_found_by_payload_and_retried,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __queue_cases {
    ($make:expr; $($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let Some((queue, clock)) = $make.await else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{}: backend not configured, and under CI every backend must run",
                    stringify!($case)
                );
                eprintln!("skipped {}: backend not configured", stringify!($case));
                return;
            };
            $crate::testing::queue_suite::$case(&queue, &clock).await;
        }
    )+};
}
