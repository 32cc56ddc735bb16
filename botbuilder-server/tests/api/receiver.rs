//! A customer's webhook receiver on localhost: records every request with its Standard
//! Webhooks headers and answers as told (up, down, gone, redirecting, throttling).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mode {
    Up,
    Down,
    Gone,
    Redirect(String),
    /// 503 asking for a retry after this many seconds.
    Throttled(u64),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) id: String,
    pub(crate) timestamp: i64,
    pub(crate) signature: String,
    pub(crate) body: Vec<u8>,
    pub(crate) answered: u16,
}

impl Seen {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Debug)]
pub(crate) struct ReceiverState {
    mode: Mutex<Mode>,
    seen: Mutex<Vec<Seen>>,
    pub(crate) elsewhere: Mutex<usize>,
}

/// A customer's webhook receiver.
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    pub(crate) state: Arc<ReceiverState>,
}

impl Receiver {
    pub(crate) async fn start(mode: Mode) -> Self {
        let state = Arc::new(ReceiverState {
            mode: Mutex::new(mode),
            seen: Mutex::new(Vec::new()),
            elsewhere: Mutex::new(0),
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .route("/elsewhere", axum::routing::any(elsewhere))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, state }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The accepted messages, each once, in the order they were accepted.
    pub(crate) fn accepted(&self) -> Vec<Seen> {
        let mut accepted: Vec<Seen> = Vec::new();
        for seen in self.seen() {
            if seen.answered == 200 && !accepted.iter().any(|a| a.id == seen.id) {
                accepted.push(seen);
            }
        }
        accepted
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mode = state.mode.lock().unwrap().clone();
    let answered = match &mode {
        Mode::Up => 200,
        Mode::Down => 503,
        Mode::Gone => 410,
        Mode::Redirect(_) => 302,
        Mode::Throttled(_) => 503,
    };
    state.seen.lock().unwrap().push(Seen {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or_default(),
        signature: header("webhook-signature"),
        body: body.to_vec(),
        answered,
    });
    match mode {
        Mode::Redirect(to) => (AxumStatus::FOUND, [("location", to)]).into_response(),
        Mode::Throttled(secs) => (
            AxumStatus::SERVICE_UNAVAILABLE,
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        _ => AxumStatus::from_u16(answered).unwrap().into_response(),
    }
}

async fn elsewhere(State(state): State<Arc<ReceiverState>>) -> AxumStatus {
    *state.elsewhere.lock().unwrap() += 1;
    AxumStatus::OK
}
