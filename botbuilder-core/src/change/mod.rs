//! The change bus: keeps every cache of configuration (bot snapshots, search indexes, access
//! decisions, opened credentials and channels) fresh on every instance.
//!
//! The store records each configuration change in the same transaction as the change itself
//! (the change feed, [`crate::store::ChangeRepo`]), whoever makes it: this process, another
//! instance on the same database, or the CLI. A [`ChangeBus`] reads the feed from where it
//! started and hands each [`Change`] to its [`ChangeListener`]s, in feed order:
//! - [`ChangeBus::run`] polls every few hundred milliseconds, and at once when woken
//!   ([`ChangeBus::wake`], e.g. by a message from another instance), so another instance's
//!   change applies here within about [`POLL_INTERVAL`];
//! - [`ChangeBus::catch_up`] reads the feed now: a server calls it after every write request
//!   that was not refused (conversation turns excepted, as they change no configuration),
//!   before answering, so a client that changed a bot sees the change in its next request.
//!   Concurrent calls share one read of the feed.
//!
//! Conversation turns record no change, so they invalidate nothing. A load under way when its
//! cache forgets something does not put the old value back ([`Generation`]). A change missed
//! (the feed pruned while an instance was stalled for a day) is bounded by the time to live of
//! the caches that have one (bot snapshots, access, credentials, channels); search indexes
//! are rebuilt only on a change or a restart.
//!
//! Wiring an embedded engine and knowledge service to a store's feed:
//!
//! ```
//! use std::sync::Arc;
//! use botbuilder_core::change::{ChangeBus, POLL_INTERVAL};
//! use botbuilder_core::clock::SystemClock;
//! use botbuilder_core::engine::Engine;
//! use botbuilder_core::knowledge::KnowledgeService;
//! use botbuilder_core::store::{Store, StoreResult};
//!
//! async fn keep_fresh(
//!     store: Arc<dyn Store>,
//!     engine: Arc<Engine>,
//!     knowledge: Arc<KnowledgeService>,
//! ) -> StoreResult<Arc<ChangeBus>> {
//!     let bus = ChangeBus::start(store, Arc::new(SystemClock)).await?;
//!     bus.listen(engine);
//!     bus.listen(knowledge);
//!     tokio::spawn(bus.clone().run(POLL_INTERVAL, std::future::pending()));
//!     Ok(bus)
//! }
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Mutex, Notify};

use crate::clock::Clock;
pub use crate::domain::{Change, ChangeRecord};
use crate::store::{Store, StoreResult};

/// How often [`ChangeBus::run`] reads the feed when nothing wakes it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long changes stay in the feed.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// How often [`ChangeBus::run`] prunes changes past [`RETENTION`].
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Changes read per query.
const BATCH: u32 = 500;

/// A cache that forgets what a [`Change`] made stale. Called in feed order, on the task that
/// reads the feed: it must be quick and must not block (drop entries; reload lazily).
pub trait ChangeListener: Send + Sync + 'static {
    /// Forgets what `change` made stale.
    fn on_change(&self, change: &Change);
}

/// Guards a cache against putting back what an invalidation just removed: a load that was
/// under way when the cache forgot something may have read the old value, so it must not be
/// cached. Take [`Generation::current`] before loading, [`Generation::bump`] on every
/// invalidation, and cache the loaded value only if [`Generation::unchanged_since`] holds.
#[derive(Debug, Default)]
pub struct Generation(AtomicU64);

impl Generation {
    /// The generation a load starts in.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Marks an invalidation: loads that started before it do not cache what they read.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether no invalidation happened since `start` (the loaded value may be cached).
    pub fn unchanged_since(&self, start: u64) -> bool {
        self.current() == start
    }
}

/// [`Generation`] per key, for caches whose keys are invalidated often and independently
/// (one knowledge base's ingestion must not stop another's index from being cached): a load
/// of key `k` that started in generation `g` may be cached unless `k`, or everything, was
/// invalidated since `g`. Remembers the last [`MAX_TRACKED`] keys; past that it forgets them
/// all and treats everything as invalidated now (safe, at the cost of one more load).
#[derive(Debug)]
pub struct Invalidations<K> {
    counter: AtomicU64,
    state: std::sync::Mutex<InvalidationState<K>>,
}

/// Keys [`Invalidations`] remembers before it starts over.
pub const MAX_TRACKED: usize = 10_000;

#[derive(Debug)]
struct InvalidationState<K> {
    /// Everything was invalidated in this generation.
    floor: u64,
    /// The generation each key was last invalidated in.
    at: std::collections::HashMap<K, u64>,
}

impl<K> Default for Invalidations<K> {
    fn default() -> Self {
        Self {
            counter: AtomicU64::new(0),
            state: std::sync::Mutex::new(InvalidationState {
                floor: 0,
                at: std::collections::HashMap::new(),
            }),
        }
    }
}

impl<K: Eq + std::hash::Hash> Invalidations<K> {
    /// The generation a load starts in.
    pub fn current(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// Marks `key` invalidated (call before removing it from the cache).
    pub fn invalidate(&self, key: K) {
        let mut state = self.state.lock().expect("invalidations poisoned");
        let now = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        if state.at.len() >= MAX_TRACKED {
            state.at.clear();
            state.floor = now;
        }
        state.at.insert(key, now);
    }

    /// Marks every key invalidated.
    pub fn invalidate_all(&self) {
        let mut state = self.state.lock().expect("invalidations poisoned");
        state.floor = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        state.at.clear();
    }

    /// Whether a load of `key` that started in generation `start` may be cached.
    pub fn unchanged_since(&self, key: &K, start: u64) -> bool {
        let state = self.state.lock().expect("invalidations poisoned");
        state.floor <= start && state.at.get(key).is_none_or(|at| *at <= start)
    }
}

/// See the module docs.
pub struct ChangeBus {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    listeners: RwLock<Vec<Arc<dyn ChangeListener>>>,
    /// The `seq` of the last change handed to the listeners.
    cursor: Mutex<u64>,
    /// The same, readable without waiting ([`ChangeBus::delivered`]).
    delivered: AtomicU64,
    /// Tickets taken by [`ChangeBus::catch_up`] calls so far.
    requested: AtomicU64,
    /// Every call with a ticket up to this one has been served by a read that began after it.
    covered: AtomicU64,
    wake: Notify,
}

impl std::fmt::Debug for ChangeBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeBus")
            .field("listeners", &self.listeners.read().map(|l| l.len()).ok())
            .finish_non_exhaustive()
    }
}

impl ChangeBus {
    /// A bus reading `store`'s feed from its newest change on: start it before anything is
    /// cached, so no change between the two is missed.
    ///
    /// # Errors
    /// The store's error when the feed cannot be read.
    pub async fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> StoreResult<Arc<Self>> {
        let cursor = store.last_change_seq().await?;
        Ok(Arc::new(Self {
            store,
            clock,
            listeners: RwLock::default(),
            cursor: Mutex::new(cursor),
            delivered: AtomicU64::new(cursor),
            requested: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            wake: Notify::new(),
        }))
    }

    /// Adds a listener: it gets every change read from now on.
    pub fn listen(&self, listener: Arc<dyn ChangeListener>) {
        self.listeners
            .write()
            .expect("listeners poisoned")
            .push(listener);
    }

    /// Reads the feed now and hands every new change to the listeners; returns how many
    /// changes this call delivered (0 when a concurrent call's read already covered it).
    ///
    /// Every change committed before the call is delivered when it returns `Ok`.
    ///
    /// # Errors
    /// The store's error; changes read before it are delivered, the rest wait for the next
    /// call.
    pub async fn catch_up(&self) -> StoreResult<usize> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut cursor = self.cursor.lock().await;
        if self.covered.load(Ordering::SeqCst) >= ticket {
            return Ok(0);
        }
        // Every ticket up to here was taken before the read below begins.
        let covering = self.requested.load(Ordering::SeqCst);
        let mut delivered = 0;
        loop {
            let batch = self.store.changes_after(*cursor, BATCH).await?;
            {
                let listeners = self.listeners.read().expect("listeners poisoned");
                for record in &batch {
                    for listener in listeners.iter() {
                        listener.on_change(&record.change);
                    }
                    *cursor = record.seq;
                }
                self.delivered.store(*cursor, Ordering::SeqCst);
            }
            delivered += batch.len();
            if batch.len() < BATCH as usize {
                break;
            }
        }
        self.covered.fetch_max(covering, Ordering::SeqCst);
        Ok(delivered)
    }

    /// The `seq` of the last change delivered: a caller that notes it before a write and
    /// sees it grow after [`ChangeBus::catch_up`] knows changes arrived meanwhile (its own
    /// among them, whichever read delivered them).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::SeqCst)
    }

    /// Makes [`ChangeBus::run`] read the feed now (another instance announced a change).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Reads the feed every `every` or when woken, and prunes changes past [`RETENTION`]
    /// hourly, until `shutdown` resolves.
    pub async fn run(self: Arc<Self>, every: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            if let Err(e) = self.catch_up().await {
                tracing::warn!("change feed: {e}");
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                let retention =
                    chrono::Duration::from_std(RETENTION).unwrap_or(chrono::Duration::MAX);
                match self.store.prune_changes(self.clock.now() - retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!("pruned {n} changes past the retention"),
                    Err(e) => tracing::warn!("change feed pruning: {e}"),
                }
                pruned_at = Some(tokio::time::Instant::now());
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(every) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
