//! A streamed Messages answer: named events `message_start`, then per content block
//! `content_block_start` / `content_block_delta`… / `content_block_stop`, then
//! `message_delta` (stop reason, cumulative output tokens) and `message_stop`; `ping` may come
//! anywhere and `error` may come mid-stream (docs.anthropic.com/en/docs/build-with-claude/
//! streaming). Tool input arrives as `input_json_delta` pieces, joined per block and parsed
//! at the block's end. A body that ends without `message_stop` is incomplete unless a stop
//! reason was seen.

use std::collections::BTreeMap;

use botbuilder_core::llm::{ChatEvent, ChatStream, FinishReason, ProviderError, ToolCall, Usage};
use eventsource_stream::Event;

use super::stop_reason;
use super::wire::StreamEvent;
use crate::remote::sse::{Assembler, Events, chat_stream};
use crate::remote::{classify_reported, transient};

/// The chat events of an Anthropic SSE stream.
pub(crate) fn chat_events(events: Events) -> ChatStream {
    chat_stream(events, Assembly::default())
}

#[derive(Debug, Default)]
struct ToolBlock {
    id: String,
    name: String,
    input: String,
}

#[derive(Debug, Default)]
struct Assembly {
    tools: BTreeMap<usize, ToolBlock>,
    prompt_tokens: u32,
    completion_tokens: u32,
    finish: Option<FinishReason>,
    done: bool,
}

impl Assembly {
    fn closing(&mut self) -> Vec<ChatEvent> {
        self.done = true;
        vec![ChatEvent::Finished {
            usage: Usage {
                prompt_tokens: self.prompt_tokens,
                completion_tokens: self.completion_tokens,
            },
            reason: self.finish.unwrap_or(FinishReason::Stop),
        }]
    }
}

impl Assembler for Assembly {
    fn on_event(&mut self, event: &Event) -> Result<Vec<ChatEvent>, ProviderError> {
        if event.data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let data: StreamEvent = serde_json::from_str(&event.data)
            .map_err(|e| transient(format!("a malformed event in the answer stream: {e}")))?;
        // The event name and the data's `type` agree; the data is authoritative.
        let kind = if data.kind.is_empty() {
            event.event.as_str()
        } else {
            data.kind.as_str()
        };
        let index = data.index.unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(usage) = data.message.as_ref().and_then(|m| m.usage) {
                    self.prompt_tokens = usage.prompt_tokens().unwrap_or(0);
                    self.completion_tokens = usage.output_tokens.unwrap_or(0);
                }
                Ok(Vec::new())
            }
            "content_block_start" => {
                let block = data.content_block.unwrap_or_default();
                match block.kind.as_str() {
                    "tool_use" => {
                        self.tools.insert(
                            index,
                            ToolBlock {
                                id: block.id.unwrap_or_default(),
                                name: block.name.unwrap_or_default(),
                                input: String::new(),
                            },
                        );
                        Ok(Vec::new())
                    }
                    _ => Ok(block
                        .text
                        .filter(|t| !t.is_empty())
                        .map(ChatEvent::TextDelta)
                        .into_iter()
                        .collect()),
                }
            }
            "content_block_delta" => {
                let delta = data.delta.unwrap_or_default();
                match delta.kind.as_deref() {
                    Some("text_delta") | None => Ok(delta
                        .text
                        .filter(|t| !t.is_empty())
                        .map(ChatEvent::TextDelta)
                        .into_iter()
                        .collect()),
                    Some("input_json_delta") => {
                        if let Some(tool) = self.tools.get_mut(&index) {
                            tool.input
                                .push_str(delta.partial_json.as_deref().unwrap_or(""));
                        }
                        Ok(Vec::new())
                    }
                    // thinking, signatures, citations: not part of the answer text.
                    Some(_) => Ok(Vec::new()),
                }
            }
            "content_block_stop" => Ok(self
                .tools
                .remove(&index)
                .map(|tool| {
                    let input = tool.input.trim();
                    ChatEvent::ToolCall(ToolCall {
                        id: tool.id,
                        name: tool.name,
                        arguments: if input.is_empty() {
                            "{}".to_owned()
                        } else {
                            input.to_owned()
                        },
                    })
                })
                .into_iter()
                .collect()),
            "message_delta" => {
                if let Some(reason) =
                    stop_reason(data.delta.as_ref().and_then(|d| d.stop_reason.as_deref()))
                {
                    self.finish = Some(reason);
                }
                // Cumulative: the last value is the total, not an increment.
                if let Some(usage) = data.usage {
                    if let Some(output) = usage.output_tokens {
                        self.completion_tokens = output;
                    }
                    if let Some(input) = usage.prompt_tokens().filter(|n| *n > 0) {
                        self.prompt_tokens = input;
                    }
                }
                Ok(Vec::new())
            }
            "message_stop" => Ok(self.closing()),
            "error" => {
                let error = data.error.unwrap_or_default();
                Err(classify_reported(&error.kind, &error.message))
            }
            // `ping`, and event types added later.
            _ => Ok(Vec::new()),
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn on_end(&mut self) -> Result<Vec<ChatEvent>, ProviderError> {
        if self.finish.is_some() {
            Ok(self.closing())
        } else {
            Err(transient("the answer stream ended before the answer did"))
        }
    }
}
