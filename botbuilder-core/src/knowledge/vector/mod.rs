//! An in-process vector index: one per knowledge base, so the organization and knowledge base
//! filter is the index itself and never a post-filter.
//!
//! Vectors are L2-normalized when added, so cosine similarity is a dot product. Each vector is
//! kept twice: as `f32` and quantized to `i8` with its own scale. A search scans the `i8`
//! matrix (a quarter of the memory traffic; integer lanes the compiler turns into SIMD) for
//! the best [`VectorIndex::candidates`] rows, then re-ranks those with exact `f32` dot
//! products. Quantization moves a score by well under 1 %, so the exact top k is almost always
//! among the candidates: recall@10 against the exact scan is measured by the `search-bench`
//! example (1.0 at 10k–1M synthetic chunks); [`VectorIndex::search_exact`] is that baseline.
//!
//! A scan is linear in the rows: 0.6 ms at 10k chunks of 384 dimensions, 100 ms at 1M on the
//! reference machine. From [`APPROXIMATE_FROM`] rows on, the index also keeps an HNSW graph
//! over the quantized rows (module `graph`), and a search takes its candidates from the graph
//! instead of the scan, still re-ranked exactly; the scan remains the fallback should the graph
//! fail. [`VectorIndex::snapshot`] saves the graph and [`VectorIndex::build`] rebuilds from a
//! saved one, re-inserting only what changed.

mod graph;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

pub use graph::{CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH, GraphError, GraphSnapshot};

use crate::id::ChunkId;
use graph::Graph;

/// Rows from which an index keeps an approximate graph beside the exact scan (below it, the
/// scan takes under 2 ms and building a graph would cost more than it saves).
pub const APPROXIMATE_FROM: usize = 20_000;

/// Why a vector was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// The vector's length is not the index's dimensions.
    #[error("expected {expected} dimensions, got {got}")]
    Dimensions {
        /// The index's dimensions.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
}

/// The index (see the module docs).
#[derive(Debug)]
pub struct VectorIndex {
    dimensions: usize,
    ids: Vec<ChunkId>,
    /// `ids.len() * dimensions` values, row-major, each row unit length (or all zero).
    matrix: Vec<f32>,
    /// The same rows quantized: `round(v / scale)`, with `scale = max |v_i| / 63`.
    quantized: Vec<i8>,
    /// Each row's scale.
    scales: Vec<f32>,
    /// The approximate graph over `quantized`, keyed by row, once there are enough rows (set
    /// once, possibly while the index already serves searches by scan).
    graph: OnceLock<Graph>,
    /// Candidates a graph search gathers (and re-ranks exactly), at least.
    expansion: usize,
}

/// Largest quantized magnitude: eight products of two such values fit in an `i16`
/// (8 · 63² = 31,752), so the inner loop multiplies and adds in 16-bit lanes, which plain
/// SSE2 does natively, and widens to 32 bits once per 128 values.
const QUANT_MAX: f32 = 63.0;

/// `v` as `i8` with one scale: `v_i ≈ q_i * scale`, `|q_i| <= 63`.
fn quantize(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        out.extend(std::iter::repeat_n(0, v.len()));
        return 0.0;
    }
    let scale = max / QUANT_MAX;
    #[allow(clippy::cast_possible_truncation)] // |x / scale| <= 63 by construction
    out.extend(v.iter().map(|x| (x / scale).round() as i8));
    scale
}

/// Integer dot product of two quantized rows (see [`QUANT_MAX`]); vectorizes without
/// `unsafe`.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    const BLOCK: usize = LANES * 8;
    let mut total = [0i32; LANES];
    let whole = a.len() - a.len() % BLOCK;
    for (xa, xb) in a[..whole]
        .chunks_exact(BLOCK)
        .zip(b[..whole].chunks_exact(BLOCK))
    {
        let mut lanes = [0i16; LANES];
        for (x, y) in xa.chunks_exact(LANES).zip(xb.chunks_exact(LANES)) {
            for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
                *lane += i16::from(*x) * i16::from(*y);
            }
        }
        for (t, lane) in total.iter_mut().zip(lanes) {
            *t += i32::from(lane);
        }
    }
    let tail: i32 = a[whole..]
        .iter()
        .zip(&b[whole..])
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    total.iter().sum::<i32>() + tail
}

/// The best `k` of `scores` (row, score), best first; ties keep the earlier row.
pub(crate) fn top_k(scores: impl Iterator<Item = (usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    for (row, score) in scores {
        if heap.len() < k {
            heap.push(Candidate(score, row));
        } else if heap.peek().is_some_and(|worst| score > worst.0) {
            heap.pop();
            heap.push(Candidate(score, row));
        }
    }
    let mut best = heap.into_vec();
    best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    best.into_iter()
        .map(|Candidate(score, row)| (row, score))
        .collect()
}

/// `v / |v|`, or zeros for the zero vector.
fn normalized(v: &[f32]) -> impl Iterator<Item = f32> + '_ {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    v.iter().map(move |x| x * scale)
}

/// Dot product in eight independent lanes (vectorizes without `unsafe`).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(a8.len());
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for (lane, (x, y)) in lanes.iter_mut().zip(x.iter().zip(y)) {
            *lane += x * y;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// A candidate in the top-k heap, ordered so the heap's top is the worst kept.
#[derive(Debug, PartialEq)]
struct Candidate(f32, usize);

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: a min-heap on the score; ties keep the earlier row.
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl VectorIndex {
    /// An empty index of `dimensions`.
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            ids: Vec::new(),
            matrix: Vec::new(),
            quantized: Vec::new(),
            scales: Vec::new(),
            graph: OnceLock::new(),
            expansion: EXPANSION_SEARCH,
        }
    }

    /// How many rows the quantized scan hands to the exact re-ranking for a top `k`.
    pub fn candidates(k: usize) -> usize {
        (k * 4).max(k + 32)
    }

    /// Builds an index from `(id, vector)` pairs, exact only (see [`VectorIndex::build`]).
    pub fn from_vectors(
        dimensions: usize,
        vectors: impl IntoIterator<Item = (ChunkId, Vec<f32>)>,
    ) -> Result<Self, VectorError> {
        let mut index = Self::new(dimensions);
        for (id, v) in vectors {
            index.add(id, &v)?;
        }
        Ok(index)
    }

    /// Builds an index from `(id, vector)` pairs with an approximate graph when it holds
    /// `approximate_from` rows or more ([`APPROXIMATE_FROM`] is the measured default). The
    /// graph is rebuilt from `previous` when given and it fits (see [`GraphSnapshot`]): only
    /// rows whose chunk is new or whose vector changed are inserted. A graph that cannot be
    /// built is logged and left out; the index then scans.
    pub fn build(
        dimensions: usize,
        vectors: impl IntoIterator<Item = (ChunkId, Vec<f32>)>,
        approximate_from: usize,
        previous: Option<&GraphSnapshot>,
    ) -> Result<Self, VectorError> {
        let mut index = Self::from_vectors(dimensions, vectors)?;
        if index.len() >= approximate_from.max(1) {
            index.attach_graph(previous);
        }
        Ok(index)
    }

    /// Builds an index from `(id, vector)` pairs with its graph rebuilt from `previous` if
    /// that fits (see [`GraphSnapshot`]), which takes seconds where a build from scratch takes
    /// minutes at a million rows; else without a graph (see [`VectorIndex::build_graph`]).
    pub fn restore(
        dimensions: usize,
        vectors: impl IntoIterator<Item = (ChunkId, Vec<f32>)>,
        previous: &GraphSnapshot,
    ) -> Result<Self, VectorError> {
        let index = Self::from_vectors(dimensions, vectors)?;
        let d = index.dimensions;
        match Graph::restore(previous, d, &index.ids, &index.quantized) {
            Ok(Some(graph)) => index.set_graph(graph),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "saved vector graph not usable"),
        }
        Ok(index)
    }

    /// Builds the graph from scratch over the rows held now, unless there is one, while the
    /// index keeps serving searches by scan (it takes minutes at a million rows: run it off
    /// the async threads). It uses all cores but one. Returns whether this call built it.
    ///
    /// # Errors
    /// When usearch fails (the index then keeps scanning).
    pub fn build_graph(&self) -> Result<bool, GraphError> {
        if self.is_approximate() {
            return Ok(false);
        }
        let graph = Graph::build_on(
            self.dimensions,
            &self.quantized,
            graph::background_threads(),
        )?;
        Ok(self.graph.set(graph).is_ok())
    }

    fn set_graph(&self, graph: Graph) {
        // Only ever set on an index without one.
        let _ = self.graph.set(graph);
    }

    /// Builds the graph (from `previous` when it fits), or logs why not.
    fn attach_graph(&mut self, previous: Option<&GraphSnapshot>) {
        let d = self.dimensions;
        let restored = previous.map(|p| Graph::restore(p, d, &self.ids, &self.quantized));
        let graph = match restored {
            Some(Ok(Some(graph))) => Ok(graph),
            Some(Err(error)) => {
                tracing::warn!(%error, "saved vector graph not usable; building anew");
                Graph::build(d, &self.quantized)
            }
            Some(Ok(None)) | None => Graph::build(d, &self.quantized),
        };
        match graph {
            Ok(graph) => self.set_graph(graph),
            Err(error) => tracing::warn!(%error, rows = self.len(), "no vector graph; scanning"),
        }
    }

    /// Sets how many candidates a graph search gathers and re-ranks exactly, at least
    /// (HNSW's `ef`; default [`EXPANSION_SEARCH`]): more is slower and finds more of the
    /// exact top k.
    pub fn set_search_expansion(&mut self, candidates: usize) {
        self.expansion = candidates.max(1);
    }

    /// Whether searches take their candidates from the approximate graph.
    pub fn is_approximate(&self) -> bool {
        self.graph.get().is_some()
    }

    /// The approximate graph with the chunk of each node, to save and rebuild from
    /// ([`VectorIndex::build`]); `None` without a graph.
    ///
    /// # Errors
    /// When usearch cannot serialize the graph.
    pub fn snapshot(&self) -> Result<Option<GraphSnapshot>, GraphError> {
        self.graph
            .get()
            .map(|graph| graph.snapshot(&self.ids))
            .transpose()
    }

    /// The vectors' dimensions.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// How many vectors it holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a vector (normalized on the way in).
    pub fn add(&mut self, id: ChunkId, vector: &[f32]) -> Result<(), VectorError> {
        if vector.len() != self.dimensions {
            return Err(VectorError::Dimensions {
                expected: self.dimensions,
                got: vector.len(),
            });
        }
        self.ids.push(id);
        let start = self.matrix.len();
        self.matrix.extend(normalized(vector));
        let scale = quantize(&self.matrix[start..], &mut self.quantized);
        self.scales.push(scale);
        if let Some(graph) = self.graph.get_mut() {
            let row = self.ids.len() - 1;
            let quantized = &self.quantized[row * self.dimensions..];
            if let Err(error) = graph.add(row, quantized) {
                tracing::warn!(%error, "vector graph dropped; scanning");
                self.graph.take();
            }
        }
        Ok(())
    }

    /// Removes every vector whose id `gone` returns true for (and rebuilds the graph, if
    /// there is one, from its snapshot).
    pub fn remove(&mut self, gone: impl Fn(ChunkId) -> bool) {
        if !self.ids.iter().any(|id| gone(*id)) {
            return;
        }
        let before = self.snapshot().unwrap_or_else(|error| {
            tracing::warn!(%error, "vector graph not saved; building anew");
            None
        });
        let d = self.dimensions;
        let mut kept_ids = Vec::with_capacity(self.ids.len());
        let mut kept = Vec::with_capacity(self.matrix.len());
        let mut kept_quantized = Vec::with_capacity(self.quantized.len());
        let mut kept_scales = Vec::with_capacity(self.scales.len());
        for (row, id) in self.ids.iter().enumerate() {
            if !gone(*id) {
                kept_ids.push(*id);
                kept.extend_from_slice(&self.matrix[row * d..(row + 1) * d]);
                kept_quantized.extend_from_slice(&self.quantized[row * d..(row + 1) * d]);
                kept_scales.push(self.scales[row]);
            }
        }
        self.ids = kept_ids;
        self.matrix = kept;
        self.quantized = kept_quantized;
        self.scales = kept_scales;
        if self.graph.take().is_some() {
            self.attach_graph(before.as_ref());
        }
    }

    fn check(&self, query: &[f32]) -> Result<(), VectorError> {
        if query.len() == self.dimensions {
            Ok(())
        } else {
            Err(VectorError::Dimensions {
                expected: self.dimensions,
                got: query.len(),
            })
        }
    }

    /// The `k` vectors most similar (cosine) to `query`, best first, with their exact
    /// similarity: candidates from the graph when there is one, else from a quantized scan,
    /// re-ranked exactly (see the module docs).
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(ChunkId, f32)>, VectorError> {
        self.check(query)?;
        if k == 0 || self.dimensions == 0 || self.ids.is_empty() {
            return Ok(Vec::new());
        }
        let q: Vec<f32> = normalized(query).collect();
        let mut qq = Vec::with_capacity(q.len());
        let q_scale = quantize(&q, &mut qq);
        let d = self.dimensions;
        let wanted = Self::candidates(k);
        let rerank = |rows: &mut dyn Iterator<Item = usize>| {
            let exact = rows.map(|row| (row, dot(&q, &self.matrix[row * d..(row + 1) * d])));
            top_k(exact, k)
                .into_iter()
                .map(|(row, score)| (self.ids[row], score))
                .collect()
        };
        if let Some(graph) = self.graph.get() {
            match graph.search(&qq, wanted.max(self.expansion)) {
                Ok(keys) => {
                    let mut rows = keys
                        .into_iter()
                        .filter_map(|key| usize::try_from(key).ok())
                        .filter(|row| *row < self.ids.len());
                    return Ok(rerank(&mut rows));
                }
                Err(error) => {
                    // Once per process: under overload this would repeat for every search.
                    static WARNED: std::sync::Once = std::sync::Once::new();
                    WARNED.call_once(
                        || tracing::warn!(%error, "vector graph search failed; scanning"),
                    );
                }
            }
        }
        // The best `wanted` quantized scores among rows `from..to` (one core: parallel
        // slices measured no faster on the 2-vCPU reference machine).
        let scan = |from: usize, to: usize| {
            let rows = self.quantized[from * d..to * d]
                .chunks_exact(d)
                .zip(&self.scales[from..to])
                .enumerate()
                .map(|(i, (v, scale))| {
                    // |dot| <= 63² · d: exact in f32 for d < 4000.
                    #[allow(clippy::cast_precision_loss)]
                    let score = dot_i8(&qq, v) as f32 * scale * q_scale;
                    (from + i, score)
                });
            top_k(rows, wanted)
        };
        let candidates = scan(0, self.ids.len());
        Ok(rerank(&mut candidates.into_iter().map(|(row, _)| row)))
    }

    /// The exact top `k` by a full `f32` scan: the baseline [`VectorIndex::search`] is measured
    /// against.
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<(ChunkId, f32)>, VectorError> {
        self.check(query)?;
        if k == 0 || self.dimensions == 0 {
            return Ok(Vec::new());
        }
        let q: Vec<f32> = normalized(query).collect();
        let scores = self
            .matrix
            .chunks_exact(self.dimensions)
            .enumerate()
            .map(|(row, v)| (row, dot(&q, v)));
        Ok(top_k(scores, k)
            .into_iter()
            .map(|(row, score)| (self.ids[row], score))
            .collect())
    }
}

#[cfg(test)]
mod tests;
