//! Sign-up, login, token refresh with rotation, logout, and `me`.

use axum::Json;
use axum::extract::State;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use botbuilder_core::domain::{
    Actor, NewOrganization, NewRefreshToken, NewUser, OrgMembership, User,
};
use botbuilder_core::id::{TokenFamilyId, UserId};
use botbuilder_core::rate_limit::Quota;
use botbuilder_core::store::StoreError;
use chrono::TimeDelta;
use garde::Validate;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

use super::input::{MAX_NAME_CHARS, not_blank};
use super::views::{MyOrgView, OrgView, UserView};
use crate::auth::{hash_secret, new_secret};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, ClientIp, ValidJson};
use crate::middleware::audit::AuditRecord;
use crate::middleware::client_bucket;
use crate::state::AppState;
use botbuilder_core::validate::{self, Invalid};

/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "bb_refresh";
/// The only path the refresh cookie is sent to.
pub const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";
/// Lifetime of a refresh token (and its cookie).
pub const REFRESH_TTL: TimeDelta = TimeDelta::days(30);

/// Sign-up: a new user and their first organization.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address (case-insensitive, unique).
    #[garde(email, length(chars, max = 254))]
    pub email: String,
    /// Password, 8 to 128 characters.
    #[garde(length(chars, min = 8, max = 128))]
    pub password: String,
    /// Display name.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(not_blank))]
    pub name: String,
    /// Name of the organization to create.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(not_blank))]
    pub organization_name: String,
}

/// Login with email and password.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    #[garde(length(chars, min = 1, max = 254))]
    pub email: String,
    /// Password.
    #[garde(length(chars, min = 1, max = 128))]
    pub password: String,
}

/// A new access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT) for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// The result of sign-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The new user.
    pub user: UserView,
    /// The new organization (the user is its owner).
    pub organization: OrgView,
}

/// The result of login and of `me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The access token (absent from `me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// `Bearer` (absent from `me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Seconds until it expires (absent from `me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The user.
    pub user: UserView,
    /// The user's organizations and roles.
    pub organizations: Vec<MyOrgView>,
}

/// Attempts per client address: every sign-up and login counts.
async fn throttle_client(state: &AppState, ip: &str) -> ApiResult<()> {
    let per_ip = Quota::per_minute(state.http.auth_rate_limit_per_ip);
    state
        .limiter
        .check(&format!("auth-ip:{}", client_bucket(ip)), per_ip)
        .await?;
    Ok(())
}

/// Window in which failed logins are counted.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The failure counters of a login: this account from this client, and this client on any
/// account. Only failures count, so an attacker's wrong guesses from one address never lock
/// the owner out of their account from another.
fn failure_keys(state: &AppState, email: &str, ip: &str) -> [(String, Quota); 2] {
    let account = email.trim().to_lowercase();
    let ip = client_bucket(ip);
    [
        (
            format!("auth-fail:{account}:{ip}"),
            Quota {
                burst: state.http.auth_rate_limit_per_email,
                period: FAILURE_WINDOW,
            },
        ),
        (
            format!("auth-fail-ip:{ip}"),
            Quota {
                burst: state.http.auth_failures_per_ip,
                period: FAILURE_WINDOW,
            },
        ),
    ]
}

fn refresh_cookie(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if state.http.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{REFRESH_COOKIE}={token}; Path={REFRESH_COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&value).expect("cookie is ASCII")
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Starts a refresh-token family (or continues `family`) and returns its cookie.
async fn new_refresh(
    state: &AppState,
    user: UserId,
    family: Option<TokenFamilyId>,
) -> ApiResult<HeaderValue> {
    let token = new_secret();
    state
        .store
        .insert_refresh_token(NewRefreshToken {
            family_id: family.unwrap_or_default(),
            user_id: user,
            token_hash: hash_secret(&token),
            expires_at: state.clock.now() + REFRESH_TTL,
        })
        .await?;
    Ok(refresh_cookie(state, &token, REFRESH_TTL.num_seconds()))
}

async fn session(state: &AppState, user: &User, with_token: bool) -> ApiResult<SessionResponse> {
    let orgs: Vec<OrgMembership> = state.store.list_orgs_for_user(user.id).await?;
    let token = with_token
        .then(|| state.tokens.issue(user.id))
        .transpose()?;
    Ok(SessionResponse {
        access_token: token.as_ref().map(|t| t.token.clone()),
        token_type: token.as_ref().map(|_| "Bearer"),
        expires_in: token.as_ref().map(|t| t.expires_in),
        user: user.into(),
        organizations: orgs.iter().map(MyOrgView::from).collect(),
    })
}

/// Creates an account and its first organization; signs the user in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Signed up; refresh cookie set", body = RegisterResponse),
        (status = 400, description = "Invalid input", body = crate::error::Problem),
        (status = 409, description = "Email already registered", body = crate::error::Problem),
        (status = 429, description = "Too many attempts", body = crate::error::Problem)))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(req): ValidJson<RegisterRequest>,
) -> ApiResult<impl IntoResponse> {
    throttle_client(&state, &ip).await?;
    Invalid::field(
        "password",
        validate::password(&req.password, &[&req.email, &req.name]),
    )?;
    let password_hash = state.hasher.hash(&req.password).await?;
    let (user, org) = state
        .store
        .create_user_with_org(
            NewUser {
                email: req.email,
                name: req.name.trim().to_owned(),
                password_hash,
            },
            NewOrganization {
                name: req.organization_name.trim().to_owned(),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::Conflict("an account with this email already exists".to_owned())
            }
            other => other.into(),
        })?;
    let token = state.tokens.issue(user.id)?;
    let cookie = new_refresh(&state, user.id, None).await?;
    let audit = AuditRecord::new("org.create")
        .target("organization", org.id)
        .attributed(org.id, Actor::User(user.id));
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(SET_COOKIE, cookie)]),
        audit,
        Json(RegisterResponse {
            access_token: token.token,
            token_type: "Bearer",
            expires_in: token.expires_in,
            user: (&user).into(),
            organization: (&org).into(),
        }),
    ))
}

/// Exchanges email and password for an access token and a refresh cookie. Unknown emails and
/// wrong passwords get the same answer, in about the same time.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; refresh cookie set", body = SessionResponse),
        (status = 401, description = "Invalid email or password", body = crate::error::Problem),
        (status = 429, description = "Too many attempts", body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(req): ValidJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    throttle_client(&state, &ip).await?;
    let failures = failure_keys(&state, &req.email, &ip);
    for (key, quota) in &failures {
        state.limiter.peek(key, *quota).await?;
    }
    let verified = match state.store.find_user_by_email(&req.email).await {
        Ok(user) => state
            .hasher
            .verify(&req.password, &user.password_hash)
            .await?
            .then_some(user),
        Err(StoreError::NotFound) => {
            state.hasher.verify_dummy(&req.password).await?;
            None
        }
        Err(e) => return Err(e.into()),
    };
    let Some(user) = verified else {
        for (key, quota) in &failures {
            // Counting only; this attempt is answered 401 either way.
            let _ = state.limiter.check(key, *quota).await;
        }
        return Err(ApiError::InvalidCredentials);
    };
    let body = session(&state, &user, true).await?;
    let cookie = new_refresh(&state, user.id, None).await?;
    Ok((AppendHeaders([(SET_COOKIE, cookie)]), Json(body)))
}

/// Rotates the refresh cookie and returns a new access token. Presenting an already rotated
/// token revokes its whole family (every session descended from that login).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    responses(
        (status = 200, description = "New access token; cookie rotated", body = TokenResponse),
        (status = 401, description = "Missing, expired, revoked or reused token", body = crate::error::Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let token = cookie_value(&headers, REFRESH_COOKIE).ok_or(ApiError::Unauthorized)?;
    let hash = hash_secret(token);
    let record = match state.store.find_refresh_token(&hash).await {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    let now = state.clock.now();
    if record.revoked_at.is_some() || record.expires_at <= now {
        return Err(ApiError::Unauthorized);
    }
    if !state.store.consume_refresh_token(&hash, now).await? {
        tracing::warn!(family = %record.family_id, user = %record.user_id,
            "refresh token reuse detected; revoking the family");
        state
            .store
            .revoke_refresh_family(record.family_id, now)
            .await?;
        return Err(ApiError::Unauthorized);
    }
    let user = match state.store.get_user(record.user_id).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    let access = state.tokens.issue(user.id)?;
    let cookie = new_refresh(&state, user.id, Some(record.family_id)).await?;
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
        }),
    ))
}

/// Revokes the refresh cookie's family and clears the cookie. Access tokens already issued
/// stay valid until they expire (at most 15 minutes).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(token) = cookie_value(&headers, REFRESH_COOKIE) {
        match state.store.find_refresh_token(&hash_secret(token)).await {
            Ok(record) => {
                state
                    .store
                    .revoke_refresh_family(record.family_id, state.clock.now())
                    .await?;
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(SET_COOKIE, refresh_cookie(&state, "", 0))]),
    ))
}

/// The signed-in user and their organizations.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = SessionResponse),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API key", body = crate::error::Problem)))]
pub async fn me(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<SessionResponse>> {
    let user_id = principal.require_user()?;
    let user = match state.store.get_user(user_id).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(e) => return Err(e.into()),
    };
    Ok(Json(session(&state, &user, false).await?))
}
