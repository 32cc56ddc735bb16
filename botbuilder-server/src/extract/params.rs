//! Path and query extractors whose rejections are problem+json naming the parameter.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, RawPathParams, path::ErrorKind};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::extract::Path`, with 400 problem+json naming the bad parameter.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. } => Some(key.clone()),
                    ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                    _ => None,
                };
                let field = match field {
                    Some(field) => field,
                    None => first_invalid_id(parts, state).await,
                };
                Err(ApiError::field(field, "not a valid id"))
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// Every path parameter of the API is an id: names the first one that is not a UUID.
async fn first_invalid_id<S: Send + Sync>(parts: &mut Parts, state: &S) -> String {
    let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
        return "path".to_owned();
    };
    params
        .iter()
        .find(|(_, value)| uuid::Uuid::parse_str(value).is_err())
        .map_or_else(|| "path".to_owned(), |(name, _)| name.to_owned())
}

/// Like `axum::extract::Query`, with 400 problem+json naming the bad parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // As in bodies, no parameter may hold NUL (Postgres text cannot).
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            super::refuse_nul(&name, &value)?;
        }
        let de = serde_urlencoded_deserializer(query);
        serde_path_to_error::deserialize(de).map(Self).map_err(|e| {
            let message = e.inner().to_string();
            ApiError::field(
                super::json::field_of(&e.path().to_string(), &message),
                message,
            )
        })
    }
}

fn serde_urlencoded_deserializer(query: &str) -> serde_urlencoded::Deserializer<'_> {
    serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()))
}
