//! Test doubles and backend conformance suites (feature `test-utils`).
//!
//! - [`ManualClock`]: a clock tests move by hand.
//! - [`ScriptedLlm`]: an [`LlmProvider`] that replays canned answers and records prompts.
//! - [`documents`]: PDFs (valid, bombs) built byte by byte for ingestion tests.
//! - [`InMemoryStore`]: every repository in memory, conformant to the store contract.
//! - [`store_suite`]: one async function per clause of the store contract, expanded into one
//!   `#[tokio::test]` per clause for a backend by [`crate::store_conformance_suite!`];
//!   likewise [`queue_suite`], [`rate_limit_suite`] and [`cache_suite`] for job queues, rate
//!   limiters and caches.

pub mod cache_suite;
pub mod documents;
mod memory_store;
pub mod queue_suite;
pub mod rate_limit_suite;
pub mod store_suite;

pub use memory_store::InMemoryStore;

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Clock;
use crate::llm::{
    Capabilities, ChatEvent, ChatRequest, ChatResponse, ChatStream, FinishReason, LlmProvider,
    ModelInfo, ProviderError, ToolCall, Usage,
};

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().expect("clock poisoned");
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().expect("clock poisoned") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock poisoned")
    }
}

/// An [`LlmProvider`] that answers with queued texts or failures (or echoes the last user
/// message when the queue is empty) and records every request it receives. It streams word by
/// word; a queued [`ScriptedLlm::push_broken_stream`] streams some words, then fails.
#[derive(Debug)]
pub struct ScriptedLlm {
    id: String,
    info: ModelInfo,
    delay: std::time::Duration,
    answers: Mutex<VecDeque<Scripted>>,
    requests: Mutex<Vec<ChatRequest>>,
}

#[derive(Debug)]
enum Scripted {
    Answer(String),
    Tools(String, Vec<ToolCall>),
    Failure(ProviderError),
    BrokenStream(String, ProviderError),
}

impl Default for ScriptedLlm {
    fn default() -> Self {
        Self::with_id("scripted")
    }
}

impl ScriptedLlm {
    /// A scripted provider registered under `id` (for example `openai`).
    pub fn with_id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            info: ModelInfo::default(),
            delay: std::time::Duration::ZERO,
            answers: Mutex::default(),
            requests: Mutex::default(),
        }
    }

    /// This provider describing every model as `info` (context window, price).
    #[must_use]
    pub fn with_model_info(mut self, info: ModelInfo) -> Self {
        self.info = info;
        self
    }

    /// This provider taking `delay` for every call (to make calls overlap in tests).
    #[must_use]
    pub fn with_delay(mut self, delay: std::time::Duration) -> Self {
        self.delay = delay;
        self
    }

    fn push(&self, scripted: Scripted) {
        self.answers.lock().expect("poisoned").push_back(scripted);
    }

    /// Queues an answer for a later call.
    pub fn push_answer(&self, text: impl Into<String>) {
        self.push(Scripted::Answer(text.into()));
    }

    /// Queues an answer that calls `calls` (after saying `text`) for a later call.
    pub fn push_tool_calls(&self, text: impl Into<String>, calls: Vec<ToolCall>) {
        self.push(Scripted::Tools(text.into(), calls));
    }

    /// Queues a failure for a later call.
    pub fn push_failure(&self, error: ProviderError) {
        self.push(Scripted::Failure(error));
    }

    /// Queues a stream that delivers `text` word by word, then fails with `error` (a plain
    /// completion fails at once).
    pub fn push_broken_stream(&self, text: impl Into<String>, error: ProviderError) {
        self.push(Scripted::BrokenStream(text.into(), error));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().expect("poisoned").clone()
    }

    fn next(&self, req: &ChatRequest) -> Scripted {
        self.requests.lock().expect("poisoned").push(req.clone());
        let queued = self.answers.lock().expect("poisoned").pop_front();
        queued.unwrap_or_else(|| Scripted::Answer(format!("echo: {}", req.last_user_text())))
    }
}

fn scripted_response(text: String) -> ChatResponse {
    let completion_tokens = u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX);
    ChatResponse::text(
        text,
        Usage {
            prompt_tokens: 1,
            completion_tokens,
        },
    )
}

fn words(text: &str) -> impl Iterator<Item = Result<ChatEvent, ProviderError>> + '_ {
    text.split_inclusive(' ')
        .map(|word| Ok(ChatEvent::TextDelta(word.to_owned())))
}

#[async_trait]
impl LlmProvider for ScriptedLlm {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .with_streaming(true)
            .with_tools(true)
    }

    fn model_info(&self, _model: &str) -> ModelInfo {
        self.info
    }

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let next = self.next(req);
        tokio::time::sleep(self.delay).await;
        match next {
            Scripted::Answer(text) => Ok(scripted_response(text)),
            Scripted::Tools(text, calls) => Ok(ChatResponse {
                tool_calls: calls,
                finish_reason: FinishReason::ToolCalls,
                ..scripted_response(text)
            }),
            Scripted::Failure(error) | Scripted::BrokenStream(_, error) => Err(error),
        }
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let next = self.next(req);
        tokio::time::sleep(self.delay).await;
        let events: Vec<_> = match next {
            Scripted::Failure(error) => return Err(error),
            Scripted::Answer(text) => {
                let answer = scripted_response(text);
                let mut events: Vec<_> = words(&answer.text).collect();
                events.push(Ok(ChatEvent::Finished {
                    usage: answer.usage,
                    reason: answer.finish_reason,
                }));
                events
            }
            Scripted::Tools(text, calls) => {
                let answer = scripted_response(text);
                let mut events: Vec<_> = words(&answer.text).collect();
                events.extend(calls.into_iter().map(|c| Ok(ChatEvent::ToolCall(c))));
                events.push(Ok(ChatEvent::Finished {
                    usage: answer.usage,
                    reason: FinishReason::ToolCalls,
                }));
                events
            }
            Scripted::BrokenStream(text, error) => {
                let mut events: Vec<_> = words(&text).collect();
                events.push(Err(error));
                events
            }
        };
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ChatEvent, ChatMessage};
    use futures::StreamExt;

    #[tokio::test]
    async fn scripted_llm_replays_then_echoes_and_streams() {
        let llm = ScriptedLlm::default();
        llm.push_answer("first");
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![ChatMessage::user("hi")],
            max_tokens: 10,
            ..ChatRequest::default()
        };
        assert_eq!(llm.complete(&req).await.unwrap().text, "first");
        let events: Vec<_> = llm.stream(&req).await.unwrap().collect().await;
        assert_eq!(
            events[0].as_ref().unwrap(),
            &ChatEvent::TextDelta("echo: ".into()),
            "word by word"
        );
        assert_eq!(
            events[1].as_ref().unwrap(),
            &ChatEvent::TextDelta("hi".into())
        );
        assert!(matches!(events[2], Ok(ChatEvent::Finished { .. })));
        assert_eq!(llm.requests().len(), 2);
    }
}
