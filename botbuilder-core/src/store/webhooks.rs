//! The repository of customers' webhook endpoints, the webhook outbox and the deliveries.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::{
    AttemptOutcome, NewWebhookEndpoint, Page, PageRequest, RenderedEvent, WebhookAttempt,
    WebhookClaim, WebhookDelivery, WebhookEndpoint, WebhookEndpointPatch, WebhookEvent,
};
use crate::id::{OrgId, WebhookDeliveryId, WebhookId};

/// Webhook endpoints (per organization, secret sealed), the outbox of events, and each event's
/// delivery to each endpoint.
///
/// Contract of the outbox: while an organization has an enabled endpoint subscribed to an
/// event type, the store records a [`WebhookEvent`] **in the same transaction** as the change
/// it describes:
/// - `conversation.started` when a session is created;
/// - `message.received` / `message.sent` when an `inbound` / `outbound` or `agent` message
///   is stored;
/// - `conversation.handoff` when a session's status becomes `handoff`, and
///   `conversation.released` when it leaves `handoff`;
/// - `feedback.created` when feedback is recorded (also when it replaces earlier feedback);
/// - `document.ready` / `document.failed` when a document's status becomes `ready` /
///   `failed`.
///
/// Events get increasing `seq` in the order their transactions commit; within one change,
/// the messages' events come before the session's status event (a turn's replies, then its
/// handoff). Deleting an
/// organization deletes its endpoints, events and deliveries; deleting an endpoint deletes
/// its deliveries.
#[async_trait]
pub trait WebhookRepo: Send + Sync + 'static {
    /// Adds an endpoint (`Conflict` when the id is taken).
    async fn create_webhook(
        &self,
        org: OrgId,
        new: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint>;

    /// One endpoint of the organization.
    async fn get_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<WebhookEndpoint>;

    /// The organization's endpoints, oldest first, paged by id.
    async fn list_webhooks(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>>;

    /// Every endpoint of every organization (master-key rotation).
    async fn all_webhooks(&self) -> StoreResult<Vec<WebhookEndpoint>>;

    /// Changes an endpoint (`updated_at` becomes now).
    async fn update_webhook(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        patch: WebhookEndpointPatch,
    ) -> StoreResult<WebhookEndpoint>;

    /// Removes an endpoint and its deliveries.
    async fn delete_webhook(&self, org: OrgId, endpoint: WebhookId) -> StoreResult<()>;

    /// Events not yet fanned out, in `seq` order, at most `limit`.
    async fn unrendered_webhook_events(&self, limit: u32) -> StoreResult<Vec<WebhookEvent>>;

    /// Gives event `seq` its id and body, and creates a pending delivery (due now) for every
    /// enabled endpoint of its organization subscribed to its type, in one transaction; returns
    /// the deliveries. An event already fanned out (by another worker) or gone creates nothing
    /// and returns an empty list.
    async fn fan_out_webhook_event(
        &self,
        seq: i64,
        rendered: RenderedEvent,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Forgets an event that cannot be rendered (what it was about is gone).
    async fn drop_webhook_event(&self, seq: i64) -> StoreResult<()>;

    /// Leases the next delivery of `endpoint` in the order `order_key` for `lease`: the
    /// pending one of the lowest event `seq` (earlier events go first), if it is due by `now`,
    /// no delivery of the order is leased (a redelivered earlier one waits for a later one in
    /// flight), and fewer than `max_in_flight` deliveries of the endpoint are leased
    /// ([`WebhookClaim`]).
    async fn claim_webhook_delivery(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        order_key: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        max_in_flight: u32,
    ) -> StoreResult<WebhookClaim>;

    /// Records an attempt at a delivery and what became of it, and releases its lease: it
    /// joins the attempt log (the newest [`crate::domain::KEPT_ATTEMPTS`] are kept), the
    /// count goes up, and the state follows `outcome`. `Conflict` when the caller no longer
    /// holds `lease` (it ran out and another worker took the delivery, or the delivery was
    /// failed meanwhile): nothing is recorded.
    async fn record_webhook_attempt(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        lease: Uuid,
        attempt: WebhookAttempt,
        outcome: AttemptOutcome,
    ) -> StoreResult<WebhookDelivery>;

    /// Marks every pending delivery of an endpoint failed, with `reason` as an attempt error
    /// (the endpoint was disabled), releasing their leases; returns how many.
    async fn fail_pending_webhook_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        reason: &str,
    ) -> StoreResult<u64>;

    /// One delivery.
    async fn get_webhook_delivery(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
    ) -> StoreResult<WebhookDelivery>;

    /// An endpoint's deliveries, newest first, paged by id.
    async fn list_webhook_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>>;

    /// Makes a delivery pending again, due at `now`, with a fresh attempt count (its log is
    /// kept). `Conflict` while a worker holds its lease (it is being sent).
    async fn redeliver_webhook(
        &self,
        org: OrgId,
        delivery: WebhookDeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookDelivery>;

    /// Deletes the deliveries created before `before` that ended (succeeded or failed), and
    /// the events created before `before` that were fanned out and have no delivery left;
    /// returns how many deliveries. Pending deliveries are kept whatever their age.
    async fn prune_webhook_history(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// The orders whose next delivery (the pending one of the lowest event `seq`) was due
    /// before `due_before` and is not leased then, as `(organization, endpoint, order key)`,
    /// longest waiting first, at most `limit`: what a sweep hands to the workers again after
    /// a crash or a lost job.
    async fn due_webhook_orders(
        &self,
        due_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, WebhookId, Uuid)>>;
}
