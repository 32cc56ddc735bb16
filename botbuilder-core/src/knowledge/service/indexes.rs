//! The search indexes of each knowledge base: built from the store on first use, forgotten
//! when the knowledge base changes, and rebuilt on the next search (one build at a time per
//! knowledge base; concurrent searches wait for it).
//!
//! A large knowledge base's vector index keeps an approximate graph (see
//! [`VectorIndex::build`]), which takes minutes to build from scratch at a million chunks.
//! So a rebuild starts from the previous graph: the forgotten index's, kept aside as
//! *retired* until then, or after a restart the one saved in the service's index directory
//! ([`KnowledgeService::with_index_dir`]), written in the background after each build. Only
//! chunks that are new or changed are inserted. Without a previous graph, the index is used
//! at once by scan, and its graph is built from scratch in the background. A saved graph is used only for the chunks the
//! store holds for that organization's knowledge base with the same vector, and only after
//! its checksum and header check out (see [`GraphSnapshot`]), so a stale or another
//! knowledge base's file costs time, never returns another tenant's chunk. The directory is
//! trusted like the database: whoever can write to it can write to the process's memory.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{KnowledgeError, KnowledgeService};
use crate::domain::KnowledgeBase;
use crate::id::{KnowledgeBaseId, OrgId};
use crate::knowledge::keyword::KeywordIndex;
use crate::knowledge::vector::{GraphSnapshot, VectorError, VectorIndex};
use crate::store::StoreError;

/// Retired indexes kept at most: each holds a whole index until its knowledge base's next
/// search rebuilds from it.
const MAX_RETIRED: usize = 2;

/// The search indexes of one knowledge base.
#[derive(Debug)]
pub(super) struct KbIndex {
    /// The knowledge base as it was when the index was built (its embedder).
    pub(super) kb: KnowledgeBase,
    pub(super) vectors: VectorIndex,
    pub(super) keywords: KeywordIndex,
}

/// Indexes by knowledge base, each with the organization owning it.
type ByKb = HashMap<KnowledgeBaseId, (OrgId, Arc<KbIndex>)>;

/// Every knowledge base's indexes (see the module docs).
#[derive(Debug)]
pub(super) struct IndexCache {
    /// Current indexes, so a search needs no store read once its index is built.
    built: Mutex<ByKb>,
    /// Indexes forgotten after a change, whose graph the rebuild starts from.
    retired: Mutex<ByKb>,
    /// Knowledge bases deleted through this service: a build finishing afterwards neither
    /// saves nor retires its index (shared with the background saves).
    deleted: Arc<Mutex<HashSet<KnowledgeBaseId>>>,
    /// One build at a time per knowledge base.
    building: Mutex<HashMap<KnowledgeBaseId, Arc<tokio::sync::Mutex<()>>>>,
    /// Knowledge bases whose graph is being built in the background (one build each).
    growing: Mutex<HashSet<KnowledgeBaseId>>,
    /// Background graph builds run one at a time: each takes a core for minutes.
    graph_builds: tokio::sync::Semaphore,
}

impl Default for IndexCache {
    fn default() -> Self {
        Self {
            built: Mutex::default(),
            retired: Mutex::default(),
            deleted: Arc::default(),
            building: Mutex::default(),
            growing: Mutex::default(),
            graph_builds: tokio::sync::Semaphore::new(1),
        }
    }
}

impl IndexCache {
    /// The built index of `kb`, if its owner is `org` (`NotFound` if another's).
    fn get(&self, org: OrgId, kb: KnowledgeBaseId) -> Option<Result<Arc<KbIndex>, StoreError>> {
        let built = self.built.lock().expect("indexes poisoned");
        built.get(&kb).map(|(owner, index)| {
            if *owner == org {
                Ok(index.clone())
            } else {
                Err(StoreError::NotFound)
            }
        })
    }

    /// Keeps `index` of `org` aside for the rebuild of `kb`, if it has a graph to start from
    /// and `kb` was not deleted.
    fn retire(&self, org: OrgId, kb: KnowledgeBaseId, index: Arc<KbIndex>) {
        if !index.vectors.is_approximate() || self.is_deleted(kb) {
            return;
        }
        let mut retired = self.retired.lock().expect("retired poisoned");
        if retired.len() >= MAX_RETIRED && !retired.contains_key(&kb) {
            let evicted = retired.keys().next().copied();
            evicted.map(|evicted| retired.remove(&evicted));
        }
        retired.insert(kb, (org, index));
    }

    fn is_deleted(&self, kb: KnowledgeBaseId) -> bool {
        self.deleted.lock().expect("deleted poisoned").contains(&kb)
    }

    /// Drops every index of `org` (its members or existence changed).
    pub(super) fn forget_organization(&self, org: OrgId) {
        for map in [&self.built, &self.retired] {
            map.lock()
                .expect("indexes poisoned")
                .retain(|_, (owner, _)| *owner != org);
        }
    }

    /// Builds the graph of `index` (cached for `kb` of `org`) in the background, then saves
    /// it to `file`. If `kb` changed meanwhile, the graph is kept aside for the rebuild, and a
    /// newer cached index without a graph is dropped so the next search restores from it.
    fn grow(&self, org: OrgId, kb: KnowledgeBaseId, index: &Arc<KbIndex>, file: Option<&Path>) {
        let outcome = index.vectors.build_graph();
        self.growing.lock().expect("growing poisoned").remove(&kb);
        if let Err(error) = outcome {
            tracing::warn!(%error, %kb, "no vector graph; scanning");
            return;
        }
        tracing::debug!(%kb, rows = index.vectors.len(), "vector graph built");
        if self.is_deleted(kb) {
            return;
        }
        let mut built = self.built.lock().expect("indexes poisoned");
        let cached = built.get(&kb).map(|(_, cached)| cached.clone());
        if !cached
            .as_ref()
            .is_some_and(|cached| Arc::ptr_eq(cached, index))
        {
            if cached.is_some_and(|cached| !cached.vectors.is_approximate()) {
                built.remove(&kb);
            }
            drop(built);
            self.retire(org, kb, index.clone());
        } else {
            drop(built);
        }
        if let Some(file) = file {
            save_graph(&index.vectors, None, file);
            if self.is_deleted(kb) {
                // Deleted while saving: the deletion's own removal may have come first.
                let _ = remove_graph_file(file);
            }
        }
    }

    /// The lock serializing builds of `kb`.
    fn build_lock(&self, kb: KnowledgeBaseId) -> Arc<tokio::sync::Mutex<()>> {
        let mut building = self.building.lock().expect("building poisoned");
        building.retain(|_, lock| Arc::strong_count(lock) > 1);
        building.entry(kb).or_default().clone()
    }
}

/// The graph to rebuild from: the retired index's, else the saved file's.
fn previous_graph(retired: Option<Arc<KbIndex>>, file: Option<&Path>) -> Option<GraphSnapshot> {
    if let Some(retired) = retired {
        match retired.vectors.snapshot() {
            Ok(Some(snapshot)) => return Some(snapshot),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "retired vector graph not readable"),
        }
    }
    let file = file?;
    match GraphSnapshot::read(file) {
        Ok(snapshot) => Some(snapshot),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            tracing::warn!(%error, file = %file.display(), "saved vector graph not readable");
            None
        }
    }
}

/// Saves the graph of `vectors` to `file` unless it is `previous` unchanged; removes the
/// file when there is no graph any more. Failures are logged: the file is only a cache.
fn save_graph(vectors: &VectorIndex, previous: Option<&GraphSnapshot>, file: &Path) {
    let outcome = match vectors.snapshot() {
        Ok(Some(snapshot)) if Some(&snapshot) == previous => Ok(()),
        Ok(Some(snapshot)) => snapshot.write(file),
        Ok(None) => remove_graph_file(file),
        Err(error) => Err(std::io::Error::other(error)),
    };
    if let Err(error) = outcome {
        tracing::warn!(%error, file = %file.display(), "vector graph not saved");
    }
}

/// Removes a saved graph (none is fine).
fn remove_graph_file(file: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(file) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

impl KnowledgeService {
    /// Where the graph of `kb` is saved, if anywhere.
    fn graph_file(&self, kb: KnowledgeBaseId) -> Option<PathBuf> {
        self.index_dir
            .as_ref()
            .map(|dir| dir.join(format!("{kb}.hnsw")))
    }

    /// Forgets the indexes of `kb` after a change; the next search rebuilds them, starting
    /// from this one's graph.
    pub(super) fn forget_index(&self, kb: KnowledgeBaseId) {
        self.invalidations.invalidate(kb);
        let forgotten = self
            .indexes
            .built
            .lock()
            .expect("indexes poisoned")
            .remove(&kb);
        if let Some((org, index)) = forgotten {
            self.indexes.retire(org, kb, index);
        }
    }

    /// Forgets `kb` for good (it was deleted): its indexes, retired graph and saved file.
    pub(super) fn drop_index(&self, kb: KnowledgeBaseId) {
        self.indexes
            .deleted
            .lock()
            .expect("deleted poisoned")
            .insert(kb);
        self.forget_index(kb);
        self.indexes
            .retired
            .lock()
            .expect("retired poisoned")
            .remove(&kb);
        if let Some(file) = self.graph_file(kb)
            && let Err(error) = remove_graph_file(&file)
        {
            tracing::warn!(%error, file = %file.display(), "vector graph not removed");
        }
    }

    /// The indexes of `kb` in `org` (built from the store on first use); another
    /// organization's knowledge base is `NotFound`.
    pub(super) async fn index(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> Result<Arc<KbIndex>, KnowledgeError> {
        if let Some(found) = self.indexes.get(org, kb) {
            return Ok(found?);
        }
        let lock = self.indexes.build_lock(kb);
        let _building = lock.lock().await;
        if let Some(found) = self.indexes.get(org, kb) {
            return Ok(found?); // built while this search waited
        }
        let generation = self.invalidations.current();
        let kb = self.store.get_knowledge_base(org, kb).await?;
        let dimensions = kb.embedding_dimensions as usize;
        // Vectors of another size are from an embedder the knowledge base no longer uses
        // (re-indexing is under way): left out rather than failing the search.
        let vectors = self.store.chunk_embeddings(org, kb.id).await?;
        let texts = self.store.chunk_texts(org, kb.id).await?;
        // Taken only now that the store has confirmed `org` owns `kb`.
        let retired = self
            .indexes
            .retired
            .lock()
            .expect("retired poisoned")
            .remove(&kb.id);
        let retired = retired.and_then(|(owner, index)| (owner == org).then_some(index));
        let file = self.graph_file(kb.id);
        let approximate_from = self.approximate_from;
        let search_expansion = self.search_expansion;
        let recorded = kb.clone();
        let saved_in = file.clone();
        let build = move || -> Result<(KbIndex, Option<GraphSnapshot>), VectorError> {
            let previous = previous_graph(retired, saved_in.as_deref());
            let vectors: Vec<_> = vectors
                .into_iter()
                .filter(|(_, v)| v.len() == dimensions)
                .collect();
            // Restoring a graph takes seconds; one from scratch takes minutes at a million
            // chunks, so it is built once the index is in use (below), never while a search
            // waits.
            let mut vectors = match &previous {
                Some(previous) if vectors.len() >= approximate_from => {
                    VectorIndex::restore(dimensions, vectors, previous)?
                }
                _ => VectorIndex::from_vectors(dimensions, vectors)?,
            };
            vectors.set_search_expansion(search_expansion);
            let index = KbIndex {
                kb: recorded,
                vectors,
                keywords: KeywordIndex::build_chunks(&texts),
            };
            Ok((index, previous))
        };
        // Stemming every chunk and inserting into the graph take a while on a large
        // knowledge base: off the async threads.
        let (index, previous) = tokio::task::spawn_blocking(build)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))??;
        let index = Arc::new(index);
        let current = self.invalidations.unchanged_since(&kb.id, generation);
        if current {
            let mut built = self.indexes.built.lock().expect("indexes poisoned");
            built.insert(kb.id, (org, index.clone()));
        } else {
            // Already stale, but its graph is the newest to rebuild from.
            self.indexes.retire(org, kb.id, index.clone());
        }
        let wants_graph =
            !index.vectors.is_approximate() && index.vectors.len() >= self.approximate_from.max(1);
        let kb = kb.id;
        if current && wants_graph {
            let first = self
                .indexes
                .growing
                .lock()
                .expect("growing poisoned")
                .insert(kb);
            if first {
                let (cache, grown) = (self.indexes.clone(), index.clone());
                tokio::spawn(async move {
                    let Ok(_turn) = cache.graph_builds.acquire().await else {
                        return;
                    };
                    let grower = cache.clone();
                    let grow = move || grower.grow(org, kb, &grown, file.as_deref());
                    if let Err(error) = tokio::task::spawn_blocking(grow).await {
                        cache.growing.lock().expect("growing poisoned").remove(&kb);
                        tracing::warn!(%error, %kb, "vector graph build failed");
                    }
                });
            }
        } else if current && let Some(file) = file {
            let (saved, deleted) = (index.clone(), self.indexes.deleted.clone());
            tokio::task::spawn_blocking(move || {
                if !deleted.lock().expect("deleted poisoned").contains(&kb) {
                    save_graph(&saved.vectors, previous.as_ref(), &file);
                }
            });
        }
        Ok(index)
    }
}
