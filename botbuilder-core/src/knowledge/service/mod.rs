//! The knowledge service: documents in, searchable chunks out, and search over them.
//!
//! [`KnowledgeService::add_document`] stores a `pending` document with its bytes and enqueues
//! an [`INGEST_JOB`]; a worker ([`KnowledgeService::work_once`] in a loop, or
//! [`KnowledgeService::run_worker`]) extracts the text, cuts it into chunks, embeds them in
//! batches (reporting progress) and stores them, which makes the document `ready`. Because
//! the job and the bytes are in the store, a restart resumes whatever was pending. A document
//! that cannot be read fails at once with the reason; one whose job keeps failing ends
//! `failed` when the queue dead-letters the job.
//!
//! Each knowledge base records the embedder its vectors come from (provider, model, size):
//! the service's default one, or one it chose at creation through the service's
//! [`EmbedderResolver`] ([`KnowledgeService::with_embedders`]). Changing it re-indexes
//! ([`KnowledgeService::change_embedder`]); search embeds the query once per embedder among
//! the knowledge bases searched.
//!
//! [`KnowledgeService::search`] runs keyword (BM25), vector (cosine) or hybrid search (both,
//! fused by reciprocal rank) over in-process indexes of each knowledge base
//! ([`KeywordIndex`], [`VectorIndex`]), built from the store on first use and rebuilt after
//! the knowledge base changes. The knowledge base is the index, so the organization and
//! knowledge base filter is applied inside the search, never after it.

mod changes;
mod embedding;
mod indexes;
mod ingestion;
mod ranking;

use indexes::{IndexCache, KbIndex};
pub use ranking::PARALLEL_HYBRID_FROM;
use ranking::Ranking;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::chunk::{ChunkOptions, TextChunk, TextFormat, chunk_text_with};
use super::extract::{
    DocumentExtractor, ExtractError, Extracted, InProcessExtractor, check_upload,
};
use super::fusion::{RRF_K, weighted_reciprocal_rank_fusion};
use super::vector::VectorError;
use crate::domain::{
    Chunk, Document, DocumentSource, DocumentStatus, KnowledgeBase, KnowledgeBasePatch, NewChunk,
    NewDocument, NewKnowledgeBase, PageRequest,
};
use crate::embed::{Embedder, EmbedderResolver, EmbedderUnavailable};
use crate::id::{ChunkId, DocumentId, KnowledgeBaseId, OrgId};
use crate::llm::ProviderError;
use crate::queue::{JobQueue, LeasedJob, NewJob, QueueError};
use crate::store::{Store, StoreError};

/// Job kind of document ingestion.
pub const INGEST_JOB: &str = "ingest_document";
/// Attempts before an ingestion job is dead-lettered.
pub const INGEST_ATTEMPTS: u32 = 3;
/// How long a worker holds an ingestion job before another may take it, unless it extends the
/// lease (it does, every third of it, while the work progresses).
pub const INGEST_LEASE: Duration = Duration::from_secs(300);
/// Longest the chunking of one document may take (it is linear in the text; this bounds a
/// pathological or enormous one).
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest one ingestion attempt may take, whatever it waits on (the lease is extended only
/// until then, so a stuck attempt cannot hold its job forever).
pub const INGEST_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// How often a worker looks for ingestion jobs whose final lease ran out (their documents
/// are then marked `failed`).
pub const REAP_EVERY: Duration = Duration::from_secs(1);
/// Longest document title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Texts embedded per call.
pub const EMBED_BATCH: usize = 64;
/// Most results one search returns.
pub const MAX_TOP_K: usize = 100;
/// Weight of the vector ranking in hybrid search, relative to keyword's 1 (see
/// [`KnowledgeService::with_hybrid_vector_weight`]). Chosen on SciFact's training queries for
/// the offline hashed embedder (0.1 of 0.1/0.25/0.35/0.5: best nDCG@10, Recall@10 above
/// keyword alone).
pub const DEFAULT_HYBRID_VECTOR_WEIGHT: f32 = 0.1;
/// Weight of the vector ranking in hybrid search with a semantic sentence embedder
/// (all-MiniLM-L6-v2): both rankings count alike.
pub const SEMANTIC_HYBRID_VECTOR_WEIGHT: f32 = 1.0;

/// Why a knowledge operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnowledgeError {
    /// The document cannot be read (unsupported type, not UTF-8, empty).
    #[error(transparent)]
    Unreadable(#[from] ExtractError),
    /// The store failed (or the knowledge base/document is not found, or a duplicate).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The embedder failed.
    #[error(transparent)]
    Embedder(#[from] ProviderError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Stored vectors do not fit the knowledge base (changed embedder without re-indexing).
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// The input breaks a rule (a blank title, an embedder that cannot serve).
    #[error(transparent)]
    Invalid(#[from] crate::validate::Invalid),
    /// The knowledge base's embedder cannot be reached for its organization now (its
    /// credentials were removed or cannot be read).
    #[error(transparent)]
    EmbedderUnavailable(#[from] EmbedderUnavailable),
}

/// A document to add.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// Title.
    pub title: String,
    /// How it arrived.
    pub source: DocumentSource,
    /// Its media type.
    pub content_type: String,
    /// SHA-256 of `bytes`, hex (computed by the caller's crypto stack).
    pub content_hash: String,
    /// The original bytes.
    pub bytes: Vec<u8>,
}

/// An ingestion job that failed every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadIngestion {
    /// The job.
    pub job_id: uuid::Uuid,
    /// The document it was ingesting.
    pub document_id: DocumentId,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// How to search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Full text (BM25).
    Keyword,
    /// Embedding similarity (cosine).
    Vector,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

/// A search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// What to look for.
    pub query: String,
    /// How.
    pub mode: SearchMode,
    /// How many results at most (1 to [`MAX_TOP_K`]).
    pub top_k: usize,
    /// Results scoring below this are dropped (on the mode's own scale: BM25, cosine, or
    /// the fused reciprocal-rank score).
    pub min_score: f32,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The chunk.
    pub chunk: Chunk,
    /// The title of its document.
    pub document_title: String,
    /// The address of its document, when it was fetched from a URL (a citation links to it).
    pub document_url: Option<String>,
    /// The score on the mode's scale (higher is better).
    pub score: f32,
    /// Its BM25 score, when keyword search found it.
    pub keyword_score: Option<f32>,
    /// Its cosine similarity, when vector search found it.
    pub vector_score: Option<f32>,
}

/// What a search hit says of its document.
#[derive(Debug, Clone)]
struct DocumentLabel {
    title: String,
    url: Option<String>,
}

/// The service (see the module docs). Share it with `Arc`.
pub struct KnowledgeService {
    store: Arc<dyn Store>,
    queue: Arc<dyn JobQueue>,
    embedder: Arc<dyn Embedder>,
    embedders: Option<Arc<dyn EmbedderResolver>>,
    extractor: Arc<dyn DocumentExtractor>,
    chunking: ChunkOptions,
    lease: Duration,
    last_reap: Mutex<Option<Instant>>,
    hybrid_vector_weight: f32,
    /// The search indexes of each knowledge base (see [`indexes`]).
    indexes: Arc<IndexCache>,
    /// Where approximate graphs are saved, to rebuild from after a restart.
    index_dir: Option<std::path::PathBuf>,
    /// Rows from which a knowledge base's vector index keeps an approximate graph.
    approximate_from: usize,
    /// Candidates a graph search considers (HNSW's `ef`).
    search_expansion: usize,
    /// Document titles and addresses for search results.
    titles: Mutex<HashMap<DocumentId, DocumentLabel>>,
    /// What was forgotten when: an index loaded across its knowledge base's invalidation is
    /// used, not cached.
    invalidations: crate::change::Invalidations<KnowledgeBaseId>,
    /// Bumped whenever a title is forgotten (see [`crate::change::Generation`]).
    titles_generation: crate::change::Generation,
}

impl std::fmt::Debug for KnowledgeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeService")
            .field("embedder", &self.embedder.model())
            .field("extractor", &self.extractor.id())
            .field("chunking", &self.chunking)
            .finish_non_exhaustive()
    }
}

impl KnowledgeService {
    /// A service storing into `store`, queueing on `queue`, embedding with `embedder`, and
    /// reading documents in this process ([`InProcessExtractor`]; see
    /// [`KnowledgeService::with_extractor`] for untrusted documents).
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn JobQueue>,
        embedder: Arc<dyn Embedder>,
    ) -> Self {
        Self {
            store,
            queue,
            embedder,
            embedders: None,
            extractor: Arc::new(InProcessExtractor::default()),
            chunking: ChunkOptions::default(),
            lease: INGEST_LEASE,
            last_reap: Mutex::new(None),
            hybrid_vector_weight: DEFAULT_HYBRID_VECTOR_WEIGHT,
            indexes: Arc::default(),
            index_dir: None,
            approximate_from: super::vector::APPROXIMATE_FROM,
            search_expansion: super::vector::EXPANSION_SEARCH,
            titles: Mutex::new(HashMap::new()),
            invalidations: crate::change::Invalidations::default(),
            titles_generation: crate::change::Generation::default(),
        }
    }

    /// How much the default embedder's vector ranking counts in hybrid search (keyword counts
    /// 1). The default suits the offline hashed embedder, which ranks worse than BM25; a
    /// semantic embedder deserves 1. Knowledge bases with another embedder weigh
    /// [`DEFAULT_HYBRID_VECTOR_WEIGHT`] for the hashed one (id `local`), else
    /// [`SEMANTIC_HYBRID_VECTOR_WEIGHT`]; a search over several takes the largest.
    #[must_use]
    pub fn with_hybrid_vector_weight(mut self, weight: f32) -> Self {
        self.hybrid_vector_weight = weight.max(0.0);
        self
    }

    /// Saves each knowledge base's approximate vector graph in `dir` (one file per knowledge
    /// base, `{id}.hnsw`, see [`GraphSnapshot`](super::GraphSnapshot)), so the first search
    /// after a restart rebuilds it from the file instead of from scratch. The directory is
    /// created when first written; it is a cache, safe to delete.
    #[must_use]
    pub fn with_index_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.index_dir = Some(dir.into());
        self
    }

    /// Keeps an approximate graph for knowledge bases of `rows` chunks or more (default
    /// [`APPROXIMATE_FROM`](super::APPROXIMATE_FROM)).
    #[must_use]
    pub fn with_approximate_from(mut self, rows: usize) -> Self {
        self.approximate_from = rows;
        self
    }

    /// Searches approximate graphs considering `candidates` rows (HNSW's `ef`, default
    /// [`EXPANSION_SEARCH`](super::EXPANSION_SEARCH); at least 1): more finds more of the
    /// exact top results and takes longer. Measured at 1M chunks (`search-bench`): recall@10
    /// 0.89 at 256 in 8 ms p99, 0.94 at 512 in 13 ms, 0.97 at 1,024 in 21 ms; at 100k,
    /// 0.93 at 256 and 0.96 at 512, both under 2 ms. A search gathers at least the rows it
    /// re-ranks ([`VectorIndex::candidates`] of its depth,
    /// 80 for a top 5), so values below that change nothing.
    #[must_use]
    pub fn with_search_expansion(mut self, candidates: usize) -> Self {
        self.search_expansion = candidates.max(1);
        self
    }

    /// Reads documents with `extractor` (the server's runs parsers in a separate process).
    #[must_use]
    pub fn with_extractor(mut self, extractor: Arc<dyn DocumentExtractor>) -> Self {
        self.extractor = extractor;
        self
    }

    /// Leases ingestion jobs for `lease` (extended every third of it while work goes on).
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// Changes how documents are cut.
    #[must_use]
    pub fn with_chunking(mut self, chunking: ChunkOptions) -> Self {
        self.chunking = chunking;
        self
    }

    /// The embedder knowledge bases are indexed with unless they choose another.
    pub fn embedder(&self) -> &dyn Embedder {
        self.embedder.as_ref()
    }

    /// Creates a knowledge base indexed with the service's default embedder.
    pub async fn create_knowledge_base(
        &self,
        org: OrgId,
        name: String,
        description: String,
    ) -> Result<KnowledgeBase, KnowledgeError> {
        let new = NewKnowledgeBase {
            name,
            description,
            embedding: embedding::record_of(self.embedder.as_ref()),
        };
        Ok(self.store.create_knowledge_base(org, new).await?)
    }

    /// Stores a `pending` document and enqueues its ingestion. What [`check_upload`] refuses
    /// (unsupported type, too large, empty, text that is not UTF-8) is refused before
    /// anything is stored; the same bytes twice in one knowledge base are a store `Conflict`.
    pub async fn add_document(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        upload: Upload,
    ) -> Result<Document, KnowledgeError> {
        check_upload(&upload.content_type, &upload.bytes)?;
        let new = NewDocument {
            title: upload.title,
            source: upload.source,
            content_type: upload.content_type,
            content_hash: upload.content_hash,
            size_bytes: u64::try_from(upload.bytes.len()).unwrap_or(u64::MAX),
            content: upload.bytes,
        };
        let doc = self.store.create_document(org, kb, new).await?;
        self.enqueue_ingestion(org, kb, doc.id).await?;
        Ok(doc)
    }

    async fn enqueue_ingestion(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        doc: DocumentId,
    ) -> Result<(), KnowledgeError> {
        self.queue
            .enqueue(NewJob {
                kind: INGEST_JOB.to_owned(),
                payload: serde_json::json!({ "org": org, "kb": kb, "document": doc }),
                max_attempts: INGEST_ATTEMPTS,
            })
            .await?;
        Ok(())
    }

    /// Ingestion jobs of `kb` that failed every attempt (oldest first, at most 100), with
    /// the last error; their documents are `failed`. [`KnowledgeService::retry_document`]
    /// runs one again.
    pub async fn dead_ingestions(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> Result<Vec<DeadIngestion>, KnowledgeError> {
        self.store.get_knowledge_base(org, kb).await?;
        let org_text = org.to_string();
        let dead = self
            .queue
            .dead_letters_where(INGEST_JOB, "kb", &kb.to_string(), 100)
            .await?;
        Ok(dead
            .into_iter()
            .filter(|job| job.payload["org"].as_str() == Some(org_text.as_str()))
            .filter_map(|job| {
                let document = serde_json::from_value(job.payload["document"].clone()).ok()?;
                Some(DeadIngestion {
                    job_id: job.id,
                    document_id: document,
                    attempts: job.attempts,
                    last_error: job.last_error,
                })
            })
            .collect())
    }

    /// Ingests a document again from its stored bytes: its dead-lettered job gets a new set
    /// of attempts, or a new job is queued. The document is `pending` until the job runs.
    pub async fn retry_document(
        &self,
        org: OrgId,
        doc: DocumentId,
    ) -> Result<Document, KnowledgeError> {
        let dead = self
            .queue
            .dead_letters_where(INGEST_JOB, "document", &doc.to_string(), 10)
            .await?;
        let document = self
            .store
            .set_document_status(org, doc, DocumentStatus::Pending, 0.0, None)
            .await?;
        match dead.first() {
            Some(job) => self.queue.retry_dead(job.id).await?,
            None => self.enqueue_ingestion(org, document.kb_id, doc).await?,
        }
        Ok(document)
    }

    /// Renames a document (1 to [`crate::validate::MAX_NAME_CHARS`] × 3 characters). Search
    /// finds it by its new title at once (keyword); its vectors, which embed the title, are
    /// rebuilt by ingesting it again from the stored bytes.
    pub async fn rename_document(
        &self,
        org: OrgId,
        doc: DocumentId,
        title: String,
    ) -> Result<Document, KnowledgeError> {
        let title = title.trim().to_owned();
        crate::validate::Invalid::field(
            "title",
            crate::validate::text(&title, 1, MAX_TITLE_CHARS),
        )?;
        let renamed = self.store.rename_document(org, doc, title).await?;
        self.forget_title(doc);
        self.forget_index(renamed.kb_id);
        if renamed.status == DocumentStatus::Ready {
            let pending = self
                .store
                .set_document_status(org, doc, DocumentStatus::Pending, 0.0, None)
                .await?;
            self.enqueue_ingestion(org, renamed.kb_id, doc).await?;
            return Ok(pending);
        }
        Ok(renamed)
    }

    /// Deletes a document and its chunks.
    pub async fn delete_document(&self, org: OrgId, doc: DocumentId) -> Result<(), KnowledgeError> {
        let document = self.store.get_document(org, doc).await?;
        self.store.delete_document(org, doc).await?;
        self.forget_title(doc);
        self.forget_index(document.kb_id);
        Ok(())
    }

    /// Deletes a knowledge base with its documents and chunks.
    pub async fn delete_knowledge_base(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> Result<(), KnowledgeError> {
        self.store.delete_knowledge_base(org, kb).await?;
        self.drop_index(kb);
        Ok(())
    }

    /// A document's title, cached (a rename forgets it).
    async fn label(&self, org: OrgId, doc: DocumentId) -> Result<DocumentLabel, KnowledgeError> {
        if let Some(label) = self.titles.lock().expect("titles poisoned").get(&doc) {
            return Ok(label.clone());
        }
        let generation = self.titles_generation.current();
        let document = self.store.get_document(org, doc).await?;
        let label = DocumentLabel {
            title: document.title,
            url: match document.source {
                crate::domain::DocumentSource::Url { url } => Some(url),
                _ => None,
            },
        };
        let mut titles = self.titles.lock().expect("titles poisoned");
        if !self.titles_generation.unchanged_since(generation) {
            return Ok(label);
        }
        if titles.len() >= 100_000 {
            titles.clear();
        }
        titles.insert(doc, label.clone());
        Ok(label)
    }

    fn forget_title(&self, doc: DocumentId) {
        self.titles_generation.bump();
        self.titles.lock().expect("titles poisoned").remove(&doc);
    }

    /// Searches the knowledge bases `kbs` of `org` (see the module docs).
    pub async fn search(
        &self,
        org: OrgId,
        kbs: &[KnowledgeBaseId],
        request: &SearchRequest,
    ) -> Result<Vec<SearchHit>, KnowledgeError> {
        let top_k = request.top_k.clamp(1, MAX_TOP_K);
        // Each side fetches more than asked, so fusion has candidates to agree on.
        let depth = (top_k * 4).max(20);
        let mut indexes = Vec::with_capacity(kbs.len());
        for kb in kbs {
            indexes.push(self.index(org, *kb).await?);
        }
        // The query embedded once per embedder among the knowledge bases, in index order.
        let (query_vectors, vector_weight) =
            if request.mode != SearchMode::Keyword && !request.query.trim().is_empty() {
                self.embed_query(&indexes, &request.query).await?
            } else {
                (vec![None; indexes.len()], self.hybrid_vector_weight)
            };
        let ranking = Ranking {
            indexes,
            query_vectors,
            query: request.query.clone(),
            mode: request.mode,
            depth,
        };
        // A large knowledge base takes milliseconds to rank (a scan while its graph is
        // built, longer): off the async threads.
        let (keyword, vector) = if ranking.chunks() >= PARALLEL_HYBRID_FROM {
            tokio::task::spawn_blocking(move || ranking.rank())
                .await
                .map_err(|e| StoreError::Unavailable(Box::new(e)))??
        } else {
            ranking.rank()?
        };
        let keyword_scores: HashMap<ChunkId, f32> = keyword.iter().copied().collect();
        let vector_scores: HashMap<ChunkId, f32> = vector.iter().copied().collect();
        let ranked: Vec<(ChunkId, f32)> = match request.mode {
            SearchMode::Keyword => keyword,
            SearchMode::Vector => vector,
            SearchMode::Hybrid => {
                let keyword_ids: Vec<ChunkId> = keyword.iter().map(|(id, _)| *id).collect();
                let vector_ids: Vec<ChunkId> = vector.iter().map(|(id, _)| *id).collect();
                let lists = [
                    (1.0, keyword_ids.as_slice()),
                    (vector_weight, vector_ids.as_slice()),
                ];
                weighted_reciprocal_rank_fusion(&lists, RRF_K)
            }
        };
        let ranked: Vec<(ChunkId, f32)> = ranked
            .into_iter()
            .filter(|(_, score)| *score >= request.min_score)
            .take(top_k)
            .collect();
        let ids: Vec<ChunkId> = ranked.iter().map(|(id, _)| *id).collect();
        let mut chunks: HashMap<ChunkId, Chunk> = self
            .store
            .get_chunks(org, &ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut labels: HashMap<DocumentId, DocumentLabel> = HashMap::new();
        let mut hits = Vec::with_capacity(chunks.len());
        for (id, score) in ranked {
            let Some(chunk) = chunks.remove(&id) else {
                continue; // deleted since it was found
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = labels.entry(chunk.document_id)
            {
                slot.insert(self.label(org, chunk.document_id).await?);
            }
            let label = &labels[&chunk.document_id];
            hits.push(SearchHit {
                document_title: label.title.clone(),
                document_url: label.url.clone(),
                keyword_score: keyword_scores.get(&chunk.id).copied(),
                vector_score: vector_scores.get(&chunk.id).copied(),
                score,
                chunk,
            });
        }
        Ok(hits)
    }
}
