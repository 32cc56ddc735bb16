//! Adding documents to a knowledge base: a multipart file, JSON text, or a URL fetched through
//! the SSRF-guarded client. Each is checked before anything is stored (type, size, empty,
//! UTF-8), stored `pending` with its original bytes and queued for ingestion (202).
//!
//! | how | body | refused with |
//! |---|---|---|
//! | file | `multipart/form-data`: `file` (type from the part, else from the file name), optional `title` | 415 unknown type, 413 over 50 MiB, 400 `file` empty / not UTF-8 |
//! | text | JSON `{title, text, content_type?}` | 400 `text`, 415 type |
//! | URL | JSON `{url, title?}` | 400 `url` private / loopback / link-local target (also after a redirect), failed fetch, error status, unknown type; 413 over 50 MiB |

use std::time::Duration;

use axum::Json;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use botbuilder_core::domain::DocumentSource;
use botbuilder_core::fetch::{FetchError, FetchRequest};
use botbuilder_core::knowledge::extract::{
    content_type_for_name, essence, is_supported, own_title,
};
use botbuilder_core::knowledge::{ExtractError, KnowledgeError, MAX_DOCUMENT_BYTES, Upload};
use garde::Validate;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::input::{not_blank, opt_not_blank};
use super::knowledge::{DocumentView, KbPath, MAX_TITLE_CHARS};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::is_json;
use crate::extract::{OrgAccess, Path, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

/// Largest request body on the documents route: the document limit plus room for the other
/// multipart fields.
pub const MAX_UPLOAD_BODY_BYTES: usize = MAX_DOCUMENT_BYTES + 64 * 1024;
/// Longest address of a document added by URL.
pub const MAX_URL_CHARS: usize = 2_048;
/// How long fetching a document by URL may take.
pub const URL_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

const ACCEPTED: &str = "text/plain, text/markdown, text/csv, text/html or application/pdf";

/// A document sent as JSON: either `text` (with a `title`) or a `url` to fetch.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDocumentInput {
    /// Title (required with `text`; for a URL, defaults to the address).
    #[garde(inner(length(chars, min = 1, max = MAX_TITLE_CHARS)), custom(opt_not_blank))]
    pub title: Option<String>,
    /// The text.
    #[garde(inner(length(min = 1), custom(not_blank)))]
    pub text: Option<String>,
    /// Media type of `text`: `text/plain` (default), `text/markdown` or `text/html`.
    #[garde(skip)]
    pub content_type: Option<String>,
    /// An `http(s)` address to fetch the document from (public addresses only).
    #[garde(inner(length(chars, min = 1, max = MAX_URL_CHARS)))]
    pub url: Option<String>,
}

/// A document uploaded as a file (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the multipart body in the OpenAPI description only
pub struct UploadForm {
    /// The file: plain text, Markdown, CSV, HTML or PDF, at most 50 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Title (default: the title the document gives itself, a Markdown `# heading` or front
    /// matter, an HTML `<title>`; else the file name).
    title: Option<String>,
}

/// Adds a document and queues its ingestion: 202 with the `pending` document; poll it until
/// `ready` or `failed` (with the reason). The same bytes twice in one knowledge base are 409.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id")),
    request_body(content(
        (AddDocumentInput = "application/json"),
        (UploadForm = "multipart/form-data"),
    )),
    responses((status = 202, body = DocumentView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem)))]
pub async fn add_document(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<KbPath>,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    // Another organization's (or no) knowledge base: 404 before reading or fetching anything.
    state.store.get_knowledge_base(access.org, path.kb).await?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (upload, field) = match content_type.as_deref().map(essence).as_deref() {
        Some("multipart/form-data") => {
            let multipart = Multipart::from_request(request, &state)
                .await
                .map_err(|e| ApiError::BadRequest(e.body_text()))?;
            (from_multipart(multipart).await?, "file")
        }
        _ if is_json(content_type.as_deref()) => {
            let ValidJson(input) =
                ValidJson::<AddDocumentInput>::from_request(request, &state).await?;
            from_json(&state, input).await?
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send the document as multipart/form-data (a `file` part) or as JSON \
                 (`text` or `url`)"
                    .to_owned(),
            ));
        }
    };
    let doc = state
        .knowledge
        .add_document(access.org, path.kb, upload)
        .await
        .map_err(|e| refusal(field, e))?;
    let audit = AuditRecord::new("document.create")
        .target("document", doc.id)
        .details(json!({ "knowledge_base": path.kb, "title": doc.title }));
    Ok((StatusCode::ACCEPTED, audit, Json(DocumentView::from(&doc))))
}

/// An ingestion refusal as the client's error, naming the field the document came in.
fn refusal(field: &str, e: KnowledgeError) -> ApiError {
    match e {
        KnowledgeError::Unreadable(ExtractError::Unsupported(kind)) if field != "url" => {
            ApiError::UnsupportedMediaType(format!(
                "{field}: unsupported content type `{kind}`; send {ACCEPTED}"
            ))
        }
        KnowledgeError::Unreadable(ExtractError::TooLarge) => ApiError::PayloadTooLarge,
        KnowledgeError::Unreadable(other) => ApiError::field(field, other.to_string()),
        other => other.into(),
    }
}

/// The `file` (and optional `title`) of a multipart upload.
async fn from_multipart(mut multipart: Multipart) -> ApiResult<Upload> {
    let mut file: Option<(String, String, Vec<u8>)> = None;
    let mut title: Option<String> = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("file") => file = Some(read_file(field).await?),
            Some("title") => {
                let text = field.text().await.map_err(multipart_error)?;
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_TITLE_CHARS {
                    return Err(ApiError::field(
                        "title",
                        format!("must be 1 to {MAX_TITLE_CHARS} characters"),
                    ));
                }
                crate::extract::refuse_nul("title", text)?;
                title = Some(text.to_owned());
            }
            Some(other) => {
                return Err(ApiError::field(
                    other,
                    "unknown field; expected `file` or `title`",
                ));
            }
            None => return Err(ApiError::field("body", "a multipart part has no name")),
        }
    }
    let (filename, content_type, bytes) =
        file.ok_or_else(|| ApiError::field("file", "a `file` part is required"))?;
    Ok(Upload {
        title: title
            .or_else(|| own_title(&content_type, &bytes))
            .unwrap_or_else(|| filename.clone()),
        source: DocumentSource::File { filename },
        content_type,
        content_hash: sha256_hex(&bytes),
        bytes,
    })
}

/// A file part: its name, media type (from the part, or its name when the part says nothing
/// useful) and bytes, refused early when the type is unknown.
async fn read_file(field: Field<'_>) -> ApiResult<(String, String, Vec<u8>)> {
    let filename = field
        .file_name()
        .map(|name| {
            name.rsplit(['/', '\\'])
                .next()
                .unwrap_or(name)
                .trim()
                .to_owned()
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "upload".to_owned());
    let declared = field.content_type().map(essence);
    let content_type = match declared.as_deref() {
        Some(kind) if kind != "application/octet-stream" => kind.to_owned(),
        _ => content_type_for_name(&filename)
            .map(str::to_owned)
            .or(declared)
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
    };
    if !is_supported(&content_type) {
        return Err(refusal(
            "file",
            ExtractError::Unsupported(content_type).into(),
        ));
    }
    let bytes = field.bytes().await.map_err(multipart_error)?;
    Ok((filename, content_type, bytes.to_vec()))
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!(
            "the multipart body could not be read: {}",
            e.body_text()
        ))
    }
}

/// JSON text, or a URL fetched now; the field errors are named after.
async fn from_json(state: &AppState, input: AddDocumentInput) -> ApiResult<(Upload, &'static str)> {
    match (input.text, input.url) {
        (Some(text), None) => {
            let title = input
                .title
                .ok_or_else(|| ApiError::field("title", "a title is required with `text`"))?;
            let bytes = text.into_bytes();
            let upload = Upload {
                title: title.trim().to_owned(),
                source: DocumentSource::Text,
                content_type: input
                    .content_type
                    .unwrap_or_else(|| "text/plain".to_owned()),
                content_hash: sha256_hex(&bytes),
                bytes,
            };
            Ok((upload, "text"))
        }
        (None, Some(url)) => {
            if input.content_type.is_some() {
                return Err(ApiError::field(
                    "content_type",
                    "a document fetched by URL has the type the server sends",
                ));
            }
            Ok((fetch_document(state, url.trim(), input.title).await?, "url"))
        }
        (Some(_), Some(_)) => Err(ApiError::field(
            "url",
            "send either `text` or `url`, not both",
        )),
        (None, None) => Err(ApiError::field(
            "text",
            "send `text` (with `title`) or `url`",
        )),
    }
}

/// Fetches a document through the guarded client: public targets only (every redirect
/// checked), [`URL_FETCH_TIMEOUT`], at most [`MAX_DOCUMENT_BYTES`], a type a knowledge base
/// reads.
async fn fetch_document(state: &AppState, url: &str, title: Option<String>) -> ApiResult<Upload> {
    let parsed =
        url::Url::parse(url).map_err(|e| ApiError::field("url", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::field("url", "only http and https addresses"));
    }
    let request = FetchRequest {
        max_body_bytes: Some(MAX_DOCUMENT_BYTES),
        follow_redirects: true,
        truncate_body: false,
        ..FetchRequest::get(url, URL_FETCH_TIMEOUT)
    };
    let response = state.fetcher.fetch(request).await.map_err(|e| match e {
        FetchError::TooLarge => ApiError::PayloadTooLarge,
        FetchError::Refused(why) => ApiError::field("url", format!("refused: {why}")),
        FetchError::Timeout => ApiError::field("url", "the server did not answer in time"),
        other => ApiError::field(
            "url",
            format!(
                "could not be fetched: {}",
                botbuilder_core::error_chain(&other)
            ),
        ),
    })?;
    if !(200..300).contains(&response.status) {
        return Err(ApiError::field(
            "url",
            format!("the server answered HTTP {}", response.status),
        ));
    }
    let content_type = response
        .content_type
        .as_deref()
        .map(essence)
        .filter(|kind| kind != "application/octet-stream")
        .or_else(|| content_type_for_name(parsed.path()).map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    if !is_supported(&content_type) {
        return Err(ApiError::field(
            "url",
            format!("unsupported content type `{content_type}`; a knowledge base reads {ACCEPTED}"),
        ));
    }
    let title = title
        .map(|t| t.trim().to_owned())
        .or_else(|| own_title(&content_type, &response.body))
        .unwrap_or_else(|| url.chars().take(MAX_TITLE_CHARS).collect());
    Ok(Upload {
        title,
        source: DocumentSource::Url {
            url: url.to_owned(),
        },
        content_type,
        content_hash: sha256_hex(&response.body),
        bytes: response.body,
    })
}

/// SHA-256 of `bytes`, lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
