use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{BotId, OrgId};

/// How a bot talks to a language model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiConfig {
    /// Provider id (`local`, `openai`, `anthropic`, `openai-compatible`).
    pub provider: String,
    /// Model name as the provider knows it.
    pub model: String,
    /// The system prompt that frames every answer.
    pub system_prompt: String,
    /// Sampling temperature, `0.0..=2.0`.
    pub temperature: f32,
    /// Upper bound on tokens generated per answer.
    pub max_tokens: u32,
    /// Provider to try when the main one fails, if any.
    pub fallback_provider: Option<String>,
}

impl AiConfig {
    /// Provider used when a bot names none: offline and deterministic.
    pub const DEFAULT_PROVIDER: &'static str = "local";
    /// Model used with the default provider.
    pub const DEFAULT_MODEL: &'static str = "local-extractive";
    /// Default sampling temperature.
    pub const DEFAULT_TEMPERATURE: f32 = 0.2;
    /// Default answer length bound.
    pub const DEFAULT_MAX_TOKENS: u32 = 512;
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            provider: Self::DEFAULT_PROVIDER.to_owned(),
            model: Self::DEFAULT_MODEL.to_owned(),
            system_prompt: "You are a helpful assistant.".to_owned(),
            temperature: Self::DEFAULT_TEMPERATURE,
            max_tokens: Self::DEFAULT_MAX_TOKENS,
            fallback_provider: None,
        }
    }
}

/// A chatbot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bot {
    /// The bot's id.
    pub id: BotId,
    /// The organization that owns it.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Language model settings.
    pub ai_config: AiConfig,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A bot to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBot {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Language model settings.
    pub ai_config: AiConfig,
}

/// Changes to a bot; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BotPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New AI settings (replaces the whole object).
    pub ai_config: Option<AiConfig>,
}
