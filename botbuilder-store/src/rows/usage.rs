//! Sums of the usage ledger (see the [module docs](super)). Each backend computes them in its
//! own dialect, selecting the group's day as `YYYY-MM-DD` text (UTC) and the keys it does not
//! group by as NULL.

use botbuilder_core::domain::UsageRow;
use botbuilder_core::store::{StoreError, StoreResult};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::error::corrupt;

/// One group's sums: `day, bot_id, provider, model, calls, prompt_tokens, completion_tokens,
/// cost_micros`.
#[derive(sqlx::FromRow)]
pub(crate) struct SumRow {
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
