//! Connected channels as a use case: connect (check the credentials, seal the secrets,
//! register the webhook), show, test, disconnect, and receive webhooks (verify, parse,
//! enqueue each event once). The worker ([`super::ChannelWorker`]) takes it from there.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;

use super::config::{ChannelConfig, OpenedChannel, check_config, credential_field};
use super::{
    ChannelError, ChannelKind, ChannelSender, InboundAdapter, ParseError, Platforms, VerifyError,
};
use crate::clock::Clock;
use crate::domain::{Channel, ChannelPatch, ChannelStatus, NewChannel};
use crate::id::{BotId, ChannelId, OrgId};
use crate::queue::{JobQueue, QueueError};
use crate::secrets::{CipherError, SecretCipher, channel_binding};
use crate::store::{Store, StoreError};
use crate::validate::{FieldIssue, Invalid};

/// The job kind of an accepted inbound event (payload `{org, channel, event}`).
pub const INBOUND_JOB: &str = "channel_inbound";
/// Attempts at processing one inbound event.
pub const INBOUND_ATTEMPTS: u32 = 5;
/// How long an opened channel is reused at most before its row is read again (a change reaches
/// the cache through the change bus long before; this bounds what a missed one could cost).
pub const OPENED_TTL: Duration = Duration::from_secs(30);
mod receive;
mod rotation;

pub use rotation::reseal_channels;

/// Longest channel name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelServiceError {
    /// The input breaks a rule, or the platform refused the credentials it names.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// This server has no such platform.
    #[error("this server cannot connect {0} channels")]
    Unsupported(&'static str),
    /// The platform did not answer usably (network, 5xx, rate limit): try again later.
    #[error("the platform did not answer: {0}")]
    Upstream(#[source] ChannelError),
    /// The store failed (`NotFound`: no such channel or bot).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening the secrets failed.
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The platform account is connected to another channel already (Telegram moves a bot's
    /// one webhook to whichever channel connected last).
    #[error("this {0} account is already connected to another channel; disconnect it there first")]
    AlreadyConnected(&'static str),
}

/// The setting recording a channel's exclusive account ([`super::ChannelPlatform::exclusive_account`]).
pub const ACCOUNT_ID_SETTING: &str = "account_id";

/// Why a webhook request was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// No such channel (or not of the platform the URL names).
    #[error("no such channel")]
    UnknownChannel,
    /// Not the platform's (signature or token): nothing of it was processed.
    #[error(transparent)]
    Unverified(#[from] VerifyError),
    /// Verified, but not what the platform documents.
    #[error(transparent)]
    Malformed(#[from] ParseError),
    /// Could not be recorded; the platform should retry.
    #[error("could not accept the event: {0}")]
    Unavailable(String),
}

/// What became of a webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reception {
    /// A handshake: answer 200 with this text.
    Challenge(String),
    /// Events recorded for processing (`new`), and redeliveries of events already recorded
    /// (`duplicates`, processed once).
    Accepted {
        /// Events seen for the first time.
        new: usize,
        /// Events seen before.
        duplicates: usize,
    },
}

/// A channel's two halves, built from its opened settings.
#[derive(Clone)]
pub struct PreparedChannel {
    /// The channel, secrets opened.
    pub opened: OpenedChannel,
    /// Its inbound half.
    pub inbound: Arc<dyn InboundAdapter>,
    /// Its outbound half.
    pub sender: Arc<dyn ChannelSender>,
}

impl std::fmt::Debug for PreparedChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.opened.fmt(f)
    }
}

/// A channel to connect, as the API takes it. Its `Debug` leaves the settings out (they
/// hold the platform's secrets).
#[derive(Clone)]
pub struct ChannelRequest {
    /// The platform.
    pub kind: ChannelKind,
    /// A name for people; the platform's account name when absent.
    pub name: Option<String>,
    /// The platform's settings ([`super::settings_of`]).
    pub config: Value,
}

impl std::fmt::Debug for ChannelRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelRequest")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

type OpenedCache = Mutex<HashMap<ChannelId, (Instant, PreparedChannel)>>;

/// Connected channels (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct ChannelService {
    store: Arc<dyn Store>,
    cipher: Arc<dyn SecretCipher>,
    queue: Arc<dyn JobQueue>,
    platforms: Platforms,
    clock: Arc<dyn Clock>,
    public_url: Option<String>,
    opened: Arc<OpenedCache>,
    /// Bumped whenever an opened channel is forgotten (see [`crate::change::Generation`]).
    generation: Arc<crate::change::Generation>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for ChannelService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelService")
            .field("platforms", &self.platforms)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

fn upstream_or_invalid(kind: ChannelKind, error: ChannelError) -> ChannelServiceError {
    let field = |name: &str, message: String| {
        ChannelServiceError::Invalid(Invalid(vec![FieldIssue {
            field: format!("config.{name}"),
            message,
        }]))
    };
    match error {
        ChannelError::Unauthorized(why) => field(
            credential_field(kind),
            format!("{} refused the credentials: {why}", kind.as_str()),
        ),
        ChannelError::Permanent(why) => field(
            super::API_BASE_URL,
            format!("{} could not be used: {why}", kind.as_str()),
        ),
        other => ChannelServiceError::Upstream(other),
    }
}

impl ChannelService {
    /// Channels kept in `store` with secrets sealed by `cipher`, events queued on `queue`,
    /// webhooks registered under `public_url` (the server's address as platforms reach it;
    /// without one, Telegram channels long-poll).
    pub fn new(
        store: Arc<dyn Store>,
        cipher: Arc<dyn SecretCipher>,
        queue: Arc<dyn JobQueue>,
        platforms: Platforms,
        clock: Arc<dyn Clock>,
        public_url: Option<String>,
    ) -> Self {
        Self {
            store,
            cipher,
            queue,
            platforms,
            clock,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            opened: Arc::default(),
            generation: Arc::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Resolves when an event was accepted (the worker waits on it between polls).
    pub fn accepted(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// Where the platform sends `channel`'s events: `{public_url}/hooks/{kind}/{id}`; `None`
    /// without a public URL.
    pub fn webhook_url(&self, channel: &Channel) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|base| format!("{base}/hooks/{}/{}", channel.kind.as_str(), channel.id))
    }

    /// Connects a channel to `bot`: checks the settings and the credentials with the
    /// platform (a refusal is a 400-style problem naming the field), seals the secrets, and
    /// registers the webhook (or sets Telegram to long polling without a public URL).
    pub async fn connect(
        &self,
        org: OrgId,
        bot: BotId,
        request: ChannelRequest,
    ) -> Result<Channel, ChannelServiceError> {
        let kind = request.kind;
        let ChannelConfig {
            settings,
            mut secrets,
        } = check_config(kind, &request.config)?;
        let name = request.name.map(|n| n.trim().to_owned());
        if let Some(name) = &name {
            Invalid::field("name", crate::validate::text(name, 1, MAX_NAME_CHARS))?;
        }
        let platform = self
            .platforms
            .get(kind)
            .cloned()
            .ok_or(ChannelServiceError::Unsupported(kind.as_str()))?;
        self.store.get_bot(org, bot).await?;
        for (name, value) in platform.generated_secrets() {
            secrets.insert(name.to_owned(), value);
        }
        let id = ChannelId::new();
        let sealed = self.seal(org, id, kind, &secrets)?;
        let now = self.clock.now();
        let draft = Channel {
            id,
            org_id: org,
            bot_id: bot,
            kind,
            name: name.clone().unwrap_or_default(),
            settings: Value::Object(settings),
            secrets: sealed,
            status: ChannelStatus::Connected,
            last_error: None,
            last_inbound_at: None,
            last_outbound_at: None,
            created_at: now,
        };
        let mut opened = OpenedChannel {
            channel: draft.clone(),
            secrets,
        };
        if let Some(account) = platform.exclusive_account(&opened) {
            let taken = self.store.all_channels().await?.iter().any(|c| {
                c.kind == kind && c.settings[ACCOUNT_ID_SETTING].as_str() == Some(account.as_str())
            });
            if taken {
                return Err(ChannelServiceError::AlreadyConnected(kind.as_str()));
            }
            opened.channel.settings[ACCOUNT_ID_SETTING] = Value::String(account);
        }
        let draft = opened.channel.clone();
        let account = platform
            .check(&opened)
            .await
            .map_err(|e| upstream_or_invalid(kind, e))?;
        let name = name.unwrap_or_else(|| {
            let account = account.trim();
            if account.is_empty() {
                kind.as_str().to_owned()
            } else {
                account.chars().take(MAX_NAME_CHARS).collect()
            }
        });
        let created = self
            .store
            .create_channel(
                org,
                bot,
                NewChannel {
                    id,
                    kind,
                    name,
                    settings: draft.settings,
                    secrets: draft.secrets,
                    status: ChannelStatus::Connected,
                },
            )
            .await?;
        let opened = OpenedChannel {
            channel: created.clone(),
            secrets: opened.secrets,
        };
        let webhook = self.webhook_url(&created);
        match platform.register(&opened, webhook.as_deref()).await {
            Ok(false) => Ok(created),
            Ok(true) => Ok(self
                .store
                .update_channel(
                    org,
                    id,
                    ChannelPatch {
                        status: Some(ChannelStatus::Polling),
                        ..ChannelPatch::default()
                    },
                )
                .await?),
            Err(e) => {
                // Nothing half-connected stays behind.
                self.store.delete_channel(org, id).await?;
                Err(upstream_or_invalid(kind, e))
            }
        }
    }

    /// The channels of `bot`.
    pub async fn list(&self, org: OrgId, bot: BotId) -> Result<Vec<Channel>, ChannelServiceError> {
        self.store.get_bot(org, bot).await?;
        Ok(self.store.list_channels(org, bot).await?)
    }

    /// One channel of `bot`.
    pub async fn get(
        &self,
        org: OrgId,
        bot: BotId,
        channel: ChannelId,
    ) -> Result<Channel, ChannelServiceError> {
        let found = self.store.get_channel(org, channel).await?;
        if found.bot_id != bot {
            return Err(StoreError::NotFound.into());
        }
        Ok(found)
    }

    /// Checks the channel's credentials with the platform now and records the outcome on it
    /// (status and last error); returns the channel and the platform's account name, or why
    /// it failed.
    pub async fn test(
        &self,
        org: OrgId,
        bot: BotId,
        channel: ChannelId,
    ) -> Result<(Channel, Result<String, String>), ChannelServiceError> {
        let found = self.get(org, bot, channel).await?;
        let platform = self
            .platforms
            .get(found.kind)
            .cloned()
            .ok_or(ChannelServiceError::Unsupported(found.kind.as_str()))?;
        let opened = self.open(found.clone())?;
        let outcome = platform.check(&opened).await;
        let patch = match &outcome {
            Ok(_) => ChannelPatch {
                status: Some(if found.status == ChannelStatus::Error {
                    ChannelStatus::Connected
                } else {
                    found.status
                }),
                last_error: Some(None),
                ..ChannelPatch::default()
            },
            Err(e) => ChannelPatch {
                status: matches!(e, ChannelError::Unauthorized(_)).then_some(ChannelStatus::Error),
                last_error: Some(Some(crate::error_chain(e))),
                ..ChannelPatch::default()
            },
        };
        let updated = self.store.update_channel(org, channel, patch).await?;
        self.forget(channel);
        Ok((updated, outcome.map_err(|e| crate::error_chain(&e))))
    }

    /// Disconnects a channel: the platform stops sending (best effort: a platform that does
    /// not answer does not keep the channel), and the channel and its outbox are deleted.
    pub async fn disconnect(
        &self,
        org: OrgId,
        bot: BotId,
        channel: ChannelId,
    ) -> Result<(), ChannelServiceError> {
        let found = self.get(org, bot, channel).await?;
        if let Some(platform) = self.platforms.get(found.kind).cloned()
            && let Ok(opened) = self.open(found.clone())
            && let Err(e) = platform.unregister(&opened).await
        {
            tracing::warn!(channel = %channel, "could not unregister the webhook: {e}");
        }
        self.store.delete_channel(org, channel).await?;
        self.forget(channel);
        Ok(())
    }

    /// Deliveries to `channel` that failed every attempt (dead letters), oldest first, at
    /// most 100: the job id, the session, attempts and the last error.
    pub async fn dead_deliveries(
        &self,
        org: OrgId,
        bot: BotId,
        channel: ChannelId,
    ) -> Result<Vec<crate::queue::DeadJob>, ChannelServiceError> {
        self.get(org, bot, channel).await?;
        Ok(self
            .queue
            .dead_letters_where(super::DELIVER_JOB, "channel", &channel.to_string(), 100)
            .await?)
    }

    /// Records a problem with `channel` where people see it.
    pub async fn record_error(&self, channel: &Channel, error: &ChannelError) {
        // A polling channel keeps polling (and so keeps its status): it retries on its own.
        let refused = matches!(error, ChannelError::Unauthorized(_));
        let patch = ChannelPatch {
            status: (refused && channel.status != ChannelStatus::Polling)
                .then_some(ChannelStatus::Error),
            last_error: Some(Some(crate::error_chain(error))),
            ..ChannelPatch::default()
        };
        if let Err(e) = self
            .store
            .update_channel(channel.org_id, channel.id, patch)
            .await
        {
            tracing::warn!(channel = %channel.id, "cannot record a channel error: {e}");
        }
        self.forget(channel.id);
    }

    fn seal(
        &self,
        org: OrgId,
        id: ChannelId,
        kind: ChannelKind,
        secrets: &BTreeMap<String, String>,
    ) -> Result<crate::domain::SealedSecret, CipherError> {
        let plain = serde_json::to_vec(secrets).map_err(|_| CipherError::Failed)?;
        self.cipher.seal(&plain, &channel_binding(org, id, kind))
    }

    /// Opens `channel`'s secret settings.
    pub fn open(&self, channel: Channel) -> Result<OpenedChannel, CipherError> {
        let binding = channel_binding(channel.org_id, channel.id, channel.kind);
        let plain = self.cipher.open(&channel.secrets, &binding)?;
        let secrets = serde_json::from_slice(&plain).map_err(|_| CipherError::Tampered)?;
        Ok(OpenedChannel { channel, secrets })
    }

    /// `channel` opened with its two halves built, reused for [`OPENED_TTL`].
    pub async fn prepared(
        &self,
        channel: ChannelId,
    ) -> Result<PreparedChannel, ChannelServiceError> {
        if let Some((at, prepared)) = self.opened.lock().expect("cache poisoned").get(&channel)
            && at.elapsed() < OPENED_TTL
        {
            return Ok(prepared.clone());
        }
        let generation = self.generation.current();
        let found = self.store.locate_channel(channel).await?;
        let platform = self
            .platforms
            .get(found.kind)
            .cloned()
            .ok_or(ChannelServiceError::Unsupported(found.kind.as_str()))?;
        let opened = self.open(found)?;
        let prepared = PreparedChannel {
            inbound: platform.inbound(&opened),
            sender: platform.sender(&opened),
            opened,
        };
        let mut opened = self.opened.lock().expect("cache poisoned");
        if self.generation.unchanged_since(generation) {
            opened.insert(channel, (Instant::now(), prepared.clone()));
        }
        Ok(prepared)
    }

    /// Forgets the opened form of `channel` (after a change).
    pub fn forget(&self, channel: ChannelId) {
        self.generation.bump();
        self.opened.lock().expect("cache poisoned").remove(&channel);
    }
}

/// Forgets the opened form of a changed channel, and of every channel of a changed bot or
/// organization (their deletion takes the channels along).
impl crate::change::ChangeListener for ChannelService {
    fn on_change(&self, change: &crate::change::Change) {
        use crate::change::Change;
        if !matches!(
            change,
            Change::Channel { .. } | Change::Bot { .. } | Change::Organization { .. }
        ) {
            return;
        }
        self.generation.bump();
        let mut opened = self.opened.lock().expect("cache poisoned");
        match *change {
            Change::Channel { channel, .. } => {
                opened.remove(&channel);
            }
            Change::Bot { bot, .. } => opened.retain(|_, (_, p)| p.opened.channel.bot_id != bot),
            Change::Organization { org } => {
                opened.retain(|_, (_, p)| p.opened.channel.org_id != org);
            }
            _ => {}
        }
    }
}
