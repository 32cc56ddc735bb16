//! The provider conformance suite: one async function per clause of the provider contract,
//! run against each wire format by [`crate::provider_conformance_suite!`]. Every case talks to
//! a [`FakeServer`] that writes the API's documented JSON and SSE shapes.

use std::sync::Arc;
use std::time::Duration;

use botbuilder_core::llm::{
    ChatEvent, ChatMessage, ChatRequest, FinishReason, LlmProvider, ProviderError, ToolCall,
    ToolSpec, Usage,
};
use futures::StreamExt as _;
use serde_json::json;

use super::fake_server::{FakeServer, Step};
use super::wire::{DebugProvider, ScriptedAnswer, ScriptedCall, Wire};
use crate::http::FetchPolicy;
use crate::remote::{HttpOptions, RetryPolicy, Timeouts};

/// The key every case uses; it must never show up in an error or a `Debug` output.
pub const CANARY_KEY: &str = "sk-canary-0123456789abcdef";

/// Quick retries and timeouts, so failing cases finish fast.
pub fn fast_options() -> HttpOptions {
    HttpOptions {
        timeouts: Timeouts {
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(5),
            total: Duration::from_secs(20),
        },
        retry: RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(2),
        },
    }
}

async fn setup(wire: &dyn Wire) -> (FakeServer, Arc<dyn DebugProvider>) {
    let server = FakeServer::start().await;
    let policy = FetchPolicy {
        allow: vec![server.addr()],
        ..FetchPolicy::default()
    };
    let provider = wire.provider(&server.url(), CANARY_KEY, fast_options(), policy);
    (server, provider)
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "test-model".into(),
        messages: vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hello?"),
        ],
        temperature: 0.2,
        max_tokens: 100,
        ..ChatRequest::default()
    }
}

fn hello() -> ScriptedAnswer {
    ScriptedAnswer::text(&["Hel", "lo ", "there", "!"], (12, 4))
}

fn weather_call() -> ScriptedCall {
    ScriptedCall {
        id: "call_1".into(),
        name: "weather".into(),
        argument_pieces: vec!["{\"ci".into(), "ty\": \"Pa".into(), "ris\"}".into()],
    }
}

/// Text deltas joined, the tool calls, and how the stream ended.
async fn drain(
    provider: &dyn LlmProvider,
    req: &ChatRequest,
) -> (
    String,
    Vec<ToolCall>,
    Result<(Usage, FinishReason), ProviderError>,
) {
    let mut stream = match provider.stream(req).await {
        Ok(stream) => stream,
        Err(e) => return (String::new(), Vec::new(), Err(e)),
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut end = Err(ProviderError::Transient("no Finished event".into()));
    while let Some(event) = stream.next().await {
        match event {
            Ok(ChatEvent::TextDelta(delta)) => text.push_str(&delta),
            Ok(ChatEvent::ToolCall(call)) => calls.push(call),
            Ok(ChatEvent::Finished { usage, reason }) => end = Ok((usage, reason)),
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(e) => {
                end = Err(e);
                break;
            }
        }
    }
    (text, calls, end)
}

/// A whole answer: text and usage come back; the request carries the key, the API's own
/// headers and the prompt.
pub async fn completes_with_text_and_usage(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(Step::json(200, wire.answer_json(&hello())));
    let answer = provider.complete(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello there!");
    assert_eq!(
        answer.usage,
        Usage {
            prompt_tokens: 12,
            completion_tokens: 4
        }
    );
    assert_eq!(answer.finish_reason, FinishReason::Stop);
    let sent = &server.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, wire.path());
    let (name, value) = wire.auth_header(CANARY_KEY);
    assert_eq!(sent.header(name), Some(value.as_str()));
    for (name, value) in wire.required_headers() {
        assert_eq!(sent.header(name), Some(value), "{name}");
    }
    let body = sent.json();
    assert_eq!(body["model"], "test-model");
    assert!(
        body.to_string().contains("Be brief."),
        "the system prompt is sent"
    );
    assert!(body.to_string().contains("Hello?"));
}

/// A streamed answer: the text in order, then `Finished` with the reported usage.
pub async fn streams_text_in_order_with_usage(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(Step::events(wire.answer_events(&hello(), true)));
    let (text, calls, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    assert_eq!(text, "Hello there!");
    assert!(calls.is_empty());
    let (usage, reason) = end.unwrap();
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 12,
            completion_tokens: 4
        },
        "the last cumulative count"
    );
    assert_eq!(reason, FinishReason::Stop);
    assert_eq!(server.requests()[0].json()["stream"], true);
}

/// Events (and characters) split across TCP writes are put back together.
pub async fn reassembles_events_split_across_writes(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let answer = ScriptedAnswer::text(&["Grüße, ", "мир ", "🤖"], (3, 3));
    server.push(Step::events_in_pieces(wire.answer_events(&answer, true), 7));
    let (text, _, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    assert_eq!(text, "Grüße, мир 🤖");
    assert!(end.is_ok());
}

/// Tool definitions are sent; tool calls come back whole, from fragments when streamed.
pub async fn tool_calls_are_assembled(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let mut req = request();
    req.tools.push(ToolSpec {
        name: "weather".into(),
        description: "The weather in a city".into(),
        parameters: json!({ "type": "object", "properties": { "city": { "type": "string" } } }),
    });
    let answer = ScriptedAnswer {
        text: vec!["Let me check.".into()],
        calls: vec![weather_call()],
        usage: (20, 9),
    };
    let expected = ToolCall {
        id: "call_1".into(),
        name: "weather".into(),
        arguments: r#"{"city": "Paris"}"#.into(),
    };
    server.push(Step::events(wire.answer_events(&answer, true)));
    let (text, calls, end) = drain(provider.as_ref() as &dyn LlmProvider, &req).await;
    assert_eq!(text, "Let me check.");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, expected.id);
    assert_eq!(calls[0].name, expected.name);
    let parsed: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(parsed, json!({ "city": "Paris" }));
    assert_eq!(end.unwrap().1, FinishReason::ToolCalls);
    assert!(
        server.requests()[0].body.contains("The weather in a city"),
        "the tool is described to the model"
    );

    server.push(Step::json(200, wire.answer_json(&answer)));
    let whole = provider.complete(&req).await.unwrap();
    assert_eq!(whole.tool_calls.len(), 1);
    assert_eq!(whole.tool_calls[0].name, "weather");
    let parsed: serde_json::Value = serde_json::from_str(&whole.tool_calls[0].arguments).unwrap();
    assert_eq!(parsed, json!({ "city": "Paris" }));
    assert_eq!(whole.finish_reason, FinishReason::ToolCalls);
}

/// A 429 with a short `Retry-After` is waited out and retried.
pub async fn rate_limits_are_waited_out(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(
        Step::json(429, wire.error_body("rate_limit_error", "slow down"))
            .with_header("retry-after", "1"),
    );
    server.push(Step::json(200, wire.answer_json(&hello())));
    let started = std::time::Instant::now();
    let answer = provider.complete(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello there!");
    assert_eq!(server.requests().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After was honoured"
    );
}

/// A `Retry-After` longer than the policy allows ends the call at once, with the hint.
pub async fn long_rate_limits_are_reported_not_waited(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(
        Step::json(429, wire.error_body("rate_limit_error", "slow down"))
            .with_header("retry-after", "3600"),
    );
    let error = provider.complete(&request()).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3600)),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// A 5xx is retried; streamed answers too (before any text).
pub async fn server_errors_are_retried(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(Step::json(500, wire.error_body("api_error", "oops")));
    server.push(Step::json(200, wire.answer_json(&hello())));
    assert_eq!(
        provider.complete(&request()).await.unwrap().text,
        "Hello there!"
    );
    server.push(Step::json(503, wire.error_body("overloaded_error", "busy")));
    server.push(Step::events(wire.answer_events(&hello(), true)));
    let (text, _, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    assert_eq!(text, "Hello there!");
    assert!(end.is_ok());
    assert_eq!(server.requests().len(), 4);
}

/// Refused credentials are reported at once, never retried, and the key is not repeated.
pub async fn refused_credentials_are_not_retried(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let echoing = format!("Incorrect API key provided: {CANARY_KEY}");
    server.push(Step::json(
        401,
        wire.error_body("authentication_error", &echoing),
    ));
    let error = provider.complete(&request()).await.unwrap_err();
    assert!(matches!(error, ProviderError::Unauthorized), "{error:?}");
    assert_eq!(server.requests().len(), 1);
    assert!(!format!("{provider:?}").contains(CANARY_KEY));
    assert!(!format!("{error:?}").contains(CANARY_KEY));
}

/// Other 4xx are permanent (with the provider's message, the key removed); a prompt that
/// is too long is recognised as such.
pub async fn bad_requests_are_permanent(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let quoting = format!("model `nope` not found for key {CANARY_KEY}");
    server.push(Step::json(
        404,
        wire.error_body("not_found_error", &quoting),
    ));
    let error = provider.complete(&request()).await.unwrap_err();
    assert!(matches!(error, ProviderError::Permanent(_)), "{error:?}");
    let text = botbuilder_core::error_chain(&error);
    assert!(text.contains("model `nope` not found"), "{text}");
    assert!(!text.contains(CANARY_KEY), "{text}");
    server.push(Step::json(
        400,
        wire.error_body(
            "invalid_request_error",
            "prompt is too long: 250000 tokens > 200000 maximum",
        ),
    ));
    let error = provider.complete(&request()).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::ContextLengthExceeded),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 2, "neither was retried");
}

/// A 2xx body that is not JSON is transient, and not asked again (the answer was paid for).
pub async fn malformed_answers_are_transient(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(Step::json(200, "{\"choices\": [oops"));
    let error = provider.complete(&request()).await.unwrap_err();
    assert!(matches!(error, ProviderError::Transient(_)), "{error:?}");
    assert_eq!(
        server.requests().len(),
        1,
        "a paid answer is never bought twice"
    );
}

/// Absurd `Retry-After` values neither panic nor wait.
pub async fn absurd_retry_hints_are_survived(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(
        Step::json(429, wire.error_body("rate_limit_error", "slow down"))
            .with_header("retry-after", "1e20"),
    );
    let error = provider.complete(&request()).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::RateLimited { .. }),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// An error event quoting the key does not carry it on.
pub async fn keys_quoted_in_stream_errors_are_scrubbed(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let mut events = wire.answer_events(&hello(), true);
    events.truncate(2);
    events.push(wire.error_event("api_error", &format!("bad key {CANARY_KEY}")));
    server.push(Step::events(events));
    let (_, _, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    let error = end.unwrap_err();
    assert!(
        !botbuilder_core::error_chain(&error).contains(CANARY_KEY),
        "{error:?}"
    );
}

/// A stream cut off mid-way yields its text, then an error (not a `Finished`).
pub async fn a_cut_stream_ends_in_an_error(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let events = wire.answer_events(&hello(), true);
    server.push(Step::events(events[..events.len() / 2].to_vec()));
    let (text, _, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    assert!(
        !text.is_empty() && "Hello there!".starts_with(&text),
        "{text}"
    );
    assert!(matches!(end, Err(ProviderError::Transient(_))), "{end:?}");
}

/// A stream whose terminator is missing still ends normally after its stop reason.
pub async fn a_missing_terminator_after_the_stop_reason_is_tolerated(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    server.push(Step::events(wire.answer_events(&hello(), false)));
    let (text, _, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    assert_eq!(text, "Hello there!");
    assert_eq!(end.unwrap().1, FinishReason::Stop);
}

/// An error event in the middle of a stream ends it with that error's class.
pub async fn errors_mid_stream_are_classified(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let mut events = wire.answer_events(&hello(), true);
    events.truncate(3);
    events.push(wire.error_event("overloaded_error", "Overloaded"));
    server.push(Step::events(events.clone()));
    let (_, _, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    assert!(matches!(end, Err(ProviderError::Transient(_))), "{end:?}");
    events.pop();
    events.push(wire.error_event("rate_limit_error", "slow down"));
    server.push(Step::events(events));
    let (_, _, end) = drain(provider.as_ref() as &dyn LlmProvider, &request()).await;
    assert!(
        matches!(end, Err(ProviderError::RateLimited { .. })),
        "{end:?}"
    );
}

/// Dropping the stream closes the connection: the provider stops generating (and billing).
pub async fn dropping_the_stream_aborts_the_request(wire: &dyn Wire) {
    let (server, provider) = setup(wire).await;
    let mut events = wire.answer_events(&hello(), true);
    events.truncate(events.len() / 2); // some text, not the end
    server.push(Step::events(events).hanging());
    let mut stream = provider.stream(&request()).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, ChatEvent::TextDelta(_)), "{first:?}");
    assert_eq!(server.closed_by_client(), 0);
    drop(stream);
    assert!(
        server
            .wait_closed_by_client(1, Duration::from_secs(5))
            .await,
        "the fake saw the connection close"
    );
}

/// Addresses the fetch policy does not allow are never contacted.
pub async fn private_addresses_are_refused_unless_allowed(wire: &dyn Wire) {
    let server = FakeServer::start().await;
    let provider = wire.provider(
        &server.url(),
        CANARY_KEY,
        fast_options(),
        FetchPolicy::default(),
    );
    let error = provider.complete(&request()).await.unwrap_err();
    assert!(matches!(error, ProviderError::Permanent(_)), "{error:?}");
    assert!(botbuilder_core::error_chain(&error).contains("refused"));
    assert!(server.requests().is_empty());
}

/// Expands into one `#[tokio::test]` per clause of the provider contract for a wire format
/// (an expression implementing [`Wire`]).
#[macro_export]
macro_rules! provider_conformance_suite {
    ($wire:expr) => {
        $crate::__provider_cases!($wire;
            completes_with_text_and_usage,
            streams_text_in_order_with_usage,
            reassembles_events_split_across_writes,
            tool_calls_are_assembled,
            rate_limits_are_waited_out,
            long_rate_limits_are_reported_not_waited,
            server_errors_are_retried,
            refused_credentials_are_not_retried,
            bad_requests_are_permanent,
            malformed_answers_are_transient,
            absurd_retry_hints_are_survived,
            keys_quoted_in_stream_errors_are_scrubbed,
            a_cut_stream_ends_in_an_error,
            a_missing_terminator_after_the_stop_reason_is_tolerated,
            errors_mid_stream_are_classified,
            dropping_the_stream_aborts_the_request,
            private_addresses_are_refused_unless_allowed,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __provider_cases {
    ($wire:expr; $($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            $crate::testing::suite::$case(&$wire).await;
        }
    )+};
}
