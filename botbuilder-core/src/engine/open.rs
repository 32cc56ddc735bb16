//! Opening a conversation explicitly (the API's `POST …/conversations`), the same way a first
//! message opens one.

use super::snapshot::BotSnapshot;
use super::{Engine, EngineError, EngineEvent};
use crate::domain::{NewSession, Session};
use crate::id::{BotId, OrgId};
use crate::store::StoreError;

impl Engine {
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
