//! The channel worker: processes accepted inbound events through the engine, and delivers
//! the outbox to the platforms through the job queue.
//!
//! - **Inbound** (`channel_inbound` jobs): a button press is acknowledged and its payload
//!   resolved (kept server-side payloads, numbered answers to degraded choices); a delivery
//!   status is recorded on the delivery; anything else is one engine turn in the session of
//!   (bot, channel, external user). The turn's replies are in the outbox already (same
//!   write); a `channel_deliver` job for the session follows.
//! - **Delivery** (`channel_deliver` jobs, one per session at a time in this process): every
//!   pending reply of the session, in order, formatted for the channel ([`super::format()`]),
//!   part by part within the platform's rate limits ([`super::RateLimits`]: waits up to
//!   [`MAX_INLINE_WAIT`] in place, longer ones retry the job after them). A part the platform
//!   accepted is recorded before the next, so a retry never sends it twice. Retryable errors
//!   retry the job with exponential backoff honouring the platform's `retry_after`; after
//!   [`DELIVER_ATTEMPTS`] the job is dead-lettered (listed by the API) and the session's
//!   pending replies are marked `failed`, so later replies are not held behind them.
//!   A message the platform refuses for good is marked `failed`; outside WhatsApp's
//!   customer-service window it is `skipped` with the reason, never sent.
//! - **Sweep**: replies whose delivery job was lost (a crash between the turn and the
//!   enqueue) are picked up again by [`ChannelWorker::sweep`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;

use super::service::{ChannelService, ChannelServiceError, INBOUND_JOB, PreparedChannel};
use super::{
    InboundEvent, InboundKind, OutboundMessage, Part, format, kept_button_index, numbered_choice,
};
use crate::clock::Clock;
use crate::domain::{ChannelPatch, Delivery, MessageDirection};
use crate::engine::{Engine, EngineError, Inbound};
use crate::id::{ChannelId, OrgId, SessionId};
use crate::queue::{JobQueue, LeasedJob, NewJob, QueueError};
use crate::rate_limit::RateLimiter;
use crate::store::{DeliveryUpdate, Store, StoreError};

/// The job kind that delivers a session's pending replies (payload `{org, channel,
/// session}`).
pub const DELIVER_JOB: &str = "channel_deliver";
/// Attempts at delivering before the job is dead-lettered (about 13 minutes of backoff); the
/// session's replies still pending then are marked `failed` with the last error.
pub const DELIVER_ATTEMPTS: u32 = 10;
/// The longest rate-limit wait taken in place; longer ones retry the job later.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(2);

mod deliver;
mod web;

pub use deliver::Undelivered;
/// How long a job is leased to a worker.
const LEASE: Duration = Duration::from_secs(60);
/// Replies pending this long without a job are swept up.
const SWEEP_AGE: TimeDelta = TimeDelta::seconds(60);
/// Recent messages read to find the user's last message and the choices last offered.
const RECENT: u32 = 20;

/// A conversation's lock, as a worker holds it or waits for it.
enum Turn {
    Now(tokio::sync::OwnedMutexGuard<()>),
    Later(std::pin::Pin<Box<dyn Future<Output = tokio::sync::OwnedMutexGuard<()>> + Send>>),
    Free,
}

/// The conversation an inbound job belongs to (channel and external user); `None` for other
/// jobs (deliveries take their session's lock).
fn conversation_of(job: &LeasedJob) -> Option<String> {
    if job.kind != INBOUND_JOB {
        return None;
    }
    let channel = job.payload["channel"].as_str()?;
    let user = job.payload["event"]["external_user"].as_str()?;
    Some(format!("{channel}\u{0}{user}"))
}

/// What a finished job asks of the queue.
enum Outcome {
    Done,
    Retry { after: Duration, reason: String },
}

/// The channel worker (see the module docs). Share it with `Arc`.
pub struct ChannelWorker {
    channels: ChannelService,
    store: Arc<dyn Store>,
    queue: Arc<dyn JobQueue>,
    engine: Arc<Engine>,
    limiter: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
    sessions: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
    conversations: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    reserving: tokio::sync::Mutex<()>,
    web: Option<Arc<dyn super::ChannelSender>>,
}

impl std::fmt::Debug for ChannelWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelWorker").finish_non_exhaustive()
    }
}

/// How a sent part is found again: the conversation and the platform's id for the message.
fn part_key(conversation: &str, external_id: &str) -> String {
    format!("{conversation}:{external_id}")
}

fn backoff(attempt: u32) -> Duration {
    // 2 s, 4 s, 8 s, … capped at 5 minutes.
    Duration::from_secs(2u64.saturating_pow(attempt.min(16))).min(Duration::from_secs(300))
}

impl ChannelWorker {
    /// A worker over these ports.
    pub fn new(
        channels: ChannelService,
        store: Arc<dyn Store>,
        queue: Arc<dyn JobQueue>,
        engine: Arc<Engine>,
        limiter: Arc<dyn RateLimiter>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            channels,
            store,
            queue,
            engine,
            limiter,
            clock,
            sessions: Mutex::new(HashMap::new()),
            conversations: Mutex::new(HashMap::new()),
            reserving: tokio::sync::Mutex::new(()),
            web: None,
        }
    }

    /// Sends agents' replies in web chat sessions (channel `web`) through `sender`, which
    /// publishes them to the visitors' event streams.
    #[must_use]
    pub fn with_web(mut self, sender: Arc<dyn super::ChannelSender>) -> Self {
        self.web = Some(sender);
        self
    }

    /// Takes one channel job off the queue and runs it; `false` when there was none.
    ///
    /// A user's events are processed in the order they were accepted, one at a time, by
    /// however many workers: a worker reserves a job and queues for its conversation's turn
    /// before the next worker may reserve (the lock is fair, so turns go in reservation
    /// order). The job's lease is kept while it waits and runs.
    pub async fn work_once(&self) -> Result<bool, QueueError> {
        let (job, turn) = {
            let _one_reserving = self.reserving.lock().await;
            let Some(job) = self
                .queue
                .reserve(&[INBOUND_JOB, DELIVER_JOB], LEASE)
                .await?
            else {
                return Ok(false);
            };
            let turn = match conversation_of(&job) {
                Some(key) => {
                    let lock = {
                        let mut all = self
                            .conversations
                            .lock()
                            .expect("conversation locks poisoned");
                        all.retain(|_, lock| Arc::strong_count(lock) > 1);
                        all.entry(key).or_default().clone()
                    };
                    let mut waiting = Box::pin(lock.lock_owned());
                    // Polled once here, so this worker is in the queue before the next reserves.
                    match futures::poll!(&mut waiting) {
                        std::task::Poll::Ready(guard) => Turn::Now(guard),
                        std::task::Poll::Pending => Turn::Later(waiting),
                    }
                }
                None => Turn::Free,
            };
            (job, turn)
        };
        let outcome = tokio::select! {
            outcome = async {
                let _turn = match turn {
                    Turn::Now(guard) => Some(guard),
                    Turn::Later(waiting) => Some(waiting.await),
                    Turn::Free => None,
                };
                match job.kind.as_str() {
                    INBOUND_JOB => self.inbound_job(&job).await,
                    _ => self.deliver_job(&job).await,
                }
            } => outcome,
            () = self.keep_lease(&job) => unreachable!("keep_lease never returns"),
        };
        match outcome {
            Outcome::Done => self.queue.complete(job.id).await?,
            Outcome::Retry { after, reason } => {
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, "channel job failed: {reason}");
                self.queue.fail(job.id, &reason, after).await?;
            }
        }
        Ok(true)
    }

    /// Works the queue until `shutdown` resolves; between jobs it waits for an accepted
    /// event or `idle`, and sweeps lost deliveries every `sweep_every`.
    ///
    /// A job in progress is never raced against anything: a lease taken by a dropped
    /// `reserve` would hide its job until the lease ran out. Only the waits between jobs end
    /// at `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        idle: Duration,
        sweep_every: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut swept_at: Option<tokio::time::Instant> = None;
        loop {
            if swept_at.is_none_or(|at| at.elapsed() >= sweep_every) {
                if let Err(e) = self.sweep().await {
                    tracing::warn!("channel sweep: {e}");
                }
                swept_at = Some(tokio::time::Instant::now());
            }
            let wake = self.channels.accepted().clone();
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let pause = match self.work_once().await {
                Ok(true) => continue,
                Ok(false) => idle,
                Err(e) => {
                    tracing::warn!("channel worker: {e}");
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

    /// Forwards what people write in the inbox (agents' replies during a handoff) to their
    /// channel as soon as the engine stores it, until the engine goes away. A reply missed
    /// here (the listener lagging) is picked up by [`ChannelWorker::sweep`].
    pub async fn forward_agent_replies(self: Arc<Self>) {
        use crate::engine::EngineEvent;
        let mut events = self.engine.subscribe();
        loop {
            let message = match events.recv().await {
                Ok(EngineEvent::MessageSent(message))
                    if message.direction == MessageDirection::Agent =>
                {
                    message
                }
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        "{missed} engine events missed; the sweep delivers what they carried"
                    );
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            match self.store.get_delivery(message.org_id, message.id).await {
                Ok(delivery) => {
                    if let Err(e) = self.enqueue_delivery(message.org_id, &delivery).await {
                        tracing::warn!(session = %message.session_id, "cannot enqueue an agent reply's delivery: {e}");
                    }
                }
                // Not a connected channel's session: web chat (published live), or the API.
                Err(StoreError::NotFound) => self.publish_to_web(&message).await,
                Err(e) => {
                    tracing::warn!(session = %message.session_id, "cannot read an agent reply's delivery: {e}")
                }
            }
        }
    }

    /// Enqueues delivery for sessions whose replies have waited over a minute without
    /// being attempted (their job was lost); returns how many.
    pub async fn sweep(&self) -> Result<usize, ChannelServiceError> {
        let before = self.clock.now() - SWEEP_AGE;
        let waiting = self
            .store
            .sessions_with_pending_deliveries(before, 100)
            .await?;
        let mut enqueued = 0;
        for (org, session) in waiting {
            let pending = self.store.pending_deliveries(org, session).await?;
            if let Some(newest) = pending.last() {
                enqueued += usize::from(self.enqueue_delivery(org, newest).await?);
            }
        }
        Ok(enqueued)
    }

    /// Enqueues the delivery of `newest`'s session, once per newest pending reply: a job
    /// delivers every pending reply of its session, so one keyed by the newest covers all
    /// before it, and a reply stored while a job runs gets a job of its own.
    async fn enqueue_delivery(&self, org: OrgId, newest: &Delivery) -> Result<bool, QueueError> {
        let job = NewJob {
            kind: DELIVER_JOB.to_owned(),
            payload: json!({ "org": org, "channel": newest.channel_id, "session": newest.session_id }),
            max_attempts: DELIVER_ATTEMPTS,
        };
        let key = format!("deliver:{}", newest.message_id);
        let enqueued = self.queue.enqueue_once(job, &key).await?.is_some();
        if enqueued {
            self.channels.accepted().notify_waiters();
        }
        Ok(enqueued)
    }

    async fn inbound_job(&self, job: &LeasedJob) -> Outcome {
        let parsed = (|| {
            let org: OrgId = serde_json::from_value(job.payload["org"].clone()).ok()?;
            let channel: ChannelId = serde_json::from_value(job.payload["channel"].clone()).ok()?;
            let event: InboundEvent = serde_json::from_value(job.payload["event"].clone()).ok()?;
            Some((org, channel, event))
        })();
        let Some((org, channel, event)) = parsed else {
            tracing::warn!(job = %job.id, "malformed inbound job dropped");
            return Outcome::Done;
        };
        match self.process(org, channel, event).await {
            Ok(()) => Outcome::Done,
            // The channel or bot is gone: nothing left to do.
            Err(InboundFailure::Gone) => Outcome::Done,
            Err(InboundFailure::Retry(reason)) => Outcome::Retry {
                after: backoff(job.attempt),
                reason,
            },
        }
    }

    async fn process(
        &self,
        org: OrgId,
        channel: ChannelId,
        event: InboundEvent,
    ) -> Result<(), InboundFailure> {
        let prepared = match self.channels.prepared(channel).await {
            Ok(p) if p.opened.channel.org_id == org => p,
            Ok(_) | Err(ChannelServiceError::Store(StoreError::NotFound)) => {
                return Err(InboundFailure::Gone);
            }
            Err(e) => return Err(InboundFailure::retry(&e)),
        };
        let record = &prepared.opened.channel;
        let touched = ChannelPatch {
            inbound_at: Some(self.clock.now()),
            ..ChannelPatch::default()
        };
        if let Err(e) = self.store.update_channel(org, channel, touched).await {
            tracing::warn!(channel = %channel, "cannot record the last inbound time: {e}");
        }
        let text = match event.kind {
            InboundKind::DeliveryStatus {
                message_id,
                status,
                error,
            } => {
                let key = part_key(&event.reply_to.conversation, &message_id);
                return self.record_status(channel, &key, status, error).await;
            }
            InboundKind::Text { text } => {
                self.resolve_number(&prepared, &event.external_user, text)
                    .await
            }
            InboundKind::ButtonPress {
                payload,
                title,
                ack,
                message_id,
            } => {
                if let Some(ack) = ack
                    && let Err(e) = prepared.sender.acknowledge(&ack).await
                {
                    tracing::warn!(channel = %channel, "cannot acknowledge a button press: {e}");
                }
                let on_message = message_id.map(|id| part_key(&event.reply_to.conversation, &id));
                self.resolve_payload(org, channel, payload, title, on_message.as_deref())
                    .await
            }
            InboundKind::Attachment { media, caption, .. } => caption
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| format!("[{media}]")),
        };
        let inbound = Inbound {
            org,
            bot: record.bot_id,
            channel: record.session_channel(),
            external_user: event.external_user,
            text,
        };
        let turn = match self.engine.handle(inbound).await {
            Ok(turn) => turn,
            Err(EngineError::BotNotFound) => return Err(InboundFailure::Gone),
            Err(e) => return Err(InboundFailure::retry(&e)),
        };
        // The turn is stored: from here on nothing retries it (that would answer twice). A
        // delivery not enqueued now is found by the sweep.
        let newest = match self.store.pending_deliveries(org, turn.session.id).await {
            Ok(pending) => pending.into_iter().last(),
            Err(e) => {
                tracing::warn!(session = %turn.session.id, "cannot read the outbox after a turn: {e}");
                None
            }
        };
        if let Some(newest) = newest
            && let Err(e) = self.enqueue_delivery(org, &newest).await
        {
            tracing::warn!(session = %turn.session.id, "cannot enqueue a turn's delivery: {e}");
        }
        Ok(())
    }

    /// Extends `job`'s lease every third of it, for as long as it is awaited (a turn may
    /// wait a minute on a language model): no other worker takes the job meanwhile.
    async fn keep_lease(&self, job: &LeasedJob) {
        loop {
            tokio::time::sleep(LEASE / 3).await;
            if let Err(e) = self.queue.extend_lease(job, LEASE).await {
                tracing::warn!(job = %job.id, "cannot extend a channel job's lease: {e}");
            }
        }
    }

    async fn record_status(
        &self,
        channel: ChannelId,
        external_id: &str,
        status: String,
        error: Option<String>,
    ) -> Result<(), InboundFailure> {
        let delivery = match self.store.find_delivery(channel, external_id).await {
            Ok(delivery) => delivery,
            // A status for a message we did not send (or whose channel was reconnected).
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(InboundFailure::retry(&e)),
        };
        self.store
            .update_delivery(
                delivery.org_id,
                delivery.message_id,
                DeliveryUpdate::PlatformStatus { status, error },
            )
            .await
            .map(drop)
            .map_err(|e| InboundFailure::retry(&e))
    }

    /// A pressed button's payload: a kept one (`#3`) found on the message it was on; else as
    /// sent. The title stands in when the message is unknown.
    async fn resolve_payload(
        &self,
        org: OrgId,
        channel: ChannelId,
        payload: String,
        title: Option<String>,
        on_message: Option<&str>,
    ) -> String {
        let Some(index) = kept_button_index(&payload) else {
            return payload;
        };
        let message = match on_message {
            Some(external) => self.store.find_delivery(channel, external).await.ok(),
            None => None,
        };
        let offered = match message {
            Some(delivery) => self.store.get_message(org, delivery.message_id).await.ok(),
            None => None,
        };
        offered
            .and_then(|m| {
                OutboundMessage::from_stored(&m.text, &m.payload)
                    .choices()
                    .get(index)
                    .cloned()
            })
            .map_or_else(|| title.unwrap_or(payload), |b| b.payload)
    }

    /// A bare number answering choices the channel showed as numbered lines becomes that
    /// choice's payload.
    async fn resolve_number(
        &self,
        prepared: &PreparedChannel,
        external_user: &str,
        text: String,
    ) -> String {
        if text.trim().parse::<usize>().is_err() {
            return text;
        }
        let record = &prepared.opened.channel;
        let Ok(Some(session)) = self
            .store
            .find_open_session(
                record.org_id,
                record.bot_id,
                &record.session_channel(),
                external_user,
            )
            .await
        else {
            return text;
        };
        let Ok(recent) = self
            .store
            .recent_messages(record.org_id, session.id, RECENT)
            .await
        else {
            return text;
        };
        let Some(last) = recent
            .iter()
            .rev()
            .find(|m| m.direction != MessageDirection::Inbound)
        else {
            return text;
        };
        let offered = OutboundMessage::from_stored(&last.text, &last.payload);
        let numbered = format(&offered, &prepared.sender.capabilities())
            .iter()
            .all(|p| {
                !matches!(
                    p,
                    Part::Text {
                        choices: Some(_),
                        ..
                    }
                )
            });
        let choices = offered.choices();
        match numbered_choice(&text, &choices) {
            Some(choice) if numbered => choice.payload.clone(),
            _ => text,
        }
    }
}

impl OutboundMessage {
    /// Every choice offered, buttons then quick replies (the order [`format()`] numbers
    /// them in).
    pub fn choices(&self) -> Vec<super::Button> {
        self.buttons
            .iter()
            .chain(&self.quick_replies)
            .cloned()
            .collect()
    }
}

/// Why processing an inbound event stopped.
enum InboundFailure {
    /// The channel or bot no longer exists.
    Gone,
    /// Try again later.
    Retry(String),
}

impl InboundFailure {
    fn retry(e: &dyn std::error::Error) -> Self {
        Self::Retry(crate::error_chain(e))
    }
}
