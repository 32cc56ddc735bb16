//! A bot's NLU: intents (with examples), entity definitions, and `nlu/parse`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{Entity, EntityPatch, Intent, IntentPatch, NewEntity, NewIntent};
use botbuilder_core::id::{BotId, EntityId, IntentId, OrgId};
use botbuilder_core::nlu::{EntityKind, EntityMatch, IntentScore};
use botbuilder_core::validate::{self, Invalid};
use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// Longest text `nlu/parse` accepts, in characters.
pub const MAX_PARSE_CHARS: usize = 10_000;
pub use botbuilder_core::validate::NONE_INTENT;

/// The intent's own rules, and none of its examples taught to another intent of the bot
/// (409 naming that intent). `except` is the intent being changed.
async fn check_intent(
    state: &AppState,
    org: OrgId,
    bot: BotId,
    except: Option<IntentId>,
    name: &str,
    examples: &[String],
) -> ApiResult<()> {
    Invalid::check(validate::intent(name, examples, ""))?;
    let others = state.store.list_intents(org, bot).await?;
    let others = others
        .iter()
        .filter(|i| Some(i.id) != except)
        .map(|i| (i.name.as_str(), i.examples.as_slice()));
    if let Some((at, owner)) = validate::example_owned_elsewhere(examples, others) {
        return Err(ApiError::Conflict(format!(
            "examples[{at}] ({:?}) is already an example of intent `{owner}`; an example can \
             teach one intent only",
            examples[at]
        )));
    }
    Ok(())
}

/// A new intent.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntent {
    /// Name, unique in the bot (up to 64 letters, digits, `_`, `-`, `.`).
    #[garde(skip)]
    pub name: String,
    /// Example utterances (up to 2,000, each up to 500 characters, each teaching this intent
    /// only).
    #[garde(skip)]
    pub examples: Vec<String>,
}

/// Changes to an intent.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntent {
    /// New name.
    #[garde(skip)]
    pub name: Option<String>,
    /// New examples (replace the old ones).
    #[garde(skip)]
    pub examples: Option<Vec<String>>,
}

/// A new entity definition.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntity {
    /// Name, unique in the bot (up to 64 letters, digits, `_`, `-`, `.`).
    #[garde(skip)]
    pub name: String,
    /// `{"type":"regex","pattern":…}`, `{"type":"lookup","values":[{"value","synonyms"}]}` or
    /// `{"type":"builtin","builtin":"email|phone|number|url|date|time"}`.
    #[garde(skip)]
    #[schema(value_type = Object)]
    pub kind: EntityKind,
}

/// Changes to an entity definition.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntity {
    /// New name.
    #[garde(skip)]
    pub name: Option<String>,
    /// New rule.
    #[garde(skip)]
    #[schema(value_type = Option<Object>)]
    pub kind: Option<EntityKind>,
}

/// Text to understand.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// The user's message.
    #[garde(length(chars, min = 1, max = MAX_PARSE_CHARS))]
    pub text: String,
}

/// An intent.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntentView {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Example utterances.
    pub examples: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Intent> for IntentView {
    fn from(i: &Intent) -> Self {
        Self {
            id: i.id.as_uuid(),
            name: i.name.clone(),
            examples: i.examples.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// An entity definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntityView {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The recognition rule.
    #[schema(value_type = Object)]
    pub kind: EntityKind,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Entity> for EntityView {
    fn from(e: &Entity) -> Self {
        Self {
            id: e.id.as_uuid(),
            name: e.name.clone(),
            kind: e.kind.clone(),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// What the NLU understood.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParseResult {
    /// The best intent, or `none` below the bot's confidence threshold.
    pub intent: String,
    /// Confidence of the best intent (0 to 1).
    pub confidence: f32,
    /// The best intents, most likely first.
    #[schema(value_type = Vec<Object>)]
    pub ranking: Vec<IntentScore>,
    /// Entities found, in text order (byte offsets).
    #[schema(value_type = Vec<Object>)]
    pub entities: Vec<EntityMatch>,
}

/// `{bot}` path parameter.
#[derive(Debug, Deserialize)]
pub struct BotPath {
    /// The bot id.
    pub bot: BotId,
}

/// `{bot}` and `{intent}` path parameters.
#[derive(Debug, Deserialize)]
pub struct IntentPath {
    /// The bot id.
    pub bot: BotId,
    /// The intent id.
    pub intent: IntentId,
}

/// `{bot}` and `{entity}` path parameters.
#[derive(Debug, Deserialize)]
pub struct EntityPath {
    /// The bot id.
    pub bot: BotId,
    /// The entity id.
    pub entity: EntityId,
}

/// The bot's intents.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/intents", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    responses((status = 200, body = Vec<IntentView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_intents(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
) -> ApiResult<Json<Vec<IntentView>>> {
    let intents = state.store.list_intents(access.org, path.bot).await?;
    Ok(Json(intents.iter().map(IntentView::from).collect()))
}

/// Adds an intent.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/intents", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    request_body = CreateIntent,
    responses((status = 201, body = IntentView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_intent(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<BotPath>,
    ValidJson(req): ValidJson<CreateIntent>,
) -> ApiResult<impl IntoResponse> {
    check_intent(&state, access.org, path.bot, None, &req.name, &req.examples).await?;
    let intent = state
        .store
        .create_intent(
            access.org,
            path.bot,
            NewIntent {
                name: req.name,
                examples: req.examples,
            },
        )
        .await?;
    let audit = AuditRecord::new("intent.create").target("intent", intent.id);
    Ok((StatusCode::CREATED, audit, Json(IntentView::from(&intent))))
}

/// One intent.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("intent" = Uuid, Path, description = "Intent id")),
    responses((status = 200, body = IntentView), (status = 404, body = Problem)))]
pub async fn get_intent(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<IntentPath>,
) -> ApiResult<Json<IntentView>> {
    let intent = state
        .store
        .get_intent(access.org, path.bot, path.intent)
        .await?;
    Ok(Json((&intent).into()))
}

/// Changes an intent.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("intent" = Uuid, Path, description = "Intent id")),
    request_body = UpdateIntent,
    responses((status = 200, body = IntentView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_intent(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<IntentPath>,
    ValidJson(req): ValidJson<UpdateIntent>,
) -> ApiResult<impl IntoResponse> {
    let current = state
        .store
        .get_intent(access.org, path.bot, path.intent)
        .await?;
    check_intent(
        &state,
        access.org,
        path.bot,
        Some(path.intent),
        req.name.as_deref().unwrap_or(&current.name),
        req.examples.as_deref().unwrap_or(&current.examples),
    )
    .await?;
    let patch = IntentPatch {
        name: req.name,
        examples: req.examples,
    };
    let intent = state
        .store
        .update_intent(access.org, path.bot, path.intent, patch)
        .await?;
    let audit = AuditRecord::new("intent.update").target("intent", intent.id);
    Ok((audit, Json(IntentView::from(&intent))))
}

/// Deletes an intent.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("intent" = Uuid, Path, description = "Intent id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)))]
pub async fn delete_intent(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<IntentPath>,
) -> ApiResult<impl IntoResponse> {
    state
        .store
        .delete_intent(access.org, path.bot, path.intent)
        .await?;
    let audit = AuditRecord::new("intent.delete").target("intent", path.intent);
    Ok((StatusCode::NO_CONTENT, audit, ()))
}

/// The bot's entity definitions.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/entities", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    responses((status = 200, body = Vec<EntityView>), (status = 404, body = Problem)))]
pub async fn list_entities(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
) -> ApiResult<Json<Vec<EntityView>>> {
    let entities = state.store.list_entities(access.org, path.bot).await?;
    Ok(Json(entities.iter().map(EntityView::from).collect()))
}

/// Adds an entity definition; patterns are compiled first (400 naming `kind` if invalid).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/entities", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    request_body = CreateEntity,
    responses((status = 201, body = EntityView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_entity(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<BotPath>,
    ValidJson(req): ValidJson<CreateEntity>,
) -> ApiResult<impl IntoResponse> {
    Invalid::check(validate::entity(&req.name, &req.kind, ""))?;
    let entity = state
        .store
        .create_entity(
            access.org,
            path.bot,
            NewEntity {
                name: req.name,
                kind: req.kind,
            },
        )
        .await?;
    let audit = AuditRecord::new("entity.create").target("entity", entity.id);
    Ok((StatusCode::CREATED, audit, Json(EntityView::from(&entity))))
}

/// One entity definition.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("entity" = Uuid, Path, description = "Entity id")),
    responses((status = 200, body = EntityView), (status = 404, body = Problem)))]
pub async fn get_entity(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<EntityPath>,
) -> ApiResult<Json<EntityView>> {
    let entity = state
        .store
        .get_entity(access.org, path.bot, path.entity)
        .await?;
    Ok(Json((&entity).into()))
}

/// Changes an entity definition.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("entity" = Uuid, Path, description = "Entity id")),
    request_body = UpdateEntity,
    responses((status = 200, body = EntityView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_entity(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<EntityPath>,
    ValidJson(req): ValidJson<UpdateEntity>,
) -> ApiResult<impl IntoResponse> {
    let current = state
        .store
        .get_entity(access.org, path.bot, path.entity)
        .await?;
    Invalid::check(validate::entity(
        req.name.as_deref().unwrap_or(&current.name),
        req.kind.as_ref().unwrap_or(&current.kind),
        "",
    ))?;
    let patch = EntityPatch {
        name: req.name,
        kind: req.kind,
    };
    let entity = state
        .store
        .update_entity(access.org, path.bot, path.entity, patch)
        .await?;
    let audit = AuditRecord::new("entity.update").target("entity", entity.id);
    Ok((audit, Json(EntityView::from(&entity))))
}

/// Deletes an entity definition.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id"),
        ("entity" = Uuid, Path, description = "Entity id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)))]
pub async fn delete_entity(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<EntityPath>,
) -> ApiResult<impl IntoResponse> {
    state
        .store
        .delete_entity(access.org, path.bot, path.entity)
        .await?;
    let audit = AuditRecord::new("entity.delete").target("entity", path.entity);
    Ok((StatusCode::NO_CONTENT, audit, ()))
}

/// Classifies a text into the bot's intents and extracts its entities. The model is trained
/// in-process on first use and whenever the intents or entities change.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/nlu/parse", tag = "nlu", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("bot" = Uuid, Path, description = "Bot id")),
    request_body = ParseRequest,
    responses((status = 200, body = ParseResult), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn parse(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
    ValidJson(req): ValidJson<ParseRequest>,
) -> ApiResult<Json<ParseResult>> {
    let understood = state
        .engine
        .understand(access.org, path.bot, &req.text)
        .await?;
    let intent = understood.intent.unwrap_or_else(|| NONE_INTENT.to_owned());
    let (confidence, ranking, entities) = (
        understood.confidence,
        understood.ranking,
        understood.entities,
    );
    Ok(Json(ParseResult {
        intent,
        confidence,
        ranking,
        entities,
    }))
}
