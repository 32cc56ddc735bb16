//! Language model port.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::BoxError;

/// Who said a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions framing the conversation.
    System,
    /// The end user.
    User,
    /// The bot.
    Assistant,
}

/// One message of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: ChatRole,
    /// Text.
    pub content: String,
}

/// A completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// Model name as the provider knows it.
    pub model: String,
    /// The prompt, oldest message first.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The provider filtered the content.
    ContentFilter,
    /// Anything else the provider reported.
    Other,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The generated text.
    pub text: String,
    /// Token counts.
    pub usage: Usage,
    /// Why it stopped.
    pub finish_reason: FinishReason,
}

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// A piece of text, in order.
    TextDelta(String),
    /// Always the last item of a successful stream.
    Finished {
        /// Token counts.
        usage: Usage,
        /// Why it stopped.
        reason: FinishReason,
    },
}

/// A stream of answer events.
pub type ChatStream = BoxStream<'static, Result<ChatEvent, ProviderError>>;

/// What the provider can do beyond plain completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Streams tokens natively (rather than through the default adapter).
    pub streaming: bool,
}

impl Capabilities {
    /// These capabilities with native streaming set to `streaming`.
    #[must_use]
    pub const fn with_streaming(mut self, streaming: bool) -> Self {
        self.streaming = streaming;
        self
    }
}

/// A provider failure, sorted by what the caller should do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// Slow down; retry after the hint if given.
    #[error("rate limited by the provider")]
    RateLimited {
        /// The provider's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// A network or 5xx failure; retrying may succeed.
    #[error("transient provider failure")]
    Transient(#[source] BoxError),
    /// Shrink the prompt and retry.
    #[error("prompt exceeds the model's context window")]
    ContextLengthExceeded,
    /// Fix the credentials; retrying will not help.
    #[error("provider rejected the credentials")]
    Unauthorized,
    /// The request itself is wrong; give up.
    #[error("provider refused the request")]
    Permanent(#[source] BoxError),
}

impl ProviderError {
    /// Whether retrying (after a pause) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_))
    }
}

/// A chat model backend: OpenAI, Anthropic, a local model, or a test double.
///
/// Object safe (held as `Arc<dyn LlmProvider>`, chosen per tenant at runtime). Cancel safe:
/// dropping the future or the stream abandons the upstream call.
#[async_trait]
pub trait LlmProvider: Send + Sync + 'static {
    /// Stable id used in configuration, logs and metrics (`"openai"`, `"local"`).
    fn id(&self) -> &str;

    /// Conservative default: no native streaming.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Produces a complete answer.
    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError>;

    /// Streams the answer. The default adapts [`LlmProvider::complete`] into one delta plus
    /// `Finished`, so a backend without native streaming implements one method.
    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let resp = self.complete(req).await?;
        let events = [
            Ok(ChatEvent::TextDelta(resp.text)),
            Ok(ChatEvent::Finished {
                usage: resp.usage,
                reason: resp.finish_reason,
            }),
        ];
        Ok(Box::pin(futures::stream::iter(events)))
    }
}
