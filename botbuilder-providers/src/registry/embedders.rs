//! [`EmbedderResolver`] for [`ProviderRegistry`]: `local` is the offline hashed embedder (any
//! size from [`MIN_LOCAL_DIMENSIONS`] to [`MAX_DIMENSIONS`]); `openai` and
//! `openai-compatible` are [`OpenAiEmbedder`]s with the organization's own credentials, else
//! the server-wide ones; Anthropic has no embeddings API.

use std::sync::Arc;

use async_trait::async_trait;
use botbuilder_core::embed::{Embedder, EmbedderResolver, EmbedderUnavailable, EmbeddingChoice};
use botbuilder_core::id::OrgId;
use botbuilder_core::llm::Unavailable;

use super::{Credentials, ProviderRegistry};
use crate::catalog;
use crate::http::GuardedFetcher;
use crate::local::{LOCAL_EMBEDDING_MODEL, LocalEmbedder};
use crate::openai::OpenAiEmbedder;
use crate::openai::embed::known_dimensions;

/// Smallest vector the local embedder makes on request.
pub const MIN_LOCAL_DIMENSIONS: u32 = 16;
/// Largest vector any embedder may be configured for.
pub const MAX_DIMENSIONS: u32 = 16_384;

fn local(choice: &EmbeddingChoice) -> Result<Arc<dyn Embedder>, EmbedderUnavailable> {
    if let Some(model) = choice.model.as_deref()
        && model != LOCAL_EMBEDDING_MODEL
    {
        return Err(EmbedderUnavailable::unsupported(
            "model",
            format!("the local embedder's only model is `{LOCAL_EMBEDDING_MODEL}`"),
        ));
    }
    Ok(match choice.dimensions {
        None => Arc::new(LocalEmbedder::default()),
        Some(d) if (MIN_LOCAL_DIMENSIONS..=MAX_DIMENSIONS).contains(&d) => {
            Arc::new(LocalEmbedder::new(d as usize))
        }
        Some(_) => {
            return Err(EmbedderUnavailable::unsupported(
                "dimensions",
                format!(
                    "the local embedder makes {MIN_LOCAL_DIMENSIONS} to {MAX_DIMENSIONS} dimensions"
                ),
            ));
        }
    })
}

impl ProviderRegistry {
    /// The credentials `org` reaches `provider` with, and the fetcher to call through.
    async fn credentials_of(
        &self,
        org: OrgId,
        provider: &str,
    ) -> Result<(Credentials, GuardedFetcher), Unavailable> {
        if let Some(source) = &self.organizations
            && let Some(credentials) = source.credentials(org, provider).await?
        {
            return Ok((credentials, self.fetcher.clone()));
        }
        self.server_credentials
            .get(provider)
            .cloned()
            .ok_or(Unavailable::MissingCredentials)
    }

    async fn remote_embedder(
        &self,
        org: OrgId,
        choice: &EmbeddingChoice,
    ) -> Result<Arc<dyn Embedder>, EmbedderUnavailable> {
        let provider = choice.provider.as_str();
        let model = choice
            .model
            .clone()
            .or_else(|| catalog::default_embedding_model(provider).map(str::to_owned))
            .ok_or_else(|| {
                EmbedderUnavailable::unsupported(
                    "model",
                    "name the model the server embeds with (it has no default)",
                )
            })?;
        let dimensions = choice
            .dimensions
            .map(|d| d as usize)
            .or_else(|| known_dimensions(&model))
            .ok_or_else(|| {
                EmbedderUnavailable::unsupported(
                    "dimensions",
                    format!("the vector size of `{model}` is unknown; give it"),
                )
            })?;
        if dimensions == 0 || dimensions > MAX_DIMENSIONS as usize {
            return Err(EmbedderUnavailable::unsupported(
                "dimensions",
                format!("must be 1 to {MAX_DIMENSIONS}"),
            ));
        }
        let (credentials, fetcher) = self
            .credentials_of(org, provider)
            .await
            .map_err(EmbedderUnavailable::Provider)?;
        let unusable = |e: &dyn std::fmt::Display| {
            tracing::warn!(%org, provider, "embedding credentials are unusable: {e}");
            EmbedderUnavailable::Provider(Unavailable::CredentialsUnreadable)
        };
        let config = self
            .openai_config(provider, credentials)
            .map_err(|e| unusable(&e))?;
        let embedder = OpenAiEmbedder::new(config, model, Some(dimensions), fetcher)
            .map_err(|e| unusable(&e))?;
        Ok(Arc::new(embedder))
    }
}

#[async_trait]
impl EmbedderResolver for ProviderRegistry {
    async fn embedder(
        &self,
        org: OrgId,
        choice: &EmbeddingChoice,
    ) -> Result<Arc<dyn Embedder>, EmbedderUnavailable> {
        match choice.provider.as_str() {
            catalog::LOCAL => local(choice),
            catalog::OPENAI | catalog::OPENAI_COMPATIBLE => self.remote_embedder(org, choice).await,
            catalog::ANTHROPIC => Err(EmbedderUnavailable::unsupported(
                "provider",
                "Anthropic offers no embeddings; choose local, openai or openai-compatible",
            )),
            _ => Err(EmbedderUnavailable::Provider(Unavailable::UnknownProvider)),
        }
    }
}
