//! Background job queue port.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::BoxError;

/// How long [`JobQueue::enqueue_once`] remembers a key: past the longest redelivery of the
/// platforms (WhatsApp retries for about a day).
pub const ENQUEUE_ONCE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A job to run in the background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Which worker handles it (`"ingest_document"`, `"send_message"`).
    pub kind: String,
    /// Worker-specific input.
    pub payload: serde_json::Value,
    /// How many attempts before the job is dead-lettered.
    pub max_attempts: u32,
}

/// A job handed to a worker, leased for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeasedJob {
    /// The job's id.
    pub id: Uuid,
    /// Which worker handles it.
    pub kind: String,
    /// Worker-specific input.
    pub payload: serde_json::Value,
    /// 1 on the first try.
    pub attempt: u32,
}

/// A job that failed `max_attempts` times and will not run again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadJob {
    /// The job's id.
    pub id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Its input.
    pub payload: serde_json::Value,
    /// The last error reported by a worker (or `lease expired`).
    pub last_error: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
}

/// A queue failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The job id is unknown or its lease expired.
    #[error("job not found or lease lost")]
    NotFound,
    /// The backend failed; retry.
    #[error("queue unavailable")]
    Unavailable(#[source] BoxError),
}

/// A durable at-least-once job queue.
///
/// Contract: an enqueued job is handed out by [`JobQueue::reserve`] until it is completed or
/// has failed `max_attempts` times (then it is dead-lettered). A reserved job not completed
/// within its lease becomes available again, so handlers must be idempotent; a worker keeps
/// its lease with [`JobQueue::extend_lease`] while work progresses, so one job is worked by
/// one worker at a time. A job whose final lease runs out is dead-lettered by
/// [`JobQueue::reap_expired`], which tells the caller.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Enqueues a job and returns its id.
    async fn enqueue(&self, job: NewJob) -> Result<Uuid, QueueError>;

    /// Enqueues `job` unless a job was enqueued with the same `key` within
    /// [`ENQUEUE_ONCE_RETENTION`]: then nothing is enqueued and the answer is `None`. The key
    /// and the job are recorded together (both or neither), so a caller that acknowledges
    /// only after this returns can let a redelivered event through without ever running it
    /// twice: the platform's event id is the key.
    async fn enqueue_once(&self, job: NewJob, key: &str) -> Result<Option<Uuid>, QueueError>;

    /// Leases the oldest ready job of one of `kinds` for `lease`; `None` if there is none.
    async fn reserve(
        &self,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<LeasedJob>, QueueError>;

    /// Marks a leased job done.
    async fn complete(&self, id: Uuid) -> Result<(), QueueError>;

    /// Records a failed attempt; the job is retried after `retry_in` or dead-lettered.
    async fn fail(&self, id: Uuid, error: &str, retry_in: Duration) -> Result<(), QueueError>;

    /// Extends the lease of `job` to `lease` from now: the heartbeat of a worker whose work
    /// takes longer than one lease, so no other worker takes the job meanwhile. Only the
    /// holder of this attempt can extend it: `NotFound` when the job was completed, failed,
    /// dead-lettered, or its lease ran out (another worker may hold it now; stop working).
    async fn extend_lease(&self, job: &LeasedJob, lease: Duration) -> Result<(), QueueError>;

    /// Dead-letters the jobs of `kinds` whose final attempt's lease ran out without an answer
    /// (their worker died or was killed every time) and returns them, each once, so the
    /// caller can record the failure where users see it (a document's status). Such jobs are
    /// never handed out by [`JobQueue::reserve`]; until reaped they are in neither list.
    async fn reap_expired(&self, kinds: &[&str]) -> Result<Vec<DeadJob>, QueueError>;

    /// Dead-lettered jobs, oldest first, at most `limit`.
    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError>;

    /// Dead-lettered jobs of `kind` whose payload has the string `value` at the top-level
    /// `key` (an organization's, a knowledge base's), oldest first, at most `limit`. The
    /// default filters [`JobQueue::dead_letters`]; backends override it to filter inside.
    async fn dead_letters_where(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        limit: u32,
    ) -> Result<Vec<DeadJob>, QueueError> {
        Ok(self
            .dead_letters(u32::MAX)
            .await?
            .into_iter()
            .filter(|job| job.kind == kind && job.payload[key].as_str() == Some(value))
            .take(limit as usize)
            .collect())
    }

    /// Gives a dead-lettered job another full set of attempts, available now. `NotFound` when
    /// no dead job has that id.
    async fn retry_dead(&self, id: Uuid) -> Result<(), QueueError>;
}
