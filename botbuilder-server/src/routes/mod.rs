//! The HTTP API (v1). Every route is registered through [`api_router`], which also builds the
//! OpenAPI document from the handlers' annotations, so the spec and the router cannot drift.

pub mod analytics;
pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod bots;
pub mod channels;
pub mod contract;
pub mod conversations;
pub mod documents;
pub mod flows;
pub mod health;
pub mod hooks;
pub mod input;
pub mod knowledge;
pub mod members;
pub mod nlu;
pub mod openai_compat;
pub mod orgs;
pub mod provider_credentials;
pub mod roles;
pub mod secrets;
pub mod transfer;
pub mod usage;
pub mod views;
pub mod webchat;
pub mod webchat_events;
pub mod webhooks;

use axum::Router;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, FieldError, Problem};
use crate::middleware;
use crate::state::AppState;

/// Path of the generated OpenAPI document.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Path of the interactive docs (served offline).
pub const DOCS_PATH: &str = "/docs";

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token from /api/v1/auth/login, or an API key (bb_...)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "BotBuilder-rs API",
        description = "Multi-tenant chatbot platform. Errors are RFC 9457 problem+json."
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Probes and metrics"),
        (name = "auth", description = "Sign-up, login, refresh tokens"),
        (name = "organizations", description = "Tenants"),
        (name = "members", description = "Who belongs to an organization"),
        (name = "roles", description = "Built-in and custom permission sets"),
        (name = "api-keys", description = "Organization-scoped credentials"),
        (name = "audit", description = "Who did what"),
        (name = "bots", description = "Chatbots"),
        (name = "nlu", description = "Intents, entities and parsing"),
        (name = "flows", description = "Conversation flows: draft and published versions"),
        (name = "conversations", description = "Sessions, messages, handoff, feedback"),
        (name = "webchat", description = "Public web chat API for the widget"),
        (name = "knowledge", description = "Knowledge bases, documents and search"),
        (name = "provider-credentials", description = "The organization's own language model provider keys"),
        (name = "usage", description = "Language model tokens and spend"),
        (name = "channels", description = "Telegram, WhatsApp and Slack channels of a bot"),
        (name = "webhooks", description = "Signed webhooks to the organization's own endpoints (Standard Webhooks)"),
    )
)]
struct ApiDoc;

/// Every route with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(orgs::list_orgs, orgs::create_org))
        .routes(routes!(orgs::get_org, orgs::update_org, orgs::delete_org))
        .routes(routes!(members::list_members, members::add_member))
        .routes(routes!(members::update_member, members::remove_member))
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(roles::update_role, roles::delete_role))
        .routes(routes!(api_keys::list_api_keys, api_keys::create_api_key))
        .routes(routes!(api_keys::delete_api_key))
        .routes(routes!(audit_log::list_audit_log))
        .routes(routes!(provider_credentials::list_credentials))
        .routes(routes!(
            provider_credentials::put_credential,
            provider_credentials::delete_credential
        ))
        .routes(routes!(provider_credentials::test_credential))
        .routes(routes!(secrets::list_secrets))
        .routes(routes!(secrets::put_secret, secrets::delete_secret))
        .routes(routes!(usage::get_usage))
        .routes(routes!(bots::list_bots, bots::create_bot))
        .routes(routes!(bots::get_bot, bots::update_bot, bots::delete_bot))
        .routes(routes!(bots::clone_bot))
        .routes(routes!(analytics::get_analytics))
        .routes(routes!(channels::list_channels, channels::connect_channel))
        .routes(routes!(channels::get_channel, channels::disconnect_channel))
        .routes(routes!(channels::test_channel))
        .routes(routes!(channels::dead_deliveries))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::list_webhook_deliveries))
        .routes(routes!(webhooks::redeliver_webhook))
        .routes(routes!(transfer::export_bot))
        .routes(routes!(transfer::import_bot))
        .routes(routes!(nlu::list_intents, nlu::create_intent))
        .routes(routes!(
            nlu::get_intent,
            nlu::update_intent,
            nlu::delete_intent
        ))
        .routes(routes!(nlu::list_entities, nlu::create_entity))
        .routes(routes!(
            nlu::get_entity,
            nlu::update_entity,
            nlu::delete_entity
        ))
        .routes(routes!(nlu::parse))
        .routes(routes!(flows::get_flow, flows::put_flow))
        .routes(routes!(flows::publish_flow))
        .routes(routes!(
            conversations::open_conversation,
            conversations::list_conversations
        ))
        .routes(
            routes!(conversations::send_message, conversations::list_messages).layer(
                axum::middleware::map_response(middleware::conversation_turn),
            ),
        )
        .routes(routes!(conversations::get_conversation))
        .routes(routes!(conversations::handoff_reply))
        .routes(routes!(conversations::handoff_release))
        .routes(routes!(conversations::feedback))
        .routes(routes!(webchat::config))
        .routes(routes!(webchat::create_session))
        .routes(routes!(webchat::send_message, webchat::history).layer(
            axum::middleware::map_response(middleware::conversation_turn),
        ))
        .routes(routes!(webchat::feedback))
        .routes(routes!(webchat_events::events))
        .routes(routes!(
            knowledge::list_knowledge_bases,
            knowledge::create_knowledge_base
        ))
        .routes(routes!(
            knowledge::get_knowledge_base,
            knowledge::update_knowledge_base,
            knowledge::delete_knowledge_base
        ))
        .routes(
            routes!(knowledge::list_documents, documents::add_document).layer(
                axum::extract::DefaultBodyLimit::max(documents::MAX_UPLOAD_BODY_BYTES),
            ),
        )
        .routes(routes!(
            knowledge::get_document,
            knowledge::update_document,
            knowledge::delete_document
        ))
        .routes(routes!(knowledge::search))
        .routes(routes!(knowledge::dead_letters))
        .routes(routes!(knowledge::retry_document))
        .routes(routes!(knowledge::reindex))
}

/// The OpenAPI 3.1 document of the API (JSON), completed with the errors every route can
/// answer ([`contract`]).
pub fn openapi() -> serde_json::Value {
    contract::complete(&api_router().split_for_parts().1)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The complete application: routes, OpenAPI + docs, fallbacks and the middleware stack.
pub fn build_router(state: AppState) -> Router {
    // Install the metrics recorder before the first request is counted.
    crate::middleware::metrics::prometheus();
    let (routes, api) = api_router().split_for_parts();
    let api = contract::complete(&api);
    let routes: Router = routes
        .merge(SwaggerUi::new(DOCS_PATH).external_url_unchecked(OPENAPI_PATH, api))
        .route("/", axum::routing::get(crate::web::console))
        .route("/widget.js", axum::routing::get(crate::web::widget))
        .route("/assets/{*path}", axum::routing::get(crate::web::asset))
        .route(
            "/v1/chat/completions",
            axum::routing::post(openai_compat::chat_completions).layer(
                axum::middleware::map_response(middleware::conversation_turn),
            ),
        )
        .route("/v1/models", axum::routing::get(openai_compat::list_models))
        .route(
            "/hooks/{kind}/{channel}",
            axum::routing::get(hooks::hook).post(hooks::hook).layer(
                axum::middleware::map_response(middleware::conversation_turn),
            ),
        )
        .fallback(crate::web::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    middleware::apply(routes, &state)
}
