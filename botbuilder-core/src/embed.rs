//! Text embedding port.

use async_trait::async_trait;

use crate::llm::ProviderError;

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
