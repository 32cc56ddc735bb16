//! API keys: shown once, stored hashed, scoped to one organization and a permission set.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{NewApiKey, Permission};
use botbuilder_core::id::ApiKeyId;
use chrono::TimeDelta;
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::{MAX_NAME_CHARS, not_blank, permission_set};
use super::views::ApiKeyView;
use crate::auth::{hash_secret, new_api_key};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, Principal, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// A new API key.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// Label.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(not_blank))]
    pub name: String,
    /// Scope: permission names (never more than yours).
    #[garde(length(min = 1, max = 64))]
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
    /// Days until the key expires (absent: never).
    #[garde(range(min = 1, max = 3650))]
    pub expires_in_days: Option<u32>,
}

/// The created key. `key` is shown this once and cannot be recovered.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The secret, for `Authorization: Bearer bb_...`.
    pub key: String,
    /// The stored key.
    pub api_key: ApiKeyView,
}

/// `{key}` path parameter.
#[derive(Debug, Deserialize)]
pub struct KeyPath {
    /// The key id.
    pub key: ApiKeyId,
}

/// The organization's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/api-keys", tag = "api-keys", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<ApiKeyView>), (status = 403, body = Problem)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    access: OrgAccess<perm::ApiKeysRead>,
) -> ApiResult<Json<Vec<ApiKeyView>>> {
    let keys = state.store.list_api_keys(access.org).await?;
    Ok(Json(keys.iter().map(ApiKeyView::from).collect()))
}

/// Creates a key scoped to this organization and a subset of your permissions.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/api-keys", tag = "api-keys", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    access: OrgAccess<perm::ApiKeysManage>,
    ValidJson(req): ValidJson<CreateApiKey>,
) -> ApiResult<impl IntoResponse> {
    let permissions = permission_set(&req.permissions);
    access.ensure_covers(&permissions, "this key")?;
    let (secret, prefix) = new_api_key();
    let created_by = match &access.principal {
        Principal::User(user) => Some(*user),
        Principal::ApiKey(key) => key.created_by,
    };
    let key = state
        .store
        .create_api_key(
            access.org,
            NewApiKey {
                name: req.name.trim().to_owned(),
                prefix,
                key_hash: hash_secret(&secret),
                permissions,
                created_by,
                expires_at: req
                    .expires_in_days
                    .map(|days| state.clock.now() + TimeDelta::days(i64::from(days))),
            },
        )
        .await?;
    let audit = AuditRecord::new("api_key.create").target("api_key", key.id);
    Ok((
        StatusCode::CREATED,
        audit,
        Json(CreatedApiKey {
            key: secret,
            api_key: (&key).into(),
        }),
    ))
}

/// Revokes a key at once. Only someone holding every permission of the key may revoke it.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/api-keys/{key}", tag = "api-keys", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("key" = uuid::Uuid, Path, description = "API key id")),
    responses((status = 204, description = "Revoked"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_api_key(
    State(state): State<AppState>,
    access: OrgAccess<perm::ApiKeysManage>,
    Path(path): Path<KeyPath>,
) -> ApiResult<impl IntoResponse> {
    let keys = state.store.list_api_keys(access.org).await?;
    let key = keys
        .iter()
        .find(|k| k.id == path.key)
        .ok_or(ApiError::NotFound)?;
    access.ensure_covers(&key.permissions, "revoking this key")?;
    state.store.delete_api_key(access.org, path.key).await?;
    let audit = AuditRecord::new("api_key.delete").target("api_key", path.key);
    Ok((StatusCode::NO_CONTENT, audit, ()))
}
