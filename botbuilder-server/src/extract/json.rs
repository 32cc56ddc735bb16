//! `ValidJson<T>`: parse a JSON body (naming the failing field) and validate it with garde.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON request body that was parsed and validated.
///
/// Rejections, all `application/problem+json`: a non-JSON content type is 415, a body over
/// the limit 413, malformed JSON or a wrong type 400 naming the field, and every garde rule
/// that fails 400 with one entry per field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

/// Whether a `Content-Type` is JSON (`application/json` or `application/*+json`).
pub fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Removes serde_json's " at line L column C" suffix: positions mean nothing to API clients.
fn without_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at])
}

/// Joins a parent path and a child key: `("ai_config", "model") -> "ai_config.model"`.
fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() || parent == "." {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// The field a serde error is about: missing and unknown fields name the key itself, other
/// errors the path where deserialization failed.
pub(crate) fn field_of(path: &str, message: &str) -> String {
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
        {
            let key = &rest[..end];
            if path.ends_with(key) {
                return path.to_owned();
            }
            return join(path, key);
        }
    }
    if path.is_empty() || path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    }
}

/// Refuses `value` of `field` when it holds NUL: no person writes it, and Postgres text cannot
/// hold it, so every input (JSON strings, query parameters, form fields) is checked alike.
pub fn refuse_nul(field: &str, value: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(nul_in(field));
    }
    Ok(())
}

fn nul_in(field: &str) -> ApiError {
    ApiError::field(field, "must not contain NUL characters")
}

/// Whether the JSON text `bytes` holds an escaped NUL character (`\u0000`) in a string: a
/// backslash that is not itself escaped, followed by `u0000`. (A raw NUL byte is not valid
/// JSON and fails parsing anyway.)
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if b == b'u' && backslashes % 2 == 1 && bytes[i + 1..].starts_with(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// The path (`a.b[2].c`) of the first string in `value` holding a NUL character.
fn nul_path(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then(String::new),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item).map(|rest| format!("[{i}]{}", dotted(&rest)))),
        serde_json::Value::Object(fields) => fields
            .iter()
            .find_map(|(key, item)| nul_path(item).map(|rest| format!("{key}{}", dotted(&rest)))),
        _ => None,
    }
}

fn dotted(rest: &str) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest.to_owned()
    } else {
        format!(".{rest}")
    }
}

/// Parses `bytes` as `T`, naming the failing field on error. Strings holding NUL characters
/// are refused everywhere: they carry nothing a person wrote, and Postgres text cannot hold
/// them, so both stores keep exactly what the API accepted.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_escaped_nul(bytes)
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = nul_path(&value)
    {
        let field = if path.is_empty() {
            "body".to_owned()
        } else {
            path
        };
        return Err(ApiError::field(field, "must not contain NUL characters"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let message = without_position(&inner.to_string()).to_owned();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::field("body", format!("malformed JSON: {message}"));
        }
        let path = e.path().to_string();
        if path.starts_with('[') {
            return ApiError::field("body", "expected a JSON object");
        }
        ApiError::field(field_of(&path, &message), message)
    })?;
    de.end()
        .map_err(|_| ApiError::field("body", "unexpected data after the JSON value"))?;
    Ok(value)
}

/// A body that may be left out: empty (or whitespace) means `T::default()`; anything else is
/// parsed and validated like [`ValidJson`].
pub fn optional_json<T>(body: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned + Default + garde::Validate,
    T::Context: Default,
{
    let value: T = if body.iter().all(u8::is_ascii_whitespace) {
        T::default()
    } else {
        parse_json(body)?
    };
    value
        .validate()
        .map_err(|report| ApiError::Validation(report_errors(&report)))?;
    Ok(value)
}

/// Turns a garde report into one [`FieldError`] per failed rule.
pub fn report_errors(report: &garde::Report) -> Vec<FieldError> {
    report
        .iter()
        .map(|(path, error)| {
            let field = path.to_string();
            let field = if field.is_empty() {
                "body".to_owned()
            } else {
                field
            };
            FieldError::new(field, error.message().to_string())
        })
        .collect()
}

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate,
    T::Context: Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(content_type) {
            return Err(ApiError::expected_json());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("the request body could not be read".to_owned())
            }
        })?;
        let value: T = parse_json(&bytes)?;
        value
            .validate()
            .map_err(|report| ApiError::Validation(report_errors(&report)))?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_with_nul_are_refused_naming_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            text: String,
            items: Vec<serde_json::Value>,
        }
        let refused = |json: &str| match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(errors)) => errors[0].field.clone(),
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(refused(r#"{"text": "a\u0000b", "items": []}"#), "text");
        assert_eq!(
            refused(r#"{"text": "a", "items": [1, {"deep": "\u0000"}]}"#),
            "items[1].deep"
        );
        // An escaped backslash followed by `u0000` is six ordinary characters.
        let literal = parse_json::<Body>(br#"{"text": "\\u0000", "items": []}"#).unwrap();
        assert_eq!(literal.text, "\\u0000");
        assert!(parse_json::<Body>(br#"{"text": "h\u00e9llo", "items": []}"#).is_ok());
    }

    #[test]
    fn content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[test]
    fn fields_are_named() {
        assert_eq!(field_of(".", "missing field `name`"), "name");
        assert_eq!(
            field_of("ai_config", "missing field `model`"),
            "ai_config.model"
        );
        assert_eq!(
            field_of(".", "unknown field `admin`, expected one of"),
            "admin"
        );
        assert_eq!(
            field_of("ai_config.temperature", "invalid type"),
            "ai_config.temperature"
        );
        assert_eq!(field_of(".", "invalid type: integer"), "body");
    }
}
