//! The middleware stack, outermost first: sensitive-header redaction, request ids, tracing,
//! panic catching, metrics, error responses as problem+json ([`problem`]), security headers,
//! the rate limits (per IP, credential and organization), CORS, the body limit, the body deadline and, innermost around each
//! handler, the change feed's catch-up ([`changes`]) and the audit log. Authentication, organization context,
//! permissions and validation are extractors (see [`crate::extract`]), so they run after
//! these layers and before the handler, in that order.

pub mod audit;
pub mod changes;
pub mod cors;
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

/// The client's IP. Behind `trusted_proxies` proxies (0: none), it is the address the
/// outermost trusted proxy saw: the `trusted_proxies`-th `X-Forwarded-For` entry from the
/// right (each proxy appends the address it received the request from; entries further
/// left were written by the client and prove nothing). Otherwise, or when that entry is not
/// an IP address, the peer address.
pub fn client_ip(req: &Request, trusted_proxies: usize) -> Option<String> {
    client_ip_of(req.headers(), req.extensions(), trusted_proxies)
}

/// [`client_ip`] from the parts of a request.
pub fn client_ip_of(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trusted_proxies: usize,
) -> Option<String> {
    if trusted_proxies > 0 {
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if let Some(ip) = hops
            .len()
            .checked_sub(trusted_proxies)
            .or((!hops.is_empty()).then_some(0))
            .and_then(|at| hops.get(at))
            .and_then(|hop| {
                // `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
                hop.parse::<std::net::IpAddr>()
                    .ok()
                    .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
            })
        {
            return Some(ip.to_string());
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The rate-limit bucket of a client address: the address itself for IPv4, its /64 network
/// for IPv6 (one subscriber or host usually holds a whole /64, so per-address buckets would
/// be new for every address it rotates through). Not an address: as given.
pub fn client_bucket(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(v6 @ std::net::IpAddr::V6(_)) => format!("{}/64", client_network(v6)),
        _ => ip.to_owned(),
    }
}

/// The network a client address counts under: itself for IPv4, its /64 for IPv6 (see
/// [`client_bucket`]).
pub fn client_network(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0).into()
        }
        v4 @ std::net::IpAddr::V4(_) => v4,
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("a request handler panicked".into()).into_response()
}

/// Marks the response of a conversation turn (API, web chat, OpenAI-compatible and channel
/// webhook messages): conversation, not administration. The audit log skips it (the
/// transcript is its record) and so does the change feed's catch-up (a turn changes no
/// configuration; were one ever to, the bus's poll would still deliver it).
#[derive(Debug, Clone, Copy)]
pub struct ConversationTurn;

/// Marks a turn route's responses ([`ConversationTurn`]); a `map_response` layer.
pub async fn conversation_turn(mut response: Response) -> Response {
    response.extensions_mut().insert(ConversationTurn);
    response
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
            cors::refuse_foreign_origins,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::audit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            changes::catch_up,
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
                    rate_limit::limit,
                ))
                .layer(cors::layer(state))
                .layer(DefaultBodyLimit::max(state.http.body_limit))
                .layer(RequestBodyDeadlineLayer::new(state.http.body_timeout))
                .map_request(|req: Request<DeadlineBody<Body>>| req.map(Body::new)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{Extensions, HeaderMap};

    fn ip(forwarded: &[&str], trusted_proxies: usize) -> Option<String> {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 443))));
        client_ip_of(&headers, &extensions, trusted_proxies)
    }

    #[test]
    fn the_client_is_the_hop_the_outermost_trusted_proxy_wrote() {
        // The client claims 1.1.1.1; the one proxy appended the address it saw.
        assert_eq!(
            ip(&["1.1.1.1, 203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
        // A CDN then a load balancer: the CDN's entry is the client.
        assert_eq!(
            ip(&["1.1.1.1, 203.0.113.7, 198.51.100.2"], 2).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            ip(&["1.1.1.1", "203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
        // Untrusted, absent or not an address: the peer.
        assert_eq!(ip(&["1.1.1.1"], 0).as_deref(), Some("10.0.0.9"));
        assert_eq!(ip(&[], 1).as_deref(), Some("10.0.0.9"));
        assert_eq!(ip(&["1.1.1.1, not-an-ip"], 1).as_deref(), Some("10.0.0.9"));
        assert_eq!(ip(&["203.0.113.7:5678"], 1).as_deref(), Some("203.0.113.7"));
        assert_eq!(
            ip(&["[2001:db8::1]:443"], 1).as_deref(),
            Some("2001:db8::1")
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        assert_eq!(client_bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            client_bucket("2001:db8:1:2:ffff::9"),
            client_bucket("2001:db8:1:2::7")
        );
        assert_eq!(client_bucket("203.0.113.7"), "203.0.113.7");
    }
}
