//! A conversation turn's store calls in one round trip each: the functions of migration
//! `0007_turn_calls.sql`, called on the pool outside any transaction. Each names its tenant
//! for the transaction of its own call, so row-level security holds inside as in a
//! [`begin_tenant`](super::super::begin_tenant) transaction, without the round trips that
//! begin and commit one (four calls a turn, three or four round trips each, were most of a
//! Postgres turn's cost on two cores).
//!
//! Writes take only messages no language model wrote (a turn that waited on a model spent
//! far longer there than here; its usage rows go through the transaction path). Their ids
//! are made before the session is locked and checked under the lock: when the session's
//! newest message does not sort before them (a concurrent writer of the same session,
//! another instance's clock ahead), the call changes nothing and hands its messages back
//! ([`Written::Careful`]), and the caller takes the transaction path, which makes the ids
//! under the lock.

use botbuilder_core::domain::{Message, NewMessage, Session, SessionStatus};
use botbuilder_core::id::{BotId, OrgId, SessionId};
use botbuilder_core::store::{StoreError, StoreResult};
use sqlx::PgPool;
use uuid::Uuid;

use super::messages::id_after;
use super::stale;
use crate::error::{corrupt, store_err};
use crate::rows::conversations::{MessageRow, SessionRow, message_columns, session_columns};
use crate::rows::from_micros;

/// SQLSTATE of a write whose new messages do not sort after the session's newest (0007).
const OUT_OF_ORDER: &str = "BB001";
/// SQLSTATE of a turn's end at a revision the session has moved past (0007).
const STALE_REVISION: &str = "BB002";

/// Whether the database raised `error` with SQLSTATE `code`.
fn raised(error: &sqlx::Error, code: &str) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

/// What a one-trip write did.
pub(in crate::postgres) enum Written<T, U> {
    /// Stored.
    Done(T),
    /// Nothing stored: its messages take the transaction path (module docs), handed back.
    Careful(U),
}

/// `session` of `org`, if it has one (`get_session`).
pub(super) async fn session(
    pool: &PgPool,
    org: OrgId,
    session: SessionId,
) -> StoreResult<Option<Session>> {
    sqlx::query_as::<_, SessionRow>(concat!(
        "SELECT ",
        session_columns!(),
        " FROM botbuilder_session($1, $2)"
    ))
    .bind(org.as_uuid())
    .bind(session.as_uuid())
    .fetch_optional(pool)
    .await
    .map_err(store_err)?
    .map(Session::try_from)
    .transpose()
}

/// The newest session of `bot` for `external_user` on `channel` that has not ended
/// (`find_open_session`).
pub(super) async fn open_session(
    pool: &PgPool,
    org: OrgId,
    bot: BotId,
    channel: &str,
    external_user: &str,
) -> StoreResult<Option<Session>> {
    sqlx::query_as::<_, SessionRow>(concat!(
        "SELECT ",
        session_columns!(),
        " FROM botbuilder_open_session($1, $2, $3, $4)"
    ))
    .bind(org.as_uuid())
    .bind(bot.as_uuid())
    .bind(channel)
    .bind(external_user)
    .fetch_optional(pool)
    .await
    .map_err(store_err)?
    .map(Session::try_from)
    .transpose()
}

/// Stores `new` in `session` of `org` at `now` (µs since the epoch) and marks the session
/// active, or hands it back for the transaction path (a model wrote it, or see the module
/// docs).
///
/// # Errors
/// `NotFound` when `org` has no such session; `Unavailable` when the database is.
pub(super) async fn append_message(
    pool: &PgPool,
    org: OrgId,
    session: SessionId,
    new: NewMessage,
    now: i64,
) -> StoreResult<Written<Message, NewMessage>> {
    if new.llm.is_some() {
        return Ok(Written::Careful(new));
    }
    let stored = sqlx::query_as::<_, MessageRow>(concat!(
        "SELECT ",
        message_columns!(),
        " FROM botbuilder_append_message($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(org.as_uuid())
    .bind(session.as_uuid())
    .bind(now)
    .bind(Uuid::now_v7())
    .bind(new.direction.as_str())
    .bind(&new.text)
    .bind(new.payload.to_string())
    .bind(new.intent.as_deref())
    .bind(new.confidence.map(f64::from))
    .fetch_optional(pool)
    .await;
    match stored {
        Ok(Some(row)) => row.try_into().map(Written::Done),
        Ok(None) => Err(StoreError::NotFound),
        Err(error) if raised(&error, OUT_OF_ORDER) => Ok(Written::Careful(new)),
        Err(error) => Err(store_err(error)),
    }
}

/// Ends a turn of `session` of `org` at `expected_revision`: stores `replies` at `now` and
/// writes `status` and `state` (stored JSON), or hands the replies back for the transaction
/// path (a model wrote one, or see the module docs).
///
/// # Errors
/// `NotFound` when `org` has no such session; `Conflict` when its revision has moved on;
/// `Unavailable` when the database is.
#[allow(clippy::too_many_arguments)]
pub(in crate::postgres) async fn complete_turn(
    pool: &PgPool,
    org: OrgId,
    session: SessionId,
    expected_revision: i64,
    replies: Vec<NewMessage>,
    status: SessionStatus,
    state: &str,
    now: i64,
) -> StoreResult<Written<(Session, Vec<Message>), Vec<NewMessage>>> {
    if replies.iter().any(|reply| reply.llm.is_some()) {
        return Ok(Written::Careful(replies));
    }
    let mut ids: Vec<Uuid> = Vec::with_capacity(replies.len());
    while ids.len() < replies.len() {
        ids.push(id_after(ids.last().copied()));
    }
    let payloads: Vec<String> = replies.iter().map(|r| r.payload.to_string()).collect();
    let completed = sqlx::query_as::<_, SessionRow>(concat!(
        "SELECT ",
        session_columns!(),
        " FROM botbuilder_complete_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(org.as_uuid())
    .bind(session.as_uuid())
    .bind(expected_revision)
    .bind(status.as_str())
    .bind(state)
    .bind(now)
    .bind(&ids)
    .bind(
        replies
            .iter()
            .map(|r| r.direction.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(replies.iter().map(|r| r.text.as_str()).collect::<Vec<_>>())
    .bind(&payloads)
    .bind(
        replies
            .iter()
            .map(|r| r.intent.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        replies
            .iter()
            .map(|r| r.confidence.map(f64::from))
            .collect::<Vec<_>>(),
    )
    .fetch_optional(pool)
    .await;
    let row = match completed {
        Ok(Some(row)) => row,
        Ok(None) => return Err(StoreError::NotFound),
        Err(error) if raised(&error, OUT_OF_ORDER) => return Ok(Written::Careful(replies)),
        Err(error) if raised(&error, STALE_REVISION) => return Err(stale()),
        Err(error) => return Err(store_err(error)),
    };
    let session = Session::try_from(row)?;
    // The replies as a read would give them back: the function wrote exactly these columns,
    // at `now`, and nothing derives any other; the payload is read from its stored text.
    let messages = ids
        .into_iter()
        .zip(replies)
        .zip(&payloads)
        .map(|((id, reply), payload)| {
            Ok(Message {
                id: id.into(),
                org_id: org,
                bot_id: session.bot_id,
                session_id: session.id,
                direction: reply.direction,
                text: reply.text,
                payload: serde_json::from_str(payload).map_err(|e| corrupt("payload", e))?,
                intent: reply.intent,
                confidence: reply.confidence,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_micros: 0,
                created_at: from_micros(now),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Written::Done((session, messages)))
}
