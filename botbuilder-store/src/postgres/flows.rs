//! Flows ([`FlowRepo`]) on Postgres: one editable draft per bot, and numbered immutable
//! published versions.
//!
//! What differs from SQLite, whose single writer runs one publication at a time:
//! - Publishing locks the bot row (`FOR NO KEY UPDATE`) before it numbers the version, so
//!   concurrent publications of a bot queue, and each numbers its version in a statement that
//!   starts after the previous one committed (see [`insert_version`]). The primary key
//!   `(bot_id, version)` stays the last wall. The lock is the weakest that excludes another
//!   publisher: it does not block the foreign-key checks of rows being added to the bot
//!   (sessions, messages) meanwhile.
//! - The reads check that the bot is `org`'s in their own transaction ([`ensure_bot`]).

use async_trait::async_trait;
use botbuilder_core::domain::{FlowDraft, FlowVersion};
use botbuilder_core::flow::Flow;
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{FlowRepo, StoreError, StoreResult};
use sqlx::PgConnection;

use super::bots::ensure_bot;
use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::flows::{VersionRow, graph_json, parse_graph};
use crate::rows::{from_micros, micros};

/// Stores `flow` as the draft of `bot` with `db` (a tenant transaction). The upsert only
/// updates a draft of the same organization: another tenant's bot id touches no row and is
/// `NotFound` (the foreign key refuses a fresh insert too). Concurrent saves are safe: `ON
/// CONFLICT` turns the loser's insert into an update.
pub(super) async fn upsert_draft(
    db: &mut PgConnection,
    org: OrgId,
    bot: BotId,
    flow: &Flow,
    now: i64,
) -> StoreResult<()> {
    let done = sqlx::query(
        "INSERT INTO flow_drafts (bot_id, organization_id, graph, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (bot_id) DO UPDATE SET graph = EXCLUDED.graph, updated_at = EXCLUDED.updated_at
         WHERE flow_drafts.organization_id = EXCLUDED.organization_id",
    )
    .bind(bot.as_uuid())
    .bind(org.as_uuid())
    .bind(graph_json(flow)?)
    .bind(now)
    .execute(db)
    .await
    .map_err(store_err)?;
    expect_one(done.rows_affected())
}

/// Locks `bot`'s row until the end of the transaction of `db`, so publications of the bot
/// take turns. `NotFound` if the bot is not `org`'s.
async fn lock_bot(db: &mut PgConnection, org: OrgId, bot: BotId) -> StoreResult<()> {
    sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM bots WHERE organization_id = $1 AND id = $2 FOR NO KEY UPDATE",
    )
    .bind(org.as_uuid())
    .bind(bot.as_uuid())
    .fetch_optional(db)
    .await
    .map_err(store_err)?
    .map(|_| ())
    .ok_or(StoreError::NotFound)
}

/// Publishes `flow` as the next version of `bot` with `db` (a tenant transaction).
///
/// The lock comes first, in its own statement: under `READ COMMITTED` each statement reads
/// what was committed when it started, so the numbering statement, which starts once the lock
/// is held, sees the version of a publisher that held the lock before (one statement that both
/// waited for the lock and read the maximum would read it as of before the wait).
pub(super) async fn insert_version(
    db: &mut PgConnection,
    org: OrgId,
    bot: BotId,
    flow: &Flow,
    now: i64,
) -> StoreResult<FlowVersion> {
    lock_bot(db, org, bot).await?;
    sqlx::query_as::<_, VersionRow>(
        "INSERT INTO flow_versions (bot_id, version, organization_id, graph, created_at)
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4
         FROM flow_versions WHERE bot_id = $1
         RETURNING bot_id, version, graph, created_at",
    )
    .bind(bot.as_uuid())
    .bind(org.as_uuid())
    .bind(graph_json(flow)?)
    .bind(now)
    .fetch_one(db)
    .await
    .map_err(store_err)?
    .try_into()
}

#[async_trait]
impl FlowRepo for PgStore {
    async fn get_flow_draft(&self, org: OrgId, bot: BotId) -> StoreResult<Option<FlowDraft>> {
        let mut tx = self.tenant(org).await?;
        ensure_bot(&mut tx, org, bot).await?;
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT graph, updated_at FROM flow_drafts WHERE organization_id = $1 AND bot_id = $2",
        )
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.map(|(graph, updated_at)| {
            Ok(FlowDraft {
                bot_id: bot,
                flow: parse_graph(&graph)?,
                updated_at: from_micros(updated_at),
            })
        })
        .transpose()
    }

    async fn save_flow_draft(&self, org: OrgId, bot: BotId, flow: Flow) -> StoreResult<FlowDraft> {
        let now = micros(self.now());
        let mut tx = self.tenant(org).await?;
        upsert_draft(&mut tx, org, bot, &flow, now).await?;
        commit(tx).await?;
        Ok(FlowDraft {
            bot_id: bot,
            flow,
            updated_at: from_micros(now),
        })
    }

    async fn publish_flow(&self, org: OrgId, bot: BotId, flow: Flow) -> StoreResult<FlowVersion> {
        let mut tx = self.tenant(org).await?;
        let version = insert_version(&mut tx, org, bot, &flow, micros(self.now())).await?;
        commit(tx).await?;
        Ok(version)
    }

    async fn get_flow_version(
        &self,
        org: OrgId,
        bot: BotId,
        version: u32,
    ) -> StoreResult<FlowVersion> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, VersionRow>(
            "SELECT bot_id, version, graph, created_at FROM flow_versions
             WHERE organization_id = $1 AND bot_id = $2 AND version = $3",
        )
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(i64::from(version))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn latest_flow_version(
        &self,
        org: OrgId,
        bot: BotId,
    ) -> StoreResult<Option<FlowVersion>> {
        let mut tx = self.tenant(org).await?;
        ensure_bot(&mut tx, org, bot).await?;
        let row = sqlx::query_as::<_, VersionRow>(
            "SELECT bot_id, version, graph, created_at FROM flow_versions
             WHERE organization_id = $1 AND bot_id = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.map(FlowVersion::try_from).transpose()
    }
}
