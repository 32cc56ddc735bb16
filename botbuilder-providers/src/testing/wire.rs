//! How each API writes a scripted answer, so one conformance suite drives every provider:
//! [`Wire`] renders a [`ScriptedAnswer`] as that API's JSON body and SSE events, and its
//! errors in that API's error shape.

use std::sync::Arc;

use botbuilder_core::llm::LlmProvider;
use serde_json::{Value, json};

use crate::catalog::ModelCatalog;
use crate::http::{FetchPolicy, GuardedFetcher};
use crate::remote::{ApiKey, HttpOptions};

/// A tool call as the fake model makes it: its arguments in pieces, as they are streamed.
#[derive(Debug, Clone)]
pub struct ScriptedCall {
    /// The call's id.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments' JSON text, cut in pieces.
    pub argument_pieces: Vec<String>,
}

/// What the fake model answers.
#[derive(Debug, Clone, Default)]
pub struct ScriptedAnswer {
    /// The text, in the pieces it is streamed in.
    pub text: Vec<String>,
    /// Tool calls after the text.
    pub calls: Vec<ScriptedCall>,
    /// Prompt and completion tokens reported.
    pub usage: (u32, u32),
}

impl ScriptedAnswer {
    /// A text answer streamed in `pieces`, with the given usage.
    pub fn text(pieces: &[&str], usage: (u32, u32)) -> Self {
        Self {
            text: pieces.iter().map(|p| (*p).to_owned()).collect(),
            calls: Vec::new(),
            usage,
        }
    }

    /// The whole text.
    pub fn full_text(&self) -> String {
        self.text.concat()
    }
}

/// A provider that can also be printed (to check it never prints its key).
pub trait DebugProvider: LlmProvider + std::fmt::Debug {}

impl<T: LlmProvider + std::fmt::Debug> DebugProvider for T {}

/// One provider's wire format, and how to build the provider under test.
pub trait Wire: Send + Sync {
    /// A provider talking to the fake at `base_url` (whose address `policy` allows) with
    /// `key` and `options`.
    fn provider(
        &self,
        base_url: &str,
        key: &str,
        options: HttpOptions,
        policy: FetchPolicy,
    ) -> Arc<dyn DebugProvider>;
    /// The path requests go to.
    fn path(&self) -> &'static str;
    /// The header that carries the key, and its value for `key`.
    fn auth_header(&self, key: &str) -> (&'static str, String);
    /// Other headers every request must carry.
    fn required_headers(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
    /// The answer as a whole JSON body.
    fn answer_json(&self, answer: &ScriptedAnswer) -> String;
    /// The answer as SSE events (one string per event); without the closing terminator
    /// when `terminated` is false.
    fn answer_events(&self, answer: &ScriptedAnswer, terminated: bool) -> Vec<String>;
    /// An error body (`kind` being the API's error type).
    fn error_body(&self, kind: &str, message: &str) -> String;
    /// An error event in the middle of a stream.
    fn error_event(&self, kind: &str, message: &str) -> String;
}

fn guarded(policy: FetchPolicy) -> GuardedFetcher {
    GuardedFetcher::new(policy).expect("a fetcher")
}

/// OpenAI Chat Completions, as `openai-compatible`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiWire;

impl Wire for OpenAiWire {
    fn provider(
        &self,
        base_url: &str,
        key: &str,
        options: HttpOptions,
        policy: FetchPolicy,
    ) -> Arc<dyn DebugProvider> {
        let mut config = crate::openai::OpenAiConfig::compatible(
            reqwest::Url::parse(&format!("{base_url}/v1")).expect("url"),
            Some(ApiKey::new(key)),
        );
        config.options = options;
        Arc::new(
            crate::openai::OpenAiProvider::new(
                config,
                guarded(policy),
                Arc::new(ModelCatalog::default()),
            )
            .expect("provider"),
        )
    }

    fn path(&self) -> &'static str {
        "/v1/chat/completions"
    }

    fn auth_header(&self, key: &str) -> (&'static str, String) {
        ("authorization", format!("Bearer {key}"))
    }

    fn answer_json(&self, answer: &ScriptedAnswer) -> String {
        let calls: Vec<Value> = answer
            .calls
            .iter()
            .map(|c| {
                json!({ "id": c.id, "type": "function",
                    "function": { "name": c.name, "arguments": c.argument_pieces.concat() } })
            })
            .collect();
        let finish = if calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        let mut message = json!({ "role": "assistant", "content": answer.full_text() });
        if !calls.is_empty() {
            message["tool_calls"] = Value::Array(calls);
        }
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
            "usage": { "prompt_tokens": answer.usage.0, "completion_tokens": answer.usage.1,
                "total_tokens": answer.usage.0 + answer.usage.1 }
        })
        .to_string()
    }

    fn answer_events(&self, answer: &ScriptedAnswer, terminated: bool) -> Vec<String> {
        let chunk = |choices: Value, usage: Value| {
            format!(
                "data: {}\n\n",
                json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                    "model": "m", "choices": choices, "usage": usage })
            )
        };
        let mut events = vec![chunk(
            json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }]),
            Value::Null,
        )];
        for piece in &answer.text {
            events.push(chunk(
                json!([{ "index": 0, "delta": { "content": piece }, "finish_reason": null }]),
                Value::Null,
            ));
        }
        for (index, call) in answer.calls.iter().enumerate() {
            for (n, piece) in call.argument_pieces.iter().enumerate() {
                let fragment = if n == 0 {
                    json!({ "index": index, "id": call.id, "type": "function",
                        "function": { "name": call.name, "arguments": piece } })
                } else {
                    json!({ "index": index, "function": { "arguments": piece } })
                };
                events.push(chunk(
                    json!([{ "index": 0, "delta": { "tool_calls": [fragment] }, "finish_reason": null }]),
                    Value::Null,
                ));
            }
        }
        let finish = if answer.calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        events.push(chunk(
            json!([{ "index": 0, "delta": {}, "finish_reason": finish }]),
            Value::Null,
        ));
        events.push(chunk(
            json!([]),
            json!({ "prompt_tokens": answer.usage.0, "completion_tokens": answer.usage.1,
                "total_tokens": answer.usage.0 + answer.usage.1 }),
        ));
        if terminated {
            events.push("data: [DONE]\n\n".to_owned());
        }
        events
    }

    fn error_body(&self, kind: &str, message: &str) -> String {
        json!({ "error": { "message": message, "type": kind, "param": null, "code": null } })
            .to_string()
    }

    fn error_event(&self, kind: &str, message: &str) -> String {
        format!(
            "data: {}\n\n",
            json!({ "error": { "message": message, "type": kind } })
        )
    }
}

/// Anthropic Messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnthropicWire;

fn named(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

impl Wire for AnthropicWire {
    fn provider(
        &self,
        base_url: &str,
        key: &str,
        options: HttpOptions,
        policy: FetchPolicy,
    ) -> Arc<dyn DebugProvider> {
        let mut config = crate::anthropic::AnthropicConfig::new(ApiKey::new(key));
        config.base_url = reqwest::Url::parse(base_url).expect("url");
        config.options = options;
        Arc::new(
            crate::anthropic::AnthropicProvider::new(
                config,
                guarded(policy),
                Arc::new(ModelCatalog::default()),
            )
            .expect("provider"),
        )
    }

    fn path(&self) -> &'static str {
        "/v1/messages"
    }

    fn auth_header(&self, key: &str) -> (&'static str, String) {
        ("x-api-key", key.to_owned())
    }

    fn required_headers(&self) -> Vec<(&'static str, &'static str)> {
        vec![("anthropic-version", crate::anthropic::API_VERSION)]
    }

    fn answer_json(&self, answer: &ScriptedAnswer) -> String {
        let mut content = vec![json!({ "type": "text", "text": answer.full_text() })];
        content.extend(answer.calls.iter().map(|c| {
            json!({ "type": "tool_use", "id": c.id, "name": c.name,
                "input": serde_json::from_str::<Value>(&c.argument_pieces.concat()).unwrap_or_default() })
        }));
        let stop = if answer.calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": content, "stop_reason": stop, "stop_sequence": null,
            "usage": { "input_tokens": answer.usage.0, "output_tokens": answer.usage.1 }
        })
        .to_string()
    }

    fn answer_events(&self, answer: &ScriptedAnswer, terminated: bool) -> Vec<String> {
        let mut events = vec![named(
            "message_start",
            &json!({ "type": "message_start", "message": { "id": "msg_1", "type": "message",
                "role": "assistant", "content": [], "model": "m", "stop_reason": null,
                "usage": { "input_tokens": answer.usage.0, "output_tokens": 1 } } }),
        )];
        events.push(named(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "text", "text": "" } }),
        ));
        events.push(named("ping", &json!({ "type": "ping" })));
        for piece in &answer.text {
            events.push(named(
                "content_block_delta",
                &json!({ "type": "content_block_delta", "index": 0,
                    "delta": { "type": "text_delta", "text": piece } }),
            ));
        }
        events.push(named(
            "content_block_stop",
            &json!({ "type": "content_block_stop", "index": 0 }),
        ));
        for (n, call) in answer.calls.iter().enumerate() {
            let index = n + 1;
            events.push(named(
                "content_block_start",
                &json!({ "type": "content_block_start", "index": index,
                    "content_block": { "type": "tool_use", "id": call.id, "name": call.name, "input": {} } }),
            ));
            for piece in &call.argument_pieces {
                events.push(named(
                    "content_block_delta",
                    &json!({ "type": "content_block_delta", "index": index,
                        "delta": { "type": "input_json_delta", "partial_json": piece } }),
                ));
            }
            events.push(named(
                "content_block_stop",
                &json!({ "type": "content_block_stop", "index": index }),
            ));
        }
        let stop = if answer.calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        // Two deltas: usage is cumulative, the last one counts.
        events.push(named(
            "message_delta",
            &json!({ "type": "message_delta", "delta": { "stop_reason": null },
                "usage": { "output_tokens": answer.usage.1 / 2 } }),
        ));
        events.push(named(
            "message_delta",
            &json!({ "type": "message_delta", "delta": { "stop_reason": stop, "stop_sequence": null },
                "usage": { "output_tokens": answer.usage.1 } }),
        ));
        if terminated {
            events.push(named("message_stop", &json!({ "type": "message_stop" })));
        }
        events
    }

    fn error_body(&self, kind: &str, message: &str) -> String {
        json!({ "type": "error", "error": { "type": kind, "message": message } }).to_string()
    }

    fn error_event(&self, kind: &str, message: &str) -> String {
        named(
            "error",
            &json!({ "type": "error", "error": { "type": kind, "message": message } }),
        )
    }
}
