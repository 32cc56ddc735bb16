use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::flow::Flow;
use crate::id::BotId;

/// The editable flow of a bot (not yet what sessions run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDraft {
    /// The bot.
    pub bot_id: BotId,
    /// The graph.
    pub flow: Flow,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

/// A published, immutable version of a bot's flow. Sessions keep the version they started
/// with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowVersion {
    /// The bot.
    pub bot_id: BotId,
    /// 1 for the first publication, then increasing by one.
    pub version: u32,
    /// The graph.
    pub flow: Flow,
    /// When it was published.
    pub created_at: DateTime<Utc>,
}
