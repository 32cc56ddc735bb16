//! The language model usage ledger ([`UsageRepo`]) on Postgres. The rows are written with the
//! messages a language model wrote (src/postgres/conversations); this reads their sums.
//!
//! What differs from SQLite:
//! - The usage report tolerates replication lag, so it reads from the replica when one is
//!   configured ([`PgStore::tenant_replica`]). What an organization spent is read from the
//!   primary: it enforces spend limits, which must count the calls just made.
//! - A day is `to_char(… AT TIME ZONE 'UTC', 'YYYY-MM-DD')` (SQLite's `date(…, 'unixepoch')`:
//!   the UTC day, whatever the session's time zone), `COLLATE "C"` so days sort as text the
//!   way SQLite sorts them; providers and models are `COLLATE "C"` columns for the same reason.
//! - `SUM` over `bigint` is `numeric` in Postgres, so sums are cast back to `bigint`; the keys a
//!   grouping leaves out are typed NULLs, so they decode as the row's types.

use async_trait::async_trait;
use botbuilder_core::domain::{UsageGrouping, UsageQuery, UsageRow};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{StoreResult, UsageRepo};
use chrono::{DateTime, Utc};

use super::{PgStore, commit};
use crate::error::store_err;
use crate::rows::micros;
use crate::rows::usage::SumRow;

/// The sums, grouped by `$group` (the other key columns are NULL), in group order.
macro_rules! sums {
    ($select:literal, $group:literal) => {
        concat!(
            "SELECT ",
            $select,
            ", COUNT(*) AS calls, SUM(prompt_tokens)::bigint AS prompt_tokens,
                SUM(completion_tokens)::bigint AS completion_tokens,
                SUM(cost_micros)::bigint AS cost_micros
             FROM llm_usage
             WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3
               AND ($4::uuid IS NULL OR bot_id = $4)
             GROUP BY ",
            $group,
            " ORDER BY ",
            $group
        )
    };
}

/// The report's statement for a grouping.
fn report_sql(grouping: UsageGrouping) -> &'static str {
    match grouping {
        UsageGrouping::Day => sums!(
            "to_char(to_timestamp(created_at / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
                 COLLATE \"C\" AS day,
             NULL::uuid AS bot_id, NULL::text AS provider, NULL::text AS model",
            "day"
        ),
        UsageGrouping::Bot => sums!(
            "NULL::text AS day, bot_id, NULL::text AS provider, NULL::text AS model",
            "bot_id"
        ),
        UsageGrouping::Model => sums!(
            "NULL::text AS day, NULL::uuid AS bot_id, provider, model",
            "provider, model"
        ),
    }
}

#[async_trait]
impl UsageRepo for PgStore {
    async fn usage(&self, org: OrgId, query: &UsageQuery) -> StoreResult<Vec<UsageRow>> {
        let mut tx = self.tenant_replica(org).await?;
        let rows = sqlx::query_as::<_, SumRow>(report_sql(query.group_by))
            .bind(org.as_uuid())
            .bind(micros(query.since))
            .bind(micros(query.until))
            .bind(query.bot.map(|b| b.as_uuid()))
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        commit(tx).await?;
        rows.into_iter().map(UsageRow::try_from).collect()
    }

    async fn spend_since(&self, org: OrgId, since: DateTime<Utc>) -> StoreResult<i64> {
        let mut tx = self.tenant(org).await?;
        let spent = sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(SUM(cost_micros), 0)::bigint FROM llm_usage
             WHERE organization_id = $1 AND created_at >= $2",
        )
        .bind(org.as_uuid())
        .bind(micros(since))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        Ok(spent)
    }
}
