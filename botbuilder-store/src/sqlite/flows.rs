use async_trait::async_trait;
use botbuilder_core::domain::{FlowDraft, FlowVersion};
use botbuilder_core::flow::Flow;
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{BotRepo, FlowRepo, StoreResult};

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::flows::{VersionRow, graph_json, parse_graph};
use crate::rows::{from_micros, micros};

/// Stores `flow` as the draft of `bot` with `executor`. The upsert only updates a draft of
/// the same organization: another tenant's bot id touches no row and is `NotFound` (the
/// foreign key refuses a fresh insert too).
pub(super) async fn upsert_draft<'e, E>(
    executor: E,
    org: OrgId,
    bot: BotId,
    flow: &Flow,
    now: i64,
) -> StoreResult<()>
where
    E: sqlx::SqliteExecutor<'e>,
{
    let done = sqlx::query(
        "INSERT INTO flow_drafts (bot_id, organization_id, graph, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (bot_id) DO UPDATE SET graph = excluded.graph, updated_at = excluded.updated_at
         WHERE flow_drafts.organization_id = excluded.organization_id",
    )
    .bind(bot.as_uuid())
    .bind(org.as_uuid())
    .bind(graph_json(flow)?)
    .bind(now)
    .execute(executor)
    .await
    .map_err(store_err)?;
    expect_one(done.rows_affected())
}

/// Publishes `flow` as the next version of `bot` with `executor`. One statement computes the
/// next number and inserts it, so two publications cannot take the same version (the
/// primary key would refuse the second anyway).
pub(super) async fn insert_version<'e, E>(
    executor: E,
    org: OrgId,
    bot: BotId,
    flow: &Flow,
    now: i64,
) -> StoreResult<FlowVersion>
where
    E: sqlx::SqliteExecutor<'e>,
{
    sqlx::query_as::<_, VersionRow>(
        "INSERT INTO flow_versions (bot_id, version, organization_id, graph, created_at)
         SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4
         FROM flow_versions WHERE bot_id = ?1
         RETURNING bot_id, version, graph, created_at",
    )
    .bind(bot.as_uuid())
    .bind(org.as_uuid())
    .bind(graph_json(flow)?)
    .bind(now)
    .fetch_one(executor)
    .await
    .map_err(store_err)?
    .try_into()
}

#[async_trait]
impl FlowRepo for SqliteStore {
    async fn get_flow_draft(&self, org: OrgId, bot: BotId) -> StoreResult<Option<FlowDraft>> {
        self.get_bot(org, bot).await?;
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT graph, updated_at FROM flow_drafts WHERE organization_id = ? AND bot_id = ?",
        )
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?;
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
        upsert_draft(&self.writer, org, bot, &flow, now).await?;
        Ok(FlowDraft {
            bot_id: bot,
            flow,
            updated_at: from_micros(now),
        })
    }

    async fn publish_flow(&self, org: OrgId, bot: BotId, flow: Flow) -> StoreResult<FlowVersion> {
        insert_version(&self.writer, org, bot, &flow, micros(self.now())).await
    }

    async fn get_flow_version(
        &self,
        org: OrgId,
        bot: BotId,
        version: u32,
    ) -> StoreResult<FlowVersion> {
        sqlx::query_as::<_, VersionRow>(
            "SELECT bot_id, version, graph, created_at FROM flow_versions
             WHERE organization_id = ? AND bot_id = ? AND version = ?",
        )
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(i64::from(version))
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn latest_flow_version(
        &self,
        org: OrgId,
        bot: BotId,
    ) -> StoreResult<Option<FlowVersion>> {
        self.get_bot(org, bot).await?;
        sqlx::query_as::<_, VersionRow>(
            "SELECT bot_id, version, graph, created_at FROM flow_versions
             WHERE organization_id = ? AND bot_id = ? ORDER BY version DESC LIMIT 1",
        )
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?
        .map(FlowVersion::try_from)
        .transpose()
    }
}
