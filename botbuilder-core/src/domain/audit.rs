use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{ApiKeyId, AuditId, OrgId, UserId};

/// Who performed an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in user.
    User(UserId),
    /// A request authenticated with an API key.
    ApiKey(ApiKeyId),
    /// The platform itself (background jobs, the CLI).
    System,
}

impl Actor {
    /// The actor as `user:<id>`, `api_key:<id>` or `system`: the stored and filterable form.
    pub fn to_key(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::ApiKey(id) => format!("api_key:{id}"),
            Self::System => "system".to_owned(),
        }
    }

    /// Parses the form produced by [`Actor::to_key`].
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "system" {
            return Some(Self::System);
        }
        let (kind, id) = key.split_once(':')?;
        match kind {
            "user" => id.parse().ok().map(Self::User),
            "api_key" => id.parse().ok().map(Self::ApiKey),
            _ => None,
        }
    }
}

/// One entry of an organization's audit log. Entries are append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The entry's id (time-ordered).
    pub id: AuditId,
    /// The organization the action happened in.
    pub org_id: OrgId,
    /// Who did it.
    pub actor: Actor,
    /// What was done, as `area.verb` (`bot.create`, `member.remove`).
    pub action: String,
    /// The kind of the affected object (`bot`, `member`), if any.
    pub target_type: Option<String>,
    /// The affected object's id, if any.
    pub target_id: Option<String>,
    /// Extra facts (never secrets).
    pub details: serde_json::Value,
    /// The client IP address, if known.
    pub ip: Option<String>,
    /// The request id, to correlate with logs.
    pub request_id: Option<String>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// An audit entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Who did it.
    pub actor: Actor,
    /// What was done.
    pub action: String,
    /// Kind of the affected object.
    pub target_type: Option<String>,
    /// Id of the affected object.
    pub target_id: Option<String>,
    /// Extra facts.
    pub details: serde_json::Value,
    /// Client IP.
    pub ip: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
}

/// Filters for listing the audit log; every field is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// Exact action name.
    pub action: Option<String>,
    /// Exact actor.
    pub actor: Option<Actor>,
    /// Entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub until: Option<DateTime<Utc>>,
}
