//! [`StoredCredentials`]: organizations' own provider credentials, opened from the store for
//! the provider registry, and remembered for a few seconds so a turn costs no extra query.
//! It listens to the change bus ([`botbuilder_core::change`]): a change to an organization's
//! credentials applies at once on the instance that made it and within the bus's poll
//! interval on the others; [`CREDENTIALS_CACHE_TTL`] bounds what a missed change could cost.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use botbuilder_core::credentials::{CredentialError, CredentialService};
use botbuilder_core::domain::SealedSecret;
use botbuilder_core::id::OrgId;
use botbuilder_core::llm::Unavailable;
use botbuilder_core::secrets::{CipherError, SecretCipher};
use botbuilder_providers::registry::{CredentialSource, Credentials};
use botbuilder_providers::remote::ApiKey;

/// How long opened credentials are reused.
pub const CREDENTIALS_CACHE_TTL: Duration = Duration::from_secs(5);

type Opened = Result<Option<Credentials>, Unavailable>;

/// See the module docs.
pub struct StoredCredentials {
    service: CredentialService,
    cache: Mutex<HashMap<(OrgId, String), (Instant, Opened)>>,
    /// Bumped by every [`StoredCredentials::forget`]: a lookup that started before it does
    /// not cache what it read.
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials").finish_non_exhaustive()
    }
}

impl StoredCredentials {
    /// Credentials from `service`.
    pub fn new(service: CredentialService) -> Self {
        Self {
            service,
            cache: Mutex::default(),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Forgets what was opened for `org` (after its credentials changed).
    pub fn forget(&self, org: OrgId) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.cache
            .lock()
            .expect("credential cache poisoned")
            .retain(|(o, _), _| *o != org);
    }

    async fn open(&self, org: OrgId, provider: &str) -> Opened {
        let opened = match self.service.open(org, provider).await {
            Ok(opened) => opened,
            Err(CredentialError::Cipher(e)) => {
                tracing::warn!(%org, provider, "stored provider credentials do not open: {e}");
                return Err(Unavailable::CredentialsUnreadable);
            }
            Err(e) => {
                tracing::warn!(%org, provider, "cannot read provider credentials: {e}");
                return Err(Unavailable::CredentialsUnreadable);
            }
        };
        let Some(opened) = opened else {
            return Ok(None);
        };
        let base_url = match opened.base_url.as_deref().map(url::Url::parse).transpose() {
            Ok(url) => url,
            Err(e) => {
                tracing::warn!(%org, provider, "stored base URL does not parse: {e}");
                return Err(Unavailable::CredentialsUnreadable);
            }
        };
        Ok(Some(Credentials {
            api_key: opened.api_key.map(ApiKey::new),
            base_url,
        }))
    }
}

#[async_trait]
impl CredentialSource for StoredCredentials {
    async fn credentials(&self, org: OrgId, provider: &str) -> Opened {
        let key = (org, provider.to_owned());
        if let Some((at, opened)) = self
            .cache
            .lock()
            .expect("credential cache poisoned")
            .get(&key)
            && at.elapsed() < CREDENTIALS_CACHE_TTL
        {
            return opened.clone();
        }
        let started = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let opened = self.open(org, provider).await;
        let mut cache = self.cache.lock().expect("credential cache poisoned");
        cache.retain(|_, (at, _)| at.elapsed() < CREDENTIALS_CACHE_TTL);
        if self.generation.load(std::sync::atomic::Ordering::SeqCst) == started {
            cache.insert(key, (Instant::now(), opened.clone()));
        }
        opened
    }
}

/// Organizations' own credentials for the command line (`kb ingest`, `chat`): the store at
/// `database_url` is opened on first use, and the credentials are opened with the master key
/// the command resolved. Without one, an organization that stored credentials gets
/// [`Unavailable::CredentialsUnreadable`], never the server-wide ones in their place (its
/// knowledge would be embedded by another server than the one it chose).
pub struct DeferredCredentials {
    database_url: String,
    cipher: std::sync::Arc<dyn SecretCipher>,
    opened: tokio::sync::OnceCell<StoredCredentials>,
}

impl std::fmt::Debug for DeferredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredCredentials")
            .field("key_id", &self.cipher.key_id())
            .finish_non_exhaustive()
    }
}

impl DeferredCredentials {
    /// Credentials in the store at `database_url`, opened with `cipher` (`None`: none open).
    pub fn new(database_url: &str, cipher: Option<std::sync::Arc<dyn SecretCipher>>) -> Self {
        Self {
            database_url: database_url.to_owned(),
            cipher: cipher.unwrap_or_else(|| std::sync::Arc::new(NoMasterKey)),
            opened: tokio::sync::OnceCell::new(),
        }
    }
}

#[async_trait]
impl CredentialSource for DeferredCredentials {
    async fn credentials(&self, org: OrgId, provider: &str) -> Opened {
        let stored = self
            .opened
            .get_or_try_init(|| async {
                let store = crate::state::open_store(&self.database_url).await?;
                anyhow::Ok(StoredCredentials::new(CredentialService::new(
                    store,
                    self.cipher.clone(),
                )))
            })
            .await
            .map_err(|e| {
                tracing::warn!("cannot open the store for credentials: {e:#}");
                Unavailable::CredentialsUnreadable
            })?;
        stored.credentials(org, provider).await
    }
}

/// A cipher without keys: every sealed secret stays shut.
struct NoMasterKey;

impl SecretCipher for NoMasterKey {
    fn key_id(&self) -> &str {
        "none"
    }

    fn seal(&self, _: &[u8], _: &[u8]) -> Result<SealedSecret, CipherError> {
        Err(CipherError::Failed)
    }

    fn open(&self, sealed: &SealedSecret, _: &[u8]) -> Result<Vec<u8>, CipherError> {
        Err(CipherError::UnknownKey(sealed.key_id.clone()))
    }
}

/// Forgets an organization's opened credentials when they or the organization change.
impl botbuilder_core::change::ChangeListener for StoredCredentials {
    fn on_change(&self, change: &botbuilder_core::change::Change) {
        use botbuilder_core::change::Change;
        if let Change::Credentials { org } | Change::Organization { org } = *change {
            self.forget(org);
        }
    }
}
