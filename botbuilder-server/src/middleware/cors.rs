//! CORS: the server-wide allowlist (`cors_origins`) for every route, and in addition each
//! bot's own `settings.allowed_origins` for its public web chat routes
//! (`/api/v1/webchat/{bot}/…`), so a customer's site can embed the widget without the
//! operator opening the management API to it.
//!
//! The decision is made per request from the stored bot, so a changed allowlist applies at
//! once on every instance. Requests without an `Origin` header (servers, curl) are not
//! affected: CORS only tells browsers which pages may read the answers.
//!
//! CORS alone would still let a page elsewhere start visitor sessions: a simple request (a
//! `POST` without headers) reaches the handler, and only the answer is withheld. So the web
//! chat routes also refuse, with 403, a request whose `Origin` is neither allowed nor the
//! server's own ([`refuse_foreign_origins`]), and the widget on such a page reports why in the
//! browser's console. The server's own origin is its `Host`: behind a proxy, forward the
//! original `Host` header (nginx: `proxy_set_header Host $host;`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use botbuilder_core::id::BotId;
use botbuilder_core::store::Store;
use tower_http::cors::{AllowOrigin, CorsLayer};
use uuid::Uuid;

use crate::state::AppState;

/// Path prefix of the public web chat routes.
const WEBCHAT_PREFIX: &str = "/api/v1/webchat/";

/// The bot a web chat path belongs to.
fn webchat_bot(path: &str) -> Option<BotId> {
    let rest = path.strip_prefix(WEBCHAT_PREFIX)?;
    let id = rest.split('/').next()?;
    id.parse::<Uuid>().ok().map(BotId::from)
}

async fn origin_allowed(
    origin: HeaderValue,
    bot: Option<BotId>,
    global: Arc<[String]>,
    store: Arc<dyn Store>,
) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if global.iter().any(|o| o == origin) {
        return true;
    }
    match bot {
        Some(bot) => store
            .get_public_bot(bot)
            .await
            .is_ok_and(|b| b.settings.allows_origin(origin)),
        None => false,
    }
}

/// Whether `origin` names the server itself: its host and port are the request's `Host`
/// (the scheme is not compared: a proxy in front may end TLS).
fn same_origin(origin: &str, parts: &Parts) -> bool {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| {
            parts
                .uri
                .authority()
                .map(axum::http::uri::Authority::as_str)
        });
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((host, authority), (Some(host), Some(authority)) if host.eq_ignore_ascii_case(authority))
}

/// Refuses a web chat request from a browser page whose origin the bot does not allow (see
/// the module docs); every other request passes. A path whose bot id does not parse as
/// written (percent-encoded, say) names no bot this check could ask, so a foreign page's
/// request to it is refused too; an unknown bot is left to its route (404), and a store
/// that fails answers 503.
pub async fn refuse_foreign_origins(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    if let (true, Some(origin)) = (
        parts.uri.path().starts_with(WEBCHAT_PREFIX),
        parts.headers.get(header::ORIGIN),
    ) {
        let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        let trusted = same_origin(&origin, &parts) || state.http.cors_origins.contains(&origin);
        let allowed = if trusted {
            true
        } else {
            match webchat_bot(parts.uri.path()) {
                None => false,
                Some(bot) => match state.store.get_public_bot(bot).await {
                    Ok(bot) => bot.settings.allows_origin(&origin),
                    Err(botbuilder_core::store::StoreError::NotFound) => true,
                    Err(e) => return crate::error::ApiError::from(e).into_response(),
                },
            }
        };
        if !allowed {
            return crate::error::ApiError::Forbidden(format!(
                "pages at `{origin}` may not use this bot's web chat: add the origin to the \
                 bot's `settings.allowed_origins`"
            ))
            .into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The CORS layer (see the module docs).
pub fn layer(state: &AppState) -> CorsLayer {
    let global: Arc<[String]> = state.http.cors_origins.clone().into();
    let store = state.store.clone();
    let predicate = move |origin: HeaderValue, parts: &Parts| {
        origin_allowed(
            origin,
            webchat_bot(parts.uri.path()),
            global.clone(),
            store.clone(),
        )
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(predicate))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            // The visitor event stream resumes from it.
            header::HeaderName::from_static("last-event-id"),
        ])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
        .vary([header::ORIGIN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_webchat_paths_name_a_bot() {
        let id = Uuid::now_v7();
        assert_eq!(
            webchat_bot(&format!("/api/v1/webchat/{id}/messages")),
            Some(BotId::from(id))
        );
        assert_eq!(
            webchat_bot(&format!("/api/v1/webchat/{id}")),
            Some(BotId::from(id))
        );
        assert_eq!(webchat_bot("/api/v1/webchat/not-a-uuid/messages"), None);
        assert_eq!(webchat_bot(&format!("/api/v1/orgs/{id}/bots")), None);
    }
}
