//! Bots: CRUD, `ai_config` validation, and clone.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::credentials::named::changes_secret_tools;
use botbuilder_core::domain::{
    AiConfig, BotPatch, BotSettings, HttpTool, NewBot, Permission, WebchatAppearance,
};
use botbuilder_core::id::{BotId, KnowledgeBaseId, OrgId};
use botbuilder_core::store::StoreError;
use garde::Validate;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::input::PageQuery;
use super::views::{BotView, PageView};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{OrgAccess, Path, Query, ValidJson, parse_json, perm, report_errors};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;
use botbuilder_core::validate::{self, Invalid, MAX_NAME_CHARS};
use botbuilder_providers::catalog;

/// Language model settings; omitted fields keep their current (or default) value.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiConfigInput {
    /// `local` (offline, default), `openai`, `anthropic` or `openai-compatible`.
    #[garde(skip)]
    pub provider: Option<String>,
    /// Model name (up to 100 characters); required for `openai-compatible`.
    #[garde(skip)]
    pub model: Option<String>,
    /// System prompt (up to 20,000 characters).
    #[garde(skip)]
    pub system_prompt: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[garde(skip)]
    pub temperature: Option<f32>,
    /// Most tokens per answer, 1 to 32,768.
    #[garde(skip)]
    pub max_tokens: Option<u32>,
    /// Provider to use when the main one is rate limited, down, refuses its credentials or
    /// has none.
    #[garde(skip)]
    pub fallback_provider: Option<String>,
    /// Model of the fallback provider (default: that provider's default model).
    #[garde(skip)]
    pub fallback_model: Option<String>,
    /// Knowledge bases of the organization the bot answers from (at most 20; replaces the
    /// list).
    #[garde(skip)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub knowledge_base_ids: Option<Vec<KnowledgeBaseId>>,
    /// HTTP tools the model may call (at most 20; replaces the list): `name`, `description`,
    /// `parameters` (JSON Schema of an object), `method`, `url` (with `{{arg}}`
    /// placeholders), `headers` (`[{name, value}]`), `timeout_secs` (1 to 30, default 10).
    #[garde(skip)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<HttpTool>>,
    /// Most rounds of tool calls per answer, 0 to 10 (default 4).
    #[garde(skip)]
    pub max_tool_steps: Option<u32>,
}

impl AiConfigInput {
    /// Applies the given fields on top of `base` (the rules are checked on the whole bot, see
    /// [`validate::bot`]). A new provider without a model gets the provider's default model,
    /// where it has one.
    pub fn apply(self, base: AiConfig) -> ApiResult<AiConfig> {
        let provider_changed = self.provider.as_ref().is_some_and(|p| *p != base.provider);
        let provider = self.provider.unwrap_or(base.provider);
        let model = match self.model {
            Some(model) => model.trim().to_owned(),
            None if provider_changed && catalog::PROVIDER_IDS.contains(&provider.as_str()) => {
                catalog::default_model(&provider)
                    .ok_or_else(|| {
                        ApiError::field("ai_config.model", "required for this provider")
                    })?
                    .to_owned()
            }
            None => base.model,
        };
        let fallback_provider = self.fallback_provider.or(base.fallback_provider);
        let fallback_model = self.fallback_model.or(base.fallback_model);
        Ok(AiConfig {
            provider,
            model,
            system_prompt: self.system_prompt.unwrap_or(base.system_prompt),
            temperature: self.temperature.unwrap_or(base.temperature),
            max_tokens: self.max_tokens.unwrap_or(base.max_tokens),
            fallback_provider,
            fallback_model,
            knowledge_base_ids: self.knowledge_base_ids.unwrap_or(base.knowledge_base_ids),
            tools: self.tools.unwrap_or(base.tools),
            max_tool_steps: self.max_tool_steps.unwrap_or(base.max_tool_steps),
        })
    }
}

/// NLU, session and web chat settings; omitted fields keep their current (or default) value.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotSettingsInput {
    /// Confidence below which NLU reports `none`, 0 to 1 (default 0.45).
    #[garde(skip)]
    pub nlu_threshold: Option<f32>,
    /// Seconds of inactivity after which a new session starts, 60 to 2,592,000 (default 1800).
    #[garde(skip)]
    pub idle_timeout_secs: Option<u32>,
    /// Browser origins allowed to call the web chat API, such as `https://shop.example`
    /// (scheme, host and port only). Replaces the whole list.
    #[garde(skip)]
    pub allowed_origins: Option<Vec<String>>,
    /// What the bot says when no language model can answer (1 to 1,000 characters).
    #[garde(skip)]
    pub unavailable_message: Option<String>,
    /// How the web chat widget presents the bot (public; replaces the whole appearance):
    /// `title` (1 to 60 characters), `color` (`#rgb` or `#rrggbb`), `avatar_url` (https),
    /// `greeting` (at most 1,000 characters, Markdown), `placeholder` (at most 100),
    /// `position` (`right` or `left`), `language` (`en`, `fr`, `pt-BR`, ...). Each optional.
    #[garde(skip)]
    #[schema(value_type = Option<Object>)]
    pub appearance: Option<AppearanceInput>,
}

/// A [`WebchatAppearance`] as a caller sends it: a field this version does not know is refused
/// by name (stored settings keep reading them, for versions side by side).
#[derive(Debug)]
pub struct AppearanceInput(pub WebchatAppearance);

impl<'de> Deserialize<'de> for AppearanceInput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !WebchatAppearance::FIELDS.contains(&k.as_str()))
        {
            return Err(D::Error::unknown_field(unknown, &WebchatAppearance::FIELDS));
        }
        serde_json::from_value(serde_json::Value::Object(object))
            .map(Self)
            .map_err(D::Error::custom)
    }
}

impl BotSettingsInput {
    /// Applies the given fields on top of `base` (checked with the whole bot).
    pub fn apply(self, base: BotSettings) -> BotSettings {
        BotSettings {
            nlu_threshold: self.nlu_threshold.unwrap_or(base.nlu_threshold),
            idle_timeout_secs: self.idle_timeout_secs.unwrap_or(base.idle_timeout_secs),
            allowed_origins: self.allowed_origins.unwrap_or(base.allowed_origins),
            unavailable_message: self.unavailable_message.unwrap_or(base.unavailable_message),
            appearance: self.appearance.map_or(base.appearance, |input| input.0),
        }
    }
}

/// The bot's rules ([`validate::bot`]) and its knowledge bases (the organization's own):
/// the check create, change and clone share (import checks the same rules with the rest
/// of its document).
async fn check_bot(state: &AppState, org: OrgId, bot: &NewBot) -> ApiResult<()> {
    let issues = validate::bot(
        &bot.name,
        &bot.description,
        &bot.ai_config,
        &bot.settings,
        &catalog::PROVIDER_IDS,
        "",
    );
    Invalid::check(issues)?;
    check_knowledge_bases(state, org, &bot.ai_config, "ai_config").await
}

/// Refuses to add or change a tool that sends an organization secret unless the caller may
/// manage credentials ([`changes_secret_tools`]).
pub(crate) fn check_secret_tools<P>(
    access: &OrgAccess<P>,
    before: &[HttpTool],
    after: &[HttpTool],
) -> ApiResult<()> {
    if changes_secret_tools(before, after)
        && !access.permissions.contains(Permission::CredentialsManage)
    {
        return Err(ApiError::Forbidden(
            "adding or changing a tool that sends an organization secret takes \
             `credentials:manage`"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Every knowledge base the bot names must be one of the organization's.
pub(crate) async fn check_knowledge_bases(
    state: &AppState,
    org: OrgId,
    config: &AiConfig,
    prefix: &str,
) -> ApiResult<()> {
    let mut errors = Vec::new();
    for (i, kb) in config.knowledge_base_ids.iter().enumerate() {
        match state.store.get_knowledge_base(org, *kb).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => errors.push(FieldError::new(
                format!("{prefix}.knowledge_base_ids[{i}]"),
                "no such knowledge base in this organization",
            )),
            Err(e) => return Err(e.into()),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// A new bot.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBot {
    /// Name (1 to 100 characters).
    #[garde(skip)]
    pub name: String,
    /// Description (up to 2,000 characters).
    #[serde(default)]
    #[garde(skip)]
    pub description: String,
    /// Language model settings (default: the offline `local` provider).
    #[serde(default)]
    #[garde(skip)]
    pub ai_config: AiConfigInput,
    /// NLU, session and web chat settings.
    #[serde(default)]
    #[garde(skip)]
    pub settings: BotSettingsInput,
}

/// Changes to a bot; omitted fields stay as they are.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBot {
    /// New name.
    #[garde(skip)]
    pub name: Option<String>,
    /// New description.
    #[garde(skip)]
    pub description: Option<String>,
    /// Language model settings to change.
    #[garde(skip)]
    pub ai_config: Option<AiConfigInput>,
    /// NLU, session and web chat settings to change.
    #[garde(skip)]
    pub settings: Option<BotSettingsInput>,
}

/// Options for cloning; the body may be empty.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneBot {
    /// Name of the copy (default: "<name> (copy)").
    #[garde(skip)]
    pub name: Option<String>,
}

/// `{bot}` path parameter.
#[derive(Debug, Deserialize)]
pub struct BotPath {
    /// The bot id.
    pub bot: BotId,
}

/// Bots, oldest first, paged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = PageView<BotView>), (status = 403, body = Problem)))]
pub async fn list_bots(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<PageView<BotView>>> {
    let page = state.store.list_bots(access.org, q.page()).await?;
    Ok(Json(PageView::from_page(&page)))
}

/// Creates a bot.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    request_body = CreateBot,
    responses((status = 201, body = BotView), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem)))]
pub async fn create_bot(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    ValidJson(req): ValidJson<CreateBot>,
) -> ApiResult<impl IntoResponse> {
    let new = NewBot {
        name: req.name.trim().to_owned(),
        description: req.description,
        ai_config: req.ai_config.apply(AiConfig::default())?,
        settings: req.settings.apply(BotSettings::default()),
    };
    check_bot(&state, access.org, &new).await?;
    check_secret_tools(&access, &[], &new.ai_config.tools)?;
    let bot = state.store.create_bot(access.org, new).await?;
    let audit = AuditRecord::new("bot.create")
        .target("bot", bot.id)
        .details(json!({ "name": bot.name }));
    Ok((
        StatusCode::CREATED,
        audit,
        Json(BotView::with_status(&bot, &state.engine).await),
    ))
}

/// One bot.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/bots/{bot}", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("bot" = uuid::Uuid, Path, description = "Bot id")),
    responses((status = 200, body = BotView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_bot(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<BotPath>,
) -> ApiResult<Json<BotView>> {
    let bot = state.store.get_bot(access.org, path.bot).await?;
    Ok(Json(BotView::with_status(&bot, &state.engine).await))
}

/// Changes a bot.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/bots/{bot}", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("bot" = uuid::Uuid, Path, description = "Bot id")),
    request_body = UpdateBot,
    responses((status = 200, body = BotView), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_bot(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<BotPath>,
    ValidJson(req): ValidJson<UpdateBot>,
) -> ApiResult<impl IntoResponse> {
    let current = state.store.get_bot(access.org, path.bot).await?;
    let tools_before = current.ai_config.tools.clone();
    let ai_config = req
        .ai_config
        .map(|input| input.apply(current.ai_config.clone()))
        .transpose()?;
    let settings = req
        .settings
        .map(|input| input.apply(current.settings.clone()));
    let patch = BotPatch {
        name: req.name.map(|n| n.trim().to_owned()),
        description: req.description,
        ai_config,
        settings,
    };
    // The bot as it would be, checked whole.
    let merged = NewBot {
        name: patch.name.clone().unwrap_or(current.name),
        description: patch.description.clone().unwrap_or(current.description),
        ai_config: patch.ai_config.clone().unwrap_or(current.ai_config),
        settings: patch.settings.clone().unwrap_or(current.settings),
    };
    check_bot(&state, access.org, &merged).await?;
    check_secret_tools(&access, &tools_before, &merged.ai_config.tools)?;
    let bot = state.store.update_bot(access.org, path.bot, patch).await?;
    let audit = AuditRecord::new("bot.update").target("bot", bot.id);
    Ok((audit, Json(BotView::with_status(&bot, &state.engine).await)))
}

/// Deletes a bot.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/bots/{bot}", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("bot" = uuid::Uuid, Path, description = "Bot id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_bot(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsDelete>,
    Path(path): Path<BotPath>,
) -> ApiResult<impl IntoResponse> {
    state.store.delete_bot(access.org, path.bot).await?;
    let audit = AuditRecord::new("bot.delete").target("bot", path.bot);
    Ok((StatusCode::NO_CONTENT, audit, ()))
}

/// Copies a bot's settings into a new bot in the same organization.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/bots/{bot}/clone", tag = "bots", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("bot" = uuid::Uuid, Path, description = "Bot id")),
    request_body(content = CloneBot, description = "Optional"),
    responses((status = 201, body = BotView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn clone_bot(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<BotPath>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let options: CloneBot = if body.iter().all(u8::is_ascii_whitespace) {
        CloneBot::default()
    } else {
        parse_json(&body)?
    };
    options
        .validate()
        .map_err(|r| ApiError::Validation(report_errors(&r)))?;
    let source = state.store.get_bot(access.org, path.bot).await?;
    let name = options.name.map_or_else(
        || {
            let mut name = format!("{} (copy)", source.name);
            if name.chars().count() > MAX_NAME_CHARS {
                name = name.chars().take(MAX_NAME_CHARS).collect();
            }
            name
        },
        |n| n.trim().to_owned(),
    );
    let copy = NewBot {
        name,
        description: source.description,
        ai_config: source.ai_config,
        settings: source.settings,
    };
    check_bot(&state, access.org, &copy).await?;
    let bot = state.store.create_bot(access.org, copy).await?;
    let audit = AuditRecord::new("bot.clone")
        .target("bot", bot.id)
        .details(json!({ "source": source.id }));
    Ok((
        StatusCode::CREATED,
        audit,
        Json(BotView::with_status(&bot, &state.engine).await),
    ))
}
