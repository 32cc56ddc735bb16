//! What the knowledge routes answer: knowledge bases, documents and search results.

use botbuilder_core::domain::{Document, DocumentSource, KnowledgeBase};
use botbuilder_core::knowledge::SearchHit;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A knowledge base.
#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeBaseView {
    /// Id.
    pub id: Uuid,
    /// Owning organization.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The provider of the embedder its vectors come from (`local`, `openai`,
    /// `openai-compatible`, `sentence-transformers`; empty for knowledge bases from before it
    /// was recorded, which use the server's default until re-indexed).
    pub embedding_provider: String,
    /// The embedding model its vectors come from.
    pub embedding_model: String,
    /// Dimensions of its vectors.
    pub embedding_dimensions: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&KnowledgeBase> for KnowledgeBaseView {
    fn from(k: &KnowledgeBase) -> Self {
        Self {
            id: k.id.as_uuid(),
            organization_id: k.org_id.as_uuid(),
            name: k.name.clone(),
            description: k.description.clone(),
            embedding_provider: k.embedding_provider.clone(),
            embedding_model: k.embedding_model.clone(),
            embedding_dimensions: k.embedding_dimensions,
            created_at: k.created_at,
            updated_at: k.updated_at,
        }
    }
}

/// A document and where its ingestion stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    /// Id.
    pub id: Uuid,
    /// Its knowledge base.
    pub knowledge_base_id: Uuid,
    /// Title.
    pub title: String,
    /// How it arrived (`{"type":"text"}`, `{"type":"file","filename":…}`, `{"type":"url","url":…}`).
    #[schema(value_type = Object)]
    pub source: DocumentSource,
    /// Media type of the original.
    pub content_type: String,
    /// SHA-256 of the original, hex.
    pub content_hash: String,
    /// Size of the original in bytes.
    pub size_bytes: u64,
    /// `pending`, `processing`, `ready` or `failed`.
    pub status: String,
    /// Share of the ingestion done, 0 to 1.
    pub progress: f32,
    /// Why ingestion failed.
    pub error: Option<String>,
    /// Chunks stored.
    pub chunk_count: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> Self {
        Self {
            id: d.id.as_uuid(),
            knowledge_base_id: d.kb_id.as_uuid(),
            title: d.title.clone(),
            source: d.source.clone(),
            content_type: d.content_type.clone(),
            content_hash: d.content_hash.clone(),
            size_bytes: d.size_bytes,
            status: d.status.as_str().to_owned(),
            progress: d.progress,
            error: d.error.clone(),
            chunk_count: d.chunk_count,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A search result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHitView {
    /// The chunk.
    pub chunk_id: Uuid,
    /// Its document.
    pub document_id: Uuid,
    /// The document's title.
    pub document_title: String,
    /// The document's address, when it was fetched from a URL.
    pub document_url: Option<String>,
    /// Order of the chunk in its document.
    pub position: u32,
    /// The headings above the chunk.
    pub heading_path: Vec<String>,
    /// The chunk's text.
    pub text: String,
    /// Score on the mode's scale (higher is better).
    pub score: f32,
    /// BM25 score, when keyword search found it.
    pub keyword_score: Option<f32>,
    /// Cosine similarity, when vector search found it.
    pub vector_score: Option<f32>,
}

impl From<&SearchHit> for SearchHitView {
    fn from(h: &SearchHit) -> Self {
        Self {
            chunk_id: h.chunk.id.as_uuid(),
            document_id: h.chunk.document_id.as_uuid(),
            document_title: h.document_title.clone(),
            document_url: h.document_url.clone(),
            position: h.chunk.position,
            heading_path: h.chunk.heading_path.clone(),
            text: h.chunk.text.clone(),
            score: h.score,
            keyword_score: h.keyword_score,
            vector_score: h.vector_score,
        }
    }
}
