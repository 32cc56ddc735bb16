//! A scripted [`Fetcher`] for the platforms' unit tests: it answers each request with the
//! next response given and records what was sent.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use botbuilder_core::fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use serde_json::Value;

/// Answers every request with the next scripted response and records the requests.
pub(crate) struct Scripted {
    responses: Mutex<Vec<Result<FetchResponse, FetchError>>>,
    seen: Mutex<Vec<FetchRequest>>,
}

impl Scripted {
    pub(crate) fn new(responses: Vec<Result<FetchResponse, FetchError>>) -> Arc<Self> {
        Arc::new(Self {
            responses: Mutex::new(responses),
            seen: Mutex::new(Vec::new()),
        })
    }

    /// The requests seen so far.
    pub(crate) fn requests(&self) -> Vec<FetchRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// The URL and JSON body of each request seen.
    pub(crate) fn bodies(&self) -> Vec<(String, Value)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                let body = serde_json::from_str(r.body.as_deref().unwrap_or("null")).unwrap();
                (r.url.clone(), body)
            })
            .collect()
    }
}

#[async_trait]
impl Fetcher for Scripted {
    async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, FetchError> {
        self.seen.lock().unwrap().push(request);
        self.responses.lock().unwrap().remove(0)
    }
}

/// A response with `status` and a JSON body.
pub(crate) fn answer(status: u16, body: Value) -> Result<FetchResponse, FetchError> {
    Ok(FetchResponse {
        status,
        content_type: Some("application/json".into()),
        retry_after: None,
        body: body.to_string().into_bytes(),
    })
}
