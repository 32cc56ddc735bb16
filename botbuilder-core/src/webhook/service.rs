//! Webhook endpoints as a use case: add (with a new secret, shown once), list, change,
//! rotate the secret, remove, read the delivery log, redeliver.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{DELIVER_JOB, SECRET_GRACE, WebhookSigner};
use crate::clock::Clock;
use crate::domain::{
    NewWebhookEndpoint, Page, PageRequest, RotatedSecret, SealedSecret, WebhookDelivery,
    WebhookDeliveryState, WebhookEndpoint, WebhookEndpointPatch, WebhookEventType,
};
use crate::fetch::{FetchError, Fetcher};
use crate::id::{OrgId, WebhookDeliveryId, WebhookId};
use crate::queue::{JobQueue, NewJob, QueueError};
use crate::secrets::{CipherError, SecretCipher, webhook_binding};
use crate::store::{Store, StoreError};
use crate::validate::{FieldIssue, Invalid};

/// Most endpoints per organization.
pub const MAX_ENDPOINTS: usize = 20;
/// Longest URL, in bytes.
const MAX_URL_BYTES: usize = 2048;
/// Longest description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Attempts of one delivery job (each delivery counts its own attempts, see
/// [`super::RetrySchedule`]; this only bounds a job that keeps failing for other reasons).
pub(super) const JOB_ATTEMPTS: u32 = 1000;

/// Why a webhook operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookServiceError {
    /// The input breaks a rule (the fields are named).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The organization has [`MAX_ENDPOINTS`] endpoints already.
    #[error("an organization has at most {MAX_ENDPOINTS} webhook endpoints")]
    TooMany,
    /// The endpoint is disabled: enable it before redelivering to it.
    #[error("the endpoint is disabled; enable it first")]
    Disabled,
    /// The store failed (`NotFound`: no such endpoint or delivery).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening the secret failed.
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// An endpoint to add, as the API takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRequest {
    /// Where to post (`http` or `https`, no user name or password in it).
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// Event type names; `None` subscribes to every type.
    pub events: Option<Vec<String>>,
}

/// A change to an endpoint, as the API takes it; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointChange {
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New event type names.
    pub events: Option<Vec<String>>,
    /// Enable (clears why it was disabled) or disable (fails its pending deliveries).
    pub enabled: Option<bool>,
}

/// An endpoint with its secret in clear, returned once: when added and when rotated. Its
/// `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedEndpoint {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// Its signing secret (`whsec_…`).
    pub secret: String,
}

impl std::fmt::Debug for CreatedEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedEndpoint")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Customers' webhook endpoints (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct WebhookService {
    pub(super) store: Arc<dyn Store>,
    cipher: Arc<dyn SecretCipher>,
    signer: Arc<dyn WebhookSigner>,
    pub(super) fetcher: Arc<dyn Fetcher>,
    pub(super) queue: Arc<dyn JobQueue>,
    pub(super) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService").finish_non_exhaustive()
    }
}

impl WebhookService {
    /// The use case over these ports; `fetcher` is the one deliveries go through (its guard
    /// judges the URLs given).
    pub fn new(
        store: Arc<dyn Store>,
        cipher: Arc<dyn SecretCipher>,
        signer: Arc<dyn WebhookSigner>,
        fetcher: Arc<dyn Fetcher>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            cipher,
            signer,
            fetcher,
            queue,
            clock,
        }
    }

    /// Adds an endpoint with a new secret (returned this once).
    ///
    /// # Errors
    /// `Invalid` naming `url`, `description` or `events[i]`; `TooMany`; the store's.
    pub async fn create(
        &self,
        org: OrgId,
        request: EndpointRequest,
    ) -> Result<CreatedEndpoint, WebhookServiceError> {
        let mut issues = Vec::new();
        self.check_url(&request.url, &mut issues).await;
        let description = request.description.unwrap_or_default();
        check_description(&description, &mut issues);
        let events = match &request.events {
            Some(names) => parse_events(names, &mut issues),
            None => WebhookEventType::ALL.to_vec(),
        };
        Invalid::check(issues)?;
        let existing = self
            .store
            .list_webhooks(org, PageRequest::first(MAX_ENDPOINTS as u32 + 1))
            .await?;
        if existing.items.len() >= MAX_ENDPOINTS {
            return Err(WebhookServiceError::TooMany);
        }
        let id = WebhookId::new();
        let (secret, sealed) = self.new_secret(org, id)?;
        let endpoint = self
            .store
            .create_webhook(
                org,
                NewWebhookEndpoint {
                    id,
                    url: request.url.trim().to_owned(),
                    description,
                    events,
                    secret: sealed,
                },
            )
            .await?;
        Ok(CreatedEndpoint { endpoint, secret })
    }

    /// The organization's endpoints, oldest first.
    ///
    /// # Errors
    /// The store's.
    pub async fn list(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>, WebhookServiceError> {
        Ok(self.store.list_webhooks(org, page).await?)
    }

    /// One endpoint.
    ///
    /// # Errors
    /// `Store(NotFound)` when it is not the organization's.
    pub async fn get(
        &self,
        org: OrgId,
        endpoint: WebhookId,
    ) -> Result<WebhookEndpoint, WebhookServiceError> {
        Ok(self.store.get_webhook(org, endpoint).await?)
    }

    /// Changes an endpoint. Disabling fails its pending deliveries; enabling clears why it
    /// was disabled.
    ///
    /// # Errors
    /// `Invalid` naming the field; `Store(NotFound)`.
    pub async fn update(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        change: EndpointChange,
    ) -> Result<WebhookEndpoint, WebhookServiceError> {
        let mut issues = Vec::new();
        if let Some(url) = &change.url {
            self.check_url(url, &mut issues).await;
        }
        if let Some(description) = &change.description {
            check_description(description, &mut issues);
        }
        let events = change
            .events
            .as_ref()
            .map(|names| parse_events(names, &mut issues));
        Invalid::check(issues)?;
        let patch = WebhookEndpointPatch {
            url: change.url.map(|u| u.trim().to_owned()),
            description: change.description,
            events,
            enabled: change.enabled,
            disabled_reason: (change.enabled == Some(true)).then_some(None),
            ..WebhookEndpointPatch::default()
        };
        let updated = self.store.update_webhook(org, endpoint, patch).await?;
        if change.enabled == Some(false) {
            self.store
                .fail_pending_webhook_deliveries(org, endpoint, "the endpoint was disabled")
                .await?;
        }
        Ok(updated)
    }

    /// Disables an endpoint for `reason` (`410 Gone`) and fails its pending deliveries.
    ///
    /// # Errors
    /// The store's.
    pub async fn disable(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        reason: &str,
    ) -> Result<(), WebhookServiceError> {
        let patch = WebhookEndpointPatch {
            enabled: Some(false),
            disabled_reason: Some(Some(reason.to_owned())),
            ..WebhookEndpointPatch::default()
        };
        self.store.update_webhook(org, endpoint, patch).await?;
        self.store
            .fail_pending_webhook_deliveries(org, endpoint, reason)
            .await?;
        Ok(())
    }

    /// Gives an endpoint a new secret (returned this once). The old one keeps signing beside
    /// it for [`SECRET_GRACE`], so receivers can switch without losing a message.
    ///
    /// # Errors
    /// `Store(NotFound)`; the cipher's.
    pub async fn rotate_secret(
        &self,
        org: OrgId,
        endpoint: WebhookId,
    ) -> Result<CreatedEndpoint, WebhookServiceError> {
        let before = self.store.get_webhook(org, endpoint).await?;
        let (secret, sealed) = self.new_secret(org, endpoint)?;
        let grace = chrono::Duration::from_std(SECRET_GRACE).unwrap_or(chrono::Duration::MAX);
        let patch = WebhookEndpointPatch {
            rotated_secret: Some(RotatedSecret {
                secret: sealed,
                previous: before.secret,
                previous_expires_at: self.clock.now() + grace,
            }),
            ..WebhookEndpointPatch::default()
        };
        let endpoint = self.store.update_webhook(org, endpoint, patch).await?;
        Ok(CreatedEndpoint { endpoint, secret })
    }

    /// Removes an endpoint and its delivery log.
    ///
    /// # Errors
    /// `Store(NotFound)`.
    pub async fn delete(&self, org: OrgId, endpoint: WebhookId) -> Result<(), WebhookServiceError> {
        Ok(self.store.delete_webhook(org, endpoint).await?)
    }

    /// An endpoint's deliveries, newest first, with their attempts.
    ///
    /// # Errors
    /// `Store(NotFound)` for another organization's endpoint.
    pub async fn deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>, WebhookServiceError> {
        Ok(self
            .store
            .list_webhook_deliveries(org, endpoint, page)
            .await?)
    }

    /// Sends a delivery again (whatever became of it) with a fresh set of attempts, as soon as
    /// the ones before it in its order are through.
    ///
    /// # Errors
    /// `Store(NotFound)` when the delivery is not the endpoint's; `Disabled`;
    /// `Store(Conflict)` while it is being sent.
    pub async fn redeliver(
        &self,
        org: OrgId,
        endpoint: WebhookId,
        delivery: WebhookDeliveryId,
    ) -> Result<WebhookDelivery, WebhookServiceError> {
        let target = self.store.get_webhook(org, endpoint).await?;
        let found = self.store.get_webhook_delivery(org, delivery).await?;
        if found.endpoint_id != endpoint {
            return Err(StoreError::NotFound.into());
        }
        if !target.enabled {
            return Err(WebhookServiceError::Disabled);
        }
        let again = self
            .store
            .redeliver_webhook(org, delivery, self.clock.now())
            .await?;
        debug_assert_eq!(again.state, WebhookDeliveryState::Pending);
        enqueue_order(self.queue.as_ref(), org, endpoint, again.order_key).await?;
        Ok(again)
    }

    /// The secrets signing for `endpoint` at `now`, in text form: the current one, and the
    /// previous one during its grace period.
    pub(super) fn signing_secrets(
        &self,
        endpoint: &WebhookEndpoint,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, CipherError> {
        let binding = webhook_binding(endpoint.org_id, endpoint.id);
        let open = |sealed: &SealedSecret| {
            self.cipher
                .open(sealed, &binding)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        };
        let mut secrets = vec![open(&endpoint.secret)?];
        if let (Some(previous), Some(until)) = (
            &endpoint.previous_secret,
            endpoint.previous_secret_expires_at,
        ) && until > now
        {
            secrets.push(open(previous)?);
        }
        Ok(secrets)
    }

    pub(super) fn signer(&self) -> &dyn WebhookSigner {
        self.signer.as_ref()
    }

    fn new_secret(
        &self,
        org: OrgId,
        endpoint: WebhookId,
    ) -> Result<(String, SealedSecret), CipherError> {
        let secret = self.signer.generate_secret();
        let sealed = self
            .cipher
            .seal(secret.as_bytes(), &webhook_binding(org, endpoint))?;
        Ok((secret, sealed))
    }

    async fn check_url(&self, url: &str, issues: &mut Vec<FieldIssue>) {
        let problem = match url_problem(url.trim()) {
            Some(problem) => Some(problem),
            None => match self.fetcher.check_target(url.trim()).await {
                Ok(()) => None,
                Err(FetchError::Refused(why)) => Some(format!(
                    "refused by the outbound guard ({why}); private, loopback and link-local \
                     addresses are not allowed unless the server allows them"
                )),
                Err(e) => Some(e.to_string()),
            },
        };
        if let Some(message) = problem {
            issues.push(FieldIssue {
                field: "url".to_owned(),
                message,
            });
        }
    }
}

/// Re-seals every webhook endpoint's secrets with `to` (opened with `from`), bound to its
/// organization and endpoint as before; returns how many endpoints were re-sealed. Endpoints
/// already sealed with `to`'s key are left alone, so an interrupted rotation can be run again.
///
/// # Errors
/// The store's, or the cipher's when a secret does not open with `from`.
pub async fn reseal_webhooks(
    store: &dyn Store,
    from: &dyn SecretCipher,
    to: &dyn SecretCipher,
) -> Result<usize, WebhookServiceError> {
    let mut resealed = 0;
    for endpoint in store.all_webhooks().await? {
        let stale = |s: &SealedSecret| s.key_id != to.key_id();
        if !stale(&endpoint.secret) && !endpoint.previous_secret.as_ref().is_some_and(stale) {
            continue;
        }
        let binding = webhook_binding(endpoint.org_id, endpoint.id);
        let again = |s: &SealedSecret| -> Result<SealedSecret, CipherError> {
            if stale(s) {
                to.seal(&from.open(s, &binding)?, &binding)
            } else {
                Ok(s.clone())
            }
        };
        let patch = WebhookEndpointPatch {
            resealed: Some((
                again(&endpoint.secret)?,
                endpoint.previous_secret.as_ref().map(again).transpose()?,
            )),
            ..WebhookEndpointPatch::default()
        };
        store
            .update_webhook(endpoint.org_id, endpoint.id, patch)
            .await?;
        resealed += 1;
    }
    Ok(resealed)
}

/// Enqueues the delivery of one order (a job sends all of its pending deliveries in order).
pub(super) async fn enqueue_order(
    queue: &dyn JobQueue,
    org: OrgId,
    endpoint: WebhookId,
    order: uuid::Uuid,
) -> Result<(), QueueError> {
    queue
        .enqueue(order_job(org, endpoint, order))
        .await
        .map(drop)
}

/// The payload of a [`DELIVER_JOB`]: one endpoint's deliveries of one order.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) struct OrderJob {
    pub(super) org: OrgId,
    pub(super) endpoint: WebhookId,
    pub(super) order: uuid::Uuid,
}

/// The job that delivers one order.
pub(super) fn order_job(org: OrgId, endpoint: WebhookId, order: uuid::Uuid) -> NewJob {
    NewJob {
        kind: DELIVER_JOB.to_owned(),
        payload: serde_json::to_value(OrderJob {
            org,
            endpoint,
            order,
        })
        .unwrap_or_default(),
        max_attempts: JOB_ATTEMPTS,
    }
}

fn url_problem(url: &str) -> Option<String> {
    if url.is_empty() {
        return Some("must not be empty".to_owned());
    }
    if url.len() > MAX_URL_BYTES {
        return Some(format!("must be at most {MAX_URL_BYTES} bytes"));
    }
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("not an absolute URL: {e}")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some("must be an http or https URL".to_owned());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("must name a host".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some(
            "must not carry a user name or password (the signature authenticates us)".to_owned(),
        );
    }
    None
}

fn check_description(description: &str, issues: &mut Vec<FieldIssue>) {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        issues.push(FieldIssue {
            field: "description".to_owned(),
            message: format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        });
    }
}

fn parse_events(names: &[String], issues: &mut Vec<FieldIssue>) -> Vec<WebhookEventType> {
    if names.is_empty() {
        issues.push(FieldIssue {
            field: "events".to_owned(),
            message: "name at least one event type (or leave it out for all)".to_owned(),
        });
    }
    let mut events = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match WebhookEventType::parse(name) {
            Some(kind) => events.push(kind),
            None => issues.push(FieldIssue {
                field: format!("events[{i}]"),
                message: format!(
                    "unknown event type `{name}`; known: {}",
                    WebhookEventType::ALL
                        .map(WebhookEventType::as_str)
                        .join(", ")
                ),
            }),
        }
    }
    events.sort();
    events.dedup();
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        assert_eq!(url_problem("https://hooks.example.com/in?x=1"), None);
        assert_eq!(
            url_problem("http://127.0.0.1:9/"),
            None,
            "the guard judges addresses"
        );
        for bad in [
            "",
            "hooks.example.com/in",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "file:///etc/passwd",
        ] {
            assert!(url_problem(bad).is_some(), "{bad}");
        }
        assert!(url_problem(&format!("https://a.example/{}", "x".repeat(3000))).is_some());
    }

    #[test]
    fn event_names_are_checked_one_by_one_and_deduplicated() {
        let mut issues = Vec::new();
        let names = ["message.sent", "nope", "message.sent", "document.ready"].map(String::from);
        let events = parse_events(&names, &mut issues);
        assert_eq!(
            events,
            [
                WebhookEventType::MessageSent,
                WebhookEventType::DocumentReady
            ]
        );
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].field, "events[1]");
        let mut issues = Vec::new();
        assert!(parse_events(&[], &mut issues).is_empty());
        assert_eq!(issues[0].field, "events");
    }
}
