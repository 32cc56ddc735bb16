//! Knowledge bases, documents and chunks ([`KnowledgeRepo`]) on Postgres with pgvector
//! (schema: `migrations/postgres/0004_knowledge.sql`).
//!
//! What differs from SQLite, and why:
//! - A chunk's embedding is a pgvector `vector` (SQLite: a little-endian `f32` BLOB), bound
//!   and read with the `pgvector` crate. pgvector has no empty vector, so an empty embedding
//!   is stored as NULL and reads back empty ([`chunks::embedding_param`]).
//! - Keyword search matches a generated `tsvector` column (GIN-indexed) with a `tsquery` of
//!   the same words SQLite's FTS5 query has, read through a text search configuration that
//!   mirrors FTS5's `porter unicode61` tokenizer; Postgres has no BM25, so scores come from
//!   `ts_rank` (see [`chunks::search`]).
//! - A document's chunks are inserted in one `UNNEST` statement, whatever their number.
//! - SQLite's single writer serialized [`KnowledgeRepo::replace_chunks`]; here it locks the
//!   document row (`FOR UPDATE`) first, so concurrent replacements of one document take turns
//!   (interleaved, both would delete before either inserted, keeping both sets), and a
//!   concurrent deletion either waits for it or makes it `NotFound`.
//! - Reads that first check the knowledge base (listing, vectors, texts) run the check and the
//!   read in one transaction (SQLite: two statements).
//! - [`KnowledgeRepo::locate_knowledge_base`] belongs to no tenant: it acts for the platform.

mod chunks;

use async_trait::async_trait;
use botbuilder_core::domain::{
    Chunk, ChunkText, Document, DocumentStatus, KnowledgeBase, KnowledgeBasePatch, NewChunk,
    NewDocument, NewKnowledgeBase, Page, PageRequest, ScoredChunk,
};
use botbuilder_core::id::{ChunkId, DocumentId, KnowledgeBaseId, OrgId};
use botbuilder_core::store::{KnowledgeRepo, StoreError, StoreResult};
use pgvector::Vector;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::knowledge::{
    ChunkRow, DocumentRow, KbRow, chunk_columns, document_columns, kb_columns,
};
use crate::rows::{micros, page_of};
use chunks::{embedding_from, insert_chunks, search, tsquery_text};

/// `NotFound` unless knowledge base `kb` is `org`'s.
async fn require_kb(conn: &mut PgConnection, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM knowledge_bases WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .fetch_one(conn)
        .await
        .map_err(store_err)?;
    Ok(())
}

#[async_trait]
impl KnowledgeRepo for PgStore {
    async fn create_knowledge_base(
        &self,
        org: OrgId,
        new: NewKnowledgeBase,
    ) -> StoreResult<KnowledgeBase> {
        let now = micros(self.now());
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, KbRow>(concat!(
            "INSERT INTO knowledge_bases (id, organization_id, name, description, embedding_provider,
                                          embedding_model, embedding_dimensions, created_at,
                                          updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
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
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn get_knowledge_base(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> StoreResult<KnowledgeBase> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, KbRow>(concat!(
            "SELECT ",
            kb_columns!(),
            " FROM knowledge_bases WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn locate_knowledge_base(&self, kb: KnowledgeBaseId) -> StoreResult<KnowledgeBase> {
        let mut tx = self.platform().await?;
        let row = sqlx::query_as::<_, KbRow>(concat!(
            "SELECT ",
            kb_columns!(),
            " FROM knowledge_bases WHERE id = $1"
        ))
        .bind(kb.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn list_knowledge_bases(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> StoreResult<Page<KnowledgeBase>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, KbRow>(concat!(
            "SELECT ",
            kb_columns!(),
            " FROM knowledge_bases WHERE organization_id = $1 AND ($2::uuid IS NULL OR id > $2)
              ORDER BY id LIMIT $3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        page_of(rows, limit, |k: &KnowledgeBase| k.id.as_uuid())
    }

    async fn update_knowledge_base(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        patch: KnowledgeBasePatch,
    ) -> StoreResult<KnowledgeBase> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, KbRow>(concat!(
            "UPDATE knowledge_bases SET name = COALESCE($3, name),
                    description = COALESCE($4, description), updated_at = $5,
                    embedding_model = COALESCE($6, embedding_model),
                    embedding_dimensions = COALESCE($7, embedding_dimensions),
                    embedding_provider = COALESCE($8, embedding_provider)
             WHERE organization_id = $1 AND id = $2 RETURNING ",
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
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn delete_knowledge_base(&self, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done =
            sqlx::query("DELETE FROM knowledge_bases WHERE organization_id = $1 AND id = $2")
                .bind(org.as_uuid())
                .bind(kb.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }

    async fn create_document(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        new: NewDocument,
    ) -> StoreResult<Document> {
        let now = micros(self.now());
        let source = crate::rows::json_text(&new.source)?;
        let mut tx = self.tenant(org).await?;
        // The foreign key to (organization, knowledge base) makes another organization's
        // knowledge base `NotFound`; the key on (organization, knowledge base, content hash)
        // makes the same content twice a `Conflict`, also between concurrent transactions.
        let created = sqlx::query_as::<_, DocumentRow>(concat!(
            "INSERT INTO documents (id, organization_id, knowledge_base_id, title, source,
                                    content_type, content_hash, size_bytes, status, created_at,
                                    updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9) RETURNING ",
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
            "INSERT INTO document_contents (document_id, organization_id, content)
             VALUES ($1, $2, $3)",
        )
        .bind(document.id.as_uuid())
        .bind(org.as_uuid())
        .bind(&new.content)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(document)
    }

    async fn get_document(&self, org: OrgId, doc: DocumentId) -> StoreResult<Document> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn document_content(&self, org: OrgId, doc: DocumentId) -> StoreResult<Vec<u8>> {
        let mut tx = self.tenant(org).await?;
        let (content,): (Vec<u8>,) = sqlx::query_as(
            "SELECT content FROM document_contents WHERE organization_id = $1 AND document_id = $2",
        )
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(content)
    }

    async fn list_documents(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        page: PageRequest,
    ) -> StoreResult<Page<Document>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        require_kb(&mut tx, org, kb).await?;
        let rows = sqlx::query_as::<_, DocumentRow>(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE organization_id = $1 AND knowledge_base_id = $2
                AND ($3::uuid IS NULL OR id > $3)
              ORDER BY id LIMIT $4"
        ))
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
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
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, DocumentRow>(concat!(
            "UPDATE documents SET status = $3, progress = $4, error = $5, updated_at = $6
             WHERE organization_id = $1 AND id = $2 RETURNING ",
            document_columns!()
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .bind(status.as_str())
        .bind(f64::from(progress.clamp(0.0, 1.0)))
        .bind(error)
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn delete_document(&self, org: OrgId, doc: DocumentId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done = sqlx::query("DELETE FROM documents WHERE organization_id = $1 AND id = $2")
            .bind(org.as_uuid())
            .bind(doc.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }

    async fn replace_chunks(
        &self,
        org: OrgId,
        doc: DocumentId,
        chunks: Vec<NewChunk>,
    ) -> StoreResult<Document> {
        let mut tx = self.tenant(org).await?;
        // FOR UPDATE: replacements of one document take turns (see the module docs).
        let (kb,): (Uuid,) = sqlx::query_as(
            "SELECT knowledge_base_id FROM documents WHERE organization_id = $1 AND id = $2
             FOR UPDATE",
        )
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        sqlx::query("DELETE FROM chunks WHERE organization_id = $1 AND document_id = $2")
            .bind(org.as_uuid())
            .bind(doc.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        insert_chunks(&mut tx, org, kb, doc, &chunks).await?;
        let row = sqlx::query_as::<_, DocumentRow>(concat!(
            "UPDATE documents SET status = 'ready', progress = 1, error = NULL, chunk_count = $3,
                    updated_at = $4
             WHERE organization_id = $1 AND id = $2 RETURNING ",
            document_columns!()
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .bind(i64::try_from(chunks.len()).unwrap_or(i64::MAX))
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        let updated: Document = row.try_into()?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn get_chunks(&self, org: OrgId, ids: &[ChunkId]) -> StoreResult<Vec<Chunk>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, ChunkRow>(concat!(
            "SELECT ",
            chunk_columns!(),
            " FROM chunks c WHERE c.organization_id = $1 AND c.id = ANY($2)"
        ))
        .bind(org.as_uuid())
        .bind(wanted)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
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
        let Some(tsquery) = tsquery_text(query) else {
            return Ok(Vec::new());
        };
        if kbs.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.tenant(org).await?;
        let hits = search(&mut tx, org, kbs, &tsquery, limit).await?;
        commit(tx).await?;
        Ok(hits)
    }

    async fn chunk_embeddings(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> StoreResult<Vec<(ChunkId, Vec<f32>)>> {
        let mut tx = self.tenant(org).await?;
        require_kb(&mut tx, org, kb).await?;
        let rows: Vec<(Uuid, Option<Vector>)> = sqlx::query_as(
            "SELECT c.id, c.embedding FROM chunks c JOIN documents d
               ON d.organization_id = c.organization_id AND d.id = c.document_id
             WHERE c.organization_id = $1 AND c.knowledge_base_id = $2 AND d.status = 'ready'
             ORDER BY c.id",
        )
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(rows
            .into_iter()
            .map(|(id, embedding)| (ChunkId::from(id), embedding_from(embedding)))
            .collect())
    }

    async fn chunk_texts(&self, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<Vec<ChunkText>> {
        let mut tx = self.tenant(org).await?;
        require_kb(&mut tx, org, kb).await?;
        let rows: Vec<(Uuid, Uuid, String, String, String)> = sqlx::query_as(
            "SELECT c.id, c.document_id, d.title, c.heading_path, c.text
             FROM chunks c JOIN documents d
               ON d.organization_id = c.organization_id AND d.id = c.document_id
             WHERE c.organization_id = $1 AND c.knowledge_base_id = $2 ORDER BY c.id",
        )
        .bind(org.as_uuid())
        .bind(kb.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
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
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, DocumentRow>(concat!(
            "UPDATE documents SET title = $3, updated_at = $4
             WHERE organization_id = $1 AND id = $2 RETURNING ",
            document_columns!()
        ))
        .bind(org.as_uuid())
        .bind(doc.as_uuid())
        .bind(title)
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }
}
