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
//! counts as anonymous. An API key not yet in the access cache is charged to the IP before
//! the store is asked about it, so made-up keys cannot reach the database faster than the
//! anonymous limit. The organization bucket is charged only for its own members and keys
//! (anyone else is refused anyway, and must not use up another organization's allowance).
//! The principal found here is kept for the authentication extractor, so a request is
//! authenticated once. Sign-up, login and web chat sessions have limits of
//! their own on top (see the auth and web chat routes).
//!
//! When the shared limiter cannot answer (Redis is down), these limits admit the request and
//! count it in `botbuilder_rate_limiter_unavailable_total`, so a Redis outage is not an API
//! outage (so does the web chat session limit); the sign-up and login limits, which guard
//! passwords, refuse with 503 instead.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use botbuilder_core::rate_limit::{Quota, RateLimitError};

use super::{client_bucket, client_ip};
use crate::auth::{API_KEY_PREFIX, hash_secret};
use crate::error::ApiError;
use crate::extract::{Principal, authenticate, bearer};
use crate::state::AppState;

const UNLIMITED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The organization a path acts in (`/api/v1/orgs/{org}/…`), if it names a valid id.
fn org_in_path(path: &str) -> Option<uuid::Uuid> {
    let rest = path.strip_prefix("/api/v1/orgs/")?;
    rest.split('/').next()?.parse().ok()
}

/// The anonymous bucket of a request: its client address.
fn ip_bucket(state: &AppState, req: &Request) -> (String, Quota) {
    let ip = client_ip(req, state.http.trusted_proxies).unwrap_or_else(|| "unknown".into());
    (
        format!("ip:{}", client_bucket(&ip)),
        Quota::per_minute(state.http.rate_limit_per_minute),
    )
}

/// Whether `principal` belongs to `org` (a member, or a key of it).
async fn belongs(state: &AppState, principal: &Principal, org: uuid::Uuid) -> bool {
    let org = botbuilder_core::id::OrgId::from(org);
    match principal {
        Principal::ApiKey(key) => key.org_id == org,
        Principal::User(user) => state.access.member(&*state.store, org, *user).await.is_ok(),
    }
}

/// The buckets of an authenticated request (see the module docs).
async fn principal_buckets(
    state: &AppState,
    path: &str,
    principal: &Principal,
) -> Vec<(String, Quota)> {
    let http = &state.http;
    let credential = match principal {
        Principal::User(user) => format!("user:{user}"),
        Principal::ApiKey(key) => format!("key:{}", key.id),
    };
    let mut keys = vec![(
        credential,
        Quota::per_minute(http.rate_limit_per_credential_per_minute),
    )];
    if let Some(org) = org_in_path(path)
        && belongs(state, principal, org).await
    {
        keys.push((
            format!("org:{org}"),
            Quota::per_minute(http.rate_limit_per_org_per_minute),
        ));
    }
    keys
}

/// Charges `key`; the response to send instead of the request when it is refused. When the
/// limiter is unavailable it admits, and counts it (see the module docs).
pub(crate) async fn charge(state: &AppState, key: &str, quota: Quota) -> Result<(), Response> {
    match state.limiter.check(key, quota).await {
        Ok(()) => Ok(()),
        Err(RateLimitError::Unavailable(e)) => {
            metrics::counter!("botbuilder_rate_limiter_unavailable_total").increment(1);
            tracing::warn!(error = %e, "rate limiter unavailable; admitting the request");
            Ok(())
        }
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// Refuses with 429 + `Retry-After` once a bucket is empty (see the module docs).
pub async fn limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if UNLIMITED_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    // Platforms send every tenant's webhooks from a few addresses: a channel has its own
    // bucket, so one busy tenant never gets another's updates refused.
    if let Some(channel) = req.uri().path().strip_prefix("/hooks/") {
        let quota = Quota::per_minute(state.http.rate_limit_per_credential_per_minute);
        if let Err(refused) = charge(&state, &format!("hook:{channel}"), quota).await {
            return refused;
        }
        return next.run(req).await;
    }
    let mut charged_ip = false;
    let principal = match bearer(req.headers()) {
        Some(token) => {
            let uncached_key = token.starts_with(API_KEY_PREFIX)
                && state.access.cached_api_key(&hash_secret(token)).is_none();
            if uncached_key {
                let (key, quota) = ip_bucket(&state, &req);
                if let Err(refused) = charge(&state, &key, quota).await {
                    return refused;
                }
                charged_ip = true;
            }
            authenticate(&state, token).await.ok()
        }
        None => None,
    };
    let buckets = match &principal {
        Some(principal) => {
            let path = req.uri().path().to_owned();
            principal_buckets(&state, &path, principal).await
        }
        None if charged_ip => Vec::new(),
        None => vec![ip_bucket(&state, &req)],
    };
    for (key, quota) in buckets {
        if let Err(refused) = charge(&state, &key, quota).await {
            return refused;
        }
    }
    if let Some(principal) = principal {
        req.extensions_mut().insert(principal);
    }
    next.run(req).await
}
