//! Outbound HTTP as a port. Flow `http_request` nodes, tools, URL imports, channels and customer
//! webhooks call it; the guarded implementation in `botbuilder-providers` refuses private,
//! loopback and link-local targets (also after redirects), and caps time and size.

use std::time::Duration;

use async_trait::async_trait;

use crate::BoxError;

/// The only headers a [`Fetcher`] sends on to another origin after a redirect: any other may
/// carry a credential (`authorization`, `cookie`, a tool's `x-api-key`...), so nothing secret
/// may go in these.
pub const HEADERS_KEPT_ACROSS_ORIGINS: [&str; 4] =
    ["accept", "accept-language", "content-type", "user-agent"];

/// Headers a caller may not set: the connection's own (`host` would send the request to
/// another site than its URL names, on a shared address).
pub const RESERVED_HEADERS: [&str; 9] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
];

/// A request to send. Its `Debug` shows header names only: values may be credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Absolute `http` or `https` URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// Body to send.
    pub body: Option<String>,
    /// Give up after this long.
    pub timeout: Duration,
    /// Refuse a response body larger than this many bytes; `None` takes the fetcher's
    /// default (implementations may cap it further).
    pub max_body_bytes: Option<usize>,
    /// Follow redirects (each target checked again); `false` returns a `3xx` as it came
    /// (customer webhooks: a redirect is not an acceptance).
    pub follow_redirects: bool,
    /// Keep at most `max_body_bytes` of the answer and stop reading there instead of failing
    /// with [`FetchError::TooLarge`], and answer with the status and what arrived when the
    /// body fails midway: for callers that judge an answer by its status (customer webhooks).
    pub truncate_body: bool,
}

impl std::fmt::Debug for FetchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("FetchRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body", &self.body.as_ref().map(String::len))
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("follow_redirects", &self.follow_redirects)
            .field("truncate_body", &self.truncate_body)
            .finish()
    }
}

impl FetchRequest {
    /// A `GET` of `url` with no headers, the given timeout and the default size cap.
    pub fn get(url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            method: "GET".to_owned(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout,
            max_body_bytes: None,
            follow_redirects: true,
            truncate_body: false,
        }
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `Retry-After` in delay-seconds form (RFC 9110 §10.2.3), if any: how long a 429 or
    /// 503 asks the caller to wait.
    pub retry_after: Option<Duration>,
    /// The body as received.
    pub body: Vec<u8>,
}

impl FetchResponse {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a fetch failed, sorted by what the caller does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The target is not allowed (private, loopback or link-local address, bad scheme, a
    /// redirect into one of those). Never retry.
    #[error("refused: {0}")]
    Refused(String),
    /// The URL does not parse.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The response exceeded the size cap.
    #[error("response too large")]
    TooLarge,
    /// Network or protocol failure.
    #[error("request failed")]
    Failed(#[source] BoxError),
}

/// Sends outbound HTTP requests on behalf of tenants.
///
/// Contract: implementations must refuse targets that resolve to private, loopback,
/// link-local or otherwise non-public addresses unless explicitly configured, re-check every
/// redirect, enforce the request's timeout, and cap the response size.
#[async_trait]
pub trait Fetcher: Send + Sync + 'static {
    /// Sends one request.
    async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, FetchError>;

    /// Checks, without sending anything, whether `url` may be a target: what can be known
    /// before connecting (the scheme, an address literal; a name is checked when it resolves).
    /// The default admits every URL.
    async fn check_target(&self, url: &str) -> Result<(), FetchError> {
        let _ = url;
        Ok(())
    }
}
