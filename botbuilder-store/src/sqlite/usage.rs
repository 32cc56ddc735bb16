use async_trait::async_trait;
use botbuilder_core::domain::{UsageGrouping, UsageQuery, UsageRow};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{StoreResult, UsageRepo};
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::error::store_err;
use crate::rows::micros;
use crate::rows::usage::SumRow;

/// The sums, grouped by `$key` (the other key columns are NULL).
macro_rules! sums {
    ($select:literal, $group:literal) => {
        concat!(
            "SELECT ",
            $select,
            ", COUNT(*) AS calls, SUM(prompt_tokens) AS prompt_tokens,
                SUM(completion_tokens) AS completion_tokens, SUM(cost_micros) AS cost_micros
             FROM llm_usage
             WHERE organization_id = ?1 AND created_at >= ?2 AND created_at < ?3
               AND (?4 IS NULL OR bot_id = ?4)
             GROUP BY ",
            $group,
            " ORDER BY ",
            $group
        )
    };
}

#[async_trait]
impl UsageRepo for SqliteStore {
    async fn usage(&self, org: OrgId, query: &UsageQuery) -> StoreResult<Vec<UsageRow>> {
        let sql = match query.group_by {
            UsageGrouping::Day => sums!(
                "date(created_at / 1000000, 'unixepoch') AS day, NULL AS bot_id,
                 NULL AS provider, NULL AS model",
                "day"
            ),
            UsageGrouping::Bot => sums!(
                "NULL AS day, bot_id, NULL AS provider, NULL AS model",
                "bot_id"
            ),
            UsageGrouping::Model => sums!(
                "NULL AS day, NULL AS bot_id, provider, model",
                "provider, model"
            ),
        };
        sqlx::query_as::<_, SumRow>(sql)
            .bind(org.as_uuid())
            .bind(micros(query.since))
            .bind(micros(query.until))
            .bind(query.bot.map(|b| b.as_uuid()))
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(UsageRow::try_from)
            .collect()
    }

    async fn spend_since(&self, org: OrgId, since: DateTime<Utc>) -> StoreResult<i64> {
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(SUM(cost_micros), 0) FROM llm_usage
             WHERE organization_id = ? AND created_at >= ?",
        )
        .bind(org.as_uuid())
        .bind(micros(since))
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)
    }
}
