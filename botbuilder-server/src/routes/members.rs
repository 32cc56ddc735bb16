//! Members of an organization and their roles.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::Role;
use botbuilder_core::id::{OrgId, RoleId, UserId};
use botbuilder_core::store::StoreError;
use garde::Validate;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::input::PageQuery;
use super::views::{MemberView, PageView};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, Query, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// Adds an existing user to the organization.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The user's email.
    #[garde(length(chars, min = 1, max = 254))]
    pub email: String,
    /// Role name (`editor`) or role id.
    #[garde(length(chars, min = 1, max = 100))]
    pub role: String,
}

/// Changes a member's role.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// Role name or role id.
    #[garde(length(chars, min = 1, max = 100))]
    pub role: String,
}

/// `{user}` path parameter.
#[derive(Debug, Deserialize)]
pub struct MemberPath {
    /// The member's user id.
    pub user: UserId,
}

/// Finds a role of `org` by id or name; a miss is a validation error on `role`.
pub(crate) async fn resolve_role(state: &AppState, org: OrgId, reference: &str) -> ApiResult<Role> {
    let found = match reference.parse::<RoleId>() {
        Ok(id) => state.store.get_role(org, id).await,
        Err(_) => state.store.find_role_by_name(org, reference).await,
    };
    found.map_err(|e| match e {
        StoreError::NotFound => ApiError::field("role", "no such role in this organization"),
        other => other.into(),
    })
}

/// Members, ordered by user id.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/members", tag = "members", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = PageView<MemberView>), (status = 403, body = Problem)))]
pub async fn list_members(
    State(state): State<AppState>,
    access: OrgAccess<perm::MembersRead>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<PageView<MemberView>>> {
    let page = state.store.list_members(access.org, q.page()).await?;
    Ok(Json(PageView::from_page(&page)))
}

/// Adds a signed-up user as a member. You cannot grant a role with permissions you lack.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/members", tag = "members", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    request_body = AddMember,
    responses((status = 201, body = MemberView), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    access: OrgAccess<perm::MembersManage>,
    ValidJson(req): ValidJson<AddMember>,
) -> ApiResult<impl IntoResponse> {
    let role = resolve_role(&state, access.org, &req.role).await?;
    access.ensure_covers(&role.permissions, "this role")?;
    let user = state
        .store
        .find_user_by_email(&req.email)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::field("email", "no account uses this email"),
            other => other.into(),
        })?;
    state.store.add_member(access.org, user.id, role.id).await?;
    let member = state.store.get_member(access.org, user.id).await?;
    let audit = AuditRecord::new("member.add")
        .target("user", user.id)
        .details(json!({ "role": role.name }));
    Ok((StatusCode::CREATED, audit, Json(MemberView::from(&member))))
}

/// Changes a member's role. The last owner cannot be demoted (409).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/members/{user}", tag = "members", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("user" = uuid::Uuid, Path, description = "User id")),
    request_body = UpdateMember,
    responses((status = 200, body = MemberView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_member(
    State(state): State<AppState>,
    access: OrgAccess<perm::MembersManage>,
    Path(path): Path<MemberPath>,
    ValidJson(req): ValidJson<UpdateMember>,
) -> ApiResult<impl IntoResponse> {
    let current = state.store.get_member(access.org, path.user).await?;
    access.ensure_covers(&current.role.permissions, "changing this member")?;
    let role = resolve_role(&state, access.org, &req.role).await?;
    access.ensure_covers(&role.permissions, "this role")?;
    let member = state
        .store
        .update_member_role(access.org, path.user, role.id)
        .await?;
    let audit = AuditRecord::new("member.update")
        .target("user", path.user)
        .details(json!({ "from": current.role.name, "to": role.name }));
    Ok((audit, Json(MemberView::from(&member))))
}

/// Removes a member. The last owner cannot be removed (409).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/members/{user}", tag = "members", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id"),
        ("user" = uuid::Uuid, Path, description = "User id")),
    responses((status = 204, description = "Removed"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    access: OrgAccess<perm::MembersManage>,
    Path(path): Path<MemberPath>,
) -> ApiResult<impl IntoResponse> {
    let current = state.store.get_member(access.org, path.user).await?;
    access.ensure_covers(&current.role.permissions, "removing this member")?;
    state.store.remove_member(access.org, path.user).await?;
    // Their API keys die with their membership (the access check refuses them anyway;
    // revoking keeps a later re-invitation from bringing them back).
    let mut revoked = Vec::new();
    for key in state.store.list_api_keys(access.org).await? {
        if key.created_by == Some(path.user) {
            match state.store.delete_api_key(access.org, key.id).await {
                Ok(()) | Err(StoreError::NotFound) => revoked.push(key.id),
                Err(e) => return Err(e.into()),
            }
        }
    }
    let audit = AuditRecord::new("member.remove")
        .target("user", path.user)
        .details(json!({ "revoked_api_keys": revoked }));
    Ok((StatusCode::NO_CONTENT, audit, ()))
}
