//! The outbound half of webhooks: the relay that renders new events and fans them out, and
//! the workers that deliver each order oldest first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::service::{OrderJob, enqueue_order};
use super::{DELIVER_JOB, REQUEST_TIMEOUT, RetrySchedule, WebhookService, WebhookServiceError};
use crate::domain::{
    AttemptOutcome, RenderedEvent, WebhookAttempt, WebhookClaim, WebhookDelivery, WebhookEndpoint,
};
use crate::fetch::{FetchError, FetchRequest};

use crate::queue::{LeasedJob, QueueError};
use crate::store::StoreError;

/// How long a worker holds a job, and a delivery it is sending (well over
/// [`REQUEST_TIMEOUT`]); renewed after each delivery.
const LEASE: Duration = Duration::from_secs(60);
/// How long a due delivery may wait before the sweep enqueues its order again.
const SWEEP_GRACE: chrono::Duration = chrono::Duration::seconds(60);
/// The most deliveries of one endpoint in flight at once, so one slow endpoint cannot hold
/// every worker.
const MAX_IN_FLIGHT: u32 = 2;
/// How long an order first waits when its endpoint has [`MAX_IN_FLIGHT`] deliveries in
/// flight; the wait doubles with each busy answer, up to [`LONGEST_BUSY_WAIT`].
const BUSY_WAIT: Duration = Duration::from_secs(1);
/// The longest wait for a busy endpoint.
const LONGEST_BUSY_WAIT: Duration = Duration::from_secs(60);
/// How long the sweep leaves an order it enqueued before enqueuing it again.
const SWEEP_REPEAT_SECS: i64 = 600;
/// How often the history past [`super::RETENTION`] is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Events rendered per relay pass.
const RELAY_BATCH: u32 = 100;
/// The most of an endpoint's answer that is read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The most of an endpoint's answer kept in the attempt log.
const ANSWER_EXCERPT_CHARS: usize = 200;

/// Settings of the workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookWorkerConfig {
    /// When failed deliveries are tried again.
    pub schedule: RetrySchedule,
}

/// Renders, fans out and delivers webhooks (see the module docs).
pub struct WebhookWorker {
    service: WebhookService,
    config: WebhookWorkerConfig,
    /// Woken when the relay enqueues deliveries.
    enqueued: tokio::sync::Notify,
}

impl std::fmt::Debug for WebhookWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWorker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What an endpoint made of one attempt.
enum Verdict {
    Accepted,
    Gone,
    Failed {
        retry_after: Option<Duration>,
        permanent: bool,
    },
}

enum Outcome {
    Done,
    Retry { after: Duration, reason: String },
}

impl WebhookWorker {
    /// Workers over the ports of `service` (its fetcher must be the guarded one).
    pub fn new(service: WebhookService, config: WebhookWorkerConfig) -> Self {
        Self {
            service,
            config,
            enqueued: tokio::sync::Notify::new(),
        }
    }

    /// Renders the events recorded since the last pass, fans each out to its endpoints and
    /// enqueues their orders; returns how many events were handled. An event whose subject
    /// is gone is dropped.
    ///
    /// # Errors
    /// The store's or the queue's; what was handled before stays handled.
    pub async fn relay_once(&self) -> Result<usize, WebhookServiceError> {
        let events = self
            .service
            .store
            .unrendered_webhook_events(RELAY_BATCH)
            .await?;
        for event in &events {
            let payload = match super::render(self.service.store.as_ref(), event).await {
                Ok(Some(payload)) => Some(payload),
                // What it was about is gone.
                Ok(None) => None,
                Err(e @ StoreError::Unavailable(_)) => return Err(e.into()),
                // What it is about does not read back (damaged): it never will, and it must
                // not hold up the others.
                Err(e) => {
                    tracing::error!(
                        seq = event.seq,
                        "dropping a webhook event that cannot be rendered: {e}"
                    );
                    None
                }
            };
            let Some(payload) = payload else {
                self.service.store.drop_webhook_event(event.seq).await?;
                continue;
            };
            let rendered = RenderedEvent {
                id: Uuid::now_v7(),
                payload,
            };
            let deliveries = self
                .service
                .store
                .fan_out_webhook_event(event.seq, rendered)
                .await?;
            for delivery in deliveries {
                enqueue_order(
                    self.service.queue.as_ref(),
                    delivery.org_id,
                    delivery.endpoint_id,
                    delivery.order_key,
                )
                .await?;
                self.enqueued.notify_waiters();
            }
        }
        Ok(events.len())
    }

    /// Enqueues the orders whose next delivery has waited over a minute without a worker
    /// (its job was lost, or its endpoint is busy), each at most once per ten minutes so a
    /// long-busy endpoint does not pile up jobs; returns how many were enqueued.
    ///
    /// # Errors
    /// The store's or the queue's.
    pub async fn sweep(&self) -> Result<usize, WebhookServiceError> {
        let now = self.service.clock.now();
        let due = self
            .service
            .store
            .due_webhook_orders(now - SWEEP_GRACE, 100)
            .await?;
        let window = now.timestamp() / SWEEP_REPEAT_SECS;
        let mut enqueued = 0;
        for (org, endpoint, order) in &due {
            let key = format!("webhook-sweep:{endpoint}:{order}:{window}");
            let job = super::service::order_job(*org, *endpoint, *order);
            if self.service.queue.enqueue_once(job, &key).await?.is_some() {
                enqueued += 1;
            }
        }
        Ok(enqueued)
    }

    /// Takes one delivery job off the queue and runs it; `false` when there was none.
    ///
    /// # Errors
    /// The queue's.
    pub async fn work_once(&self) -> Result<bool, QueueError> {
        let Some(job) = self.service.queue.reserve(&[DELIVER_JOB], LEASE).await? else {
            return Ok(false);
        };
        match self.deliver_job(&job).await {
            Outcome::Done => self.service.queue.complete(job.id).await?,
            Outcome::Retry { after, reason } => {
                tracing::debug!(job = %job.id, "webhook order waits {after:?}: {reason}");
                self.service.queue.fail(job.id, &reason, after).await?;
            }
        }
        Ok(true)
    }

    /// Works the queue until `shutdown` resolves; between jobs it waits for the relay to
    /// enqueue deliveries, or `idle`. A job in progress is never raced against the shutdown
    /// (a dropped `reserve` would hide its job until the lease ran out).
    pub async fn run(self: Arc<Self>, idle: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let woken = self.enqueued.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let pause = match self.work_once().await {
                Ok(true) => continue,
                Ok(false) => idle,
                Err(e) => {
                    tracing::warn!("webhook worker: {e}");
                    idle
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = woken => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Relays new events every `every`, sweeps lost orders every `sweep_every` and prunes the
    /// history older than [`super::RETENTION`] every hour, until `shutdown` resolves.
    pub async fn run_relay(
        self: Arc<Self>,
        every: Duration,
        sweep_every: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut swept_at: Option<tokio::time::Instant> = None;
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            if swept_at.is_none_or(|at| at.elapsed() >= sweep_every) {
                if let Err(e) = self.sweep().await {
                    tracing::warn!("webhook sweep: {e}");
                }
                swept_at = Some(tokio::time::Instant::now());
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                let retention =
                    chrono::Duration::from_std(super::RETENTION).unwrap_or(chrono::Duration::MAX);
                match self
                    .service
                    .store
                    .prune_webhook_history(self.service.clock.now() - retention)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("pruned {n} webhook deliveries past the retention"),
                    Err(e) => tracing::warn!("webhook pruning: {e}"),
                }
                pruned_at = Some(tokio::time::Instant::now());
            }
            let pause = match self.relay_once().await {
                Ok(n) if n as u32 >= RELAY_BATCH => Duration::ZERO,
                Ok(_) => every,
                Err(e) => {
                    tracing::warn!("webhook relay: {e}");
                    every
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Sends an order's due deliveries oldest first, until none is due or one must wait.
    async fn deliver_job(&self, job: &LeasedJob) -> Outcome {
        let Ok(OrderJob {
            org,
            endpoint: endpoint_id,
            order,
        }) = serde_json::from_value(job.payload.clone())
        else {
            tracing::warn!(job = %job.id, "malformed webhook job dropped");
            return Outcome::Done;
        };
        loop {
            let endpoint = match self.service.store.get_webhook(org, endpoint_id).await {
                Ok(endpoint) if endpoint.enabled => endpoint,
                Ok(_) | Err(StoreError::NotFound) => return Outcome::Done,
                Err(e) => return retry_soon(&e),
            };
            let now = self.service.clock.now();
            let (delivery, lease) = match self
                .service
                .store
                .claim_webhook_delivery(org, endpoint_id, order, now, LEASE, MAX_IN_FLIGHT)
                .await
            {
                Ok(WebhookClaim::Claimed { delivery, lease }) => (*delivery, lease),
                // Nothing due, or another worker is sending the head and carries on with
                // the order; a head waiting for its retry has the job that failed it.
                Ok(WebhookClaim::NothingDue) => return Outcome::Done,
                Ok(WebhookClaim::EndpointBusy) => {
                    let doubled = BUSY_WAIT.saturating_mul(1 << job.attempt.min(6));
                    return Outcome::Retry {
                        after: doubled.min(LONGEST_BUSY_WAIT),
                        reason: "the endpoint has its most deliveries in flight".to_owned(),
                    };
                }
                Err(e) => return retry_soon(&e),
            };
            match self.deliver(&endpoint, &delivery, lease).await {
                Ok(None) => {}
                Err(WebhookServiceError::Store(StoreError::Conflict(_))) => {
                    // The lease ran out, or the endpoint was disabled meanwhile: whoever holds
                    // the delivery now records it.
                    return Outcome::Done;
                }
                Ok(Some(at)) => {
                    let after = (at - self.service.clock.now()).to_std().unwrap_or_default();
                    return Outcome::Retry {
                        after,
                        reason: format!("delivery {} failed; next attempt due", delivery.id),
                    };
                }
                Err(e) => return retry_soon(&e),
            }
            if self.service.queue.extend_lease(job, LEASE).await.is_err() {
                // Another worker holds the job now; it carries on with this order.
                return Outcome::Done;
            }
        }
    }

    /// Makes one attempt at `delivery` and records it; `Some(at)` when it is to be retried
    /// then.
    async fn deliver(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &WebhookDelivery,
        lease: Uuid,
    ) -> Result<Option<DateTime<Utc>>, WebhookServiceError> {
        let at = self.service.clock.now();
        let started = Instant::now();
        let (verdict, status, error) = self.post(endpoint, delivery, at).await;
        let attempt = WebhookAttempt {
            at,
            status,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            error,
        };
        let outcome = match verdict {
            Verdict::Accepted => AttemptOutcome::Succeeded,
            Verdict::Gone
            | Verdict::Failed {
                permanent: true, ..
            } => AttemptOutcome::GaveUp,
            Verdict::Failed { retry_after, .. } => self
                .config
                .schedule
                .wait_before_next(delivery.attempts + 1, retry_after)
                .and_then(|wait| chrono::Duration::from_std(wait).ok())
                .and_then(|wait| at.checked_add_signed(wait))
                .map_or(AttemptOutcome::GaveUp, AttemptOutcome::RetryAt),
        };
        let retry_at = match outcome {
            AttemptOutcome::RetryAt(next) => Some(next),
            _ => None,
        };
        self.service
            .store
            .record_webhook_attempt(delivery.org_id, delivery.id, lease, attempt, outcome)
            .await?;
        if matches!(verdict, Verdict::Gone) {
            let reason = "the endpoint answered 410 Gone, so it was disabled";
            tracing::info!(endpoint = %endpoint.id, "{reason}");
            self.service
                .disable(endpoint.org_id, endpoint.id, reason)
                .await?;
        }
        Ok(retry_at)
    }

    /// Posts `delivery` signed at `at`: the verdict, the status if any, and the error for
    /// the log.
    async fn post(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &WebhookDelivery,
        at: DateTime<Utc>,
    ) -> (Verdict, Option<u16>, Option<String>) {
        let transient = |error: String| {
            (
                Verdict::Failed {
                    retry_after: None,
                    permanent: false,
                },
                None,
                Some(error),
            )
        };
        let secrets = match self.service.signing_secrets(endpoint, at) {
            Ok(secrets) => secrets,
            Err(e) => return transient(format!("cannot open the signing secret: {e}")),
        };
        let body = delivery.payload.to_string();
        let id = delivery.webhook_id();
        let timestamp = at.timestamp();
        let signature =
            match self
                .service
                .signer()
                .signature(&secrets, &id, timestamp, body.as_bytes())
            {
                Ok(signature) => signature,
                Err(e) => return transient(format!("cannot sign: {e}")),
            };
        let request = FetchRequest {
            method: "POST".to_owned(),
            url: endpoint.url.clone(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                (
                    "user-agent".to_owned(),
                    concat!("BotBuilder-Webhooks/", env!("CARGO_PKG_VERSION")).to_owned(),
                ),
                ("webhook-id".to_owned(), id),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
                ("webhook-signature".to_owned(), signature),
            ],
            body: Some(body),
            timeout: REQUEST_TIMEOUT,
            max_body_bytes: Some(MAX_ANSWER_BYTES),
            follow_redirects: false,
            truncate_body: true,
        };
        match self.service.fetcher.fetch(request).await {
            Ok(answer) if (200..300).contains(&answer.status) => {
                (Verdict::Accepted, Some(answer.status), None)
            }
            Ok(answer) if answer.status == 410 => (
                Verdict::Gone,
                Some(410),
                Some("410 Gone: the endpoint was disabled".to_owned()),
            ),
            Ok(answer) => {
                let excerpt: String = answer.text().chars().take(ANSWER_EXCERPT_CHARS).collect();
                let why = if (300..400).contains(&answer.status) {
                    "redirects are not followed; give the final URL".to_owned()
                } else {
                    format!("answered {}: {excerpt}", answer.status)
                };
                (
                    Verdict::Failed {
                        retry_after: answer.retry_after,
                        permanent: false,
                    },
                    Some(answer.status),
                    Some(why),
                )
            }
            Err(FetchError::Refused(why)) => (
                Verdict::Failed {
                    retry_after: None,
                    permanent: true,
                },
                None,
                Some(format!("refused by the outbound guard: {why}")),
            ),
            Err(FetchError::InvalidUrl(why)) => (
                Verdict::Failed {
                    retry_after: None,
                    permanent: true,
                },
                None,
                Some(format!("invalid URL: {why}")),
            ),
            Err(e) => transient(match &e {
                FetchError::Failed(source) => format!("{e}: {source}"),
                _ => e.to_string(),
            }),
        }
    }
}

fn retry_soon(e: &dyn std::error::Error) -> Outcome {
    Outcome::Retry {
        after: Duration::from_secs(5),
        reason: e.to_string(),
    }
}
