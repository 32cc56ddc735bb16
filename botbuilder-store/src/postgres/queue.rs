//! [`JobQueue`] on Postgres: the durable queue shared by every instance. Jobs are rows; a
//! lease is a timestamp, so a job whose worker died (or whose instance restarted) is handed
//! out again once its lease runs out.
//!
//! Jobs belong to no organization (the `jobs` table has no `organization_id`, so no
//! row-level security), so the queue runs its statements on the pool, outside any tenant's
//! transaction. What differs from SQLite, whose single writer serialized every step:
//!
//! - [`JobQueue::reserve`] picks its job with `FOR UPDATE SKIP LOCKED` inside the `UPDATE`:
//!   of many workers reserving at once, each locks a different ready job (a job another
//!   worker is taking is skipped, not waited for), and a locked row that stopped being ready
//!   meanwhile is re-checked and passed over, so a job is handed to exactly one worker.
//! - [`JobQueue::reap_expired`] skips the rows others hold the same way, so concurrent sweeps
//!   never wait on each other; every other write names one job and re-checks its condition
//!   on the row it locks (READ COMMITTED), so a job is completed, failed, extended or reaped
//!   by one caller only.
//! - [`JobQueue::enqueue_once`] relies on the key's primary key: a concurrent insert of the
//!   same key waits for the first transaction and then inserts nothing.

use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::queue::{
    DeadJob, ENQUEUE_ONCE_RETENTION, JobQueue, LeasedJob, NewJob, QueueError,
};
use sqlx::{PgConnection, PgExecutor, SqlSafeStr};
use uuid::Uuid;

use super::{PgStore, storable};
use crate::error::queue_unavailable;
use crate::rows::jobs::{DeadJobRow, attempts, dead_job, duration_micros};
use crate::rows::micros;

/// `Ok` when a write touched a job, `NotFound` when it touched none.
fn touched(rows_affected: u64) -> Result<(), QueueError> {
    if rows_affected == 0 {
        Err(QueueError::NotFound)
    } else {
        Ok(())
    }
}

async fn insert_job<'c>(
    db: impl PgExecutor<'c>,
    id: Uuid,
    job: &NewJob,
    now: i64,
) -> Result<(), QueueError> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, max_attempts, available_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(i64::from(job.max_attempts))
    .bind(now)
    .execute(db)
    .await
    .map_err(queue_unavailable)?;
    Ok(())
}

/// Forgets the enqueue-once keys recorded at or before `cutoff`: `key`'s own (waiting for a
/// transaction that holds it, since whether `key` is free depends on it), and every other
/// one that no concurrent transaction holds (housekeeping; the next call gets the rest).
async fn prune_keys(db: &mut PgConnection, key: &str, cutoff: i64) -> Result<(), QueueError> {
    sqlx::query("DELETE FROM job_keys WHERE key = $1 AND recorded_at <= $2")
        .bind(key)
        .bind(cutoff)
        .execute(&mut *db)
        .await
        .map_err(queue_unavailable)?;
    sqlx::query(
        "DELETE FROM job_keys WHERE key IN (
             SELECT key FROM job_keys WHERE recorded_at <= $1 FOR UPDATE SKIP LOCKED)",
    )
    .bind(cutoff)
    .execute(db)
    .await
    .map_err(queue_unavailable)?;
    Ok(())
}

#[async_trait]
impl JobQueue for PgStore {
    async fn enqueue(&self, job: NewJob) -> Result<Uuid, QueueError> {
        let id = Uuid::now_v7();
        insert_job(&self.pool, id, &job, micros(self.now())).await?;
        Ok(id)
    }

    async fn enqueue_once(&self, job: NewJob, key: &str) -> Result<Option<Uuid>, QueueError> {
        let id = Uuid::now_v7();
        let now = micros(self.now());
        let mut tx = super::begin_whole(&self.pool, "BEGIN".into_sql_str())
            .await
            .map_err(|e| QueueError::Unavailable(Box::new(e)))?;
        prune_keys(&mut tx, key, now - duration_micros(ENQUEUE_ONCE_RETENTION)).await?;
        // A concurrent transaction inserting the same key makes this wait for its outcome:
        // committed, this records nothing; rolled back, this records the key.
        let recorded = sqlx::query(
            "INSERT INTO job_keys (key, job_id, recorded_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(queue_unavailable)?;
        let enqueued = recorded.rows_affected() > 0;
        if enqueued {
            insert_job(&mut *tx, id, &job, now).await?;
        }
        // Committed either way, keeping the pruning of a call that found its key taken.
        tx.commit().await.map_err(queue_unavailable)?;
        Ok(enqueued.then_some(id))
    }

    async fn reserve(
        &self,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<LeasedJob>, QueueError> {
        let now = micros(self.now());
        // The scalar subquery runs once (an InitPlan) and locks the job it returns; see the
        // module docs for why `SKIP LOCKED` hands it to this worker only.
        let row: Option<(Uuid, String, String, i64)> = sqlx::query_as(
            "UPDATE jobs SET attempts = attempts + 1, leased_until = $1 + $2
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE NOT dead AND kind = ANY($3) AND available_at <= $1
                   AND (leased_until IS NULL
                        OR (leased_until <= $1 AND attempts < max_attempts))
                 ORDER BY id LIMIT 1
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, payload, attempts",
        )
        .bind(now)
        .bind(duration_micros(lease))
        .bind(kinds)
        .fetch_optional(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        row.map(|(id, kind, payload, n)| {
            Ok(LeasedJob {
                id,
                kind,
                payload: serde_json::from_str(&payload)
                    .map_err(|e| QueueError::Unavailable(Box::new(e)))?,
                attempt: attempts(n),
            })
        })
        .transpose()
    }

    async fn complete(&self, id: Uuid) -> Result<(), QueueError> {
        let done =
            sqlx::query("DELETE FROM jobs WHERE id = $1 AND NOT dead AND leased_until IS NOT NULL")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(queue_unavailable)?;
        touched(done.rows_affected())
    }

    async fn fail(&self, id: Uuid, error: &str, retry_in: Duration) -> Result<(), QueueError> {
        let done = sqlx::query(
            "UPDATE jobs SET last_error = $2, leased_until = NULL,
                    dead = (attempts >= max_attempts), available_at = $3 + $4
             WHERE id = $1 AND NOT dead AND leased_until IS NOT NULL",
        )
        .bind(id)
        .bind(storable(error))
        .bind(micros(self.now()))
        .bind(duration_micros(retry_in))
        .execute(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        touched(done.rows_affected())
    }

    async fn extend_lease(&self, job: &LeasedJob, lease: Duration) -> Result<(), QueueError> {
        let done = sqlx::query(
            "UPDATE jobs SET leased_until = $1 + $2
             WHERE id = $3 AND attempts = $4 AND NOT dead AND leased_until > $1",
        )
        .bind(micros(self.now()))
        .bind(duration_micros(lease))
        .bind(job.id)
        .bind(i64::from(job.attempt))
        .execute(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        touched(done.rows_affected())
    }

    async fn reap_expired(&self, kinds: &[&str]) -> Result<Vec<DeadJob>, QueueError> {
        let rows: Vec<DeadJobRow> = sqlx::query_as(
            "UPDATE jobs SET dead = true, leased_until = NULL, last_error = 'lease expired'
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE NOT dead AND kind = ANY($2)
                   AND leased_until IS NOT NULL AND leased_until <= $1
                   AND attempts >= max_attempts
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, payload, last_error, attempts",
        )
        .bind(micros(self.now()))
        .bind(kinds)
        .fetch_all(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        Ok(rows.into_iter().map(dead_job).collect())
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError> {
        let rows: Vec<DeadJobRow> = sqlx::query_as(
            "SELECT id, kind, payload, last_error, attempts FROM jobs
             WHERE dead ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        Ok(rows.into_iter().map(dead_job).collect())
    }

    async fn dead_letters_where(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        limit: u32,
    ) -> Result<Vec<DeadJob>, QueueError> {
        // SQLite looks the key up as the JSON path `$."key"` with any `"` removed; the same
        // key is used here, so both stores find the same jobs. A payload `jsonb` cannot read
        // (one holding `\u0000`) matches nothing rather than failing the whole lookup.
        let rows: Vec<DeadJobRow> = sqlx::query_as(
            "SELECT id, kind, payload, last_error, attempts FROM jobs
             WHERE dead AND kind = $1
               AND CASE WHEN pg_input_is_valid(payload, 'jsonb')
                        THEN jsonb_typeof(payload::jsonb -> $2) = 'string'
                             AND payload::jsonb ->> $2 = $3
                        ELSE false END
             ORDER BY id LIMIT $4",
        )
        .bind(kind)
        .bind(key.replace('"', ""))
        .bind(value)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        Ok(rows.into_iter().map(dead_job).collect())
    }

    async fn retry_dead(&self, id: Uuid) -> Result<(), QueueError> {
        let done = sqlx::query(
            "UPDATE jobs SET dead = false, attempts = 0, last_error = NULL, leased_until = NULL,
                    available_at = $2
             WHERE id = $1 AND dead",
        )
        .bind(id)
        .bind(micros(self.now()))
        .execute(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        touched(done.rows_affected())
    }
}
