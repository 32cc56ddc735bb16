//! Store conformance: sessions, messages, turns and feedback.

use serde_json::json;

use super::{assert_conflict, assert_not_found, new_bot, signup};
use crate::domain::{
    MessageDirection, NewMessage, NewSession, PageRequest, Rating, SessionState, SessionStatus,
};
use crate::id::MessageId;
use crate::store::Store;

fn web_session(user: &str) -> NewSession {
    NewSession {
        channel: "web".into(),
        external_user: user.into(),
        flow_version: Some(1),
    }
}

/// Sessions open, resume by (bot, channel, user), and update only at the revision read.
pub async fn sessions_resume_and_update_optimistically(store: &dyn Store) {
    let (_, org) = signup(store, "sessions").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("visitor-1"))
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Active);
    assert_eq!(session.revision, 0);
    assert_eq!(session.flow_version, Some(1));
    let open = store
        .find_open_session(org.id, bot.id, "web", "visitor-1")
        .await
        .unwrap();
    assert_eq!(open.as_ref().map(|s| s.id), Some(session.id));
    assert_eq!(
        store
            .find_open_session(org.id, bot.id, "telegram", "visitor-1")
            .await
            .unwrap(),
        None
    );
    let mut state = SessionState {
        current_node: Some("ask_email".into()),
        ..SessionState::default()
    };
    state.variables.insert("name".into(), json!("Ada 🤖"));
    let updated = store
        .update_session(org.id, session.id, 0, SessionStatus::Active, state.clone())
        .await
        .unwrap();
    assert_eq!(updated.revision, 1);
    assert_eq!(updated.state, state);
    // A second writer that read revision 0 loses, and changes nothing.
    assert_conflict(
        store
            .update_session(
                org.id,
                session.id,
                0,
                SessionStatus::Ended,
                SessionState::default(),
            )
            .await,
    );
    assert_eq!(
        store.get_session(org.id, session.id).await.unwrap(),
        updated
    );
    store
        .update_session(org.id, session.id, 1, SessionStatus::Ended, state)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_open_session(org.id, bot.id, "web", "visitor-1")
            .await
            .unwrap(),
        None,
        "ended sessions are not resumed"
    );
}

/// Messages keep their order and details; pages and the recent window are oldest first.
pub async fn messages_are_ordered_and_paged(store: &dyn Store) {
    let (_, org) = signup(store, "messages").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("u"))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut new = NewMessage::text(
            if i % 2 == 0 {
                MessageDirection::Inbound
            } else {
                MessageDirection::Outbound
            },
            format!("message {i} – مرحبا"),
        );
        if i == 0 {
            new.intent = Some("greet".into());
            new.confidence = Some(0.75);
            new.payload = json!({ "buttons": [{ "title": "Yes", "payload": "yes" }] });
            new.llm = Some(llm_call(10, 5, 42));
        }
        ids.push(store.append_message(org.id, session.id, new).await.unwrap());
    }
    let first = store.get_message(org.id, ids[0].id).await.unwrap();
    assert_eq!(first, ids[0]);
    assert_eq!(first.intent.as_deref(), Some("greet"));
    assert_eq!(first.confidence, Some(0.75));
    assert_eq!(first.payload["buttons"][0]["payload"], "yes");
    assert_eq!(
        (
            first.prompt_tokens,
            first.completion_tokens,
            first.cost_micros
        ),
        (10, 5, 42)
    );
    assert_eq!(first.direction, MessageDirection::Inbound);

    let page = store
        .list_messages(org.id, session.id, PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[0].id, ids[1].id]
    );
    let rest = store
        .list_messages(
            org.id,
            session.id,
            PageRequest {
                limit: 10,
                cursor: page.next_cursor,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    let recent = store.recent_messages(org.id, session.id, 3).await.unwrap();
    let texts: Vec<&str> = recent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "message 2 – مرحبا",
            "message 3 – مرحبا",
            "message 4 – مرحبا"
        ]
    );
    let touched = store.get_session(org.id, session.id).await.unwrap();
    assert!(touched.last_activity_at >= session.last_activity_at);
}

/// `complete_turn` stores the replies in order with the new state, or nothing at all.
pub async fn turns_complete_atomically(store: &dyn Store) {
    let (_, org) = signup(store, "turns").await;
    let (_, other) = signup(store, "turns-other").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("v"))
        .await
        .unwrap();
    store
        .append_message(
            org.id,
            session.id,
            NewMessage::text(MessageDirection::Inbound, "hi"),
        )
        .await
        .unwrap();
    let mut state = SessionState::default();
    state.variables.insert("step".into(), json!(2));
    let mut rich = NewMessage::text(MessageDirection::Outbound, "two 🤖 \"quoted\" مرحبا");
    rich.payload = json!({ "buttons": [{ "title": "Yes", "payload": "yes" }] });
    rich.intent = Some("greet".into());
    rich.confidence = Some(0.123_456_79);
    rich.llm = Some(llm_call(12, 34, 56));
    let replies = vec![NewMessage::text(MessageDirection::Outbound, "one"), rich];
    let (saved, stored) = store
        .complete_turn(
            org.id,
            session.id,
            0,
            replies.clone(),
            SessionStatus::Handoff,
            state.clone(),
        )
        .await
        .unwrap();
    assert_eq!(saved.revision, 1);
    assert_eq!(saved.status, SessionStatus::Handoff);
    assert_eq!(saved.state, state);
    assert_eq!(
        stored.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        vec!["one", "two 🤖 \"quoted\" مرحبا"]
    );
    let all = store
        .list_messages(org.id, session.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        vec!["hi", "one", "two 🤖 \"quoted\" مرحبا"],
        "stored in order after the inbound message"
    );
    assert_eq!(all.items[1..], stored[..], "returned exactly as stored");
    // A stale revision stores nothing.
    assert_conflict(
        store
            .complete_turn(
                org.id,
                session.id,
                0,
                replies.clone(),
                SessionStatus::Active,
                SessionState::default(),
            )
            .await,
    );
    // Another organization cannot write into the session.
    assert_not_found(
        store
            .complete_turn(
                other.id,
                session.id,
                1,
                replies,
                SessionStatus::Active,
                SessionState::default(),
            )
            .await,
    );
    let after = store
        .list_messages(org.id, session.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(after.items.len(), 3);
    let current = store.get_session(org.id, session.id).await.unwrap();
    assert_eq!(current.revision, 1);
    assert_eq!(current.state, state);
}

/// Sessions list newest first and filter by status.
pub async fn sessions_list_by_status(store: &dyn Store) {
    let (_, org) = signup(store, "inbox").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let a = store
        .create_session(org.id, bot.id, web_session("a"))
        .await
        .unwrap();
    let b = store
        .create_session(org.id, bot.id, web_session("b"))
        .await
        .unwrap();
    store
        .update_session(
            org.id,
            b.id,
            0,
            SessionStatus::Handoff,
            SessionState::default(),
        )
        .await
        .unwrap();
    let all = store
        .list_sessions(org.id, bot.id, None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        all.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b.id, a.id]
    );
    let waiting = store
        .list_sessions(
            org.id,
            bot.id,
            Some(SessionStatus::Handoff),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        waiting.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b.id]
    );
}

/// A second rating of a message replaces the first.
pub async fn feedback_replaces_earlier_feedback(store: &dyn Store) {
    let (_, org) = signup(store, "feedback").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("u"))
        .await
        .unwrap();
    let message = store
        .append_message(
            org.id,
            session.id,
            NewMessage::text(MessageDirection::Outbound, "hi"),
        )
        .await
        .unwrap();
    let up = store
        .set_feedback(org.id, message.id, Rating::Up, None)
        .await
        .unwrap();
    assert_eq!(up.rating, Rating::Up);
    let down = store
        .set_feedback(
            org.id,
            message.id,
            Rating::Down,
            Some("wrong answer".into()),
        )
        .await
        .unwrap();
    assert_eq!(down.rating, Rating::Down);
    assert_eq!(down.comment.as_deref(), Some("wrong answer"));
    assert_eq!(down.message_id, message.id);
    assert_eq!(store.get_feedback(org.id, message.id).await.unwrap(), down);
    let (_, other) = signup(store, "feedback-other").await;
    assert_not_found(store.get_feedback(other.id, message.id).await);
    assert_not_found(
        store
            .set_feedback(org.id, MessageId::new(), Rating::Up, None)
            .await,
    );
}

/// Another organization's sessions, messages and feedback are `NotFound`.
pub async fn other_tenant_conversations_are_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme-c").await;
    let (_, globex) = signup(store, "globex-c").await;
    let bot = store.create_bot(acme.id, new_bot("secret")).await.unwrap();
    let session = store
        .create_session(acme.id, bot.id, web_session("u"))
        .await
        .unwrap();
    let message = store
        .append_message(
            acme.id,
            session.id,
            NewMessage::text(MessageDirection::Inbound, "secret"),
        )
        .await
        .unwrap();
    assert_not_found(
        store
            .create_session(globex.id, bot.id, web_session("x"))
            .await,
    );
    assert_not_found(store.get_session(globex.id, session.id).await);
    assert_not_found(
        store
            .update_session(
                globex.id,
                session.id,
                0,
                SessionStatus::Ended,
                SessionState::default(),
            )
            .await,
    );
    assert_not_found(
        store
            .append_message(
                globex.id,
                session.id,
                NewMessage::text(MessageDirection::Inbound, "x"),
            )
            .await,
    );
    assert_not_found(
        store
            .list_messages(globex.id, session.id, PageRequest::default())
            .await,
    );
    assert_not_found(store.recent_messages(globex.id, session.id, 5).await);
    assert_not_found(store.get_message(globex.id, message.id).await);
    assert_not_found(
        store
            .set_feedback(globex.id, message.id, Rating::Down, None)
            .await,
    );
    assert_not_found(
        store
            .list_sessions(globex.id, bot.id, None, PageRequest::default())
            .await,
    );
    assert_eq!(
        store
            .find_open_session(globex.id, bot.id, "web", "u")
            .await
            .unwrap(),
        None
    );
    let intact = store.get_session(acme.id, session.id).await.unwrap();
    assert_eq!(intact.revision, 0);
}

fn llm_call(
    prompt_tokens: u32,
    completion_tokens: u32,
    cost_micros: i64,
) -> crate::domain::LlmCall {
    crate::domain::LlmCall {
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        prompt_tokens,
        completion_tokens,
        cost_micros,
        estimated: false,
    }
}
