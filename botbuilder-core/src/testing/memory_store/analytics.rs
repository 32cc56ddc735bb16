//! [`AnalyticsRepo`] for the in-memory store: the same counts as the SQL backends, by walking
//! the maps.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::InMemoryStore;
use crate::domain::{
    ActivityCounts, BucketGrid, IntentCount, Message, MessageDirection, Rating, median_ms,
    starts_handoff,
};
use crate::id::{BotId, OrgId, SessionId};
use crate::store::{AnalyticsRepo, StoreResult};
use crate::validate::NONE_INTENT;

/// One bucket while counting: the distinct sets and response times behind its counts.
#[derive(Default)]
struct Tally {
    counts: ActivityCounts,
    active: HashSet<SessionId>,
    users: HashSet<(String, String)>,
    handed_over: HashSet<SessionId>,
    responses: Vec<i64>,
}

fn micros_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX)
}

#[async_trait]
impl AnalyticsRepo for InMemoryStore {
    async fn bot_activity(
        &self,
        org: OrgId,
        bot: BotId,
        grid: &BucketGrid,
    ) -> StoreResult<Vec<(usize, ActivityCounts)>> {
        let data = self.data();
        let in_window = |at: DateTime<Utc>| at >= grid.since && at < grid.until;
        let mut tallies: BTreeMap<usize, Tally> = BTreeMap::new();
        for session in data.sessions.values() {
            if session.org_id == org && session.bot_id == bot && in_window(session.created_at) {
                let tally = tallies
                    .entry(grid.index_of(session.created_at))
                    .or_default();
                tally.counts.conversations += 1;
            }
        }
        let mut by_session: BTreeMap<SessionId, Vec<&Message>> = BTreeMap::new();
        for message in data.messages.values() {
            if message.org_id == org && message.bot_id == bot && in_window(message.created_at) {
                by_session
                    .entry(message.session_id)
                    .or_default()
                    .push(message);
            }
        }
        for (session_id, mut messages) in by_session {
            messages.sort_by_key(|m| m.id);
            let Some(session) = data.sessions.get(&session_id) else {
                continue;
            };
            for (i, message) in messages.iter().enumerate() {
                let tally = tallies
                    .entry(grid.index_of(message.created_at))
                    .or_default();
                let counts = &mut tally.counts;
                counts.prompt_tokens += u64::from(message.prompt_tokens);
                counts.completion_tokens += u64::from(message.completion_tokens);
                counts.cost_micros += message.cost_micros;
                if message.direction != MessageDirection::Inbound {
                    counts.messages_out += 1;
                    if message.direction == MessageDirection::Outbound
                        && starts_handoff(&message.payload)
                    {
                        tally.handed_over.insert(session_id);
                    }
                    continue;
                }
                counts.messages_in += 1;
                // A classifier read it when it has a confidence (the bot had intents).
                if message.confidence.is_some() {
                    counts.classified_messages += 1;
                    if message.intent.as_deref().is_none_or(|i| i == NONE_INTENT) {
                        counts.fallbacks += 1;
                    }
                }
                tally.active.insert(session_id);
                tally
                    .users
                    .insert((session.channel.clone(), session.external_user.clone()));
                if let Some(next) = messages.get(i + 1)
                    && next.direction == MessageDirection::Outbound
                {
                    tally
                        .responses
                        .push(micros_between(message.created_at, next.created_at));
                }
            }
        }
        for (message_id, feedback) in &data.feedback {
            let Some(message) = data.messages.get(message_id) else {
                continue;
            };
            if feedback.org_id != org || message.bot_id != bot || !in_window(message.created_at) {
                continue;
            }
            let counts = &mut tallies
                .entry(grid.index_of(message.created_at))
                .or_default()
                .counts;
            match feedback.rating {
                Rating::Up => counts.feedback_up += 1,
                Rating::Down => counts.feedback_down += 1,
            }
        }
        Ok(tallies
            .into_iter()
            .map(|(index, mut tally)| {
                tally.counts.active_conversations = tally.active.len() as u64;
                tally.counts.unique_users = tally.users.len() as u64;
                tally.counts.handoffs = tally.handed_over.len() as u64;
                tally.counts.median_response_ms = median_ms(&mut tally.responses);
                (index, tally.counts)
            })
            .collect())
    }

    async fn top_intents(
        &self,
        org: OrgId,
        bot: BotId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<IntentCount>> {
        let data = self.data();
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for message in data.messages.values() {
            if message.org_id != org
                || message.bot_id != bot
                || message.direction != MessageDirection::Inbound
                || message.created_at < since
                || message.created_at >= until
            {
                continue;
            }
            if let Some(intent) = message.intent.as_deref().filter(|i| *i != NONE_INTENT) {
                *counts.entry(intent).or_default() += 1;
            }
        }
        let mut ranked: Vec<IntentCount> = counts
            .into_iter()
            .map(|(intent, count)| IntentCount {
                intent: intent.to_owned(),
                count,
            })
            .collect();
        // Stable: equal counts stay in name order.
        ranked.sort_by_key(|c| std::cmp::Reverse(c.count));
        ranked.truncate(limit as usize);
        Ok(ranked)
    }
}
