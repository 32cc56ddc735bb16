//! Test doubles and backend conformance suites (feature `test-utils`).
//!
//! - [`ManualClock`]: a clock tests move by hand.
//! - [`ScriptedLlm`]: an [`LlmProvider`] that replays canned answers and records prompts.
//! - [`documents`]: PDFs (valid, bombs) built byte by byte for ingestion tests.
//! - [`InMemoryStore`]: every repository in memory, conformant to the store contract.
//! - [`store_suite`]: one async function per clause of the store contract, expanded into one
//!   `#[tokio::test]` per clause for a backend by [`crate::store_conformance_suite!`].

pub mod documents;
mod memory_store;
pub mod queue_suite;
pub mod store_suite;

pub use memory_store::InMemoryStore;

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Clock;
use crate::llm::{
    Capabilities, ChatEvent, ChatRequest, ChatResponse, ChatStream, FinishReason, LlmProvider,
    ProviderError, Usage,
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

/// An [`LlmProvider`] that answers with queued texts (or echoes the last user message when
/// the queue is empty) and records every request it receives. It streams word by word.
#[derive(Debug)]
pub struct ScriptedLlm {
    id: String,
    answers: Mutex<VecDeque<String>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl Default for ScriptedLlm {
    fn default() -> Self {
        Self::with_id("scripted")
    }
}

impl ScriptedLlm {
    /// A scripted provider registered under `id` (for example `openai`, to test pricing).
    pub fn with_id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            answers: Mutex::default(),
            requests: Mutex::default(),
        }
    }

    /// Queues an answer for a later call.
    pub fn push_answer(&self, text: impl Into<String>) {
        self.answers
            .lock()
            .expect("poisoned")
            .push_back(text.into());
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().expect("poisoned").clone()
    }
}

#[async_trait]
impl LlmProvider for ScriptedLlm {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_streaming(true)
    }

    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.requests.lock().expect("poisoned").push(req.clone());
        let queued = self.answers.lock().expect("poisoned").pop_front();
        let text = queued.unwrap_or_else(|| {
            let last = req.messages.last().map(|m| m.content.as_str());
            format!("echo: {}", last.unwrap_or_default())
        });
        let completion_tokens = u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX);
        Ok(ChatResponse {
            text,
            usage: Usage {
                prompt_tokens: 1,
                completion_tokens,
            },
            finish_reason: FinishReason::Stop,
        })
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let answer = self.complete(req).await?;
        let mut events: Vec<Result<ChatEvent, ProviderError>> = answer
            .text
            .split_inclusive(' ')
            .map(|word| Ok(ChatEvent::TextDelta(word.to_owned())))
            .collect();
        events.push(Ok(ChatEvent::Finished {
            usage: answer.usage,
            reason: answer.finish_reason,
        }));
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ChatEvent, ChatMessage, ChatRole};
    use futures::StreamExt;

    #[tokio::test]
    async fn scripted_llm_replays_then_echoes_and_streams() {
        let llm = ScriptedLlm::default();
        llm.push_answer("first");
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: "hi".into(),
            }],
            temperature: 0.0,
            max_tokens: 10,
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
