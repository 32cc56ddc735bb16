//! [`ConversationRepo`] for the in-memory store.

use async_trait::async_trait;

use super::*;
use crate::domain::WebhookEventType;

impl Data {
    fn session_of(&self, org: OrgId, session: SessionId) -> StoreResult<&Session> {
        self.sessions
            .get(&session)
            .filter(|x| x.org_id == org)
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl ConversationRepo for InMemoryStore {
    async fn create_session(
        &self,
        org: OrgId,
        bot: BotId,
        new: NewSession,
    ) -> StoreResult<Session> {
        let now = self.now();
        let mut data = self.data();
        data.bot_of(org, bot)?;
        let session = Session {
            id: SessionId::new(),
            org_id: org,
            bot_id: bot,
            channel: new.channel,
            external_user: new.external_user,
            flow_version: new.flow_version,
            status: SessionStatus::Active,
            state: SessionState::default(),
            revision: 0,
            created_at: now,
            last_activity_at: now,
        };
        data.sessions.insert(session.id, session.clone());
        data.webhook_event(
            org,
            WebhookEventType::ConversationStarted,
            Some(session.id),
            session.id.as_uuid(),
            now,
        );
        Ok(session)
    }

    async fn get_session(&self, org: OrgId, session: SessionId) -> StoreResult<Session> {
        self.data().session_of(org, session).cloned()
    }

    async fn find_open_session(
        &self,
        org: OrgId,
        bot: BotId,
        channel: &str,
        external_user: &str,
    ) -> StoreResult<Option<Session>> {
        let data = self.data();
        Ok(data
            .sessions
            .values()
            .filter(|x| {
                x.org_id == org
                    && x.bot_id == bot
                    && x.channel == channel
                    && x.external_user == external_user
                    && x.status != SessionStatus::Ended
            })
            .max_by_key(|x| (x.last_activity_at, x.id))
            .cloned())
    }

    async fn update_session(
        &self,
        org: OrgId,
        session: SessionId,
        expected_revision: i64,
        status: SessionStatus,
        state: SessionState,
    ) -> StoreResult<Session> {
        let mut data = self.data();
        data.session_of(org, session)?;
        let stored = data
            .sessions
            .get_mut(&session)
            .ok_or(StoreError::NotFound)?;
        if stored.revision != expected_revision {
            return Err(StoreError::Conflict(
                "the session changed since it was read".to_owned(),
            ));
        }
        let before = stored.status;
        stored.status = status;
        stored.state = state;
        stored.revision += 1;
        let saved = stored.clone();
        data.webhook_status_change(org, session, before, status, self.now());
        Ok(saved)
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
        let mut data = self.data();
        let bot_id = data.session_of(org, session)?.bot_id;
        let stored = data
            .sessions
            .get_mut(&session)
            .ok_or(StoreError::NotFound)?;
        if stored.revision != expected_revision {
            return Err(StoreError::Conflict(
                "the session changed since it was read".to_owned(),
            ));
        }
        let before = stored.status;
        stored.status = status;
        stored.state = state;
        stored.revision += 1;
        stored.last_activity_at = now;
        let saved = stored.clone();
        for call in replies.iter().filter_map(|new| new.llm.clone()) {
            data.usage.push((org, bot_id, call, now));
        }
        let messages: Vec<Message> = replies
            .into_iter()
            .map(|new| new.into_message(MessageId::new(), org, bot_id, session, now))
            .collect();
        for message in &messages {
            data.messages.insert(message.id, message.clone());
            data.outbox(message);
        }
        data.webhook_status_change(org, session, before, status, now);
        Ok((saved, messages))
    }

    async fn list_sessions(
        &self,
        org: OrgId,
        bot: BotId,
        status: Option<SessionStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Session>> {
        let data = self.data();
        data.bot_of(org, bot)?;
        let sessions = data
            .sessions
            .values()
            .rev()
            .filter(|x| x.bot_id == bot && status.is_none_or(|s| x.status == s))
            .cloned();
        Ok(page_of(sessions, page, |x| x.id.as_uuid(), true))
    }

    async fn append_message(
        &self,
        org: OrgId,
        session: SessionId,
        new: NewMessage,
    ) -> StoreResult<Message> {
        let now = self.now();
        let mut data = self.data();
        let bot_id = data.session_of(org, session)?.bot_id;
        if let Some(call) = new.llm.clone() {
            data.usage.push((org, bot_id, call, now));
        }
        let message = new.into_message(MessageId::new(), org, bot_id, session, now);
        data.messages.insert(message.id, message.clone());
        data.outbox(&message);
        if let Some(stored) = data.sessions.get_mut(&session) {
            stored.last_activity_at = now;
        }
        Ok(message)
    }

    async fn list_messages(
        &self,
        org: OrgId,
        session: SessionId,
        page: PageRequest,
    ) -> StoreResult<Page<Message>> {
        let data = self.data();
        data.session_of(org, session)?;
        let messages = data
            .messages
            .values()
            .filter(|m| m.session_id == session)
            .cloned();
        Ok(page_of(messages, page, |m| m.id.as_uuid(), false))
    }

    async fn recent_messages(
        &self,
        org: OrgId,
        session: SessionId,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let data = self.data();
        data.session_of(org, session)?;
        let mut recent: Vec<Message> = data
            .messages
            .values()
            .rev()
            .filter(|m| m.session_id == session)
            .take(limit as usize)
            .cloned()
            .collect();
        recent.reverse();
        Ok(recent)
    }

    async fn get_message(&self, org: OrgId, message: MessageId) -> StoreResult<Message> {
        let data = self.data();
        data.messages
            .get(&message)
            .filter(|m| m.org_id == org)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn set_feedback(
        &self,
        org: OrgId,
        message: MessageId,
        rating: Rating,
        comment: Option<String>,
    ) -> StoreResult<Feedback> {
        let now = self.now();
        let mut data = self.data();
        data.messages
            .get(&message)
            .filter(|m| m.org_id == org)
            .ok_or(StoreError::NotFound)?;
        let feedback = Feedback {
            id: FeedbackId::new(),
            org_id: org,
            message_id: message,
            rating,
            comment,
            created_at: now,
        };
        data.feedback.insert(message, feedback.clone());
        let session = data.messages.get(&message).map(|m| m.session_id);
        data.webhook_event(
            org,
            WebhookEventType::FeedbackCreated,
            session,
            message.as_uuid(),
            now,
        );
        Ok(feedback)
    }

    async fn get_feedback(&self, org: OrgId, message: MessageId) -> StoreResult<Feedback> {
        self.data()
            .feedback
            .get(&message)
            .filter(|f| f.org_id == org)
            .cloned()
            .ok_or(StoreError::NotFound)
    }
}
