//! Response bodies: the public JSON shape of domain types, with OpenAPI schemas.

use botbuilder_core::domain::{
    AiConfig, ApiKey, AuditEntry, Bot, BotSettings, Member, OrgMembership, Organization, Page,
    PermissionSet, Role, User,
};
use botbuilder_core::llm::ProviderStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

fn names(set: &PermissionSet) -> Vec<String> {
    set.iter().map(|p| p.as_str().to_owned()).collect()
}

/// A user account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: Uuid,
    /// Email (lower-cased).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.as_uuid(),
            email: u.email.clone(),
            name: u.name.clone(),
            created_at: u.created_at,
        }
    }
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Limits: `monthly_spend_limit_micros` (absent: none).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Organization> for OrgView {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.as_uuid(),
            name: o.name.clone(),
            settings: serde_json::to_value(o.settings).unwrap_or_default(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// An organization the caller belongs to, with the caller's role there.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyOrgView {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// The caller's role name.
    pub role: String,
    /// The caller's permissions there.
    pub permissions: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<&OrgMembership> for MyOrgView {
    fn from(m: &OrgMembership) -> Self {
        Self {
            id: m.organization.id.as_uuid(),
            name: m.organization.name.clone(),
            role: m.role.name.clone(),
            permissions: names(&m.role.permissions),
            created_at: m.organization.created_at,
        }
    }
}

/// A role: a named permission set.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    /// Id.
    pub id: Uuid,
    /// Name, unique in the organization.
    pub name: String,
    /// Description.
    pub description: String,
    /// Permission names (`bots:write`, ...).
    pub permissions: Vec<String>,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<&Role> for RoleView {
    fn from(r: &Role) -> Self {
        Self {
            id: r.id.as_uuid(),
            name: r.name.clone(),
            description: r.description.clone(),
            permissions: names(&r.permissions),
            builtin: r.builtin,
            created_at: r.created_at,
        }
    }
}

/// A member of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's email.
    pub email: String,
    /// The user's name.
    pub name: String,
    /// The member's role.
    pub role: RoleView,
    /// When the user joined.
    pub joined_at: DateTime<Utc>,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        Self {
            user_id: m.user_id.as_uuid(),
            email: m.email.clone(),
            name: m.name.clone(),
            role: (&m.role).into(),
            joined_at: m.joined_at,
        }
    }
}

/// An API key (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Scope.
    pub permissions: Vec<String>,
    /// Creator.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.as_uuid(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            permissions: names(&k.permissions),
            created_by: k.created_by.map(|u| u.as_uuid()),
            created_at: k.created_at,
            expires_at: k.expires_at,
        }
    }
}

/// Language model settings of a bot.
#[derive(Debug, Serialize, ToSchema)]
pub struct AiConfigView {
    /// Provider id.
    pub provider: String,
    /// Model.
    pub model: String,
    /// System prompt.
    pub system_prompt: String,
    /// Temperature.
    pub temperature: f32,
    /// Max tokens per answer.
    pub max_tokens: u32,
    /// Fallback provider.
    pub fallback_provider: Option<String>,
    /// Model of the fallback provider (`null`: that provider's default model).
    pub fallback_model: Option<String>,
    /// Knowledge bases the bot answers from.
    pub knowledge_base_ids: Vec<Uuid>,
    /// HTTP tools the model may call.
    #[schema(value_type = Vec<Object>)]
    pub tools: Vec<botbuilder_core::domain::HttpTool>,
    /// Most rounds of tool calls per answer.
    pub max_tool_steps: u32,
}

impl From<&AiConfig> for AiConfigView {
    fn from(c: &AiConfig) -> Self {
        Self {
            provider: c.provider.clone(),
            model: c.model.clone(),
            system_prompt: c.system_prompt.clone(),
            temperature: c.temperature,
            max_tokens: c.max_tokens,
            fallback_provider: c.fallback_provider.clone(),
            fallback_model: c.fallback_model.clone(),
            knowledge_base_ids: c.knowledge_base_ids.iter().map(|k| k.as_uuid()).collect(),
            tools: c.tools.clone(),
            max_tool_steps: c.max_tool_steps,
        }
    }
}

/// NLU, session and web chat settings of a bot.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotSettingsView {
    /// Confidence below which NLU reports `none`.
    pub nlu_threshold: f32,
    /// Seconds of inactivity after which a new session starts.
    pub idle_timeout_secs: u32,
    /// Browser origins allowed to call the web chat API.
    pub allowed_origins: Vec<String>,
    /// What the bot says when no language model can answer.
    pub unavailable_message: String,
}

impl From<&BotSettings> for BotSettingsView {
    fn from(s: &BotSettings) -> Self {
        Self {
            nlu_threshold: s.nlu_threshold,
            idle_timeout_secs: s.idle_timeout_secs,
            allowed_origins: s.allowed_origins.clone(),
            unavailable_message: s.unavailable_message.clone(),
        }
    }
}

/// A bot.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotView {
    /// Id.
    pub id: Uuid,
    /// Owning organization.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Language model settings.
    pub ai_config: AiConfigView,
    /// NLU, session and web chat settings.
    pub settings: BotSettingsView,
    /// Whether the bot's primary language model can be called: `ready`,
    /// `missing_credentials` (neither the organization nor the server has a key for it),
    /// `unknown_provider`, `credentials_unreadable` or `spend_limit_reached` (absent in
    /// lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub provider_status: Option<ProviderStatus>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Bot> for BotView {
    fn from(b: &Bot) -> Self {
        Self {
            id: b.id.as_uuid(),
            organization_id: b.org_id.as_uuid(),
            name: b.name.clone(),
            description: b.description.clone(),
            ai_config: (&b.ai_config).into(),
            settings: (&b.settings).into(),
            provider_status: None,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

impl BotView {
    /// The view of `bot` with its provider status, as the engine sees it now.
    pub async fn with_status(bot: &Bot, engine: &botbuilder_core::engine::Engine) -> Self {
        Self {
            provider_status: Some(engine.provider_status(bot.org_id, &bot.ai_config).await),
            ..Self::from(bot)
        }
    }
}

/// An audit log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Id.
    pub id: Uuid,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    /// What was done (`bot.create`).
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
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id.as_uuid(),
            actor: e.actor.to_key(),
            action: e.action.clone(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            details: e.details.clone(),
            ip: e.ip.clone(),
            request_id: e.request_id.clone(),
            created_at: e.created_at,
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageView<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

impl<T> PageView<T> {
    /// Converts a store page.
    pub fn from_page<D>(page: &Page<D>) -> Self
    where
        T: for<'a> From<&'a D>,
    {
        Self {
            items: page.items.iter().map(T::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}
