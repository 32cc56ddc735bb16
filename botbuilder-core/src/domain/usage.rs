use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::id::BotId;

/// How usage is summed up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGrouping {
    /// Per calendar day (UTC).
    #[default]
    Day,
    /// Per bot.
    Bot,
    /// Per provider and model.
    Model,
}

/// Which language model calls to sum up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// Only this bot's calls.
    pub bot: Option<BotId>,
    /// From this instant (inclusive).
    pub since: DateTime<Utc>,
    /// Until this instant (exclusive).
    pub until: DateTime<Utc>,
    /// The grouping.
    pub group_by: UsageGrouping,
}

/// The calls of one group; the grouping's field is set, the others are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The day (grouping by day).
    pub day: Option<NaiveDate>,
    /// The bot (grouping by bot; it may since have been deleted).
    pub bot_id: Option<BotId>,
    /// The provider (grouping by model).
    pub provider: Option<String>,
    /// The model (grouping by model).
    pub model: Option<String>,
    /// Calls made.
    pub calls: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Cost in millionths of a US dollar.
    pub cost_micros: i64,
}
