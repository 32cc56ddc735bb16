//! A streamed answer as server-sent events (WHATWG HTML §9.2), parsed by
//! `eventsource-stream`, with the idle and total timeouts applied to every piece, at most
//! [`MAX_STREAM_BYTES`] read (a server streaming without end cannot exhaust memory), and the
//! request's secrets scrubbed from every event (a provider may quote the key in an error).

use std::collections::VecDeque;
use std::time::Duration;

use botbuilder_core::llm::{ChatEvent, ChatStream, ProviderError};
use eventsource_stream::{Event, Eventsource as _};
use futures::stream::{BoxStream, StreamExt as _};
use tokio::time::Instant;

use super::{Opened, transient};

/// SSE events of a response; a failure (network, timeout, bad UTF-8) ends the stream.
pub(crate) type Events = BoxStream<'static, Result<Event, ProviderError>>;

/// Most bytes of one streamed answer read.
pub const MAX_STREAM_BYTES: usize = 8 * 1024 * 1024;

/// Why the byte stream stopped.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error(transparent)]
    Network(#[from] reqwest::Error),
    #[error("the answer stream passed {MAX_STREAM_BYTES} bytes")]
    TooLarge,
}

/// The events of `opened`, each awaited at most `idle` and all before the call's deadline;
/// `secrets` are replaced in every event's data.
pub(crate) fn events(opened: Opened, idle: Duration, secrets: Vec<String>) -> Events {
    let deadline = opened.deadline;
    let secrets = std::sync::Arc::new(secrets);
    let capped = opened.response.bytes_stream().scan(0usize, |read, chunk| {
        let item = match chunk {
            Ok(bytes) if *read + bytes.len() > MAX_STREAM_BYTES => Err(BodyError::TooLarge),
            Ok(bytes) => {
                *read += bytes.len();
                Ok(bytes)
            }
            Err(e) => Err(BodyError::Network(e)),
        };
        futures::future::ready(Some(item))
    });
    let inner = capped.eventsource();
    futures::stream::unfold(Some(inner), move |state| {
        let secrets = secrets.clone();
        async move {
            let mut inner = state?;
            let wait = deadline.min(Instant::now() + idle);
            match tokio::time::timeout_at(wait, inner.next()).await {
                Err(_) => Some((
                    Err(transient("the provider stopped sending its answer")),
                    None,
                )),
                Ok(None) => None,
                Ok(Some(Ok(mut event))) => {
                    for secret in secrets.iter() {
                        if event.data.contains(secret.as_str()) {
                            event.data = event.data.replace(secret.as_str(), "[redacted]");
                        }
                    }
                    Some((Ok(event), Some(inner)))
                }
                Ok(Some(Err(e))) => Some((
                    Err(transient(format!("the answer stream broke: {e}"))),
                    None,
                )),
            }
        }
    })
    .boxed()
}

/// Turns one provider's SSE events into chat events.
pub(crate) trait Assembler: Send + 'static {
    /// The chat events one SSE event completes (an `Err` ends the stream).
    fn on_event(&mut self, event: &Event) -> Result<Vec<ChatEvent>, ProviderError>;
    /// Whether the answer is complete (the terminator arrived): the stream ends here.
    fn is_done(&self) -> bool;
    /// The body ended without the terminator: the closing events, or why the answer is
    /// incomplete.
    fn on_end(&mut self) -> Result<Vec<ChatEvent>, ProviderError>;
}

/// The chat events `assembler` makes of `events`. Dropping the stream drops the response,
/// which closes the connection and so aborts the upstream request.
pub(crate) fn chat_stream(events: Events, assembler: impl Assembler) -> ChatStream {
    struct State<A> {
        events: Option<Events>,
        assembler: A,
        ready: VecDeque<Result<ChatEvent, ProviderError>>,
    }
    let state = State {
        events: Some(events),
        assembler,
        ready: VecDeque::new(),
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.ready.pop_front() {
                return Some((item, state));
            }
            let events = state.events.as_mut()?;
            let (produced, ended) = match events.next().await {
                Some(Ok(event)) => (state.assembler.on_event(&event), false),
                Some(Err(e)) => (Err(e), true),
                None => (state.assembler.on_end(), true),
            };
            let finished = match produced {
                Ok(items) => {
                    state.ready.extend(items.into_iter().map(Ok));
                    ended || state.assembler.is_done()
                }
                Err(e) => {
                    state.ready.push_back(Err(e));
                    true
                }
            };
            if finished {
                state.events = None; // closes the connection
            }
        }
    })
    .boxed()
}
