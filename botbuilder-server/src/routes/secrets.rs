//! An organization's named secrets, for the headers of its bots' HTTP tools
//! (`{{secrets.NAME}}`): write-only values sealed with the master key, each tied to the one
//! origin it may be sent to, listed masked. Every change is audited, never with the value.
//! The rules live in [`botbuilder_core::credentials::named`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::credentials::{NamedSecret, SecretInput};
use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::error::{ApiResult, Problem};
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// A secret's value and where it may go.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    /// The value (never shown again; 1 to 4,096 characters, no control characters).
    #[garde(skip)]
    pub value: String,
    /// The only origin it may be sent to (`https://api.shop.example`): a tool whose URL has
    /// another origin is refused it.
    #[garde(skip)]
    pub origin: String,
}

impl std::fmt::Debug for PutSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutSecret")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// A stored secret, without its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    /// Its name, as tool headers refer to it (`{{secrets.NAME}}`).
    pub name: String,
    /// The origin it may be sent to.
    pub origin: String,
    /// The value, masked (`sk_live_…abcd`).
    pub hint: String,
    /// When first stored.
    pub created_at: DateTime<Utc>,
    /// When its value last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&NamedSecret> for SecretView {
    fn from(s: &NamedSecret) -> Self {
        Self {
            name: s.name.clone(),
            origin: s.origin.clone(),
            hint: s.hint.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// `{name}` path parameter.
#[derive(Debug, Deserialize)]
pub struct SecretPath {
    /// The secret's name.
    pub name: String,
}

/// The organization's secrets, by name (never their values).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/secrets", tag = "secrets",
    security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<SecretView>), (status = 403, body = Problem)))]
pub async fn list_secrets(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsRead>,
) -> ApiResult<Json<Vec<SecretView>>> {
    let secrets = state.credentials.list_secrets(access.org).await?;
    Ok(Json(secrets.iter().map(SecretView::from).collect()))
}

/// Stores a secret (replacing an earlier value); tool headers name it `{{secrets.NAME}}`.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/secrets/{name}", tag = "secrets",
    security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("name" = String, Path, description = "Letters, digits and `_`, not starting with a digit")),
    request_body = PutSecret,
    responses((status = 200, body = SecretView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn put_secret(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<SecretPath>,
    ValidJson(req): ValidJson<PutSecret>,
) -> ApiResult<impl IntoResponse> {
    let input = SecretInput {
        value: req.value,
        origin: req.origin,
    };
    let stored = state
        .credentials
        .put_secret(access.org, &path.name, input)
        .await?;
    let audit = AuditRecord::new("secret.put")
        .target("secret", &stored.name)
        .details(json!({ "hint": stored.hint, "origin": stored.origin }));
    Ok((audit, Json(SecretView::from(&stored))))
}

/// Removes a secret (tools naming it then fail their calls, telling the model why).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/secrets/{name}", tag = "secrets",
    security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("name" = String, Path, description = "The secret's name")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_secret(
    State(state): State<AppState>,
    access: OrgAccess<perm::CredentialsManage>,
    Path(path): Path<SecretPath>,
) -> ApiResult<impl IntoResponse> {
    state
        .credentials
        .delete_secret(access.org, &path.name)
        .await?;
    let audit = AuditRecord::new("secret.delete").target("secret", &path.name);
    Ok((audit, StatusCode::NO_CONTENT))
}
