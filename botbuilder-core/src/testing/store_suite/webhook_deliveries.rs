//! Clauses of the webhook repository's deliveries: fan-out, order, leases, retries, the log.

use std::time::Duration;

use chrono::Utc;

use super::webhooks::{attempt, new_endpoint, rendered};
use super::{assert_not_found, new_bot, signup};
use crate::domain::{
    AttemptOutcome, KEPT_ATTEMPTS, MessageDirection, NewMessage, NewSession, PageRequest,
    WebhookClaim, WebhookDelivery, WebhookDeliveryState, WebhookEventType,
};
use crate::store::{Store, StoreError};

const LEASE: Duration = Duration::from_secs(60);

fn claimed(claim: WebhookClaim) -> (WebhookDelivery, uuid::Uuid) {
    match claim {
        WebhookClaim::Claimed { delivery, lease } => (*delivery, lease),
        other => panic!("expected a claim, got {other:?}"),
    }
}

fn session(user: &str) -> NewSession {
    NewSession {
        channel: "api".to_owned(),
        external_user: user.to_owned(),
        flow_version: None,
    }
}

/// An event fans out once, to the enabled endpoints subscribed to it; each order is sent
/// head first, one lease at a time, retried when due; attempts are logged; deliveries are
/// listed newest first; another organization sees none of them.
pub async fn webhook_deliveries_go_in_order(store: &dyn Store) {
    use WebhookEventType::*;
    let (_, org) = signup(store, "deliver").await;
    let (_, other) = signup(store, "deliver-other").await;
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    let a = store
        .create_webhook(
            org.id,
            new_endpoint(&[ConversationStarted, MessageReceived]),
        )
        .await
        .unwrap();
    let b = store
        .create_webhook(org.id, new_endpoint(&[MessageReceived]))
        .await
        .unwrap();
    let s = store
        .create_session(org.id, bot.id, session("u"))
        .await
        .unwrap();
    store
        .append_message(
            org.id,
            s.id,
            NewMessage::text(MessageDirection::Inbound, "hi"),
        )
        .await
        .unwrap();
    let events = store.unrendered_webhook_events(10).await.unwrap();
    assert_eq!(events.len(), 2);
    let started = store
        .fan_out_webhook_event(events[0].seq, rendered("started"))
        .await
        .unwrap();
    assert_eq!(
        started.len(),
        1,
        "only endpoint a takes conversation.started"
    );
    assert_eq!(
        (
            started[0].endpoint_id,
            started[0].event_type,
            started[0].order_key
        ),
        (a.id, ConversationStarted, s.id.as_uuid())
    );
    assert_eq!(started[0].state, WebhookDeliveryState::Pending);
    assert_eq!(started[0].payload, serde_json::json!({ "type": "started" }));
    let received_event = rendered("received");
    let received = store
        .fan_out_webhook_event(events[1].seq, received_event.clone())
        .await
        .unwrap();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|d| d.event_id == received_event.id));
    for seq in [events[1].seq, i64::MAX] {
        assert!(
            store
                .fan_out_webhook_event(seq, rendered("again"))
                .await
                .unwrap()
                .is_empty(),
            "an event fans out once; a missing one not at all"
        );
    }
    assert!(
        store
            .unrendered_webhook_events(10)
            .await
            .unwrap()
            .is_empty()
    );

    let now = Utc::now() + chrono::Duration::seconds(1);
    let key = s.id.as_uuid();
    let claim =
        |endpoint, org_id, at| store.claim_webhook_delivery(org_id, endpoint, key, at, LEASE, 8);
    let (head, lease) = claimed(claim(a.id, org.id, now).await.unwrap());
    assert_eq!(head.id, started[0].id);
    assert_eq!(
        claim(a.id, org.id, now).await.unwrap(),
        WebhookClaim::NothingDue,
        "the head is leased, and what follows it waits"
    );
    assert_eq!(
        claim(b.id, other.id, now).await.unwrap(),
        WebhookClaim::NothingDue
    );
    let (b_head, _) = claimed(claim(b.id, org.id, now).await.unwrap());
    assert_eq!(
        b_head.event_type, MessageReceived,
        "another endpoint's order is its own"
    );

    let retry_at = now + chrono::Duration::seconds(30);
    let retried = store
        .record_webhook_attempt(
            org.id,
            head.id,
            lease,
            attempt(503),
            AttemptOutcome::RetryAt(retry_at),
        )
        .await
        .unwrap();
    assert_eq!(
        (retried.state, retried.attempts),
        (WebhookDeliveryState::Pending, 1)
    );
    assert_eq!(retried.attempt_log[0].status, Some(503));
    assert!(
        matches!(
            store
                .record_webhook_attempt(
                    org.id,
                    head.id,
                    lease,
                    attempt(200),
                    AttemptOutcome::Succeeded
                )
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a released lease records nothing"
    );
    assert_eq!(
        claim(a.id, org.id, now).await.unwrap(),
        WebhookClaim::NothingDue,
        "not due yet, and nothing overtakes it"
    );
    let later = retry_at + chrono::Duration::seconds(1);
    let (again, lease) = claimed(claim(a.id, org.id, later).await.unwrap());
    assert_eq!(again.id, head.id);
    let done = store
        .record_webhook_attempt(
            org.id,
            head.id,
            lease,
            attempt(204),
            AttemptOutcome::Succeeded,
        )
        .await
        .unwrap();
    assert_eq!(
        (done.state, done.attempts),
        (WebhookDeliveryState::Succeeded, 2)
    );
    assert!(done.delivered_at.is_some());
    assert_eq!(done.attempt_log.len(), 2);
    let (next, lease) = claimed(claim(a.id, org.id, later).await.unwrap());
    assert_eq!(next.event_type, MessageReceived, "the next in order");
    let gave_up = store
        .record_webhook_attempt(org.id, next.id, lease, attempt(500), AttemptOutcome::GaveUp)
        .await
        .unwrap();
    assert_eq!(gave_up.state, WebhookDeliveryState::Failed);

    let listed = store
        .list_webhook_deliveries(org.id, a.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        listed.items.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![next.id, head.id],
        "newest first"
    );
    assert_not_found(
        store
            .list_webhook_deliveries(other.id, a.id, PageRequest::default())
            .await,
    );
    assert_not_found(store.get_webhook_delivery(other.id, head.id).await);
    assert_not_found(store.redeliver_webhook(other.id, head.id, later).await);
    let redelivered = store
        .redeliver_webhook(org.id, head.id, later)
        .await
        .unwrap();
    assert_eq!(
        (redelivered.state, redelivered.attempts),
        (WebhookDeliveryState::Pending, 0),
        "a redelivery gets a fresh attempt count"
    );
    assert_eq!(redelivered.attempt_log.len(), 2, "the log is kept");
    store.delete_webhook(org.id, b.id).await.unwrap();
    assert_not_found(store.get_webhook_delivery(org.id, b_head.id).await);
}

/// A delivery being sent cannot be redelivered; failing an endpoint's deliveries takes
/// their leases, so a late worker records nothing; an endpoint has at most `max_in_flight`
/// deliveries leased; the log keeps the newest attempts; the sweep finds orders by their
/// head only.
pub async fn webhook_leases_guard_every_delivery(store: &dyn Store) {
    use WebhookEventType::*;
    let (_, org) = signup(store, "leases").await;
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    let endpoint = store
        .create_webhook(
            org.id,
            new_endpoint(&[ConversationStarted, MessageReceived]),
        )
        .await
        .unwrap();
    let mut sessions = Vec::new();
    for user in ["u1", "u2", "u3"] {
        let s = store
            .create_session(org.id, bot.id, session(user))
            .await
            .unwrap();
        store
            .append_message(
                org.id,
                s.id,
                NewMessage::text(MessageDirection::Inbound, "hi"),
            )
            .await
            .unwrap();
        sessions.push(s.id.as_uuid());
    }
    for event in store.unrendered_webhook_events(100).await.unwrap() {
        store
            .fan_out_webhook_event(event.seq, rendered("e"))
            .await
            .unwrap();
    }
    let now = Utc::now() + chrono::Duration::seconds(1);
    let claim =
        |key, at, max| store.claim_webhook_delivery(org.id, endpoint.id, key, at, LEASE, max);
    let (first, first_lease) = claimed(claim(sessions[0], now, 2).await.unwrap());
    assert_eq!(
        claim(sessions[0], now, 8).await.unwrap(),
        WebhookClaim::NothingDue,
        "one delivery of an order in flight at a time"
    );
    let (second, _) = claimed(claim(sessions[1], now, 2).await.unwrap());
    assert_eq!(
        claim(sessions[2], now, 2).await.unwrap(),
        WebhookClaim::EndpointBusy,
        "two in flight is the most"
    );
    assert!(
        matches!(
            store.redeliver_webhook(org.id, second.id, now).await,
            Err(StoreError::Conflict(_))
        ),
        "a delivery being sent is not redelivered"
    );

    // The sweep: heads due and not leased only (the third order's head; the first two are
    // leased, and the rows behind their heads do not count).
    let sweep_at = now + chrono::Duration::seconds(5);
    let due = store.due_webhook_orders(sweep_at, 10).await.unwrap();
    assert_eq!(due, vec![(org.id, endpoint.id, sessions[2])], "{due:?}");
    let retry_at = now + chrono::Duration::hours(1);
    store
        .record_webhook_attempt(
            org.id,
            first.id,
            first_lease,
            attempt(503),
            AttemptOutcome::RetryAt(retry_at),
        )
        .await
        .unwrap();
    let due = store.due_webhook_orders(sweep_at, 10).await.unwrap();
    assert!(
        !due.contains(&(org.id, endpoint.id, sessions[0])),
        "a head waiting for its retry is not swept, whatever waits behind it: {due:?}"
    );
    let now_again = store
        .redeliver_webhook(org.id, first.id, now)
        .await
        .unwrap();
    assert_eq!(
        (
            now_again.state,
            now_again.next_attempt_at.map(|t| t.timestamp_micros())
        ),
        (WebhookDeliveryState::Pending, Some(now.timestamp_micros())),
        "a delivery waiting for its retry is redelivered now"
    );

    // The log keeps the newest attempts.
    let mut at = retry_at;
    for n in 0..KEPT_ATTEMPTS + 3 {
        let (d, lease) = claimed(claim(sessions[0], at, 8).await.unwrap());
        at += chrono::Duration::seconds(1);
        store
            .record_webhook_attempt(
                org.id,
                d.id,
                lease,
                attempt(500 + n as u16),
                AttemptOutcome::RetryAt(at),
            )
            .await
            .unwrap();
    }
    let kept = store.get_webhook_delivery(org.id, first.id).await.unwrap();
    assert_eq!(kept.attempt_log.len(), KEPT_ATTEMPTS);
    assert_eq!(
        kept.attempt_log.last().and_then(|a| a.status),
        Some(500 + (KEPT_ATTEMPTS + 2) as u16),
        "the newest are kept, in order"
    );
    assert_eq!(
        kept.attempts as usize,
        KEPT_ATTEMPTS + 3,
        "counted since the redelivery"
    );

    // Disabling fails what is pending and takes the leases: a late worker records nothing.
    let (held, held_lease) = claimed(claim(sessions[0], at, 8).await.unwrap());
    let failed = store
        .fail_pending_webhook_deliveries(org.id, endpoint.id, "endpoint disabled")
        .await
        .unwrap();
    assert!(failed >= 3, "{failed}");
    assert!(matches!(
        store
            .record_webhook_attempt(
                org.id,
                held.id,
                held_lease,
                attempt(503),
                AttemptOutcome::RetryAt(at)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let after = store.get_webhook_delivery(org.id, held.id).await.unwrap();
    assert_eq!(after.state, WebhookDeliveryState::Failed);
    assert_eq!(
        after.attempt_log.len(),
        KEPT_ATTEMPTS,
        "failing trims the log too"
    );
    assert_eq!(
        after.attempt_log.last().and_then(|a| a.error.as_deref()),
        Some("endpoint disabled")
    );
    assert!(
        store
            .due_webhook_orders(sweep_at, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Ended deliveries and their events go after the retention; pending ones stay.
pub async fn webhook_history_is_pruned(store: &dyn Store) {
    let (_, org) = signup(store, "prune").await;
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    let endpoint = store
        .create_webhook(
            org.id,
            new_endpoint(&[WebhookEventType::ConversationStarted]),
        )
        .await
        .unwrap();
    for user in ["done", "waiting"] {
        store
            .create_session(org.id, bot.id, session(user))
            .await
            .unwrap();
    }
    let mut deliveries = Vec::new();
    for event in store.unrendered_webhook_events(10).await.unwrap() {
        deliveries.extend(
            store
                .fan_out_webhook_event(event.seq, rendered("e"))
                .await
                .unwrap(),
        );
    }
    assert_eq!(deliveries.len(), 2);
    let now = Utc::now() + chrono::Duration::seconds(1);
    let (done, lease) = claimed(
        store
            .claim_webhook_delivery(org.id, endpoint.id, deliveries[0].order_key, now, LEASE, 8)
            .await
            .unwrap(),
    );
    store
        .record_webhook_attempt(
            org.id,
            done.id,
            lease,
            attempt(200),
            AttemptOutcome::Succeeded,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .prune_webhook_history(now - chrono::Duration::days(1))
            .await
            .unwrap(),
        0,
        "nothing is old enough"
    );
    assert_eq!(
        store
            .prune_webhook_history(now + chrono::Duration::days(1))
            .await
            .unwrap(),
        1,
        "the ended delivery goes, the pending one stays"
    );
    assert_not_found(store.get_webhook_delivery(org.id, done.id).await);
    let waiting = store
        .get_webhook_delivery(org.id, deliveries[1].id)
        .await
        .unwrap();
    assert_eq!(waiting.state, WebhookDeliveryState::Pending);
    assert_eq!(waiting.payload, deliveries[1].payload, "its event stays");
}
