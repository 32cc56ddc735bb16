//! The middleware stack, outermost first: sensitive-header redaction, request ids, tracing,
//! panic catching, metrics, error responses as problem+json ([`problem`]), security headers,
//! the per-IP rate limit, CORS, the body limit, the body deadline and, innermost around each
//! handler, the audit log. Authentication, organization context,
//! permissions and validation are extractors (see [`crate::extract`]), so they run after
//! these layers and before the handler, in that order.

pub mod audit;
pub mod cors;
pub mod engine_cache;
pub mod metrics;
pub mod problem;
pub mod rate_limit;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{DeadlineBody, RequestBodyDeadlineLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The client's IP: the first `X-Forwarded-For` hop when trusted, else the peer address.
pub fn client_ip(req: &Request, trust_forwarded_for: bool) -> Option<String> {
    client_ip_of(req.headers(), req.extensions(), trust_forwarded_for)
}

/// [`client_ip`] from the parts of a request.
pub fn client_ip_of(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trust_forwarded_for: bool,
) -> Option<String> {
    if trust_forwarded_for
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return Some(forwarded.to_owned());
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("a request handler panicked".into()).into_response()
}

/// Wraps the routes in the whole middleware stack.
pub fn apply(router: Router, state: &AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        tracing::info_span!("request", method = %req.method(), route, request_id)
    });
    router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::audit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            engine_cache::invalidate,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(
                    x_request_id.clone(),
                    MakeRequestUuid,
                ))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(x_request_id))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(axum::middleware::from_fn(metrics::track))
                .layer(axum::middleware::from_fn(problem::problem_errors))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    rate_limit::per_ip,
                ))
                .layer(cors::layer(state))
                .layer(DefaultBodyLimit::max(state.http.body_limit))
                .layer(RequestBodyDeadlineLayer::new(state.http.body_timeout))
                .map_request(|req: Request<DeadlineBody<Body>>| req.map(Body::new)),
        )
}
