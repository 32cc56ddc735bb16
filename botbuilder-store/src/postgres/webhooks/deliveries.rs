//! Deliveries under leases: claims, attempts, failures, redeliveries, pruning and the sweep.
//!
//! SQLite ran each of these as one statement under its single writer. Postgres runs writers
//! concurrently under READ COMMITTED, where an `UPDATE` that waits for a row lock re-checks
//! only the conditions on that row (not its subqueries) against the committed version.
//! So:
//! - every write that depends on a delivery's state or lease names them in its `WHERE`
//!   (a conditional update: compare-and-set on the row), and
//! - a claim, whose conditions span the endpoint's other deliveries (the in-flight limit, no
//!   other delivery of the order leased), first takes the endpoint's row lock: claims of one
//!   endpoint take turns, and each claim's statement sees every earlier claim committed.
//!   Other writers only ever release leases, so they cannot invalidate a claim's checks.
//!
//! Claims wait for the endpoint's lock rather than `SKIP LOCKED`: skipping a locked head
//! would send a later delivery of the order first, and skipping a locked endpoint would
//! report it busy when it is not. The lock is held for two short statements.

use std::time::Duration;

use botbuilder_core::domain::{
    AttemptOutcome, KEPT_ATTEMPTS, WebhookAttempt, WebhookClaim, WebhookDelivery,
};
use botbuilder_core::id::{OrgId, WebhookDeliveryId, WebhookId};
use botbuilder_core::store::{StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::super::{PgStore, commit, storable};
use super::{delivery_in, json_text};
use crate::error::store_err;
use crate::rows::micros;
use crate::rows::webhooks::lease_micros;

/// The attempt log with the JSON attempt `$entry` appended, the newest `$kept` kept.
macro_rules! appended_log {
    ($entry:literal, $kept:literal) => {
        concat!(
            "(SELECT jsonb_agg(a.value ORDER BY a.n)::text \
              FROM jsonb_array_elements(attempt_log::jsonb || jsonb_build_array(",
            $entry,
            "::jsonb)) WITH ORDINALITY AS a(value, n) \
              WHERE a.n > jsonb_array_length(attempt_log::jsonb) + 1 - ",
            $kept,
            ")"
        )
    };
}

/// How many attempts a log keeps, as bound.
fn kept() -> i64 {
    i64::try_from(KEPT_ATTEMPTS).unwrap_or(i64::MAX)
}

/// After a conditional update matched nothing: `NotFound` when the organization has no such
/// delivery, else `Conflict` with `why`.
async fn conflict_or_missing(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    delivery: WebhookDeliveryId,
    why: &str,
) -> StoreError {
    match delivery_in(tx, org, delivery.as_uuid()).await {
        Ok(_) => StoreError::Conflict(why.to_owned()),
        Err(e) => e,
    }
}

/// Leases the head of the order to `token` until `until` if the claim's conditions hold at
/// `now` (see [`botbuilder_core::store::WebhookRepo::claim_webhook_delivery`]); the caller
/// holds the endpoint's row lock.
async fn lease_head(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    endpoint: WebhookId,
    order_key: Uuid,
    (now, until, token): (i64, i64, Uuid),
    max_in_flight: u32,
) -> StoreResult<Option<Uuid>> {
    // `state = 'pending'` is re-checked on the head's committed row should it be failed or
    // leased meanwhile by a writer that does not take the endpoint's lock.
    sqlx::query_scalar(
        "UPDATE webhook_deliveries SET leased_until = $5, lease_id = $6
         WHERE id = (SELECT id FROM webhook_deliveries
                     WHERE endpoint_id = $2 AND order_key = $3 AND state = 'pending'
                       AND organization_id = $1
                     ORDER BY event_seq LIMIT 1)
           AND state = 'pending'
           AND next_attempt_at <= $4 AND (leased_until IS NULL OR leased_until <= $4)
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries
                           WHERE endpoint_id = $2 AND order_key = $3 AND state = 'pending'
                             AND leased_until > $4)
           AND (SELECT COUNT(*) FROM webhook_deliveries
                WHERE endpoint_id = $2 AND state = 'pending' AND leased_until > $4) < $7
         RETURNING id",
    )
    .bind(org.as_uuid())
    .bind(endpoint.as_uuid())
    .bind(order_key)
    .bind(now)
    .bind(until)
    .bind(token)
    .bind(i64::from(max_in_flight))
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_err)
}

/// Whether the order's head is due at `now` and nothing of the order is leased: then only the
/// endpoint's in-flight limit kept the claim from it.
async fn head_free(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    endpoint: WebhookId,
    order_key: Uuid,
    now: i64,
) -> StoreResult<bool> {
    let free: Option<bool> = sqlx::query_scalar(
        "SELECT next_attempt_at <= $4 AND (leased_until IS NULL OR leased_until <= $4)
                AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o
                                WHERE o.endpoint_id = $2 AND o.order_key = $3
                                  AND o.state = 'pending' AND o.leased_until > $4)
         FROM webhook_deliveries
         WHERE endpoint_id = $2 AND order_key = $3 AND state = 'pending' AND organization_id = $1
         ORDER BY event_seq LIMIT 1",
    )
    .bind(org.as_uuid())
    .bind(endpoint.as_uuid())
    .bind(order_key)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_err)?;
    Ok(free == Some(true))
}

impl PgStore {
    /// [`botbuilder_core::store::WebhookRepo::claim_webhook_delivery`].
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
        let until = now.saturating_add(lease_micros(lease));
        let token = Uuid::now_v7();
        let mut tx = self.tenant(org).await?;
        // Claims of this endpoint take turns from here until this one commits (module docs).
        // An unknown endpoint locks nothing, and has nothing to claim either.
        sqlx::query(
            "SELECT 1 FROM webhook_endpoints WHERE id = $1 AND organization_id = $2
             FOR NO KEY UPDATE",
        )
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        let leased = (now, until, token);
        let claim = if let Some(id) =
            lease_head(&mut tx, org, endpoint, order_key, leased, max_in_flight).await?
        {
            WebhookClaim::Claimed {
                delivery: Box::new(delivery_in(&mut tx, org, id).await?),
                lease: token,
            }
        } else if head_free(&mut tx, org, endpoint, order_key, now).await? {
            WebhookClaim::EndpointBusy
        } else {
            WebhookClaim::NothingDue
        };
        commit(tx).await?;
        Ok(claim)
    }

    /// [`botbuilder_core::store::WebhookRepo::record_webhook_attempt`].
    pub(super) async fn record_attempt(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        lease: Uuid,
        attempt: WebhookAttempt,
        outcome: AttemptOutcome,
    ) -> StoreResult<WebhookDelivery> {
        let mut attempt = attempt;
        // A response excerpt may hold NUL, which `jsonb` refuses even escaped.
        attempt.error = attempt.error.map(|e| storable(&e).into_owned());
        let entry = json_text(&attempt)?;
        let (state, next, delivered) = match outcome {
            AttemptOutcome::Succeeded => ("succeeded", None, Some(micros(attempt.at))),
            AttemptOutcome::RetryAt(at) => ("pending", Some(micros(at)), None),
            AttemptOutcome::GaveUp => ("failed", None, None),
        };
        let mut tx = self.tenant(org).await?;
        // Compare-and-set on the lease: a worker whose lease was taken over, or whose delivery
        // was failed meanwhile, matches nothing (also after waiting for that writer's lock).
        let done = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, attempt_log = ",
            appended_log!("$3", "$8"),
            ", state = $4, next_attempt_at = $5, delivered_at = COALESCE($6, delivered_at),
                 leased_until = NULL, lease_id = NULL
             WHERE id = $1 AND organization_id = $2 AND state = 'pending' AND lease_id = $7"
        ))
        .bind(delivery.as_uuid())
        .bind(org.as_uuid())
        .bind(entry)
        .bind(state)
        .bind(next)
        .bind(delivered)
        .bind(lease)
        .bind(kept())
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            let why = "the delivery's lease is no longer held";
            return Err(conflict_or_missing(&mut tx, org, delivery, why).await);
        }
        let recorded = delivery_in(&mut tx, org, delivery.as_uuid()).await?;
        commit(tx).await?;
        Ok(recorded)
    }

    /// [`botbuilder_core::store::WebhookRepo::fail_pending_webhook_deliveries`].
    pub(super) async fn fail_pending(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        reason: &str,
    ) -> StoreResult<u64> {
        let entry = json_text(&WebhookAttempt {
            at: self.now(),
            status: None,
            duration_ms: 0,
            error: Some(reason.to_owned()),
        })?;
        let mut tx = self.tenant(org).await?;
        // A delivery leased meanwhile is failed once its claim commits (the row is re-checked
        // for `state = 'pending'`), taking the lease: its worker then records nothing.
        let done = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL,
                 leased_until = NULL, lease_id = NULL, attempt_log = ",
            appended_log!("$3", "$4"),
            " WHERE endpoint_id = $1 AND organization_id = $2 AND state = 'pending'"
        ))
        .bind(endpoint.as_uuid())
        .bind(org.as_uuid())
        .bind(entry)
        .bind(kept())
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(done.rows_affected())
    }

    /// [`botbuilder_core::store::WebhookRepo::redeliver_webhook`].
    pub(super) async fn redeliver(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookDelivery> {
        let now = micros(now);
        let mut tx = self.tenant(org).await?;
        // Conditional: a delivery whose lease a claim takes meanwhile is re-checked once the
        // claim commits, and left to its worker.
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $3, attempts = 0,
                 leased_until = NULL, lease_id = NULL
             WHERE id = $1 AND organization_id = $2
               AND (state <> 'pending' OR leased_until IS NULL OR leased_until <= $3)",
        )
        .bind(delivery.as_uuid())
        .bind(org.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            let why = "the delivery is being sent right now";
            return Err(conflict_or_missing(&mut tx, org, delivery, why).await);
        }
        let redelivered = delivery_in(&mut tx, org, delivery.as_uuid()).await?;
        commit(tx).await?;
        Ok(redelivered)
    }

    /// [`botbuilder_core::store::WebhookRepo::prune_webhook_history`]: a sweep across every
    /// organization, as the platform.
    pub(super) async fn prune_history(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let before = micros(before);
        let mut tx = self.platform().await?;
        // A delivery redelivered meanwhile is re-checked (`state <> 'pending'`) and kept.
        let deliveries = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE created_at < $1 AND state <> 'pending'",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        // A fanned-out event never gains deliveries: they are made with its payload.
        sqlx::query(
            "DELETE FROM webhook_events ev
             WHERE ev.created_at < $1 AND ev.payload IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = ev.seq)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(deliveries.rows_affected())
    }

    /// [`botbuilder_core::store::WebhookRepo::due_webhook_orders`]: a sweep across every
    /// organization, as the platform. It only reads; the claims it leads to decide.
    pub(super) async fn due_orders(
        &self,
        due_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, WebhookId, Uuid)>> {
        let at = micros(due_before);
        let mut tx = self.platform().await?;
        let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
            "SELECT d.organization_id, d.endpoint_id, d.order_key
             FROM (SELECT endpoint_id, order_key, MIN(event_seq) AS head
                   FROM webhook_deliveries WHERE state = 'pending'
                   GROUP BY endpoint_id, order_key) h
             JOIN webhook_deliveries d ON d.endpoint_id = h.endpoint_id
                  AND d.order_key = h.order_key AND d.event_seq = h.head
             WHERE d.next_attempt_at < $1 AND (d.leased_until IS NULL OR d.leased_until < $1)
             ORDER BY d.next_attempt_at LIMIT $2",
        )
        .bind(at)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(rows
            .into_iter()
            .map(|(org, endpoint, key)| (org.into(), endpoint.into(), key))
            .collect())
    }
}
