//! Clauses of the webhook repository: endpoints, the outbox of events, deliveries.

use chrono::Utc;

use super::knowledge::{new_doc, new_kb};
use super::{assert_not_found, new_bot, signup};
use crate::domain::{
    DocumentStatus, MessageDirection, NewMessage, NewSession, NewWebhookEndpoint, PageRequest,
    Rating, RenderedEvent, RotatedSecret, SealedSecret, SessionState, SessionStatus,
    WebhookAttempt, WebhookEndpointPatch, WebhookEventType,
};
use crate::id::WebhookId;
use crate::store::Store;

pub(super) fn sealed(tag: u8) -> SealedSecret {
    SealedSecret {
        key_id: "k1".to_owned(),
        nonce: vec![tag; 12],
        ciphertext: vec![tag, 7, 7],
    }
}

pub(super) fn new_endpoint(events: &[WebhookEventType]) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        id: WebhookId::new(),
        url: "https://hooks.example.com/in".to_owned(),
        description: "CRM".to_owned(),
        events: events.to_vec(),
        secret: sealed(1),
    }
}

pub(super) fn attempt(status: u16) -> WebhookAttempt {
    WebhookAttempt {
        at: Utc::now(),
        status: Some(status),
        duration_ms: 12,
        error: (status >= 300).then(|| format!("answered {status}")),
    }
}

pub(super) fn rendered(tag: &str) -> RenderedEvent {
    RenderedEvent {
        id: uuid::Uuid::now_v7(),
        payload: serde_json::json!({ "type": tag }),
    }
}

/// Endpoints round-trip within their organization; patches change only what they name, a
/// rotation keeps the previous secret with its expiry; another organization sees none of
/// them; deleting removes one.
pub async fn webhook_endpoints_belong_to_their_organization(store: &dyn Store) {
    let (_, org) = signup(store, "hooks").await;
    let (_, other) = signup(store, "hooks-other").await;
    let new = new_endpoint(&[WebhookEventType::MessageSent]);
    let created = store.create_webhook(org.id, new.clone()).await.unwrap();
    assert_eq!(
        (created.id, &created.url, &created.events, created.enabled),
        (new.id, &new.url, &new.events, true)
    );
    assert_eq!(created.secret, new.secret);
    assert_eq!(created.previous_secret, None);
    assert_eq!(store.get_webhook(org.id, new.id).await.unwrap(), created);
    assert_not_found(store.get_webhook(other.id, new.id).await);
    assert!(matches!(
        store.create_webhook(org.id, new.clone()).await,
        Err(crate::store::StoreError::Conflict(_))
    ));
    let second = store
        .create_webhook(org.id, new_endpoint(&WebhookEventType::ALL))
        .await
        .unwrap();
    let page = store
        .list_webhooks(org.id, PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(page.items, vec![created.clone()]);
    let rest = store
        .list_webhooks(
            org.id,
            PageRequest {
                limit: 1,
                cursor: page.next_cursor,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items, vec![second.clone()]);
    assert!(
        store
            .list_webhooks(other.id, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let expires = Utc::now() + chrono::Duration::hours(24);
    let patched = store
        .update_webhook(
            org.id,
            created.id,
            WebhookEndpointPatch {
                enabled: Some(false),
                disabled_reason: Some(Some("410 Gone".to_owned())),
                rotated_secret: Some(RotatedSecret {
                    secret: sealed(2),
                    previous: created.secret.clone(),
                    previous_expires_at: expires,
                }),
                ..WebhookEndpointPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (patched.url.as_str(), patched.enabled),
        (new.url.as_str(), false)
    );
    assert_eq!(patched.disabled_reason.as_deref(), Some("410 Gone"));
    assert_eq!(patched.secret, sealed(2));
    assert_eq!(patched.previous_secret, Some(created.secret.clone()));
    assert_eq!(
        patched
            .previous_secret_expires_at
            .map(|t| t.timestamp_micros()),
        Some(expires.timestamp_micros())
    );
    let resealed = store
        .update_webhook(
            org.id,
            created.id,
            WebhookEndpointPatch {
                resealed: Some((sealed(3), Some(sealed(4)))),
                ..WebhookEndpointPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (&resealed.secret, resealed.previous_secret.as_ref()),
        (&sealed(3), Some(&sealed(4)))
    );
    assert_eq!(
        resealed.previous_secret_expires_at, patched.previous_secret_expires_at,
        "re-sealing keeps the grace period"
    );
    let enabled = store
        .update_webhook(
            org.id,
            created.id,
            WebhookEndpointPatch {
                url: Some("https://other.example.com/".to_owned()),
                enabled: Some(true),
                disabled_reason: Some(None),
                ..WebhookEndpointPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            enabled.url.as_str(),
            enabled.enabled,
            enabled.disabled_reason
        ),
        ("https://other.example.com/", true, None)
    );
    assert_eq!(
        enabled.secret,
        sealed(3),
        "a patch without secrets keeps them"
    );
    assert_not_found(
        store
            .update_webhook(other.id, created.id, WebhookEndpointPatch::default())
            .await,
    );
    assert_eq!(store.all_webhooks().await.unwrap().len(), 2);
    assert_not_found(store.delete_webhook(other.id, created.id).await);
    store.delete_webhook(org.id, created.id).await.unwrap();
    assert_not_found(store.get_webhook(org.id, created.id).await);
}

/// Changes record their events while an enabled endpoint is subscribed to them, in order,
/// naming their session and subject; nothing is recorded for types nobody subscribed to.
pub async fn changes_record_webhook_events(store: &dyn Store) {
    use WebhookEventType::*;
    fn session(user: &str) -> NewSession {
        NewSession {
            channel: "api".to_owned(),
            external_user: user.to_owned(),
            flow_version: None,
        }
    }
    let (_, org) = signup(store, "events").await;
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    let quiet = store
        .create_session(org.id, bot.id, session("before"))
        .await
        .unwrap();
    assert!(
        store
            .unrendered_webhook_events(100)
            .await
            .unwrap()
            .is_empty()
    );

    let everything: Vec<_> = WebhookEventType::ALL
        .into_iter()
        .filter(|t| *t != DocumentFailed)
        .collect();
    store
        .create_webhook(org.id, new_endpoint(&everything))
        .await
        .unwrap();
    let disabled = store
        .create_webhook(org.id, new_endpoint(&[DocumentFailed]))
        .await
        .unwrap();
    store
        .update_webhook(
            org.id,
            disabled.id,
            WebhookEndpointPatch {
                enabled: Some(false),
                ..WebhookEndpointPatch::default()
            },
        )
        .await
        .unwrap();

    let s = store
        .create_session(org.id, bot.id, session("u1"))
        .await
        .unwrap();
    let inbound = store
        .append_message(
            org.id,
            s.id,
            NewMessage::text(MessageDirection::Inbound, "hi"),
        )
        .await
        .unwrap();
    let (s2, replies) = store
        .complete_turn(
            org.id,
            s.id,
            s.revision,
            vec![NewMessage::text(
                MessageDirection::Outbound,
                "a person will reply",
            )],
            SessionStatus::Handoff,
            SessionState::default(),
        )
        .await
        .unwrap();
    store
        .update_session(
            org.id,
            s.id,
            s2.revision,
            SessionStatus::Active,
            SessionState::default(),
        )
        .await
        .unwrap();
    store
        .set_feedback(org.id, replies[0].id, Rating::Up, None)
        .await
        .unwrap();
    store
        .set_feedback(org.id, replies[0].id, Rating::Down, None)
        .await
        .unwrap();
    let kb = store
        .create_knowledge_base(org.id, new_kb("KB"))
        .await
        .unwrap();
    let ready = store
        .create_document(org.id, kb.id, new_doc("Ready", "r"))
        .await
        .unwrap();
    let failed = store
        .create_document(org.id, kb.id, new_doc("Failed", "f"))
        .await
        .unwrap();
    store
        .replace_chunks(org.id, ready.id, Vec::new())
        .await
        .unwrap();
    store
        .set_document_status(
            org.id,
            failed.id,
            DocumentStatus::Failed,
            0.0,
            Some("x".into()),
        )
        .await
        .unwrap();
    let working = store
        .create_document(org.id, kb.id, new_doc("Working", "w"))
        .await
        .unwrap();
    store
        .set_document_status(org.id, working.id, DocumentStatus::Processing, 0.5, None)
        .await
        .unwrap();
    let late = store
        .append_message(
            org.id,
            quiet.id,
            NewMessage::text(MessageDirection::Agent, "late"),
        )
        .await
        .unwrap();

    let events = store.unrendered_webhook_events(100).await.unwrap();
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "{events:?}");
    assert!(events.iter().all(|e| e.org_id == org.id));
    let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.subject)).collect();
    assert_eq!(
        kinds[..4],
        [
            (ConversationStarted, s.id.as_uuid()),
            (MessageReceived, inbound.id.as_uuid()),
            (MessageSent, replies[0].id.as_uuid()),
            (ConversationHandoff, s.id.as_uuid()),
        ],
        "a turn's replies come before its handoff"
    );
    assert_eq!(
        kinds[4..],
        [
            (ConversationReleased, s.id.as_uuid()),
            (FeedbackCreated, replies[0].id.as_uuid()),
            (FeedbackCreated, replies[0].id.as_uuid()),
            (DocumentReady, ready.id.as_uuid()),
            (MessageSent, late.id.as_uuid()),
        ],
        "a disabled endpoint's types and unsubscribed types record nothing"
    );
    assert_eq!(
        events[..8]
            .iter()
            .filter(|e| e.session_id == Some(s.id))
            .count(),
        7
    );
    assert_eq!(events[7].session_id, None);
    assert_eq!(events[8].session_id, Some(quiet.id));
}

/// An event whose subject is gone can be dropped.
pub async fn webhook_events_can_be_dropped(store: &dyn Store) {
    let (_, org) = signup(store, "drop").await;
    store
        .create_webhook(
            org.id,
            new_endpoint(&[WebhookEventType::ConversationStarted]),
        )
        .await
        .unwrap();
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    store
        .create_session(
            org.id,
            bot.id,
            NewSession {
                channel: "api".to_owned(),
                external_user: "u".to_owned(),
                flow_version: None,
            },
        )
        .await
        .unwrap();
    let events = store.unrendered_webhook_events(10).await.unwrap();
    assert_eq!(events.len(), 1);
    store.drop_webhook_event(events[0].seq).await.unwrap();
    assert!(
        store
            .unrendered_webhook_events(10)
            .await
            .unwrap()
            .is_empty()
    );
}
