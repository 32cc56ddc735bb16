//! Sessions, their messages, and feedback ([`ConversationRepo`]) on Postgres.
//!
//! Every method runs in one transaction of its organization (row-level security behind the
//! explicit `organization_id = $1`). The four calls of a conversation turn (its session, the
//! open session of a user, a message, the turn's end) are one round trip each when no
//! language model wrote their messages: functions of migration 0007 that name their tenant
//! for their own transaction ([`turn_calls`]). What differs from SQLite, and why:
//!
//! - **A turn is a transaction, not a trigger.** SQLite stores a turn's replies through the
//!   `sessions.outbox` column and its trigger, so the whole turn is one statement on its single
//!   writer. Here [`ConversationRepo::complete_turn`] locks the session row, checks the
//!   revision, inserts the replies and their usage rows, then updates the session, and commits:
//!   all or nothing, and the replies are inserted before the status changes, so the webhook
//!   events the later migrations record keep SQLite's order (a turn's messages, then its
//!   handoff).
//! - **Revisions are compared under the row lock.** `update_session` is one
//!   `UPDATE … WHERE revision = $n`: under READ COMMITTED a concurrent writer of the same row
//!   waits for the first to commit, then re-evaluates the condition on the committed row and
//!   matches nothing, so exactly one writer of a revision wins. `complete_turn` reads the
//!   revision with `FOR NO KEY UPDATE` (the lock its final `UPDATE` takes anyway), so no other
//!   turn, update or message can slip in between the check and the write.
//! - **Message order holds across concurrent writers.** Messages are ordered by their UUIDv7
//!   ids. A message's id is checked, or made, only once its session row is locked (appending
//!   touches the session first, with the same lock): the one-trip calls check under the lock
//!   that the ids they made sort after the session's newest message, and when they do not
//!   the transaction path makes new ones there. So one session's message ids increase in the
//!   order their transactions commit: a reader paging with `id > cursor` never has a message appear
//!   behind its cursor, and what triggers derive from messages (channel deliveries, webhook
//!   events) follows the same order. SQLite's single writer serialized these writes instead.
//!   (UUIDv7 ids come from the writing instance's clock, monotonic within one process; across
//!   instances the order assumes their clocks agree to within a session's message pace.)
//! - **Marking a session active** is an explicit `GREATEST` update in the append's
//!   transaction, where SQLite has the `messages_touch_session` trigger.
//! - **Feedback** is upserted from a `SELECT` of the organization's message: another
//!   organization's message proposes no row at all, where an `ON CONFLICT` against its
//!   feedback would be refused by row-level security with an error instead of `NotFound`.

mod messages;
pub(super) mod turn_calls;

use async_trait::async_trait;
use botbuilder_core::domain::{
    Feedback, Message, NewMessage, NewSession, Page, PageRequest, Rating, Session, SessionState,
    SessionStatus,
};
use botbuilder_core::id::{BotId, FeedbackId, MessageId, OrgId, SessionId};
use botbuilder_core::store::{ConversationRepo, StoreError, StoreResult};
use sqlx::PgConnection;
use uuid::Uuid;

use self::messages::insert_messages;
use self::turn_calls::Written;
use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::conversations::{
    MessageRow, SessionRow, message_columns, parse_rating, rating_name, session_columns, state_json,
};
use crate::rows::{from_micros, micros, page_of};

/// The answer to a stale revision.
fn stale() -> StoreError {
    StoreError::Conflict("the session changed since it was read".to_owned())
}

/// `NotFound` unless `org` has `session`.
async fn require_session(db: &mut PgConnection, org: OrgId, session: SessionId) -> StoreResult<()> {
    let found = sqlx::query("SELECT 1 FROM sessions WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(session.as_uuid())
        .fetch_optional(db)
        .await
        .map_err(store_err)?;
    found.map(drop).ok_or(StoreError::NotFound)
}

/// `NotFound` unless `org` has `bot`.
async fn require_bot(db: &mut PgConnection, org: OrgId, bot: BotId) -> StoreResult<()> {
    let found = sqlx::query("SELECT 1 FROM bots WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_optional(db)
        .await
        .map_err(store_err)?;
    found.map(drop).ok_or(StoreError::NotFound)
}

/// Locks `session` (of `org`) for a turn and returns its bot: `NotFound` if there is no such
/// session, `Conflict` if its revision is no longer `expected_revision`.
async fn lock_at_revision(
    db: &mut PgConnection,
    org: OrgId,
    session: SessionId,
    expected_revision: i64,
) -> StoreResult<BotId> {
    let (bot, revision): (Uuid, i64) = sqlx::query_as(
        "SELECT bot_id, revision FROM sessions WHERE organization_id = $1 AND id = $2
         FOR NO KEY UPDATE",
    )
    .bind(org.as_uuid())
    .bind(session.as_uuid())
    .fetch_one(db)
    .await
    .map_err(store_err)?;
    if revision != expected_revision {
        return Err(stale());
    }
    Ok(bot.into())
}

/// Marks `session` (of `org`) active at `now`, locking its row, and returns its bot;
/// `NotFound` if there is no such session.
async fn touch_session(
    db: &mut PgConnection,
    org: OrgId,
    session: SessionId,
    now: i64,
) -> StoreResult<BotId> {
    sqlx::query_scalar::<_, Uuid>(
        "UPDATE sessions SET last_activity_at = GREATEST(last_activity_at, $3)
         WHERE organization_id = $1 AND id = $2 RETURNING bot_id",
    )
    .bind(org.as_uuid())
    .bind(session.as_uuid())
    .bind(now)
    .fetch_one(db)
    .await
    .map(BotId::from)
    .map_err(store_err)
}

#[async_trait]
impl ConversationRepo for PgStore {
    async fn create_session(
        &self,
        org: OrgId,
        bot: BotId,
        new: NewSession,
    ) -> StoreResult<Session> {
        let now = micros(self.now());
        let state = state_json(&SessionState::default())?;
        let mut tx = self.tenant(org).await?;
        // Another organization's bot fails the composite foreign key: `NotFound`.
        let row = sqlx::query_as::<_, SessionRow>(concat!(
            "INSERT INTO sessions (id, organization_id, bot_id, channel, external_user,
                                   flow_version, status, state, revision, created_at,
                                   last_activity_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, 0, $8, $8) RETURNING ",
            session_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(&new.channel)
        .bind(&new.external_user)
        .bind(new.flow_version.map(i64::from))
        .bind(state)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn get_session(&self, org: OrgId, session: SessionId) -> StoreResult<Session> {
        turn_calls::session(&self.pool, org, session)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn find_open_session(
        &self,
        org: OrgId,
        bot: BotId,
        channel: &str,
        external_user: &str,
    ) -> StoreResult<Option<Session>> {
        turn_calls::open_session(&self.pool, org, bot, channel, external_user).await
    }

    async fn update_session(
        &self,
        org: OrgId,
        session: SessionId,
        expected_revision: i64,
        status: SessionStatus,
        state: SessionState,
    ) -> StoreResult<Session> {
        let state = state_json(&state)?;
        let mut tx = self.tenant(org).await?;
        // Compare-and-set in one statement (see the module docs: a concurrent writer of the
        // same revision waits, re-checks, and matches nothing).
        let row = sqlx::query_as::<_, SessionRow>(concat!(
            "UPDATE sessions SET status = $4, state = $5, revision = revision + 1
             WHERE organization_id = $1 AND id = $2 AND revision = $3 RETURNING ",
            session_columns!()
        ))
        .bind(org.as_uuid())
        .bind(session.as_uuid())
        .bind(expected_revision)
        .bind(status.as_str())
        .bind(state)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        let Some(row) = row else {
            // Either not this organization's session, or someone else wrote first.
            require_session(&mut tx, org, session).await?;
            return Err(stale());
        };
        commit(tx).await?;
        row.try_into()
    }

    async fn complete_turn(
        &self,
        org: OrgId,
        session: SessionId,
        expected_revision: i64,
        replies: Vec<NewMessage>,
        status: SessionStatus,
        state: SessionState,
    ) -> StoreResult<(Session, Vec<Message>)> {
        let now = micros(self.now());
        let state = state_json(&state)?;
        let done = turn_calls::complete_turn(
            &self.pool,
            org,
            session,
            expected_revision,
            replies,
            status,
            &state,
            now,
        );
        let replies = match done.await? {
            Written::Done(completed) => return Ok(completed),
            Written::Careful(replies) => replies,
        };
        let mut tx = self.tenant(org).await?;
        let bot = lock_at_revision(&mut tx, org, session, expected_revision).await?;
        // The replies first, then the status (see the module docs).
        let messages = insert_messages(&mut tx, org, bot, session, replies, now).await?;
        // Never before the replies just stored (their time may have been raised past `now`).
        let now = messages
            .iter()
            .map(|m| micros(m.created_at))
            .fold(now, i64::max);
        let row = sqlx::query_as::<_, SessionRow>(concat!(
            "UPDATE sessions SET status = $4, state = $5, revision = revision + 1,
                    last_activity_at = GREATEST(last_activity_at, $6)
             WHERE organization_id = $1 AND id = $2 AND revision = $3 RETURNING ",
            session_columns!()
        ))
        .bind(org.as_uuid())
        .bind(session.as_uuid())
        .bind(expected_revision)
        .bind(status.as_str())
        .bind(state)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok((row.try_into()?, messages))
    }

    async fn list_sessions(
        &self,
        org: OrgId,
        bot: BotId,
        status: Option<SessionStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Session>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        require_bot(&mut tx, org, bot).await?;
        let rows = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions
              WHERE organization_id = $1 AND bot_id = $2
                AND ($3::text IS NULL OR status = $3)
                AND ($4::uuid IS NULL OR id < $4)
              ORDER BY id DESC LIMIT $5"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(status.map(SessionStatus::as_str))
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        page_of(rows, limit, |s: &Session| s.id.as_uuid())
    }

    async fn append_message(
        &self,
        org: OrgId,
        session: SessionId,
        new: NewMessage,
    ) -> StoreResult<Message> {
        let now = micros(self.now());
        let new = match turn_calls::append_message(&self.pool, org, session, new, now).await? {
            Written::Done(message) => return Ok(message),
            Written::Careful(new) => new,
        };
        let mut tx = self.tenant(org).await?;
        let bot = touch_session(&mut tx, org, session, now).await?;
        let message = insert_messages(&mut tx, org, bot, session, vec![new], now)
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        Ok(message)
    }

    async fn list_messages(
        &self,
        org: OrgId,
        session: SessionId,
        page: PageRequest,
    ) -> StoreResult<Page<Message>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        require_session(&mut tx, org, session).await?;
        let rows = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE session_id = $1 AND organization_id = $2
              AND ($3::uuid IS NULL OR id > $3) ORDER BY id LIMIT $4"
        ))
        .bind(session.as_uuid())
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        page_of(rows, limit, |m: &Message| m.id.as_uuid())
    }

    async fn recent_messages(
        &self,
        org: OrgId,
        session: SessionId,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE session_id = $1 AND organization_id = $2
              ORDER BY id DESC LIMIT $3"
        ))
        .bind(session.as_uuid())
        .bind(org.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        if rows.is_empty() {
            // No message: is there a session at all? (A turn always finds its own message,
            // so it never pays for this read.)
            require_session(&mut tx, org, session).await?;
        }
        commit(tx).await?;
        let mut messages = rows
            .into_iter()
            .map(Message::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    async fn get_message(&self, org: OrgId, message: MessageId) -> StoreResult<Message> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.as_uuid())
        .bind(message.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn set_feedback(
        &self,
        org: OrgId,
        message: MessageId,
        rating: Rating,
        comment: Option<String>,
    ) -> StoreResult<Feedback> {
        let now = micros(self.now());
        let id = FeedbackId::new();
        let mut tx = self.tenant(org).await?;
        // Only `org`'s message proposes a row (see the module docs); its existing feedback is
        // then `org`'s too (composite foreign key), and the guard on the update says so again.
        let done = sqlx::query(
            "INSERT INTO message_feedback (message_id, id, organization_id, rating, comment,
                                           created_at)
             SELECT m.id, $3, m.organization_id, $4, $5, $6 FROM messages m
             WHERE m.organization_id = $1 AND m.id = $2
             ON CONFLICT (message_id) DO UPDATE SET id = excluded.id, rating = excluded.rating,
                 comment = excluded.comment, created_at = excluded.created_at
             WHERE message_feedback.organization_id = excluded.organization_id",
        )
        .bind(org.as_uuid())
        .bind(message.as_uuid())
        .bind(id.as_uuid())
        .bind(rating_name(rating))
        .bind(&comment)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await?;
        Ok(Feedback {
            id,
            org_id: org,
            message_id: message,
            rating,
            comment,
            created_at: from_micros(now),
        })
    }

    async fn get_feedback(&self, org: OrgId, message: MessageId) -> StoreResult<Feedback> {
        let mut tx = self.tenant(org).await?;
        let row: Option<(Uuid, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, rating, comment, created_at FROM message_feedback
             WHERE message_id = $1 AND organization_id = $2",
        )
        .bind(message.as_uuid())
        .bind(org.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        let (id, rating, comment, created_at) = row.ok_or(StoreError::NotFound)?;
        Ok(Feedback {
            id: id.into(),
            org_id: org,
            message_id: message,
            rating: parse_rating(&rating)?,
            comment,
            created_at: from_micros(created_at),
        })
    }
}
