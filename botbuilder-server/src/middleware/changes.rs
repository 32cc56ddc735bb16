//! Read-your-writes for caches: after a request that may have changed something (any method
//! but `GET`, `HEAD` and `OPTIONS`, unless it was refused with a 4xx), the change bus reads
//! the store's change feed before the response leaves, so this instance's caches (bot
//! snapshots, search indexes, access decisions, credentials, channels) already reflect the
//! change when the client's next request arrives. Other instances apply it from their own
//! poll of the feed, or at once when this instance announces the change over Redis.
//!
//! Nothing here guesses what changed from the path: the store records each change where it
//! is made ([`botbuilder_core::change`]). Conversation turns ([`super::ConversationTurn`])
//! change no configuration and skip the read; concurrent requests share one read.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The middleware (see the module docs).
pub async fn catch_up(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let before = state.changes.delivered();
    let response = next.run(req).await;
    let turn = response
        .extensions()
        .get::<super::ConversationTurn>()
        .is_some();
    if !safe && !turn && !response.status().is_client_error() {
        match state.changes.catch_up().await {
            // Changes arrived while this request ran (its own, if it made any, whichever read
            // delivered them): tell the other instances.
            Ok(_) if state.changes.delivered() > before => state.shared.announce(),
            Ok(_) => {}
            // The change is stored; the bus's own poll delivers it once the store answers.
            Err(e) => tracing::warn!("cannot read the change feed: {e}"),
        }
    }
    response
}
