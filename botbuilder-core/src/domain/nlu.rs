use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{BotId, EntityId, IntentId, OrgId};
use crate::nlu::EntityKind;

/// An intent of a bot: a name and the example utterances that teach the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// The intent's id.
    pub id: IntentId,
    /// The organization owning the bot.
    pub org_id: OrgId,
    /// The bot.
    pub bot_id: BotId,
    /// Name, unique within the bot (`track_order`).
    pub name: String,
    /// Example utterances.
    pub examples: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// An intent to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIntent {
    /// Name, unique within the bot.
    pub name: String,
    /// Example utterances.
    pub examples: Vec<String>,
}

/// Changes to an intent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntentPatch {
    /// New name.
    pub name: Option<String>,
    /// New examples (replace the old ones).
    pub examples: Option<Vec<String>>,
}

/// An entity definition of a bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// The entity's id.
    pub id: EntityId,
    /// The organization owning the bot.
    pub org_id: OrgId,
    /// The bot.
    pub bot_id: BotId,
    /// Name, unique within the bot (`size`, `order_id`).
    pub name: String,
    /// How it is recognized.
    pub kind: EntityKind,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// An entity to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntity {
    /// Name, unique within the bot.
    pub name: String,
    /// How it is recognized.
    pub kind: EntityKind,
}

/// Changes to an entity; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityPatch {
    /// New name.
    pub name: Option<String>,
    /// New recognition rule.
    pub kind: Option<EntityKind>,
}
