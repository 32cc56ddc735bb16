//! Bots and their NLU data as stored (see the [module docs](super)): the bot columns, and the
//! JSON text of a bot's structured fields and of intents' and entities' data.

use botbuilder_core::domain::{AiConfig, BotSettings, NewEntity, NewIntent};
use botbuilder_core::store::StoreResult;

use crate::error::corrupt;

/// The columns of [`super::BotRow`].
macro_rules! bot_columns {
    () => {
        "id, organization_id, name, description, ai_config, settings, created_at, updated_at"
    };
}

pub(crate) use bot_columns;

/// The stored JSON of a bot's language model configuration.
pub(crate) fn ai_json(config: &AiConfig) -> StoreResult<String> {
    super::json_text(config)
}

/// The stored JSON of a bot's settings.
pub(crate) fn settings_json(settings: &BotSettings) -> StoreResult<String> {
    super::json_text(settings)
}

/// The stored JSON of an intent's examples or an entity's kind.
pub(crate) fn nlu_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt("NLU data", e))
}

/// The stored JSON of a new intent's examples.
pub(crate) fn examples_json(new: &NewIntent) -> StoreResult<String> {
    nlu_json(&new.examples)
}

/// The stored JSON of a new entity's kind.
pub(crate) fn kind_json(new: &NewEntity) -> StoreResult<String> {
    nlu_json(&new.kind)
}
