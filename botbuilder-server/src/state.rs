//! Shared application state: the ports the handlers use, held as `Arc<dyn Trait>`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use botbuilder_core::auth::{PasswordHasher, TokenIssuer};
use botbuilder_core::change::ChangeBus;
use botbuilder_core::clock::{Clock, SystemClock};
use botbuilder_core::embed::{Embedder, EmbedderResolver};
use botbuilder_core::fetch::Fetcher;
use botbuilder_core::knowledge::service::DEFAULT_HYBRID_VECTOR_WEIGHT;
use botbuilder_core::knowledge::{
    DocumentExtractor, InProcessExtractor, KnowledgeService, SEMANTIC_HYBRID_VECTOR_WEIGHT,
};
use botbuilder_core::queue::JobQueue;
use botbuilder_core::rate_limit::RateLimiter;
use botbuilder_core::store::Store;
use botbuilder_store::SqliteStore;
use botbuilder_store::memory_queue::MemoryJobQueue;
#[cfg(feature = "postgres")]
use botbuilder_store::postgres::{PgSettings, PgStore};

use crate::access_cache::AccessCache;
use crate::auth::{Argon2Hasher, HashCost, JwtIssuer};
use crate::config::database::DatabaseOptions;
use crate::config::{Environment, LlmSettings, Settings};
use crate::credential_source::StoredCredentials;
use crate::isolation::{ExtractLimits, SubprocessExtractor};
pub use crate::shared::SharedInfra;
use botbuilder_core::channel::{ChannelService, ChannelWorker};
use botbuilder_core::credentials::CredentialService;
use botbuilder_core::engine::{Engine, EngineBuilder};
use botbuilder_core::nlu::ModelCache;
use botbuilder_core::secrets::SecretCipher;
use botbuilder_core::webhook::{WebhookService, WebhookWorker, WebhookWorkerConfig};
use botbuilder_providers::http::{FetchPolicy, GuardedFetcher};
use botbuilder_providers::local::LocalEmbedder;
use botbuilder_providers::registry::ProviderRegistry;
use botbuilder_providers::remote::HttpOptions;

/// HTTP-level settings the middleware and handlers read.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest accepted body in bytes.
    pub body_limit: usize,
    /// CORS allowlist.
    pub cors_origins: Vec<String>,
    /// Anonymous requests per minute per IP.
    pub rate_limit_per_minute: u32,
    /// Requests per minute per user or API key.
    pub rate_limit_per_credential_per_minute: u32,
    /// Requests per minute per organization.
    pub rate_limit_per_org_per_minute: u32,
    /// Web chat sessions per minute per IP.
    pub webchat_sessions_per_ip_per_minute: u32,
    /// Auth attempts per minute per IP.
    pub auth_rate_limit_per_ip: u32,
    /// Failed logins per 15 minutes per account and client address.
    pub auth_rate_limit_per_email: u32,
    /// Failed logins per 15 minutes per client address, on any account.
    pub auth_failures_per_ip: u32,
    /// Proxies in front of the server whose `X-Forwarded-For` entries are trusted (0: none).
    pub trusted_proxies: usize,
    /// Mark the refresh cookie `Secure` (true in production).
    pub secure_cookies: bool,
    /// How long in-flight requests get after a shutdown signal.
    pub shutdown_grace: std::time::Duration,
    /// Connection caps and timeouts of the accept loop.
    pub edge: crate::edge::EdgeLimits,
    /// Longest a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Bearer token `/metrics` requires, if any.
    pub metrics_token: Option<crate::config::Secret>,
    /// Whether `/metrics` is served with the API (not when it has an address of its own).
    pub metrics_on_api: bool,
}

impl HttpSettings {
    /// The HTTP part of the server settings.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            body_limit: settings.body_limit,
            cors_origins: settings.cors_origins.clone(),
            rate_limit_per_minute: settings.rate_limit_per_minute,
            rate_limit_per_credential_per_minute: settings.rate_limit_per_credential_per_minute,
            rate_limit_per_org_per_minute: settings.rate_limit_per_org_per_minute,
            webchat_sessions_per_ip_per_minute: settings.webchat_sessions_per_ip_per_minute,
            auth_rate_limit_per_ip: settings.auth_rate_limit_per_ip,
            auth_rate_limit_per_email: settings.auth_rate_limit_per_email,
            auth_failures_per_ip: settings.auth_failures_per_ip,
            trusted_proxies: settings.trusted_proxies(),
            secure_cookies: settings.env == Environment::Production,
            shutdown_grace: settings.shutdown_grace,
            edge: settings.edge,
            body_timeout: settings.body_timeout,
            metrics_token: settings.metrics_token.clone(),
            metrics_on_api: settings.metrics_bind.is_none(),
        }
    }
}

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access tokens.
    pub tokens: Arc<dyn TokenIssuer>,
    /// Rate limiting.
    pub limiter: Arc<dyn RateLimiter>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// HTTP settings.
    pub http: Arc<HttpSettings>,
    /// Recently checked memberships and API keys.
    pub access: Arc<AccessCache>,
    /// Delivers configuration changes (from this instance, others, or the CLI) to every
    /// cache above and below.
    pub changes: Arc<ChangeBus>,
    /// How often the change bus polls the store's feed (tests lengthen it to show that Redis
    /// announcements alone carry changes).
    pub change_poll_interval: std::time::Duration,
    /// What several instances share (Redis), or its in-process stand-ins.
    pub shared: SharedInfra,
    /// Trained NLU models per bot.
    pub nlu: Arc<ModelCache>,
    /// The conversation engine.
    pub engine: Arc<Engine>,
    /// Key signing web chat session tokens (derived from the JWT secret, distinct from it).
    pub webchat_secret: Arc<String>,
    /// Background jobs (durable on SQLite).
    pub queue: Arc<dyn JobQueue>,
    /// Knowledge bases: ingestion and search.
    pub knowledge: Arc<KnowledgeService>,
    /// The SSRF-guarded outbound HTTP client (documents by URL).
    pub fetcher: Arc<dyn Fetcher>,
    /// The language model providers (server-wide and per-organization credentials).
    pub providers: Arc<ProviderRegistry>,
    /// Organizations' provider credentials (sealed with the master key).
    pub credentials: CredentialService,
    /// The opened credentials the providers use, to forget after a change.
    pub stored_credentials: Arc<StoredCredentials>,
    /// Connected messaging channels: management and webhooks.
    pub channels: ChannelService,
    /// Processes channel events through the engine and delivers the outbox.
    pub channel_worker: Arc<ChannelWorker>,
    /// The web chat channel: publishes agents' replies to visitors' event streams.
    pub web: botbuilder_channels::web::WebChannel,
    /// Notified when the server stops taking requests, so endless responses (event streams)
    /// end and the shutdown need not wait out its grace period.
    pub stopping: Arc<tokio::sync::Notify>,
    /// Customers' webhook endpoints.
    pub webhooks: WebhookService,
    /// Renders, fans out and delivers customer webhooks.
    pub webhook_worker: Arc<WebhookWorker>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store.backend())
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// Opens the store named by a database URL (running migrations), with default pool options.
pub async fn open_store(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_backend(database_url).await?.0)
}

/// Opens the store and the durable job queue named by a database URL, with default pool
/// options.
pub async fn open_backend(
    database_url: &str,
) -> anyhow::Result<(Arc<dyn Store>, Arc<dyn JobQueue>)> {
    open_backend_with(database_url, &DatabaseOptions::default()).await
}

/// Opens the store and the durable job queue named by a database URL (`sqlite://PATH`,
/// `postgres://USER@HOST:PORT/DB`), running pending migrations.
pub async fn open_backend_with(
    database_url: &str,
    options: &DatabaseOptions,
) -> anyhow::Result<(Arc<dyn Store>, Arc<dyn JobQueue>)> {
    if database_url.starts_with("sqlite:") {
        anyhow::ensure!(
            options.replica_url.is_none(),
            "BOTBUILDER_DATABASE_REPLICA_URL needs a Postgres database"
        );
        let store = Arc::new(
            SqliteStore::connect(database_url)
                .await
                .with_context(|| format!("cannot open {database_url}"))?,
        );
        return Ok((store.clone(), store));
    }
    #[cfg(feature = "postgres")]
    if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        let settings = PgSettings {
            max_connections: options
                .max_connections
                .unwrap_or(botbuilder_store::postgres::DEFAULT_MAX_CONNECTIONS),
            statement_timeout: options.statement_timeout,
            replica_url: options.replica_url.clone(),
        };
        let store = Arc::new(
            PgStore::connect(database_url, settings)
                .await
                .with_context(|| format!("cannot open {}", redact_password(database_url)))?,
        );
        return Ok((store.clone(), store));
    }
    bail!(
        "unsupported database URL `{}`: expected sqlite://PATH or postgres://USER@HOST:PORT/DB",
        redact_password(database_url)
    )
}

/// `url` without its password, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

/// The SSRF-guarded outbound client: public targets only, plus the `allow` exceptions;
/// through `proxy` when one is given (proxy environment variables are ignored). Flow HTTP
/// nodes, documents by URL and language model APIs all go through it.
pub fn fetcher(allow: &[SocketAddr], proxy: Option<&str>) -> anyhow::Result<GuardedFetcher> {
    Ok(GuardedFetcher::new(FetchPolicy {
        allow_private: false,
        allow: allow.to_vec(),
        proxy: proxy.map(str::to_owned),
    })?)
}

/// The client for addresses the operator configured (server-wide provider and embedding
/// URLs): private addresses allowed, since no tenant chooses them; through `proxy` if any.
pub fn operator_fetcher(proxy: Option<&str>) -> anyhow::Result<GuardedFetcher> {
    Ok(GuardedFetcher::new(FetchPolicy {
        allow_private: true,
        allow: Vec::new(),
        proxy: proxy.map(str::to_owned),
    })?)
}

/// The language model providers: `local`, and those `llm` has server-wide credentials for
/// (through [`operator_fetcher`]); organizations' own credentials call out through `tenant`.
pub fn provider_registry(
    llm: &LlmSettings,
    tenant: GuardedFetcher,
    proxy: Option<&str>,
) -> anyhow::Result<ProviderRegistry> {
    llm.registry(tenant, &operator_fetcher(proxy)?, HttpOptions::default())
}

/// The engine every entry point uses: `providers` answer, `fetcher` serves flow HTTP nodes.
pub fn engine_builder(
    store: Arc<dyn Store>,
    fetcher: GuardedFetcher,
    providers: Arc<ProviderRegistry>,
) -> EngineBuilder {
    Engine::builder()
        .store(store)
        .resolver(providers)
        .fetcher(Arc::new(fetcher))
}

/// The embedder knowledge bases are indexed with: the sentence model in `model_dir` (builds
/// with the `minilm` feature), else the remote one `llm` names (through `fetcher`), else the
/// offline hashed embedder.
pub fn embedder(
    model_dir: Option<&Path>,
    llm: &LlmSettings,
    fetcher: GuardedFetcher,
) -> anyhow::Result<Arc<dyn Embedder>> {
    match model_dir {
        None => Ok(match llm.remote_embedder(fetcher)? {
            Some(remote) => Arc::new(remote),
            None => Arc::new(LocalEmbedder::default()),
        }),
        #[cfg(feature = "minilm")]
        Some(dir) => {
            // The directory names the model (for a `model` folder, as in the PyPI package, the
            // one above it), recorded on the knowledge bases it indexes.
            let named = if dir.ends_with("model") {
                dir.parent().unwrap_or(dir)
            } else {
                dir
            };
            let name = named.file_name().map_or_else(
                || "sentence-model".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            Ok(Arc::new(
                botbuilder_providers::minilm::SentenceEmbedder::load(dir, name)?,
            ))
        }
        #[cfg(not(feature = "minilm"))]
        Some(dir) => bail!(
            "embedding_model_dir is {} but this build has no sentence embedder; build with `--features minilm`",
            dir.display()
        ),
    }
}

/// The embedders knowledge is indexed with.
#[derive(Clone)]
pub struct Embedders {
    /// The deployment's default (see [`embedder`]).
    pub default: Arc<dyn Embedder>,
    /// Finds the ones knowledge bases choose (the [`ProviderRegistry`]); without it, only
    /// the default can be chosen.
    pub chosen: Option<Arc<dyn EmbedderResolver>>,
}

impl Embedders {
    /// Only `default`.
    pub fn only(default: Arc<dyn Embedder>) -> Self {
        Self {
            default,
            chosen: None,
        }
    }
}

impl std::fmt::Debug for Embedders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedders")
            .field("default", &self.default.model())
            .finish_non_exhaustive()
    }
}

/// The knowledge service every entry point uses, indexing with the default embedder unless
/// a knowledge base chose another, reading documents with `extractor`, and saving vector
/// graphs in `index_dir` when given. Hybrid search weighs a semantic embedder's ranking like
/// keyword's; the hashed embedder's at [`DEFAULT_HYBRID_VECTOR_WEIGHT`] (it ranks worse than
/// BM25).
pub fn knowledge_service(
    store: Arc<dyn Store>,
    queue: Arc<dyn JobQueue>,
    embedders: Embedders,
    extractor: Arc<dyn DocumentExtractor>,
    index_dir: Option<PathBuf>,
) -> KnowledgeService {
    let Embedders {
        default: embedder,
        chosen,
    } = embedders;
    let weight = if embedder.id() == "local" {
        DEFAULT_HYBRID_VECTOR_WEIGHT
    } else {
        SEMANTIC_HYBRID_VECTOR_WEIGHT
    };
    let service = KnowledgeService::new(store, queue, embedder)
        .with_extractor(extractor)
        .with_hybrid_vector_weight(weight);
    let service = match index_dir {
        Some(dir) => service.with_index_dir(dir),
        None => service,
    };
    match chosen {
        Some(chosen) => service.with_embedders(chosen),
        None => service,
    }
}

/// This process's program when it is the `botbuilder` binary (which has the `extract`
/// subcommand), else `None`.
pub fn own_botbuilder_binary() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .filter(|path| path.file_stem().is_some_and(|stem| stem == "botbuilder"))
}

/// How documents are read: in a separate process running `program` (or this binary, see
/// [`own_botbuilder_binary`]) with `limits`. Without either, in this process, with a warning:
/// a hostile PDF or HTML file could then take the process down.
pub fn document_extractor(
    program: Option<PathBuf>,
    limits: ExtractLimits,
) -> Arc<dyn DocumentExtractor> {
    match program.or_else(own_botbuilder_binary) {
        Some(program) => Arc::new(SubprocessExtractor::new(
            program,
            limits,
            crate::ingest_workers(),
        )),
        None => {
            tracing::warn!(
                "documents are parsed inside this process: set extract_program \
                 (BOTBUILDER_EXTRACT_PROGRAM) to a botbuilder binary so hostile files cannot \
                 take it down"
            );
            Arc::new(InProcessExtractor {
                timeout: limits.timeout,
            })
        }
    }
}

/// A subkey for one purpose: HMAC-SHA256(secret, purpose), hex encoded. Web chat tokens are
/// signed with their own key, so a leaked one can never be replayed as an access token.
fn derive_key(secret: &str, purpose: &str) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::sign(&key, purpose.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AppState {
    /// Builds the state for `settings`: opens and migrates the store, and sets up argon2id
    /// at the recommended cost, HS256 tokens and the in-process rate limiter.
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Self::from_settings_with_cost(settings, HashCost::RECOMMENDED).await
    }

    /// Like [`AppState::from_settings`] with an explicit password hashing cost (tests use
    /// [`HashCost::INSECURE_FOR_TESTS`]).
    pub async fn from_settings_with_cost(
        settings: &Settings,
        cost: HashCost,
    ) -> anyhow::Result<Self> {
        let (store, queue) = open_backend_with(&settings.database_url, &settings.database).await?;
        Self::with_backend(store, queue, settings, cost).await
    }

    /// The state around an already opened store (any [`Store`] implementation) with the
    /// in-process job queue (not durable); the settings' database URL is ignored.
    pub async fn with_store(
        store: Arc<dyn Store>,
        settings: &Settings,
        cost: HashCost,
    ) -> anyhow::Result<Self> {
        Self::with_backend(store, Arc::new(MemoryJobQueue::default()), settings, cost).await
    }

    /// The state around an already opened store and job queue.
    pub async fn with_backend(
        store: Arc<dyn Store>,
        queue: Arc<dyn JobQueue>,
        settings: &Settings,
        cost: HashCost,
    ) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Started before anything is cached, so no change is missed.
        let changes = ChangeBus::start(store.clone(), clock.clone()).await?;
        let shared = SharedInfra::connect(settings.redis_url.as_deref(), &clock).await?;
        let cipher: Arc<dyn SecretCipher> = Arc::new(settings.cipher()?);
        let credentials = CredentialService::new(store.clone(), cipher.clone());
        let stored_credentials = Arc::new(StoredCredentials::new(credentials.clone()));
        let nlu = Arc::new(match shared.cache() {
            Some(cache) => ModelCache::with_shared(cache),
            None => ModelCache::default(),
        });
        let guarded = fetcher(&settings.fetch_allow, settings.fetch_proxy.as_deref())?;
        let embedder = embedder(
            settings.embedding_model_dir.as_deref(),
            &settings.llm,
            operator_fetcher(settings.fetch_proxy.as_deref())?,
        )?;
        let extractor =
            document_extractor(settings.extract_program.clone(), settings.extract_limits);
        let providers = Arc::new(
            provider_registry(
                &settings.llm,
                guarded.clone(),
                settings.fetch_proxy.as_deref(),
            )?
            .with_organization_credentials(stored_credentials.clone()),
        );
        let knowledge = Arc::new(
            knowledge_service(
                store.clone(),
                queue.clone(),
                Embedders {
                    default: embedder,
                    chosen: Some(providers.clone()),
                },
                extractor,
                settings.index_dir.clone(),
            )
            .with_search_expansion(settings.vector_search_expansion),
        );
        let engine = engine_builder(store.clone(), guarded.clone(), providers.clone())
            .models(nlu.clone())
            .secrets(Arc::new(credentials.clone()))
            .clock(clock.clone())
            .knowledge(knowledge.clone())
            .build()?;
        let engine = Arc::new(engine);
        let limiter = shared.limiter.clone();
        let guarded_port: Arc<dyn Fetcher> = Arc::new(guarded.clone());
        let webhooks = WebhookService::new(
            store.clone(),
            cipher.clone(),
            Arc::new(botbuilder_channels::standard_webhooks::StandardWebhooks),
            guarded_port,
            queue.clone(),
            clock.clone(),
        );
        let webhook_worker = Arc::new(WebhookWorker::new(
            webhooks.clone(),
            WebhookWorkerConfig {
                schedule: settings.webhook_retry,
            },
        ));
        let channels = ChannelService::new(
            store.clone(),
            cipher,
            queue.clone(),
            botbuilder_channels::platforms(Arc::new(guarded.clone())),
            clock.clone(),
            settings.public_url.clone(),
        );
        let access = Arc::new(AccessCache::default());
        changes.listen(engine.clone());
        changes.listen(knowledge.clone());
        changes.listen(Arc::new(channels.clone()));
        changes.listen(access.clone());
        changes.listen(stored_credentials.clone());
        let web = shared.web_channel();
        let channel_worker = Arc::new(
            ChannelWorker::new(
                channels.clone(),
                store.clone(),
                queue.clone(),
                engine.clone(),
                limiter.clone(),
                clock.clone(),
            )
            .with_web(Arc::new(web.clone())),
        );
        Ok(Self {
            store: store.clone(),
            hasher: Arc::new(Argon2Hasher::new(cost)?),
            tokens: Arc::new(JwtIssuer::new(
                settings.jwt_secret.expose().as_bytes(),
                clock.clone(),
            )),
            limiter,
            clock,
            http: Arc::new(HttpSettings::from_settings(settings)),
            access,
            changes,
            change_poll_interval: botbuilder_core::change::POLL_INTERVAL,
            shared,
            nlu,
            engine,
            webchat_secret: Arc::new(derive_key(settings.jwt_secret.expose(), "webchat tokens")),
            knowledge,
            queue,
            fetcher: Arc::new(guarded),
            providers,
            credentials,
            stored_credentials,
            channels,
            channel_worker,
            web,
            stopping: Arc::new(tokio::sync::Notify::new()),
            webhooks,
            webhook_worker,
        })
    }
}
