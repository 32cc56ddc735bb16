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
            return self.rank_sequentially();
        }
        self.rank_in_parallel()
    }

    fn rank_sequentially(&self) -> Result<(Ranked, Ranked), VectorError> {
        Ok((self.keyword_side(), self.vector_side()?))
    }

    /// The vector side on a thread of its own while this one ranks by keyword; both on this
    /// thread when the system refuses a new one.
    fn rank_in_parallel(&self) -> Result<(Ranked, Ranked), VectorError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::KnowledgeBase;
    use crate::id::{KnowledgeBaseId, OrgId};
    use crate::knowledge::keyword::KeywordIndex;
    use crate::knowledge::vector::VectorIndex;

    const DIMENSIONS: usize = 16;
    const WORDS: [&str; 8] = [
        "refund", "invoice", "shipping", "password", "account", "delivery", "order", "billing",
    ];

    /// A deterministic vector for chunk `n`.
    fn vector(n: usize) -> Vec<f32> {
        (0..DIMENSIONS)
            .map(|d| (((n * 31 + d * 17) % 23) as f32 - 11.0) / 11.0)
            .collect()
    }

    fn index(chunks: usize, salt: usize) -> Arc<KbIndex> {
        let rows: Vec<(ChunkId, String, Vec<f32>)> = (0..chunks)
            .map(|n| {
                let text = format!(
                    "{} {} {}",
                    WORDS[n % WORDS.len()],
                    WORDS[(n / 3 + salt) % WORDS.len()],
                    WORDS[(n * 7) % WORDS.len()]
                );
                (ChunkId::new(), text, vector(n + salt))
            })
            .collect();
        let keywords = KeywordIndex::build(rows.iter().map(|(id, text, _)| (*id, text.as_str())));
        let vectors = VectorIndex::from_vectors(
            DIMENSIONS,
            rows.into_iter().map(|(id, _, vector)| (id, vector)),
        )
        .unwrap();
        let now = chrono::Utc::now();
        Arc::new(KbIndex {
            kb: KnowledgeBase {
                id: KnowledgeBaseId::new(),
                org_id: OrgId::new(),
                name: "kb".into(),
                description: String::new(),
                embedding_provider: "local".into(),
                embedding_model: "test".into(),
                embedding_dimensions: DIMENSIONS as u32,
                created_at: now,
                updated_at: now,
            },
            vectors,
            keywords,
        })
    }

    #[test]
    fn a_parallel_hybrid_ranking_equals_the_sequential_one() {
        let ranking = Ranking {
            indexes: vec![index(300, 0), index(200, 5)],
            query_vectors: vec![Some(vector(7)), Some(vector(12))],
            query: "refund order".into(),
            mode: SearchMode::Hybrid,
            depth: 20,
        };
        let sequential = ranking.rank_sequentially().unwrap();
        let parallel = ranking.rank_in_parallel().unwrap();
        assert_eq!(sequential.0.len(), 20, "keyword side");
        assert_eq!(sequential.1.len(), 20, "vector side");
        assert_eq!(parallel, sequential);
    }
}
