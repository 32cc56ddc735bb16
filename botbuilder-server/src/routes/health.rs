//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Secret;
use crate::error::{ApiError, ApiResult, Problem};
use crate::middleware::metrics::prometheus;
use crate::state::AppState;

/// Health status.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`; `degraded` while Redis is unreachable (the instance serves: rate limits admit,
    /// changes arrive by polling the database); `unavailable` (503) while the database is.
    pub status: &'static str,
    /// The database backend.
    pub database: &'static str,
    /// With Redis configured: `ok` or `unavailable` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        database: state.store.backend(),
        redis: None,
    })
}

/// How long `/readyz` waits for the database's answer.
const READINESS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers (and Redis, when configured; see [`Health::status`]).
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "The database is down", body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.store.backend();
    // A database that does not answer within the deadline is as down as one that refuses.
    let ping = tokio::time::timeout(READINESS_DEADLINE, state.store.ping());
    let (store, redis) = tokio::join!(ping, state.shared.redis_ready());
    let store = match store {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {READINESS_DEADLINE:?}")),
    };
    if let Err(e) = &store {
        tracing::warn!(error = %e, "readiness check failed");
    }
    // Without Redis an instance still serves: limits admit, changes arrive by the poll.
    let (status, code) = match (store.is_ok(), redis) {
        (false, _) => ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
        (true, Some(false)) => ("degraded", StatusCode::OK),
        (true, _) => ("ok", StatusCode::OK),
    };
    let health = Health {
        status,
        database,
        redis: redis.map(|ok| if ok { "ok" } else { "unavailable" }),
    };
    // The 503 is a health document too, as documented, not a problem.
    (
        code,
        Extension(crate::middleware::problem::Verbatim),
        Json(health),
    )
}

/// Prometheus metrics in the text exposition format. With `metrics_token` set, only for
/// `Authorization: Bearer <token>`; with `metrics_bind` set, only on that address (404 here).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "The metrics token is required", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Metrics are served on another address", body = Problem, content_type = "application/problem+json")))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if !state.http.metrics_on_api {
        return Err(ApiError::NotFound);
    }
    check_metrics_token(state.http.metrics_token.as_ref(), &headers)?;
    Ok(render_metrics())
}

/// The Prometheus text of this process.
pub fn render_metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
        .into_response()
}

/// `Ok` when no token is required or `headers` carry it (compared in constant time).
pub fn check_metrics_token(token: Option<&Secret>, headers: &HeaderMap) -> ApiResult<()> {
    let Some(token) = token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let matches = given.len() == token.expose().len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            given.as_bytes(),
            token.expose().as_bytes(),
        )
        .is_ok();
    if matches {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// A router serving only `/metrics` (for `metrics_bind`), requiring `token` when given.
pub fn metrics_router(token: Option<Secret>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: HeaderMap| {
            let token = token.clone();
            async move {
                check_metrics_token(token.as_ref(), &headers)?;
                Ok::<_, ApiError>(render_metrics())
            }
        }),
    )
}
