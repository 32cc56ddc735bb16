//! Group commit: writes waiting together are committed together, each with its own outcome.
//! The tests hold the store's only writer connection while writes queue up, so the batch
//! they form is known.

use std::time::Duration;

use botbuilder_core::domain::{
    LlmCall, MessageDirection, NewBot, NewMessage, NewOrganization, NewSession, NewUser,
    PageRequest, SessionState,
};
use botbuilder_core::id::BotId;
use botbuilder_core::store::prelude::*;
use serde_json::json;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;

use super::*;
use crate::sqlite::SqliteStore;

struct Fixture {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    org: OrgId,
    sessions: Vec<Session>,
}

async fn organization(store: &SqliteStore, name: &str) -> (OrgId, BotId) {
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: format!("{name}@example.com"),
                name: name.into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: name.into() },
        )
        .await
        .unwrap();
    let bot = store
        .create_bot(
            org.id,
            NewBot {
                name: name.into(),
                ..NewBot::default()
            },
        )
        .await
        .unwrap();
    (org.id, bot.id)
}

async fn session(store: &SqliteStore, org: OrgId, bot: BotId, user: &str) -> Session {
    store
        .create_session(
            org,
            bot,
            NewSession {
                channel: "api".into(),
                external_user: user.into(),
                flow_version: None,
            },
        )
        .await
        .unwrap()
}

/// A file store (its own writer connection) with `count` sessions of one organization.
async fn fixture(count: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("turns.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let (org, bot) = organization(&store, "acme").await;
    let mut sessions = Vec::new();
    for n in 0..count {
        sessions.push(session(&store, org, bot, &format!("user-{n}")).await);
    }
    Fixture {
        _dir: dir,
        store,
        org,
        sessions,
    }
}

/// Takes the writer connection, then queues a write (to a session of its own) that the
/// committing task takes alone and waits with: every write queued after it forms the next
/// batch, when [`release_when_queued`] lets go.
async fn hold_writer(store: &SqliteStore) -> PoolConnection<Sqlite> {
    let (org, bot) = organization(store, &format!("blocker-{}", Uuid::now_v7())).await;
    let blocker = session(store, org, bot, "blocker").await;
    let held = store.writer.acquire().await.unwrap();
    let taken = batches(store);
    spawn_append(store, org, blocker.id, "first in line");
    tokio::time::timeout(Duration::from_secs(10), async {
        while batches(store) == taken {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the committing task never took the blocker");
    held
}

async fn wait_until_queued(store: &SqliteStore, queued: usize) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while store.turn_writes.counts.queued.load(Ordering::SeqCst) < queued {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the writes never queued");
    // A write is counted before it is sent, under the queue's lock: taking the lock once
    // the count is reached means every counted write is in the queue.
    drop(store.turn_writes.queue.lock().expect("queue poisoned"));
}

/// Lets go of the writer once `more` writes have been queued since `queued`.
async fn release_when_queued(
    store: &SqliteStore,
    held: PoolConnection<Sqlite>,
    queued: usize,
    more: usize,
) {
    wait_until_queued(store, queued + more).await;
    drop(held);
}

fn queued(store: &SqliteStore) -> usize {
    store.turn_writes.counts.queued.load(Ordering::SeqCst)
}

fn retried(store: &SqliteStore) -> usize {
    store.turn_writes.counts.retried.load(Ordering::SeqCst)
}

fn batches(store: &SqliteStore) -> usize {
    store.turn_writes.counts.batches.load(Ordering::SeqCst)
}

/// The user's message `text` to `session`, written by a task of its own.
fn spawn_append(
    store: &SqliteStore,
    org: OrgId,
    session: SessionId,
    text: impl Into<String>,
) -> tokio::task::JoinHandle<StoreResult<Message>> {
    let store = store.clone();
    let message = NewMessage::text(MessageDirection::Inbound, text.into());
    tokio::spawn(async move { store.append_message(org, session, message).await })
}

/// The session's messages' texts, oldest first.
async fn transcript(store: &SqliteStore, org: OrgId, session: SessionId) -> Vec<String> {
    store
        .list_messages(org, session, PageRequest::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.text)
        .collect()
}

fn reply(text: &str) -> NewMessage {
    NewMessage::text(MessageDirection::Outbound, text.to_owned())
}

fn state_with(n: usize) -> SessionState {
    let mut state = SessionState::default();
    state.variables.insert("n".into(), json!(n));
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_turns_are_committed_together_each_with_its_own_outcome() {
    let Fixture {
        _dir,
        store,
        org,
        sessions,
    } = fixture(21).await;
    let (other_org, other_bot) = organization(&store, "globex").await;
    let foreign = session(&store, other_org, other_bot, "them").await;
    let (stale, sessions) = sessions.split_last().unwrap();
    let stale = stale.clone();

    // The users' messages, and one written by `org` into another organization's session.
    let held = hold_writer(&store).await;
    let (before, queued_before) = (batches(&store), queued(&store));
    let mut appends = Vec::new();
    for (n, session) in sessions.iter().enumerate() {
        appends.push(spawn_append(
            &store,
            org,
            session.id,
            format!("question {n}"),
        ));
    }
    let intruder = spawn_append(&store, org, foreign.id, "mine now");
    release_when_queued(&store, held, queued_before, sessions.len() + 1).await;
    for (n, append) in appends.into_iter().enumerate() {
        let message = append.await.unwrap().unwrap();
        assert_eq!(message.session_id, sessions[n].id);
        assert_eq!(message.text, format!("question {n}"));
    }
    assert!(matches!(intruder.await.unwrap(), Err(StoreError::NotFound)));
    assert_eq!(batches(&store) - before, 1, "one batch for all of them");

    // The bot's replies with each session's state, and one completion at a stale revision.
    let held = hold_writer(&store).await;
    let (before, queued_before) = (batches(&store), queued(&store));
    let mut completions = Vec::new();
    for (n, session) in sessions.iter().enumerate() {
        let (store, id) = (store.clone(), session.id);
        completions.push(tokio::spawn(async move {
            store
                .complete_turn(
                    org,
                    id,
                    0,
                    vec![reply(&format!("answer {n}"))],
                    SessionStatus::Active,
                    state_with(n),
                )
                .await
        }));
    }
    let late = {
        let (store, id) = (store.clone(), stale.id);
        tokio::spawn(async move {
            store
                .complete_turn(
                    org,
                    id,
                    7,
                    vec![reply("too late")],
                    SessionStatus::Active,
                    state_with(99),
                )
                .await
        })
    };
    release_when_queued(&store, held, queued_before, sessions.len() + 1).await;
    for (n, completion) in completions.into_iter().enumerate() {
        let (saved, replies) = completion.await.unwrap().unwrap();
        assert_eq!(saved.id, sessions[n].id);
        assert_eq!(saved.revision, 1);
        assert_eq!(saved.state, state_with(n));
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].text, format!("answer {n}"));
    }
    assert!(matches!(late.await.unwrap(), Err(StoreError::Conflict(_))));
    assert_eq!(batches(&store) - before, 1, "one batch for all of them");

    // Each transcript is the question, then the answer; nothing reached the other sessions.
    for (n, session) in sessions.iter().enumerate() {
        assert_eq!(
            transcript(&store, org, session.id).await,
            [format!("question {n}"), format!("answer {n}")]
        );
    }
    for (org, id) in [(org, stale.id), (other_org, foreign.id)] {
        assert!(transcript(&store, org, id).await.is_empty());
    }
    assert_eq!(store.get_session(org, stale.id).await.unwrap().revision, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_second_write_waits_for_the_next_batch() {
    let Fixture {
        _dir,
        store,
        org,
        sessions,
    } = fixture(1).await;
    let id = sessions[0].id;
    let held = hold_writer(&store).await;
    let (before, queued_before) = (batches(&store), queued(&store));
    let racers: Vec<_> = (0..2)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .complete_turn(
                        org,
                        id,
                        0,
                        vec![reply(&format!("racer {n}"))],
                        SessionStatus::Active,
                        state_with(n),
                    )
                    .await
            })
        })
        .collect();
    release_when_queued(&store, held, queued_before, 2).await;
    let mut won = Vec::new();
    for (n, racer) in racers.into_iter().enumerate() {
        match racer.await.unwrap() {
            Ok((saved, _)) => won.push((n, saved)),
            Err(StoreError::Conflict(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one completion at revision 0 applies");
    let (winner, saved) = &won[0];
    assert_eq!(saved.state, state_with(*winner));
    assert_eq!(
        transcript(&store, org, id).await,
        [format!("racer {winner}")]
    );
    assert_eq!(
        batches(&store) - before,
        2,
        "one batch per write of the session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_is_retried_one_write_at_a_time() {
    let Fixture {
        _dir,
        store,
        org,
        sessions,
    } = fixture(6).await;
    let first = store
        .append_message(
            org,
            sessions[0].id,
            NewMessage::text(MessageDirection::Inbound, "first"),
        )
        .await
        .unwrap();
    let held = hold_writer(&store).await;
    let (before, queued_before) = (batches(&store), queued(&store));
    let writes: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(n, session)| {
            // The first session's write reuses a stored message's id: it alone must fail.
            let id = if n == 0 {
                first.id.as_uuid()
            } else {
                Uuid::now_v7()
            };
            let message = NewMessage::text(MessageDirection::Inbound, format!("write {n}"));
            let row = MessageInsert::new(id, org, session.id, message, 0);
            let store = store.clone();
            tokio::spawn(async move { store.turn_writes.append(row).await })
        })
        .collect();
    release_when_queued(&store, held, queued_before, sessions.len()).await;
    for (n, write) in writes.into_iter().enumerate() {
        let outcome = write.await.unwrap();
        if n == 0 {
            assert!(outcome.is_err(), "a duplicate id is refused");
        } else {
            assert_eq!(outcome.unwrap().unwrap().text, format!("write {n}"));
        }
    }
    let stored = transcript(&store, org, sessions[0].id).await;
    assert_eq!(stored.len(), 1, "the duplicate stored nothing");
    assert_eq!(
        batches(&store) - before,
        1,
        "one batch, then each write alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_writes_keep_their_order_across_batches() {
    let Fixture {
        _dir,
        store,
        org,
        sessions,
    } = fixture(1).await;
    let id = sessions[0].id;
    let held = hold_writer(&store).await;
    let (before, queued_before) = (batches(&store), queued(&store));
    let asked = spawn_append(&store, org, id, "question");
    wait_until_queued(&store, queued_before + 1).await;
    let answered = {
        let store = store.clone();
        tokio::spawn(async move {
            let replies = vec![reply("answer")];
            store
                .complete_turn(org, id, 0, replies, SessionStatus::Active, state_with(1))
                .await
        })
    };
    release_when_queued(&store, held, queued_before, 2).await;
    let asked = asked.await.unwrap().unwrap();
    let (_, replies) = answered.await.unwrap().unwrap();
    assert!(asked.id.as_uuid() < replies[0].id.as_uuid());
    assert_eq!(transcript(&store, org, id).await, ["question", "answer"]);
    assert_eq!(
        batches(&store) - before,
        2,
        "one batch for each write of the session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_keeps_every_trigger_effect() {
    let Fixture {
        _dir,
        store,
        org,
        sessions,
    } = fixture(3).await;
    let held = hold_writer(&store).await;
    let (before, queued_before) = (batches(&store), queued(&store));
    // A user's message, a model's answer (counted in the usage ledger by the outbox trigger)
    // and a handoff, each in another session, in one batch.
    let asked = spawn_append(&store, org, sessions[0].id, "hello");
    let answered = {
        let (store, id) = (store.clone(), sessions[1].id);
        let mut answer = reply("from the model");
        answer.llm = Some(LlmCall {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            prompt_tokens: 120,
            completion_tokens: 30,
            cost_micros: 1_234,
            estimated: false,
        });
        tokio::spawn(async move {
            store
                .complete_turn(
                    org,
                    id,
                    0,
                    vec![answer],
                    SessionStatus::Active,
                    state_with(1),
                )
                .await
        })
    };
    let handed_over = {
        let (store, id) = (store.clone(), sessions[2].id);
        tokio::spawn(async move {
            let replies = vec![reply("a person will answer")];
            store
                .complete_turn(org, id, 0, replies, SessionStatus::Handoff, state_with(2))
                .await
        })
    };
    release_when_queued(&store, held, queued_before, 3).await;
    assert_eq!(asked.await.unwrap().unwrap().text, "hello");
    let (_, replies) = answered.await.unwrap().unwrap();
    assert_eq!(
        (replies[0].prompt_tokens, replies[0].cost_micros),
        (120, 1_234)
    );
    let (saved, _) = handed_over.await.unwrap().unwrap();
    assert_eq!(saved.status, SessionStatus::Handoff);
    assert_eq!(batches(&store) - before, 1, "one batch for all three");

    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    assert_eq!(store.spend_since(org, epoch).await.unwrap(), 1_234);
    let stored = store.get_session(org, sessions[2].id).await.unwrap();
    assert_eq!(stored.status, SessionStatus::Handoff);
    let active = store.get_session(org, sessions[0].id).await.unwrap();
    assert_eq!((active.status, active.revision), (SessionStatus::Active, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_database_cannot_take_fails_every_write_at_once() {
    let Fixture {
        _dir,
        store,
        org,
        sessions,
    } = fixture(4).await;
    let mut held = hold_writer(&store).await;
    // The disk is full: no page can be added to the database.
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut *held)
        .await
        .unwrap();
    let cap = format!("PRAGMA max_page_count = {pages}");
    sqlx::query(sqlx::AssertSqlSafe(cap))
        .execute(&mut *held)
        .await
        .unwrap();
    let queued_before = queued(&store);
    let writes: Vec<_> = sessions
        .iter()
        .map(|session| spawn_append(&store, org, session.id, "x".repeat(100_000)))
        .collect();
    release_when_queued(&store, held, queued_before, sessions.len()).await;
    for write in writes {
        match write.await.unwrap() {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert_eq!(retried(&store), 0, "not written again one at a time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_caller_left_before_its_batch_is_not_written() {
    let Fixture {
        _dir,
        store,
        org,
        sessions,
    } = fixture(2).await;
    let held = hold_writer(&store).await;
    let queued_before = queued(&store);
    let left = spawn_append(&store, org, sessions[0].id, "never mind");
    let stayed = spawn_append(&store, org, sessions[1].id, "still here");
    wait_until_queued(&store, queued_before + 2).await;
    left.abort();
    assert!(left.await.unwrap_err().is_cancelled());
    drop(held);
    assert_eq!(stayed.await.unwrap().unwrap().text, "still here");
    assert!(transcript(&store, org, sessions[0].id).await.is_empty());
}
