//! # botbuilder-store
//!
//! Backends for the storage and infrastructure ports of `botbuilder-core`.
//!
//! | backend | type | feature |
//! |---|---|---|
//! | embedded SQLite (WAL, foreign keys, embedded migrations): every repository, FTS5 keyword search | [`SqliteStore`] | `sqlite` (default) |
//! | durable job queue (leases, retries, dead letters; survives restarts) | [`SqliteStore`] as `JobQueue` | `sqlite` (default) |
//! | Postgres 17+ with pgvector: every repository in tenant-scoped transactions behind row-level security, stemmed full-text search, an optional read replica | `postgres::PgStore` | `postgres` |
//! | durable job queue on Postgres (`FOR UPDATE SKIP LOCKED`) | `postgres::PgStore` as `JobQueue` | `postgres` |
//! | in-process GCRA rate limiter | [`memory::MemoryRateLimiter`] | always |
//! | in-process TTL cache | [`memory::MemoryCache`] | always |
//! | in-process job queue (not durable) | [`memory_queue::MemoryJobQueue`] | always |
//! | secrets at rest: AES-256-GCM under the master key, with rotation | [`cipher::AesGcmCipher`] | always |
//! | GCRA rate limiter shared by every instance (one Lua script) | `redis::RedisRateLimiter` | `redis` |
//! | the change bus across instances (pub/sub wake-ups) | `redis::ChangeAnnouncer` | `redis` |
//! | cache shared by every instance (trained NLU models) | `redis::RedisCache` | `redis` |
//!
//! Every backend of a port runs the same conformance suite (`store_conformance_suite!`,
//! `queue_conformance_suite!`, `rate_limit_conformance_suite!`, `cache_conformance_suite!`):
//! SQLite and Postgres pass the same store and queue suites, the in-process and Redis
//! limiters and caches the same limiter and cache suites. Both SQL stores share their row
//! types (`rows`: UUID ids, microsecond times, JSON text), so only the SQL dialect differs
//! between them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), botbuilder_core::store::StoreError> {
//! use botbuilder_core::store::Store;
//! use botbuilder_store::SqliteStore;
//!
//! let store = SqliteStore::connect("sqlite://botbuilder.db").await?; // migrates on open
//! store.ping().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod cipher;
mod error;
pub mod memory;
pub mod memory_queue;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "sqlite")]
pub use sqlite::{BUSY_TIMEOUT, CHECKPOINT_INTERVAL, DEFAULT_MAX_CONNECTIONS, SqliteStore};
