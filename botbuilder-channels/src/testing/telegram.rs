//! [`FakeTelegram`]: the Bot API methods a channel uses, on 127.0.0.1
//! (<https://core.telegram.org/bots/api>): `getMe`, `setWebhook`, `deleteWebhook`,
//! `getUpdates` (long polling, refused with 409 while a webhook is set, as Telegram does),
//! `sendMessage`, `sendPhoto`, `sendChatAction`, `answerCallbackQuery`. A wrong token gets
//! `401 Unauthorized`; scripted failures (429 with `retry_after`, 5xx, `ok:false`) answer
//! the next sends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::recorder::{Recorder, serve};

/// Sent messages are numbered from just after this.
const FIRST_MESSAGE_ID: u64 = 100;

/// What only Telegram's fake keeps beside its calls.
#[derive(Default)]
struct Inner {
    webhook: Option<(String, String)>,
    updates: VecDeque<Value>,
}

#[derive(Clone)]
struct Shared {
    token: String,
    /// Accept every token `<bot id>:<secret of token>`: many bots on one fake.
    any_bot: bool,
    recorder: Recorder,
    inner: Arc<Mutex<Inner>>,
    pushed: Arc<Notify>,
}

/// A fake Telegram Bot API server for one bot token, or for many bots sharing a secret part
/// ([`FakeTelegram::start_for_many_bots`]); see the module docs.
#[derive(Clone)]
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Shared,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTelegram")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeTelegram {
    /// Starts a fake accepting `token`.
    pub async fn start(token: &str) -> Self {
        Self::start_with(token, false).await
    }

    /// Starts a fake for many bots: it accepts every token `<bot id>:<secret>` with the
    /// secret part of `token`, and `getMe` answers with that bot id (`@fake_bot_<id>`). Calls
    /// of all bots are recorded together.
    pub async fn start_for_many_bots(token: &str) -> Self {
        Self::start_with(token, true).await
    }

    async fn start_with(token: &str, any_bot: bool) -> Self {
        let shared = Shared {
            token: token.to_owned(),
            any_bot,
            recorder: Recorder::default(),
            inner: Arc::default(),
            pushed: Arc::new(Notify::new()),
        };
        let app = axum::Router::new()
            .route("/{bot}/{method}", axum::routing::post(method))
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

    /// Every call so far: method and JSON body, in order.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.shared.recorder.calls()
    }

    /// The bodies of the calls of `method`.
    pub fn calls_of(&self, method: &str) -> Vec<Value> {
        self.shared.recorder.calls_of(method)
    }

    /// Waits until `count` calls of `method` were made (at most `within`); returns their
    /// bodies, or panics with every call seen.
    pub async fn wait_for(&self, method: &str, count: usize, within: Duration) -> Vec<Value> {
        self.shared.recorder.wait_for(method, count, within).await
    }

    /// The webhook URL and secret token set, if any.
    pub fn webhook(&self) -> Option<(String, String)> {
        self.shared
            .inner
            .lock()
            .expect("fake poisoned")
            .webhook
            .clone()
    }

    /// Queues an update for `getUpdates`.
    pub fn push_update(&self, update: Value) {
        self.shared
            .inner
            .lock()
            .expect("fake poisoned")
            .updates
            .push_back(update);
        self.shared.pushed.notify_waiters();
    }

    /// Answers the next send with `status` and `body` instead of success.
    pub fn fail_next_send(&self, status: u16, body: Value) {
        self.shared.recorder.fail_next((status, Vec::new(), body));
    }
}

fn error(status: StatusCode, description: &str) -> Response {
    let body = json!({ "ok": false, "error_code": status.as_u16(), "description": description });
    (status, Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    Json(json!({ "ok": true, "result": result })).into_response()
}

/// The bot id of a `bot<token>` path segment this fake accepts.
fn bot_id(shared: &Shared, segment: &str) -> Option<i64> {
    let token = segment.strip_prefix("bot")?;
    let accepted = if shared.any_bot {
        let secret = shared.token.split_once(':').map(|(_, s)| s);
        token.split_once(':').map(|(_, s)| s) == secret && secret.is_some()
    } else {
        token == shared.token
    };
    let (id, _) = token.split_once(':')?;
    accepted.then(|| id.parse().ok()).flatten()
}

async fn method(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(bot_id) = bot_id(&shared, &bot) else {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Bad Request: invalid JSON");
    };
    if method == "getUpdates" {
        return get_updates(&shared, &body).await;
    }
    let sends = matches!(
        method.as_str(),
        "sendMessage" | "sendPhoto" | "sendChatAction"
    );
    if sends && let Some((status, _, failure)) = shared.recorder.failure() {
        // A refused send was not delivered: it is not recorded.
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, Json(failure)).into_response();
    }
    shared.recorder.record(&method, body.clone());
    let mut inner = shared.inner.lock().expect("fake poisoned");
    match method.as_str() {
        "getMe" => {
            let username = if shared.any_bot {
                format!("fake_bot_{bot_id}")
            } else {
                "fake_bot".to_owned()
            };
            ok(json!({ "id": bot_id, "is_bot": true, "first_name": "Fake", "username": username }))
        }
        "setWebhook" => {
            let url = body["url"].as_str().unwrap_or_default().to_owned();
            let secret = body["secret_token"].as_str().unwrap_or_default().to_owned();
            inner.webhook = Some((url, secret));
            ok(json!(true))
        }
        "deleteWebhook" => {
            inner.webhook = None;
            ok(json!(true))
        }
        "answerCallbackQuery" => ok(json!(true)),
        _ if sends => {
            if method == "sendChatAction" {
                return ok(json!(true));
            }
            if body["chat_id"].as_str().is_none_or(str::is_empty)
                || (method == "sendMessage" && body["text"].as_str().is_none_or(str::is_empty))
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: message text is empty",
                );
            }
            let message_id = FIRST_MESSAGE_ID + shared.recorder.next_id();
            ok(json!({ "message_id": message_id, "chat": { "id": body["chat_id"] }, "date": 0 }))
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found: method not found"),
    }
}

async fn get_updates(shared: &Shared, body: &Value) -> Response {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let wait = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0).min(2));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let pushed = shared.pushed.notified();
        {
            let mut inner = shared.inner.lock().expect("fake poisoned");
            if inner.webhook.is_some() {
                return error(
                    StatusCode::CONFLICT,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                );
            }
            // Updates before the offset are confirmed: Telegram forgets them.
            inner
                .updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !inner.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                let updates: Vec<Value> = inner.updates.iter().cloned().collect();
                shared.recorder.record("getUpdates", body.clone());
                return ok(Value::Array(updates));
            }
        }
        tokio::select! {
            () = pushed => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}
