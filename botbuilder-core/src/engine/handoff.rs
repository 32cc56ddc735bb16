//! A handoff: the reply that starts one says so, and a human agent's side of it: replies
//! delivered like any reply of the bot (stored, published as [`EngineEvent::MessageSent`], so
//! channels and live views deliver them), and the release that gives the conversation back to
//! the bot. Both are serialized with the session's turns.

use serde_json::json;

use super::{Engine, EngineError, EngineEvent, HANDOFF_NOTIFIED};
use crate::domain::{HANDOFF_KEY, HANDOFF_WAITING};
use crate::domain::{Message, MessageDirection, NewMessage, Session, SessionStatus};
use crate::id::{BotId, OrgId, SessionId};
use crate::store::StoreError;

/// Marks the last of a turn's `replies` as the start of a handoff (payload
/// `"handoff": "waiting"`), so a widget can show that a person will reply.
pub(super) fn mark_handoff_start(replies: &mut [NewMessage]) {
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
