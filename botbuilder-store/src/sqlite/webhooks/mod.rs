//! Customers' webhook endpoints, the webhook outbox (written by the triggers of migration
//! 0016 in the statement that makes each change) and the deliveries: claims under a lease,
//! attempts, redelivery, pruning and the sweep.

use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::domain::{
    AttemptOutcome, KEPT_ATTEMPTS, NewWebhookEndpoint, Page, PageRequest, RenderedEvent,
    WebhookAttempt, WebhookClaim, WebhookDelivery, WebhookEndpoint, WebhookEndpointPatch,
    WebhookEvent,
};
use botbuilder_core::id::{OrgId, WebhookDeliveryId, WebhookId};
use botbuilder_core::store::{StoreError, StoreResult, WebhookRepo};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::micros;
use crate::rows::page_of;

mod sql;

use crate::rows::webhooks::{
    DeliveryRow, EndpointRow, EventRow, delivery_columns, endpoint_columns, events_json,
    lease_micros,
};
use sql::appended_log;

impl SqliteStore {
    async fn delivery_by_id(&self, org: OrgId, id: Uuid) -> StoreResult<WebhookDelivery> {
        sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq \
              WHERE d.id = ? AND d.organization_id = ?"
        ))
        .bind(id)
        .bind(org.as_uuid())
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }
}

#[async_trait]
impl WebhookRepo for SqliteStore {
    async fn create_webhook(
        &self,
        org: OrgId,
        new: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint> {
        let now = micros(self.now());
        sqlx::query_as::<_, EndpointRow>(concat!(
            "INSERT INTO webhook_endpoints (id, organization_id, url, description, events, \
             enabled, key_id, nonce, ciphertext, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?) RETURNING ",
            endpoint_columns!()
        ))
        .bind(new.id.as_uuid())
        .bind(org.as_uuid())
        .bind(&new.url)
        .bind(&new.description)
        .bind(events_json(&new.events))
        .bind(&new.secret.key_id)
        .bind(&new.secret.nonce)
        .bind(&new.secret.ciphertext)
        .bind(now)
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn get_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<WebhookEndpoint> {
        sqlx::query_as::<_, EndpointRow>(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE id = ? AND organization_id = ?"
        ))
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    async fn list_webhooks(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, EndpointRow>(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE organization_id = ?1 AND (?2 IS NULL OR id > ?2) \
              ORDER BY id LIMIT ?3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        page_of(rows, limit, |e: &WebhookEndpoint| e.id.as_uuid())
    }

    async fn all_webhooks(&self) -> StoreResult<Vec<WebhookEndpoint>> {
        sqlx::query_as::<_, EndpointRow>(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(WebhookEndpoint::try_from)
        .collect()
    }

    async fn update_webhook(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        patch: WebhookEndpointPatch,
    ) -> StoreResult<WebhookEndpoint> {
        let rotated = patch.rotated_secret.as_ref();
        let resealed = patch.resealed.as_ref();
        let current = rotated
            .map(|r| &r.secret)
            .or(resealed.map(|(current, _)| current));
        let previous = rotated
            .map(|r| &r.previous)
            .or(resealed.and_then(|(_, previous)| previous.as_ref()));
        sqlx::query_as::<_, EndpointRow>(concat!(
            "UPDATE webhook_endpoints SET url = COALESCE(?3, url), \
             description = COALESCE(?4, description), events = COALESCE(?5, events), \
             enabled = COALESCE(?6, enabled), \
             disabled_reason = CASE WHEN ?7 THEN ?8 ELSE disabled_reason END, \
             key_id = COALESCE(?9, key_id), nonce = COALESCE(?10, nonce), \
             ciphertext = COALESCE(?11, ciphertext), \
             previous_key_id = COALESCE(?12, previous_key_id), \
             previous_nonce = COALESCE(?13, previous_nonce), \
             previous_ciphertext = COALESCE(?14, previous_ciphertext), \
             previous_secret_expires_at = COALESCE(?15, previous_secret_expires_at), \
             updated_at = ?16 \
             WHERE id = ?1 AND organization_id = ?2 RETURNING ",
            endpoint_columns!()
        ))
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .bind(patch.url)
        .bind(patch.description)
        .bind(patch.events.as_deref().map(events_json))
        .bind(patch.enabled)
        .bind(patch.disabled_reason.is_some())
        .bind(patch.disabled_reason.flatten())
        .bind(current.map(|s| s.key_id.clone()))
        .bind(current.map(|s| s.nonce.clone()))
        .bind(current.map(|s| s.ciphertext.clone()))
        .bind(previous.map(|s| s.key_id.clone()))
        .bind(previous.map(|s| s.nonce.clone()))
        .bind(previous.map(|s| s.ciphertext.clone()))
        .bind(rotated.map(|r| micros(r.previous_expires_at)))
        .bind(micros(self.now()))
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    async fn delete_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<()> {
        let done =
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = ? AND organization_id = ?")
                .bind(endpoint.as_uuid())
                .bind(org.as_uuid())
                .execute(&self.writer)
                .await
                .map_err(store_err)?;
        expect_one(done.rows_affected())
    }

    async fn unrendered_webhook_events(&self, limit: u32) -> StoreResult<Vec<WebhookEvent>> {
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT seq, organization_id, type, session_id, subject_id, created_at
             FROM webhook_events WHERE payload IS NULL ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        rows.into_iter().map(WebhookEvent::try_from).collect()
    }

    async fn fan_out_webhook_event(
        &self,
        seq: i64,
        rendered: RenderedEvent,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let now = micros(self.now());
        let payload = serde_json::to_string(&rendered.payload)
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut tx = self.writer.begin().await.map_err(store_err)?;
        let claimed = sqlx::query(
            "UPDATE webhook_events SET event_id = ?2, payload = ?3 WHERE seq = ?1 AND payload IS NULL",
        )
        .bind(seq)
        .bind(rendered.id)
        .bind(&payload)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        if claimed.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        let endpoints: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT w.id FROM webhook_events ev
             JOIN webhook_endpoints w ON w.organization_id = ev.organization_id AND w.enabled = 1
             WHERE ev.seq = ?1
               AND EXISTS (SELECT 1 FROM json_each(w.events) t WHERE t.value = ev.type)
             ORDER BY w.id",
        )
        .bind(seq)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        let mut ids = Vec::with_capacity(endpoints.len());
        for (endpoint,) in endpoints {
            let id = WebhookDeliveryId::new().as_uuid();
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_seq,
                     order_key, next_attempt_at, created_at)
                 SELECT ?1, organization_id, ?2, seq, COALESCE(session_id, subject_id), ?4, ?4
                 FROM webhook_events WHERE seq = ?3",
            )
            .bind(id)
            .bind(endpoint)
            .bind(seq)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            ids.push(id);
        }
        tx.commit().await.map_err(store_err)?;
        let org: (Uuid,) =
            sqlx::query_as("SELECT organization_id FROM webhook_events WHERE seq = ?")
                .bind(seq)
                .fetch_one(&self.writer)
                .await
                .map_err(store_err)?;
        let mut deliveries = Vec::with_capacity(ids.len());
        for id in ids {
            deliveries.push(self.delivery_by_id(org.0.into(), id).await?);
        }
        Ok(deliveries)
    }

    async fn drop_webhook_event(&self, seq: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_events WHERE seq = ?")
            .bind(seq)
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn get_webhook_delivery(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
    ) -> StoreResult<WebhookDelivery> {
        self.delivery_by_id(org, delivery.as_uuid()).await
    }

    async fn list_webhook_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>> {
        self.get_webhook(org, endpoint).await?;
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq \
              WHERE d.endpoint_id = ?1 AND d.organization_id = ?2 AND (?3 IS NULL OR d.id < ?3) \
              ORDER BY d.id DESC LIMIT ?4"
        ))
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        page_of(rows, limit, |d: &WebhookDelivery| d.id.as_uuid())
    }

    async fn claim_webhook_delivery(
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

    async fn record_webhook_attempt(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        lease: Uuid,
        attempt: WebhookAttempt,
        outcome: AttemptOutcome,
    ) -> StoreResult<WebhookDelivery> {
        let entry = crate::rows::json_text(&attempt)?;
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

    async fn fail_pending_webhook_deliveries(
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

    async fn redeliver_webhook(
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

    async fn prune_webhook_history(&self, before: DateTime<Utc>) -> StoreResult<u64> {
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

    async fn due_webhook_orders(
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
