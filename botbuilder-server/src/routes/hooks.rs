//! The one inbound route of the messaging platforms: `/hooks/{type}/{channel}` (Telegram
//! updates, WhatsApp's subscription handshake and notifications, Slack events and
//! interactions). The platform code verifies and parses (`botbuilder-channels`); accepted
//! events are queued once each and answered 200 at once, so platforms with short deadlines
//! (Slack: 3 s) never retry a slow turn.
//!
//! Answers: 200 (accepted, or the handshake's challenge as text); 401 for a missing or
//! stale signature, 403 for a wrong one (nothing processed either way); 400 for a verified
//! but malformed body; 404 for an unknown channel; 503 when the event could not be recorded
//! (the platform retries).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use botbuilder_core::channel::{ChannelKind, InboundRequest, ReceiveError, Reception, VerifyError};
use botbuilder_core::id::ChannelId;

use crate::error::ApiError;
use crate::state::AppState;

/// Receives one webhook request for a channel (see the module docs).
pub async fn hook(
    State(state): State<AppState>,
    Path((kind, channel)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (Some(kind), Ok(channel)) = (
        ChannelKind::parse(&kind).filter(|k| *k != ChannelKind::Web),
        channel.parse::<ChannelId>(),
    ) else {
        return ApiError::NotFound.into_response();
    };
    let request = InboundRequest {
        method: method.as_str().to_owned(),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        query: uri.query().unwrap_or_default().to_owned(),
        body: body.to_vec(),
    };
    match state.channels.receive(kind, channel, &request).await {
        Ok(Reception::Challenge(text)) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Ok(Reception::Accepted { .. }) => StatusCode::OK.into_response(),
        Err(ReceiveError::UnknownChannel) => ApiError::NotFound.into_response(),
        Err(ReceiveError::Unverified(VerifyError::Method)) => {
            ApiError::MethodNotAllowed.into_response()
        }
        Err(ReceiveError::Unverified(e @ VerifyError::Mismatch(_))) => {
            ApiError::Forbidden(e.to_string()).into_response()
        }
        Err(ReceiveError::Unverified(e)) => {
            tracing::info!(channel = %channel, "webhook refused: {e}");
            ApiError::Unauthorized.into_response()
        }
        Err(ReceiveError::Malformed(e)) => ApiError::BadRequest(e.to_string()).into_response(),
        Err(e) => ApiError::Unavailable(Box::new(e)).into_response(),
    }
}
