//! An in-process [`JobQueue`]: at-least-once delivery with leases, retries and a dead-letter
//! list, held in memory. Jobs do not survive a restart; the durable SQLite-backed queue of the
//! embedded default replaces it where that matters.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::clock::{Clock, SystemClock};
use botbuilder_core::queue::{
    DeadJob, ENQUEUE_ONCE_RETENTION, JobQueue, LeasedJob, NewJob, QueueError,
};
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

/// The in-process job queue (see the module docs).
pub struct MemoryJobQueue {
    clock: Arc<dyn Clock>,
    // Keyed by UUIDv7, so iteration order is enqueue order.
    jobs: Mutex<BTreeMap<Uuid, Job>>,
    /// Keys of [`JobQueue::enqueue_once`], with when they were recorded.
    keys: Mutex<HashMap<String, DateTime<Utc>>>,
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

/// The error recorded on a job whose final lease ran out.
const LEASE_EXPIRED: &str = "lease expired";

fn dead_job(id: Uuid, job: &Job) -> DeadJob {
    DeadJob {
        id,
        kind: job.job.kind.clone(),
        payload: job.job.payload.clone(),
        last_error: job.last_error.clone(),
        attempts: job.attempts,
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
            keys: Mutex::new(HashMap::new()),
        }
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

    async fn enqueue_once(&self, job: NewJob, key: &str) -> Result<Option<Uuid>, QueueError> {
        let now = self.clock.now();
        {
            let mut keys = self.keys.lock().expect("queue poisoned");
            keys.retain(|_, at| *at + delta(ENQUEUE_ONCE_RETENTION) > now);
            if keys.contains_key(key) {
                return Ok(None);
            }
            keys.insert(key.to_owned(), now);
        }
        self.enqueue(job).await.map(Some)
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
                continue; // the final lease ran out: for `reap_expired`
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

    async fn extend_lease(&self, leased: &LeasedJob, lease: Duration) -> Result<(), QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs.lock().expect("queue poisoned");
        let job = jobs
            .get_mut(&leased.id)
            .filter(|j| {
                !j.dead && j.attempts == leased.attempt && j.leased_until.is_some_and(|u| u > now)
            })
            .ok_or(QueueError::NotFound)?;
        job.leased_until = Some(now + delta(lease));
        Ok(())
    }

    async fn reap_expired(&self, kinds: &[&str]) -> Result<Vec<DeadJob>, QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs.lock().expect("queue poisoned");
        let mut reaped = Vec::new();
        for (id, job) in jobs.iter_mut() {
            let expired = job.leased_until.is_some_and(|until| until <= now);
            if job.dead
                || !expired
                || job.attempts < job.job.max_attempts
                || !kinds.contains(&job.job.kind.as_str())
            {
                continue;
            }
            job.dead = true;
            job.leased_until = None;
            job.last_error = Some(LEASE_EXPIRED.to_owned());
            reaped.push(dead_job(*id, job));
        }
        Ok(reaped)
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError> {
        let jobs = self.jobs.lock().expect("queue poisoned");
        Ok(jobs
            .iter()
            .filter(|(_, j)| j.dead)
            .take(limit as usize)
            .map(|(id, j)| dead_job(*id, j))
            .collect())
    }

    async fn retry_dead(&self, id: Uuid) -> Result<(), QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs.lock().expect("queue poisoned");
        let job = jobs
            .get_mut(&id)
            .filter(|j| j.dead)
            .ok_or(QueueError::NotFound)?;
        job.dead = false;
        job.attempts = 0;
        job.last_error = None;
        job.leased_until = None;
        job.available_at = now;
        Ok(())
    }
}
