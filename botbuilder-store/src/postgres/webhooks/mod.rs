//! Customers' webhook endpoints, the webhook outbox (written by the triggers of migration
//! 0005 in the transaction that makes each change) and the deliveries, on Postgres.
//!
//! What differs from SQLite, whose single writer serialized every write:
//! - Event numbers follow commit order within each order (a session, or a document): the
//!   triggers hold the order's advisory lock from taking a number until they commit (see the
//!   migration), so the relay never sees an order's later event before its earlier one.
//! - Fanning an event out is a compare-and-set on the event row (`… WHERE payload IS NULL`):
//!   a second worker waits for the first one's row lock, re-checks the committed row and
//!   creates nothing.
//! - Claims of one endpoint take turns on the endpoint's row lock, so the in-flight limit and
//!   "one delivery of an order at a time" are checked against every earlier claim; attempts,
//!   redeliveries and failures are conditional updates (see `deliveries`).
//! - Work that names no organization (the relay's reading, fanning out and dropping events,
//!   every endpoint for key rotation, pruning, the sweep) runs as the platform; the rest in
//!   the organization's transaction.
//! - Subscriptions are tested with `events::jsonb ? type` (SQLite: `json_each`).

mod deliveries;

use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::domain::{
    AttemptOutcome, NewWebhookEndpoint, Page, PageRequest, RenderedEvent, WebhookAttempt,
    WebhookClaim, WebhookDelivery, WebhookEndpoint, WebhookEndpointPatch, WebhookEvent,
};
use botbuilder_core::id::{OrgId, WebhookDeliveryId, WebhookId};
use botbuilder_core::store::{StoreError, StoreResult, WebhookRepo};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::webhooks::{
    DeliveryRow, EndpointRow, EventRow, delivery_columns, endpoint_columns, events_json,
};
use crate::rows::{json_text, micros, page_of};

/// One delivery of the organization, read in `tx`.
async fn delivery_in(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    id: Uuid,
) -> StoreResult<WebhookDelivery> {
    sqlx::query_as::<_, DeliveryRow>(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq \
          WHERE d.id = $1 AND d.organization_id = $2"
    ))
    .bind(id)
    .bind(org.as_uuid())
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_err)?
    .ok_or(StoreError::NotFound)?
    .try_into()
}

/// `Ok` when the organization has the endpoint, `NotFound` otherwise.
async fn endpoint_exists(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    endpoint: WebhookId,
) -> StoreResult<()> {
    sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM webhook_endpoints WHERE id = $1 AND organization_id = $2",
    )
    .bind(endpoint.as_uuid())
    .bind(org.as_uuid())
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_err)?
    .ok_or(StoreError::NotFound)?;
    Ok(())
}

/// Creates a pending delivery, due `now`, of the claimed event `seq` for every enabled
/// endpoint of its organization subscribed to its type; returns them in endpoint order.
async fn create_deliveries(
    tx: &mut Transaction<'static, Postgres>,
    seq: i64,
    now: i64,
) -> StoreResult<Vec<DeliveryRow>> {
    let endpoints: Vec<Uuid> = sqlx::query_scalar(
        "SELECT w.id FROM webhook_events ev
         JOIN webhook_endpoints w ON w.organization_id = ev.organization_id AND w.enabled
         WHERE ev.seq = $1 AND w.events::jsonb ? ev.type
         ORDER BY w.id",
    )
    .bind(seq)
    .fetch_all(&mut **tx)
    .await
    .map_err(store_err)?;
    let ids: Vec<Uuid> = endpoints
        .iter()
        .map(|_| WebhookDeliveryId::new().as_uuid())
        .collect();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_seq, order_key,
                                         next_attempt_at, created_at)
         SELECT x.id, ev.organization_id, x.endpoint_id, ev.seq,
                COALESCE(ev.session_id, ev.subject_id), $4, $4
         FROM unnest($2::uuid[], $3::uuid[]) AS x(id, endpoint_id)
         CROSS JOIN webhook_events ev WHERE ev.seq = $1",
    )
    .bind(seq)
    .bind(&ids)
    .bind(&endpoints)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(store_err)?;
    // The event fans out once, so its deliveries are exactly the ones just made.
    sqlx::query_as::<_, DeliveryRow>(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq \
          WHERE d.event_seq = $1 ORDER BY d.endpoint_id"
    ))
    .bind(seq)
    .fetch_all(&mut **tx)
    .await
    .map_err(store_err)
}

#[async_trait]
impl WebhookRepo for PgStore {
    async fn create_webhook(
        &self,
        org: OrgId,
        new: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint> {
        let now = micros(self.now());
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, EndpointRow>(concat!(
            "INSERT INTO webhook_endpoints (id, organization_id, url, description, events, \
             enabled, key_id, nonce, ciphertext, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, $9, $9) RETURNING ",
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
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn get_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, EndpointRow>(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE id = $1 AND organization_id = $2"
        ))
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn list_webhooks(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, EndpointRow>(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE organization_id = $1 \
              AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        page_of(rows, limit, |e: &WebhookEndpoint| e.id.as_uuid())
    }

    async fn all_webhooks(&self) -> StoreResult<Vec<WebhookEndpoint>> {
        let mut tx = self.platform().await?;
        let rows = sqlx::query_as::<_, EndpointRow>(concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints ORDER BY id"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        rows.into_iter().map(WebhookEndpoint::try_from).collect()
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
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, EndpointRow>(concat!(
            "UPDATE webhook_endpoints SET url = COALESCE($3, url), \
             description = COALESCE($4, description), events = COALESCE($5, events), \
             enabled = COALESCE($6, enabled), \
             disabled_reason = CASE WHEN $7::boolean THEN $8::text ELSE disabled_reason END, \
             key_id = COALESCE($9, key_id), nonce = COALESCE($10, nonce), \
             ciphertext = COALESCE($11, ciphertext), \
             previous_key_id = COALESCE($12, previous_key_id), \
             previous_nonce = COALESCE($13, previous_nonce), \
             previous_ciphertext = COALESCE($14, previous_ciphertext), \
             previous_secret_expires_at = COALESCE($15, previous_secret_expires_at), \
             updated_at = $16 \
             WHERE id = $1 AND organization_id = $2 RETURNING ",
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
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn delete_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done =
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND organization_id = $2")
                .bind(endpoint.as_uuid())
                .bind(org.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }

    async fn unrendered_webhook_events(&self, limit: u32) -> StoreResult<Vec<WebhookEvent>> {
        let mut tx = self.platform().await?;
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT seq, organization_id, type, session_id, subject_id, created_at
             FROM webhook_events WHERE payload IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        rows.into_iter().map(WebhookEvent::try_from).collect()
    }

    async fn fan_out_webhook_event(
        &self,
        seq: i64,
        rendered: RenderedEvent,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let now = micros(self.now());
        let payload = json_text(&rendered.payload)?;
        let mut tx = self.platform().await?;
        // Compare-and-set: a concurrent fan-out of the same event waits for this row lock,
        // re-checks `payload IS NULL` on the committed row and claims nothing.
        let claimed = sqlx::query(
            "UPDATE webhook_events SET event_id = $2, payload = $3
             WHERE seq = $1 AND payload IS NULL",
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
        let rows = create_deliveries(&mut tx, seq, now).await?;
        commit(tx).await?;
        rows.into_iter().map(WebhookDelivery::try_from).collect()
    }

    async fn drop_webhook_event(&self, seq: i64) -> StoreResult<()> {
        let mut tx = self.platform().await?;
        sqlx::query("DELETE FROM webhook_events WHERE seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        commit(tx).await
    }

    async fn get_webhook_delivery(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
    ) -> StoreResult<WebhookDelivery> {
        let mut tx = self.tenant(org).await?;
        let found = delivery_in(&mut tx, org, delivery.as_uuid()).await?;
        commit(tx).await?;
        Ok(found)
    }

    async fn list_webhook_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        endpoint_exists(&mut tx, org, endpoint).await?;
        let rows = sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq \
              WHERE d.endpoint_id = $1 AND d.organization_id = $2 \
                AND ($3::uuid IS NULL OR d.id < $3) \
              ORDER BY d.id DESC LIMIT $4"
        ))
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
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
