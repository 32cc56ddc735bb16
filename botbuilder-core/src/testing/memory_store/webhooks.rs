//! [`WebhookRepo`] for the in-memory store, with the outbox events recorded beside each change
//! (what the SQLite triggers do).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Data, InMemoryStore, page_of};
use crate::domain::{
    AttemptOutcome, KEPT_ATTEMPTS, NewWebhookEndpoint, Page, PageRequest, RenderedEvent,
    SessionStatus, WebhookAttempt, WebhookClaim, WebhookDelivery, WebhookDeliveryState,
    WebhookEndpoint, WebhookEndpointPatch, WebhookEvent, WebhookEventType,
};
use crate::id::{OrgId, SessionId, WebhookDeliveryId, WebhookId};
use crate::store::{StoreError, StoreResult, WebhookRepo};

/// A delivery's lease: until when, and the holder's token.
type Lease = (DateTime<Utc>, Uuid);

/// The webhook part of the in-memory data.
#[derive(Debug, Default)]
pub(super) struct Webhooks {
    endpoints: std::collections::BTreeMap<WebhookId, WebhookEndpoint>,
    events: std::collections::BTreeMap<i64, (WebhookEvent, Option<RenderedEvent>)>,
    last_seq: i64,
    /// Deliveries with their lease.
    deliveries: std::collections::BTreeMap<WebhookDeliveryId, (WebhookDelivery, Option<Lease>)>,
}

impl Data {
    /// Records an outbox event while the organization has an enabled endpoint for its type.
    pub(super) fn webhook_event(
        &mut self,
        org: OrgId,
        kind: WebhookEventType,
        session_id: Option<SessionId>,
        subject: Uuid,
        at: DateTime<Utc>,
    ) {
        let hooks = &mut self.webhooks;
        if !hooks
            .endpoints
            .values()
            .any(|e| e.org_id == org && e.receives(kind))
        {
            return;
        }
        hooks.last_seq += 1;
        let event = WebhookEvent {
            seq: hooks.last_seq,
            org_id: org,
            kind,
            session_id,
            subject,
            created_at: at,
        };
        hooks.events.insert(event.seq, (event, None));
    }

    /// The events of a session's status change.
    pub(super) fn webhook_status_change(
        &mut self,
        org: OrgId,
        session: SessionId,
        before: SessionStatus,
        after: SessionStatus,
        at: DateTime<Utc>,
    ) {
        let kind = match (before, after) {
            (b, SessionStatus::Handoff) if b != SessionStatus::Handoff => {
                WebhookEventType::ConversationHandoff
            }
            (SessionStatus::Handoff, a) if a != SessionStatus::Handoff => {
                WebhookEventType::ConversationReleased
            }
            _ => return,
        };
        self.webhook_event(org, kind, Some(session), session.as_uuid(), at);
    }

    /// The event of a document's ingestion result.
    pub(super) fn webhook_document_status(
        &mut self,
        doc: &crate::domain::Document,
        before: crate::domain::DocumentStatus,
    ) {
        use crate::domain::DocumentStatus;
        let kind = match doc.status {
            DocumentStatus::Ready => WebhookEventType::DocumentReady,
            DocumentStatus::Failed => WebhookEventType::DocumentFailed,
            _ => return,
        };
        if before != doc.status {
            self.webhook_event(doc.org_id, kind, None, doc.id.as_uuid(), doc.updated_at);
        }
    }

    /// Deletes an organization's webhook data (what SQLite's foreign keys do).
    pub(super) fn forget_webhooks(&mut self, org: OrgId) {
        let hooks = &mut self.webhooks;
        hooks.endpoints.retain(|_, e| e.org_id != org);
        hooks.events.retain(|_, (e, _)| e.org_id != org);
        hooks.deliveries.retain(|_, (d, _)| d.org_id != org);
    }

    fn webhook_delivery(
        &mut self,
        org: OrgId,
        id: WebhookDeliveryId,
    ) -> StoreResult<&mut (WebhookDelivery, Option<Lease>)> {
        self.webhooks
            .deliveries
            .get_mut(&id)
            .filter(|(d, _)| d.org_id == org)
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl WebhookRepo for InMemoryStore {
    async fn create_webhook(
        &self,
        org: OrgId,
        new: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint> {
        let now = self.now();
        let mut data = self.data();
        if !data.orgs.contains_key(&org) {
            return Err(StoreError::NotFound);
        }
        if data.webhooks.endpoints.contains_key(&new.id) {
            return Err(StoreError::Conflict("already exists".to_owned()));
        }
        let endpoint = WebhookEndpoint {
            id: new.id,
            org_id: org,
            url: new.url,
            description: new.description,
            events: new.events,
            enabled: true,
            disabled_reason: None,
            secret: new.secret,
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: now,
            updated_at: now,
        };
        data.webhooks
            .endpoints
            .insert(endpoint.id, endpoint.clone());
        Ok(endpoint)
    }

    async fn get_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<WebhookEndpoint> {
        self.data()
            .webhooks
            .endpoints
            .get(&endpoint)
            .filter(|e| e.org_id == org)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn list_webhooks(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        let data = self.data();
        let endpoints = data
            .webhooks
            .endpoints
            .values()
            .filter(|e| e.org_id == org)
            .cloned();
        Ok(page_of(endpoints, page, |e| e.id.as_uuid(), false))
    }

    async fn all_webhooks(&self) -> StoreResult<Vec<WebhookEndpoint>> {
        Ok(self.data().webhooks.endpoints.values().cloned().collect())
    }

    async fn update_webhook(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        patch: WebhookEndpointPatch,
    ) -> StoreResult<WebhookEndpoint> {
        let now = self.now();
        let mut data = self.data();
        let stored = data
            .webhooks
            .endpoints
            .get_mut(&endpoint)
            .filter(|e| e.org_id == org)
            .ok_or(StoreError::NotFound)?;
        if let Some(url) = patch.url {
            stored.url = url;
        }
        if let Some(description) = patch.description {
            stored.description = description;
        }
        if let Some(events) = patch.events {
            stored.events = events;
        }
        if let Some(enabled) = patch.enabled {
            stored.enabled = enabled;
        }
        if let Some(reason) = patch.disabled_reason {
            stored.disabled_reason = reason;
        }
        if let Some(rotated) = patch.rotated_secret {
            stored.secret = rotated.secret;
            stored.previous_secret = Some(rotated.previous);
            stored.previous_secret_expires_at = Some(rotated.previous_expires_at);
        }
        if let Some((secret, previous)) = patch.resealed {
            stored.secret = secret;
            if previous.is_some() {
                stored.previous_secret = previous;
            }
        }
        stored.updated_at = now;
        Ok(stored.clone())
    }

    async fn delete_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<()> {
        let mut data = self.data();
        let hooks = &mut data.webhooks;
        if hooks
            .endpoints
            .get(&endpoint)
            .is_none_or(|e| e.org_id != org)
        {
            return Err(StoreError::NotFound);
        }
        hooks.endpoints.remove(&endpoint);
        hooks
            .deliveries
            .retain(|_, (d, _)| d.endpoint_id != endpoint);
        Ok(())
    }

    async fn unrendered_webhook_events(&self, limit: u32) -> StoreResult<Vec<WebhookEvent>> {
        Ok(self
            .data()
            .webhooks
            .events
            .values()
            .filter(|(_, rendered)| rendered.is_none())
            .take(limit as usize)
            .map(|(event, _)| event.clone())
            .collect())
    }

    async fn fan_out_webhook_event(
        &self,
        seq: i64,
        rendered: RenderedEvent,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let now = self.now();
        let mut data = self.data();
        let hooks = &mut data.webhooks;
        let Some((event, slot)) = hooks.events.get_mut(&seq) else {
            return Ok(Vec::new());
        };
        if slot.is_some() {
            return Ok(Vec::new());
        }
        *slot = Some(rendered.clone());
        let event = event.clone();
        let deliveries: Vec<WebhookDelivery> = hooks
            .endpoints
            .values()
            .filter(|e| e.org_id == event.org_id && e.receives(event.kind))
            .map(|endpoint| WebhookDelivery {
                id: WebhookDeliveryId::new(),
                org_id: event.org_id,
                endpoint_id: endpoint.id,
                event_id: rendered.id,
                event_seq: seq,
                event_type: event.kind,
                order_key: event.order_key(),
                payload: rendered.payload.clone(),
                state: WebhookDeliveryState::Pending,
                attempts: 0,
                attempt_log: Vec::new(),
                next_attempt_at: Some(now),
                created_at: now,
                delivered_at: None,
            })
            .collect();
        for delivery in &deliveries {
            hooks
                .deliveries
                .insert(delivery.id, (delivery.clone(), None));
        }
        Ok(deliveries)
    }

    async fn drop_webhook_event(&self, seq: i64) -> StoreResult<()> {
        let mut data = self.data();
        data.webhooks.events.remove(&seq);
        data.webhooks
            .deliveries
            .retain(|_, (d, _)| d.event_seq != seq);
        Ok(())
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
        let mut data = self.data();
        let deliveries = &mut data.webhooks.deliveries;
        let in_flight = deliveries
            .values()
            .filter(|(d, held)| {
                d.endpoint_id == endpoint
                    && d.state == WebhookDeliveryState::Pending
                    && held.is_some_and(|(until, _)| until > now)
            })
            .count();
        let order_in_flight = deliveries.values().any(|(d, held)| {
            d.endpoint_id == endpoint
                && d.order_key == order_key
                && d.state == WebhookDeliveryState::Pending
                && held.is_some_and(|(until, _)| until > now)
        });
        let head = deliveries
            .values_mut()
            .filter(|(d, _)| {
                d.org_id == org
                    && d.endpoint_id == endpoint
                    && d.order_key == order_key
                    && d.state == WebhookDeliveryState::Pending
            })
            .min_by_key(|(d, _)| d.event_seq);
        let Some((delivery, held)) = head else {
            return Ok(WebhookClaim::NothingDue);
        };
        let due = delivery.next_attempt_at.is_some_and(|at| at <= now);
        let free = held.is_none_or(|(until, _)| until <= now);
        if !(due && free) || order_in_flight {
            return Ok(WebhookClaim::NothingDue);
        }
        if in_flight >= max_in_flight as usize {
            return Ok(WebhookClaim::EndpointBusy);
        }
        let token = Uuid::now_v7();
        *held = Some((now + lease, token));
        Ok(WebhookClaim::Claimed {
            delivery: Box::new(delivery.clone()),
            lease: token,
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
        let mut data = self.data();
        let (stored, held) = data.webhook_delivery(org, delivery)?;
        if stored.state != WebhookDeliveryState::Pending
            || held.is_none_or(|(_, token)| token != lease)
        {
            return Err(StoreError::Conflict(
                "the delivery's lease is no longer held".to_owned(),
            ));
        }
        let at = attempt.at;
        append_attempt(stored, attempt);
        stored.attempts += 1;
        *held = None;
        match outcome {
            AttemptOutcome::Succeeded => {
                stored.state = WebhookDeliveryState::Succeeded;
                stored.next_attempt_at = None;
                stored.delivered_at = Some(at);
            }
            AttemptOutcome::RetryAt(next) => {
                stored.state = WebhookDeliveryState::Pending;
                stored.next_attempt_at = Some(next);
            }
            AttemptOutcome::GaveUp => {
                stored.state = WebhookDeliveryState::Failed;
                stored.next_attempt_at = None;
            }
        }
        Ok(stored.clone())
    }

    async fn fail_pending_webhook_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        reason: &str,
    ) -> StoreResult<u64> {
        let now = self.now();
        let mut data = self.data();
        let mut failed = 0;
        for (delivery, held) in data.webhooks.deliveries.values_mut() {
            if delivery.org_id == org
                && delivery.endpoint_id == endpoint
                && delivery.state == WebhookDeliveryState::Pending
            {
                delivery.state = WebhookDeliveryState::Failed;
                delivery.next_attempt_at = None;
                append_attempt(
                    delivery,
                    WebhookAttempt {
                        at: now,
                        status: None,
                        duration_ms: 0,
                        error: Some(reason.to_owned()),
                    },
                );
                *held = None;
                failed += 1;
            }
        }
        Ok(failed)
    }

    async fn get_webhook_delivery(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
    ) -> StoreResult<WebhookDelivery> {
        Ok(self.data().webhook_delivery(org, delivery)?.0.clone())
    }

    async fn list_webhook_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>> {
        let data = self.data();
        data.webhooks
            .endpoints
            .get(&endpoint)
            .filter(|e| e.org_id == org)
            .ok_or(StoreError::NotFound)?;
        let deliveries = data
            .webhooks
            .deliveries
            .values()
            .rev()
            .filter(|(d, _)| d.endpoint_id == endpoint)
            .map(|(d, _)| d.clone());
        Ok(page_of(deliveries, page, |d| d.id.as_uuid(), true))
    }

    async fn redeliver_webhook(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookDelivery> {
        let mut data = self.data();
        let (stored, held) = data.webhook_delivery(org, delivery)?;
        if stored.state == WebhookDeliveryState::Pending
            && held.is_some_and(|(until, _)| until > now)
        {
            return Err(StoreError::Conflict(
                "the delivery is being sent right now".to_owned(),
            ));
        }
        stored.state = WebhookDeliveryState::Pending;
        stored.next_attempt_at = Some(now);
        stored.attempts = 0;
        *held = None;
        Ok(stored.clone())
    }

    async fn prune_webhook_history(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut data = self.data();
        let hooks = &mut data.webhooks;
        let count = hooks.deliveries.len();
        hooks
            .deliveries
            .retain(|_, (d, _)| d.created_at >= before || d.state == WebhookDeliveryState::Pending);
        let pruned = (count - hooks.deliveries.len()) as u64;
        let kept: std::collections::BTreeSet<i64> = hooks
            .deliveries
            .values()
            .map(|(d, _)| d.event_seq)
            .collect();
        hooks.events.retain(|seq, (event, rendered)| {
            event.created_at >= before || rendered.is_none() || kept.contains(seq)
        });
        Ok(pruned)
    }

    async fn due_webhook_orders(
        &self,
        due_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, WebhookId, Uuid)>> {
        let data = self.data();
        let mut heads: std::collections::BTreeMap<
            (WebhookId, Uuid),
            &(WebhookDelivery, Option<Lease>),
        > = std::collections::BTreeMap::new();
        for held in data.webhooks.deliveries.values() {
            let d = &held.0;
            if d.state != WebhookDeliveryState::Pending {
                continue;
            }
            let head = heads.entry((d.endpoint_id, d.order_key)).or_insert(held);
            if d.event_seq < head.0.event_seq {
                *head = held;
            }
        }
        let mut due: Vec<(DateTime<Utc>, (OrgId, WebhookId, Uuid))> = heads
            .values()
            .filter_map(|(d, held)| {
                let at = d.next_attempt_at?;
                let free = held.is_none_or(|(until, _)| until < due_before);
                (at < due_before && free).then_some((at, (d.org_id, d.endpoint_id, d.order_key)))
            })
            .collect();
        due.sort_by_key(|(at, _)| *at);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(_, key)| key)
            .collect())
    }
}

/// Appends `attempt` to the delivery's log, keeping the newest [`KEPT_ATTEMPTS`].
fn append_attempt(delivery: &mut WebhookDelivery, attempt: WebhookAttempt) {
    delivery.attempt_log.push(attempt);
    let excess = delivery.attempt_log.len().saturating_sub(KEPT_ATTEMPTS);
    delivery.attempt_log.drain(..excess);
}
