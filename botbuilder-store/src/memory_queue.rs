//! An in-process [`JobQueue`]: at-least-once delivery with leases, retries and a dead-letter
//! list, held in memory. Jobs do not survive a restart; the durable SQLite-backed queue of the
//! embedded default replaces it where that matters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::clock::{Clock, SystemClock};
use botbuilder_core::queue::{JobQueue, LeasedJob, NewJob, QueueError};
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

#[derive(Debug)]
struct Job {
    job: NewJob,
    attempts: u32,
    available_at: DateTime<Utc>,
    leased_until: Option<DateTime<Utc>>,
    dead: bool,
    last_error: Option<String>,
}

/// A job that failed `max_attempts` times.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadJob {
    /// The job's id.
    pub id: Uuid,
    /// Its kind.
    pub kind: String,
    /// The last error reported by a worker.
    pub last_error: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
}

/// The in-process job queue (see the module docs).
pub struct MemoryJobQueue {
    clock: Arc<dyn Clock>,
    // Keyed by UUIDv7, so iteration order is enqueue order.
    jobs: Mutex<BTreeMap<Uuid, Job>>,
}

impl std::fmt::Debug for MemoryJobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryJobQueue").finish_non_exhaustive()
    }
}

impl Default for MemoryJobQueue {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl MemoryJobQueue {
    /// A queue reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            jobs: Mutex::new(BTreeMap::new()),
        }
    }

    /// Jobs that exhausted their attempts, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadJob> {
        let jobs = self.jobs.lock().expect("queue poisoned");
        jobs.iter()
            .filter(|(_, j)| j.dead)
            .map(|(id, j)| DeadJob {
                id: *id,
                kind: j.job.kind.clone(),
                last_error: j.last_error.clone(),
                attempts: j.attempts,
            })
            .collect()
    }
}

#[async_trait]
impl JobQueue for MemoryJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<Uuid, QueueError> {
        let id = Uuid::now_v7();
        let entry = Job {
            job,
            attempts: 0,
            available_at: self.clock.now(),
            leased_until: None,
            dead: false,
            last_error: None,
        };
        self.jobs.lock().expect("queue poisoned").insert(id, entry);
        Ok(id)
    }

    async fn reserve(
        &self,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<LeasedJob>, QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs.lock().expect("queue poisoned");
        for (id, job) in jobs.iter_mut() {
            if job.dead || !kinds.contains(&job.job.kind.as_str()) || job.available_at > now {
                continue;
            }
            if job.leased_until.is_some_and(|until| until > now) {
                continue;
            }
            if job.leased_until.is_some() && job.attempts >= job.job.max_attempts {
                // The last lease ran out without an answer: the worker died every time.
                job.dead = true;
                job.last_error = Some("lease expired".to_owned());
                continue;
            }
            job.attempts += 1;
            job.leased_until = Some(now + delta(lease));
            return Ok(Some(LeasedJob {
                id: *id,
                kind: job.job.kind.clone(),
                payload: job.job.payload.clone(),
                attempt: job.attempts,
            }));
        }
        Ok(None)
    }

    async fn complete(&self, id: Uuid) -> Result<(), QueueError> {
        let mut jobs = self.jobs.lock().expect("queue poisoned");
        match jobs.get(&id) {
            Some(job) if job.leased_until.is_some() && !job.dead => {
                jobs.remove(&id);
                Ok(())
            }
            _ => Err(QueueError::NotFound),
        }
    }

    async fn fail(&self, id: Uuid, error: &str, retry_in: Duration) -> Result<(), QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs.lock().expect("queue poisoned");
        let job = jobs
            .get_mut(&id)
            .filter(|j| j.leased_until.is_some() && !j.dead)
            .ok_or(QueueError::NotFound)?;
        job.last_error = Some(error.to_owned());
        job.leased_until = None;
        if job.attempts >= job.job.max_attempts {
            job.dead = true;
        } else {
            job.available_at = now + delta(retry_in);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::testing::ManualClock;
    use serde_json::json;

    fn job(kind: &str, max_attempts: u32) -> NewJob {
        NewJob {
            kind: kind.to_owned(),
            payload: json!({ "n": 1 }),
            max_attempts,
        }
    }

    #[tokio::test]
    async fn jobs_are_leased_in_order_and_completed_once() {
        let queue = MemoryJobQueue::default();
        let a = queue.enqueue(job("ingest", 3)).await.unwrap();
        let b = queue.enqueue(job("ingest", 3)).await.unwrap();
        queue.enqueue(job("send", 3)).await.unwrap();
        let lease = Duration::from_secs(30);
        let first = queue.reserve(&["ingest"], lease).await.unwrap().unwrap();
        assert_eq!((first.id, first.attempt), (a, 1));
        let second = queue.reserve(&["ingest"], lease).await.unwrap().unwrap();
        assert_eq!(second.id, b);
        assert!(queue.reserve(&["ingest"], lease).await.unwrap().is_none());
        queue.complete(a).await.unwrap();
        assert!(matches!(queue.complete(a).await, Err(QueueError::NotFound)));
    }

    #[tokio::test]
    async fn failures_retry_after_the_delay_then_dead_letter() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let queue = MemoryJobQueue::new(clock.clone());
        let id = queue.enqueue(job("ingest", 2)).await.unwrap();
        let lease = Duration::from_secs(30);
        queue.reserve(&["ingest"], lease).await.unwrap().unwrap();
        queue
            .fail(id, "boom", Duration::from_secs(10))
            .await
            .unwrap();
        assert!(queue.reserve(&["ingest"], lease).await.unwrap().is_none());
        clock.advance(TimeDelta::seconds(10));
        let retry = queue.reserve(&["ingest"], lease).await.unwrap().unwrap();
        assert_eq!(retry.attempt, 2);
        queue
            .fail(id, "boom again", Duration::from_secs(10))
            .await
            .unwrap();
        clock.advance(TimeDelta::seconds(60));
        assert!(queue.reserve(&["ingest"], lease).await.unwrap().is_none());
        let dead = queue.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("boom again"));
    }

    #[tokio::test]
    async fn an_expired_lease_makes_the_job_available_again() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let queue = MemoryJobQueue::new(clock.clone());
        let id = queue.enqueue(job("ingest", 1)).await.unwrap();
        let lease = Duration::from_secs(5);
        queue.reserve(&["ingest"], lease).await.unwrap().unwrap();
        clock.advance(TimeDelta::seconds(6));
        // One attempt allowed and its worker vanished: dead-lettered, not re-leased.
        assert!(queue.reserve(&["ingest"], lease).await.unwrap().is_none());
        assert_eq!(queue.dead_letters()[0].id, id);
    }
}
