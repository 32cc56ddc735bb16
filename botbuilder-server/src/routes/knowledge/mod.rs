//! Knowledge bases: CRUD, documents (queued for ingestion, answered 202), and search.
//!
//! Knowledge bases are bot content, so they use the bot permissions: `bots:read` to see and
//! search, `bots:write` to create, change and add or remove documents, `bots:delete` to delete
//! a knowledge base.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botbuilder_core::domain::{Document, DocumentStatus, KnowledgeBase, KnowledgeBasePatch, Page};
use botbuilder_core::embed::{EmbedderUnavailable, EmbeddingChoice};
use botbuilder_core::id::{DocumentId, KnowledgeBaseId};
use botbuilder_core::knowledge::{ExtractError, KnowledgeError, SearchMode, SearchRequest};
use botbuilder_core::llm::Unavailable;
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, PageQuery, not_blank, opt_not_blank};
use super::views::PageView;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{OrgAccess, Path, Query, ValidJson, perm};
use crate::middleware::audit::AuditRecord;
use crate::state::AppState;

pub use botbuilder_core::knowledge::service::MAX_TITLE_CHARS;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 2_000;

mod views;

pub use views::{DocumentView, KnowledgeBaseView, SearchHitView};

impl From<KnowledgeError> for ApiError {
    fn from(e: KnowledgeError) -> Self {
        match e {
            KnowledgeError::Unreadable(ExtractError::Unsupported(kind)) => {
                Self::UnsupportedMediaType(format!("unsupported content type `{kind}`"))
            }
            KnowledgeError::Unreadable(ExtractError::TooLarge) => Self::PayloadTooLarge,
            KnowledgeError::Unreadable(other) => Self::field("text", other.to_string()),
            KnowledgeError::Store(e) => e.into(),
            KnowledgeError::Invalid(invalid) => invalid.into(),
            KnowledgeError::Queue(e) => Self::Unavailable(Box::new(e)),
            // The embedding API failed (down, refusing its key): an upstream problem.
            KnowledgeError::Embedder(e) => Self::Unavailable(Box::new(e)),
            KnowledgeError::EmbedderUnavailable(EmbedderUnavailable::Provider(
                Unavailable::MissingCredentials,
            )) => Self::Conflict(
                "the knowledge base's embedding provider has no credentials in this organization \
                 (PUT …/provider-credentials/{provider}) or on the server"
                    .to_owned(),
            ),
            KnowledgeError::EmbedderUnavailable(EmbedderUnavailable::Provider(
                Unavailable::UnknownProvider,
            )) => Self::Conflict(
                "the knowledge base's embedding provider is no longer offered; choose another \
                 (PATCH with `embedding`)"
                    .to_owned(),
            ),
            KnowledgeError::EmbedderUnavailable(EmbedderUnavailable::Unsupported {
                message,
                ..
            }) => Self::Conflict(format!(
                "the knowledge base's embedder is no longer offered ({message}); choose \
                 another (PATCH with `embedding`)"
            )),
            KnowledgeError::EmbedderUnavailable(e) => Self::Unavailable(Box::new(e)),
            KnowledgeError::Vectors(e) => {
                Self::Conflict(format!("{e}; re-index the knowledge base (POST …/reindex)"))
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// A new knowledge base.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKnowledgeBase {
    /// Name.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(not_blank))]
    pub name: String,
    /// Description.
    #[serde(default)]
    #[garde(length(chars, max = MAX_DESCRIPTION_CHARS))]
    pub description: String,
    /// The embedder, `{"provider","model"?,"dimensions"?}` (default: the server's). The
    /// provider must have credentials in the organization or on the server; a model whose
    /// vector size is not known needs `dimensions`.
    #[garde(skip)]
    #[schema(value_type = Option<Object>)]
    pub embedding: Option<EmbeddingChoice>,
}

/// Changes to a knowledge base.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKnowledgeBase {
    /// New name.
    #[garde(length(chars, min = 1, max = MAX_NAME_CHARS), custom(opt_not_blank))]
    pub name: Option<String>,
    /// New description.
    #[garde(length(chars, max = MAX_DESCRIPTION_CHARS))]
    pub description: Option<String>,
    /// Another embedder (as at creation): every document is queued to be embedded again.
    #[garde(skip)]
    #[schema(value_type = Option<Object>)]
    pub embedding: Option<EmbeddingChoice>,
}

/// A search.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// What to look for.
    #[garde(length(chars, min = 1, max = MAX_QUERY_CHARS), custom(not_blank))]
    pub query: String,
    /// Results, 1 to 100 (default 5).
    #[serde(default = "default_top_k")]
    #[garde(range(min = 1, max = 100))]
    pub top_k: usize,
    /// `keyword`, `vector` or `hybrid` (default).
    #[serde(default)]
    #[garde(skip)]
    #[schema(value_type = String)]
    pub mode: SearchMode,
    /// Drop results scoring below this (on the mode's scale; default 0).
    #[serde(default)]
    #[garde(range(min = 0.0))]
    pub min_score: f32,
}

fn default_top_k() -> usize {
    5
}

/// `{kb}` path parameter.
#[derive(Debug, Deserialize)]
pub struct KbPath {
    /// The knowledge base id.
    pub kb: KnowledgeBaseId,
}

/// `{kb}/documents/{doc}` path parameters.
#[derive(Debug, Deserialize)]
pub struct DocPath {
    /// The knowledge base id.
    pub kb: KnowledgeBaseId,
    /// The document id.
    pub doc: DocumentId,
}

/// The knowledge bases, oldest first, paged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/knowledge-bases", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = PageView<KnowledgeBaseView>), (status = 403, body = Problem)))]
pub async fn list_knowledge_bases(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<PageView<KnowledgeBaseView>>> {
    let page: Page<KnowledgeBase> = state
        .store
        .list_knowledge_bases(access.org, q.page())
        .await?;
    Ok(Json(PageView::from_page(&page)))
}

/// Creates a knowledge base, indexed with the embedder it names or the server's.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/knowledge-bases", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = CreateKnowledgeBase,
    responses((status = 201, body = KnowledgeBaseView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 503, body = Problem)))]
pub async fn create_knowledge_base(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    ValidJson(req): ValidJson<CreateKnowledgeBase>,
) -> ApiResult<impl IntoResponse> {
    let name = req.name.trim().to_owned();
    let kb = match &req.embedding {
        Some(choice) => {
            state
                .knowledge
                .create_knowledge_base_with_embedder(access.org, name, req.description, choice)
                .await?
        }
        None => {
            state
                .knowledge
                .create_knowledge_base(access.org, name, req.description)
                .await?
        }
    };
    let audit = AuditRecord::new("knowledge_base.create")
        .target("knowledge_base", kb.id)
        .details(json!({
            "name": kb.name,
            "embedding": { "provider": kb.embedding_provider, "model": kb.embedding_model },
        }));
    Ok((
        StatusCode::CREATED,
        audit,
        Json(KnowledgeBaseView::from(&kb)),
    ))
}

/// One knowledge base.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id")),
    responses((status = 200, body = KnowledgeBaseView), (status = 404, body = Problem)))]
pub async fn get_knowledge_base(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<KbPath>,
) -> ApiResult<Json<KnowledgeBaseView>> {
    let kb = state.store.get_knowledge_base(access.org, path.kb).await?;
    Ok(Json((&kb).into()))
}

/// Renames or re-describes a knowledge base, or moves it to another embedder (which queues
/// every document to be embedded again, as `POST …/reindex` does).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id")),
    request_body = UpdateKnowledgeBase,
    responses((status = 200, body = KnowledgeBaseView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn update_knowledge_base(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<KbPath>,
    ValidJson(req): ValidJson<UpdateKnowledgeBase>,
) -> ApiResult<impl IntoResponse> {
    let mut details = json!({});
    if let Some(choice) = &req.embedding {
        let (kb, queued) = state
            .knowledge
            .change_embedder(access.org, path.kb, choice)
            .await?;
        details = json!({
            "embedding": { "provider": kb.embedding_provider, "model": kb.embedding_model },
            "queued_documents": queued,
        });
    }
    let patch = KnowledgeBasePatch {
        name: req.name.map(|n| n.trim().to_owned()),
        description: req.description,
        embedding: None,
    };
    let kb = state
        .store
        .update_knowledge_base(access.org, path.kb, patch)
        .await?;
    let audit = AuditRecord::new("knowledge_base.update")
        .target("knowledge_base", kb.id)
        .details(details);
    Ok((audit, Json(KnowledgeBaseView::from(&kb))))
}

/// Deletes a knowledge base with its documents and chunks.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)))]
pub async fn delete_knowledge_base(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsDelete>,
    Path(path): Path<KbPath>,
) -> ApiResult<impl IntoResponse> {
    state
        .knowledge
        .delete_knowledge_base(access.org, path.kb)
        .await?;
    let audit = AuditRecord::new("knowledge_base.delete").target("knowledge_base", path.kb);
    Ok((StatusCode::NO_CONTENT, audit, ()))
}

/// The documents of a knowledge base, oldest first, paged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id"), PageQuery),
    responses((status = 200, body = PageView<DocumentView>), (status = 404, body = Problem)))]
pub async fn list_documents(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<KbPath>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<PageView<DocumentView>>> {
    let page = state
        .store
        .list_documents(access.org, path.kb, q.page())
        .await?;
    Ok(Json(PageView::from_page(&page)))
}

/// One document of the knowledge base, with its ingestion status.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id"),
        ("doc" = Uuid, Path, description = "Document id")),
    responses((status = 200, body = DocumentView), (status = 404, body = Problem)))]
pub async fn get_document(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<DocPath>,
) -> ApiResult<Json<DocumentView>> {
    let doc = document_in(&state, &access, &path).await?;
    Ok(Json((&doc).into()))
}

/// Changes to a document.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDocument {
    /// New title (1 to 300 characters). Keyword search finds the new title at once; the
    /// document is ingested again so its vectors follow.
    #[garde(skip)]
    pub title: String,
}

/// Renames a document.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id"),
        ("doc" = Uuid, Path, description = "Document id")),
    request_body = UpdateDocument,
    responses((status = 200, body = DocumentView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update_document(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<DocPath>,
    ValidJson(req): ValidJson<UpdateDocument>,
) -> ApiResult<impl IntoResponse> {
    document_in(&state, &access, &path).await?;
    let doc = state
        .knowledge
        .rename_document(access.org, path.doc, req.title)
        .await?;
    let audit = AuditRecord::new("document.update")
        .target("document", path.doc)
        .details(json!({ "title": doc.title }));
    Ok((audit, Json(DocumentView::from(&doc))))
}

/// Deletes a document and its chunks.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id"),
        ("doc" = Uuid, Path, description = "Document id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)))]
pub async fn delete_document(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<DocPath>,
) -> ApiResult<impl IntoResponse> {
    document_in(&state, &access, &path).await?;
    state
        .knowledge
        .delete_document(access.org, path.doc)
        .await?;
    let audit = AuditRecord::new("document.delete").target("document", path.doc);
    Ok((StatusCode::NO_CONTENT, audit, ()))
}

/// Searches the knowledge base: `keyword` (BM25), `vector` (cosine) or `hybrid` (both,
/// fused by reciprocal rank).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/search", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id")),
    request_body = SearchInput,
    responses((status = 200, body = Vec<SearchHitView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<KbPath>,
    ValidJson(req): ValidJson<SearchInput>,
) -> ApiResult<Json<Vec<SearchHitView>>> {
    state.store.get_knowledge_base(access.org, path.kb).await?;
    let request = SearchRequest {
        query: req.query,
        mode: req.mode,
        top_k: req.top_k,
        min_score: req.min_score,
    };
    let hits = state
        .knowledge
        .search(access.org, &[path.kb], &request)
        .await?;
    Ok(Json(hits.iter().map(SearchHitView::from).collect()))
}

/// An ingestion job that failed every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadIngestionView {
    /// The job.
    pub job_id: Uuid,
    /// The document it was ingesting (now `failed`).
    pub document_id: Uuid,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// Ingestion jobs of the knowledge base that failed every attempt (dead letters), oldest
/// first, at most 100. `POST …/documents/{doc}/retry` runs one again.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/dead-letters", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id")),
    responses((status = 200, body = Vec<DeadIngestionView>), (status = 404, body = Problem)))]
pub async fn dead_letters(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsRead>,
    Path(path): Path<KbPath>,
) -> ApiResult<Json<Vec<DeadIngestionView>>> {
    let dead = state.knowledge.dead_ingestions(access.org, path.kb).await?;
    Ok(Json(
        dead.into_iter()
            .map(|d| DeadIngestionView {
                job_id: d.job_id,
                document_id: d.document_id.as_uuid(),
                attempts: d.attempts,
                last_error: d.last_error,
            })
            .collect(),
    ))
}

/// Ingests a `failed` document again from its stored original: 202 with the `pending`
/// document. Any other status is 409.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}/retry", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id"),
        ("doc" = Uuid, Path, description = "Document id")),
    responses((status = 202, body = DocumentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry_document(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<DocPath>,
) -> ApiResult<impl IntoResponse> {
    let doc = document_in(&state, &access, &path).await?;
    if doc.status != DocumentStatus::Failed {
        return Err(ApiError::Conflict(format!(
            "only failed documents are retried; this one is {}",
            doc.status.as_str()
        )));
    }
    let doc = state.knowledge.retry_document(access.org, path.doc).await?;
    let audit = AuditRecord::new("document.retry").target("document", doc.id);
    Ok((StatusCode::ACCEPTED, audit, Json(DocumentView::from(&doc))))
}

/// What a re-index queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReindexView {
    /// The knowledge base, with the embedder it now uses.
    pub knowledge_base: KnowledgeBaseView,
    /// Documents queued for ingestion.
    pub queued_documents: usize,
}

/// Re-indexes the knowledge base with its embedder (after the model behind its name
/// changed; one from before embedders were recorded gets the server's): records the
/// embedder and queues every document again (202). Keyword
/// search keeps working meanwhile; vector search covers each document once it is `ready`.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/knowledge-bases/{kb}/reindex", tag = "knowledge", security(("bearer" = [])),
    params(("org" = Uuid, Path, description = "Organization id"), ("kb" = Uuid, Path, description = "Knowledge base id")),
    responses((status = 202, body = ReindexView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn reindex(
    State(state): State<AppState>,
    access: OrgAccess<perm::BotsWrite>,
    Path(path): Path<KbPath>,
) -> ApiResult<impl IntoResponse> {
    let (kb, queued) = state.knowledge.reindex(access.org, path.kb).await?;
    let audit = AuditRecord::new("knowledge_base.reindex")
        .target("knowledge_base", kb.id)
        .details(json!({ "embedding_model": kb.embedding_model, "queued_documents": queued }));
    let view = ReindexView {
        knowledge_base: KnowledgeBaseView::from(&kb),
        queued_documents: queued,
    };
    Ok((StatusCode::ACCEPTED, audit, Json(view)))
}

/// The document of the path, checked to belong to the knowledge base of the path.
async fn document_in<P>(
    state: &AppState,
    access: &OrgAccess<P>,
    path: &DocPath,
) -> ApiResult<Document> {
    let doc = state.store.get_document(access.org, path.doc).await?;
    if doc.kb_id != path.kb {
        return Err(ApiError::NotFound);
    }
    Ok(doc)
}
