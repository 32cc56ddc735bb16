//! [`FakeSlack`]: the Web API calls a channel makes, on 127.0.0.1
//! (<https://api.slack.com/methods>): `auth.test` and `chat.postMessage` with a bearer
//! token. As Slack does, failures are mostly HTTP 200 with `{"ok":false,"error":…}`
//! (`invalid_auth` for a wrong token); a scripted 429 carries `Retry-After`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::recorder::{Recorder, serve};

#[derive(Clone)]
struct Shared {
    token: String,
    recorder: Recorder,
}

/// A fake Slack Web API for one bot token (see the module docs).
#[derive(Clone)]
pub struct FakeSlack {
    addr: SocketAddr,
    shared: Shared,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeSlack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSlack")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeSlack {
    /// Starts a fake accepting `token`.
    pub async fn start(token: &str) -> Self {
        let shared = Shared {
            token: token.to_owned(),
            recorder: Recorder::default(),
        };
        let app = axum::Router::new()
            .route("/api/{method}", axum::routing::post(method))
            .with_state(shared.clone());
        let (addr, server) = serve(app).await;
        Self {
            addr,
            shared,
            _server: server,
        }
    }

    /// The address to allow through the outbound guard.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `api_base_url` to configure.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The messages posted, in order.
    pub fn posted(&self) -> Vec<Value> {
        self.shared.recorder.calls_of("chat.postMessage")
    }

    /// Waits until `count` messages were posted (at most `within`).
    pub async fn wait_for_posted(&self, count: usize, within: Duration) -> Vec<Value> {
        self.shared
            .recorder
            .wait_for("chat.postMessage", count, within)
            .await
    }

    /// Answers the next post with 429 and `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, retry_after_secs: u64) {
        let headers = vec![("retry-after".to_owned(), retry_after_secs.to_string())];
        self.shared.recorder.fail_next((
            429,
            headers,
            json!({ "ok": false, "error": "ratelimited" }),
        ));
    }

    /// Answers the next post with HTTP 200 and `{"ok":false,"error":error}`.
    pub fn fail_next(&self, error: &str) {
        self.shared
            .recorder
            .fail_next((200, Vec::new(), json!({ "ok": false, "error": error })));
    }
}

async fn method(
    State(shared): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let expected = format!("Bearer {}", shared.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Json(json!({ "ok": false, "error": "invalid_auth" })).into_response();
    }
    match method.as_str() {
        "auth.test" => Json(
            json!({ "ok": true, "url": "https://fake.slack.com/", "team": "Fake",
            "user": "bot", "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT" }),
        )
        .into_response(),
        "chat.postMessage" => {
            if let Some((status, extra, failure)) = shared.recorder.failure() {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = (status, Json(failure)).into_response();
                for (name, value) in extra {
                    if let (Ok(name), Ok(value)) =
                        (HeaderName::try_from(name), HeaderValue::try_from(value))
                    {
                        response.headers_mut().insert(name, value);
                    }
                }
                return response;
            }
            if body["channel"].as_str().is_none_or(str::is_empty) {
                return Json(json!({ "ok": false, "error": "channel_not_found" })).into_response();
            }
            shared.recorder.record("chat.postMessage", body.clone());
            let ts = format!("1700000000.{:06}", shared.recorder.next_id());
            Json(json!({ "ok": true, "channel": body["channel"], "ts": ts, "message": { "text": body["text"], "ts": ts } }))
                .into_response()
        }
        _ => Json(json!({ "ok": false, "error": "unknown_method" })).into_response(),
    }
}
