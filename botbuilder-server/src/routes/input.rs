//! Shared request inputs and validators.

use botbuilder_core::domain::{PageRequest, Permission, PermissionSet};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

pub use botbuilder_core::validate::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};

/// Refuses strings that are only whitespace (or contain control characters other than
/// newlines and tabs, NUL included).
pub fn not_blank(value: &str, _: &()) -> garde::Result {
    botbuilder_core::validate::text(value, 1, usize::MAX).map_err(garde::Error::new)
}

/// [`not_blank`] for optional fields.
pub fn opt_not_blank(value: &Option<String>, ctx: &()) -> garde::Result {
    value.as_deref().map_or(Ok(()), |v| not_blank(v, ctx))
}

/// Keyset paging parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page, 1..=200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

impl PageQuery {
    /// As a store page request.
    pub fn page(&self) -> PageRequest {
        PageRequest {
            limit: self.limit.unwrap_or(PageRequest::DEFAULT_LIMIT),
            cursor: self.cursor,
        }
    }
}

/// Collects permission names into a set (they are already validated by deserialization).
pub fn permission_set(list: &[Permission]) -> PermissionSet {
    list.iter().copied().collect()
}

/// `value` as an instant: RFC 3339, or a day (its midnight, UTC).
pub fn instant(value: &str, field: &str) -> ApiResult<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| ApiError::field(field, "expected an RFC 3339 time or a YYYY-MM-DD day"))
}
