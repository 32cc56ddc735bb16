//! The one error type of the HTTP API, rendered as RFC 9457 `application/problem+json`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use botbuilder_core::BoxError;
use botbuilder_core::auth::AuthError;
use botbuilder_core::rate_limit::RateLimitError;
use botbuilder_core::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request (`email`, `ai_config.temperature`, `permissions[1]`),
    /// or a path/query parameter name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document, as sent to clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI identifying the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Explanation of this occurrence.
    pub detail: String,
    /// Stable machine-readable code (never reworded).
    pub code: String,
    /// The invalid fields, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Everything a handler or middleware can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request body or parameters are invalid; each field is named.
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    /// The request is malformed in a way not tied to one field.
    #[error("{0}")]
    BadRequest(String),
    /// Missing, invalid or expired credentials.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Wrong email or password (the same answer for both).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist (or belongs to another organization).
    #[error("not found")]
    NotFound,
    /// A named thing does not exist (the message says what, and how to find one).
    #[error("{0}")]
    Missing(String),
    /// The method is not supported on this resource.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The body exceeds the configured limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The body's media type is not accepted here (the message says what is).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests; retry after the given time.
    #[error("too many requests; retry later")]
    RateLimited {
        /// When to retry.
        retry_after: Duration,
    },
    /// A dependency is temporarily unavailable.
    #[error("temporarily unavailable; retry later")]
    Unavailable(#[source] BoxError),
    /// An upstream service (a messaging platform) did not answer usably; the message says
    /// which and why. Retry later.
    #[error("{0}")]
    BadGateway(String),
    /// A bug or an unexpected failure; details go to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    /// A body that is not JSON where JSON is expected.
    pub fn expected_json() -> Self {
        Self::UnsupportedMediaType("expected a body of type application/json".to_owned())
    }

    /// A validation error about a single field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The HTTP status and the stable code of this error.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Validation(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound | Self::Missing(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::BadGateway(_) => (StatusCode::BAD_GATEWAY, "upstream_failed"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (status, code) = self.parts();
        Problem {
            kind: format!("urn:botbuilder:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: code.to_owned(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// The stable code of an error status that no [`ApiError`] produced (an extractor's or a
/// layer's response, turned into a problem by the middleware).
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "rate_limited",
        503 => "unavailable",
        504 => "timeout",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// A problem+json response for `status` with `detail`, for errors raised outside the
/// handlers.
pub fn problem_response(status: StatusCode, detail: &str) -> Response {
    let code = code_for_status(status);
    let problem = Problem {
        kind: format!("urn:botbuilder:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        code: code.to_owned(),
        errors: Vec::new(),
    };
    let mut res = (status, serde_json::to_vec(&problem).unwrap_or_default()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    res
}

/// The full error of a 5xx response, left in the response extensions for the logging
/// middleware (the client only sees a generic message).
#[derive(Debug, Clone)]
pub struct ServerErrorDetail(pub Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = self.parts();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, Self::Unauthorized) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"botbuilder\""),
            );
        }
        if let Self::RateLimited { retry_after } = &self {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if status.is_server_error() {
            res.extensions_mut()
                .insert(ServerErrorDetail(Arc::new(self)));
        }
        res
    }
}

impl From<botbuilder_core::validate::Invalid> for ApiError {
    fn from(invalid: botbuilder_core::validate::Invalid) -> Self {
        Self::Validation(
            invalid
                .0
                .into_iter()
                .map(|issue| FieldError::new(issue.field, issue.message))
                .collect(),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(why) => Self::Conflict(why),
            e if e.is_retryable() => Self::Unavailable(Box::new(e)),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::InvalidToken => Self::Unauthorized,
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<RateLimitError> for ApiError {
    fn from(e: RateLimitError) -> Self {
        match e {
            RateLimitError::Limited { retry_after } => Self::RateLimited { retry_after },
            other => Self::Unavailable(Box::new(other)),
        }
    }
}

/// Result alias for handlers.
pub type ApiResult<T, E = ApiError> = Result<T, E>;
