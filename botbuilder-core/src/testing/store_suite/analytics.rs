//! Clauses of the analytics aggregations.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::{new_bot, signup};
use crate::analytics::{AnalyticsQuery, bot_analytics};
use crate::domain::{
    AnalyticsInterval, IntentCount, LlmCall, MessageDirection, NewMessage, NewSession, Rating,
    Session, SessionState, SessionStatus,
};
use crate::id::{BotId, OrgId};
use crate::store::Store;

/// How long the bot takes to answer in this clause: the lower bound of the median response.
const THINKING: Duration = Duration::from_millis(30);

async fn open(store: &dyn Store, org: OrgId, bot: BotId, channel: &str, user: &str) -> Session {
    store
        .create_session(
            org,
            bot,
            NewSession {
                channel: channel.into(),
                external_user: user.into(),
                flow_version: None,
            },
        )
        .await
        .unwrap()
}

/// A user's message recognised as `intent` (`None`: not recognised).
async fn say(store: &dyn Store, session: &Session, text: &str, intent: Option<&str>) {
    let mut message = NewMessage::text(MessageDirection::Inbound, text);
    message.intent = intent.map(str::to_owned);
    message.confidence = intent.map(|_| 0.9);
    store
        .append_message(session.org_id, session.id, message)
        .await
        .unwrap();
}

/// The bot's reply after [`THINKING`]; returns its id.
async fn reply(store: &dyn Store, session: &Session, reply: NewMessage) -> crate::id::MessageId {
    tokio::time::sleep(THINKING).await;
    let current = store.get_session(session.org_id, session.id).await.unwrap();
    let (_, stored) = store
        .complete_turn(
            session.org_id,
            session.id,
            current.revision,
            vec![reply],
            SessionStatus::Active,
            SessionState::default(),
        )
        .await
        .unwrap();
    stored[0].id
}

fn answer() -> NewMessage {
    let mut message = NewMessage::text(MessageDirection::Outbound, "answer");
    message.llm = Some(LlmCall {
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        prompt_tokens: 10,
        completion_tokens: 2,
        cost_micros: 100,
        estimated: false,
    });
    message
}

/// A bot's sessions, messages, users, fallbacks, handoffs, feedback, response times and
/// spend are counted in the window and its buckets; another bot's and another organization's
/// are not, and another organization reads nothing of this bot.
pub async fn analytics_count_a_bots_conversations_by_bucket(store: &dyn Store) {
    let (_, org) = signup(store, "analytics").await;
    let (_, other_org) = signup(store, "analytics-other").await;
    let bot = store.create_bot(org.id, new_bot("counted")).await.unwrap();
    let sibling = store.create_bot(org.id, new_bot("sibling")).await.unwrap();
    let stranger = store.create_bot(other_org.id, new_bot("x")).await.unwrap();

    // Alice on the web: a greeting answered by a model (rated down), then a question nobody
    // recognised, answered by starting a handoff, and an agent's message.
    let alice = open(store, org.id, bot.id, "web", "alice").await;
    say(store, &alice, "hi", Some("greet")).await;
    let rated_down = reply(store, &alice, answer()).await;
    say(store, &alice, "something odd", None).await;
    let mut handoff = NewMessage::text(MessageDirection::Outbound, "a person will reply");
    handoff.payload = json!({ "handoff": "waiting" });
    reply(store, &alice, handoff).await;
    store
        .append_message(
            org.id,
            alice.id,
            NewMessage::text(MessageDirection::Agent, "hello, I am Sam"),
        )
        .await
        .unwrap();
    // Bob on the web: a greeting, answered and rated up.
    let bob = open(store, org.id, bot.id, "web", "bob").await;
    say(store, &bob, "hello", Some("greet")).await;
    let rated_up = reply(
        store,
        &bob,
        NewMessage::text(MessageDirection::Outbound, "hi"),
    )
    .await;
    // Alice again, on Telegram (another user): an order, not answered.
    let telegram = open(store, org.id, bot.id, "telegram", "alice").await;
    say(store, &telegram, "one pizza", Some("order")).await;
    store
        .set_feedback(org.id, rated_down, Rating::Down, None)
        .await
        .unwrap();
    store
        .set_feedback(org.id, rated_up, Rating::Up, None)
        .await
        .unwrap();
    // Not counted: another bot of the organization, and another organization's bot.
    let elsewhere = open(store, org.id, sibling.id, "web", "carol").await;
    say(store, &elsewhere, "hi", Some("greet")).await;
    let foreign = open(store, other_org.id, stranger.id, "web", "dave").await;
    say(store, &foreign, "hi", Some("greet")).await;

    let now = Utc::now();
    let query = AnalyticsQuery::new(
        bot.id,
        now - TimeDelta::hours(1),
        now + TimeDelta::hours(1),
        AnalyticsInterval::Hour,
    )
    .unwrap();
    let report = bot_analytics(store, org.id, &query).await.unwrap();
    let totals = &report.totals;
    assert_eq!(totals.conversations, 3);
    assert_eq!(totals.active_conversations, 3);
    assert_eq!(totals.messages_in, 4);
    assert_eq!(
        totals.messages_out, 4,
        "two replies of Alice's, the agent's, Bob's"
    );
    assert_eq!(totals.unique_users, 3, "a user is a channel and an id");
    assert_eq!(totals.fallbacks, 1);
    assert_eq!(totals.fallback_rate(), Some(0.25));
    assert_eq!(totals.handoffs, 1);
    assert_eq!(totals.handoff_rate(), Some(1.0 / 3.0));
    assert_eq!((totals.feedback_up, totals.feedback_down), (1, 1));
    assert_eq!(
        (
            totals.prompt_tokens,
            totals.completion_tokens,
            totals.cost_micros
        ),
        (10, 2, 100)
    );
    let median = totals.median_response_ms.expect("three answered messages");
    assert!(
        (THINKING.as_millis() as f64..10_000.0).contains(&median),
        "median response {median} ms"
    );
    assert_eq!(
        report.top_intents,
        vec![
            IntentCount {
                intent: "greet".into(),
                count: 2
            },
            IntentCount {
                intent: "order".into(),
                count: 1
            },
        ]
    );

    // The series: every hour of the window, in order, adding up to the totals.
    assert!(
        (2..=3).contains(&report.series.len()),
        "{:?}",
        report.series
    );
    assert!(
        report
            .series
            .windows(2)
            .all(|w| w[1].start - w[0].start == TimeDelta::hours(1))
    );
    assert!(report.series[0].start <= query.since);
    let sum = |f: fn(&crate::domain::ActivityCounts) -> u64| {
        report.series.iter().map(|b| f(&b.counts)).sum::<u64>()
    };
    assert_eq!(sum(|c| c.conversations), 3);
    assert_eq!(sum(|c| c.messages_in), 4);
    assert_eq!(sum(|c| c.messages_out), 4);
    assert_eq!(sum(|c| c.feedback_up + c.feedback_down), 2);

    // A window before it all holds nothing; another organization sees nothing of the bot.
    let before = AnalyticsQuery::new(
        bot.id,
        now - TimeDelta::days(3),
        now - TimeDelta::days(1),
        AnalyticsInterval::Day,
    )
    .unwrap();
    let empty = bot_analytics(store, org.id, &before).await.unwrap();
    assert_eq!(empty.totals, Default::default());
    assert!(empty.series.iter().all(|b| b.counts == Default::default()));
    assert!(empty.top_intents.is_empty());
    let foreign_view = bot_analytics(store, other_org.id, &query).await.unwrap();
    assert_eq!(foreign_view.totals, Default::default());
    assert!(foreign_view.top_intents.is_empty());
}
