//! The offline `local` provider and embedder.

mod extractive;

use async_trait::async_trait;
use botbuilder_core::embed::Embedder;
use botbuilder_core::llm::{
    Capabilities, ChatEvent, ChatRequest, ChatResponse, ChatRole, ChatStream, LlmProvider,
    ModelInfo, ProviderError, Usage, render_sources,
};

/// Most bytes of text [`LocalEmbedder`] embeds on the calling (async) thread; larger batches
/// go to a blocking thread.
pub const INLINE_EMBED_BYTES: usize = 4096;

/// Dimensions of [`LocalEmbedder`] vectors by default.
pub const DEFAULT_DIMENSIONS: usize = 384;

/// A deterministic, offline "model": it never invents facts. Without retrieved sources
/// ([`ChatRequest::sources`]) it says so. With sources it is an extractive answerer (see
/// [`extractive`]): the sentences of the best-ranked sources that share the most words with
/// the question, with a code block that follows them, each cited (`[1]`). It is what bots
/// use when no LLM is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalProvider;

impl LocalProvider {
    /// The answer given when there is nothing to answer from.
    pub const NO_ANSWER: &'static str =
        "I don't have information about that yet. Try asking in other words.";
}

fn approx_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}

#[async_trait]
impl LlmProvider for LocalProvider {
    fn id(&self) -> &str {
        "local"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_streaming(true)
    }

    /// Every model: the default window, free.
    fn model_info(&self, _model: &str) -> ModelInfo {
        ModelInfo::default()
    }

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let question = req.last_user_text();
        let text = match req.sources.as_deref() {
            Some(sources) if !sources.is_empty() => {
                extractive::answer(&render_sources(sources), question)
                    .unwrap_or_else(|| Self::NO_ANSWER.to_owned())
            }
            _ => Self::NO_ANSWER.to_owned(),
        };
        let prompt_tokens = approx_tokens(&req.system_text())
            + req
                .messages
                .iter()
                .filter(|m| m.role != ChatRole::System)
                .map(|m| approx_tokens(&m.content))
                .sum::<u32>();
        let completion_tokens = approx_tokens(&text);
        Ok(ChatResponse::text(
            text,
            Usage {
                prompt_tokens,
                completion_tokens,
            },
        ))
    }

    /// Streams the same answer word by word (whitespace kept), like a real model would.
    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let answer = self.complete(req).await?;
        let mut events: Vec<Result<ChatEvent, ProviderError>> = answer
            .text
            .split_inclusive(char::is_whitespace)
            .map(|word| Ok(ChatEvent::TextDelta(word.to_owned())))
            .collect();
        events.push(Ok(ChatEvent::Finished {
            usage: answer.usage,
            reason: answer.finish_reason,
        }));
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

/// The model name of [`LocalEmbedder`].
pub const LOCAL_EMBEDDING_MODEL: &str = "local-hashed-ngrams-v1";

/// An offline embedder: hashed word unigrams, bigrams and character trigrams, L2-normalized.
/// Deterministic across runs and platforms (FNV-1a hashing), no model files.
#[derive(Debug, Clone, Copy)]
pub struct LocalEmbedder {
    dimensions: usize,
}

impl Default for LocalEmbedder {
    fn default() -> Self {
        Self::new(DEFAULT_DIMENSIONS)
    }
}

impl LocalEmbedder {
    /// An embedder producing vectors of `dimensions` (at least 1).
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions: dimensions.max(1),
        }
    }

    /// Embeds one text synchronously.
    pub fn embed_sync(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dimensions];
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut add = |feature: &[u8], weight: f32| {
            let h = fnv1a(feature);
            let index = usize::try_from(h % self.dimensions as u64).unwrap_or_default();
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[index] += sign * weight;
        };
        for w in &words {
            add(w.as_bytes(), 1.0);
            let chars: Vec<char> = format!(" {w} ").chars().collect();
            for tri in chars.windows(3) {
                add(tri.iter().collect::<String>().as_bytes(), 0.5);
            }
        }
        for pair in words.windows(2) {
            add(format!("{} {}", pair[0], pair[1]).as_bytes(), 0.7);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn id(&self) -> &str {
        "local"
    }

    fn model(&self) -> &str {
        LOCAL_EMBEDDING_MODEL
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Small inputs (a query) are embedded in place; batches of more than
    /// [`INLINE_EMBED_BYTES`] on a blocking thread, so ingestion never holds up the async
    /// runtime.
    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        if texts.iter().map(String::len).sum::<usize>() <= INLINE_EMBED_BYTES {
            return Ok(texts.iter().map(|t| self.embed_sync(t)).collect());
        }
        let embedder = *self;
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || texts.iter().map(|t| embedder.embed_sync(t)).collect())
            .await
            .map_err(|e| ProviderError::Permanent(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::llm::{ChatMessage, Source};

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn embeddings_are_normalized_deterministic_and_similar_for_similar_text() {
        let e = LocalEmbedder::default();
        let a = e.embed_sync("How do I reset my password?");
        assert_eq!(a, e.embed_sync("How do I reset my password?"));
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        let near = e.embed_sync("reset password");
        let far = e.embed_sync("shipping to Canada");
        assert!(cosine(&a, &near) > cosine(&a, &far));
        assert!(e.embed_sync("").iter().all(|x| *x == 0.0));
    }

    fn source(n: usize, label: &str, text: &str) -> Source {
        Source {
            n,
            label: label.into(),
            text: text.into(),
        }
    }

    fn asking(question: &str, sources: Option<Vec<Source>>) -> ChatRequest {
        ChatRequest {
            model: "local".into(),
            messages: vec![ChatMessage::system("Be nice."), ChatMessage::user(question)],
            max_tokens: 100,
            sources,
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn local_provider_never_invents_an_answer() {
        let question = "What is the refund window?";
        for sources in [None, Some(Vec::new())] {
            let none = LocalProvider
                .complete(&asking(question, sources))
                .await
                .unwrap();
            assert_eq!(none.text, LocalProvider::NO_ANSWER);
        }
        let refunds = Some(vec![source(1, "Policy", "The refund window is 30 days.")]);
        let some = LocalProvider
            .complete(&asking(question, refunds.clone()))
            .await
            .unwrap();
        assert_eq!(some.text, "The refund window is 30 days. [1]");
        assert!(some.usage.prompt_tokens > 0);

        use futures::StreamExt as _;
        let events: Vec<ChatEvent> = LocalProvider
            .stream(&asking(question, refunds))
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        let (last, deltas) = events.split_last().unwrap();
        assert!(matches!(last, ChatEvent::Finished { .. }));
        let text: String = deltas
            .iter()
            .map(|e| match e {
                ChatEvent::TextDelta(d) => d.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(deltas.len(), 7, "word by word");
        assert_eq!(text, "The refund window is 30 days. [1]");
    }

    #[tokio::test]
    async fn numbered_sources_get_an_extractive_answer_citing_the_best_one() {
        let sources = vec![
            source(
                1,
                "Shop guide › Refunds",
                "Keep your receipt. Refunds are paid within five days of the return. \
                 We love our customers.",
            ),
            source(2, "Shop guide › Shipping", "Shipping is free."),
        ];
        let answer = LocalProvider
            .complete(&asking(
                "How many days until refunds are paid?",
                Some(sources),
            ))
            .await
            .unwrap();
        assert_eq!(
            answer.text,
            "Refunds are paid within five days of the return. [1]"
        );
    }
}
