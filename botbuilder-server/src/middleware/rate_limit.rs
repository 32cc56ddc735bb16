//! The per-IP rate limit in front of everything but the health probes.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use botbuilder_core::rate_limit::Quota;

use super::client_ip;
use crate::error::ApiError;
use crate::state::AppState;

const UNLIMITED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Refuses with 429 + `Retry-After` once an IP exceeds its per-minute quota.
pub async fn per_ip(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if UNLIMITED_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let ip = client_ip(&req, state.http.trusted_proxies).unwrap_or_else(|| "unknown".into());
    let quota = Quota::per_minute(state.http.rate_limit_per_minute);
    match state.limiter.check(&format!("ip:{ip}"), quota).await {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}
