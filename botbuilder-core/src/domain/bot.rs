use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::HttpTool;
use crate::id::{BotId, KnowledgeBaseId, OrgId};

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
    /// Provider to try when the main one fails (rate limited, down, refusing its
    /// credentials, or without any), if any.
    pub fallback_provider: Option<String>,
    /// Model of the fallback provider (default: that provider's default model).
    #[serde(default)]
    pub fallback_model: Option<String>,
    /// Knowledge bases the bot answers from (searched for every AI answer).
    #[serde(default)]
    pub knowledge_base_ids: Vec<KnowledgeBaseId>,
    /// HTTP APIs the model may call.
    #[serde(default)]
    pub tools: Vec<HttpTool>,
    /// Most rounds of tool calls in one answer (then the model must answer).
    #[serde(default = "AiConfig::default_max_tool_steps")]
    pub max_tool_steps: u32,
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
    /// Default [`AiConfig::max_tool_steps`].
    pub const DEFAULT_MAX_TOOL_STEPS: u32 = 4;

    fn default_max_tool_steps() -> u32 {
        Self::DEFAULT_MAX_TOOL_STEPS
    }
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
            fallback_model: None,
            knowledge_base_ids: Vec::new(),
            tools: Vec::new(),
            max_tool_steps: Self::DEFAULT_MAX_TOOL_STEPS,
        }
    }
}

/// Per-bot behaviour outside the language model: NLU, sessions, web chat.
///
/// Every field has a default, so stored settings written by an older version (or `{}`)
/// still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BotSettings {
    /// Confidence below which NLU reports no intent (`none`), `0.0..=1.0`.
    pub nlu_threshold: f32,
    /// Seconds of inactivity after which a user's next message starts a new session.
    pub idle_timeout_secs: u32,
    /// Browser origins (`https://shop.example`) allowed to call this bot's web chat API.
    /// Empty: no browser origin may (server-to-server calls are unaffected).
    pub allowed_origins: Vec<String>,
    /// What the bot says when no language model can answer (no credentials, provider down,
    /// spend limit reached).
    pub unavailable_message: String,
    /// How the web chat widget presents the bot (public: anyone may read it).
    pub appearance: WebchatAppearance,
}

/// Which bottom corner of the page the widget's launcher sits in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetPosition {
    /// Bottom right (the default).
    #[default]
    Right,
    /// Bottom left.
    Left,
}

/// How the web chat widget presents a bot, served to any page by
/// `GET /api/v1/webchat/{bot}/config`: nothing in it is secret. Unset fields take the
/// widget's defaults (the bot's name as title, its own color, words and language). Stored
/// settings with fields this version does not know still read (a newer version wrote them);
/// an API refuses unknown fields in what a caller sends ([`WebchatAppearance::FIELDS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebchatAppearance {
    /// The header's title (1 to 60 characters).
    pub title: Option<String>,
    /// The accent color, `#rgb` or `#rrggbb`.
    pub color: Option<String>,
    /// The avatar shown in the header: an `https` URL.
    pub avatar_url: Option<String>,
    /// Shown as the bot's first message before the visitor writes (at most 1,000
    /// characters, Markdown).
    pub greeting: Option<String>,
    /// The input's placeholder (at most 100 characters).
    pub placeholder: Option<String>,
    /// The launcher's corner.
    pub position: WidgetPosition,
    /// The language of the widget's own words: a BCP 47 tag such as `fr` or `pt-BR`
    /// (the widget falls back to English for a language it does not have).
    pub language: Option<String>,
}

impl WebchatAppearance {
    /// The names of its fields, as serialized.
    pub const FIELDS: [&'static str; 7] = [
        "title",
        "color",
        "avatar_url",
        "greeting",
        "placeholder",
        "position",
        "language",
    ];
}

impl BotSettings {
    /// Default NLU threshold (the value the `nlu-eval` example tunes on CLINC150).
    pub const DEFAULT_NLU_THRESHOLD: f32 = crate::nlu::TrainOptions::DEFAULT_THRESHOLD;
    /// Default idle timeout: 30 minutes.
    pub const DEFAULT_IDLE_TIMEOUT_SECS: u32 = 30 * 60;
    /// Default [`BotSettings::unavailable_message`].
    pub const DEFAULT_UNAVAILABLE_MESSAGE: &'static str =
        "Sorry, I can't answer right now. Please try again in a little while.";

    /// The idle timeout as a duration.
    pub fn idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.idle_timeout_secs))
    }

    /// Whether a browser at `origin` may call the bot's web chat API.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            nlu_threshold: Self::DEFAULT_NLU_THRESHOLD,
            idle_timeout_secs: Self::DEFAULT_IDLE_TIMEOUT_SECS,
            allowed_origins: Vec::new(),
            unavailable_message: Self::DEFAULT_UNAVAILABLE_MESSAGE.to_owned(),
            appearance: WebchatAppearance::default(),
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
    /// NLU, session and web chat settings.
    #[serde(default)]
    pub settings: BotSettings,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A bot to create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewBot {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Language model settings.
    pub ai_config: AiConfig,
    /// NLU, session and web chat settings.
    pub settings: BotSettings,
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
    /// New bot settings (replaces the whole object).
    pub settings: Option<BotSettings>,
}

/// A bot to create whole, with its NLU data and flow, in one transaction (an import).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BotImport {
    /// The bot.
    pub bot: NewBot,
    /// Its intents.
    pub intents: Vec<super::NewIntent>,
    /// Its entities.
    pub entities: Vec<super::NewEntity>,
    /// Its flow, saved as the draft and published as version 1.
    pub flow: Option<crate::flow::Flow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appearance_field_list_is_complete_and_stored_extras_still_read() {
        let serialized = serde_json::to_value(WebchatAppearance::default()).unwrap();
        let mut keys: Vec<&str> = serialized
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut fields = WebchatAppearance::FIELDS;
        fields.sort_unstable();
        assert_eq!(keys, fields);
        let newer: WebchatAppearance =
            serde_json::from_value(serde_json::json!({ "title": "Hi", "shape": "round" })).unwrap();
        assert_eq!(newer.title.as_deref(), Some("Hi"));
    }
}
