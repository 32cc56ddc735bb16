//! The web assets built from `web/` (see `web/README.md`) and committed in `web/dist/`,
//! embedded in the binary at compile time, so a release build serves them without Node:
//!
//! | path | what | cache |
//! |---|---|---|
//! | `/` and any other page a browser asks for | the operator console (`index.html`) | revalidated each time |
//! | `/widget.js` | the embeddable chat widget (one script) | 5 minutes: its name never changes |
//! | `/assets/*` | hashed bundles (their name changes with their content) | a year, immutable |
//!
//! The console is a single-page application: its own router draws `/bots/…`, `/inbox` and
//! the rest, so a browser loading such a page directly (a bookmark, a reload) gets
//! `index.html` too. Only for a `GET` that asks for HTML ([`wants_console`]) outside the API's
//! prefixes: an API client asking for an unknown path still gets a problem+json 404.
//!
//! The console's pages carry a Content-Security-Policy ([`CONSOLE_CSP`]) that allows no inline
//! script or style and no other origin, so an injected string cannot run as code.
//!
//! `scripts/test` rebuilds `web/dist/` from the sources and fails when the committed build
//! differs, so what is embedded is what the sources say.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

use crate::error::ApiError;

#[derive(Embed)]
#[folder = "../web/dist/"]
struct Dist;

/// How browsers keep the widget script: 5 minutes, then revalidated by its `ETag` (pages load
/// it by a fixed name, so a new version must reach them soon).
const WIDGET_CACHE: &str = "public, max-age=300";
/// How browsers keep a hashed bundle: for good.
const BUNDLE_CACHE: &str = "public, max-age=31536000, immutable";
/// How browsers keep the console's page: revalidated by its `ETag` on every load, so a new
/// build (new bundle names) is picked up at once.
const PAGE_CACHE: &str = "no-cache";

/// The console's Content-Security-Policy: scripts, styles, fonts and API calls from this
/// origin only, nothing inline; images also from https (bot avatars) and `data:` URLs; no
/// framing, plugins, `<base>` or foreign form targets.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' https: data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Path prefixes that belong to machines (the API, OpenAI-compatible API, channel webhooks,
/// docs, probes, bundles): never answered with the console.
const MACHINE_PREFIXES: &[&str] = &[
    "/api/", "/v1/", "/hooks/", "/docs", "/assets/", "/healthz", "/readyz", "/metrics",
];

/// The `Content-Type` of a file by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The embedded file at `path` with its type, cache policy and a strong `ETag` (half the
/// SHA-256 of its content, in hex): 304 when `request` already holds that version, 404 when
/// there is no such file.
fn file(
    path: &str,
    cache_control: &'static str,
    request: &HeaderMap,
) -> Result<Response, ApiError> {
    let found = Dist::get(path).ok_or(ApiError::NotFound)?;
    let digest: String = found
        .metadata
        .sha256_hash()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = HeaderValue::from_str(&format!("\"{digest}\"")).expect("hex is a valid header");
    let cached = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        // Weak comparison (RFC 9110 §13.1.2): a proxy that compressed it marks the tag weak.
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag);
    let headers = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ),
        (header::ETAG, etag),
    ];
    if cached {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let kind = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    )];
    Ok((headers, kind, found.data.into_owned()).into_response())
}

/// `GET /`: the operator console.
pub async fn console(request: HeaderMap) -> Result<Response, ApiError> {
    let mut response = file("index.html", PAGE_CACHE, &request)?;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(response)
}

/// Whether a request no route matched is a browser loading one of the console's pages: a
/// `GET` (or `HEAD`) whose `Accept` names `text/html`, outside [`MACHINE_PREFIXES`].
pub fn wants_console(method: &Method, uri: &Uri, request: &HeaderMap) -> bool {
    let path = uri.path();
    (method == Method::GET || method == Method::HEAD)
        && !MACHINE_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
        && request
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html"))
}

/// What answers a request no route matched: the console for a browser's page load
/// ([`wants_console`]), else a problem+json 404.
pub async fn fallback(method: Method, uri: Uri, request: HeaderMap) -> Result<Response, ApiError> {
    if wants_console(&method, &uri, &request) {
        console(request).await
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /widget.js`.
pub async fn widget(request: HeaderMap) -> Result<Response, ApiError> {
    file("widget.js", WIDGET_CACHE, &request)
}

/// `GET /assets/{*path}`: a hashed bundle.
pub async fn asset(Path(path): Path<String>, request: HeaderMap) -> Result<Response, ApiError> {
    file(&format!("assets/{path}"), BUNDLE_CACHE, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_browsers_page_load_outside_the_api_gets_the_console() {
        let html = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            headers
        };
        let page = html("text/html,application/xhtml+xml,*/*;q=0.8");
        let uri = |path: &str| path.parse::<Uri>().unwrap();
        assert!(wants_console(&Method::GET, &uri("/bots/123"), &page));
        assert!(wants_console(&Method::HEAD, &uri("/inbox?bot=1"), &page));
        assert!(!wants_console(&Method::POST, &uri("/bots"), &page));
        assert!(!wants_console(&Method::GET, &uri("/api/v1/nope"), &page));
        assert!(!wants_console(
            &Method::GET,
            &uri("/hooks/telegram/x"),
            &page
        ));
        assert!(!wants_console(
            &Method::GET,
            &uri("/bots"),
            &html("application/json")
        ));
        assert!(!wants_console(
            &Method::GET,
            &uri("/bots"),
            &HeaderMap::new()
        ));
    }

    #[test]
    fn the_console_is_embedded() {
        let page = Dist::get("index.html").expect("web/dist/index.html is committed");
        let html = std::str::from_utf8(&page.data).unwrap();
        assert!(html.contains("/assets/"), "it loads hashed bundles");
        assert!(
            !html.contains("<script>"),
            "no inline script (the CSP forbids it)"
        );
        assert!(
            !html.contains("<style"),
            "no inline style (the CSP forbids it)"
        );
    }

    #[test]
    fn the_widget_is_embedded() {
        let widget = Dist::get("widget.js").expect("web/dist/widget.js is committed");
        assert!(widget.data.len() > 1_000);
        assert_eq!(content_type("widget.js"), "text/javascript; charset=utf-8");
        assert_eq!(
            content_type("assets/index-3f2a.css"),
            "text/css; charset=utf-8"
        );
    }
}
