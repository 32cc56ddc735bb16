use async_trait::async_trait;
use botbuilder_core::domain::{UsageGrouping, UsageQuery, UsageRow};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{StoreError, StoreResult, UsageRepo};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::{corrupt, store_err};
use crate::rows::micros;

#[derive(sqlx::FromRow)]
struct SumRow {
    day: Option<String>,
    bot_id: Option<Uuid>,
    provider: Option<String>,
    model: Option<String>,
    calls: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl TryFrom<SumRow> for UsageRow {
    type Error = StoreError;

    fn try_from(r: SumRow) -> StoreResult<Self> {
        let day = r
            .day
            .map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d"))
            .transpose()
            .map_err(|e| corrupt("day", e))?;
        Ok(UsageRow {
            day,
            bot_id: r.bot_id.map(Into::into),
            provider: r.provider,
            model: r.model,
            calls: count(r.calls),
            prompt_tokens: count(r.prompt_tokens),
            completion_tokens: count(r.completion_tokens),
            cost_micros: r.cost_micros,
        })
    }
}

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
