//! Domain types: the records the platform stores and the values its APIs exchange.
//!
//! These are plain data. Invariants that need storage (unique emails, the last owner of an
//! organization) are enforced by the store and documented on the repository traits.

mod analytics;
mod api_key;
mod audit;
mod bot;
mod change;
mod channel;
mod conversation;
mod credential;
mod flow;
mod knowledge;
mod nlu;
mod org;
mod page;
mod permission;
mod role;
mod token;
mod tool;
mod usage;
mod user;
mod webhook;

pub use analytics::{
    ActivityCounts, AnalyticsBucket, AnalyticsInterval, BotAnalytics, BucketGrid, HANDOFF_KEY,
    HANDOFF_REMINDER, HANDOFF_WAITING, IntentCount, median_ms, starts_handoff,
};
pub use api_key::{ApiKey, NewApiKey};
pub use audit::{Actor, AuditEntry, AuditFilter, NewAuditEntry};
pub use bot::{
    AiConfig, Bot, BotImport, BotPatch, BotSettings, NewBot, WebchatAppearance, WidgetPosition,
};
pub use change::{Change, ChangeRecord};
pub use channel::{
    Channel, ChannelPatch, ChannelStatus, Delivery, DeliveryState, NewChannel, session_channel,
    session_channel_of,
};
pub use conversation::{
    Feedback, LlmCall, Message, MessageDirection, NewMessage, NewSession, Rating, Session,
    SessionState, SessionStatus,
};
pub use credential::{NewProviderCredential, ProviderCredential, SealedSecret};
pub use flow::{FlowDraft, FlowVersion};
pub use knowledge::{
    Chunk, ChunkText, Document, DocumentSource, DocumentStatus, EmbedderRecord, KnowledgeBase,
    KnowledgeBasePatch, NewChunk, NewDocument, NewKnowledgeBase, ScoredChunk,
};
pub use nlu::{Entity, EntityPatch, Intent, IntentPatch, NewEntity, NewIntent};
pub use org::{
    Membership, NewOrganization, OrgMembership, OrgSettings, Organization, OrganizationPatch,
};
pub use page::{Page, PageRequest};
pub use permission::{Permission, PermissionSet};
pub use role::{BuiltinRole, NewRole, Role, RolePatch};
pub use token::{NewRefreshToken, RefreshToken};
pub use tool::{HttpTool, ToolHeader};
pub use usage::{UsageGrouping, UsageQuery, UsageRow};
pub use user::{Member, NewUser, User};
pub use webhook::{
    AttemptOutcome, KEPT_ATTEMPTS, NewWebhookEndpoint, RenderedEvent, RotatedSecret,
    WebhookAttempt, WebhookClaim, WebhookDelivery, WebhookDeliveryState, WebhookEndpoint,
    WebhookEndpointPatch, WebhookEvent, WebhookEventType,
};
