use crate::BoxError;

/// What went wrong in a store, sorted by what the caller does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row does not exist, or belongs to another organization. Callers answer 404.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or an invariant (such as "an organization keeps one owner") refused
    /// the write. The message is safe to show to the client.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend is temporarily unavailable (pool timeout, lock contention); retrying may
    /// succeed.
    #[error("store temporarily unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug, corrupt data, a failed migration.
    #[error("store failure")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Result alias for store operations.
pub type StoreResult<T, E = StoreError> = Result<T, E>;
