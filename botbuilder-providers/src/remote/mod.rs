//! HTTP plumbing the remote providers (OpenAI, Anthropic) share: the guarded client,
//! timeouts, retries with backoff, error classification and the SSE byte stream.
//!
//! - **Timeouts** ([`Timeouts`]): connect (the guarded client's 5 s), first byte (until the
//!   response headers), idle (between two pieces of a streamed body) and total (the whole
//!   call, body included).
//! - **Retries** ([`RetryPolicy`]): on 429, 5xx (and Anthropic's 529), timeouts before the
//!   response and connection failures, with exponential backoff and full jitter (a random
//!   pause between zero and `initial_backoff × 2^attempt`, capped at `max_backoff`; see
//!   "Exponential Backoff And Jitter", AWS Architecture Blog, 2015). A `Retry-After` header
//!   (seconds or an HTTP date, RFC 9110 §10.2.3) is waited out when it is at most
//!   `max_retry_after`; a longer one ends the call with [`ProviderError::RateLimited`] at once
//!   (the engine's fallback is better than a long wait). Other 4xx are never retried. A
//!   streamed answer is retried only until its headers arrive; after that a failure ends the
//!   stream.
//! - **Errors** are sorted by what the caller does next ([`classify`]): 401/403 →
//!   `Unauthorized`, 429 → `RateLimited`, 408/409/5xx/529 → `Transient`, a context-length
//!   complaint → `ContextLengthExceeded`, other 4xx → `Permanent` carrying the provider's
//!   message. Error texts never contain the request's credentials.

pub(crate) mod sse;

pub use sse::MAX_STREAM_BYTES;

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use botbuilder_core::fetch::FetchError;
use botbuilder_core::llm::ProviderError;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

use crate::http::GuardedFetcher;

/// How long a call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the response headers arrive.
    pub first_byte: Duration,
    /// Between two pieces of a streamed body.
    pub idle: Duration,
    /// The whole call, body included, retries included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(300),
        }
    }
}

/// When and how often a failed call is repeated (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Repetitions after the first attempt.
    pub max_retries: u32,
    /// Cap of the first pause; doubled per attempt.
    pub initial_backoff: Duration,
    /// Longest pause drawn.
    pub max_backoff: Duration,
    /// Longest `Retry-After` waited out.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: Self = Self {
        max_retries: 0,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        max_retry_after: Duration::ZERO,
    };

    /// The pause before retry number `attempt` (0 for the first retry): full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_backoff);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random_u64() % (nanos + 1))
    }
}

/// A random number from the standard library's randomly keyed hasher (no generator crate
/// for jitter).
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(u64::from(std::process::id()));
    hasher.finish()
}

/// Timeouts and retries of a remote provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpOptions {
    /// See [`Timeouts`].
    pub timeouts: Timeouts,
    /// See [`RetryPolicy`].
    pub retry: RetryPolicy,
}

/// A transient failure with a plain message.
pub(crate) fn transient(message: impl Into<String>) -> ProviderError {
    ProviderError::Transient(message.into().into())
}

/// `Retry-After` as a duration: delta seconds, or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // Anything past a day is a day (and never a panic on absurd values).
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds.min(86_400.0)).ok())
            .flatten();
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The provider's own words from an error body: `error.message` (OpenAI, Anthropic), or an
/// `error` string (some compatible servers), or the body's start.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    message.unwrap_or_else(|| body.chars().take(200).collect())
}

/// Whether an error body says the prompt is too long.
fn says_context_too_long(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    [
        "context_length_exceeded",
        "maximum context length",
        "context window",
        "context length",
        "prompt is too long",
        "too many tokens",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

/// Sorts an error response (see the module docs).
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> ProviderError {
    let message = || format!("HTTP {}: {}", status.as_u16(), error_message(body));
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized,
        429 => ProviderError::RateLimited {
            retry_after: retry_after(headers),
        },
        408 | 409 | 500..=599 => transient(message()),
        400 | 413 | 422 if says_context_too_long(body) => ProviderError::ContextLengthExceeded,
        _ => ProviderError::Permanent(message().into()),
    }
}

/// An error the provider reported inside a body (a mid-stream `error` event, or an error
/// chunk), sorted by its type or code: `authentication_error`/`permission_error` →
/// `Unauthorized`, `rate_limit_error`/`rate_limit_exceeded`/`insufficient_quota` →
/// `RateLimited`, `invalid_request_error`/`not_found_error` → `Permanent` (or
/// `ContextLengthExceeded` when the message says so), anything else (`overloaded_error`,
/// `api_error`, `server_error`) → `Transient`.
pub(crate) fn classify_reported(kind: &str, message: &str) -> ProviderError {
    let text = format!("{kind}: {message}");
    match kind {
        "authentication_error" | "permission_error" | "invalid_api_key" => {
            ProviderError::Unauthorized
        }
        "rate_limit_error" | "rate_limit_exceeded" | "insufficient_quota" => {
            ProviderError::RateLimited { retry_after: None }
        }
        "invalid_request_error" | "not_found_error" | "request_too_large"
            if says_context_too_long(message) =>
        {
            ProviderError::ContextLengthExceeded
        }
        "invalid_request_error" | "not_found_error" | "request_too_large" => {
            ProviderError::Permanent(text.into())
        }
        _ => transient(text),
    }
}

/// A key for a provider's API. `Debug` and `Display` never show it; [`ApiKey::hint`] shows
/// enough to recognise it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A masked form for people (`sk-…abcd`; see [`botbuilder_core::credentials::mask`]).
    pub fn hint(&self) -> String {
        botbuilder_core::credentials::mask(&self.0)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(redacted)")
    }
}

/// Headers carrying `key` as `Authorization: Bearer` (marked sensitive), or none without one.
pub(crate) fn bearer_headers(key: Option<&ApiKey>) -> Result<HeaderMap, ProviderError> {
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| ProviderError::Permanent("the API key is not a valid header".into()))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

/// `base` with `segments` appended to its path (its query, as Azure-style URLs carry, kept).
pub(crate) fn endpoint_url(base: &reqwest::Url, segments: &[&str]) -> reqwest::Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// A failure to reach the provider, as a provider error.
fn unreachable(e: FetchError) -> ProviderError {
    match e {
        FetchError::Refused(why) => {
            ProviderError::Permanent(format!("the provider's address is refused: {why}").into())
        }
        FetchError::InvalidUrl(why) => {
            ProviderError::Permanent(format!("bad provider URL: {why}").into())
        }
        FetchError::Timeout => transient("the provider did not answer in time"),
        other => ProviderError::Transient(Box::new(other)),
    }
}

/// The secrets among `headers`: the values marked sensitive (the key, without a `Bearer `
/// prefix).
pub(crate) fn secrets_of(headers: &HeaderMap) -> Vec<String> {
    headers
        .values()
        .filter(|v| v.is_sensitive())
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_owned())
        .filter(|s| s.len() >= 4)
        .collect()
}

/// `text` with every secret of `headers` replaced: some APIs quote the key they refuse.
fn redacted(text: &str, headers: &HeaderMap) -> String {
    let mut text = text.to_owned();
    for secret in secrets_of(headers) {
        text = text.replace(&secret, "[redacted]");
    }
    text
}

/// A JSON POST to one provider endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) fetcher: GuardedFetcher,
    pub(crate) options: HttpOptions,
}

/// A successful response and the time left for its body.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) response: reqwest::Response,
    pub(crate) deadline: Instant,
}

impl Endpoint {
    /// Sends `body` to `url` with `headers` until a 2xx answer (retrying as the policy says)
    /// and returns it unread.
    pub(crate) async fn open(
        &self,
        url: &reqwest::Url,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Opened, ProviderError> {
        let deadline = Instant::now() + self.options.timeouts.total;
        let body = Bytes::from(
            serde_json::to_vec(body).map_err(|e| ProviderError::Permanent(Box::new(e)))?,
        );
        let retry = self.options.retry;
        let mut attempt = 0;
        loop {
            let failure = match self.attempt(url, headers, body.clone(), deadline).await {
                Ok(response) => return Ok(Opened { response, deadline }),
                Err(failure) => failure,
            };
            let pause = match &failure {
                ProviderError::RateLimited {
                    retry_after: Some(wait),
                } if *wait > retry.max_retry_after => return Err(failure),
                ProviderError::RateLimited {
                    retry_after: Some(wait),
                } => *wait,
                e if e.is_retryable() => retry.backoff(attempt),
                _ => return Err(failure),
            };
            if attempt >= retry.max_retries || Instant::now() + pause >= deadline {
                return Err(failure);
            }
            tracing::debug!(url = %url.path(), attempt, ?pause, "retrying: {failure}");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        url: &reqwest::Url,
        headers: &HeaderMap,
        body: Bytes,
        deadline: Instant,
    ) -> Result<reqwest::Response, ProviderError> {
        let request = self
            .fetcher
            .request(reqwest::Method::POST, url.clone())
            .headers(headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .build()
            .map_err(|e| ProviderError::Permanent(Box::new(e)))?;
        let first_byte = deadline.min(Instant::now() + self.options.timeouts.first_byte);
        let response = tokio::time::timeout_at(first_byte, self.fetcher.execute(request))
            .await
            .map_err(|_| transient("the provider did not answer in time"))?
            .map_err(unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let response_headers = response.headers().clone();
        let body = read_limited(response, deadline, self.options.timeouts.idle, 64 * 1024)
            .await
            .unwrap_or_default();
        let body = redacted(&String::from_utf8_lossy(&body), headers);
        Err(classify(status, &response_headers, &body))
    }

    /// Sends `body` and returns the whole JSON answer (secrets scrubbed). Retries happen only
    /// before a 2xx arrives: a paid answer that comes back damaged is reported, not bought
    /// twice.
    pub(crate) async fn post_json(
        &self,
        url: &reqwest::Url,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Value, ProviderError> {
        let opened = self.open(url, headers, body).await?;
        let bytes = read_limited(
            opened.response,
            opened.deadline,
            self.options.timeouts.idle,
            MAX_ANSWER_BYTES,
        )
        .await?;
        let text = redacted(&String::from_utf8_lossy(&bytes), headers);
        serde_json::from_str::<Value>(&text)
            .map_err(|e| transient(format!("the provider's answer is not JSON: {e}")))
    }
}

/// Largest whole (non-streamed) answer read.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Reads a body within the deadline and idle timeout, up to `limit` bytes.
async fn read_limited(
    response: reqwest::Response,
    deadline: Instant,
    idle: Duration,
    limit: usize,
) -> Result<Vec<u8>, ProviderError> {
    use futures::StreamExt as _;
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    loop {
        let next = tokio::time::timeout_at(deadline.min(Instant::now() + idle), chunks.next())
            .await
            .map_err(|_| transient("the provider stopped sending its answer"))?;
        match next {
            None => return Ok(body),
            Some(Ok(chunk)) if body.len() + chunk.len() <= limit => body.extend_from_slice(&chunk),
            Some(Ok(_)) => return Err(transient("the provider's answer is too large")),
            Some(Err(e)) => return Err(ProviderError::Transient(Box::new(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sorted_by_what_to_do_next() {
        let mut headers = HeaderMap::new();
        let status = |code| StatusCode::from_u16(code).unwrap();
        assert!(matches!(
            classify(status(401), &headers, ""),
            ProviderError::Unauthorized
        ));
        headers.insert("retry-after", "7".parse().unwrap());
        assert!(matches!(
            classify(status(429), &headers, ""),
            ProviderError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            classify(
                status(529),
                &headers,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            ProviderError::Transient(_)
        ));
        let too_long = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        assert!(matches!(
            classify(status(400), &headers, too_long),
            ProviderError::ContextLengthExceeded
        ));
        let refused = classify(
            status(404),
            &headers,
            r#"{"error":{"message":"The model `gpt-9` does not exist"}}"#,
        );
        assert!(matches!(refused, ProviderError::Permanent(_)));
        assert_eq!(
            botbuilder_core::error_chain(&refused),
            "provider refused the request: HTTP 404: The model `gpt-9` does not exist"
        );
    }

    #[test]
    fn keys_are_masked_and_urls_keep_their_query() {
        let key = ApiKey::new("sk-proj-abcdefghijklmnop1234");
        assert_eq!(key.hint(), "sk-…1234");
        assert_eq!(format!("{key:?}"), "ApiKey(redacted)");
        assert_eq!(ApiKey::new("short-key").hint(), "…ey");
        assert_eq!(ApiKey::new("abcdefghijklmnopqrst").hint(), "…qrst");
        let azure = reqwest::Url::parse(
            "https://x.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21",
        )
        .unwrap();
        assert_eq!(
            endpoint_url(&azure, &["chat", "completions"]).as_str(),
            "https://x.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        let ollama = reqwest::Url::parse("http://127.0.0.1:11434/v1/").unwrap();
        assert_eq!(
            endpoint_url(&ollama, &["chat", "completions"]).as_str(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "1.5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_is_jittered_below_a_doubling_cap() {
        let policy = RetryPolicy::default();
        for attempt in 0..6 {
            let cap = policy
                .initial_backoff
                .saturating_mul(1 << attempt)
                .min(policy.max_backoff);
            let draws: Vec<Duration> = (0..50).map(|_| policy.backoff(attempt)).collect();
            assert!(draws.iter().all(|d| *d <= cap));
            assert!(draws.windows(2).any(|w| w[0] != w[1]), "random, not fixed");
        }
        assert_eq!(RetryPolicy::NONE.backoff(3), Duration::ZERO);
    }
}
