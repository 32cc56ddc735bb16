//! One language model call, streamed into the turn's listener when there is one.

use futures::StreamExt as _;

use super::{DeltaSender, TurnEvent};
use crate::llm::{ChatEvent, ChatRequest, LlmProvider, ProviderError, ToolCall, Usage};

/// How a call ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// A whole answer (possibly asking for tools).
    Answered {
        text: String,
        usage: Usage,
        tool_calls: Vec<ToolCall>,
    },
    /// The stream broke after `text` reached the listener.
    Interrupted { text: String, error: ProviderError },
    /// The listener went away: the upstream call was dropped (which aborts it) after `text`.
    Abandoned { text: String },
    /// Nothing was shown; another provider may be tried.
    Failed(ProviderError),
}

/// Calls `provider`, streaming text into `deltas` when given.
pub(super) async fn call(
    provider: &dyn LlmProvider,
    request: &ChatRequest,
    deltas: Option<&DeltaSender>,
) -> Outcome {
    let Some(deltas) = deltas else {
        return match provider.complete(request).await {
            Ok(response) => Outcome::Answered {
                text: response.text,
                usage: response.usage,
                tool_calls: response.tool_calls,
            },
            Err(error) => Outcome::Failed(error),
        };
    };
    let mut stream = match provider.stream(request).await {
        Ok(stream) => stream,
        Err(error) => return Outcome::Failed(error),
    };
    let mut text = String::new();
    let mut usage = Usage::default();
    let mut tool_calls = Vec::new();
    loop {
        let event = tokio::select! {
            // Nobody listens any more: dropping the stream aborts the upstream request.
            () = deltas.closed() => return Outcome::Abandoned { text },
            event = stream.next() => event,
        };
        match event {
            None => break,
            Some(Ok(ChatEvent::TextDelta(delta))) => {
                text.push_str(&delta);
                if deltas.send(Ok(TurnEvent::TextDelta(delta))).await.is_err() {
                    return Outcome::Abandoned { text };
                }
            }
            Some(Ok(ChatEvent::ToolCall(call))) => tool_calls.push(call),
            Some(Ok(ChatEvent::Finished {
                usage: reported, ..
            })) => usage = reported,
            Some(Err(error)) if text.is_empty() => return Outcome::Failed(error),
            Some(Err(error)) => return Outcome::Interrupted { text, error },
        }
    }
    Outcome::Answered {
        text,
        usage,
        tool_calls,
    }
}
