//! Customers' webhook endpoints, the webhook outbox (written by the triggers of migration
//! 0016 in the statement that makes each change) and the deliveries ([`deliveries`]: claims,
//! attempts, redelivery, pruning, the sweep).

use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::domain::{
    AttemptOutcome, NewWebhookEndpoint, Page, PageRequest, RenderedEvent, SealedSecret,
    WebhookAttempt, WebhookClaim, WebhookDelivery, WebhookDeliveryState, WebhookEndpoint,
    WebhookEndpointPatch, WebhookEvent, WebhookEventType,
};
use botbuilder_core::id::{OrgId, WebhookDeliveryId, WebhookId};
use botbuilder_core::store::{StoreError, StoreResult, WebhookRepo};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::rows::{from_micros, micros};
use super::{SqliteStore, expect_one};
use crate::error::{corrupt, store_err};

mod deliveries;

macro_rules! endpoint_columns {
    () => {
        "id, organization_id, url, description, events, enabled, disabled_reason, key_id, nonce, \
         ciphertext, previous_key_id, previous_nonce, previous_ciphertext, \
         previous_secret_expires_at, created_at, updated_at"
    };
}

macro_rules! delivery_columns {
    () => {
        "d.id, d.organization_id, d.endpoint_id, e.event_id, d.event_seq, e.type AS event_type, \
         d.order_key, e.payload, d.state, d.attempts, d.attempt_log, d.next_attempt_at, \
         d.created_at, d.delivered_at"
    };
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    organization_id: Uuid,
    url: String,
    description: String,
    events: String,
    enabled: bool,
    disabled_reason: Option<String>,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    previous_key_id: Option<String>,
    previous_nonce: Option<Vec<u8>>,
    previous_ciphertext: Option<Vec<u8>>,
    previous_secret_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;

    fn try_from(r: EndpointRow) -> StoreResult<Self> {
        let previous_secret = match (r.previous_key_id, r.previous_nonce, r.previous_ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => Some(SealedSecret {
                key_id,
                nonce,
                ciphertext,
            }),
            _ => None,
        };
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            url: r.url,
            description: r.description,
            events: serde_json::from_str(&r.events).map_err(|e| corrupt("webhook events", e))?,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            secret: SealedSecret {
                key_id: r.key_id,
                nonce: r.nonce,
                ciphertext: r.ciphertext,
            },
            previous_secret,
            previous_secret_expires_at: r.previous_secret_expires_at.map(from_micros),
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    organization_id: Uuid,
    endpoint_id: Uuid,
    event_id: Option<Uuid>,
    event_seq: i64,
    event_type: String,
    order_key: Uuid,
    payload: Option<String>,
    state: String,
    attempts: i64,
    attempt_log: String,
    next_attempt_at: Option<i64>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = StoreError;

    fn try_from(r: DeliveryRow) -> StoreResult<Self> {
        let bad = |what: &str| corrupt("webhook delivery", format!("{} {what}", r.id));
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            endpoint_id: r.endpoint_id.into(),
            event_id: r.event_id.ok_or_else(|| bad("has no event id"))?,
            event_seq: r.event_seq,
            event_type: WebhookEventType::parse(&r.event_type).ok_or_else(|| bad("type"))?,
            order_key: r.order_key,
            payload: serde_json::from_str(r.payload.as_deref().unwrap_or_default())
                .map_err(|_| bad("payload"))?,
            state: WebhookDeliveryState::parse(&r.state).ok_or_else(|| bad("state"))?,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            attempt_log: serde_json::from_str(&r.attempt_log).map_err(|_| bad("attempt log"))?,
            next_attempt_at: r.next_attempt_at.map(from_micros),
            created_at: from_micros(r.created_at),
            delivered_at: r.delivered_at.map(from_micros),
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    organization_id: Uuid,
    r#type: String,
    session_id: Option<Uuid>,
    subject_id: Uuid,
    created_at: i64,
}

fn events_json(events: &[WebhookEventType]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".to_owned())
}

fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.as_micros()).unwrap_or(i64::MAX)
}

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
        let endpoints = sqlx::query_as::<_, EndpointRow>(concat!(
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
        .map_err(store_err)?
        .into_iter()
        .map(WebhookEndpoint::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(endpoints, limit, |e| e.id.as_uuid()))
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
        rows.into_iter()
            .map(|r| {
                Ok(WebhookEvent {
                    seq: r.seq,
                    org_id: r.organization_id.into(),
                    kind: WebhookEventType::parse(&r.r#type)
                        .ok_or_else(|| corrupt("webhook event type", &r.r#type))?,
                    session_id: r.session_id.map(Into::into),
                    subject: r.subject_id,
                    created_at: from_micros(r.created_at),
                })
            })
            .collect()
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
        let deliveries = sqlx::query_as::<_, DeliveryRow>(concat!(
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
        .map_err(store_err)?
        .into_iter()
        .map(WebhookDelivery::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(deliveries, limit, |d| d.id.as_uuid()))
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
        self.claim_delivery(org, endpoint, order_key, now, lease, max_in_flight)
            .await
    }

    async fn record_webhook_attempt(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        lease: Uuid,
        attempt: WebhookAttempt,
        outcome: AttemptOutcome,
    ) -> StoreResult<WebhookDelivery> {
        self.record_attempt(org, delivery, lease, attempt, outcome)
            .await
    }

    async fn fail_pending_webhook_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        reason: &str,
    ) -> StoreResult<u64> {
        self.fail_pending(org, endpoint, reason).await
    }

    async fn redeliver_webhook(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookDelivery> {
        self.redeliver(org, delivery, now).await
    }

    async fn prune_webhook_history(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.prune_history(before).await
    }

    async fn due_webhook_orders(
        &self,
        due_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, WebhookId, Uuid)>> {
        self.due_orders(due_before, limit).await
    }
}
