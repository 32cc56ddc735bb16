//! Every error response is RFC 9457 problem+json, also those no handler wrote: an axum
//! rejection (415, 422), a layer's answer (413 from the body limit, 408 from the body
//! deadline), a 405. The status and headers (`Retry-After`, `Allow`) are kept; the original
//! text becomes the `detail` of client errors (server errors say nothing more than their
//! status).

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{PROBLEM_JSON, problem_response};

/// Longest original error text kept as the detail.
const MAX_DETAIL_BYTES: usize = 4096;

/// The middleware (see the module docs).
pub async fn problem_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
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
