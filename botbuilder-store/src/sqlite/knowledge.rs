//! [`KnowledgeRepo`] on SQLite: chunks carry their embedding as a little-endian `f32` BLOB, and
//! an FTS5 table (kept in step by triggers, migration 0008) ranks them with BM25.

use async_trait::async_trait;
use botbuilder_core::domain::{
    Chunk, ChunkText, Document, DocumentStatus, KnowledgeBase, KnowledgeBasePatch, NewChunk,
    NewDocument, NewKnowledgeBase, Page, PageRequest, ScoredChunk,
};
use botbuilder_core::id::{ChunkId, DocumentId, KnowledgeBaseId, OrgId};
use botbuilder_core::knowledge::STOPWORDS;
use botbuilder_core::store::{KnowledgeRepo, StoreError, StoreResult};
use uuid::Uuid;

use super::rows::{from_micros, micros};
use super::{SqliteStore, expect_one};
use crate::error::{corrupt, store_err};

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
struct KbRow {
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
struct DocumentRow {
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
struct ChunkRow {
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
fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from(bytes: &[u8]) -> StoreResult<Vec<f32>> {
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
fn fts_query(text: &str) -> Option<String> {
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

fn json_ids(ids: impl Iterator<Item = Uuid>) -> String {
    let hex: Vec<String> = ids.map(|id| id.simple().to_string()).collect();
    serde_json::to_string(&hex).unwrap_or_else(|_| "[]".to_owned())
}

#[async_trait]
impl KnowledgeRepo for SqliteStore {
    async fn create_knowledge_base(
        &self,
        org: OrgId,
        new: NewKnowledgeBase,
    ) -> StoreResult<KnowledgeBase> {
        let now = micros(self.now());
        sqlx::query_as::<_, KbRow>(concat!(
            "INSERT INTO knowledge_bases (id, organization_id, name, description, embedding_provider,
                                          embedding_model, embedding_dimensions, created_at,
                                          updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
            kb_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(&new.name)
        .bind(&new.description)
        .bind(&new.embedding.provider)
        .bind(&new.embedding.model)
        .bind(i64::from(new.embedding.dimensions))
        .bind(now)
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn get_knowledge_base(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> StoreResult<KnowledgeBase> {
        sqlx::query_as::<_, KbRow>(concat!(
            "SELECT ",
            kb_columns!(),
            " FROM knowledge_bases WHERE organization_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn locate_knowledge_base(&self, kb: KnowledgeBaseId) -> StoreResult<KnowledgeBase> {
        sqlx::query_as::<_, KbRow>(concat!(
            "SELECT ",
            kb_columns!(),
            " FROM knowledge_bases WHERE id = ?"
        ))
        .bind(kb.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_knowledge_bases(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> StoreResult<Page<KnowledgeBase>> {
        let limit = page.effective_limit();
        let kbs = sqlx::query_as::<_, KbRow>(concat!(
            "SELECT ",
            kb_columns!(),
            " FROM knowledge_bases WHERE organization_id = ?1 AND (?2 IS NULL OR id > ?2)
              ORDER BY id LIMIT ?3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(KnowledgeBase::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(kbs, limit, |k| k.id.as_uuid()))
    }

    async fn update_knowledge_base(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        patch: KnowledgeBasePatch,
    ) -> StoreResult<KnowledgeBase> {
        sqlx::query_as::<_, KbRow>(concat!(
            "UPDATE knowledge_bases SET name = COALESCE(?3, name),
                    description = COALESCE(?4, description), updated_at = ?5,
                    embedding_model = COALESCE(?6, embedding_model),
                    embedding_dimensions = COALESCE(?7, embedding_dimensions),
                    embedding_provider = COALESCE(?8, embedding_provider)
             WHERE organization_id = ?1 AND id = ?2 RETURNING ",
            kb_columns!()
        ))
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .bind(patch.name)
        .bind(patch.description)
        .bind(micros(self.now()))
        .bind(patch.embedding.as_ref().map(|e| e.model.clone()))
        .bind(patch.embedding.as_ref().map(|e| i64::from(e.dimensions)))
        .bind(patch.embedding.map(|e| e.provider))
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn delete_knowledge_base(&self, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM knowledge_bases WHERE organization_id = ? AND id = ?")
            .bind(org.as_uuid())
            .bind(kb.as_uuid())
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())
    }

    async fn create_document(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        new: NewDocument,
    ) -> StoreResult<Document> {
        let now = micros(self.now());
        let source =
            serde_json::to_string(&new.source).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut tx = self.write_transaction().await?;
        let created = sqlx::query_as::<_, DocumentRow>(concat!(
            "INSERT INTO documents (id, organization_id, knowledge_base_id, title, source,
                                    content_type, content_hash, size_bytes, status, created_at,
                                    updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING ",
            document_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .bind(&new.title)
        .bind(source)
        .bind(&new.content_type)
        .bind(&new.content_hash)
        .bind(i64::try_from(new.size_bytes).unwrap_or(i64::MAX))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err);
        let document: Document = match created {
            Ok(row) => row.try_into()?,
            Err(StoreError::Conflict(_)) => {
                return Err(StoreError::Conflict(
                    "this content is already in the knowledge base".to_owned(),
                ));
            }
            Err(e) => return Err(e),
        };
        sqlx::query(
            "INSERT INTO document_contents (document_id, organization_id, content) VALUES (?, ?, ?)",
        )
        .bind(document.id.as_uuid())
        .bind(org.as_uuid())
        .bind(&new.content)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok(document)
    }

    async fn document_content(&self, org: OrgId, doc: DocumentId) -> StoreResult<Vec<u8>> {
        let (content,): (Vec<u8>,) = sqlx::query_as(
            "SELECT content FROM document_contents WHERE organization_id = ? AND document_id = ?",
        )
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(content)
    }

    async fn get_document(&self, org: OrgId, doc: DocumentId) -> StoreResult<Document> {
        sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE organization_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_documents(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        page: PageRequest,
    ) -> StoreResult<Page<Document>> {
        self.get_knowledge_base(org, kb).await?;
        let limit = page.effective_limit();
        let docs = sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE organization_id = ?1 AND knowledge_base_id = ?2
                AND (?3 IS NULL OR id > ?3)
              ORDER BY id LIMIT ?4"
        ))
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Document::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(docs, limit, |d| d.id.as_uuid()))
    }

    async fn set_document_status(
        &self,
        org: OrgId,
        doc: DocumentId,
        status: DocumentStatus,
        progress: f32,
        error: Option<String>,
    ) -> StoreResult<Document> {
        sqlx::query_as::<_, DocumentRow>(concat!(
            "UPDATE documents SET status = ?3, progress = ?4, error = ?5, updated_at = ?6
             WHERE organization_id = ?1 AND id = ?2 RETURNING ",
            document_columns!()
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .bind(status.as_str())
        .bind(f64::from(progress.clamp(0.0, 1.0)))
        .bind(error)
        .bind(micros(self.now()))
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn delete_document(&self, org: OrgId, doc: DocumentId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM documents WHERE organization_id = ? AND id = ?")
            .bind(org.as_uuid())
            .bind(doc.as_uuid())
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())
    }

    async fn replace_chunks(
        &self,
        org: OrgId,
        doc: DocumentId,
        chunks: Vec<NewChunk>,
    ) -> StoreResult<Document> {
        let mut tx = self.write_transaction().await?;
        let kb: Option<(Uuid,)> = sqlx::query_as(
            "SELECT knowledge_base_id FROM documents WHERE organization_id = ? AND id = ?",
        )
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        let (kb,) = kb.ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM chunks WHERE document_id = ?")
            .bind(doc.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        let count = i64::try_from(chunks.len()).unwrap_or(i64::MAX);
        // Batches keep each statement well under SQLite's bound-parameter limit.
        for batch in chunks.chunks(500) {
            let mut sql = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO chunks (id, organization_id, knowledge_base_id, document_id, position,
                                     text, heading_path, token_count, embedding) ",
            );
            sql.push_values(batch, |mut row, chunk| {
                row.push_bind(Uuid::now_v7())
                    .push_bind(org.as_uuid())
                    .push_bind(kb)
                    .push_bind(doc.as_uuid())
                    .push_bind(i64::from(chunk.position))
                    .push_bind(chunk.text.clone())
                    .push_bind(
                        serde_json::to_string(&chunk.heading_path)
                            .unwrap_or_else(|_| "[]".to_owned()),
                    )
                    .push_bind(i64::from(chunk.token_count))
                    .push_bind(vector_bytes(&chunk.embedding));
            });
            sql.build().execute(&mut *tx).await.map_err(store_err)?;
        }
        let updated: Document = sqlx::query_as::<_, DocumentRow>(concat!(
            "UPDATE documents SET status = 'ready', progress = 1, error = NULL, chunk_count = ?3,
                    updated_at = ?4
             WHERE organization_id = ?1 AND id = ?2 RETURNING ",
            document_columns!()
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .bind(count)
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?
        .try_into()?;
        tx.commit().await.map_err(store_err)?;
        Ok(updated)
    }

    async fn get_chunks(&self, org: OrgId, ids: &[ChunkId]) -> StoreResult<Vec<Chunk>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query_as::<_, ChunkRow>(concat!(
            "SELECT ",
            chunk_columns!(),
            " FROM chunks c
              WHERE c.organization_id = ?1
                AND c.id IN (SELECT unhex(value) FROM json_each(?2))"
        ))
        .bind(org.as_uuid())
        .bind(json_ids(ids.iter().map(|id| id.as_uuid())))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        let mut found = rows
            .into_iter()
            .map(Chunk::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        // In the order asked for.
        found.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
        Ok(found)
    }

    async fn keyword_search(
        &self,
        org: OrgId,
        kbs: &[KnowledgeBaseId],
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<ScoredChunk>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        if kbs.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(sqlx::FromRow)]
        struct Hit {
            #[sqlx(flatten)]
            chunk: ChunkRow,
            rank: f64,
        }
        let hits = sqlx::query_as::<_, Hit>(concat!(
            "SELECT ",
            chunk_columns!(),
            ", bm25(chunks_fts) AS rank
              FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid
              WHERE chunks_fts MATCH ?1 AND c.organization_id = ?2
                AND c.knowledge_base_id IN (SELECT unhex(value) FROM json_each(?3))
              ORDER BY rank LIMIT ?4"
        ))
        .bind(fts)
        .bind(org.as_uuid())
        .bind(json_ids(kbs.iter().map(|kb| kb.as_uuid())))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        hits.into_iter()
            .map(|hit| {
                #[allow(clippy::cast_possible_truncation)] // a relevance score
                let score = -hit.rank as f32; // bm25(): lower is better
                Ok(ScoredChunk {
                    chunk: hit.chunk.try_into()?,
                    score,
                })
            })
            .collect()
    }

    async fn chunk_embeddings(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> StoreResult<Vec<(ChunkId, Vec<f32>)>> {
        self.get_knowledge_base(org, kb).await?;
        let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
            "SELECT c.id, c.embedding FROM chunks c JOIN documents d
               ON d.organization_id = c.organization_id AND d.id = c.document_id
             WHERE c.organization_id = ? AND c.knowledge_base_id = ? AND d.status = 'ready'
             ORDER BY c.id",
        )
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        rows.into_iter()
            .map(|(id, bytes)| Ok((ChunkId::from(id), vector_from(&bytes)?)))
            .collect()
    }

    async fn chunk_texts(&self, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<Vec<ChunkText>> {
        self.get_knowledge_base(org, kb).await?;
        let rows: Vec<(Uuid, Uuid, String, String, String)> = sqlx::query_as(
            "SELECT c.id, c.document_id, d.title, c.heading_path, c.text
             FROM chunks c JOIN documents d
               ON d.organization_id = c.organization_id AND d.id = c.document_id
             WHERE c.organization_id = ? AND c.knowledge_base_id = ? ORDER BY c.id",
        )
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, document, title, headings, text)| ChunkText {
                id: ChunkId::from(id),
                document_id: DocumentId::from(document),
                title,
                heading_path: serde_json::from_str(&headings).unwrap_or_default(),
                text,
            })
            .collect())
    }

    async fn rename_document(
        &self,
        org: OrgId,
        doc: DocumentId,
        title: String,
    ) -> StoreResult<Document> {
        sqlx::query_as::<_, DocumentRow>(concat!(
            "UPDATE documents SET title = ?3, updated_at = ?4
             WHERE organization_id = ?1 AND id = ?2 RETURNING ",
            document_columns!()
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .bind(title)
        .bind(micros(self.now()))
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }
}

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
