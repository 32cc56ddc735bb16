//! Language model port: [`LlmProvider`] (one backend), [`ProviderResolver`] (which backends
//! answer for a bot, primary then fallback) and the request and answer shapes they share.
//!
//! A [`ChatRequest`] carries the prompt as [`ChatMessage`]s, the retrieved knowledge as
//! structured [`Source`]s (each provider places them where its API wants them; the text
//! form is [`render_sources`]) and the [`ToolSpec`]s the model may call. An answer is text
//! and, when the model wants a tool run, [`ToolCall`]s.

mod resolve;

pub use resolve::{ProviderResolver, ProviderStatus, Route, StaticResolver, Unavailable, chain_of};

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
    /// The result of a tool the assistant called (see [`ChatMessage::tool_result`]).
    Tool,
}

/// A call of a tool the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call, echoed back with its result.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as a JSON text (as the model wrote them; not yet validated).
    pub arguments: String,
}

/// A tool the model may call (OpenAI "function", Anthropic "tool").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name (`^[a-zA-Z0-9_-]{1,64}$`).
    pub name: String,
    /// What it does and when to use it, for the model.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// One message of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: ChatRole,
    /// Text (for [`ChatRole::Tool`], the tool's result).
    pub content: String,
    /// Tools the assistant called in this message (assistant messages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call this message answers ([`ChatRole::Tool`] messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message of `role` saying `content`.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(ChatRole::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(ChatRole::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(ChatRole::Assistant, content)
    }

    /// The result of the tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            ..Self::new(ChatRole::Tool, content)
        }
    }
}

/// A passage retrieved from a knowledge base, offered to the model as source `[n]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Its number, cited by the answer as `[n]` (from 1).
    pub n: usize,
    /// Where it comes from: the document's title and heading path (`Guide › Refunds`).
    pub label: String,
    /// The passage.
    pub text: String,
}

/// The sources as a text block, the form every chat API accepts in a system prompt:
/// `[1] label\ntext`, separated by blank lines.
pub fn render_sources(sources: &[Source]) -> String {
    sources
        .iter()
        .map(|s| format!("[{}] {}\n{}", s.n, s.label, s.text.trim()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A completion request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// Model name as the provider knows it.
    pub model: String,
    /// The prompt, oldest message first (system messages first).
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Retrieved knowledge, when the bot answers from knowledge bases: `Some(empty)` means
    /// nothing relevant was found (the system prompt then says to admit it).
    pub sources: Option<Vec<Source>>,
    /// Tools the model may call (empty: none).
    pub tools: Vec<ToolSpec>,
}

impl ChatRequest {
    /// The system text: every system message, then the rendered sources under `Sources:`.
    pub fn system_text(&self) -> String {
        let mut parts: Vec<String> = self
            .messages
            .iter()
            .filter(|m| m.role == ChatRole::System)
            .map(|m| m.content.clone())
            .collect();
        if let Some(sources) = self.sources.as_ref().filter(|s| !s.is_empty()) {
            parts.push(format!("Sources:\n{}", render_sources(sources)));
        }
        parts.join("\n\n")
    }

    /// The text of the newest user message (empty without one).
    pub fn last_user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map_or("", |m| m.content.as_str())
    }
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
}

impl Usage {
    /// Both counts added up.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self
                .completion_tokens
                .saturating_add(other.completion_tokens),
        }
    }
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
    /// The model wants the tools it called run (see [`ChatResponse::tool_calls`]).
    ToolCalls,
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
    /// Tools the model called, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Token counts (zero when the provider reported none).
    pub usage: Usage,
    /// Why it stopped.
    pub finish_reason: FinishReason,
}

impl ChatResponse {
    /// A plain text answer that stopped normally.
    pub fn text(text: impl Into<String>, usage: Usage) -> Self {
        Self {
            text: text.into(),
            tool_calls: Vec::new(),
            usage,
            finish_reason: FinishReason::Stop,
        }
    }
}

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// A piece of text, in order.
    TextDelta(String),
    /// A tool call, complete (fragments are assembled by the provider).
    ToolCall(ToolCall),
    /// Always the last item of a successful stream.
    Finished {
        /// Token counts (zero when the provider reported none).
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
    /// Calls tools ([`ChatRequest::tools`] are ignored otherwise).
    pub tools: bool,
}

impl Capabilities {
    /// These capabilities with native streaming set to `streaming`.
    #[must_use]
    pub const fn with_streaming(mut self, streaming: bool) -> Self {
        self.streaming = streaming;
        self
    }

    /// These capabilities with tool calling set to `tools`.
    #[must_use]
    pub const fn with_tools(mut self, tools: bool) -> Self {
        self.tools = tools;
        self
    }
}

/// List price of a model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Per million prompt tokens.
    pub input_per_mtok: f64,
    /// Per million generated tokens.
    pub output_per_mtok: f64,
}

impl Price {
    /// The cost of `usage` in millionths of a US dollar (a token at $1/M costs 1), rounded
    /// to the nearest.
    pub fn cost_micros(&self, usage: Usage) -> i64 {
        let micros = f64::from(usage.prompt_tokens) * self.input_per_mtok
            + f64::from(usage.completion_tokens) * self.output_per_mtok;
        // Far inside i64 for any real usage; negative prices are refused by the catalog.
        #[allow(clippy::cast_possible_truncation)]
        let rounded = micros.round() as i64;
        rounded
    }
}

/// What the engine needs to know about a model: how much prompt fits and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Context window in tokens (prompt and answer together).
    pub context_window: u32,
    /// List price; `None` for models that cost nothing to call (self-hosted, `local`) or
    /// whose price is unknown.
    pub price: Option<Price>,
}

impl ModelInfo {
    /// Context window assumed for models nobody described.
    pub const DEFAULT_CONTEXT_WINDOW: u32 = 8_192;

    /// An unpriced model with the given window.
    pub const fn unpriced(context_window: u32) -> Self {
        Self {
            context_window,
            price: None,
        }
    }

    /// The cost of `usage`, in micro-dollars (0 when unpriced).
    pub fn cost_micros(&self, usage: Usage) -> i64 {
        self.price.map_or(0, |p| p.cost_micros(usage))
    }
}

impl Default for ModelInfo {
    fn default() -> Self {
        Self::unpriced(Self::DEFAULT_CONTEXT_WINDOW)
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
    /// A network or 5xx failure, or a broken answer; retrying may succeed.
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

    /// Whether another provider of a fallback chain should be tried: the failure belongs to
    /// this provider (busy, down, refusing its credentials), not to the request.
    pub fn warrants_fallback(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Transient(_) | Self::Unauthorized
        )
    }

    /// A short machine-readable name (`rate_limited`, `transient`, `context_length_exceeded`,
    /// `unauthorized`, `permanent`), recorded on replies and in metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Transient(_) => "transient",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::Unauthorized => "unauthorized",
            Self::Permanent(_) => "permanent",
        }
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

    /// Conservative default: no native streaming, no tools.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// The context window and price of `model` (default: [`ModelInfo::default`]).
    fn model_info(&self, model: &str) -> ModelInfo {
        let _ = model;
        ModelInfo::default()
    }

    /// Produces a complete answer.
    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError>;

    /// Streams the answer. The default adapts [`LlmProvider::complete`] into one delta, the
    /// tool calls, and `Finished`, so a backend without native streaming implements one
    /// method.
    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let resp = self.complete(req).await?;
        let mut events = Vec::with_capacity(2 + resp.tool_calls.len());
        if !resp.text.is_empty() {
            events.push(Ok(ChatEvent::TextDelta(resp.text)));
        }
        events.extend(
            resp.tool_calls
                .into_iter()
                .map(|c| Ok(ChatEvent::ToolCall(c))),
        );
        events.push(Ok(ChatEvent::Finished {
            usage: resp.usage,
            reason: resp.finish_reason,
        }));
        Ok(Box::pin(futures::stream::iter(events)))
    }
}
