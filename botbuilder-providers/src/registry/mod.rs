//! [`ProviderRegistry`]: the [`ProviderResolver`] a deployment uses. It knows every provider
//! of the [catalog](crate::catalog), builds clients from credentials, and resolves a bot's
//! chain per organization: the organization's own credentials (from a
//! [`CredentialSource`], when one is attached) come first, then the server-wide ones; the
//! offline `local` provider needs none. It resolves knowledge bases' embedders the same way
//! ([`EmbedderResolver`], in `embedders`).

mod embedders;

pub use embedders::{MAX_DIMENSIONS, MIN_LOCAL_DIMENSIONS};

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use botbuilder_core::domain::AiConfig;
use botbuilder_core::id::OrgId;
use botbuilder_core::llm::{
    LlmProvider, ProviderError, ProviderResolver, Route, Unavailable, chain_of,
};

use crate::anthropic::{AnthropicConfig, AnthropicProvider};
use crate::catalog::{self, ModelCatalog};
use crate::http::GuardedFetcher;
use crate::local::LocalProvider;
use crate::openai::{OpenAiConfig, OpenAiProvider};
use crate::remote::{ApiKey, HttpOptions};

/// How to reach one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The API key (compatible servers may need none).
    pub api_key: Option<ApiKey>,
    /// Another API root than the provider's public one (`None`: the public one; required
    /// for `openai-compatible`).
    pub base_url: Option<reqwest::Url>,
}

/// Why credentials cannot make a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The provider id is not in the catalog, or needs no credentials (`local`).
    #[error("`{0}` takes no credentials")]
    NotConfigurable(String),
    /// OpenAI and Anthropic need a key.
    #[error("an API key is required")]
    MissingKey,
    /// `openai-compatible` needs a base URL.
    #[error("a base URL is required")]
    MissingBaseUrl,
    /// The key cannot be sent in a header.
    #[error("the API key contains characters that cannot be sent")]
    InvalidKey,
}

/// An organization's own provider credentials (the server keeps them encrypted).
#[async_trait]
pub trait CredentialSource: Send + Sync + 'static {
    /// The credentials `org` stored for `provider`: `Ok(None)` when it has none (the
    /// server-wide ones apply), `Err` when they exist but cannot be read.
    async fn credentials(
        &self,
        org: OrgId,
        provider: &str,
    ) -> Result<Option<Credentials>, Unavailable>;
}

/// The deployment's providers (see the module docs).
#[derive(Clone)]
pub struct ProviderRegistry {
    catalog: Arc<ModelCatalog>,
    fetcher: GuardedFetcher,
    options: HttpOptions,
    local: Arc<dyn LlmProvider>,
    server_wide: HashMap<String, Arc<dyn LlmProvider>>,
    /// The server-wide credentials and the fetcher they call out through (embedders are
    /// built from them per model).
    server_credentials: HashMap<String, (Credentials, GuardedFetcher)>,
    organizations: Option<Arc<dyn CredentialSource>>,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut configured: Vec<&String> = self.server_wide.keys().collect();
        configured.sort();
        f.debug_struct("ProviderRegistry")
            .field("server_wide", &configured)
            .field("organizations", &self.organizations.is_some())
            .finish_non_exhaustive()
    }
}

impl ProviderRegistry {
    /// A registry with only the `local` provider configured; remote clients call out through
    /// `fetcher` (which decides which addresses they may reach) with `options`.
    pub fn new(catalog: Arc<ModelCatalog>, fetcher: GuardedFetcher, options: HttpOptions) -> Self {
        Self {
            catalog,
            fetcher,
            options,
            local: Arc::new(LocalProvider),
            server_wide: HashMap::new(),
            server_credentials: HashMap::new(),
            organizations: None,
        }
    }

    /// The catalog models are described from.
    pub fn catalog(&self) -> &Arc<ModelCatalog> {
        &self.catalog
    }

    /// A client for `provider` with an organization's `credentials`, calling out through the
    /// registry's fetcher (the policy for addresses tenants name).
    pub fn client(
        &self,
        provider: &str,
        credentials: Credentials,
    ) -> Result<Arc<dyn LlmProvider>, CredentialsError> {
        self.client_through(provider, credentials, &self.fetcher)
    }

    fn client_through(
        &self,
        provider: &str,
        credentials: Credentials,
        fetcher: &GuardedFetcher,
    ) -> Result<Arc<dyn LlmProvider>, CredentialsError> {
        let invalid_key = |_: ProviderError| CredentialsError::InvalidKey;
        match provider {
            catalog::OPENAI | catalog::OPENAI_COMPATIBLE => {
                let config = self.openai_config(provider, credentials)?;
                let client = OpenAiProvider::new(config, fetcher.clone(), self.catalog.clone())
                    .map_err(invalid_key)?;
                Ok(Arc::new(client))
            }
            catalog::ANTHROPIC => {
                let key = credentials.api_key.ok_or(CredentialsError::MissingKey)?;
                let mut config = AnthropicConfig::new(key);
                if let Some(base_url) = credentials.base_url {
                    config.base_url = base_url;
                }
                config.options = self.options;
                let client = AnthropicProvider::new(config, fetcher.clone(), self.catalog.clone())
                    .map_err(invalid_key)?;
                Ok(Arc::new(client))
            }
            other => Err(CredentialsError::NotConfigurable(other.to_owned())),
        }
    }

    /// How to reach `provider` (`openai` or `openai-compatible`) with `credentials`.
    fn openai_config(
        &self,
        provider: &str,
        credentials: Credentials,
    ) -> Result<OpenAiConfig, CredentialsError> {
        let mut config = if provider == catalog::OPENAI {
            let key = credentials.api_key.ok_or(CredentialsError::MissingKey)?;
            let mut config = OpenAiConfig::openai(key);
            if let Some(base_url) = credentials.base_url {
                config.base_url = base_url;
            }
            config
        } else {
            let base_url = credentials
                .base_url
                .ok_or(CredentialsError::MissingBaseUrl)?;
            OpenAiConfig::compatible(base_url, credentials.api_key)
        };
        config.options = self.options;
        Ok(config)
    }

    /// Serves every organization without credentials of its own for `provider` with
    /// `credentials`, calling out through `fetcher`: the operator chose this address, so it
    /// may be one tenants are not allowed to reach (an Ollama on loopback).
    pub fn with_server_credentials(
        mut self,
        provider: &str,
        credentials: Credentials,
        fetcher: &GuardedFetcher,
    ) -> Result<Self, CredentialsError> {
        let client = self.client_through(provider, credentials.clone(), fetcher)?;
        self.server_wide.insert(provider.to_owned(), client);
        self.server_credentials
            .insert(provider.to_owned(), (credentials, fetcher.clone()));
        Ok(self)
    }

    /// Consults `source` for each organization's own credentials first.
    #[must_use]
    pub fn with_organization_credentials(mut self, source: Arc<dyn CredentialSource>) -> Self {
        self.organizations = Some(source);
        self
    }

    /// The provider `org` would call for `provider`, or why there is none.
    pub async fn provider_for(
        &self,
        org: OrgId,
        provider: &str,
    ) -> Result<Arc<dyn LlmProvider>, Unavailable> {
        if provider == catalog::LOCAL {
            return Ok(self.local.clone());
        }
        if !catalog::PROVIDER_IDS.contains(&provider) {
            return Err(Unavailable::UnknownProvider);
        }
        if let Some(source) = &self.organizations
            && let Some(credentials) = source.credentials(org, provider).await?
        {
            return self.client(provider, credentials).map_err(|e| {
                tracing::warn!(%org, provider, "stored credentials are unusable: {e}");
                Unavailable::CredentialsUnreadable
            });
        }
        self.server_wide
            .get(provider)
            .cloned()
            .ok_or(Unavailable::MissingCredentials)
    }
}

#[async_trait]
impl ProviderResolver for ProviderRegistry {
    async fn resolve(&self, org: OrgId, config: &AiConfig) -> Vec<Route> {
        let chain = chain_of(config, |p| catalog::default_model(p).map(str::to_owned));
        let mut routes = Vec::with_capacity(chain.len());
        for (provider_id, model) in chain {
            routes.push(Route {
                target: self.provider_for(org, &provider_id).await,
                provider_id,
                model,
            });
        }
        routes
    }
}
