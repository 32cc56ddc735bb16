//! Opening a conversation explicitly (the API's `POST …/conversations`), the same way a first
//! message opens one; and finding the session a message belongs to (the open one, unless it
//! has been idle too long).

use super::snapshot::BotSnapshot;
use super::{Engine, EngineError, EngineEvent, Inbound};
use crate::domain::{NewSession, Session, SessionStatus};
use crate::id::{BotId, OrgId};
use crate::store::StoreError;

impl Engine {
    /// The session `inbound` belongs to: the user's open one on the channel, unless it has
    /// been idle longer than the bot's timeout (then it is ended and a new one starts).
    pub(super) async fn open_session(
        &self,
        snapshot: &BotSnapshot,
        inbound: &Inbound,
    ) -> Result<Session, EngineError> {
        let now = self.clock.now();
        if let Some(session) = self
            .store
            .find_open_session(
                inbound.org,
                inbound.bot,
                &inbound.channel,
                &inbound.external_user,
            )
            .await?
        {
            let idle = chrono::TimeDelta::from_std(snapshot.bot.settings.idle_timeout())
                .unwrap_or(chrono::TimeDelta::MAX);
            let expired =
                session.status == SessionStatus::Active && now - session.last_activity_at > idle;
            if !expired {
                return Ok(session);
            }
            self.store
                .update_session(
                    inbound.org,
                    session.id,
                    session.revision,
                    SessionStatus::Ended,
                    session.state.clone(),
                )
                .await?;
        }
        self.start_session(
            snapshot,
            inbound.org,
            inbound.bot,
            &inbound.channel,
            &inbound.external_user,
        )
        .await
    }

    /// Starts a new session of `bot` for `external_user` on `channel`, on the bot's newest
    /// published flow, and publishes [`EngineEvent::SessionStarted`]. Earlier sessions of
    /// the user are left as they are; the next message goes to the newest open one.
    pub async fn open_conversation(
        &self,
        org: OrgId,
        bot: BotId,
        channel: &str,
        external_user: &str,
    ) -> Result<Session, EngineError> {
        let snapshot = self.snapshot(org, bot).await?;
        self.start_session(&snapshot, org, bot, channel, external_user)
            .await
    }

    /// A new session on the snapshot's newest flow, published as started.
    pub(super) async fn start_session(
        &self,
        snapshot: &BotSnapshot,
        org: OrgId,
        bot: BotId,
        channel: &str,
        external_user: &str,
    ) -> Result<Session, EngineError> {
        let created = self
            .store
            .create_session(
                org,
                bot,
                NewSession {
                    channel: channel.to_owned(),
                    external_user: external_user.to_owned(),
                    flow_version: snapshot.latest_flow,
                },
            )
            .await;
        let session = match created {
            Ok(session) => session,
            Err(StoreError::NotFound) => {
                // Deleted since the snapshot was taken (on another instance).
                self.invalidate_bot(bot);
                return Err(EngineError::BotNotFound);
            }
            Err(e) => return Err(e.into()),
        };
        self.publish(EngineEvent::SessionStarted(session.clone()));
        Ok(session)
    }
}
