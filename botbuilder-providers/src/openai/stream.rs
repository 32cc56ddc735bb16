//! A streamed Chat Completion: `data: {chunk}` events ending with `data: [DONE]`. Text deltas
//! pass through as they come; tool call fragments are joined by `index` (the `id` and name
//! come with the first fragment) and emitted whole when the answer ends; usage comes in the
//! last chunk (`choices: []`) when `stream_options.include_usage` was asked for. A body that
//! ends without `[DONE]` still ends the answer normally when a `finish_reason` was seen
//! (some servers omit the terminator); without one the answer is incomplete.

use std::collections::BTreeMap;

use botbuilder_core::llm::{ChatEvent, ChatStream, FinishReason, ProviderError, ToolCall, Usage};
use eventsource_stream::Event;

use super::wire::Completion;
use super::{finish_reason, reported_error, usage};
use crate::remote::sse::{Assembler, Events, chat_stream};
use crate::remote::transient;

/// The chat events of an OpenAI SSE stream.
pub(crate) fn chat_events(events: Events) -> ChatStream {
    chat_stream(events, Assembly::default())
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
struct Assembly {
    calls: BTreeMap<usize, PartialCall>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
}

impl Assembly {
    fn closing(&mut self) -> Vec<ChatEvent> {
        self.done = true;
        let calls = std::mem::take(&mut self.calls);
        let mut events: Vec<ChatEvent> = calls
            .into_iter()
            .map(|(index, call)| {
                ChatEvent::ToolCall(ToolCall {
                    id: if call.id.is_empty() {
                        format!("call_{index}")
                    } else {
                        call.id
                    },
                    name: call.name,
                    arguments: call.arguments,
                })
            })
            .collect();
        let reason = self.finish.unwrap_or(if events.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        });
        events.push(ChatEvent::Finished {
            usage: self.usage.unwrap_or_default(),
            reason,
        });
        events
    }
}

impl Assembler for Assembly {
    fn on_event(&mut self, event: &Event) -> Result<Vec<ChatEvent>, ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(self.closing());
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let chunk: Completion = serde_json::from_str(data)
            .map_err(|e| transient(format!("a malformed chunk in the answer stream: {e}")))?;
        if let Some(error) = &chunk.error {
            return Err(reported_error(error));
        }
        if let Some(reported) = chunk.usage.as_ref() {
            let reported = usage(Some(reported));
            if reported != Usage::default() {
                self.usage = Some(reported);
            }
        }
        let mut out = Vec::new();
        // Only the first choice is followed (the request asks for one).
        for choice in chunk.choices.unwrap_or_default() {
            if choice.index.unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = choice.delta.or(choice.message) {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    out.push(ChatEvent::TextDelta(text));
                }
                for (position, fragment) in
                    delta.tool_calls.unwrap_or_default().into_iter().enumerate()
                {
                    let index = fragment.index.unwrap_or(position);
                    let call = self.calls.entry(index).or_default();
                    if let Some(id) = fragment.id.filter(|id| !id.is_empty()) {
                        call.id = id;
                    }
                    if let Some(function) = fragment.function {
                        if let Some(name) = function.name.as_ref().filter(|n| !n.is_empty()) {
                            call.name.clone_from(name);
                        }
                        call.arguments.push_str(&function.arguments_text());
                    }
                }
            }
            if let Some(reason) = finish_reason(choice.finish_reason.as_deref()) {
                self.finish = Some(reason);
            }
        }
        Ok(out)
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
