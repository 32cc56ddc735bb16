use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::*;
use crate::domain::{
    AiConfig, BotPatch, BotSettings, NewBot, NewIntent, NewOrganization, NewUser, Rating,
};
use crate::flow::Flow;
use crate::llm::{ChatRole, ModelInfo, Price, ProviderError, ProviderStatus};
use crate::store::prelude::*;
use crate::testing::{InMemoryStore, ManualClock, ScriptedLlm};

struct World {
    engine: Engine,
    store: Arc<InMemoryStore>,
    llm: Arc<ScriptedLlm>,
    clock: Arc<ManualClock>,
    org: OrgId,
    bot: BotId,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Arc::new(InMemoryStore::new(clock.clone()));
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "e@example.com".into(),
                name: "E".into(),
                password_hash: "x".into(),
            },
            NewOrganization { name: "O".into() },
        )
        .await
        .unwrap();
    let bot = store
        .create_bot(
            org.id,
            NewBot {
                name: "B".into(),
                description: String::new(),
                ai_config: AiConfig {
                    provider: "scripted".into(),
                    ..AiConfig::default()
                },
                ..NewBot::default()
            },
        )
        .await
        .unwrap();
    let llm = Arc::new(ScriptedLlm::default());
    let engine = Engine::builder()
        .store(store.clone())
        .provider(llm.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    World {
        engine,
        store,
        llm,
        clock,
        org: org.id,
        bot: bot.id,
    }
}

impl World {
    fn inbound(&self, text: &str) -> Inbound {
        Inbound {
            org: self.org,
            bot: self.bot,
            channel: "web".into(),
            external_user: "visitor".into(),
            text: text.into(),
        }
    }

    async fn say(&self, text: &str) -> Turn {
        self.engine.handle(self.inbound(text)).await.unwrap()
    }

    async fn publish(&self, flow: serde_json::Value) {
        let flow = Flow::parse(flow).unwrap();
        self.store
            .publish_flow(self.org, self.bot, flow)
            .await
            .unwrap();
    }
}

fn texts(turn: &Turn) -> Vec<&str> {
    turn.replies.iter().map(|m| m.text.as_str()).collect()
}

#[tokio::test]
async fn a_bot_without_a_flow_answers_with_its_model_and_remembers_history() {
    let w = world().await;
    w.llm.push_answer("Hello! How can I help?");
    let first = w.say("hi").await;
    assert_eq!(texts(&first), vec!["Hello! How can I help?"]);
    assert_eq!(first.inbound.direction, MessageDirection::Inbound);
    let second = w.say("what can you do?").await;
    assert_eq!(
        second.session.id, first.session.id,
        "the session is resumed"
    );
    let requests = w.llm.requests();
    let last = &requests[1].messages;
    assert_eq!(last[0].role, ChatRole::System);
    let contents: Vec<&str> = last[1..].iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        contents,
        vec!["hi", "Hello! How can I help?", "what can you do?"]
    );
    assert!(second.usage.completion_tokens > 0);
    let stored = w
        .store
        .list_messages(
            w.org,
            first.session.id,
            crate::domain::PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 4, "transcript stored");
}

#[tokio::test]
async fn the_intent_router_follows_the_detected_intent() {
    let w = world().await;
    for (name, examples) in [
        (
            "refund",
            vec!["i want a refund", "give me my money back", "refund please"],
        ),
        (
            "hours",
            vec![
                "when are you open",
                "opening hours",
                "what time do you close",
            ],
        ),
    ] {
        let examples = examples.into_iter().map(str::to_owned).collect();
        w.store
            .create_intent(
                w.org,
                w.bot,
                NewIntent {
                    name: name.into(),
                    examples,
                },
            )
            .await
            .unwrap();
    }
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "route", "type": "intent_router", "data": {} },
            { "id": "refund", "type": "message", "data": { "text": "Refunds take 5 days." } },
            { "id": "hours", "type": "message", "data": { "text": "We open at 9." } },
            { "id": "other", "type": "ai_answer", "data": {} }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "route" },
            { "id": "e2", "source": "route", "sourceHandle": "refund", "target": "refund" },
            { "id": "e3", "source": "route", "sourceHandle": "hours", "target": "hours" },
            { "id": "e4", "source": "route", "sourceHandle": "fallback", "target": "other" }
        ]
    }))
    .await;
    let refund = w.say("I want my money back").await;
    assert_eq!(refund.intent.as_deref(), Some("refund"));
    assert_eq!(texts(&refund), vec!["Refunds take 5 days."]);
    assert_eq!(
        refund.inbound.intent.as_deref(),
        Some("refund"),
        "stored with the message"
    );
    let hours = w.say("what are your opening hours").await;
    assert_eq!(texts(&hours), vec!["We open at 9."]);
    w.llm.push_answer("I can only help with refunds and hours.");
    let other = w.say("zq xv wk").await;
    assert_eq!(other.intent, None);
    assert_eq!(
        texts(&other),
        vec!["I can only help with refunds and hours."]
    );
}

#[tokio::test]
async fn concurrent_messages_of_one_session_apply_in_order() {
    let w = Arc::new(world().await);
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "count", "type": "set_variable", "data": { "variable": "count",
                "value": "{{ (count | default(0) | int) + 1 }}" } }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "count" }]
    }))
    .await;
    w.say("first").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move { w.engine.handle(w.inbound(&format!("m{i}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("no turn is lost");
    }
    let session = w
        .store
        .find_open_session(w.org, w.bot, "web", "visitor")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.state.variables["count"], json!("9"));
    assert_eq!(session.revision, 9);
}

#[tokio::test]
async fn an_idle_session_is_replaced_by_a_new_one() {
    let w = world().await;
    w.llm.push_answer("a");
    let first = w.say("hello").await;
    w.clock.advance(TimeDelta::minutes(31));
    w.llm.push_answer("b");
    let second = w.say("hello again").await;
    assert_ne!(second.session.id, first.session.id);
    let old = w.store.get_session(w.org, first.session.id).await.unwrap();
    assert_eq!(old.status, SessionStatus::Ended);
}

#[tokio::test]
async fn the_idle_timeout_and_nlu_threshold_are_the_bots_own() {
    let w = world().await;
    let settings = BotSettings {
        idle_timeout_secs: 120,
        nlu_threshold: 0.999,
        ..BotSettings::default()
    };
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                settings: Some(settings),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    let examples = ["i want a refund", "refund please", "money back"];
    w.store
        .create_intent(
            w.org,
            w.bot,
            NewIntent {
                name: "refund".into(),
                examples: examples.iter().map(|e| (*e).to_owned()).collect(),
            },
        )
        .await
        .unwrap();
    w.llm.push_answer("a");
    let first = w.say("i want a refund").await;
    assert_eq!(first.intent, None, "below the bot's threshold of 0.999");
    assert_eq!(first.ranking[0].intent, "refund", "still ranked");
    w.clock.advance(TimeDelta::seconds(90));
    w.llm.push_answer("b");
    let same = w.say("still there?").await;
    assert_eq!(same.session.id, first.session.id);
    w.clock.advance(TimeDelta::seconds(121));
    w.llm.push_answer("c");
    let fresh = w.say("hello again").await;
    assert_ne!(fresh.session.id, first.session.id, "two minutes idle");
}

/// A flow saved before loops were refused (or by a program skipping validation) still
/// cannot flood: the turn that hits the step bound answers once, records why, and calls no
/// model.
#[tokio::test]
async fn a_looping_flow_answers_once_at_the_step_bound() {
    let w = world().await;
    let flow: Flow = serde_json::from_value(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "tick", "type": "message", "data": { "text": "tick" } },
            { "id": "ai", "type": "ai_answer", "data": {} },
            { "id": "check", "type": "condition", "data": { "rules": [
                { "handle": "done", "variable": "never", "op": "is_set" } ] } },
            { "id": "out", "type": "end", "data": {} }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "tick" },
            { "id": "e2", "source": "tick", "target": "ai" },
            { "id": "e3", "source": "ai", "target": "check" },
            { "id": "e4", "source": "check", "sourceHandle": "fallback", "target": "tick" },
            { "id": "e5", "source": "check", "sourceHandle": "done", "target": "out" }
        ]
    }))
    .unwrap();
    assert!(!flow.validate().is_empty(), "refused at save");
    w.store.publish_flow(w.org, w.bot, flow).await.unwrap();
    let turn = w.say("go").await;
    assert_eq!(texts(&turn), vec![FLOW_FAILED_REPLY]);
    assert_eq!(turn.replies[0].payload["error"], "flow_step_limit");
    assert!(w.llm.requests().is_empty(), "no model call from the loop");
    let again = w.say("go").await;
    assert_eq!(
        texts(&again),
        vec![FLOW_FAILED_REPLY],
        "the next turn starts over"
    );
}

/// An `ask` without an `invalid` edge never ends a turn empty nor loses the next answer.
#[tokio::test]
async fn an_ask_without_an_invalid_edge_says_so_and_asks_again() {
    let w = world().await;
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "ask", "type": "ask", "data": { "prompt": "Your email?", "variable": "email",
                "validation": { "type": "builtin", "builtin": "email" }, "max_attempts": 2 } },
            { "id": "bye", "type": "end", "data": { "message": "Thanks {{email}}!" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "ask" },
            { "id": "e2", "source": "ask", "sourceHandle": "valid", "target": "bye" }
        ]
    }))
    .await;
    assert_eq!(texts(&w.say("hi").await), vec!["Your email?"]);
    assert_eq!(texts(&w.say("no").await), vec!["Your email?"]);
    assert_eq!(
        texts(&w.say("still no").await),
        vec![NOT_UNDERSTOOD, "Your email?"]
    );
    assert_eq!(
        texts(&w.say("ada@example.com").await),
        vec!["Thanks ada@example.com!"],
        "the answer after the last attempt still counts"
    );
}

/// A flow that ends without a word still answers.
#[tokio::test]
async fn a_silent_flow_still_answers() {
    let w = world().await;
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "route", "type": "intent_router", "data": {} }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "route" }]
    }))
    .await;
    let turn = w.say("anything").await;
    assert_eq!(texts(&turn), vec![NO_REPLY_FALLBACK]);
    assert_eq!(turn.replies[0].payload["error"], "flow_silent");
}

#[tokio::test]
async fn messages_to_a_missing_bot_are_refused() {
    let w = world().await;
    w.store.delete_bot(w.org, w.bot).await.unwrap();
    let err = w.engine.handle(w.inbound("hi")).await.unwrap_err();
    assert!(matches!(err, EngineError::BotNotFound), "{err:?}");
}

/// A fetcher that answers every request with one JSON body and records the requests.
#[tokio::test]
async fn a_streamed_turn_reports_the_answer_token_by_token_then_the_stored_turn() {
    use futures::StreamExt as _;
    let w = world().await;
    let engine = Arc::new(w.engine);
    w.llm.push_answer("We open at nine every day.");
    let events: Vec<TurnEvent> = engine
        .handle_stream(Inbound {
            org: w.org,
            bot: w.bot,
            channel: "web".into(),
            external_user: "streamer".into(),
            text: "when do you open?".into(),
        })
        .map(Result::unwrap)
        .collect()
        .await;
    let (last, before) = events.split_last().unwrap();
    let (reply, deltas) = before.split_last().unwrap();
    let streamed: String = deltas
        .iter()
        .map(|e| match e {
            TurnEvent::TextDelta(d) => d.as_str(),
            other => panic!("unexpected {other:?} before the reply completes"),
        })
        .collect();
    assert!(deltas.len() > 3, "word by word: {deltas:?}");
    assert_eq!(streamed, "We open at nine every day.");
    assert_eq!(
        reply,
        &TurnEvent::Reply {
            text: streamed.clone(),
            streamed: true
        }
    );
    let TurnEvent::Done(turn) = last else {
        panic!("the last event is done")
    };
    assert_eq!(texts(turn), vec!["We open at nine every day."]);
    let stored = w
        .store
        .list_messages(
            w.org,
            turn.session.id,
            crate::domain::PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 2, "stored like any turn");

    let failed: Vec<_> = engine
        .handle_stream(Inbound {
            bot: BotId::new(),
            ..w_inbound(w.org)
        })
        .collect()
        .await;
    assert!(matches!(failed.as_slice(), [Err(EngineError::BotNotFound)]));
}

/// A fetcher answering every request with a canned reply, recording what it was asked.
#[derive(Default)]
struct CannedFetcher(std::sync::Mutex<Vec<crate::fetch::FetchRequest>>);

#[async_trait::async_trait]
impl crate::fetch::Fetcher for CannedFetcher {
    async fn fetch(
        &self,
        request: crate::fetch::FetchRequest,
    ) -> Result<crate::fetch::FetchResponse, crate::fetch::FetchError> {
        self.0.lock().unwrap().push(request);
        Ok(crate::fetch::FetchResponse {
            status: 200,
            content_type: Some("application/json".into()),
            retry_after: None,
            body: r#"{"status":"shipped"}"#.into(),
        })
    }
}

impl World {
    /// An engine on this world's store and model that calls out through a [`CannedFetcher`].
    fn engine_with_fetcher(&self) -> (Arc<CannedFetcher>, Engine) {
        let fetcher = Arc::new(CannedFetcher::default());
        let engine = Engine::builder()
            .store(self.store.clone())
            .provider(self.llm.clone())
            .fetcher(fetcher.clone())
            .build()
            .unwrap();
        (fetcher, engine)
    }
}

fn w_inbound(org: OrgId) -> Inbound {
    Inbound {
        org,
        bot: BotId::new(),
        channel: "web".into(),
        external_user: "x".into(),
        text: "hi".into(),
    }
}

mod handoff;
mod http_nodes;
mod input;
mod providers;
mod tools;
