//! Building an [`Engine`]: its parts and tunables.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use super::snapshot::Snapshots;
use super::{DEFAULT_BOT_CACHE_TTL, DEFAULT_HISTORY_WINDOW, DEFAULT_MAX_STEPS, Engine};
use crate::clock::{Clock, SystemClock};
use crate::credentials::SecretSource;
use crate::fetch::Fetcher;
use crate::knowledge::KnowledgeService;
use crate::llm::{LlmProvider, ProviderResolver, StaticResolver};
use crate::nlu::ModelCache;
use crate::store::Store;

/// Tunables of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Flow nodes one turn may execute.
    pub max_steps: u32,
    /// Past messages given to the language model.
    pub history_window: u32,
    /// How long a bot's settings, NLU models and newest flow version are reused at most before
    /// they are read again (a change delivered by the change bus, or
    /// [`Engine::invalidate_bot`], applies at once).
    pub bot_cache_ttl: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_steps: DEFAULT_MAX_STEPS,
            history_window: DEFAULT_HISTORY_WINDOW,
            bot_cache_ttl: DEFAULT_BOT_CACHE_TTL,
        }
    }
}

/// Builds an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    store: Option<Arc<dyn Store>>,
    providers: StaticResolver,
    resolver: Option<Arc<dyn ProviderResolver>>,
    clock: Option<Arc<dyn Clock>>,
    models: Option<Arc<ModelCache>>,
    fetcher: Option<Arc<dyn Fetcher>>,
    secrets: Option<Arc<dyn SecretSource>>,
    knowledge: Option<Arc<KnowledgeService>>,
    config: EngineConfig,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("providers", &self.providers)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What [`EngineBuilder::build`] needs and did not get.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the engine needs a {0}")]
pub struct MissingPart(pub &'static str);

impl EngineBuilder {
    /// The store (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds a language model provider under its [`LlmProvider::id`], the same for every
    /// organization (ignored when a [`EngineBuilder::resolver`] is set).
    pub fn provider(mut self, provider: Arc<dyn LlmProvider>) -> Self {
        self.providers.insert(provider);
        self
    }

    /// Decides which providers answer for each organization and bot (per-organization
    /// credentials, fallback chains); replaces the providers added with
    /// [`EngineBuilder::provider`].
    pub fn resolver(mut self, resolver: Arc<dyn ProviderResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Shares a model cache (for example with an HTTP `nlu/parse` route).
    pub fn models(mut self, models: Arc<ModelCache>) -> Self {
        self.models = Some(models);
        self
    }

    /// Outbound HTTP for `http_request` nodes (without one they record an error).
    pub fn fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Organizations' named secrets, for HTTP tool headers that name one (without it, such
    /// calls fail and the model is told why).
    pub fn secrets(mut self, secrets: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Knowledge bases for answers with sources (without it, bots answer without them).
    pub fn knowledge(mut self, knowledge: Arc<KnowledgeService>) -> Self {
        self.knowledge = Some(knowledge);
        self
    }

    /// Tunables.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The engine; fails without a store, or without a provider or resolver.
    pub fn build(self) -> Result<Engine, MissingPart> {
        let store = self.store.ok_or(MissingPart("store"))?;
        let resolver: Arc<dyn ProviderResolver> = match self.resolver {
            Some(resolver) => resolver,
            None if self.providers.is_empty() => {
                return Err(MissingPart("language model provider"));
            }
            None => Arc::new(self.providers),
        };
        let (events, _) = broadcast::channel(1024);
        Ok(Engine {
            store,
            resolver,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            models: self.models.unwrap_or_default(),
            fetcher: self.fetcher,
            secrets: self.secrets,
            knowledge: self.knowledge,
            config: self.config,
            events,
            locks: Mutex::new(HashMap::new()),
            snapshots: Snapshots::default(),
            spend: Arc::default(),
        })
    }
}
