//! Rows of knowledge bases, documents and chunks (see the [module docs](super)), and the
//! words of a keyword search, which every backend queries for.

use botbuilder_core::domain::{Chunk, Document, DocumentStatus, KnowledgeBase};
use botbuilder_core::knowledge::STOPWORDS;
use botbuilder_core::store::{StoreError, StoreResult};
use uuid::Uuid;

use super::from_micros;
use crate::error::corrupt;

macro_rules! kb_columns {
    () => {
        "id, organization_id, name, description, embedding_provider, embedding_model, \
         embedding_dimensions, created_at, updated_at"
    };
}

macro_rules! document_columns {
    () => {
        "id, organization_id, knowledge_base_id, title, source, content_type, content_hash, \
         size_bytes, status, progress, error, chunk_count, created_at, updated_at"
    };
}

macro_rules! chunk_columns {
    () => {
        "c.id AS id, c.organization_id AS organization_id, \
         c.knowledge_base_id AS knowledge_base_id, c.document_id AS document_id, \
         c.position AS position, c.text AS text, c.heading_path AS heading_path, \
         c.token_count AS token_count"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct KbRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    description: String,
    embedding_provider: String,
    embedding_model: String,
    embedding_dimensions: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<KbRow> for KnowledgeBase {
    type Error = StoreError;

    fn try_from(r: KbRow) -> StoreResult<Self> {
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            name: r.name,
            description: r.description,
            embedding_provider: r.embedding_provider,
            embedding_model: r.embedding_model,
            embedding_dimensions: u32::try_from(r.embedding_dimensions)
                .map_err(|e| corrupt("embedding dimensions", e))?,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DocumentRow {
    id: Uuid,
    organization_id: Uuid,
    knowledge_base_id: Uuid,
    title: String,
    source: String,
    content_type: String,
    content_hash: String,
    size_bytes: i64,
    status: String,
    progress: f64,
    error: Option<String>,
    chunk_count: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<DocumentRow> for Document {
    type Error = StoreError;

    #[allow(clippy::cast_possible_truncation)] // progress is stored from an f32
    fn try_from(r: DocumentRow) -> StoreResult<Self> {
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            kb_id: r.knowledge_base_id.into(),
            title: r.title,
            source: serde_json::from_str(&r.source).map_err(|e| corrupt("document source", e))?,
            content_type: r.content_type,
            content_hash: r.content_hash,
            size_bytes: u64::try_from(r.size_bytes).map_err(|e| corrupt("document size", e))?,
            status: DocumentStatus::parse(&r.status)
                .ok_or_else(|| corrupt("document status", &r.status))?,
            progress: r.progress as f32,
            error: r.error,
            chunk_count: u32::try_from(r.chunk_count).map_err(|e| corrupt("chunk count", e))?,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChunkRow {
    id: Uuid,
    organization_id: Uuid,
    knowledge_base_id: Uuid,
    document_id: Uuid,
    position: i64,
    text: String,
    heading_path: String,
    token_count: i64,
}

impl TryFrom<ChunkRow> for Chunk {
    type Error = StoreError;

    fn try_from(r: ChunkRow) -> StoreResult<Self> {
        Ok(Self {
            id: r.id.into(),
            org_id: r.organization_id.into(),
            kb_id: r.knowledge_base_id.into(),
            document_id: r.document_id.into(),
            position: u32::try_from(r.position).map_err(|e| corrupt("chunk position", e))?,
            text: r.text,
            heading_path: serde_json::from_str(&r.heading_path)
                .map_err(|e| corrupt("heading path", e))?,
            token_count: u32::try_from(r.token_count).map_err(|e| corrupt("token count", e))?,
        })
    }
}

/// The words a keyword search looks for: the runs of letters and digits of `text`, without
/// its stopwords unless that leaves nothing, at most 64. Each backend makes its full-text
/// query of them (any of the words), so no input is ever read as query syntax.
pub(crate) fn query_words(text: &str) -> Vec<&str> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let topical: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !STOPWORDS.contains(&w.to_lowercase().as_str()))
        .collect();
    let mut chosen = if topical.is_empty() { words } else { topical };
    chosen.truncate(64);
    chosen
}

pub(crate) use {chunk_columns, document_columns, kb_columns};
