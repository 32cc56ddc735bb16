//! The delivery half of the webhook repository: leases, attempts, redelivery, pruning and
//! the sweep's query.

use std::time::Duration;

use botbuilder_core::domain::{
    AttemptOutcome, KEPT_ATTEMPTS, WebhookAttempt, WebhookClaim, WebhookDelivery,
};
use botbuilder_core::id::{OrgId, WebhookDeliveryId, WebhookId};
use botbuilder_core::store::{StoreError, StoreResult};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::SqliteStore;
use super::super::rows::micros;
use super::lease_micros;
use crate::error::store_err;

/// The attempt log with the JSON attempt `$entry` appended, the newest `?8` kept.
macro_rules! appended_log {
    ($entry:literal) => {
        concat!(
            "(SELECT json_group_array(json(value) ORDER BY key) \
              FROM json_each(json_insert(attempt_log, '$[#]', json(",
            $entry,
            "))) WHERE key >= json_array_length(attempt_log) + 1 - ?8)"
        )
    };
}

impl SqliteStore {
    pub(super) async fn claim_delivery(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        order_key: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        max_in_flight: u32,
    ) -> StoreResult<WebhookClaim> {
        let now = micros(now);
        let token = Uuid::now_v7();
        let claimed: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE webhook_deliveries SET leased_until = ?4 + ?5, lease_id = ?6
             WHERE id = (SELECT id FROM webhook_deliveries
                         WHERE endpoint_id = ?2 AND order_key = ?3 AND state = 'pending'
                           AND organization_id = ?1
                         ORDER BY event_seq LIMIT 1)
               AND next_attempt_at <= ?4 AND (leased_until IS NULL OR leased_until <= ?4)
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries
                               WHERE endpoint_id = ?2 AND order_key = ?3 AND state = 'pending'
                                 AND leased_until > ?4)
               AND (SELECT COUNT(*) FROM webhook_deliveries
                    WHERE endpoint_id = ?2 AND state = 'pending' AND leased_until > ?4) < ?7
             RETURNING id",
        )
        .bind(org.as_uuid())
        .bind(endpoint.as_uuid())
        .bind(order_key)
        .bind(now)
        .bind(lease_micros(lease))
        .bind(token)
        .bind(i64::from(max_in_flight))
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?;
        if let Some((id,)) = claimed {
            return Ok(WebhookClaim::Claimed {
                delivery: Box::new(self.delivery_by_id(org, id).await?),
                lease: token,
            });
        }
        // Not claimed: busy if the head was there for the taking but for the endpoint's limit.
        let head_free: Option<(bool,)> = sqlx::query_as(
            "SELECT next_attempt_at <= ?4 AND (leased_until IS NULL OR leased_until <= ?4)
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o
                                    WHERE o.endpoint_id = ?2 AND o.order_key = ?3
                                      AND o.state = 'pending' AND o.leased_until > ?4)
             FROM webhook_deliveries
             WHERE endpoint_id = ?2 AND order_key = ?3 AND state = 'pending' AND organization_id = ?1
             ORDER BY event_seq LIMIT 1",
        )
        .bind(org.as_uuid())
        .bind(endpoint.as_uuid())
        .bind(order_key)
        .bind(now)
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?;
        Ok(match head_free {
            Some((true,)) => WebhookClaim::EndpointBusy,
            _ => WebhookClaim::NothingDue,
        })
    }

    pub(super) async fn record_attempt(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        lease: Uuid,
        attempt: WebhookAttempt,
        outcome: AttemptOutcome,
    ) -> StoreResult<WebhookDelivery> {
        let entry =
            serde_json::to_string(&attempt).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let (state, next, delivered) = match outcome {
            AttemptOutcome::Succeeded => ("succeeded", None, Some(micros(attempt.at))),
            AttemptOutcome::RetryAt(at) => ("pending", Some(micros(at)), None),
            AttemptOutcome::GaveUp => ("failed", None, None),
        };
        let done = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, attempt_log = ",
            appended_log!("?3"),
            ", state = ?4, next_attempt_at = ?5, delivered_at = COALESCE(?6, delivered_at),
                 leased_until = NULL, lease_id = NULL
             WHERE id = ?1 AND organization_id = ?2 AND state = 'pending' AND lease_id = ?7"
        ))
        .bind(delivery.as_uuid())
        .bind(org.as_uuid())
        .bind(entry)
        .bind(state)
        .bind(next)
        .bind(delivered)
        .bind(lease)
        .bind(KEPT_ATTEMPTS as i64)
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            self.delivery_by_id(org, delivery.as_uuid()).await?;
            return Err(StoreError::Conflict(
                "the delivery's lease is no longer held".to_owned(),
            ));
        }
        self.delivery_by_id(org, delivery.as_uuid()).await
    }

    pub(super) async fn fail_pending(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        reason: &str,
    ) -> StoreResult<u64> {
        let entry = serde_json::to_string(&WebhookAttempt {
            at: self.now(),
            status: None,
            duration_ms: 0,
            error: Some(reason.to_owned()),
        })
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let done = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL,
                 leased_until = NULL, lease_id = NULL, attempt_log = ",
            appended_log!("?3"),
            " WHERE endpoint_id = ?1 AND organization_id = ?2 AND state = 'pending'"
        ))
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .bind(entry)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<Uuid>)
        .bind(KEPT_ATTEMPTS as i64)
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        Ok(done.rows_affected())
    }

    pub(super) async fn redeliver(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookDelivery> {
        let now = micros(now);
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?3, attempts = 0,
                 leased_until = NULL, lease_id = NULL
             WHERE id = ?1 AND organization_id = ?2
               AND (state <> 'pending' OR leased_until IS NULL OR leased_until <= ?3)",
        )
        .bind(delivery.as_uuid())
        .bind(org.as_uuid())
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            self.delivery_by_id(org, delivery.as_uuid()).await?;
            return Err(StoreError::Conflict(
                "the delivery is being sent right now".to_owned(),
            ));
        }
        self.delivery_by_id(org, delivery.as_uuid()).await
    }

    pub(super) async fn prune_history(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let before = micros(before);
        let mut tx = self.writer.begin().await.map_err(store_err)?;
        let deliveries = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE created_at < ? AND state <> 'pending'",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        sqlx::query(
            "DELETE FROM webhook_events
             WHERE created_at < ? AND payload IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = seq)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok(deliveries.rows_affected())
    }

    pub(super) async fn due_orders(
        &self,
        due_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, WebhookId, Uuid)>> {
        let at = micros(due_before);
        let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
            "SELECT d.organization_id, d.endpoint_id, d.order_key
             FROM (SELECT endpoint_id, order_key, MIN(event_seq) AS head
                   FROM webhook_deliveries WHERE state = 'pending'
                   GROUP BY endpoint_id, order_key) h
             JOIN webhook_deliveries d ON d.endpoint_id = h.endpoint_id
                  AND d.order_key = h.order_key AND d.event_seq = h.head
             WHERE d.next_attempt_at < ?1 AND (d.leased_until IS NULL OR d.leased_until < ?1)
             ORDER BY d.next_attempt_at LIMIT ?2",
        )
        .bind(at)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|(org, endpoint, key)| (org.into(), endpoint.into(), key))
            .collect())
    }
}
