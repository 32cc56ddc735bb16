//! The visitor event stream of the web chat: what reaches a visitor outside their own
//! requests (an agent's replies during a handoff), as server-sent events, published by the
//! web channel ([`botbuilder_channels::web::WebChannel`]).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use botbuilder_channels::web::{WebChannel, WebDelivery, visitor_key};
use futures::StreamExt as _;
use tokio::sync::broadcast::error::RecvError;

use super::webchat::Visitor;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// One visitor's view of the web channel: their own deliveries, each once, in order.
struct Listener {
    web: WebChannel,
    /// The visitor's recipient key ([`visitor_key`]).
    key: String,
    /// The last sequence number sent (deliveries at or below it are not sent again).
    last_seq: u64,
    /// Missed deliveries to send first, oldest first.
    backlog: VecDeque<WebDelivery>,
    live: tokio::sync::broadcast::Receiver<WebDelivery>,
}

impl Listener {
    /// The next delivery for this visitor; `None` when the channel is gone.
    async fn next(&mut self) -> Option<WebDelivery> {
        loop {
            let delivery = match self.backlog.pop_front() {
                Some(missed) => missed,
                None => match self.live.recv().await {
                    Ok(delivery) => delivery,
                    // Too slow: take what was missed from the backlog (the history is over
                    // REST beyond it).
                    Err(RecvError::Lagged(_)) => {
                        self.backlog = self.web.since(self.last_seq).into();
                        continue;
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            if delivery.seq <= self.last_seq || delivery.to.conversation != self.key {
                continue;
            }
            self.last_seq = delivery.seq;
            return Some(delivery);
        }
    }
}

fn event_of(epoch: &str, delivery: &WebDelivery) -> Option<Result<Event, Infallible>> {
    let mut data = serde_json::to_value(&delivery.part).ok()?;
    data["session_id"] = delivery.to.thread.clone().into();
    Event::default()
        .id(format!("{epoch}.{}", delivery.seq))
        .event("message")
        .json_data(data)
        .ok()
        .map(Ok)
}

/// The sequence number to resume after, from a `Last-Event-ID` of this channel's epoch; an id
/// from another epoch (before a restart) or none starts from now.
fn resume_point(headers: &HeaderMap, web: &WebChannel) -> Option<u64> {
    let id = headers.get("last-event-id")?.to_str().ok()?;
    let (epoch, seq) = id.trim().split_once('.')?;
    let seq = seq.parse::<u64>().ok()?;
    (epoch == web.epoch() && seq <= web.last_seq()).then_some(seq)
}

/// The visitor's event stream: a `message` event per part of what reaches the visitor
/// outside their own requests (an agent's replies during a handoff), as the web channel
/// formats it (`{"type": "text", "text", "choices"?, "session_id"}`, `{"type": "image", …}`,
/// `{"type": "typing"}`); keep-alive comments every 15 s. Reconnect with the last event's `id`
/// as `Last-Event-ID` to get what was missed first (recent parts only, and not across a
/// server restart; the whole history is `GET …/messages`). The stream ends when the session
/// token expires or the server stops.
#[utoipa::path(get, path = "/api/v1/webchat/{bot}/events", tag = "webchat",
    params(("bot" = uuid::Uuid, Path, description = "Bot id"),
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received")),
    responses(
        (status = 200, description = "An SSE stream of `message` events", content_type = "text/event-stream"),
        (status = 401, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let web = state.web.clone();
    let live = web.subscribe();
    let (last_seq, backlog) = match resume_point(&headers, &web) {
        Some(seen) => (seen, web.since(seen).into()),
        None => (web.last_seq(), VecDeque::new()),
    };
    let epoch = web.epoch().to_owned();
    let listener = Listener {
        key: visitor_key(visitor.bot, &visitor.external_user),
        web,
        last_seq,
        backlog,
        live,
    };
    let token_left = (visitor.expires_at - chrono::Utc::now().timestamp()).max(0);
    let stopping = state.stopping.clone();
    let ends = async move {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(token_left.unsigned_abs())) => {}
            () = stopping.notified() => {}
        }
    };
    let stream = futures::stream::unfold(listener, |mut listener| async move {
        let delivery = listener.next().await?;
        Some((delivery, listener))
    })
    .filter_map(move |delivery| {
        let event = event_of(&epoch, &delivery);
        async move { event }
    })
    .take_until(ends);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
