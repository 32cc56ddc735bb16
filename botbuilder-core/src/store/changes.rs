//! The change feed: configuration changes recorded by the store, read by
//! [`crate::change::ChangeBus`] to keep every instance's caches fresh.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::ChangeRecord;

/// The feed of [`crate::domain::Change`]s.
///
/// Contract: the store records a change **in the same transaction** as the write it describes,
/// whoever makes the write (this process, another instance, the CLI):
/// - `Organization` when an organization's name or settings change or it is deleted;
/// - `Access` when a member's role changes or a member is removed, a role is changed or
///   deleted, or an API key is deleted;
/// - `Bot` when a bot is changed or deleted, when one of its intents or entities is created,
///   changed or deleted, and when a flow version is published (so importing a bot records
///   changes for what it imports; creating a bot records none);
/// - `KnowledgeBase` when a knowledge base is changed or deleted;
/// - `Document` when a document becomes `ready` or stops being `ready` (enters or leaves
///   search), when its title changes, or when it is deleted;
/// - `Credentials` when a provider credential is stored or deleted;
/// - `Channel` when a channel is changed or deleted.
///
/// Writing sessions, messages, feedback, chunks, jobs, usage or audit entries records nothing.
/// Writes that leave the configuration as it was may still record a change (an empty patch);
/// bookkeeping (activity times, ingestion progress) never does. Deleting an organization, a
/// bot or a knowledge base may also record changes of what it owned.
///
/// Changes get increasing `seq` in the order their transactions **commit**, so a reader that
/// has seen `seq` n has seen every change before it. (A backend whose sequences are allocated
/// before commit, such as a Postgres `BIGSERIAL`, must serialize the writers of the feed or
/// otherwise keep this order.)
#[async_trait]
pub trait ChangeRepo: Send + Sync + 'static {
    /// Up to `limit` changes with `seq > after`, oldest first.
    async fn changes_after(&self, after: u64, limit: u32) -> StoreResult<Vec<ChangeRecord>>;

    /// The newest change's `seq` (0 when none was ever recorded), where a process that has
    /// nothing cached starts reading.
    async fn last_change_seq(&self) -> StoreResult<u64>;

    /// Deletes changes recorded before `before`; returns how many.
    async fn prune_changes(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}
