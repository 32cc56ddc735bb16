//! OpenAI embeddings (`POST {base_url}/embeddings`, platform.openai.com/docs/api-reference/
//! embeddings), also served by Ollama, vLLM and text-embeddings-inference.
//!
//! Texts go in batches of [`MAX_BATCH`]; each answer's vectors are put back in input order by
//! their `index`, and their count and length are checked. `dimensions` is sent to models that
//! can shorten their vectors (OpenAI's `text-embedding-3-*`); other models must produce the
//! configured size.

use async_trait::async_trait;
use botbuilder_core::embed::Embedder;
use botbuilder_core::llm::ProviderError;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use super::OpenAiConfig;
use crate::http::GuardedFetcher;
use crate::remote::{Endpoint, endpoint_url, transient};

/// Texts per request.
pub const MAX_BATCH: usize = 96;

/// The vector size of OpenAI's embedding models, when the model is one.
pub fn known_dimensions(model: &str) -> Option<usize> {
    match model {
        "text-embedding-3-small" | "text-embedding-ada-002" => Some(1536),
        "text-embedding-3-large" => Some(3072),
        _ => None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Item {
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// The embedder (see the module docs).
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    id: String,
    model: String,
    dimensions: usize,
    shortens: bool,
    url: reqwest::Url,
    headers: HeaderMap,
    endpoint: Endpoint,
}

impl OpenAiEmbedder {
    /// An embedder for `model` at the server `config` describes, producing vectors of
    /// `dimensions` (for OpenAI's models, their own size when `None`).
    pub fn new(
        config: OpenAiConfig,
        model: impl Into<String>,
        dimensions: Option<usize>,
        fetcher: GuardedFetcher,
    ) -> Result<Self, ProviderError> {
        let model = model.into();
        let dimensions = dimensions
            .or_else(|| known_dimensions(&model))
            .ok_or_else(|| {
                ProviderError::Permanent(
                    format!("the vector size of `{model}` is unknown; configure its dimensions")
                        .into(),
                )
            })?;
        let headers = crate::remote::bearer_headers(config.api_key.as_ref())?;
        Ok(Self {
            id: config.id,
            shortens: model.starts_with("text-embedding-3"),
            model,
            dimensions,
            url: endpoint_url(&config.base_url, &["embeddings"]),
            headers,
            endpoint: Endpoint {
                fetcher,
                options: config.options,
            },
        })
    }

    async fn batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let mut body = json!({ "model": self.model, "input": texts, "encoding_format": "float" });
        if self.shortens {
            body["dimensions"] = json!(self.dimensions);
        }
        let value = self
            .endpoint
            .post_json(&self.url, &self.headers, &body)
            .await?;
        if let Some(error) = value.get("error") {
            return Err(super::reported_error(error));
        }
        let answer: Answer = serde_json::from_value(value)
            .map_err(|e| transient(format!("unexpected embeddings answer: {e}")))?;
        if answer.data.len() != texts.len() {
            return Err(transient(format!(
                "{} vectors for {} texts",
                answer.data.len(),
                texts.len()
            )));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (position, item) in answer.data.into_iter().enumerate() {
            let index = item.index.unwrap_or(position);
            if item.embedding.len() != self.dimensions {
                return Err(ProviderError::Permanent(
                    format!(
                        "`{}` answered vectors of {} dimensions; {} are configured",
                        self.model,
                        item.embedding.len(),
                        self.dimensions
                    )
                    .into(),
                ));
            }
            match vectors.get_mut(index) {
                Some(slot @ None) => *slot = Some(item.embedding),
                _ => return Err(transient(format!("a bad or repeated index {index}"))),
            }
        }
        Ok(vectors.into_iter().flatten().collect())
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(MAX_BATCH) {
            out.extend(self.batch(batch).await?);
        }
        Ok(out)
    }
}
