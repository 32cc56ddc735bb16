//! [`FakeWhatsApp`]: the Cloud API calls a channel makes, on 127.0.0.1
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages>):
//! `GET /{version}/{phone_number_id}` and `POST /{version}/{phone_number_id}/messages`, with
//! bearer tokens; a wrong token gets Graph's `OAuthException` (code 190); scripted failures
//! answer the next sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::recorder::{Recorder, serve};

#[derive(Clone)]
struct Shared {
    token: String,
    phone_number_id: String,
    recorder: Recorder,
}

/// A fake WhatsApp Cloud API for one phone number (see the module docs).
#[derive(Clone)]
pub struct FakeWhatsApp {
    addr: SocketAddr,
    shared: Shared,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeWhatsApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeWhatsApp")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeWhatsApp {
    /// Starts a fake accepting `token` for `phone_number_id`.
    pub async fn start(token: &str, phone_number_id: &str) -> Self {
        let shared = Shared {
            token: token.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            recorder: Recorder::default(),
        };
        let app = axum::Router::new()
            .route("/{version}/{phone}", axum::routing::get(phone_number))
            .route("/{version}/{phone}/messages", axum::routing::post(messages))
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
        format!("http://{}", self.addr)
    }

    /// The messages sent, in order.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.recorder.calls_of("messages")
    }

    /// Waits until `count` messages were sent (at most `within`).
    pub async fn wait_for_sent(&self, count: usize, within: Duration) -> Vec<Value> {
        self.shared
            .recorder
            .wait_for("messages", count, within)
            .await
    }

    /// Answers the next send with `status` and a Graph error of `code`.
    pub fn fail_next_send(&self, status: u16, code: i64, message: &str) {
        let body = json!({ "error": { "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "fake" } });
        self.shared.recorder.fail_next((status, Vec::new(), body));
    }
}

/// The refusal of a request with a wrong token or phone number id; `None` when it may pass.
fn refusal(shared: &Shared, headers: &HeaderMap, phone: &str) -> Option<Response> {
    let expected = format!("Bearer {}", shared.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        let body = json!({ "error": { "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException", "code": 190, "fbtrace_id": "fake" } });
        return Some((StatusCode::UNAUTHORIZED, Json(body)).into_response());
    }
    if phone != shared.phone_number_id {
        let body = json!({ "error": { "message": "Unsupported get request. Object does not exist",
            "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "fake" } });
        return Some((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    None
}

async fn phone_number(
    State(shared): State<Shared>,
    Path((_version, phone)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&shared, &headers, &phone) {
        return refused;
    }
    Json(json!({ "verified_name": "Fake Shop", "display_phone_number": "+1 555-0100", "id": phone, "quality_rating": "GREEN" }))
        .into_response()
}

async fn messages(
    State(shared): State<Shared>,
    Path((_version, phone)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = refusal(&shared, &headers, &phone) {
        return refused;
    }
    if let Some((status, _, failure)) = shared.recorder.failure() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, Json(failure)).into_response();
    }
    shared.recorder.record("messages", body.clone());
    let id = format!("wamid.FAKE{}", shared.recorder.next_id());
    Json(json!({ "messaging_product": "whatsapp", "contacts": [{ "input": body["to"], "wa_id": body["to"] }],
        "messages": [{ "id": id }] }))
    .into_response()
}
