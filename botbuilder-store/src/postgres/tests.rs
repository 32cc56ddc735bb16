use uuid::Uuid;

use super::testing::fresh_database;
use super::*;

async fn names(tx: &mut Transaction<'static, Postgres>) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM bots ORDER BY name")
        .fetch_all(&mut **tx)
        .await
        .unwrap()
}

/// Settings of a pool of one connection, on which tenants take turns.
fn one_connection() -> PgSettings {
    PgSettings {
        max_connections: 1,
        ..PgSettings::default()
    }
}

/// A pool of one connection to a fresh database for `test`; `None` without Postgres.
async fn one_connection_pool(test: &str) -> Option<PgPool> {
    let url = fresh_database(test).await?;
    Some(connect(&url, &one_connection()).await.unwrap())
}

/// Inserts an organization with one bot named `bot`, as the platform.
async fn tenant_with_bot(pool: &PgPool, bot: &str) -> OrgId {
    let org = OrgId::new();
    let mut tx = begin_platform(pool).await.unwrap();
    sqlx::query(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, 'o', 0, 0)",
    )
    .bind(org.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO bots (id, organization_id, name, ai_config, created_at, updated_at)
         VALUES ($1, $2, $3, '{}', 0, 0)",
    )
    .bind(Uuid::now_v7())
    .bind(org.as_uuid())
    .bind(bot)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    org
}

/// On one pooled connection, tenants interleaved: each transaction sees and changes only its
/// tenant's rows; a query that names no tenant sees none, also right after a transaction of
/// a tenant was aborted midway; and a row cannot be written into another tenant.
#[tokio::test]
async fn row_level_security_keeps_tenants_apart_on_one_pooled_connection() {
    let Some(pool) =
        one_connection_pool("row_level_security_keeps_tenants_apart_on_one_pooled_connection")
            .await
    else {
        return;
    };
    let a = tenant_with_bot(&pool, "a-bot").await;
    let b = tenant_with_bot(&pool, "b-bot").await;

    // The application's role owns nothing, so the policies apply to it.
    let (role, app, owner): (String, String, String) = sqlx::query_as(
        "SELECT current_user::text, botbuilder_app_role(), tableowner::text
         FROM pg_tables WHERE tablename = 'bots'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(role, app);
    assert!(
        app.starts_with("botbuilder_app_t_"),
        "one role per database: {app}"
    );
    assert_ne!(owner, role);

    for (org, expected) in [(a, "a-bot"), (b, "b-bot"), (a, "a-bot")] {
        let mut tx = begin_tenant(&pool, org).await.unwrap();
        assert_eq!(names(&mut tx).await, [expected]);
        tx.commit().await.unwrap();
    }
    let unscoped: i64 = sqlx::query_scalar("SELECT count(*) FROM bots")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(unscoped, 0, "no tenant named, no tenant row");

    // A's transaction fails midway and is rolled back; the connection forgets A.
    let mut tx = begin_tenant(&pool, a).await.unwrap();
    assert!(sqlx::query("SELECT 1 / 0").execute(&mut *tx).await.is_err());
    drop(tx);
    let after_abort: i64 = sqlx::query_scalar("SELECT count(*) FROM bots")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after_abort, 0);
    let mut tx = pool.begin().await.unwrap();
    assert!(names(&mut tx).await.is_empty());
    tx.commit().await.unwrap();

    // A cannot write into B, nor change B's rows.
    let mut tx = begin_tenant(&pool, a).await.unwrap();
    let smuggled = sqlx::query(
        "INSERT INTO bots (id, organization_id, name, ai_config, created_at, updated_at)
         VALUES ($1, $2, 'smuggled', '{}', 0, 0)",
    )
    .bind(Uuid::now_v7())
    .bind(b.as_uuid())
    .execute(&mut *tx)
    .await;
    assert!(smuggled.is_err(), "{smuggled:?}");
    drop(tx);
    let mut tx = begin_tenant(&pool, a).await.unwrap();
    let renamed = sqlx::query("UPDATE bots SET name = 'renamed'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(renamed.rows_affected(), 1, "only A's bot");
    tx.commit().await.unwrap();
    let mut tx = begin_platform(&pool).await.unwrap();
    assert_eq!(names(&mut tx).await, ["b-bot", "renamed"]);
    tx.commit().await.unwrap();
}

/// A caller that goes away while its transaction begins (a client hanging up) leaves the
/// pooled connection outside any transaction and without its tenant, wherever it stopped.
#[tokio::test]
async fn a_transaction_abandoned_while_it_begins_leaves_no_tenant_behind() {
    let Some(pool) =
        one_connection_pool("a_transaction_abandoned_while_it_begins_leaves_no_tenant_behind")
            .await
    else {
        return;
    };
    let a = tenant_with_bot(&pool, "a-bot").await;
    // Dropped after 0, 1, 2, … polls, yielding in between so the connection's I/O moves on:
    // some of those stops fall while the `BEGIN` is in flight.
    for step in 0..300 {
        let mut begun = Box::pin(begin_tenant(&pool, a));
        for _ in 0..step {
            let ready = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(begun.as_mut().poll(cx).is_ready())
            })
            .await;
            if ready {
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(begun);
        let (tenant, visible): (String, i64) = sqlx::query_as(
            "SELECT coalesce(current_setting('botbuilder.org', true), ''),
                    (SELECT count(*) FROM bots)",
        )
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("after {step} polls: {e}"));
        assert_eq!((tenant.as_str(), visible), ("", 0), "after {step} polls");
    }
}

/// Upstream error text may hold NUL, which Postgres text cannot: a job's failure is still
/// recorded (without it) rather than lost as a backend error.
#[tokio::test]
async fn failures_with_nul_in_their_error_are_recorded() {
    use botbuilder_core::queue::{JobQueue, NewJob};
    let test = "failures_with_nul_in_their_error_are_recorded";
    let Some(url) = fresh_database(test).await else {
        return;
    };
    let store = PgStore::connect(&url, PgSettings::default()).await.unwrap();
    let job = NewJob {
        kind: "send".into(),
        payload: serde_json::json!({ "to": "x" }),
        max_attempts: 1,
    };
    let id = store.enqueue(job).await.unwrap();
    let leased = store
        .reserve(&["send"], std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leased.id, id);
    store
        .fail(id, "upstream said \0no\0", std::time::Duration::ZERO)
        .await
        .unwrap();
    let dead = store
        .dead_letters_where("send", "to", "x", 10)
        .await
        .unwrap();
    assert_eq!(dead[0].last_error.as_deref(), Some("upstream said no"));
}

/// A database restored (or renamed) under another name gets the role of its new name when the
/// store connects, with every right it needs: migrations do not run again, the role does not
/// travel with a dump, and the store still serves.
#[tokio::test]
async fn a_database_under_a_new_name_gets_its_own_role_on_connect() {
    use botbuilder_core::store::prelude::*;
    let test = "a_database_under_a_new_name_gets_its_own_role_on_connect";
    let Some(url) = fresh_database(test).await else {
        return;
    };
    PgStore::connect(&url, PgSettings::default())
        .await
        .unwrap()
        .close()
        .await;
    let (server, old) = url.rsplit_once('/').unwrap();
    let new = format!("{old}_restored");
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{server}/postgres"))
            .await
            .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {old} RENAME TO {new}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let store = PgStore::connect(&format!("{server}/{new}"), PgSettings::default())
        .await
        .unwrap();
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(role, format!("botbuilder_app_{new}"));
    let (user, org) = store
        .create_user_with_org(
            botbuilder_core::domain::NewUser {
                email: "restored@example.com".into(),
                name: "R".into(),
                password_hash: "-".into(),
            },
            botbuilder_core::domain::NewOrganization { name: "R".into() },
        )
        .await
        .unwrap();
    assert_eq!(store.get_org(org.id).await.unwrap().name, "R");
    assert_eq!(store.get_user(user.id).await.unwrap().name, "R");
}

/// A turn's one-trip calls (migration 0007) name their tenant for their own call alone: on a
/// pool of one connection, a plain query right after one sees no tenant row, and a call for
/// one organization finds nothing of another's. A turn's end answers as the transaction path
/// does.
#[tokio::test]
async fn turn_calls_name_their_tenant_for_their_own_call_alone() {
    use botbuilder_core::domain::{MessageDirection, NewMessage, NewSession, SessionStatus};
    use botbuilder_core::store::{ConversationRepo, StoreError};
    let test = "turn_calls_name_their_tenant_for_their_own_call_alone";
    let Some(url) = fresh_database(test).await else {
        return;
    };
    let store = PgStore::connect(&url, one_connection()).await.unwrap();
    let (a, a_bot) = tenant_and_bot(store.pool(), "a-bot").await;
    let (b, _) = tenant_and_bot(store.pool(), "b-bot").await;
    let session = store
        .create_session(
            a,
            a_bot,
            NewSession {
                channel: "api".into(),
                external_user: "u".into(),
                flow_version: None,
            },
        )
        .await
        .unwrap();
    let hello = NewMessage::text(MessageDirection::Inbound, "hello");
    store
        .append_message(a, session.id, hello.clone())
        .await
        .unwrap();
    let unscoped: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(unscoped, 0, "the call's tenant ended with it");
    assert!(matches!(
        store.get_session(b, session.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.append_message(b, session.id, hello).await,
        Err(StoreError::NotFound)
    ));
    let found = store.find_open_session(b, a_bot, "api", "u").await.unwrap();
    assert!(found.is_none(), "{found:?}");

    // A turn's end without a model: another organization's session is not found, the replies
    // returned are the replies stored, and a stale revision changes nothing.
    let read = store.get_session(a, session.id).await.unwrap();
    let mut button = NewMessage::text(MessageDirection::Outbound, "two");
    button.payload = serde_json::json!({ "buttons": [{ "title": "Yes", "payload": "yes" }] });
    button.confidence = Some(0.25);
    let replies = vec![NewMessage::text(MessageDirection::Outbound, "one"), button];
    let state = read.state.clone();
    let elsewhere = store
        .complete_turn(
            b,
            session.id,
            read.revision,
            replies.clone(),
            SessionStatus::Active,
            state,
        )
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::NotFound)),
        "{elsewhere:?}"
    );
    // Called directly, to know the one-trip call answered rather than the transaction path.
    let done = super::conversations::turn_calls::complete_turn(
        store.pool(),
        a,
        session.id,
        read.revision,
        replies,
        SessionStatus::Handoff,
        &crate::rows::conversations::state_json(&read.state).unwrap(),
        crate::rows::micros(chrono::Utc::now()),
    )
    .await
    .unwrap();
    let super::conversations::turn_calls::Written::Done((ended, stored)) = done else {
        panic!("the one-trip call handed its replies back");
    };
    let unscoped: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(unscoped, 0, "the turn end's tenant ended with it");
    assert_eq!(
        (ended.revision, ended.status),
        (read.revision + 1, SessionStatus::Handoff)
    );
    let transcript = store
        .list_messages(
            a,
            session.id,
            botbuilder_core::domain::PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(transcript.len(), 3);
    assert_eq!(transcript[1..], stored[..], "the replies as stored");
    let stale = store
        .complete_turn(
            a,
            session.id,
            read.revision,
            Vec::new(),
            SessionStatus::Active,
            read.state,
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert_eq!(store.get_session(a, session.id).await.unwrap(), ended);
}

/// When a session's newest message sorts after the ids a one-trip call made (another
/// instance's clock ahead), or carries a later time, the call stores nothing and the store
/// takes the transaction path: the new messages still come after it, never earlier in time.
#[tokio::test]
async fn messages_after_a_newer_one_take_the_transaction_path_and_keep_the_order() {
    use botbuilder_core::domain::{MessageDirection, NewMessage, NewSession, SessionStatus};
    use botbuilder_core::store::ConversationRepo;
    let test = "messages_after_a_newer_one_take_the_transaction_path_and_keep_the_order";
    let Some(url) = fresh_database(test).await else {
        return;
    };
    let store = PgStore::connect(&url, PgSettings::default()).await.unwrap();
    let (org, bot) = tenant_and_bot(store.pool(), "bot").await;
    let session = store
        .create_session(
            org,
            bot,
            NewSession {
                channel: "api".into(),
                external_user: "u".into(),
                flow_version: None,
            },
        )
        .await
        .unwrap();
    // Written by an instance whose clock runs an hour ahead.
    let hour = 3_600_000_000_i64;
    let ahead_at = crate::rows::micros(chrono::Utc::now()) + hour;
    let ahead_id = Uuid::from_u128(Uuid::now_v7().as_u128() + (3_600_000_u128 << 80));
    let mut tx = begin_tenant(store.pool(), org).await.unwrap();
    sqlx::query(
        "INSERT INTO messages (id, organization_id, bot_id, session_id, direction, text,
                               payload, created_at)
         VALUES ($1, $2, $3, $4, 'inbound', 'from the future', '{}', $5)",
    )
    .bind(ahead_id)
    .bind(org.as_uuid())
    .bind(bot.as_uuid())
    .bind(session.id.as_uuid())
    .bind(ahead_at)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let appended = store
        .append_message(
            org,
            session.id,
            NewMessage::text(MessageDirection::Inbound, "now"),
        )
        .await
        .unwrap();
    let (ended, replies) = store
        .complete_turn(
            org,
            session.id,
            session.revision,
            vec![
                NewMessage::text(MessageDirection::Outbound, "one"),
                NewMessage::text(MessageDirection::Outbound, "two"),
            ],
            SessionStatus::Active,
            session.state.clone(),
        )
        .await
        .unwrap();
    assert_eq!(ended.revision, session.revision + 1);
    let transcript = store
        .list_messages(
            org,
            session.id,
            botbuilder_core::domain::PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    let texts: Vec<&str> = transcript.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["from the future", "now", "one", "two"]);
    assert!(appended.id.as_uuid() > ahead_id);
    assert!(crate::rows::micros(appended.created_at) >= ahead_at);
    assert_eq!(transcript[1], appended);
    assert_eq!(transcript[2..], replies[..], "the replies as stored");
}

/// Inserts an organization with one bot named `bot`, as the platform; returns both ids.
async fn tenant_and_bot(pool: &PgPool, bot: &str) -> (OrgId, botbuilder_core::id::BotId) {
    let org = tenant_with_bot(pool, bot).await;
    let mut tx = begin_tenant(pool, org).await.unwrap();
    let id: Uuid = sqlx::query_scalar("SELECT id FROM bots")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (org, id.into())
}
