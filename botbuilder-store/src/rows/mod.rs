//! Row types shared by the SQL backends, and their conversion into domain types.
//!
//! Every SQL store keeps the same column representation, so one row type serves them all
//! (`sqlx::FromRow` is generic over the database): ids are UUIDs, times are `i64`
//! microseconds since the Unix epoch (UTC), flags are booleans, and structured values are
//! JSON text (a backend with a JSON type selects it `::text`). What differs between backends
//! (SQL dialect, vector and full-text encodings) stays with each backend.

pub(crate) mod analytics;
pub(crate) mod bots;
mod changes;
pub(crate) mod channels;
pub(crate) mod conversations;
pub(crate) mod credentials;
pub(crate) mod flows;
pub(crate) mod jobs;
pub(crate) mod knowledge;
pub(crate) mod usage;
pub(crate) mod webhooks;

use botbuilder_core::domain::{
    Actor, ApiKey, AuditEntry, Bot, BuiltinRole, Entity, Intent, Member, Organization, Page,
    PermissionSet, RefreshToken, Role, User,
};
use botbuilder_core::store::{StoreError, StoreResult};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::corrupt;

pub(crate) use changes::ChangeRow;

/// Microseconds since the epoch, the stored form of every timestamp.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// An email as stored and compared: trimmed and lower-cased, so lookups ignore case.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// `value` as the JSON text a column stores.
pub(crate) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(Box::new(e)))
}

pub(crate) fn permissions_json(set: &PermissionSet) -> String {
    serde_json::to_string(set).unwrap_or_else(|_| "[]".to_owned())
}

fn parse_permissions(json: &str) -> StoreResult<PermissionSet> {
    serde_json::from_str(json).map_err(|e| corrupt("permissions", e))
}

/// A role's permissions: a built-in role's are always the current matrix (so permissions
/// added by later versions reach existing organizations), a custom role's are as stored.
fn role_permissions(name: &str, builtin: bool, stored: &str) -> StoreResult<PermissionSet> {
    match BuiltinRole::from_name(name).filter(|_| builtin) {
        Some(role) => Ok(role.permissions()),
        None => parse_permissions(stored),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    password_hash: String,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id.into(),
            email: r.email,
            name: r.name,
            password_hash: r.password_hash,
            created_at: from_micros(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) settings: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl TryFrom<OrgRow> for Organization {
    type Error = StoreError;

    fn try_from(r: OrgRow) -> StoreResult<Self> {
        Ok(Organization {
            id: r.id.into(),
            name: r.name,
            settings: serde_json::from_str(&r.settings).map_err(|e| corrupt("settings", e))?,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoleRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    description: String,
    permissions: String,
    builtin: bool,
    created_at: i64,
}

impl TryFrom<RoleRow> for Role {
    type Error = StoreError;

    fn try_from(r: RoleRow) -> StoreResult<Self> {
        let permissions = role_permissions(&r.name, r.builtin, &r.permissions)?;
        Ok(Role {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            name: r.name,
            description: r.description,
            permissions,
            builtin: r.builtin,
            created_at: from_micros(r.created_at),
        })
    }
}

/// Columns of a member (`m`) joined with its user (`u`) and role (`r`), matching [`MemberRow`]
/// (plain SQL, the same for every backend).
macro_rules! member_columns {
    () => {
        "m.user_id AS user_id, u.email AS email, u.name AS name, m.created_at AS joined_at, \
         r.id AS r_id, r.organization_id AS r_organization_id, r.name AS r_name, \
         r.description AS r_description, r.permissions AS r_permissions, \
         r.builtin AS r_builtin, r.created_at AS r_created_at"
    };
}
pub(crate) use member_columns;

/// A member joined with its user and role (`m.*`, `u.email`, `u.name`, role columns as `r_*`);
/// select it with `member_columns!`.
#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    user_id: Uuid,
    email: String,
    name: String,
    joined_at: i64,
    r_id: Uuid,
    r_organization_id: Uuid,
    r_name: String,
    r_description: String,
    r_permissions: String,
    r_builtin: bool,
    r_created_at: i64,
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;

    fn try_from(r: MemberRow) -> StoreResult<Self> {
        let permissions = role_permissions(&r.r_name, r.r_builtin, &r.r_permissions)?;
        Ok(Member {
            user_id: r.user_id.into(),
            email: r.email,
            name: r.name,
            joined_at: from_micros(r.joined_at),
            role: Role {
                id: r.r_id.into(),
                org_id: r.r_organization_id.into(),
                name: r.r_name,
                description: r.r_description,
                permissions,
                builtin: r.r_builtin,
                created_at: from_micros(r.r_created_at),
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    prefix: String,
    permissions: String,
    created_by: Option<Uuid>,
    created_at: i64,
    expires_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(r: ApiKeyRow) -> StoreResult<Self> {
        Ok(ApiKey {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            name: r.name,
            prefix: r.prefix,
            permissions: parse_permissions(&r.permissions)?,
            created_by: r.created_by.map(Into::into),
            created_at: from_micros(r.created_at),
            expires_at: r.expires_at.map(from_micros),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BotRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    description: String,
    ai_config: String,
    settings: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<BotRow> for Bot {
    type Error = StoreError;

    fn try_from(r: BotRow) -> StoreResult<Self> {
        Ok(Bot {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            name: r.name,
            description: r.description,
            ai_config: serde_json::from_str(&r.ai_config).map_err(|e| corrupt("ai_config", e))?,
            settings: serde_json::from_str(&r.settings).map_err(|e| corrupt("settings", e))?,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: Uuid,
    organization_id: Uuid,
    actor: String,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    details: String,
    ip: Option<String>,
    request_id: Option<String>,
    created_at: i64,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: AuditRow) -> StoreResult<Self> {
        Ok(AuditEntry {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            actor: Actor::from_key(&r.actor).ok_or_else(|| corrupt("actor", &r.actor))?,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            details: serde_json::from_str(&r.details).map_err(|e| corrupt("details", e))?,
            ip: r.ip,
            request_id: r.request_id,
            created_at: from_micros(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RefreshTokenRow {
    id: Uuid,
    family_id: Uuid,
    user_id: Uuid,
    token_hash: Vec<u8>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(r: RefreshTokenRow) -> Self {
        RefreshToken {
            id: r.id.into(),
            family_id: r.family_id.into(),
            user_id: r.user_id.into(),
            token_hash: r.token_hash,
            created_at: from_micros(r.created_at),
            expires_at: from_micros(r.expires_at),
            used_at: r.used_at.map(from_micros),
            revoked_at: r.revoked_at.map(from_micros),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct IntentRow {
    id: Uuid,
    organization_id: Uuid,
    bot_id: Uuid,
    name: String,
    examples: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<IntentRow> for Intent {
    type Error = StoreError;

    fn try_from(r: IntentRow) -> StoreResult<Self> {
        Ok(Intent {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            bot_id: r.bot_id.into(),
            name: r.name,
            examples: serde_json::from_str(&r.examples).map_err(|e| corrupt("examples", e))?,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EntityRow {
    id: Uuid,
    organization_id: Uuid,
    bot_id: Uuid,
    name: String,
    kind: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<EntityRow> for Entity {
    type Error = StoreError;

    fn try_from(r: EntityRow) -> StoreResult<Self> {
        Ok(Entity {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            bot_id: r.bot_id.into(),
            name: r.name,
            kind: serde_json::from_str(&r.kind).map_err(|e| corrupt("entity kind", e))?,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

/// A page of domain values from rows fetched one past `limit`, converting each row (see
/// [`Page::from_overfetch`]); `id` gives an item's cursor.
pub(crate) fn page_of<R, T>(
    rows: Vec<R>,
    limit: u32,
    id: impl Fn(&T) -> Uuid,
) -> StoreResult<Page<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    let items = rows
        .into_iter()
        .map(T::try_from)
        .collect::<StoreResult<Vec<T>>>()?;
    Ok(Page::from_overfetch(items, limit, id))
}
