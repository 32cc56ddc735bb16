//! The body of each event: `{"type", "timestamp", "data"}` (the Standard Webhooks payload
//! shape), `data` holding what the event is about.

use serde_json::{Value, json};

use crate::domain::{Document, Message, Session, WebhookEvent, WebhookEventType};
use crate::id::{DocumentId, MessageId, SessionId};
use crate::store::{Store, StoreError};

/// Renders `event`'s body from what it is about; `None` when that is gone (deleted since).
///
/// `data` by type:
/// - `conversation.*`: `{organization_id, bot_id, session: {id, channel, external_user,
///   created_at}}`;
/// - `message.*`: the same plus `message: {id, direction, text, payload, intent,
///   confidence, created_at}`;
/// - `feedback.created`: the same plus `feedback: {rating, comment, created_at}`;
/// - `document.*`: `{organization_id, knowledge_base_id, document: {id, title,
///   content_type, size_bytes, status, error, chunk_count, updated_at}}`.
///
/// # Errors
/// The store's, except `NotFound` (which is `Ok(None)`).
pub async fn render(store: &dyn Store, event: &WebhookEvent) -> Result<Option<Value>, StoreError> {
    let data = match data_of(store, event).await {
        Ok(data) => data,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(json!({
        "type": event.kind.as_str(),
        "timestamp": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    })))
}

async fn data_of(store: &dyn Store, event: &WebhookEvent) -> Result<Value, StoreError> {
    use WebhookEventType::*;
    let org = event.org_id;
    match event.kind {
        ConversationStarted | ConversationHandoff | ConversationReleased => {
            let session = store
                .get_session(org, SessionId::from(event.subject))
                .await?;
            Ok(conversation(&session))
        }
        MessageReceived | MessageSent => {
            let message = store
                .get_message(org, MessageId::from(event.subject))
                .await?;
            let session = store.get_session(org, message.session_id).await?;
            let mut data = conversation(&session);
            data["message"] = message_json(&message);
            Ok(data)
        }
        FeedbackCreated => {
            let message = store
                .get_message(org, MessageId::from(event.subject))
                .await?;
            let feedback = store.get_feedback(org, message.id).await?;
            let session = store.get_session(org, message.session_id).await?;
            let mut data = conversation(&session);
            data["message"] = message_json(&message);
            data["feedback"] = json!({
                "rating": feedback.rating,
                "comment": feedback.comment,
                "created_at": feedback.created_at,
            });
            Ok(data)
        }
        DocumentReady | DocumentFailed => {
            let document = store
                .get_document(org, DocumentId::from(event.subject))
                .await?;
            Ok(document_json(&document))
        }
    }
}

fn conversation(session: &Session) -> Value {
    json!({
        "organization_id": session.org_id,
        "bot_id": session.bot_id,
        "session": {
            "id": session.id,
            "channel": session.channel,
            "external_user": session.external_user,
            "created_at": session.created_at,
        },
    })
}

fn message_json(message: &Message) -> Value {
    json!({
        "id": message.id,
        "direction": message.direction,
        "text": message.text,
        "payload": message.payload,
        "intent": message.intent,
        "confidence": message.confidence,
        "created_at": message.created_at,
    })
}

fn document_json(document: &Document) -> Value {
    json!({
        "organization_id": document.org_id,
        "knowledge_base_id": document.kb_id,
        "document": {
            "id": document.id,
            "title": document.title,
            "content_type": document.content_type,
            "size_bytes": document.size_bytes,
            "status": document.status,
            "error": document.error,
            "chunk_count": document.chunk_count,
            "updated_at": document.updated_at,
        },
    })
}
