//! Clauses of the analytics aggregations.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::{new_bot, signup};
use crate::analytics::{AnalyticsQuery, bot_analytics};
use crate::domain::{
    AnalyticsInterval, BucketGrid, IntentCount, LlmCall, MessageDirection, NewMessage, NewSession,
    Rating, Session, SessionState, SessionStatus,
};
use crate::id::{BotId, OrgId};
use crate::store::Store;

/// How long the bot takes to answer a quick question in this clause, and a hard one.
const QUICK: Duration = Duration::from_millis(30);
const HARD: Duration = Duration::from_millis(90);

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

/// A user's message a classifier read, recognised as `intent` (`None`: below the threshold).
async fn say(store: &dyn Store, session: &Session, text: &str, intent: Option<&str>) {
    let mut message = NewMessage::text(MessageDirection::Inbound, text);
    message.intent = intent.map(str::to_owned);
    message.confidence = Some(if intent.is_some() { 0.9 } else { 0.2 });
    store
        .append_message(session.org_id, session.id, message)
        .await
        .unwrap();
}

/// The bot's reply after `thinking`; returns its id.
async fn reply(
    store: &dyn Store,
    session: &Session,
    thinking: Duration,
    reply: NewMessage,
) -> crate::id::MessageId {
    tokio::time::sleep(thinking).await;
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
    let started = Utc::now();
    let rated_down = reply(store, &alice, QUICK, answer()).await;
    say(store, &alice, "something odd", None).await;
    let mut handoff = NewMessage::text(MessageDirection::Outbound, "a person will reply");
    handoff.payload = json!({ "handoff": "waiting" });
    reply(store, &alice, QUICK, handoff).await;
    store
        .append_message(
            org.id,
            alice.id,
            NewMessage::text(MessageDirection::Agent, "hello, I am Sam"),
        )
        .await
        .unwrap();
    // The visitor writes again during the handoff: the reminder is not another handoff.
    say(store, &alice, "still there?", Some("greet")).await;
    let mut reminder = NewMessage::text(MessageDirection::Outbound, "a person will answer");
    reminder.payload = json!({ "handoff": "reminder" });
    store
        .append_message(org.id, alice.id, reminder)
        .await
        .unwrap();
    // Bob on the web: a greeting, answered and rated up, then a word no classifier read.
    let bob = open(store, org.id, bot.id, "web", "bob").await;
    say(store, &bob, "hello", Some("greet")).await;
    let hi = NewMessage::text(MessageDirection::Outbound, "hi");
    let rated_up = reply(store, &bob, HARD, hi).await;
    let unclassified = NewMessage::text(MessageDirection::Inbound, "thanks");
    store
        .append_message(org.id, bob.id, unclassified)
        .await
        .unwrap();
    let welcome = NewMessage::text(MessageDirection::Outbound, "welcome");
    reply(store, &bob, HARD, welcome).await;
    // Alice again, on Telegram (another user): an order, answered slowly.
    let telegram = open(store, org.id, bot.id, "telegram", "alice").await;
    say(store, &telegram, "one pizza", Some("order")).await;
    let noted = NewMessage::text(MessageDirection::Outbound, "noted");
    reply(store, &telegram, HARD, noted).await;
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
    assert_eq!(totals.messages_in, 6);
    assert_eq!(
        totals.messages_out, 7,
        "Alice's two replies, the agent's and the reminder, Bob's two, Telegram's"
    );
    assert_eq!(totals.unique_users, 3, "a user is a channel and an id");
    assert_eq!(
        totals.classified_messages, 5,
        "Bob's thanks was not classified"
    );
    assert_eq!(totals.fallbacks, 1);
    assert_eq!(totals.fallback_rate(), Some(0.2));
    assert_eq!(totals.handoffs, 1, "the reminder is no new handoff");
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
    // Answers at once (the reminder), after 30, 30, 90, 90 and 90 ms (and a little): the
    // median of an even count is the mean of the two middle ones, 60 ms and a little, not
    // the lower one.
    let median = totals.median_response_ms.expect("six answered messages");
    assert!(
        (60.0..10_000.0).contains(&median),
        "median response {median} ms"
    );
    assert_eq!(
        report.top_intents,
        vec![
            IntentCount {
                intent: "greet".into(),
                count: 3
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
    assert!(report.series[0].start <= query.since());
    let sum = |f: fn(&crate::domain::ActivityCounts) -> u64| {
        report.series.iter().map(|b| f(&b.counts)).sum::<u64>()
    };
    assert_eq!(sum(|c| c.conversations), 3);
    assert_eq!(sum(|c| c.messages_in), 6);
    assert_eq!(sum(|c| c.messages_out), 7);
    assert_eq!(sum(|c| c.feedback_up + c.feedback_down), 2);

    // A grid whose origin and start fall between bucket boundaries: bucket 1 of 7-minute
    // buckets from ten minutes before holds it all (the writes took well under 4 minutes).
    let grid = BucketGrid {
        since: started - TimeDelta::minutes(5),
        until: now + TimeDelta::hours(1),
        origin: started - TimeDelta::minutes(10),
        width: TimeDelta::minutes(7),
    };
    let activity = store.bot_activity(org.id, bot.id, &grid).await.unwrap();
    assert_eq!(activity.len(), 1, "{activity:?}");
    assert_eq!(activity[0].0, 1);
    assert_eq!(activity[0].1.messages_in, 6);

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
