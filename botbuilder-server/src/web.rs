//! The web assets built from `web/` (see `web/README.md`) and committed in `web/dist/`,
//! embedded in the binary at compile time, so a release build serves them without Node:
//!
//! | path | what | cache |
//! |---|---|---|
//! | `/widget.js` | the embeddable chat widget (one script) | 5 minutes: its name never changes |
//! | `/assets/*` | hashed bundles (their name changes with their content) | a year, immutable |
//!
//! `scripts/test` rebuilds `web/dist/` from the sources and fails when the committed build
//! differs, so what is embedded is what the sources say.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
