//! Outgoing webhooks for customers: an organization's endpoints receive its events
//! (`conversation.started`, `message.received`, `message.sent`, `conversation.handoff`,
//! `conversation.released`, `feedback.created`, `document.ready`, `document.failed`),
//! signed by the Standard Webhooks 1.0 scheme.
//!
//! How an event travels:
//! 1. **Recorded with the change.** The store writes the event to its outbox in the
//!    transaction that makes the change ([`crate::store::WebhookRepo`]), so a stored message
//!    always has its event, whatever crashes after.
//! 2. **Rendered and fanned out once.** [`WebhookWorker::relay_once`] renders each new event's
//!    body ([`render`]) and creates one pending delivery per enabled endpoint subscribed to
//!    it, then enqueues a [`DELIVER_JOB`].
//! 3. **Delivered in order.** A job sends the deliveries of one endpoint and one session
//!    (its *order*) oldest first: a later event never overtakes an earlier one. Only a `2xx`
//!    answer is success; a redirect is not followed; `410 Gone` disables the endpoint. Other
//!    failures are retried with exponential backoff over about three days
//!    ([`RetrySchedule`]), honouring `Retry-After` up to the schedule's longest wait, then
//!    the delivery is marked failed and the order moves on. Every attempt is logged with its
//!    status and duration. A delivery is leased to one worker at a time (a worker whose lease
//!    lapsed records nothing), and an endpoint has at most two deliveries in flight, so one
//!    slow endpoint cannot hold every worker.
//!
//! The headers are `webhook-id` (the event's id, the same on every retry), `webhook-timestamp`
//! (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of
//! `{id}.{timestamp}.{body}`, two of them for 24 hours after a secret rotation); the
//! [`WebhookSigner`] port computes them (`botbuilder_channels::standard_webhooks`). Targets go
//! through the [`crate::fetch::Fetcher`], so private, loopback and link-local addresses are
//! refused unless the server allows them.

use std::time::Duration;

mod render;
mod service;
mod worker;

pub use render::render;
pub use service::{
    CreatedEndpoint, EndpointChange, EndpointRequest, MAX_ENDPOINTS, WebhookService,
    WebhookServiceError, reseal_webhooks,
};
pub use worker::{WebhookWorker, WebhookWorkerConfig};

/// The job kind that delivers one order (payload `{org, endpoint, order}`).
pub const DELIVER_JOB: &str = "webhook_deliver";
/// How long the previous secret keeps signing after a rotation.
pub const SECRET_GRACE: Duration = Duration::from_secs(24 * 3600);
/// How long ended deliveries (and their events) are kept in the log.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long an endpoint has to answer one attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Signs webhooks by the Standard Webhooks scheme.
pub trait WebhookSigner: Send + Sync + 'static {
    /// A new secret in its text form (`whsec_` and the base64 of the key).
    fn generate_secret(&self) -> String;

    /// The `webhook-signature` header value signing `body` as message `id` at `timestamp`
    /// (Unix seconds) with each of `secrets` (text form), space-separated. `Err` names a
    /// secret that does not parse.
    fn signature(
        &self,
        secrets: &[String],
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, String>;
}

/// When a failed delivery is tried again: `first` after the first failure, each wait
/// `factor` times the one before but at most `longest`, and no attempt after `give_up_after`
/// of waiting in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait after the first failure.
    pub first: Duration,
    /// How much each wait grows.
    pub factor: u32,
    /// The longest wait.
    pub longest: Duration,
    /// The most waiting in total before giving up.
    pub give_up_after: Duration,
}

impl Default for RetrySchedule {
    /// 5 s, 15 s, 45 s, … up to 8 h between attempts, for 3 days (17 attempts).
    fn default() -> Self {
        Self {
            first: Duration::from_secs(5),
            factor: 3,
            longest: Duration::from_secs(8 * 3600),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

impl RetrySchedule {
    /// The wait after the `failures`-th failed attempt (1-based), or `None` when the
    /// delivery should be given up.
    pub fn wait_after(&self, failures: u32) -> Option<Duration> {
        let mut wait = self.first;
        let mut total = Duration::ZERO;
        for _ in 1..failures.max(1) {
            total += wait;
            wait = (wait * self.factor).min(self.longest);
        }
        (total + wait <= self.give_up_after).then_some(wait)
    }

    /// The wait before the next attempt after the `failures`-th failure, when the endpoint
    /// asked for `asked` (`Retry-After`): the schedule's wait, or longer when asked, up to
    /// [`RetrySchedule::longest`]. `None` when the delivery should be given up.
    pub fn wait_before_next(&self, failures: u32, asked: Option<Duration>) -> Option<Duration> {
        let wait = self.wait_after(failures)?;
        let longest = self.longest.max(wait);
        Some(asked.map_or(wait, |asked| asked.clamp(wait, longest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_backs_off_for_about_three_days() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.wait_after(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.wait_after(2), Some(Duration::from_secs(15)));
        assert_eq!(schedule.wait_after(3), Some(Duration::from_secs(45)));
        let waits: Vec<Duration> = (1..).map_while(|n| schedule.wait_after(n)).collect();
        assert_eq!(waits.len(), 16, "{waits:?}");
        assert!(waits.iter().all(|w| *w <= schedule.longest));
        let total: Duration = waits.iter().sum();
        let hours = total.as_secs_f64() / 3600.0;
        assert!((64.0..=72.0).contains(&hours), "{hours} h");
    }

    #[test]
    fn an_asked_wait_is_taken_up_to_the_longest() {
        let schedule = RetrySchedule::default();
        let asked = |secs| schedule.wait_before_next(1, Some(Duration::from_secs(secs)));
        assert_eq!(asked(1), Some(Duration::from_secs(5)), "never shorter");
        assert_eq!(asked(60), Some(Duration::from_secs(60)));
        assert_eq!(asked(u64::MAX / 2), Some(schedule.longest));
        assert_eq!(schedule.wait_before_next(17, None), None);
    }
}
