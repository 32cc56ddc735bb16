//! Which providers answer for a bot: [`ProviderResolver`] turns an organization and a bot's
//! [`AiConfig`] into the chain to try (primary, then fallback), each link either callable or
//! the reason it is not.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::LlmProvider;
use crate::domain::AiConfig;
use crate::id::OrgId;

/// Why a link of the chain cannot be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unavailable {
    /// Neither the organization nor the server has credentials for the provider.
    MissingCredentials,
    /// The deployment does not offer this provider.
    UnknownProvider,
    /// The organization's stored credentials could not be read (wrong master key, damaged
    /// row); the details are in the server log.
    CredentialsUnreadable,
    /// The organization reached its monthly spend limit.
    SpendLimitReached,
}

impl Unavailable {
    /// The snake-case name, as serialized.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::UnknownProvider => "unknown_provider",
            Self::CredentialsUnreadable => "credentials_unreadable",
            Self::SpendLimitReached => "spend_limit_reached",
        }
    }
}

/// One link of a provider chain.
#[derive(Clone)]
pub struct Route {
    /// The provider id the bot names (`openai`, `anthropic`, ...).
    pub provider_id: String,
    /// The model to ask.
    pub model: String,
    /// The provider to call, or why it cannot be.
    pub target: Result<Arc<dyn LlmProvider>, Unavailable>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("provider_id", &self.provider_id)
            .field("model", &self.model)
            .field("target", &self.target.as_ref().map(|p| p.id().to_owned()))
            .finish()
    }
}

/// Whether a bot's primary provider can answer, as shown on the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderStatus {
    /// Configured: calls will be made (they may still fail at the provider).
    Ready,
    /// See [`Unavailable::MissingCredentials`].
    MissingCredentials,
    /// See [`Unavailable::UnknownProvider`].
    UnknownProvider,
    /// See [`Unavailable::CredentialsUnreadable`].
    CredentialsUnreadable,
    /// See [`Unavailable::SpendLimitReached`].
    SpendLimitReached,
}

impl From<Unavailable> for ProviderStatus {
    fn from(why: Unavailable) -> Self {
        match why {
            Unavailable::MissingCredentials => Self::MissingCredentials,
            Unavailable::UnknownProvider => Self::UnknownProvider,
            Unavailable::CredentialsUnreadable => Self::CredentialsUnreadable,
            Unavailable::SpendLimitReached => Self::SpendLimitReached,
        }
    }
}

/// The `(provider, model)` pairs a bot's configuration names, primary first. A fallback
/// without its own model takes `default_model(provider)`, else the primary's model.
pub fn chain_of(
    config: &AiConfig,
    default_model: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut chain = vec![(config.provider.clone(), config.model.clone())];
    if let Some(fallback) = &config.fallback_provider {
        let model = config
            .fallback_model
            .clone()
            .or_else(|| default_model(fallback))
            .unwrap_or_else(|| config.model.clone());
        chain.push((fallback.clone(), model));
    }
    chain
}

/// Turns (organization, bot settings) into the providers to try, in order.
///
/// Implementations decide where credentials come from (the server: the organization's own,
/// else the server-wide ones) and must not fail: a link that cannot be called says why.
#[async_trait]
pub trait ProviderResolver: Send + Sync + 'static {
    /// The chain for `config` in `org`: the primary, then the fallback if any.
    async fn resolve(&self, org: OrgId, config: &AiConfig) -> Vec<Route>;

    /// Whether the primary provider of `config` can be called in `org`.
    async fn status(&self, org: OrgId, config: &AiConfig) -> ProviderStatus {
        match self.resolve(org, config).await.into_iter().next() {
            Some(Route { target: Ok(_), .. }) => ProviderStatus::Ready,
            Some(Route {
                target: Err(why), ..
            }) => why.into(),
            None => ProviderStatus::UnknownProvider,
        }
    }
}

/// A fixed set of providers, the same for every organization: what an embedding application
/// registers with `Engine::builder().provider(..)`.
#[derive(Default, Clone)]
pub struct StaticResolver {
    providers: HashMap<String, Arc<dyn LlmProvider>>,
}

impl std::fmt::Debug for StaticResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.providers.keys().collect();
        ids.sort();
        f.debug_struct("StaticResolver")
            .field("providers", &ids)
            .finish()
    }
}

impl StaticResolver {
    /// Adds `provider` under its [`LlmProvider::id`] (replacing one with the same id).
    pub fn insert(&mut self, provider: Arc<dyn LlmProvider>) {
        self.providers.insert(provider.id().to_owned(), provider);
    }

    /// Whether no provider was added.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

#[async_trait]
impl ProviderResolver for StaticResolver {
    async fn resolve(&self, _org: OrgId, config: &AiConfig) -> Vec<Route> {
        chain_of(config, |_| None)
            .into_iter()
            .map(|(provider_id, model)| Route {
                target: self
                    .providers
                    .get(&provider_id)
                    .cloned()
                    .ok_or(Unavailable::UnknownProvider),
                provider_id,
                model,
            })
            .collect()
    }
}
