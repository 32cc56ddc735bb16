//! [`UsageRepo`] for the in-memory store.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::InMemoryStore;
use crate::domain::{UsageGrouping, UsageQuery, UsageRow};
use crate::id::OrgId;
use crate::store::{StoreResult, UsageRepo};

#[async_trait]
impl UsageRepo for InMemoryStore {
    async fn usage(&self, org: OrgId, query: &UsageQuery) -> StoreResult<Vec<UsageRow>> {
        let data = self.data();
        let mut groups: BTreeMap<String, UsageRow> = BTreeMap::new();
        for (o, bot, call, at) in &data.usage {
            if *o != org
                || *at < query.since
                || *at >= query.until
                || query.bot.is_some_and(|b| b != *bot)
            {
                continue;
            }
            let empty = UsageRow {
                day: None,
                bot_id: None,
                provider: None,
                model: None,
                calls: 0,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_micros: 0,
            };
            let (key, row) = match query.group_by {
                UsageGrouping::Day => {
                    let day = at.date_naive();
                    (
                        day.to_string(),
                        UsageRow {
                            day: Some(day),
                            ..empty
                        },
                    )
                }
                UsageGrouping::Bot => (
                    bot.as_uuid().to_string(),
                    UsageRow {
                        bot_id: Some(*bot),
                        ..empty
                    },
                ),
                UsageGrouping::Model => (
                    format!("{}\u{0}{}", call.provider, call.model),
                    UsageRow {
                        provider: Some(call.provider.clone()),
                        model: Some(call.model.clone()),
                        ..empty
                    },
                ),
            };
            let group = groups.entry(key).or_insert(row);
            group.calls += 1;
            group.prompt_tokens += u64::from(call.prompt_tokens);
            group.completion_tokens += u64::from(call.completion_tokens);
            group.cost_micros += call.cost_micros;
        }
        Ok(groups.into_values().collect())
    }

    async fn spend_since(&self, org: OrgId, since: DateTime<Utc>) -> StoreResult<i64> {
        Ok(self
            .data()
            .usage
            .iter()
            .filter(|(o, _, _, at)| *o == org && *at >= since)
            .map(|(_, _, call, _)| call.cost_micros)
            .sum())
    }
}
