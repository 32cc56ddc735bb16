//! Clauses of the usage ledger.

use chrono::{TimeDelta, Utc};

use super::{new_bot, signup};
use crate::domain::{
    LlmCall, MessageDirection, NewMessage, NewSession, SessionState, SessionStatus, UsageGrouping,
    UsageQuery,
};
use crate::store::Store;

fn answer(provider: &str, model: &str, cost_micros: i64) -> NewMessage {
    let mut message = NewMessage::text(MessageDirection::Outbound, "answer");
    message.llm = Some(LlmCall {
        provider: provider.to_owned(),
        model: model.to_owned(),
        prompt_tokens: 10,
        completion_tokens: 2,
        cost_micros,
        estimated: false,
    });
    message
}

/// Calls are summed by day, bot or model within the window (and the bot filter), in key
/// order; they stay counted after their bot is deleted; other organizations see none.
pub async fn usage_is_summed_and_outlives_its_bots(store: &dyn Store) {
    let (_, org) = signup(store, "usage").await;
    let (_, other) = signup(store, "usage-other").await;
    let first = store.create_bot(org.id, new_bot("first")).await.unwrap();
    let second = store.create_bot(org.id, new_bot("second")).await.unwrap();
    for (bot, replies) in [
        (
            first.id,
            vec![
                answer("openai", "gpt-4o-mini", 100),
                NewMessage::text(MessageDirection::Outbound, "no model"),
                answer("anthropic", "claude-haiku-4-5", 200),
            ],
        ),
        (second.id, vec![answer("openai", "gpt-4o-mini", 30)]),
    ] {
        let session = store
            .create_session(
                org.id,
                bot,
                NewSession {
                    channel: "web".into(),
                    external_user: "u".into(),
                    flow_version: None,
                },
            )
            .await
            .unwrap();
        store
            .complete_turn(
                org.id,
                session.id,
                session.revision,
                replies,
                SessionStatus::Active,
                SessionState::default(),
            )
            .await
            .unwrap();
        if bot == second.id {
            store
                .append_message(org.id, session.id, answer("openai", "gpt-4o", 7))
                .await
                .unwrap();
        }
    }
    let now = Utc::now();
    let window = |group_by| UsageQuery {
        bot: None,
        since: now - TimeDelta::hours(1),
        until: now + TimeDelta::hours(1),
        group_by,
    };
    let by_day = store
        .usage(org.id, &window(UsageGrouping::Day))
        .await
        .unwrap();
    assert_eq!(by_day.len(), 1, "{by_day:?}");
    assert_eq!(by_day[0].day, Some(now.date_naive()));
    assert_eq!(
        (
            by_day[0].calls,
            by_day[0].prompt_tokens,
            by_day[0].completion_tokens
        ),
        (4, 40, 8)
    );
    assert_eq!(by_day[0].cost_micros, 337);

    let by_model = store
        .usage(org.id, &window(UsageGrouping::Model))
        .await
        .unwrap();
    let models: Vec<(String, String, u64, i64)> = by_model
        .iter()
        .map(|r| {
            (
                r.provider.clone().unwrap(),
                r.model.clone().unwrap(),
                r.calls,
                r.cost_micros,
            )
        })
        .collect();
    assert_eq!(
        models,
        [
            ("anthropic".into(), "claude-haiku-4-5".into(), 1, 200),
            ("openai".into(), "gpt-4o".into(), 1, 7),
            ("openai".into(), "gpt-4o-mini".into(), 2, 130),
        ]
    );
    let mut only_second = window(UsageGrouping::Bot);
    only_second.bot = Some(second.id);
    let rows = store.usage(org.id, &only_second).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].bot_id, Some(second.id));
    assert_eq!(rows[0].cost_micros, 37);
    let mut later = window(UsageGrouping::Day);
    later.since = now + TimeDelta::minutes(30);
    assert!(store.usage(org.id, &later).await.unwrap().is_empty());

    assert_eq!(
        store
            .spend_since(org.id, now - TimeDelta::hours(1))
            .await
            .unwrap(),
        337
    );
    store.delete_bot(org.id, first.id).await.unwrap();
    assert_eq!(
        store
            .spend_since(org.id, now - TimeDelta::hours(1))
            .await
            .unwrap(),
        337,
        "spend is spend, whatever was deleted since"
    );
    let by_bot = store
        .usage(org.id, &window(UsageGrouping::Bot))
        .await
        .unwrap();
    assert_eq!(by_bot.len(), 2, "the deleted bot's calls are still listed");
    assert!(
        store
            .usage(other.id, &window(UsageGrouping::Day))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .spend_since(other.id, now - TimeDelta::hours(1))
            .await
            .unwrap(),
        0
    );
}
