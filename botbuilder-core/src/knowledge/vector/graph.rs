//! The approximate side of [`VectorIndex`](super::VectorIndex): a hierarchical navigable
//! small-world graph (HNSW; Malkov & Yashunin, "Efficient and robust approximate nearest
//! neighbor search using Hierarchical Navigable Small World graphs", arXiv:1603.09320) over the
//! index's quantized rows, kept by [`usearch`].
//!
//! Keys are row numbers of the owning index, so a search's keys are rows to re-rank exactly.
//! Rows are the index's own `i8` rows (each scaled to its largest component, see
//! `QUANT_MAX`): cosine similarity does not change when a vector is scaled, so the graph's
//! cosine over them is the cosine of the original vectors up to rounding.
//!
//! [`GraphSnapshot`] is the graph serialized with the chunk id of every key; the owning index
//! rebuilds from one by keeping the rows whose chunk and vector are unchanged, so a restart or
//! a document added to a large knowledge base costs seconds, not a rebuild of minutes.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::id::ChunkId;

/// Neighbours kept per node and layer (HNSW's `M`; layer 0 keeps twice as many).
pub const CONNECTIVITY: usize = 32;
/// Candidates considered while inserting a node (HNSW's `efConstruction`).
pub const EXPANSION_ADD: usize = 200;
/// Candidates a search gathers from the graph and re-ranks exactly (HNSW's `ef`), at least;
/// a search asking for more rows gathers as many as it asks for. Chosen with the
/// `search-bench` example (see [`VectorIndex::set_search_expansion`](super::VectorIndex)).
pub const EXPANSION_SEARCH: usize = 256;
/// usearch's own search expansion: the least, so the count a search asks for is its `ef`.
const NATIVE_EXPANSION_SEARCH: usize = 1;
/// Searches the graph serves at once; one more waits for none and falls back to the scan.
const SEARCH_SLOTS: usize = 64;
/// Key offset used while renumbering survivors of a snapshot (above any row number).
const PARKED: u64 = 1 << 48;
/// First bytes of a snapshot file.
const MAGIC: &[u8; 16] = b"botbuilder-hnsw2";
/// Bytes of the header after the magic: dimensions, removed nodes, key count, checksum.
const HEADER: usize = 32;

/// The graph failed (usearch reported an error, or a snapshot does not fit).
#[derive(Debug, thiserror::Error)]
#[error("vector graph: {0}")]
pub struct GraphError(String);

/// usearch's error (a C++ exception's message) as a [`GraphError`].
fn failed(error: impl fmt::Display) -> GraphError {
    GraphError(error.to_string())
}

/// The graph over one index's rows.
pub(super) struct Graph {
    index: Index,
    /// Nodes removed since the graph was built: they still occupy slots and weaken its
    /// connectivity, so the owner rebuilds once there are many.
    removed: usize,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("nodes", &self.index.size())
            .field("removed", &self.removed)
            .finish()
    }
}

fn options(dimensions: usize) -> IndexOptions {
    IndexOptions {
        dimensions,
        metric: MetricKind::Cos,
        quantization: ScalarKind::I8,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: NATIVE_EXPANSION_SEARCH,
        multi: false,
    }
}

/// Threads that insert nodes: every core, at most eight.
fn insert_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// Threads that insert nodes while the process serves requests: all cores but one.
pub(super) fn background_threads() -> usize {
    insert_threads().saturating_sub(1).max(1)
}

impl Graph {
    /// An empty graph with room for `capacity` nodes.
    fn with_capacity(dimensions: usize, capacity: usize) -> Result<Self, GraphError> {
        let graph = Self {
            index: Index::new(&options(dimensions)).map_err(failed)?,
            removed: 0,
        };
        graph.reserve(capacity)?;
        Ok(graph)
    }

    /// Room for `capacity` nodes, and for the searches and inserting threads at once.
    fn reserve(&self, capacity: usize) -> Result<(), GraphError> {
        let threads = SEARCH_SLOTS.max(insert_threads());
        self.index
            .reserve_capacity_and_threads(capacity, threads)
            .map_err(failed)
    }

    /// Inserts one row under key `row` (the owning index grew by one).
    pub(super) fn add(&mut self, row: usize, vector: &[i8]) -> Result<(), GraphError> {
        if self.index.size() + self.removed >= self.index.capacity() {
            self.reserve((self.index.capacity() * 2).max(1_024))?;
        }
        self.index.add(row as u64, vector).map_err(failed)?;
        self.removed = self.removed.saturating_sub(1); // a removed node's slot is reused
        Ok(())
    }

    /// A graph over `rows` (row `i` under key `i`), inserted by every core.
    pub(super) fn build(dimensions: usize, rows: &[i8]) -> Result<Self, GraphError> {
        Self::build_on(dimensions, rows, insert_threads())
    }

    /// A graph over `rows` (row `i` under key `i`), inserted by `threads` threads.
    pub(super) fn build_on(
        dimensions: usize,
        rows: &[i8],
        threads: usize,
    ) -> Result<Self, GraphError> {
        let count = rows.len().checked_div(dimensions).unwrap_or(0);
        let graph = Self::with_capacity(dimensions, count)?;
        graph.insert(dimensions, rows, (0..count).collect(), threads)?;
        Ok(graph)
    }

    /// Inserts rows `keys` of `rows` under their row numbers, spread over the cores.
    fn insert(
        &self,
        dimensions: usize,
        rows: &[i8],
        keys: Vec<usize>,
        threads: usize,
    ) -> Result<(), GraphError> {
        let threads = threads.clamp(1, keys.len().max(1));
        let share = keys.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = keys
                .chunks(share)
                .map(|mine| {
                    scope.spawn(move || -> Result<(), GraphError> {
                        for &row in mine {
                            let vector = &rows[row * dimensions..(row + 1) * dimensions];
                            self.index.add(row as u64, vector).map_err(failed)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|worker| worker.join().expect("graph insertion panicked"))
        })
    }

    /// Rebuilds from `snapshot` for the index now holding `ids` with quantized `rows`: nodes
    /// whose chunk is gone, or whose stored vector differs from the row now held for that
    /// chunk, are removed; the others are renumbered to their new rows; rows the snapshot did
    /// not have are inserted. `None` when the snapshot does not fit (other dimensions, or too
    /// many removed nodes: a fresh build is better connected).
    pub(super) fn restore(
        snapshot: &GraphSnapshot,
        dimensions: usize,
        ids: &[ChunkId],
        rows: &[i8],
    ) -> Result<Option<Self>, GraphError> {
        if snapshot.dimensions != dimensions {
            return Ok(None);
        }
        // usearch checks lengths but trusts the header: it must describe our kind of graph.
        let header = Index::metadata_from_buffer(&snapshot.graph).map_err(failed)?;
        let expected = (dimensions as u64, snapshot.ids.len() as u64);
        if header.metric != MetricKind::Cos
            || header.quantization != ScalarKind::I8
            || header.multi
            || (header.dimensions, header.count_present) != expected
        {
            return Ok(None);
        }
        let index = Index::new(&options(dimensions)).map_err(failed)?;
        index.load_from_buffer(&snapshot.graph).map_err(failed)?;
        index.change_expansion_search(NATIVE_EXPANSION_SEARCH);
        if index.dimensions() != dimensions || index.size() != snapshot.ids.len() {
            return Ok(None);
        }
        let now: std::collections::HashMap<ChunkId, usize> =
            ids.iter().enumerate().map(|(row, id)| (*id, row)).collect();
        let mut graph = Self {
            index,
            removed: snapshot.removed,
        };
        graph.reserve(ids.len() + snapshot.ids.len())?;
        let mut kept = vec![false; ids.len()];
        let mut moves = Vec::new();
        let mut stored = vec![0i8; dimensions];
        for (key, id) in snapshot.ids.iter().enumerate() {
            let key = key as u64;
            let same = now.get(id).copied().filter(|row| {
                graph.index.get(key, &mut stored).is_ok_and(|n| n == 1)
                    && stored == rows[row * dimensions..(row + 1) * dimensions]
            });
            match same {
                Some(row) => {
                    kept[row] = true;
                    if row as u64 != key {
                        moves.push((key, row as u64));
                    }
                }
                None => {
                    graph.index.remove(key).map_err(failed)?;
                    graph.removed = graph.removed.saturating_add(1);
                }
            }
        }
        if graph.removed.saturating_mul(4) > ids.len() {
            return Ok(None);
        }
        // Two passes, so no key is renamed onto one not yet moved away.
        for (from, _) in &moves {
            graph.index.rename(*from, from + PARKED).map_err(failed)?;
        }
        for (from, to) in &moves {
            graph.index.rename(from + PARKED, *to).map_err(failed)?;
        }
        let missing: Vec<usize> = kept
            .iter()
            .enumerate()
            .filter_map(|(row, kept)| (!kept).then_some(row))
            .collect();
        // Each insert reuses a removed node's slot while there are any.
        graph.removed = graph.removed.saturating_sub(missing.len());
        graph.insert(dimensions, rows, missing, insert_threads())?;
        Ok(Some(graph))
    }

    /// Keys of about the `count` nodes nearest `query` (cosine), nearest first.
    pub(super) fn search(&self, query: &[i8], count: usize) -> Result<Vec<u64>, GraphError> {
        Ok(self.index.search(query, count).map_err(failed)?.keys)
    }

    /// The graph and the chunk of every key, to rebuild from later.
    pub(super) fn snapshot(&self, ids: &[ChunkId]) -> Result<GraphSnapshot, GraphError> {
        let mut graph = vec![0u8; self.index.serialized_length()];
        self.index.save_to_buffer(&mut graph).map_err(failed)?;
        Ok(GraphSnapshot {
            dimensions: self.index.dimensions(),
            removed: self.removed,
            ids: ids.to_vec(),
            graph,
        })
    }
}

/// A serialized graph with the chunk id of each of its keys (see the module docs), written
/// to and read from a file by [`GraphSnapshot::write`] and [`GraphSnapshot::read`].
#[derive(Clone, PartialEq, Eq)]
pub struct GraphSnapshot {
    dimensions: usize,
    removed: usize,
    ids: Vec<ChunkId>,
    graph: Vec<u8>,
}

impl fmt::Debug for GraphSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphSnapshot")
            .field("dimensions", &self.dimensions)
            .field("nodes", &self.ids.len())
            .field("bytes", &self.graph.len())
            .finish()
    }
}

impl GraphSnapshot {
    /// How many chunks it holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Nodes removed from the graph since it was last built from scratch (a rebuild from a
    /// snapshot removes the nodes of chunks that are gone or changed).
    pub fn removed(&self) -> usize {
        self.removed
    }

    /// CRC-32 of the ids and the graph, as written in the header.
    fn checksum(&self) -> u32 {
        let mut crc = crc32fast::Hasher::new();
        for id in &self.ids {
            crc.update(uuid::Uuid::from(*id).as_bytes());
        }
        crc.update(&self.graph);
        crc.finalize()
    }

    /// Writes it to `path` atomically (a temporary file in the same directory, then a rename;
    /// the directory is created if missing). Layout: 16 magic bytes; then little-endian `u64`
    /// dimensions, removed nodes, key count and CRC-32 of what follows; the key count's
    /// 16-byte chunk ids; usearch's own serialization.
    ///
    /// # Errors
    /// Any I/O error (the temporary file is then removed).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = io::BufWriter::new(file.as_file_mut());
            out.write_all(MAGIC)?;
            let header = [
                self.dimensions as u64,
                self.removed as u64,
                self.ids.len() as u64,
                u64::from(self.checksum()),
            ];
            for n in header {
                out.write_all(&n.to_le_bytes())?;
            }
            for id in &self.ids {
                out.write_all(uuid::Uuid::from(*id).as_bytes())?;
            }
            out.write_all(&self.graph)?;
            out.flush()?;
        }
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Reads a snapshot written by [`GraphSnapshot::write`].
    ///
    /// # Errors
    /// Any I/O error; `InvalidData` when the file is not a snapshot, is cut short, or fails
    /// its checksum.
    pub fn read(path: &Path) -> io::Result<Self> {
        let mut bytes = fs::read(path)?;
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, "not a vector graph");
        if !bytes.starts_with(MAGIC) || bytes.len() < MAGIC.len() + HEADER {
            return Err(invalid());
        }
        let number = |at: usize| -> u64 {
            let start = MAGIC.len() + at * 8;
            u64::from_le_bytes(bytes[start..start + 8].try_into().expect("eight bytes"))
        };
        let size = |n: u64| usize::try_from(n).map_err(|_| invalid());
        let (dimensions, removed, count) = (size(number(0))?, size(number(1))?, size(number(2))?);
        let checksum = number(3);
        let ids_start = MAGIC.len() + HEADER;
        let ids_end = count
            .checked_mul(16)
            .and_then(|n| n.checked_add(ids_start))
            .filter(|end| *end <= bytes.len())
            .ok_or_else(invalid)?;
        let graph = bytes.split_off(ids_end);
        let ids = bytes[ids_start..]
            .chunks_exact(16)
            .map(|id| ChunkId::from(uuid::Uuid::from_bytes(id.try_into().expect("16 bytes"))))
            .collect();
        let snapshot = Self {
            dimensions,
            removed,
            ids,
            graph,
        };
        if u64::from(snapshot.checksum()) != checksum {
            return Err(invalid());
        }
        Ok(snapshot)
    }
}
