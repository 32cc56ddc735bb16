//! Retrieval for knowledge bases: the pieces the ingestion and search paths are made of.
//!
//! - [`chunk`]: token-sized, overlapping, heading-aware chunks.
//! - [`vector`]: an in-process vector index (quantized scan, exact re-rank), one per knowledge base.
//! - [`keyword`]: an in-process BM25 index, one per knowledge base.
//! - [`extract`]: which media types are read, and how.
//! - [`service`]: ingestion jobs and keyword / vector / hybrid search.
//! - [`fusion`]: reciprocal rank fusion of keyword (BM25) and vector results.
//!
//! Chunks, documents and keyword search live behind [`crate::store::KnowledgeRepo`].

pub mod chunk;
pub mod extract;
pub mod fusion;
pub mod keyword;
pub mod service;
pub mod vector;

pub use chunk::{ChunkOptions, TextChunk, TextFormat, chunk_text};
pub use extract::{
    DocumentExtractor, ExtractError, Extracted, InProcessExtractor, MAX_DOCUMENT_BYTES,
};
pub use fusion::{RRF_K, reciprocal_rank_fusion, weighted_reciprocal_rank_fusion};
pub use keyword::KeywordIndex;
pub use service::{
    DeadIngestion, INGEST_JOB, KnowledgeError, KnowledgeService, SEMANTIC_HYBRID_VECTOR_WEIGHT,
    SearchHit, SearchMode, SearchRequest, Upload,
};
pub use vector::{
    APPROXIMATE_FROM, CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH, GraphError, GraphSnapshot,
    VectorError, VectorIndex,
};

/// Common English words that say nothing about a topic: left out of keyword queries and of
/// relevance checks (lower-case).
pub const STOPWORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "by", "for", "is", "are", "was",
    "were", "be", "been", "being", "it", "its", "as", "if", "do", "does", "did", "can", "could",
    "would", "should", "will", "have", "has", "had", "from", "about", "into", "there", "their",
    "they", "them", "then", "than", "this", "that", "these", "those", "with", "not", "but", "any",
    "all", "get", "got", "may", "you", "your", "our", "we", "i", "me", "my", "he", "she", "his",
    "her", "what", "when", "where", "which", "who", "why", "how", "long", "take", "much", "many",
    "some", "more", "most", "also", "just", "like", "out", "over", "very", "please", "tell",
    "want", "need", "know", "so", "no", "yes",
];
