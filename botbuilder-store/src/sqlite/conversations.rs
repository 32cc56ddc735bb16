use async_trait::async_trait;
use botbuilder_core::domain::{
    Feedback, Message, NewMessage, NewSession, Page, PageRequest, Rating, Session, SessionState,
    SessionStatus,
};
use botbuilder_core::id::{BotId, FeedbackId, MessageId, OrgId, SessionId};
use botbuilder_core::store::{BotRepo, ConversationRepo, StoreError, StoreResult};
use uuid::Uuid;

use super::SqliteStore;
use super::turn_writes::{MessageInsert, TurnCompletion, insert_messages};
use crate::error::store_err;
use crate::rows::conversations::{
    MessageRow, SessionRow, message_columns, parse_rating, rating_name, session_columns, state_json,
};
use crate::rows::page_of;
use crate::rows::{from_micros, micros};

#[async_trait]
impl ConversationRepo for SqliteStore {
    async fn create_session(
        &self,
        org: OrgId,
        bot: BotId,
        new: NewSession,
    ) -> StoreResult<Session> {
        let now = micros(self.now());
        sqlx::query_as::<_, SessionRow>(concat!(
            "INSERT INTO sessions (id, organization_id, bot_id, channel, external_user,
                                   flow_version, status, state, revision, created_at,
                                   last_activity_at)
             VALUES (?, ?, ?, ?, ?, ?, 'active', ?, 0, ?, ?) RETURNING ",
            session_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(&new.channel)
        .bind(&new.external_user)
        .bind(new.flow_version.map(i64::from))
        .bind(state_json(&SessionState::default())?)
        .bind(now)
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn get_session(&self, org: OrgId, session: SessionId) -> StoreResult<Session> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE organization_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(session.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn find_open_session(
        &self,
        org: OrgId,
        bot: BotId,
        channel: &str,
        external_user: &str,
    ) -> StoreResult<Option<Session>> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions
              WHERE bot_id = ? AND organization_id = ? AND channel = ? AND external_user = ?
                AND status <> 'ended'
              ORDER BY last_activity_at DESC, id DESC LIMIT 1"
        ))
        .bind(bot.as_uuid())
        .bind(org.as_uuid())
        .bind(channel)
        .bind(external_user)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .map(Session::try_from)
        .transpose()
    }

    async fn update_session(
        &self,
        org: OrgId,
        session: SessionId,
        expected_revision: i64,
        status: SessionStatus,
        state: SessionState,
    ) -> StoreResult<Session> {
        let row = sqlx::query_as::<_, SessionRow>(concat!(
            "UPDATE sessions SET status = ?4, state = ?5, revision = revision + 1
             WHERE organization_id = ?1 AND id = ?2 AND revision = ?3 RETURNING ",
            session_columns!()
        ))
        .bind(org.as_uuid())
        .bind(session.as_uuid())
        .bind(expected_revision)
        .bind(status.as_str())
        .bind(state_json(&state)?)
        .fetch_optional(&self.writer)
        .await
        .map_err(store_err)?;
        match row {
            Some(row) => row.try_into(),
            None => {
                // Either not this organization's session, or someone else wrote first.
                self.get_session(org, session).await?;
                Err(StoreError::Conflict(
                    "the session changed since it was read".to_owned(),
                ))
            }
        }
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
        let now = self.now();
        let ids: Vec<Uuid> = replies.iter().map(|_| Uuid::now_v7()).collect();
        let outbox: Vec<serde_json::Value> = replies
            .iter()
            .zip(&ids)
            .map(|(new, id)| {
                serde_json::json!({
                    "id": id.simple().to_string(),
                    "direction": new.direction.as_str(),
                    "text": new.text,
                    "payload": new.payload.to_string(),
                    "intent": new.intent,
                    "confidence": new.confidence.map(f64::from),
                    "prompt_tokens": new.llm.as_ref().map_or(0, |c| c.prompt_tokens),
                    "completion_tokens": new.llm.as_ref().map_or(0, |c| c.completion_tokens),
                    "cost_micros": new.llm.as_ref().map_or(0, |c| c.cost_micros),
                    "llm": new.llm.as_ref().map(|c| serde_json::json!({
                        "provider": c.provider,
                        "model": c.model,
                        "estimated": i64::from(c.estimated),
                    })),
                })
            })
            .collect();
        // One statement: the `sessions_outbox` trigger (migration 0007) stores the replies
        // together with the state, or neither when the revision is stale. It is committed
        // with other sessions' turn writes waiting at the same time (group commit).
        let completion = TurnCompletion {
            org,
            session,
            expected_revision,
            status,
            state: state_json(&state)?,
            outbox: (!outbox.is_empty()).then(|| serde_json::Value::Array(outbox).to_string()),
            now: micros(now),
        };
        let Some(saved) = self.turn_writes.complete(completion).await? else {
            self.get_session(org, session).await?;
            return Err(StoreError::Conflict(
                "the session changed since it was read".to_owned(),
            ));
        };
        let messages = replies
            .into_iter()
            .zip(ids)
            .map(|(new, id)| {
                new.into_message(
                    id.into(),
                    org,
                    saved.bot_id,
                    session,
                    from_micros(micros(now)),
                )
            })
            .collect();
        Ok((saved, messages))
    }

    async fn list_sessions(
        &self,
        org: OrgId,
        bot: BotId,
        status: Option<SessionStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Session>> {
        self.get_bot(org, bot).await?;
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions
              WHERE organization_id = ?1 AND bot_id = ?2 AND (?3 IS NULL OR status = ?3)
                AND (?4 IS NULL OR id < ?4)
              ORDER BY id DESC LIMIT ?5"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(status.map(SessionStatus::as_str))
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        page_of(rows, limit, |s: &Session| s.id.as_uuid())
    }

    async fn append_message(
        &self,
        org: OrgId,
        session: SessionId,
        new: NewMessage,
    ) -> StoreResult<Message> {
        let now = micros(self.now());
        let call = new.llm.clone();
        let row = MessageInsert::new(Uuid::now_v7(), org, session, new, now);
        let Some(call) = call else {
            // Committed with other sessions' turn writes waiting at the same time.
            return self
                .turn_writes
                .append(row)
                .await?
                .ok_or(StoreError::NotFound);
        };
        // A language model wrote it: the message and its ledger row, together.
        let mut tx = self.write_transaction().await?;
        let message = insert_messages(&mut *tx, &[row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO llm_usage (id, organization_id, bot_id, provider, model, prompt_tokens,
                                    completion_tokens, cost_micros, estimated, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(message.id.as_uuid())
        .bind(org.as_uuid())
        .bind(message.bot_id.as_uuid())
        .bind(&call.provider)
        .bind(&call.model)
        .bind(i64::from(call.prompt_tokens))
        .bind(i64::from(call.completion_tokens))
        .bind(call.cost_micros)
        .bind(call.estimated)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok(message)
    }

    async fn list_messages(
        &self,
        org: OrgId,
        session: SessionId,
        page: PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.get_session(org, session).await?;
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE session_id = ?1 AND organization_id = ?2
              AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
        ))
        .bind(session.as_uuid())
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        page_of(rows, limit, |m: &Message| m.id.as_uuid())
    }

    async fn recent_messages(
        &self,
        org: OrgId,
        session: SessionId,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let mut messages = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE session_id = ? AND organization_id = ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(session.as_uuid())
        .bind(org.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Message::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
        if messages.is_empty() {
            // No message: is there a session at all? (A turn always finds its own message,
            // so it never pays for this read.)
            self.get_session(org, session).await?;
        }
        messages.reverse();
        Ok(messages)
    }

    async fn get_message(&self, org: OrgId, message: MessageId) -> StoreResult<Message> {
        sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE organization_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(message.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn set_feedback(
        &self,
        org: OrgId,
        message: MessageId,
        rating: Rating,
        comment: Option<String>,
    ) -> StoreResult<Feedback> {
        let now = self.now();
        let id = FeedbackId::new();
        // Same-organization guard on the upsert, as for flow drafts; the foreign key refuses
        // a message of another organization on insert.
        let done = sqlx::query(
            "INSERT INTO message_feedback (message_id, id, organization_id, rating, comment, created_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (message_id) DO UPDATE SET id = excluded.id, rating = excluded.rating,
                 comment = excluded.comment, created_at = excluded.created_at
             WHERE message_feedback.organization_id = excluded.organization_id",
        )
        .bind(message.as_uuid())
        .bind(id.as_uuid())
        .bind(org.as_uuid())
        .bind(rating_name(rating))
        .bind(&comment)
        .bind(micros(now))
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(Feedback {
            id,
            org_id: org,
            message_id: message,
            rating,
            comment,
            created_at: from_micros(micros(now)),
        })
    }

    async fn get_feedback(&self, org: OrgId, message: MessageId) -> StoreResult<Feedback> {
        let row: Option<(Uuid, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, rating, comment, created_at FROM message_feedback
             WHERE message_id = ? AND organization_id = ?",
        )
        .bind(message.as_uuid())
        .bind(org.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?;
        let (id, rating, comment, created_at) = row.ok_or(StoreError::NotFound)?;
        let rating = parse_rating(&rating)?;
        Ok(Feedback {
            id: id.into(),
            org_id: org,
            message_id: message,
            rating,
            comment,
            created_at: from_micros(created_at),
        })
    }
}
