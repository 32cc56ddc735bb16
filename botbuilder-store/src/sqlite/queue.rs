//! [`JobQueue`] on SQLite: the durable queue of the embedded default. Jobs are rows; a lease
//! is a timestamp, so a job whose worker died (or whose process restarted) is handed out
//! again once its lease runs out. Every step is one statement on the writer connection.

use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::queue::{
    DeadJob, ENQUEUE_ONCE_RETENTION, JobQueue, LeasedJob, NewJob, QueueError,
};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::queue_unavailable;
use crate::rows::jobs::{DeadJobRow, attempts, dead_job, duration_micros};
use crate::rows::micros;

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, job: NewJob) -> Result<Uuid, QueueError> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO jobs (id, kind, payload, max_attempts, available_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(i64::from(job.max_attempts))
        .bind(micros(self.now()))
        .execute(&self.writer)
        .await
        .map_err(queue_unavailable)?;
        Ok(id)
    }

    async fn enqueue_once(&self, job: NewJob, key: &str) -> Result<Option<Uuid>, QueueError> {
        let id = Uuid::now_v7();
        let now = micros(self.now());
        let mut tx = self.writer.begin().await.map_err(queue_unavailable)?;
        sqlx::query("DELETE FROM job_keys WHERE recorded_at <= ?")
            .bind(now - duration_micros(ENQUEUE_ONCE_RETENTION))
            .execute(&mut *tx)
            .await
            .map_err(queue_unavailable)?;
        let recorded = sqlx::query(
            "INSERT INTO job_keys (key, job_id, recorded_at) VALUES (?, ?, ?)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(queue_unavailable)?;
        if recorded.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO jobs (id, kind, payload, max_attempts, available_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(i64::from(job.max_attempts))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(queue_unavailable)?;
        tx.commit().await.map_err(queue_unavailable)?;
        Ok(Some(id))
    }

    async fn reserve(
        &self,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<LeasedJob>, QueueError> {
        let now = micros(self.now());
        let kinds = serde_json::to_string(kinds).unwrap_or_else(|_| "[]".to_owned());
        let row: Option<(Uuid, String, String, i64)> = sqlx::query_as(
            "UPDATE jobs SET attempts = attempts + 1, leased_until = ?1 + ?2
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE dead = 0 AND kind IN (SELECT value FROM json_each(?3))
                   AND available_at <= ?1
                   AND (leased_until IS NULL
                        OR (leased_until <= ?1 AND attempts < max_attempts))
                 ORDER BY id LIMIT 1)
             RETURNING id, kind, payload, attempts",
        )
        .bind(now)
        .bind(duration_micros(lease))
        .bind(kinds)
        .fetch_optional(&self.writer)
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
            sqlx::query("DELETE FROM jobs WHERE id = ? AND dead = 0 AND leased_until IS NOT NULL")
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(queue_unavailable)?;
        if done.rows_affected() == 0 {
            return Err(QueueError::NotFound);
        }
        Ok(())
    }

    async fn fail(&self, id: Uuid, error: &str, retry_in: Duration) -> Result<(), QueueError> {
        let now = micros(self.now());
        let done = sqlx::query(
            "UPDATE jobs SET last_error = ?2, leased_until = NULL,
                    dead = (attempts >= max_attempts), available_at = ?3 + ?4
             WHERE id = ?1 AND dead = 0 AND leased_until IS NOT NULL",
        )
        .bind(id)
        .bind(error)
        .bind(now)
        .bind(duration_micros(retry_in))
        .execute(&self.writer)
        .await
        .map_err(queue_unavailable)?;
        if done.rows_affected() == 0 {
            return Err(QueueError::NotFound);
        }
        Ok(())
    }

    async fn extend_lease(&self, job: &LeasedJob, lease: Duration) -> Result<(), QueueError> {
        let now = micros(self.now());
        let done = sqlx::query(
            "UPDATE jobs SET leased_until = ?1 + ?2
             WHERE id = ?3 AND attempts = ?4 AND dead = 0 AND leased_until > ?1",
        )
        .bind(now)
        .bind(duration_micros(lease))
        .bind(job.id)
        .bind(i64::from(job.attempt))
        .execute(&self.writer)
        .await
        .map_err(queue_unavailable)?;
        if done.rows_affected() == 0 {
            return Err(QueueError::NotFound);
        }
        Ok(())
    }

    async fn reap_expired(&self, kinds: &[&str]) -> Result<Vec<DeadJob>, QueueError> {
        let kinds = serde_json::to_string(kinds).unwrap_or_else(|_| "[]".to_owned());
        let rows: Vec<DeadJobRow> = sqlx::query_as(
            "UPDATE jobs SET dead = 1, leased_until = NULL, last_error = 'lease expired'
             WHERE dead = 0 AND kind IN (SELECT value FROM json_each(?2))
               AND leased_until IS NOT NULL AND leased_until <= ?1
               AND attempts >= max_attempts
             RETURNING id, kind, payload, last_error, attempts",
        )
        .bind(micros(self.now()))
        .bind(kinds)
        .fetch_all(&self.writer)
        .await
        .map_err(queue_unavailable)?;
        Ok(rows.into_iter().map(dead_job).collect())
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadJob>, QueueError> {
        let rows: Vec<DeadJobRow> = sqlx::query_as(
            "SELECT id, kind, payload, last_error, attempts FROM jobs
             WHERE dead = 1 ORDER BY id LIMIT ?",
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
        let rows: Vec<DeadJobRow> = sqlx::query_as(
            "SELECT id, kind, payload, last_error, attempts FROM jobs
             WHERE dead = 1 AND kind = ?1 AND json_type(payload, ?2) = 'text'
               AND json_extract(payload, ?2) = ?3
             ORDER BY id LIMIT ?4",
        )
        .bind(kind)
        .bind(format!("$.\"{}\"", key.replace('"', "")))
        .bind(value)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(queue_unavailable)?;
        Ok(rows.into_iter().map(dead_job).collect())
    }

    async fn retry_dead(&self, id: Uuid) -> Result<(), QueueError> {
        let done = sqlx::query(
            "UPDATE jobs SET dead = 0, attempts = 0, last_error = NULL, leased_until = NULL,
                    available_at = ?2
             WHERE id = ?1 AND dead = 1",
        )
        .bind(id)
        .bind(micros(self.now()))
        .execute(&self.writer)
        .await
        .map_err(queue_unavailable)?;
        if done.rows_affected() == 0 {
            return Err(QueueError::NotFound);
        }
        Ok(())
    }
}
