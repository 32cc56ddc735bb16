//! Rows of the knowledge tables and their conversions; vectors as little-endian `f32`
//! BLOBs; FTS5 query building.

use botbuilder_core::domain::{Chunk, Document, DocumentStatus, KnowledgeBase};
use botbuilder_core::knowledge::STOPWORDS;
use botbuilder_core::store::{StoreError, StoreResult};
use uuid::Uuid;

use super::super::rows::from_micros;
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
pub(super) struct KbRow {
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
pub(super) struct DocumentRow {
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
pub(super) struct ChunkRow {
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

/// A vector as stored: little-endian `f32`s.
pub(super) fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn vector_from(bytes: &[u8]) -> StoreResult<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(corrupt("embedding", "length is not a multiple of 4"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// An FTS5 query matching any of the topic words of `text` (stopwords left out, unless that
/// leaves nothing), each quoted, so no input is ever read as query syntax. `None` when the
/// text has no words.
pub(super) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let topical: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !STOPWORDS.contains(&w.to_lowercase().as_str()))
        .collect();
    let chosen = if topical.is_empty() { words } else { topical };
    let quoted: Vec<String> = chosen
        .into_iter()
        .take(64)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

pub(super) fn json_ids(ids: impl Iterator<Item = Uuid>) -> String {
    let hex: Vec<String> = ids.map(|id| id.simple().to_string()).collect();
    serde_json::to_string(&hex).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) use {chunk_columns, document_columns, kb_columns};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_text_becomes_a_safe_fts_query() {
        assert_eq!(
            fts_query("refund \"policy\" NEAR* -x").as_deref(),
            Some("\"refund\" OR \"policy\" OR \"NEAR\" OR \"x\"")
        );
        assert_eq!(
            fts_query("what is the refund policy?").as_deref(),
            Some("\"refund\" OR \"policy\""),
            "stopwords left out"
        );
        assert_eq!(
            fts_query("what is it").as_deref(),
            Some("\"what\" OR \"is\" OR \"it\""),
            "unless nothing else is left"
        );
        assert_eq!(fts_query("?! ..."), None);
        assert_eq!(
            vector_from(&vector_bytes(&[1.5, -2.0])).unwrap(),
            vec![1.5, -2.0]
        );
    }
}
