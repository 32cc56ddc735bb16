//! Text embedding ports: [`Embedder`] turns texts into vectors; [`EmbedderResolver`] finds
//! the embedder a knowledge base chose ([`EmbeddingChoice`]) for an organization, with its
//! credentials.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::id::OrgId;
use crate::llm::{ProviderError, Unavailable};

/// Turns texts into fixed-size vectors for semantic search.
///
/// Contract: `embed_texts` returns exactly one vector per input, in input order, each of
/// length [`Embedder::dimensions`]. The same input always yields the same vector for a given
/// model, so stored vectors stay comparable.
#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// Stable id (`"local"`, `"openai"`).
    fn id(&self) -> &str;

    /// Model name, recorded next to stored vectors.
    fn model(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dimensions(&self) -> usize;

    /// Embeds a batch.
    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError>;

    /// Embeds one text (default: a batch of one).
    async fn embed_text(&self, text: &str) -> Result<Vec<f32>, ProviderError> {
        let mut out = self.embed_texts(&[text.to_owned()]).await?;
        out.pop().ok_or_else(|| {
            ProviderError::Permanent("embedder returned no vector for one input".into())
        })
    }
}

/// The embedder a knowledge base asks for: `{"provider":"openai","model":"text-embedding-3-small"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingChoice {
    /// Provider id (`local`, `openai`, `openai-compatible`).
    pub provider: String,
    /// Model name; `None` takes the provider's default embedding model (required for
    /// `openai-compatible`).
    #[serde(default)]
    pub model: Option<String>,
    /// Vector length; `None` takes the model's own (required for models whose size is not
    /// known, as on most compatible servers). Models that can shorten their vectors (OpenAI's
    /// `text-embedding-3-*`) are asked for this size.
    #[serde(default)]
    pub dimensions: Option<u32>,
}

/// Why no embedder can serve an [`EmbeddingChoice`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedderUnavailable {
    /// The choice cannot work as written (a provider without embeddings, a missing model or
    /// vector size); the message says what to change, naming the field in `field`.
    #[error("{message}")]
    Unsupported {
        /// The field of the choice at fault: `provider`, `model` or `dimensions`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The provider cannot be reached for this organization (no credentials, unreadable
    /// credentials, unknown provider).
    #[error("embedding provider unavailable: {}", .0.code())]
    Provider(Unavailable),
}

impl EmbedderUnavailable {
    /// An [`EmbedderUnavailable::Unsupported`] for `field`.
    pub fn unsupported(field: &'static str, message: impl Into<String>) -> Self {
        Self::Unsupported {
            field,
            message: message.into(),
        }
    }
}

/// Finds embedders by [`EmbeddingChoice`] for an organization (the server's implementation
/// uses the organization's own provider credentials first, then the server-wide ones).
#[async_trait]
pub trait EmbedderResolver: Send + Sync + 'static {
    /// The embedder `org` gets for `choice`. Its [`Embedder::id`], [`Embedder::model`] and
    /// [`Embedder::dimensions`] are what the knowledge base records.
    async fn embedder(
        &self,
        org: OrgId,
        choice: &EmbeddingChoice,
    ) -> Result<Arc<dyn Embedder>, EmbedderUnavailable>;
}
