//! Server-wide language model settings: keys and base URLs that serve every organization
//! without credentials of its own, and the model catalog's overrides (`[[models]]`).

use anyhow::Context;
use botbuilder_providers::catalog::{self, ModelCatalog, ModelEntry};
use botbuilder_providers::http::GuardedFetcher;
use botbuilder_providers::registry::{Credentials, ProviderRegistry};
use botbuilder_providers::remote::{ApiKey, HttpOptions};

use super::{PartialSettings, Secret};

/// Resolved language model settings (see the module docs).
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// `BOTBUILDER_OPENAI_API_KEY`.
    pub openai_api_key: Option<Secret>,
    /// `BOTBUILDER_OPENAI_BASE_URL` (default: OpenAI's).
    pub openai_base_url: Option<url::Url>,
    /// `BOTBUILDER_ANTHROPIC_API_KEY`.
    pub anthropic_api_key: Option<Secret>,
    /// `BOTBUILDER_ANTHROPIC_BASE_URL` (default: Anthropic's).
    pub anthropic_base_url: Option<url::Url>,
    /// `BOTBUILDER_OPENAI_COMPATIBLE_BASE_URL`: the server `openai-compatible` bots use.
    pub openai_compatible_base_url: Option<url::Url>,
    /// `BOTBUILDER_OPENAI_COMPATIBLE_API_KEY`, if that server wants one.
    pub openai_compatible_api_key: Option<Secret>,
    /// The model catalog with the `[[models]]` overrides.
    pub catalog: ModelCatalog,
    /// Who embeds knowledge: `local`, `openai` or `openai-compatible`.
    pub embedding_provider: String,
    /// The embedding model (remote providers).
    pub embedding_model: Option<String>,
    /// Its vector length, when not one of OpenAI's models.
    pub embedding_dimensions: Option<usize>,
}

impl Default for LlmSettings {
    /// No remote provider; knowledge embedded offline.
    fn default() -> Self {
        Self {
            openai_api_key: None,
            openai_base_url: None,
            anthropic_api_key: None,
            anthropic_base_url: None,
            openai_compatible_base_url: None,
            openai_compatible_api_key: None,
            catalog: ModelCatalog::default(),
            embedding_provider: catalog::LOCAL.to_owned(),
            embedding_model: None,
            embedding_dimensions: None,
        }
    }
}

fn url(value: Option<&String>, name: &str) -> anyhow::Result<Option<url::Url>> {
    value
        .map(|v| {
            let parsed =
                url::Url::parse(v.trim()).with_context(|| format!("{name} is not a URL: `{v}`"))?;
            anyhow::ensure!(
                matches!(parsed.scheme(), "http" | "https"),
                "{name} must be an http or https URL"
            );
            Ok(parsed)
        })
        .transpose()
}

fn key(secret: Option<&Secret>) -> Option<ApiKey> {
    secret
        .map(|s| s.expose().trim())
        .filter(|s| !s.is_empty())
        .map(ApiKey::new)
}

impl LlmSettings {
    /// The settings of a layer, URLs and catalog entries checked.
    pub fn resolve(partial: &PartialSettings) -> anyhow::Result<Self> {
        let catalog = ModelCatalog::new(partial.models.clone().unwrap_or_default())
            .context("invalid [[models]] entry")?;
        Ok(Self {
            openai_api_key: partial.openai_api_key.clone(),
            openai_base_url: url(
                partial.openai_base_url.as_ref(),
                "BOTBUILDER_OPENAI_BASE_URL",
            )?,
            anthropic_api_key: partial.anthropic_api_key.clone(),
            anthropic_base_url: url(
                partial.anthropic_base_url.as_ref(),
                "BOTBUILDER_ANTHROPIC_BASE_URL",
            )?,
            openai_compatible_base_url: url(
                partial.openai_compatible_base_url.as_ref(),
                "BOTBUILDER_OPENAI_COMPATIBLE_BASE_URL",
            )?,
            openai_compatible_api_key: partial.openai_compatible_api_key.clone(),
            catalog,
            embedding_provider: partial
                .embedding_provider
                .clone()
                .unwrap_or_else(|| catalog::LOCAL.to_owned()),
            embedding_model: partial.embedding_model.clone(),
            embedding_dimensions: partial.embedding_dimensions,
        })
    }

    /// The provider registry: `local`, plus every provider these settings give credentials
    /// for. Organizations' own clients call out through `tenant` (the outbound policy for
    /// addresses tenants name); the server-wide ones through `operator` (addresses the
    /// operator configured, private ones included).
    pub fn registry(
        &self,
        tenant: GuardedFetcher,
        operator: &GuardedFetcher,
        options: HttpOptions,
    ) -> anyhow::Result<ProviderRegistry> {
        let mut registry =
            ProviderRegistry::new(std::sync::Arc::new(self.catalog.clone()), tenant, options);
        let server_wide = [
            (
                catalog::OPENAI,
                key(self.openai_api_key.as_ref()),
                self.openai_base_url.clone(),
            ),
            (
                catalog::ANTHROPIC,
                key(self.anthropic_api_key.as_ref()),
                self.anthropic_base_url.clone(),
            ),
            (
                catalog::OPENAI_COMPATIBLE,
                key(self.openai_compatible_api_key.as_ref()),
                self.openai_compatible_base_url.clone(),
            ),
        ];
        for (provider, api_key, base_url) in server_wide {
            let configured = match provider {
                catalog::OPENAI_COMPATIBLE => base_url.is_some(),
                _ => api_key.is_some(),
            };
            if configured {
                registry = registry
                    .with_server_credentials(provider, Credentials { api_key, base_url }, operator)
                    .with_context(|| format!("server credentials for {provider}"))?;
            }
        }
        Ok(registry)
    }
}

impl LlmSettings {
    /// The remote embedder these settings name (`None` for `local`), calling out through
    /// `fetcher`.
    pub fn remote_embedder(
        &self,
        fetcher: GuardedFetcher,
    ) -> anyhow::Result<Option<botbuilder_providers::openai::OpenAiEmbedder>> {
        use botbuilder_providers::openai::{OpenAiConfig, OpenAiEmbedder};
        let config = match self.embedding_provider.as_str() {
            catalog::LOCAL => return Ok(None),
            catalog::OPENAI => {
                let key = key(self.openai_api_key.as_ref()).context(
                    "embedding_provider openai needs openai_api_key (BOTBUILDER_OPENAI_API_KEY)",
                )?;
                let mut config = OpenAiConfig::openai(key);
                if let Some(base) = &self.openai_base_url {
                    config.base_url = base.clone();
                }
                config
            }
            catalog::OPENAI_COMPATIBLE => OpenAiConfig::compatible(
                self.openai_compatible_base_url.clone().context(
                    "embedding_provider openai-compatible needs openai_compatible_base_url",
                )?,
                key(self.openai_compatible_api_key.as_ref()),
            ),
            other => anyhow::bail!(
                "embedding_provider `{other}` is not one of local, openai, openai-compatible"
            ),
        };
        let model = self
            .embedding_model
            .clone()
            .context("a remote embedding_provider needs embedding_model")?;
        Ok(Some(
            OpenAiEmbedder::new(config, model, self.embedding_dimensions, fetcher)
                .map_err(|e| anyhow::anyhow!(botbuilder_core::error_chain(&e)))?,
        ))
    }
}

/// The `[[models]]` entries are only read from the configuration file.
pub(super) type Models = Option<Vec<ModelEntry>>;
