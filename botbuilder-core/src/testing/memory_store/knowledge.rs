//! [`KnowledgeRepo`] for the in-memory store, with a small BM25 for keyword search.

use async_trait::async_trait;

use super::{Data, InMemoryStore, page_of};
use crate::domain::{
    Change, Chunk, ChunkText, Document, DocumentStatus, KnowledgeBase, KnowledgeBasePatch,
    NewChunk, NewDocument, NewKnowledgeBase, Page, PageRequest, ScoredChunk,
};
use crate::id::{ChunkId, DocumentId, KnowledgeBaseId, OrgId};
use crate::store::{KnowledgeRepo, StoreError, StoreResult};

/// Lower-cased words of `text`.
fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Okapi BM25 (k1 = 1.2, b = 0.75) of `query` over `docs`; only documents sharing a term.
fn bm25(query: &str, docs: &[&Chunk]) -> Vec<(usize, f32)> {
    let query = terms(query);
    let docs: Vec<Vec<String>> = docs.iter().map(|c| terms(&c.text)).collect();
    let n = docs.len() as f32;
    let avg_len = docs.iter().map(Vec::len).sum::<usize>() as f32 / n.max(1.0);
    let mut scores = Vec::new();
    for (i, words) in docs.iter().enumerate() {
        let mut score = 0.0f32;
        for q in &query {
            let tf = words.iter().filter(|w| *w == q).count() as f32;
            if tf == 0.0 {
                continue;
            }
            let df = docs.iter().filter(|d| d.contains(q)).count() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            let norm = 1.2 * (0.25 + 0.75 * words.len() as f32 / avg_len.max(1.0));
            score += idf * tf * 2.2 / (tf + norm);
        }
        if score > 0.0 {
            scores.push((i, score));
        }
    }
    scores
}

impl Data {
    fn kb_of(&self, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<&KnowledgeBase> {
        self.kbs
            .get(&kb)
            .filter(|k| k.org_id == org)
            .ok_or(StoreError::NotFound)
    }

    fn document_of(&self, org: OrgId, doc: DocumentId) -> StoreResult<&Document> {
        self.documents
            .get(&doc)
            .map(|(d, _)| d)
            .filter(|d| d.org_id == org)
            .ok_or(StoreError::NotFound)
    }

    fn document_mut(&mut self, org: OrgId, doc: DocumentId) -> StoreResult<&mut Document> {
        self.documents
            .get_mut(&doc)
            .map(|(d, _)| d)
            .filter(|d| d.org_id == org)
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl KnowledgeRepo for InMemoryStore {
    async fn create_knowledge_base(
        &self,
        org: OrgId,
        new: NewKnowledgeBase,
    ) -> StoreResult<KnowledgeBase> {
        let now = self.now();
        let mut data = self.data();
        if !data.orgs.contains_key(&org) {
            return Err(StoreError::NotFound);
        }
        let kb = KnowledgeBase {
            id: KnowledgeBaseId::new(),
            org_id: org,
            name: new.name,
            description: new.description,
            embedding_provider: new.embedding.provider,
            embedding_model: new.embedding.model,
            embedding_dimensions: new.embedding.dimensions,
            created_at: now,
            updated_at: now,
        };
        data.kbs.insert(kb.id, kb.clone());
        Ok(kb)
    }

    async fn get_knowledge_base(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> StoreResult<KnowledgeBase> {
        self.data()
            .kbs
            .get(&kb)
            .filter(|k| k.org_id == org)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn locate_knowledge_base(&self, kb: KnowledgeBaseId) -> StoreResult<KnowledgeBase> {
        self.data()
            .kbs
            .get(&kb)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn list_knowledge_bases(
        &self,
        org: OrgId,
        page: PageRequest,
    ) -> StoreResult<Page<KnowledgeBase>> {
        let data = self.data();
        let kbs = data.kbs.values().filter(|k| k.org_id == org).cloned();
        Ok(page_of(kbs, page, |k| k.id.as_uuid(), false))
    }

    async fn update_knowledge_base(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        patch: KnowledgeBasePatch,
    ) -> StoreResult<KnowledgeBase> {
        let now = self.now();
        let mut data = self.data();
        let stored = data
            .kbs
            .get_mut(&kb)
            .filter(|k| k.org_id == org)
            .ok_or(StoreError::NotFound)?;
        if let Some(name) = patch.name {
            stored.name = name;
        }
        if let Some(description) = patch.description {
            stored.description = description;
        }
        if let Some(embedding) = patch.embedding {
            stored.embedding_provider = embedding.provider;
            stored.embedding_model = embedding.model;
            stored.embedding_dimensions = embedding.dimensions;
        }
        stored.updated_at = now;
        let updated = stored.clone();
        data.record_change(Change::KnowledgeBase { org, kb }, now);
        Ok(updated)
    }

    async fn delete_knowledge_base(&self, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<()> {
        let mut data = self.data();
        data.kb_of(org, kb)?;
        data.kbs.remove(&kb);
        data.record_change(Change::KnowledgeBase { org, kb }, self.now());
        data.documents.retain(|_, (d, _)| d.kb_id != kb);
        data.chunks.retain(|_, (c, _)| c.kb_id != kb);
        Ok(())
    }

    async fn create_document(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        new: NewDocument,
    ) -> StoreResult<Document> {
        let now = self.now();
        let mut data = self.data();
        data.kb_of(org, kb)?;
        if data
            .documents
            .values()
            .any(|(d, _)| d.kb_id == kb && d.content_hash == new.content_hash)
        {
            return Err(StoreError::Conflict(
                "this content is already in the knowledge base".to_owned(),
            ));
        }
        let doc = Document {
            id: DocumentId::new(),
            org_id: org,
            kb_id: kb,
            title: new.title,
            source: new.source,
            content_type: new.content_type,
            content_hash: new.content_hash,
            size_bytes: new.size_bytes,
            status: DocumentStatus::Pending,
            progress: 0.0,
            error: None,
            chunk_count: 0,
            created_at: now,
            updated_at: now,
        };
        data.documents.insert(doc.id, (doc.clone(), new.content));
        Ok(doc)
    }

    async fn get_document(&self, org: OrgId, doc: DocumentId) -> StoreResult<Document> {
        self.data().document_of(org, doc).cloned()
    }

    async fn document_content(&self, org: OrgId, doc: DocumentId) -> StoreResult<Vec<u8>> {
        let data = self.data();
        data.document_of(org, doc)?;
        Ok(data.documents[&doc].1.clone())
    }

    async fn list_documents(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        page: PageRequest,
    ) -> StoreResult<Page<Document>> {
        let data = self.data();
        data.kb_of(org, kb)?;
        let docs = data
            .documents
            .values()
            .map(|(d, _)| d)
            .filter(|d| d.kb_id == kb)
            .cloned();
        Ok(page_of(docs, page, |d| d.id.as_uuid(), false))
    }

    async fn set_document_status(
        &self,
        org: OrgId,
        doc: DocumentId,
        status: DocumentStatus,
        progress: f32,
        error: Option<String>,
    ) -> StoreResult<Document> {
        let now = self.now();
        let mut data = self.data();
        let stored = data.document_mut(org, doc)?;
        let before = stored.status;
        stored.status = status;
        stored.progress = progress.clamp(0.0, 1.0);
        stored.error = error;
        stored.updated_at = now;
        let saved = stored.clone();
        data.webhook_document_status(&saved, before);
        // Only entering or leaving search changes what an index holds.
        if (saved.status == DocumentStatus::Ready) != (before == DocumentStatus::Ready) {
            let (kb, doc) = (saved.kb_id, saved.id);
            data.record_change(Change::Document { org, kb, doc }, now);
        }
        Ok(saved)
    }

    async fn delete_document(&self, org: OrgId, doc: DocumentId) -> StoreResult<()> {
        let mut data = self.data();
        let kb = data.document_of(org, doc)?.kb_id;
        data.documents.remove(&doc);
        data.record_change(Change::Document { org, kb, doc }, self.now());
        data.chunks.retain(|_, (c, _)| c.document_id != doc);
        Ok(())
    }

    async fn replace_chunks(
        &self,
        org: OrgId,
        doc: DocumentId,
        chunks: Vec<NewChunk>,
    ) -> StoreResult<Document> {
        let now = self.now();
        let mut data = self.data();
        let kb = data.document_of(org, doc)?.kb_id;
        data.chunks.retain(|_, (c, _)| c.document_id != doc);
        let count = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        for new in chunks {
            let chunk = Chunk {
                id: ChunkId::new(),
                org_id: org,
                kb_id: kb,
                document_id: doc,
                position: new.position,
                text: new.text,
                heading_path: new.heading_path,
                token_count: new.token_count,
            };
            data.chunks.insert(chunk.id, (chunk, new.embedding));
        }
        let stored = data.document_mut(org, doc)?;
        let before = stored.status;
        stored.status = DocumentStatus::Ready;
        stored.progress = 1.0;
        stored.error = None;
        stored.chunk_count = count;
        stored.updated_at = now;
        let saved = stored.clone();
        data.webhook_document_status(&saved, before);
        // Only entering or leaving search changes what an index holds.
        if (saved.status == DocumentStatus::Ready) != (before == DocumentStatus::Ready) {
            let (kb, doc) = (saved.kb_id, saved.id);
            data.record_change(Change::Document { org, kb, doc }, now);
        }
        Ok(saved)
    }

    async fn get_chunks(&self, org: OrgId, ids: &[ChunkId]) -> StoreResult<Vec<Chunk>> {
        let data = self.data();
        Ok(ids
            .iter()
            .filter_map(|id| data.chunks.get(id))
            .filter(|(c, _)| c.org_id == org)
            .map(|(c, _)| c.clone())
            .collect())
    }

    async fn keyword_search(
        &self,
        org: OrgId,
        kbs: &[KnowledgeBaseId],
        query: &str,
        limit: u32,
    ) -> StoreResult<Vec<ScoredChunk>> {
        let data = self.data();
        let candidates: Vec<&Chunk> = data
            .chunks
            .values()
            .map(|(c, _)| c)
            .filter(|c| c.org_id == org && kbs.contains(&c.kb_id))
            .collect();
        let mut scored = bm25(query, &candidates);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(limit as usize);
        Ok(scored
            .into_iter()
            .map(|(i, score)| ScoredChunk {
                chunk: candidates[i].clone(),
                score,
            })
            .collect())
    }

    async fn chunk_embeddings(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> StoreResult<Vec<(ChunkId, Vec<f32>)>> {
        let data = self.data();
        data.kb_of(org, kb)?;
        Ok(data
            .chunks
            .iter()
            .filter(|(_, (c, _))| c.kb_id == kb)
            .filter(|(_, (c, _))| {
                data.documents
                    .get(&c.document_id)
                    .is_some_and(|(d, _)| d.status == DocumentStatus::Ready)
            })
            .map(|(id, (_, v))| (*id, v.clone()))
            .collect())
    }

    async fn chunk_texts(&self, org: OrgId, kb: KnowledgeBaseId) -> StoreResult<Vec<ChunkText>> {
        let data = self.data();
        data.kb_of(org, kb)?;
        Ok(data
            .chunks
            .iter()
            .filter(|(_, (c, _))| c.kb_id == kb)
            .map(|(id, (c, _))| ChunkText {
                id: *id,
                document_id: c.document_id,
                title: data
                    .documents
                    .get(&c.document_id)
                    .map(|(d, _)| d.title.clone())
                    .unwrap_or_default(),
                heading_path: c.heading_path.clone(),
                text: c.text.clone(),
            })
            .collect())
    }

    async fn rename_document(
        &self,
        org: OrgId,
        doc: DocumentId,
        title: String,
    ) -> StoreResult<Document> {
        let now = self.now();
        let mut data = self.data();
        let stored = data.document_mut(org, doc)?;
        let renamed = stored.title != title;
        stored.title = title;
        stored.updated_at = now;
        let saved = stored.clone();
        if renamed {
            let kb = saved.kb_id;
            data.record_change(Change::Document { org, kb, doc }, now);
        }
        Ok(saved)
    }
}
