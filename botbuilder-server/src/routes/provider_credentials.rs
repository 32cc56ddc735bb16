//! An organization's own language model provider credentials: write-only keys (sealed with
//! the master key), listed masked, tested with a cheap call. Every change is audited, never
//! with the key.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use botbuilder_core::credentials::{CredentialError, CredentialInput, ProviderRules};
use botbuilder_core::domain::ProviderCredential;
use botbuilder_core::llm::{ChatMessage, ChatRequest};
use botbuilder_providers::catalog;
use botbuilder_providers::registry::Credentials;
use botbuilder_providers::remote::ApiKey;
use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// The providers that take credentials, and what each needs.
pub const RULES: ProviderRules<'static> = ProviderRules {
    providers: &[
        catalog::OPENAI,
        catalog::ANTHROPIC,
        catalog::OPENAI_COMPATIBLE,
    ],
    key_optional: &[catalog::OPENAI_COMPATIBLE],
    base_url_required: &[catalog::OPENAI_COMPATIBLE],
};

/// Credentials for one provider.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCredential {
    /// The API key (required for `openai` and `anthropic`; never shown again).
    #[garde(skip)]
    pub api_key: Option<String>,
    /// Another API root than the provider's public one (required for `openai-compatible`).
    #[garde(skip)]
    pub base_url: Option<String>,
}

impl std::fmt::Debug for PutCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutCredential")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Stored credentials, without the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    /// Provider id.
    pub provider: String,
    /// The key, masked (`sk-…abcd`; empty when none was given).
    pub hint: String,
    /// The API root, if not the provider's public one.
    pub base_url: Option<String>,
    /// When first stored.
    pub created_at: DateTime<Utc>,
    /// When last replaced.
    pub updated_at: DateTime<Utc>,
}

impl From<&ProviderCredential> for CredentialView {
    fn from(c: &ProviderCredential) -> Self {
        Self {
            provider: c.provider.clone(),
            hint: c.hint.clone(),
            base_url: c.base_url.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `{provider}` path parameter.
#[derive(Debug, Deserialize)]
pub struct ProviderPath {
    /// Provider id.
    pub provider: String,
}

impl ProviderPath {
    /// `NotFound` unless the path names a provider that takes credentials (the credential
    /// rows also hold named secrets, which are not reachable here).
    fn check(&self) -> ApiResult<()> {
        if RULES.providers.contains(&self.provider.as_str()) {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    }
}

/// What to test with.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCredential {
    /// Model to ask (default: the provider's default model; required for
    /// `openai-compatible`).
    #[garde(length(chars, min = 1, max = 100))]
    pub model: Option<String>,
}

/// The outcome of a test call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialTest {
    /// Whether the provider answered.
    pub ok: bool,
    /// The model asked.
    pub model: String,
    /// Milliseconds the call took.
    pub latency_ms: u64,
    /// The provider's error class (`unauthorized`, `rate_limited`, `transient`,
    /// `context_length_exceeded`, `permanent`) when it did not answer.
    pub error: Option<String>,
    /// The provider's own words about it (never the key).
    pub message: Option<String>,
}

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::Invalid(invalid) => invalid.into(),
            CredentialError::Store(e) => e.into(),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// The organization's provider credentials (never their keys).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/provider-credentials", tag = "provider-credentials",
    security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<CredentialView>), (status = 403, body = Problem)))]
pub async fn list_credentials(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsRead>,
) -> ApiResult<Json<Vec<CredentialView>>> {
    let stored = state.credentials.list(access.org).await?;
    Ok(Json(stored.iter().map(CredentialView::from).collect()))
}

/// Stores the organization's credentials for a provider (replacing earlier ones); its bots
/// use them instead of the server's.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/provider-credentials/{provider}",
    tag = "provider-credentials", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("provider" = String, Path, description = "`openai`, `anthropic` or `openai-compatible`")),
    request_body = PutCredential,
    responses((status = 200, body = CredentialView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn put_credential(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<ProviderPath>,
    ValidJson(req): ValidJson<PutCredential>,
) -> ApiResult<impl IntoResponse> {
    let input = CredentialInput {
        api_key: req.api_key,
        base_url: req.base_url,
    };
    let stored = state
        .credentials
        .put(access.org, &path.provider, input, RULES)
        .await?;
    let audit = AuditRecord::new("provider_credential.put")
        .target("provider", &stored.provider)
        .details(json!({ "hint": stored.hint, "base_url": stored.base_url }));
    Ok((audit, Json(CredentialView::from(&stored))))
}

/// Removes the organization's credentials for a provider (its bots fall back to the
/// server's, if any).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/provider-credentials/{provider}",
    tag = "provider-credentials", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("provider" = String, Path, description = "Provider id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_credential(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<ProviderPath>,
) -> ApiResult<impl IntoResponse> {
    path.check()?;
    state.credentials.delete(access.org, &path.provider).await?;
    let audit = AuditRecord::new("provider_credential.delete").target("provider", &path.provider);
    Ok((audit, axum::http::StatusCode::NO_CONTENT))
}

/// Makes a one-token call with the stored credentials and reports whether the provider
/// answered (a provider's refusal is a result here, not an error).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/provider-credentials/{provider}/test",
    tag = "provider-credentials", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("provider" = String, Path, description = "Provider id")),
    request_body(content = Option<TestCredential>),
    responses((status = 200, body = CredentialTest), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn test_credential(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<ProviderPath>,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    path.check()?;
    let req: TestCredential = crate::extract::optional_json(&body)?;
    let opened = state
        .credentials
        .open(access.org, &path.provider)
        .await?
        .ok_or(ApiError::NotFound)?;
    let model = match req
        .model
        .or_else(|| catalog::default_model(&path.provider).map(str::to_owned))
    {
        Some(model) => model,
        None => return Err(ApiError::field("model", "required for this provider")),
    };
    let base_url = opened
        .base_url
        .as_deref()
        .map(url::Url::parse)
        .transpose()
        .map_err(|_| ApiError::field("base_url", "the stored base URL does not parse"))?;
    let client = state
        .providers
        .client(
            &path.provider,
            Credentials {
                api_key: opened.api_key.map(ApiKey::new),
                base_url,
            },
        )
        .map_err(|e| ApiError::field("provider", e.to_string()))?;
    let request = ChatRequest {
        model: model.clone(),
        messages: vec![ChatMessage::user("ping")],
        max_tokens: 1,
        ..ChatRequest::default()
    };
    let started = Instant::now();
    let outcome = client.complete(&request).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (ok, error, message) = match outcome {
        Ok(_) => (true, None, None),
        Err(e) => (
            false,
            Some(e.code().to_owned()),
            Some(botbuilder_core::error_chain(&e)),
        ),
    };
    let audit = AuditRecord::new("provider_credential.test")
        .target("provider", &path.provider)
        .details(json!({ "ok": ok, "error": error }));
    Ok((
        audit,
        Json(CredentialTest {
            ok,
            model,
            latency_ms,
            error,
            message,
        }),
    ))
}
