//! Anthropic's Messages API: `POST {base_url}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01` (docs.anthropic.com/en/api/messages).
//!
//! - The system messages and the retrieved sources go to the top-level `system` field (the
//!   API has no system role); `max_tokens` is always sent (the API requires it).
//! - Roles must alternate starting with `user` ([`alternating`]): consecutive messages of one
//!   role are merged, a conversation opening with the bot loses that opening, and tool
//!   results travel as `tool_result` blocks at the start of the next user turn.
//! - Streaming reads the named events ([`stream`]): text and `input_json_delta` per block,
//!   usage from `message_start` (input) and the last `message_delta` (output, cumulative),
//!   `error` events mid-stream.
//! - Timeouts, retries and error classes (529 `overloaded_error` is transient): see
//!   [`crate::remote`].

mod stream;
pub(crate) mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use botbuilder_core::llm::{
    Capabilities, ChatRequest, ChatResponse, ChatRole, ChatStream, FinishReason, LlmProvider,
    ModelInfo, ProviderError, ToolCall, Usage,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::catalog::{self, ModelCatalog};
use crate::http::GuardedFetcher;
use crate::remote::{ApiKey, Endpoint, HttpOptions, endpoint_url, transient};
use wire::{Answer, Block, Message, Tool};

/// Anthropic's API.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version sent with every request.
pub const API_VERSION: &str = "2023-06-01";

/// Where and how to reach Anthropic.
#[derive(Debug, Clone)]
pub struct AnthropicConfig {
    /// The API root, `/v1/messages` appended.
    pub base_url: reqwest::Url,
    /// The key.
    pub api_key: ApiKey,
    /// Timeouts and retries.
    pub options: HttpOptions,
}

impl AnthropicConfig {
    /// Anthropic itself with `api_key`.
    pub fn new(api_key: ApiKey) -> Self {
        Self {
            base_url: reqwest::Url::parse(DEFAULT_BASE_URL).expect("a valid URL"),
            api_key,
            options: HttpOptions::default(),
        }
    }
}

/// The provider (see the module docs).
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    url: reqwest::Url,
    headers: HeaderMap,
    endpoint: Endpoint,
    catalog: Arc<ModelCatalog>,
}

impl AnthropicProvider {
    /// A provider for `config`, calling out through `fetcher` and describing models from
    /// `catalog`.
    pub fn new(
        config: AnthropicConfig,
        fetcher: GuardedFetcher,
        catalog: Arc<ModelCatalog>,
    ) -> Result<Self, ProviderError> {
        let mut key = HeaderValue::from_str(config.api_key.expose())
            .map_err(|_| ProviderError::Permanent("the API key is not a valid header".into()))?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-api-key"), key);
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        Ok(Self {
            url: endpoint_url(&config.base_url, &["v1", "messages"]),
            headers,
            endpoint: Endpoint {
                fetcher,
                options: config.options,
            },
            catalog,
        })
    }

    fn body(req: &ChatRequest, stream: bool) -> Value {
        let system = req.system_text();
        let body = wire::Request {
            model: &req.model,
            max_tokens: req.max_tokens.max(1),
            system: (!system.is_empty()).then_some(system),
            messages: alternating(req),
            temperature: req.temperature.clamp(0.0, 1.0),
            stream,
            tools: req
                .tools
                .iter()
                .map(|t| Tool {
                    name: &t.name,
                    description: &t.description,
                    input_schema: &t.parameters,
                })
                .collect(),
        };
        serde_json::to_value(body).unwrap_or_default()
    }
}

/// The conversation as alternating `user` / `assistant` turns (see the module docs).
pub(crate) fn alternating(req: &ChatRequest) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for m in &req.messages {
        let (role, mut blocks) = match m.role {
            ChatRole::System => continue,
            ChatRole::User => ("user", text_block(&m.content)),
            ChatRole::Tool => (
                "user",
                vec![Block::ToolResult {
                    tool_use_id: m.tool_call_id.clone().unwrap_or_default(),
                    content: m.content.clone(),
                }],
            ),
            ChatRole::Assistant => {
                let mut blocks = text_block(&m.content);
                blocks.extend(m.tool_calls.iter().map(|c| {
                    Block::ToolUse {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        input: serde_json::from_str(&c.arguments)
                            .unwrap_or_else(|_| Value::Object(serde_json::Map::new())),
                    }
                }));
                ("assistant", blocks)
            }
        };
        if blocks.is_empty() || (out.is_empty() && role == "assistant") {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == role => {
                // Tool results lead their user turn, as the API requires.
                if m.role == ChatRole::Tool {
                    let results = last
                        .content
                        .iter()
                        .take_while(|b| matches!(b, Block::ToolResult { .. }))
                        .count();
                    last.content.splice(results..results, blocks);
                } else {
                    last.content.append(&mut blocks);
                }
            }
            _ => out.push(Message {
                role,
                content: blocks,
            }),
        }
    }
    out
}

fn text_block(text: &str) -> Vec<Block> {
    if text.trim().is_empty() {
        Vec::new()
    } else {
        vec![Block::Text {
            text: text.to_owned(),
        }]
    }
}

/// `stop_reason` as ours.
pub(crate) fn stop_reason(reason: Option<&str>) -> Option<FinishReason> {
    match reason? {
        "" => None,
        "end_turn" | "stop_sequence" | "pause_turn" => Some(FinishReason::Stop),
        "max_tokens" | "model_context_window_exceeded" => Some(FinishReason::Length),
        "tool_use" => Some(FinishReason::ToolCalls),
        "refusal" => Some(FinishReason::ContentFilter),
        _ => Some(FinishReason::Other),
    }
}

#[async_trait]
impl LlmProvider for AnthropicProvider {
    fn id(&self) -> &str {
        catalog::ANTHROPIC
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .with_streaming(true)
            .with_tools(true)
    }

    fn model_info(&self, model: &str) -> ModelInfo {
        self.catalog.info(catalog::ANTHROPIC, model)
    }

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let value = self
            .endpoint
            .post_json(&self.url, &self.headers, &Self::body(req, false))
            .await?;
        if value.get("type").and_then(Value::as_str) == Some("error") {
            let error = value.get("error").cloned().unwrap_or_default();
            let kind = error
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("api_error");
            let message = error.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(crate::remote::classify_reported(kind, message));
        }
        let answer: Answer = serde_json::from_value(value)
            .map_err(|e| transient(format!("unexpected answer shape: {e}")))?;
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in answer.content {
            match block.kind.as_str() {
                "text" => text.push_str(block.text.as_deref().unwrap_or("")),
                "tool_use" => tool_calls.push(ToolCall {
                    id: block.id.unwrap_or_default(),
                    name: block.name.unwrap_or_default(),
                    arguments: block
                        .input
                        .map_or_else(|| "{}".to_owned(), |input| input.to_string()),
                }),
                _ => {}
            }
        }
        let usage = answer.usage.map_or_else(Usage::default, |u| Usage {
            prompt_tokens: u.prompt_tokens().unwrap_or(0),
            completion_tokens: u.output_tokens.unwrap_or(0),
        });
        Ok(ChatResponse {
            text,
            finish_reason: stop_reason(answer.stop_reason.as_deref()).unwrap_or(
                if tool_calls.is_empty() {
                    FinishReason::Stop
                } else {
                    FinishReason::ToolCalls
                },
            ),
            tool_calls,
            usage,
        })
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let opened = self
            .endpoint
            .open(&self.url, &self.headers, &Self::body(req, true))
            .await?;
        let events = crate::remote::sse::events(
            opened,
            self.endpoint.options.timeouts.idle,
            crate::remote::secrets_of(&self.headers),
        );
        Ok(stream::chat_events(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::llm::ChatMessage;

    #[test]
    fn roles_alternate_from_a_user_turn_with_tool_results_first() {
        let mut assistant_call = ChatMessage::assistant("Let me look.");
        assistant_call.tool_calls.push(ToolCall {
            id: "toolu_1".into(),
            name: "order_status".into(),
            arguments: r#"{"order":"A1"}"#.into(),
        });
        let req = ChatRequest {
            model: "claude".into(),
            messages: vec![
                ChatMessage::system("Be brief."),
                ChatMessage::assistant("Hi! How can I help?"),
                ChatMessage::user("Where is my order?"),
                ChatMessage::user("It is A1."),
                assistant_call,
                ChatMessage::tool_result("toolu_1", "shipped"),
            ],
            ..ChatRequest::default()
        };
        let messages = alternating(&req);
        let json = serde_json::to_value(&messages).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                { "role": "user", "content": [
                    { "type": "text", "text": "Where is my order?" },
                    { "type": "text", "text": "It is A1." } ] },
                { "role": "assistant", "content": [
                    { "type": "text", "text": "Let me look." },
                    { "type": "tool_use", "id": "toolu_1", "name": "order_status",
                      "input": { "order": "A1" } } ] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "toolu_1", "content": "shipped" } ] },
            ])
        );
        let body = AnthropicProvider::body(&req, true);
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["max_tokens"], 1, "always sent");
    }
}
