//! The visitor event stream of the web chat: what reaches a visitor outside their own
//! requests (an agent's replies during a handoff), as server-sent events, published by the
//! web channel ([`botbuilder_channels::web::WebChannel`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use botbuilder_channels::web::WebDelivery;
use botbuilder_core::id::SessionId;
use futures::StreamExt as _;
use tokio::sync::broadcast::error::RecvError;

use super::webchat::{CHANNEL, Visitor};
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// What the stream needs to filter deliveries: the visitor, and what it learned of sessions.
struct Listener {
    state: AppState,
    visitor: Visitor,
    /// Sessions seen so far: whether each is this visitor's.
    sessions: HashMap<String, bool>,
    /// The last sequence number sent (deliveries at or below it are not sent again).
    last_seq: u64,
    /// Missed deliveries to send first, oldest first.
    backlog: std::collections::VecDeque<WebDelivery>,
    live: tokio::sync::broadcast::Receiver<WebDelivery>,
}

impl Listener {
    /// Whether `delivery` is for this visitor (one store read per new session).
    async fn is_mine(&mut self, delivery: &WebDelivery) -> bool {
        let conversation = &delivery.to.conversation;
        if let Some(known) = self.sessions.get(conversation) {
            return *known;
        }
        let mine = match conversation.parse::<SessionId>() {
            Ok(id) => self
                .state
                .store
                .get_session(self.visitor.org, id)
                .await
                .is_ok_and(|s| {
                    s.bot_id == self.visitor.bot
                        && s.channel == CHANNEL
                        && s.external_user == self.visitor.external_user
                }),
            Err(_) => false,
        };
        self.sessions.insert(conversation.clone(), mine);
        mine
    }

    /// The next delivery for this visitor; `None` when the channel is gone.
    async fn next(&mut self) -> Option<WebDelivery> {
        loop {
            let delivery = match self.backlog.pop_front() {
                Some(missed) => missed,
                None => match self.live.recv().await {
                    Ok(delivery) => delivery,
                    // Too slow a listener loses the oldest; the history is over REST.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
            };
            if delivery.seq <= self.last_seq || !self.is_mine(&delivery).await {
                continue;
            }
            self.last_seq = delivery.seq;
            return Some(delivery);
        }
    }
}

fn event_of(delivery: &WebDelivery) -> Option<Result<Event, Infallible>> {
    let mut data = serde_json::to_value(&delivery.part).ok()?;
    data["session_id"] = serde_json::Value::String(delivery.to.conversation.clone());
    Event::default()
        .id(delivery.seq.to_string())
        .event("message")
        .json_data(data)
        .ok()
        .map(Ok)
}

/// The visitor's event stream: a `message` event per part of what reaches the visitor
/// outside their own requests (an agent's replies during a handoff), as the web channel
/// formats it (`{"type": "text", "text", "choices"?, "session_id"}`, `{"type": "image", …}`,
/// `{"type": "typing"}`); keep-alive comments every 15 s. Each event's `id` is a sequence
/// number: reconnect with `Last-Event-ID` to get what was missed first (recent parts only;
/// the whole history is `GET …/messages`).
#[utoipa::path(get, path = "/api/v1/webchat/{bot}/events", tag = "webchat",
    params(("bot" = uuid::Uuid, Path, description = "Bot id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "The id of the last event received")),
    responses(
        (status = 200, description = "An SSE stream of `message` events", content_type = "text/event-stream"),
        (status = 401, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let live = state.web.subscribe();
    let resume_after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (last_seq, backlog) = match resume_after {
        Some(seen) => (seen, state.web.since(seen).into()),
        None => (state.web.last_seq(), std::collections::VecDeque::new()),
    };
    let listener = Listener {
        state: state.clone(),
        visitor,
        sessions: HashMap::new(),
        last_seq,
        backlog,
        live,
    };
    let stream = futures::stream::unfold(listener, |mut listener| async move {
        let delivery = listener.next().await?;
        Some((delivery, listener))
    })
    .filter_map(|delivery| async move { event_of(&delivery) });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
