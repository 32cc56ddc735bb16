//! Authentication ([`Auth`]) and organization access with a permission ([`OrgAccess`]).

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use botbuilder_core::domain::{Actor, ApiKey, Permission, PermissionSet, Role};
use botbuilder_core::id::{OrgId, UserId};
use botbuilder_core::store::StoreError;

use crate::auth::{API_KEY_PREFIX, hash_secret};
use crate::error::ApiError;
use crate::middleware::audit::AuditSlot;
use crate::state::AppState;

/// Who is making a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A user with a valid access token.
    User(UserId),
    /// A valid, unexpired API key.
    ApiKey(Box<ApiKey>),
}

impl Principal {
    /// The principal as an audit actor.
    pub fn actor(&self) -> Actor {
        match self {
            Self::User(id) => Actor::User(*id),
            Self::ApiKey(key) => Actor::ApiKey(key.id),
        }
    }

    /// The user, for routes that only users may call (API keys get 403).
    pub fn require_user(&self) -> Result<UserId, ApiError> {
        match self {
            Self::User(id) => Ok(*id),
            Self::ApiKey(_) => Err(ApiError::Forbidden(
                "this route needs a user's access token, not an API key".to_owned(),
            )),
        }
    }
}

/// An authenticated request: `Authorization: Bearer <access JWT | bb_ API key>`.
/// Anything missing, malformed, forged, expired or revoked is 401 before the handler runs.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

/// The bearer token of a request's `Authorization` header, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Who a bearer token belongs to: a user (a valid access JWT) or an API key (known,
/// unexpired, its creator still a member). Anything else is `Unauthorized`. A key's
/// permissions are narrowed to its creator's current ones here, so every route sees what the
/// key may do *now*.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    if token.starts_with(API_KEY_PREFIX) {
        let key = match state
            .access
            .api_key(&*state.store, &hash_secret(token))
            .await
        {
            Ok(key) => key,
            Err(StoreError::NotFound) => return Err(ApiError::Unauthorized),
            Err(e) => return Err(e.into()),
        };
        if key.expires_at.is_some_and(|at| at <= state.clock.now()) {
            return Err(ApiError::Unauthorized);
        }
        let permissions = api_key_permissions(state, &key).await?;
        Ok(Principal::ApiKey(Box::new(ApiKey { permissions, ..key })))
    } else {
        Ok(Principal::User(state.tokens.verify(token)?.user_id))
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // The rate limiter authenticated the request already, when it could.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Self(principal.clone()));
        }
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let principal = authenticate(state, token).await?;
        parts.extensions.insert(principal.clone());
        Ok(Self(principal))
    }
}

/// The client's IP address (see [`crate::middleware::client_ip`]); `unknown` without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = crate::middleware::client_ip_of(
            &parts.headers,
            &parts.extensions,
            state.http.trusted_proxies,
        );
        Ok(Self(ip.unwrap_or_else(|| "unknown".to_owned())))
    }
}

/// A permission a route requires, as a type (see [`perm`]).
pub trait RequiredPermission: Send + Sync + 'static {
    /// The permission.
    const PERMISSION: Permission;
}

/// Marker types for [`OrgAccess`], one per [`Permission`].
pub mod perm {
    use super::{Permission, RequiredPermission};

    macro_rules! markers {
        ($($name:ident),+ $(,)?) => {$(
            #[doc = concat!("Requires [`Permission::", stringify!($name), "`].")]
            #[derive(Debug)]
            pub struct $name;
            impl RequiredPermission for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )+};
    }

    markers!(
        OrgRead,
        OrgUpdate,
        OrgDelete,
        MembersRead,
        MembersManage,
        RolesRead,
        RolesManage,
        ApiKeysRead,
        ApiKeysManage,
        AuditRead,
        BotsRead,
        BotsWrite,
        BotsDelete,
        ConversationsRead,
        ConversationsWrite,
        ChatCompletions,
        CredentialsRead,
        CredentialsManage,
        UsageRead,
        WebhooksRead,
        WebhooksManage,
    );
}

/// Access to the organization in the `{org}` path segment with permission `P`.
///
/// Rejections: 401 without valid credentials (an API key whose creator has left the
/// organization included); 400 if `{org}` is not an id; 403 if the user is not a member, the
/// API key belongs to another organization, or `P` is missing from the member's role or from
/// the key's scope as narrowed by its creator's current role. On success the request is attributed to the organization
/// and the principal in the audit log.
#[derive(Debug)]
pub struct OrgAccess<P> {
    /// The organization.
    pub org: OrgId,
    /// Who is calling.
    pub principal: Principal,
    /// Everything the caller may do in the organization.
    pub permissions: PermissionSet,
    /// The caller's role (users only).
    pub role: Option<Role>,
    _required: PhantomData<P>,
}

impl<P> OrgAccess<P> {
    /// Refuses unless the caller holds every permission of `wanted`: no one grants what they
    /// do not have (roles, API keys, member roles).
    pub fn ensure_covers(&self, wanted: &PermissionSet, what: &str) -> Result<(), ApiError> {
        if self.permissions.is_superset(wanted) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{what} would grant permissions you do not have"
            )))
        }
    }
}

async fn org_from_path(parts: &mut Parts, state: &AppState) -> Result<OrgId, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::NotFound)?;
    let raw = params
        .iter()
        .find_map(|(name, value)| (name == "org").then_some(value))
        .ok_or(ApiError::NotFound)?;
    raw.parse()
        .map_err(|_| ApiError::field("org", "not a valid id"))
}

/// What `key` may do now in its organization: its scope narrowed to its creator's current
/// permissions there ([`ApiKey::effective_permissions`]); 401 once the creator has left.
async fn api_key_permissions(state: &AppState, key: &ApiKey) -> Result<PermissionSet, ApiError> {
    let creator = match key.created_by {
        None => None,
        Some(user) => match state.access.member(&*state.store, key.org_id, user).await {
            Ok(member) => Some(member.role.permissions),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
    };
    key.effective_permissions(creator.as_ref())
        .ok_or(ApiError::Unauthorized)
}

impl<P: RequiredPermission> FromRequestParts<AppState> for OrgAccess<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(principal) = Auth::from_request_parts(parts, state).await?;
        let org = org_from_path(parts, state).await?;
        let (permissions, role) = match &principal {
            Principal::User(user) => match state.access.member(&*state.store, org, *user).await {
                Ok(member) => (member.role.permissions.clone(), Some(member.role)),
                Err(StoreError::NotFound) => {
                    return Err(ApiError::Forbidden(
                        "you are not a member of this organization".to_owned(),
                    ));
                }
                Err(e) => return Err(e.into()),
            },
            // Narrowed to the creator's current permissions by `authenticate`.
            Principal::ApiKey(key) if key.org_id == org => (key.permissions.clone(), None),
            Principal::ApiKey(_) => {
                return Err(ApiError::Forbidden(
                    "this API key belongs to another organization".to_owned(),
                ));
            }
        };
        if !permissions.contains(P::PERMISSION) {
            return Err(ApiError::Forbidden(format!(
                "missing permission `{}`",
                P::PERMISSION
            )));
        }
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.attribute(org, principal.actor());
        }
        Ok(Self {
            org,
            principal,
            permissions,
            role,
            _required: PhantomData,
        })
    }
}
