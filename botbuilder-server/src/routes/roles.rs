//! Roles: the four built-ins and custom permission sets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{NewRole, Permission, RolePatch};
use botbuilder_core::id::RoleId;
use garde::Validate;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::input::{
    MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, not_blank, opt_not_blank, permission_set,
};
use super::views::RoleView;
use crate::error::{ApiResult, Problem};
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// A custom role.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// Name, unique in the organization.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(not_blank))]
    pub name: String,
    /// Description.
    #[serde(default)]
    #[garde(length(chars, max = MAX_DESCRIPTION_CHARS))]
    pub description: String,
    /// Permission names, e.g. `["bots:read", "audit:read"]`.
    #[garde(length(max = 64))]
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
}

/// Changes to a custom role.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// New name.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(opt_not_blank))]
    pub name: Option<String>,
    /// New description.
    #[garde(length(chars, max = MAX_DESCRIPTION_CHARS))]
    pub description: Option<String>,
    /// New permission set (replaces the old one).
    #[garde(length(max = 64))]
    #[schema(value_type = Option<Vec<String>>)]
    pub permissions: Option<Vec<Permission>>,
}

/// `{role}` path parameter.
#[derive(Debug, Deserialize)]
pub struct RolePath {
    /// The role id.
    pub role: RoleId,
}

/// All roles: built-ins first.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/roles", tag = "roles", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<RoleView>), (status = 403, body = Problem)))]
pub async fn list_roles(
    State(state): State<AppState>,
    access: OrgAccess<perm::RolesRead>,
) -> ApiResult<Json<Vec<RoleView>>> {
    let roles = state.store.list_roles(access.org).await?;
    Ok(Json(roles.iter().map(RoleView::from).collect()))
}

/// Creates a custom role (never with permissions you lack).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/roles", tag = "roles", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    request_body = CreateRole,
    responses((status = 201, body = RoleView), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_role(
    State(state): State<AppState>,
    access: OrgAccess<perm::RolesManage>,
    ValidJson(req): ValidJson<CreateRole>,
) -> ApiResult<impl IntoResponse> {
    let permissions = permission_set(&req.permissions);
    access.ensure_covers(&permissions, "this role")?;
    let role = state
        .store
        .create_role(
            access.org,
            NewRole {
                name: req.name.trim().to_owned(),
                description: req.description,
                permissions,
            },
        )
        .await?;
    let audit = AuditRecord::new("role.create")
        .target("role", role.id)
        .details(json!({ "name": role.name }));
    Ok((StatusCode::CREATED, audit, Json(RoleView::from(&role))))
}

/// Changes a custom role; built-in roles are 409.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/roles/{role}", tag = "roles", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("role" = uuid::Uuid, Path, description = "Role id")),
    request_body = UpdateRole,
    responses((status = 200, body = RoleView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_role(
    State(state): State<AppState>,
    access: OrgAccess<perm::RolesManage>,
    Path(path): Path<RolePath>,
    ValidJson(req): ValidJson<UpdateRole>,
) -> ApiResult<impl IntoResponse> {
    let current = state.store.get_role(access.org, path.role).await?;
    access.ensure_covers(&current.permissions, "changing this role")?;
    let permissions = req.permissions.as_deref().map(permission_set);
    if let Some(wanted) = &permissions {
        access.ensure_covers(wanted, "this role")?;
    }
    let role = state
        .store
        .update_role(
            access.org,
            path.role,
            RolePatch {
                name: req.name.map(|n| n.trim().to_owned()),
                description: req.description,
                permissions,
            },
        )
        .await?;
    let audit = AuditRecord::new("role.update").target("role", role.id);
    Ok((audit, Json(RoleView::from(&role))))
}

/// Deletes a custom role no member holds.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/roles/{role}", tag = "roles", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("role" = uuid::Uuid, Path, description = "Role id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_role(
    State(state): State<AppState>,
    access: OrgAccess<perm::RolesManage>,
    Path(path): Path<RolePath>,
) -> ApiResult<impl IntoResponse> {
    let current = state.store.get_role(access.org, path.role).await?;
    access.ensure_covers(&current.permissions, "deleting this role")?;
    state.store.delete_role(access.org, path.role).await?;
    let audit = AuditRecord::new("role.delete").target("role", path.role);
    Ok((StatusCode::NO_CONTENT, audit, ()))
}
