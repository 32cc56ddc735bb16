//! What the NLU makes of a text, the one code path the turn and `nlu/parse` share.

use chrono::NaiveDate;

use super::snapshot::BotSnapshot;
use super::{Engine, EngineError};
use crate::id::{BotId, OrgId};
use crate::nlu::{EntityMatch, IntentScore};

/// The intent and entities of a text, for one bot.
#[derive(Debug, Clone, PartialEq)]
pub struct Understanding {
    /// The detected intent (`None` below the bot's threshold, or without intents).
    pub intent: Option<String>,
    /// The best intent's calibrated confidence (0 without intents).
    pub confidence: f32,
    /// Every intent, best first.
    pub ranking: Vec<IntentScore>,
    /// The entities found.
    pub entities: Vec<EntityMatch>,
}

/// The bot's models applied to `text` (dates resolved against `today`).
pub(super) fn understand(snapshot: &BotSnapshot, text: &str, today: NaiveDate) -> Understanding {
    let models = &snapshot.models;
    let entities = models.extractor.extract(text, today);
    let prediction = models
        .classifier
        .as_ref()
        .map(|c| c.classify_around(text, snapshot.bot.settings.nlu_threshold, &entities));
    match prediction {
        Some(p) => Understanding {
            intent: p.intent,
            confidence: p.confidence,
            ranking: p.ranking,
            entities,
        },
        None => Understanding {
            intent: None,
            confidence: 0.0,
            ranking: Vec::new(),
            entities,
        },
    }
}

impl Engine {
    /// What `bot` understands of `text`, exactly as a turn would (same models, threshold
    /// and clock), without storing anything.
    pub async fn understand(
        &self,
        org: OrgId,
        bot: BotId,
        text: &str,
    ) -> Result<Understanding, EngineError> {
        let snapshot = self.snapshot(org, bot).await?;
        Ok(understand(&snapshot, text, self.clock.now().date_naive()))
    }
}
