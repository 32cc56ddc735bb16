//! [`KnowledgeRepo`] on SQLite: chunks carry their embedding as a little-endian `f32` BLOB, and
//! an FTS5 table (kept in step by triggers, migration 0008) ranks them with BM25.

use async_trait::async_trait;
use botbuilder_core::domain::{
    Chunk, ChunkText, Document, DocumentStatus, KnowledgeBase, KnowledgeBasePatch, NewChunk,
    NewDocument, NewKnowledgeBase, Page, PageRequest, ScoredChunk,
};
use botbuilder_core::id::{ChunkId, DocumentId, KnowledgeBaseId, OrgId};
use botbuilder_core::store::{KnowledgeRepo, StoreError, StoreResult};
use uuid::Uuid;

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::micros;
use crate::rows::page_of;

mod encode;

use crate::rows::knowledge::{
    ChunkRow, DocumentRow, KbRow, chunk_columns, document_columns, kb_columns,
};
use encode::{fts_query, json_ids, vector_bytes, vector_from};

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
        let rows = sqlx::query_as::<_, KbRow>(concat!(
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
        .map_err(store_err)?;
        page_of(rows, limit, |k: &KnowledgeBase| k.id.as_uuid())
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
        let source = crate::rows::json_text(&new.source)?;
        let mut tx = self.write_transaction().await?;
        let created = sqlx::query_as::<_, DocumentRow>(concat!(
            "INSERT INTO documents (id, organization_id, knowledge_base_id, title, source,
                                    content_type, content_hash, size_bytes, status, created_at,
                                    updated_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?10
             -- Another tenant's knowledge base is not found, before any duplicate is noticed.
             WHERE EXISTS (SELECT 1 FROM knowledge_bases WHERE id = ?3 AND organization_id = ?2)
             RETURNING ",
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
        let rows = sqlx::query_as::<_, DocumentRow>(concat!(
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
        .map_err(store_err)?;
        page_of(rows, limit, |d: &Document| d.id.as_uuid())
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
