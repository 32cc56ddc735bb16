//! OpenAI Chat Completions, for OpenAI itself and any compatible server (Ollama, vLLM,
//! llama.cpp, LM Studio, Azure-style deployment URLs): `POST {base_url}/chat/completions`
//! with `Authorization: Bearer {key}` (platform.openai.com/docs/api-reference/chat).
//!
//! - The system messages and the retrieved sources go first as one `system` message.
//! - `openai` sends `max_completion_tokens` (and no `temperature` to reasoning models:
//!   `o1`, `o3`, `o4`, `gpt-5`, which refuse it); `openai-compatible` sends `max_tokens`,
//!   which compatible servers expect.
//! - Streaming asks for `stream_options.include_usage`; text is passed on as it arrives, tool
//!   calls are assembled from their fragments by `index` ([`stream`]).
//! - Timeouts, retries and error classes: see [`crate::remote`].

pub mod embed;
mod stream;
pub(crate) mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use botbuilder_core::llm::{
    Capabilities, ChatRequest, ChatResponse, ChatRole, ChatStream, FinishReason, LlmProvider,
    ModelInfo, ProviderError, ToolCall, Usage,
};
use reqwest::header::HeaderMap;

use crate::catalog::{self, ModelCatalog};
use crate::http::GuardedFetcher;
use crate::remote::{ApiKey, Endpoint, HttpOptions, endpoint_url, transient};
pub use embed::OpenAiEmbedder;
use wire::{Completion, FunctionSpec, Message, OutgoingFunction, OutgoingToolCall, Tool};

/// OpenAI's API.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Where and how to reach one OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// [`catalog::OPENAI`] or [`catalog::OPENAI_COMPATIBLE`]: the id the provider reports,
    /// looks its models up under, and which token-limit field it sends.
    pub id: String,
    /// The API root, `/chat/completions` appended (`https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1`).
    pub base_url: reqwest::Url,
    /// The key (compatible servers often need none).
    pub api_key: Option<ApiKey>,
    /// Timeouts and retries.
    pub options: HttpOptions,
}

impl OpenAiConfig {
    /// OpenAI itself with `api_key`.
    pub fn openai(api_key: ApiKey) -> Self {
        Self {
            id: catalog::OPENAI.to_owned(),
            base_url: reqwest::Url::parse(DEFAULT_BASE_URL).expect("a valid URL"),
            api_key: Some(api_key),
            options: HttpOptions::default(),
        }
    }

    /// A compatible server at `base_url`.
    pub fn compatible(base_url: reqwest::Url, api_key: Option<ApiKey>) -> Self {
        Self {
            id: catalog::OPENAI_COMPATIBLE.to_owned(),
            base_url,
            api_key,
            options: HttpOptions::default(),
        }
    }
}

/// The provider (see the module docs).
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    id: String,
    url: reqwest::Url,
    headers: HeaderMap,
    endpoint: Endpoint,
    catalog: Arc<ModelCatalog>,
}

impl OpenAiProvider {
    /// A provider for `config`, calling out through `fetcher` (which decides which addresses
    /// may be reached) and describing models from `catalog`.
    pub fn new(
        config: OpenAiConfig,
        fetcher: GuardedFetcher,
        catalog: Arc<ModelCatalog>,
    ) -> Result<Self, ProviderError> {
        let headers = crate::remote::bearer_headers(config.api_key.as_ref())?;
        Ok(Self {
            url: endpoint_url(&config.base_url, &["chat", "completions"]),
            id: config.id,
            headers,
            endpoint: Endpoint {
                fetcher,
                options: config.options,
            },
            catalog,
        })
    }

    fn is_openai(&self) -> bool {
        self.id == catalog::OPENAI
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> serde_json::Value {
        let reasoning = self.is_openai()
            && ["o1", "o3", "o4", "gpt-5"]
                .iter()
                .any(|p| req.model.starts_with(p));
        let body = wire::Request {
            model: &req.model,
            messages: messages(req),
            temperature: (!reasoning).then_some(req.temperature),
            max_tokens: (!self.is_openai()).then_some(req.max_tokens),
            max_completion_tokens: self.is_openai().then_some(req.max_tokens),
            stream,
            stream_options: stream.then_some(wire::StreamOptions {
                include_usage: true,
            }),
            tools: req
                .tools
                .iter()
                .map(|t| Tool {
                    kind: "function",
                    function: FunctionSpec {
                        name: &t.name,
                        description: &t.description,
                        parameters: &t.parameters,
                    },
                })
                .collect(),
        };
        serde_json::to_value(body).unwrap_or_default()
    }
}

/// The prompt in OpenAI's shape: one system message (instructions and sources), then the
/// conversation.
fn messages(req: &ChatRequest) -> Vec<Message> {
    let mut out = Vec::with_capacity(req.messages.len() + 1);
    let system = req.system_text();
    if !system.is_empty() {
        out.push(plain("system", system));
    }
    for m in &req.messages {
        let message = match m.role {
            ChatRole::System => continue,
            ChatRole::User => plain("user", m.content.clone()),
            ChatRole::Assistant => Message {
                role: "assistant",
                content: (!m.content.is_empty() || m.tool_calls.is_empty())
                    .then(|| m.content.clone()),
                tool_calls: m
                    .tool_calls
                    .iter()
                    .map(|c| OutgoingToolCall {
                        id: c.id.clone(),
                        kind: "function",
                        function: OutgoingFunction {
                            name: c.name.clone(),
                            arguments: c.arguments.clone(),
                        },
                    })
                    .collect(),
                tool_call_id: None,
            },
            ChatRole::Tool => Message {
                tool_call_id: m.tool_call_id.clone(),
                ..plain("tool", m.content.clone())
            },
        };
        out.push(message);
    }
    out
}

fn plain(role: &'static str, content: String) -> Message {
    Message {
        role,
        content: Some(content),
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

/// `finish_reason` as ours (`None` for absent or empty).
pub(crate) fn finish_reason(reason: Option<&str>) -> Option<FinishReason> {
    match reason? {
        "" => None,
        "stop" => Some(FinishReason::Stop),
        "length" => Some(FinishReason::Length),
        "tool_calls" | "function_call" => Some(FinishReason::ToolCalls),
        "content_filter" => Some(FinishReason::ContentFilter),
        _ => Some(FinishReason::Other),
    }
}

pub(crate) fn usage(wire: Option<&wire::WireUsage>) -> Usage {
    wire.map_or_else(Usage::default, |u| Usage {
        prompt_tokens: u.prompt_tokens.unwrap_or(0),
        completion_tokens: u.completion_tokens.unwrap_or(0),
    })
}

/// An error object inside a body.
pub(crate) fn reported_error(error: &serde_json::Value) -> ProviderError {
    let kind = error
        .get("code")
        .and_then(serde_json::Value::as_str)
        .or_else(|| error.get("type").and_then(serde_json::Value::as_str))
        .unwrap_or("server_error");
    let message = error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("");
    crate::remote::classify_reported(kind, message)
}

#[async_trait]
impl LlmProvider for OpenAiProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .with_streaming(true)
            .with_tools(true)
    }

    fn model_info(&self, model: &str) -> ModelInfo {
        self.catalog.info(&self.id, model)
    }

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let value = self
            .endpoint
            .post_json(&self.url, &self.headers, &self.body(req, false))
            .await?;
        let answer: Completion = serde_json::from_value(value)
            .map_err(|e| transient(format!("unexpected answer shape: {e}")))?;
        if let Some(error) = &answer.error {
            return Err(reported_error(error));
        }
        let choice = answer
            .choices
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| transient("the answer has no choices"))?;
        let message = choice.message.unwrap_or_default();
        let tool_calls: Vec<ToolCall> = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, call)| {
                let function = call.function.unwrap_or_default();
                ToolCall {
                    id: call.id.unwrap_or_else(|| format!("call_{i}")),
                    arguments: function.arguments_text(),
                    name: function.name.unwrap_or_default(),
                }
            })
            .collect();
        let finish =
            finish_reason(choice.finish_reason.as_deref()).unwrap_or(if tool_calls.is_empty() {
                FinishReason::Stop
            } else {
                FinishReason::ToolCalls
            });
        Ok(ChatResponse {
            text: message.content.unwrap_or_default(),
            tool_calls,
            usage: usage(answer.usage.as_ref()),
            finish_reason: finish,
        })
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let opened = self
            .endpoint
            .open(&self.url, &self.headers, &self.body(req, true))
            .await?;
        let events = crate::remote::sse::events(
            opened,
            self.endpoint.options.timeouts.idle,
            crate::remote::secrets_of(&self.headers),
        );
        Ok(stream::chat_events(events))
    }
}
