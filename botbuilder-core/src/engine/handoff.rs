//! A handoff: the reply that starts one says so, and a human agent's side of it: replies
//! delivered like any reply of the bot (stored, published as [`EngineEvent::MessageSent`], so
//! channels and live views deliver them), and the release that gives the conversation back to
//! the bot. Both are serialized with the session's turns.

use serde_json::{Value, json};

use super::{
    DeltaSender, Engine, EngineError, EngineEvent, HANDOFF_NOTIFIED, HANDOFF_WAIT_REPLY, Turn,
    announce,
};
use crate::domain::{HANDOFF_KEY, HANDOFF_REMINDER, HANDOFF_WAITING};
use crate::domain::{Message, MessageDirection, NewMessage, Session, SessionState, SessionStatus};
use crate::id::{BotId, OrgId, SessionId};
use crate::store::StoreError;

/// A turn that starts a handoff: the visitor is told a person will reply (by the flow's
/// `replies`, or at once by [`HANDOFF_WAIT_REPLY`] when the flow said nothing, and then not
/// again), and the last reply is marked as the start (payload `"handoff": "waiting"`), so
/// widgets show the wait and analytics count the handoff.
pub(super) async fn start_handoff(
    replies: &mut Vec<NewMessage>,
    state: &mut SessionState,
    deltas: Option<&DeltaSender>,
) {
    if replies.is_empty() {
        let told = NewMessage::text(MessageDirection::Outbound, HANDOFF_WAIT_REPLY);
        announce(deltas, &told, false).await;
        replies.push(told);
        state
            .variables
            .insert(HANDOFF_NOTIFIED.to_owned(), Value::Bool(true));
    } else {
        state.variables.remove(HANDOFF_NOTIFIED); // a new handoff: tell the visitor again
    }
    if let Some(last) = replies.last_mut() {
        match last.payload.as_object_mut() {
            Some(payload) => {
                payload.insert(HANDOFF_KEY.to_owned(), json!(HANDOFF_WAITING));
            }
            None => last.payload = json!({ HANDOFF_KEY: HANDOFF_WAITING }),
        }
    }
}

impl Engine {
    /// A visitor's message while a person has the conversation (already stored in `turn`):
    /// the visitor is told once per handoff that a person will answer (payload
    /// `"handoff": "reminder"`), and the bot says nothing else.
    pub(super) async fn turn_during_handoff(
        &self,
        mut turn: Turn,
        deltas: Option<&DeltaSender>,
    ) -> Result<Turn, EngineError> {
        let session = &turn.session;
        if session.state.variables.get(HANDOFF_NOTIFIED) == Some(&Value::Bool(true)) {
            return Ok(turn);
        }
        let mut state = session.state.clone();
        state
            .variables
            .insert(HANDOFF_NOTIFIED.to_owned(), Value::Bool(true));
        let mut notice = NewMessage::text(MessageDirection::Outbound, HANDOFF_WAIT_REPLY);
        notice.payload = json!({ HANDOFF_KEY: HANDOFF_REMINDER });
        announce(deltas, &notice, false).await;
        let (saved, stored) = self
            .store
            .complete_turn(
                session.org_id,
                session.id,
                session.revision,
                vec![notice],
                SessionStatus::Handoff,
                state,
            )
            .await?;
        for message in &stored {
            self.publish(EngineEvent::MessageSent(message.clone()));
        }
        turn.replies = stored;
        turn.session = saved;
        Ok(turn)
    }

    /// The session of `bot`, read under its turn lock by `f`.
    async fn with_handed_off<T>(
        &self,
        org: OrgId,
        bot: BotId,
        session: SessionId,
        f: impl AsyncFnOnce(Session) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let found = match self.store.get_session(org, session).await {
            Ok(found) if found.bot_id == bot => found,
            Ok(_) | Err(StoreError::NotFound) => return Err(EngineError::SessionNotFound),
            Err(e) => return Err(e.into()),
        };
        let lock = self.session_lock(found.bot_id, &found.channel, &found.external_user);
        let _serialized = lock.lock().await;
        let current = self.store.get_session(org, session).await?;
        if current.status != SessionStatus::Handoff {
            return Err(EngineError::NotHandedOff);
        }
        f(current).await
    }

    /// Stores a human agent's reply in a handed-off conversation (`agent` names who, as an
    /// audit actor key) and publishes it like any reply.
    pub async fn agent_reply(
        &self,
        org: OrgId,
        bot: BotId,
        session: SessionId,
        text: String,
        agent: &str,
    ) -> Result<Message, EngineError> {
        self.with_handed_off(org, bot, session, async |current: Session| {
            let mut message = NewMessage::text(MessageDirection::Agent, text);
            message.payload = json!({ "agent": agent });
            let stored = self.store.append_message(org, current.id, message).await?;
            self.publish(EngineEvent::MessageSent(stored.clone()));
            Ok(stored)
        })
        .await
    }

    /// Gives a handed-off conversation back to the bot: its flow starts over at the next
    /// message. Publishes [`EngineEvent::HandoffReleased`].
    pub async fn release_handoff(
        &self,
        org: OrgId,
        bot: BotId,
        session: SessionId,
    ) -> Result<Session, EngineError> {
        self.with_handed_off(org, bot, session, async |current: Session| {
            let mut state = current.state.clone();
            state.current_node = None;
            state.attempts = 0;
            state.variables.remove(HANDOFF_NOTIFIED);
            let saved = self
                .store
                .update_session(
                    org,
                    current.id,
                    current.revision,
                    SessionStatus::Active,
                    state,
                )
                .await?;
            self.publish(EngineEvent::HandoffReleased(saved.clone()));
            Ok(saved)
        })
        .await
    }
}
