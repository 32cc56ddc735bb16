//! Anthropic Messages API wire types (docs.anthropic.com/en/api/messages), request side
//! strict, response side lenient.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A request body.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a> {
    pub(crate) model: &'a str,
    /// Required by the API.
    pub(crate) max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) system: Option<String>,
    pub(crate) messages: Vec<Message>,
    pub(crate) temperature: f32,
    pub(crate) stream: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tools: Vec<Tool<'a>>,
}

/// A turn; roles alternate, starting with `user`.
#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub(crate) role: &'static str,
    pub(crate) content: Vec<Block>,
}

/// A content block.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
    },
}

/// A tool the model may call.
#[derive(Debug, Serialize)]
pub(crate) struct Tool<'a> {
    pub(crate) name: &'a str,
    pub(crate) description: &'a str,
    pub(crate) input_schema: &'a Value,
}

/// A whole answer (also the `message` of `message_start`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Answer {
    pub(crate) content: Vec<AnswerBlock>,
    pub(crate) stop_reason: Option<String>,
    pub(crate) usage: Option<WireUsage>,
}

/// A block of an answer (`content_block` of `content_block_start` too).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AnswerBlock {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) text: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) input: Option<Value>,
}

/// Token counts; in a stream, `message_start` has the input and `message_delta` the
/// cumulative output.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default)]
pub(crate) struct WireUsage {
    pub(crate) input_tokens: Option<u32>,
    pub(crate) output_tokens: Option<u32>,
    pub(crate) cache_creation_input_tokens: Option<u32>,
    pub(crate) cache_read_input_tokens: Option<u32>,
}

impl WireUsage {
    /// Every prompt token, cached or not.
    pub(crate) fn prompt_tokens(&self) -> Option<u32> {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        parts.iter().any(Option::is_some).then(|| {
            parts
                .iter()
                .flatten()
                .fold(0u32, |a, b| a.saturating_add(*b))
        })
    }
}

/// One streamed event's data.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StreamEvent {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) index: Option<usize>,
    pub(crate) message: Option<Answer>,
    pub(crate) content_block: Option<AnswerBlock>,
    pub(crate) delta: Option<StreamDelta>,
    pub(crate) usage: Option<WireUsage>,
    pub(crate) error: Option<WireError>,
}

/// `delta` of `content_block_delta` and `message_delta`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StreamDelta {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) partial_json: Option<String>,
    pub(crate) stop_reason: Option<String>,
}

/// An error object.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireError {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) message: String,
}
