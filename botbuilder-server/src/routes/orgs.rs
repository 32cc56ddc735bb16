//! Organizations.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{NewOrganization, OrgSettings, OrganizationPatch};
use garde::Validate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::input::{MAX_NAME_CHARS, not_blank, opt_not_blank};
use super::views::{MyOrgView, OrgView};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, OrgAccess, Principal, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// A new organization.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// Display name.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(not_blank))]
    pub name: String,
}

/// Changes to an organization.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    /// New display name.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(opt_not_blank))]
    pub name: Option<String>,
    /// New settings (replace the whole object; `{}` removes the spend limit).
    #[garde(dive)]
    pub settings: Option<OrgSettingsInput>,
}

/// An organization's limits.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgSettingsInput {
    /// Most the organization's language model calls may cost per calendar month (UTC), in
    /// millionths of a US dollar (5000000 = $5); absent: no limit. Once reached, calls are
    /// refused before they are made and conversations get the bot's unavailable message.
    #[garde(range(min = 0, max = MAX_SPEND_LIMIT_MICROS))]
    pub monthly_spend_limit_micros: Option<i64>,
}

/// Highest monthly spend limit accepted: a billion dollars.
pub const MAX_SPEND_LIMIT_MICROS: i64 = 1_000_000_000_000_000;

/// The caller's organizations (an API key sees its own only).
#[utoipa::path(get, path = "/api/v1/orgs", tag = "organizations", security(("bearer" = [])),
    responses((status = 200, body = Vec<MyOrgView>), (status = 401, body = Problem)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<MyOrgView>>> {
    let views = match &principal {
        Principal::User(user) => state
            .store
            .list_orgs_for_user(*user)
            .await?
            .iter()
            .map(MyOrgView::from)
            .collect(),
        Principal::ApiKey(key) => {
            let org = state.store.get_org(key.org_id).await?;
            vec![MyOrgView {
                id: org.id.as_uuid(),
                name: org.name,
                role: "api_key".to_owned(),
                permissions: key
                    .permissions
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
                created_at: org.created_at,
            }]
        }
    };
    Ok(Json(views))
}

/// Creates an organization owned by the caller (users only).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "organizations", security(("bearer" = [])),
    request_body = CreateOrg,
    responses((status = 201, body = OrgView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(req): ValidJson<CreateOrg>,
) -> ApiResult<impl IntoResponse> {
    let user = principal.require_user()?;
    let org = state
        .store
        .create_org(
            NewOrganization {
                name: req.name.trim().to_owned(),
            },
            user,
        )
        .await?;
    let audit = AuditRecord::new("org.create")
        .target("organization", org.id)
        .attributed(org.id, principal.actor());
    Ok((StatusCode::CREATED, audit, Json(OrgView::from(&org))))
}

/// One organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org}", tag = "organizations", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    responses((status = 200, body = OrgView), (status = 403, body = Problem)))]
pub async fn get_org(
    State(state): State<AppState>,
    access: OrgAccess<perm::OrgRead>,
) -> ApiResult<Json<OrgView>> {
    Ok(Json((&state.store.get_org(access.org).await?).into()))
}

/// Renames an organization or changes its settings (the monthly spend limit).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}", tag = "organizations", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    request_body = UpdateOrg,
    responses((status = 200, body = OrgView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn update_org(
    State(state): State<AppState>,
    access: OrgAccess<perm::OrgUpdate>,
    ValidJson(req): ValidJson<UpdateOrg>,
) -> ApiResult<impl IntoResponse> {
    let org = state
        .store
        .update_org(
            access.org,
            OrganizationPatch {
                name: req.name.map(|n| n.trim().to_owned()),
                settings: req.settings.map(|s| OrgSettings {
                    monthly_spend_limit_micros: s.monthly_spend_limit_micros,
                }),
            },
        )
        .await?;
    let audit = AuditRecord::new("org.update")
        .target("organization", org.id)
        .details(serde_json::json!({ "settings": org.settings }));
    Ok((audit, Json(OrgView::from(&org))))
}

/// Deletes an organization and everything in it.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}", tag = "organizations", security(("bearer" = [])),
    params(("org" = uuid::Uuid, Path, description = "Organization id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem)))]
pub async fn delete_org(
    State(state): State<AppState>,
    access: OrgAccess<perm::OrgDelete>,
) -> ApiResult<StatusCode> {
    state.store.delete_org(access.org).await?;
    Ok(StatusCode::NO_CONTENT)
}
