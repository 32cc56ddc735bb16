//! The repository of conversations: sessions, their messages, and feedback.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{
    Feedback, Message, NewMessage, NewSession, Page, PageRequest, Rating, Session, SessionState,
    SessionStatus,
};
use crate::id::{BotId, MessageId, OrgId, SessionId};

/// Sessions, their messages, and feedback on messages.
#[async_trait]
pub trait ConversationRepo: Send + Sync + 'static {
    /// Opens a session of `bot`; `NotFound` if the bot is not `org`'s.
    async fn create_session(&self, org: OrgId, bot: BotId, new: NewSession)
    -> StoreResult<Session>;

    /// One session; `NotFound` if unknown or another organization's.
    async fn get_session(&self, org: OrgId, session: SessionId) -> StoreResult<Session>;

    /// The most recently active session of this user on this channel that has not ended.
    async fn find_open_session(
        &self,
        org: OrgId,
        bot: BotId,
        channel: &str,
        external_user: &str,
    ) -> StoreResult<Option<Session>>;

    /// Replaces the session's state and status if its revision is still `expected_revision`
    /// (then the revision goes up by one). A stale revision is `Conflict` and changes nothing.
    async fn update_session(
        &self,
        org: OrgId,
        session: SessionId,
        expected_revision: i64,
        status: SessionStatus,
        state: SessionState,
    ) -> StoreResult<Session>;

    /// Ends a turn in one transaction: stores `replies` in order and replaces the session's
    /// state and status, if its revision is still `expected_revision` (then it goes up by one
    /// and the session is marked active now). A stale revision is `Conflict` and stores
    /// nothing; another organization's session is `NotFound`.
    async fn complete_turn(
        &self,
        org: OrgId,
        session: SessionId,
        expected_revision: i64,
        replies: Vec<NewMessage>,
        status: SessionStatus,
        state: SessionState,
    ) -> StoreResult<(Session, Vec<Message>)>;

    /// Sessions of `bot`, optionally with one status, newest first, paged by id.
    async fn list_sessions(
        &self,
        org: OrgId,
        bot: BotId,
        status: Option<SessionStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<Session>>;

    /// Stores a message in a session and marks the session active now.
    async fn append_message(
        &self,
        org: OrgId,
        session: SessionId,
        new: NewMessage,
    ) -> StoreResult<Message>;

    /// A session's messages, oldest first, paged by id.
    async fn list_messages(
        &self,
        org: OrgId,
        session: SessionId,
        page: PageRequest,
    ) -> StoreResult<Page<Message>>;

    /// The newest `limit` messages of a session, returned oldest first.
    async fn recent_messages(
        &self,
        org: OrgId,
        session: SessionId,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;

    /// One message; `NotFound` if unknown or another organization's.
    async fn get_message(&self, org: OrgId, message: MessageId) -> StoreResult<Message>;

    /// Records feedback on a message, replacing earlier feedback on it.
    async fn set_feedback(
        &self,
        org: OrgId,
        message: MessageId,
        rating: Rating,
        comment: Option<String>,
    ) -> StoreResult<Feedback>;

    /// The feedback on a message; `NotFound` if it has none or is another organization's.
    async fn get_feedback(&self, org: OrgId, message: MessageId) -> StoreResult<Feedback>;
}
