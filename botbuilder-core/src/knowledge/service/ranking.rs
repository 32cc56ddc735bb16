//! The two rankings of a search: keyword (BM25) and vector (cosine), over each knowledge
//! base's indexes, before fusion.

use std::sync::Arc;

use super::{KbIndex, SearchMode};
use crate::id::ChunkId;
use crate::knowledge::vector::VectorError;

/// Chunks searched from which a search ranks off the async threads, and hybrid search ranks
/// its keyword and vector sides on two threads (the `search-bench` example: at 1M chunks
/// keyword p99 is 18 ms and vector 7 ms; at 10k both are well under a millisecond).
pub const PARALLEL_HYBRID_FROM: usize = 50_000;

/// Chunks with their scores, best first.
pub(super) type Ranked = Vec<(ChunkId, f32)>;

/// What one search ranks: owned, so the ranking can move to a blocking thread.
pub(super) struct Ranking {
    pub(super) indexes: Vec<Arc<KbIndex>>,
    /// The query embedded for each index (`None`: not searched by vector).
    pub(super) query_vectors: Vec<Option<Vec<f32>>>,
    pub(super) query: String,
    pub(super) mode: SearchMode,
    /// How many results each side keeps.
    pub(super) depth: usize,
}

/// The best `depth` of `found`, best first.
fn best(mut found: Vec<(ChunkId, f32)>, depth: usize) -> Vec<(ChunkId, f32)> {
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    found.truncate(depth);
    found
}

impl Ranking {
    /// Chunks in the indexes searched.
    pub(super) fn chunks(&self) -> usize {
        self.indexes.iter().map(|index| index.vectors.len()).sum()
    }

    fn keyword_side(&self) -> Vec<(ChunkId, f32)> {
        if self.mode == SearchMode::Vector {
            return Vec::new();
        }
        let found = self
            .indexes
            .iter()
            .flat_map(|index| index.keywords.search(&self.query, self.depth))
            .collect();
        best(found, self.depth)
    }

    fn vector_side(&self) -> Result<Vec<(ChunkId, f32)>, VectorError> {
        let mut found = Vec::new();
        for (index, query) in self.indexes.iter().zip(&self.query_vectors) {
            let Some(query) = query else { continue };
            if query.len() != index.vectors.dimensions() {
                continue; // indexed with another embedder; re-index to search it by vector
            }
            found.extend(index.vectors.search(query, self.depth)?);
        }
        Ok(best(found, self.depth))
    }

    /// Both rankings (keyword, vector); on two threads for a large hybrid search (one, if
    /// the system refuses a thread).
    pub(super) fn rank(&self) -> Result<(Ranked, Ranked), VectorError> {
        if self.mode != SearchMode::Hybrid || self.chunks() < PARALLEL_HYBRID_FROM {
            return Ok((self.keyword_side(), self.vector_side()?));
        }
        std::thread::scope(|scope| {
            let vector = std::thread::Builder::new()
                .name("vector-search".into())
                .spawn_scoped(scope, || self.vector_side());
            let keyword = self.keyword_side();
            let vector = match vector {
                Ok(thread) => thread.join().expect("vector search panicked"),
                Err(_) => self.vector_side(),
            };
            Ok((keyword, vector?))
        })
    }
}
