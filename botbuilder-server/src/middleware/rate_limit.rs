//! Rate limits in front of everything but the health probes.
//!
//! | who | bucket | setting (per minute) |
//! |---|---|---|
//! | anonymous (no valid credentials) | the client IP | `rate_limit_per_minute` |
//! | a user (access token) or an API key | the credential | `rate_limit_per_credential_per_minute` |
//! | ...acting in an organization (`/api/v1/orgs/{org}/…`) | also the organization | `rate_limit_per_org_per_minute` |
//!
//! A valid credential is never counted against its IP, so an operator's script (or many
//! people behind one office address) is not throttled with anonymous traffic; an invalid one
//! counts as anonymous. The principal found here is kept for the authentication extractor,
//! so a request is authenticated once. Sign-up, login and web chat sessions have limits of
//! their own on top (see the auth and web chat routes).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use botbuilder_core::rate_limit::Quota;

use super::client_ip;
use crate::error::ApiError;
use crate::extract::{Principal, authenticate, bearer};
use crate::state::AppState;

const UNLIMITED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The organization a path acts in (`/api/v1/orgs/{org}/…`), if it names a valid id.
fn org_in_path(path: &str) -> Option<uuid::Uuid> {
    let rest = path.strip_prefix("/api/v1/orgs/")?;
    rest.split('/').next()?.parse().ok()
}

/// The buckets of a request (see the module docs).
fn buckets(state: &AppState, req: &Request, principal: Option<&Principal>) -> Vec<(String, Quota)> {
    let http = &state.http;
    match principal {
        None => {
            let ip = client_ip(req, http.trusted_proxies).unwrap_or_else(|| "unknown".into());
            vec![(
                format!("ip:{ip}"),
                Quota::per_minute(http.rate_limit_per_minute),
            )]
        }
        Some(principal) => {
            let credential = match principal {
                Principal::User(user) => format!("user:{user}"),
                Principal::ApiKey(key) => format!("key:{}", key.id),
            };
            let mut keys = vec![(
                credential,
                Quota::per_minute(http.rate_limit_per_credential_per_minute),
            )];
            if let Some(org) = org_in_path(req.uri().path()) {
                keys.push((
                    format!("org:{org}"),
                    Quota::per_minute(http.rate_limit_per_org_per_minute),
                ));
            }
            keys
        }
    }
}

/// Refuses with 429 + `Retry-After` once a bucket is empty (see the module docs).
pub async fn limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if UNLIMITED_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let principal = match bearer(req.headers()) {
        Some(token) => authenticate(&state, token).await.ok(),
        None => None,
    };
    for (key, quota) in buckets(&state, &req, principal.as_ref()) {
        if let Err(e) = state.limiter.check(&key, quota).await {
            return ApiError::from(e).into_response();
        }
    }
    if let Some(principal) = principal {
        req.extensions_mut().insert(principal);
    }
    next.run(req).await
}
