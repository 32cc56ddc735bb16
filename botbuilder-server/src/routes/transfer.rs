//! Bot export and import: one JSON document with the bot's settings, intents, entities and
//! flow. Secrets are never part of it (bots hold none; provider credentials live per
//! organization).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{AiConfig, BotImport, BotSettings, NewBot, NewEntity, NewIntent};
use botbuilder_core::flow::{Flow, FlowIssue};
use botbuilder_core::id::BotId;
use botbuilder_core::nlu::EntityKind;
use botbuilder_core::validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::views::BotView;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// The document format this server writes and reads.
pub const FORMAT: &str = "botbuilder.bot/v1";

/// A bot's settings in an export.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportedBot {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Language model settings.
    #[schema(value_type = Object)]
    pub ai_config: AiConfig,
    /// NLU, session and web chat settings (defaults where absent).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: BotSettings,
}

/// An intent in an export.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportedIntent {
    /// Name.
    pub name: String,
    /// Example utterances.
    pub examples: Vec<String>,
}

/// An entity definition in an export.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportedEntity {
    /// Name.
    pub name: String,
    /// Recognition rule.
    #[schema(value_type = Object)]
    pub kind: EntityKind,
}

/// A whole bot as one document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct BotDocument {
    /// Always `botbuilder.bot/v1`.
    #[garde(skip)]
    pub format: String,
    /// Settings.
    #[garde(skip)]
    pub bot: ExportedBot,
    /// Intents (at most 1,000).
    #[serde(default)]
    #[garde(skip)]
    pub intents: Vec<ExportedIntent>,
    /// Entity definitions (at most 1,000).
    #[serde(default)]
    #[garde(skip)]
    pub entities: Vec<ExportedEntity>,
    /// The flow (the draft at export time); published on import.
    #[serde(default)]
    #[garde(skip)]
    #[schema(value_type = Option<Object>)]
    pub flow: Option<Flow>,
}

/// `{bot}` path parameter.
#[derive(Debug, Deserialize)]
pub struct BotPath {
    /// The bot id.
    pub bot: BotId,
}

/// Exports a bot as one JSON document.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/export", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), ("bot" = uuid::Uuid, Path, description = "Bot id")),
    responses((status = 200, body = BotDocument), (status = 404, body = Problem)))]
pub async fn export_bot(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
) -> ApiResult<Json<BotDocument>> {
    let bot = state.store.get_bot(access.org, path.bot).await?;
    let intents = state.store.list_intents(access.org, path.bot).await?;
    let entities = state.store.list_entities(access.org, path.bot).await?;
    let flow = state.store.get_flow_draft(access.org, path.bot).await?;
    Ok(Json(BotDocument {
        format: FORMAT.to_owned(),
        bot: ExportedBot {
            name: bot.name,
            description: bot.description,
            ai_config: bot.ai_config,
            settings: bot.settings,
        },
        intents: intents
            .into_iter()
            .map(|i| ExportedIntent {
                name: i.name,
                examples: i.examples,
            })
            .collect(),
        entities: entities
            .into_iter()
            .map(|e| ExportedEntity {
                name: e.name,
                kind: e.kind,
            })
            .collect(),
        flow: flow.map(|d| d.flow),
    }))
}

/// The bot a document describes.
fn new_bot(bot: &ExportedBot) -> NewBot {
    NewBot {
        name: bot.name.trim().to_owned(),
        description: bot.description.clone(),
        ai_config: bot.ai_config.clone(),
        settings: bot.settings.clone(),
    }
}

/// Everything wrong with a document, each problem naming where it is: the same rules as
/// creating the bot, its intents and entities one by one ([`validate`]).
fn document_errors(doc: &BotDocument) -> Vec<FieldError> {
    let mut issues = Vec::new();
    if doc.format != FORMAT {
        issues.push(validate::FieldIssue {
            field: "format".into(),
            message: format!("expected `{FORMAT}`"),
        });
    }
    let bot = new_bot(&doc.bot);
    issues.extend(validate::bot(
        &bot.name,
        &bot.description,
        &bot.ai_config,
        &bot.settings,
        &botbuilder_providers::catalog::PROVIDER_IDS,
        "bot",
    ));
    issues.extend(validate::intents(
        doc.intents
            .iter()
            .map(|i| (i.name.as_str(), i.examples.as_slice())),
        "intents",
    ));
    issues.extend(validate::entities(
        doc.entities.iter().map(|e| (e.name.as_str(), &e.kind)),
        "entities",
    ));
    let mut errors: Vec<FieldError> = issues
        .into_iter()
        .map(|issue| FieldError::new(issue.field, issue.message))
        .collect();
    if let Some(flow) = &doc.flow {
        errors.extend(flow.validate().into_iter().map(|issue: FlowIssue| {
            FieldError::new(format!("flow.{}", issue.location()), issue.message)
        }));
    }
    errors
}

/// Creates a new bot from an exported document (intents, entities, and the flow published as
/// version 1). The document is validated completely before anything is stored.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/import", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    request_body = BotDocument,
    responses((status = 201, body = BotView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn import_bot(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    ValidJson(doc): ValidJson<BotDocument>,
) -> ApiResult<impl IntoResponse> {
    let errors = document_errors(&doc);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let new = new_bot(&doc.bot);
    // The bot's rules were checked with the document; its knowledge bases remain.
    super::bots::check_knowledge_bases(&state, access.org, &new.ai_config, "bot.ai_config").await?;
    super::bots::check_secret_tools(&access, &[], &new.ai_config.tools)?;
    let import = BotImport {
        bot: new,
        intents: doc
            .intents
            .into_iter()
            .map(|i| NewIntent {
                name: i.name,
                examples: i.examples,
            })
            .collect(),
        entities: doc
            .entities
            .into_iter()
            .map(|e| NewEntity {
                name: e.name,
                kind: e.kind,
            })
            .collect(),
        flow: doc.flow,
    };
    // One transaction: a failure leaves nothing half-imported behind.
    let bot = state.store.import_bot(access.org, import).await?;
    let audit = AuditRecord::new("bot.import")
        .target("bot", bot.id)
        .details(json!({ "name": bot.name }));
    Ok((
        StatusCode::CREATED,
        audit,
        Json(BotView::with_status(&bot, &state.engine).await),
    ))
}
