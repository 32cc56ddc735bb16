//! Retrieval for knowledge bases: the pieces the ingestion and search paths are made of.
//!
//! - [`chunk`]: token-sized, overlapping, heading-aware chunks.
//! - [`vector`]: an exact in-process vector index, one per knowledge base.
//! - [`extract`]: which media types are read, and how.
//! - [`service`]: ingestion jobs and keyword / vector / hybrid search.
//! - [`fusion`]: reciprocal rank fusion of keyword (BM25) and vector results.
//!
//! Chunks, documents and keyword search live behind [`crate::store::KnowledgeRepo`].

pub mod chunk;
pub mod extract;
pub mod fusion;
pub mod service;
pub mod vector;

pub use chunk::{ChunkOptions, TextChunk, TextFormat, chunk_text};
pub use extract::ExtractError;
pub use fusion::{RRF_K, reciprocal_rank_fusion};
pub use service::{
    INGEST_JOB, KnowledgeError, KnowledgeService, SearchHit, SearchMode, SearchRequest, Upload,
};
pub use vector::{VectorError, VectorIndex};
