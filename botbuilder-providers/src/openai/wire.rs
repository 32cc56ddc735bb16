//! OpenAI Chat Completions wire types (platform.openai.com/docs/api-reference/chat), request
//! side strict, response side lenient: every field optional, because compatible servers
//! (vLLM, Ollama, llama.cpp) leave fields out, send `choices: null` in the usage chunk,
//! `finish_reason: ""` or an empty `usage: {}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A request body.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a> {
    pub(crate) model: &'a str,
    pub(crate) messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) temperature: Option<f32>,
    /// For compatible servers (OpenAI deprecated it for `max_completion_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_completion_tokens: Option<u32>,
    pub(crate) stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tools: Vec<Tool<'a>>,
}

/// `stream_options`.
#[derive(Debug, Serialize)]
pub(crate) struct StreamOptions {
    pub(crate) include_usage: bool,
}

/// A prompt message.
#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub(crate) role: &'static str,
    pub(crate) content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<OutgoingToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_call_id: Option<String>,
}

/// A tool call of an earlier assistant message, sent back with the prompt.
#[derive(Debug, Serialize)]
pub(crate) struct OutgoingToolCall {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) function: OutgoingFunction,
}

/// Name and arguments of a call.
#[derive(Debug, Serialize)]
pub(crate) struct OutgoingFunction {
    pub(crate) name: String,
    pub(crate) arguments: String,
}

/// A tool the model may call.
#[derive(Debug, Serialize)]
pub(crate) struct Tool<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) function: FunctionSpec<'a>,
}

/// A function's description.
#[derive(Debug, Serialize)]
pub(crate) struct FunctionSpec<'a> {
    pub(crate) name: &'a str,
    pub(crate) description: &'a str,
    pub(crate) parameters: &'a Value,
}

/// A whole answer, or one chunk of a streamed one (`message` or `delta` per choice).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Completion {
    pub(crate) choices: Option<Vec<Choice>>,
    pub(crate) usage: Option<WireUsage>,
    /// A mid-stream error (vLLM, some proxies).
    pub(crate) error: Option<Value>,
}

/// One choice.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Choice {
    pub(crate) index: Option<u32>,
    pub(crate) message: Option<Delta>,
    pub(crate) delta: Option<Delta>,
    pub(crate) finish_reason: Option<String>,
}

/// A message or a piece of one.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Delta {
    pub(crate) content: Option<String>,
    pub(crate) tool_calls: Option<Vec<IncomingToolCall>>,
}

/// A tool call, or a fragment of one (streamed: `id` and `name` in the first fragment only).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IncomingToolCall {
    pub(crate) index: Option<usize>,
    pub(crate) id: Option<String>,
    pub(crate) function: Option<IncomingFunction>,
}

/// Name and (a piece of the) arguments.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IncomingFunction {
    pub(crate) name: Option<String>,
    /// A JSON text by the spec; some servers send the object itself.
    pub(crate) arguments: Option<Value>,
}

impl IncomingFunction {
    /// The arguments as text, whichever way they came.
    pub(crate) fn arguments_text(&self) -> String {
        match &self.arguments {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// Token counts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireUsage {
    pub(crate) prompt_tokens: Option<u32>,
    pub(crate) completion_tokens: Option<u32>,
}
