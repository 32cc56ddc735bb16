//! What every fake keeps: the calls it was sent, and failures scripted for the next sends.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// A scripted failure: status, extra headers, JSON body.
pub(crate) type Failure = (u16, Vec<(String, String)>, Value);

#[derive(Default)]
struct Inner {
    calls: Vec<(String, Value)>,
    failures: VecDeque<Failure>,
    next_id: u64,
}

/// Calls and scripted failures, shared by a fake's handlers and its test.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Inner>>);

impl Recorder {
    pub(crate) fn record(&self, method: &str, body: Value) {
        self.0
            .lock()
            .expect("fake poisoned")
            .calls
            .push((method.to_owned(), body));
    }

    /// The next send's scripted failure, if any (then the send is not recorded).
    pub(crate) fn failure(&self) -> Option<Failure> {
        self.0.lock().expect("fake poisoned").failures.pop_front()
    }

    pub(crate) fn fail_next(&self, failure: Failure) {
        self.0
            .lock()
            .expect("fake poisoned")
            .failures
            .push_back(failure);
    }

    pub(crate) fn next_id(&self) -> u64 {
        let mut inner = self.0.lock().expect("fake poisoned");
        inner.next_id += 1;
        inner.next_id
    }

    pub(crate) fn calls(&self) -> Vec<(String, Value)> {
        self.0.lock().expect("fake poisoned").calls.clone()
    }

    pub(crate) fn calls_of(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, body)| body)
            .collect()
    }

    pub(crate) async fn wait_for(
        &self,
        method: &str,
        count: usize,
        within: Duration,
    ) -> Vec<Value> {
        let found = super::eventually(within, || {
            let calls = self.calls_of(method);
            (calls.len() >= count).then_some(calls)
        })
        .await;
        found
            .unwrap_or_else(|| panic!("expected {count} `{method}` calls; got {:#?}", self.calls()))
    }
}

/// Serves `app` on 127.0.0.1; the server stops with the returned handle's last clone.
pub(crate) async fn serve(
    app: axum::Router,
) -> (std::net::SocketAddr, Arc<tokio::task::JoinHandle<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, Arc::new(server))
}
