//! Every error response is RFC 9457 problem+json, also those no handler wrote: an axum
//! rejection (415, 422), a layer's answer (413 from the body limit, 408 from the body
//! deadline), a 405. The status and headers (`Retry-After`, `Allow`) are kept; the original
//! text becomes the `detail` of client errors (server errors say nothing more than their
//! status).
//!
//! Under `/v1/` (the OpenAI-compatible API) errors take OpenAI's shape instead, so SDKs
//! report them properly: `{"error":{"message","type","param","code"}}`.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{PROBLEM_JSON, problem_response};

/// A response extension marking an error response whose body is its documented content, not
/// a problem: `/readyz`'s 503 carries the health document load balancers and operators read.
#[derive(Debug, Clone, Copy)]
pub struct Verbatim;

/// Longest original error text kept as the detail.
const MAX_DETAIL_BYTES: usize = 4096;

/// The middleware (see the module docs).
pub async fn problem_errors(req: Request, next: Next) -> Response {
    let openai = req.uri().path().starts_with("/v1/");
    let res = as_problem(next.run(req).await).await;
    if openai {
        return openai_error(res).await;
    }
    res
}

/// `res` as problem+json when it is an error.
async fn as_problem(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res.extensions().get::<Verbatim>().is_some()
    {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = to_bytes(body, MAX_DETAIL_BYTES)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty() && status.is_client_error());
    let detail = text.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_lowercase()
    });
    let mut problem = problem_response(status, &detail);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem.extensions_mut().extend(parts.extensions);
    problem
}

/// A problem+json error response in OpenAI's error shape (other responses pass unchanged).
async fn openai_error(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let problem: serde_json::Value = to_bytes(body, MAX_DETAIL_BYTES * 4)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut message = problem["detail"].as_str().unwrap_or("error").to_owned();
    let fields = problem["errors"].as_array().cloned().unwrap_or_default();
    if let Some(first) = fields.first() {
        message = format!(
            "{}: {}",
            first["field"].as_str().unwrap_or(""),
            first["message"].as_str().unwrap_or("")
        );
    }
    let (kind, code) = match status.as_u16() {
        401 => ("invalid_request_error", "invalid_api_key".to_owned()),
        403 => ("permission_error", "insufficient_permissions".to_owned()),
        404 if message.contains("model") => ("invalid_request_error", "model_not_found".to_owned()),
        429 => ("rate_limit_exceeded", "rate_limit_exceeded".to_owned()),
        s if s >= 500 => (
            "server_error",
            problem["code"].as_str().unwrap_or("internal").to_owned(),
        ),
        _ => (
            "invalid_request_error",
            problem["code"]
                .as_str()
                .unwrap_or("invalid_request")
                .to_owned(),
        ),
    };
    let body = serde_json::json!({ "error": {
        "message": message,
        "type": kind,
        "param": fields.first().and_then(|f| f["field"].as_str()),
        "code": code,
    } });
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}
