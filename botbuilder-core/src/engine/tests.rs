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
async fn ask_validates_reprompts_and_conditions_route_to_handoff() {
    let w = world().await;
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "hello", "type": "message", "data": { "text": "Welcome!", "buttons": [{ "title": "Help", "payload": "help" }] } },
            { "id": "ask", "type": "ask", "data": { "prompt": "Your email?", "variable": "email",
                "validation": { "type": "builtin", "builtin": "email" }, "retry_prompt": "That is not an email." } },
            { "id": "check", "type": "condition", "data": { "rules": [
                { "handle": "vip", "variable": "email", "op": "contains", "value": "vip" } ] } },
            { "id": "human", "type": "handoff", "data": { "message": "Connecting you, {{email}}." } },
            { "id": "bye", "type": "end", "data": { "message": "Thanks {{email}}!" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "hello" },
            { "id": "e2", "source": "hello", "target": "ask" },
            { "id": "e3", "source": "ask", "sourceHandle": "valid", "target": "check" },
            { "id": "e4", "source": "check", "sourceHandle": "vip", "target": "human" },
            { "id": "e5", "source": "check", "sourceHandle": "fallback", "target": "bye" }
        ]
    }))
    .await;
    let mut events = w.engine.subscribe();

    let first = w.say("hi").await;
    assert_eq!(texts(&first), vec!["Welcome!", "Your email?"]);
    assert_eq!(first.replies[0].payload["buttons"][0]["payload"], "help");
    assert_eq!(first.session.flow_version, Some(1));

    let retry = w.say("not telling").await;
    assert_eq!(texts(&retry), vec!["That is not an email.", "Your email?"]);

    let handed = w.say("VIP@Example.com").await;
    assert_eq!(texts(&handed), vec!["Connecting you, vip@example.com."]);
    assert_eq!(handed.session.status, SessionStatus::Handoff);

    // During the handoff the visitor is told, once, that a person will answer; the bot says
    // nothing else, and every message is stored.
    let waiting = w.say("hello?").await;
    assert_eq!(texts(&waiting), vec![HANDOFF_WAIT_REPLY]);
    assert_eq!(waiting.replies[0].payload["handoff"], "waiting");
    let silent = w.say("anyone there?").await;
    assert!(silent.replies.is_empty());
    assert_eq!(silent.inbound.text, "anyone there?");
    assert!(
        w.llm.requests().is_empty(),
        "no model call in a scripted flow"
    );

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(match event {
            EngineEvent::SessionStarted(_) => "started",
            EngineEvent::MessageReceived(_) => "received",
            EngineEvent::MessageSent(_) => "sent",
            EngineEvent::HandoffRequested(_) => "handoff",
            EngineEvent::FeedbackCreated(_) => "feedback",
            EngineEvent::SpendLimitReached { .. } => "spend",
        });
    }
    assert_eq!(seen.first(), Some(&"started"));
    assert!(seen.contains(&"handoff"));

    let rated = w
        .engine
        .record_feedback(w.org, handed.replies[0].id, Rating::Up, None)
        .await
        .unwrap();
    assert!(matches!(
        events.try_recv(),
        Ok(EngineEvent::FeedbackCreated(f)) if f == rated
    ));
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
            body: r#"{"status":"shipped"}"#.into(),
        })
    }
}

#[tokio::test]
async fn http_request_nodes_call_the_fetcher_with_rendered_templates() {
    let w = world().await;
    let fetcher = Arc::new(CannedFetcher::default());
    let engine = Engine::builder()
        .store(w.store.clone())
        .provider(w.llm.clone())
        .fetcher(fetcher.clone())
        .build()
        .unwrap();
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "ask", "type": "ask", "data": { "prompt": "Order?", "variable": "order" } },
            { "id": "call", "type": "http_request", "data": {
                "method": "POST", "url": "https://api.example.com/orders/{{order}}",
                "headers": { "x-order": "{{order}}" }, "body": "{\"id\":\"{{order}}\"}", "save_as": "lookup" } },
            { "id": "tell", "type": "message", "data": { "text": "Status: {{lookup.body.status}} ({{lookup.status}})" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "ask" },
            { "id": "e2", "source": "ask", "sourceHandle": "valid", "target": "call" },
            { "id": "e3", "source": "call", "target": "tell" }
        ]
    }))
    .await;
    engine.handle(w.inbound("hi")).await.unwrap();
    let turn = engine.handle(w.inbound("A-17")).await.unwrap();
    assert_eq!(texts(&turn), vec!["Status: shipped (200)"]);
    let requests = fetcher.0.lock().unwrap().clone();
    assert_eq!(requests[0].url, "https://api.example.com/orders/A-17");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].headers,
        vec![("x-order".to_owned(), "A-17".to_owned())]
    );
    assert_eq!(requests[0].body.as_deref(), Some(r#"{"id":"A-17"}"#));

    // Without a fetcher the node records why and the flow goes on.
    let asked = w.engine.handle(w.inbound("again")).await.unwrap();
    assert_eq!(texts(&asked), vec!["Order?"]);
    let unfetched = w.engine.handle(w.inbound("B-2")).await.unwrap();
    assert_eq!(texts(&unfetched), vec!["Status:  (0)"]);
    let variables = &unfetched.session.state.variables;
    assert_eq!(
        variables["lookup"]["error"],
        "http requests are not enabled"
    );
}

/// A loop through an HTTP node (saved before loops were refused) calls the API a few times at
/// most, then the turn stops like at the step bound.
#[tokio::test]
async fn a_looping_http_node_calls_out_a_bounded_number_of_times() {
    let w = world().await;
    let fetcher = Arc::new(CannedFetcher::default());
    let engine = Engine::builder()
        .store(w.store.clone())
        .provider(w.llm.clone())
        .fetcher(fetcher.clone())
        .build()
        .unwrap();
    let flow: Flow = serde_json::from_value(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "call", "type": "http_request", "data": {
                "url": "https://api.example.com/poll", "save_as": "poll" } },
            { "id": "again", "type": "jump", "data": { "target": "call" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "call" },
            { "id": "e2", "source": "call", "target": "again" }
        ]
    }))
    .unwrap();
    w.store.publish_flow(w.org, w.bot, flow).await.unwrap();
    let turn = engine.handle(w.inbound("go")).await.unwrap();
    assert_eq!(texts(&turn), vec![FLOW_FAILED_REPLY]);
    let calls = fetcher.0.lock().unwrap().len();
    assert_eq!(calls, MAX_HTTP_REQUESTS_PER_TURN as usize);
}

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
    let (last, deltas) = events.split_last().unwrap();
    let streamed: String = deltas
        .iter()
        .map(|e| match e {
            TurnEvent::TextDelta(d) => d.as_str(),
            TurnEvent::Done(_) => panic!("done comes last"),
        })
        .collect();
    assert!(deltas.len() > 3, "word by word: {deltas:?}");
    assert_eq!(streamed, "We open at nine every day.");
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

fn w_inbound(org: OrgId) -> Inbound {
    Inbound {
        org,
        bot: BotId::new(),
        channel: "web".into(),
        external_user: "x".into(),
        text: "hi".into(),
    }
}

#[tokio::test]
async fn history_is_fitted_to_the_context_window_and_cost_is_recorded() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Arc::new(InMemoryStore::new(clock.clone()));
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "p@example.com".into(),
                name: "P".into(),
                password_hash: "x".into(),
            },
            NewOrganization { name: "P".into() },
        )
        .await
        .unwrap();
    let bot = store
        .create_bot(
            org.id,
            NewBot {
                name: "Priced".into(),
                ai_config: AiConfig {
                    provider: "openai".into(),
                    model: "gpt-3.5-turbo".into(),
                    max_tokens: 100,
                    ..AiConfig::default()
                },
                ..NewBot::default()
            },
        )
        .await
        .unwrap();
    let llm = Arc::new(ScriptedLlm::with_id("openai").with_model_info(ModelInfo {
        context_window: 16_385,
        price: Some(Price {
            input_per_mtok: 0.5,
            output_per_mtok: 1.5,
        }),
    }));
    let engine = Engine::builder()
        .store(store.clone())
        .provider(llm.clone())
        .clock(clock)
        .config(EngineConfig {
            history_window: 1_000,
            ..EngineConfig::default()
        })
        .build()
        .unwrap();
    let say = |text: String| Inbound {
        org: org.id,
        bot: bot.id,
        channel: "api".into(),
        external_user: "u".into(),
        text,
    };
    // 40 turns of ~300-token messages (24k tokens) against gpt-3.5-turbo's 16,385 window.
    let long = "lorem ipsum ".repeat(150);
    for i in 0..40 {
        llm.push_answer(format!("{i} {long}"));
        engine.handle(say(format!("{i} {long}"))).await.unwrap();
    }
    let last = llm.requests().pop().unwrap();
    let tokens: u32 = last
        .messages
        .iter()
        .map(|m| crate::prompt::count_tokens("gpt-3.5-turbo", &m.content) + 3)
        .sum();
    assert!(
        tokens + 3 + 100 <= 16_385,
        "{tokens} tokens leave room for the answer"
    );
    assert!(last.messages.len() < 79, "older history was dropped");
    assert!(last.messages.len() > 40, "but as much as fits is kept");
    assert!(
        last.messages[last.messages.len() - 2]
            .content
            .starts_with("38 "),
        "newest kept"
    );
    assert!(last.messages.last().unwrap().content.starts_with("39 "));
    let turn = {
        llm.push_answer("ok");
        engine.handle(say("cost?".into())).await.unwrap()
    };
    // ScriptedLlm reports 1 prompt token and 1 word: $0.50/M in, $1.50/M out.
    assert_eq!(turn.usage.prompt_tokens, 1);
    assert_eq!(turn.usage.completion_tokens, 1);
    assert_eq!(turn.cost_micros, 2, "0.5 + 1.5 micro-dollars");
    assert_eq!(turn.replies[0].cost_micros, 2, "stored with the message");
}

/// A bot on `primary` with `backup` as its fallback, both scripted.
async fn chain_world() -> (World, Arc<ScriptedLlm>) {
    let w = world().await;
    let backup = Arc::new(ScriptedLlm::with_id("backup"));
    let engine = Engine::builder()
        .store(w.store.clone())
        .provider(w.llm.clone())
        .provider(backup.clone())
        .clock(w.clock.clone())
        .build()
        .unwrap();
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "scripted".into(),
                    fallback_provider: Some("backup".into()),
                    fallback_model: Some("backup-large".into()),
                    ..AiConfig::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    (World { engine, ..w }, backup)
}

fn transient() -> ProviderError {
    ProviderError::Transient("HTTP 500".into())
}

#[tokio::test]
async fn a_failing_primary_hands_the_answer_to_the_fallback_and_the_reply_says_so() {
    let (w, backup) = chain_world().await;
    w.llm.push_failure(transient());
    backup.push_answer("from the backup");
    let turn = w.say("hello").await;
    assert_eq!(turn.replies[0].text, "from the backup");
    let llm = &turn.replies[0].payload["llm"];
    assert_eq!(llm["provider"], "backup");
    assert_eq!(llm["model"], "backup-large");
    assert_eq!(llm["fallback"], true);
    assert_eq!(
        llm["attempts"],
        json!([{ "provider": "scripted", "model": AiConfig::DEFAULT_MODEL, "error": "transient" }])
    );
    assert_eq!(backup.requests()[0].model, "backup-large");

    // Rate limits and refused credentials also move on; the primary answers when it can.
    w.llm
        .push_failure(ProviderError::RateLimited { retry_after: None });
    backup.push_answer("again the backup");
    assert_eq!(
        w.say("more").await.replies[0].payload["llm"]["fallback"],
        true
    );
    w.llm.push_failure(ProviderError::Unauthorized);
    assert_eq!(
        w.say("more").await.replies[0].payload["llm"]["fallback"],
        true
    );
    let direct = w.say("and now?").await;
    assert_eq!(direct.replies[0].payload["llm"]["provider"], "scripted");
    assert_eq!(direct.replies[0].payload["llm"]["fallback"], false);
    assert!(direct.replies[0].payload["llm"].get("attempts").is_none());
}

#[tokio::test]
async fn when_nothing_can_answer_the_visitor_gets_the_unavailable_message_and_no_error() {
    let (w, backup) = chain_world().await;
    w.llm.push_failure(transient());
    backup.push_failure(ProviderError::Unauthorized);
    let turn = w.say("hello").await;
    assert_eq!(
        turn.replies[0].text,
        BotSettings::DEFAULT_UNAVAILABLE_MESSAGE
    );
    assert_eq!(turn.replies[0].payload["error"], PROVIDER_UNAVAILABLE);
    assert_eq!(
        turn.replies[0].payload["llm"]["attempts"],
        json!([
            { "provider": "scripted", "model": AiConfig::DEFAULT_MODEL, "error": "transient" },
            { "provider": "backup", "model": "backup-large", "error": "unauthorized" },
        ])
    );
    assert_eq!(turn.cost_micros, 0);

    // A request the provider refuses as such is not sent elsewhere.
    w.llm
        .push_failure(ProviderError::Permanent("invalid model".into()));
    let refused = w.say("hello").await;
    assert_eq!(refused.replies[0].payload["error"], PROVIDER_UNAVAILABLE);
    assert_eq!(backup.requests().len(), 1, "the backup was not asked again");

    // The bot's own message, and a provider the deployment does not have.
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "anthropic".into(),
                    ..AiConfig::default()
                }),
                settings: Some(BotSettings {
                    unavailable_message: "We are closed for now.".into(),
                    ..BotSettings::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    w.engine.invalidate_bot(w.bot);
    let closed = w.say("hello").await;
    assert_eq!(closed.replies[0].text, "We are closed for now.");
    assert_eq!(
        closed.replies[0].payload["llm"]["attempts"][0]["error"],
        "unknown_provider"
    );
    let bot = w.store.get_bot(w.org, w.bot).await.unwrap();
    assert_eq!(
        w.engine.provider_status(w.org, &bot.ai_config).await,
        ProviderStatus::UnknownProvider
    );
    assert_eq!(
        w.engine
            .provider_status(
                w.org,
                &AiConfig {
                    provider: "scripted".into(),
                    ..AiConfig::default()
                }
            )
            .await,
        ProviderStatus::Ready
    );
}

#[tokio::test]
async fn a_stream_that_breaks_after_text_keeps_the_text_with_estimated_usage() {
    use futures::StreamExt as _;
    let (w, backup) = chain_world().await;
    let engine = Arc::new(w.engine);
    w.llm.push_broken_stream("half an ", transient());
    let events: Vec<_> = engine
        .handle_stream(Inbound {
            org: w.org,
            bot: w.bot,
            channel: "web".into(),
            external_user: "visitor".into(),
            text: "tell me".into(),
        })
        .collect()
        .await;
    let Some(Ok(TurnEvent::Done(turn))) = events.last() else {
        panic!("the turn completes: {events:?}");
    };
    let reply = &turn.replies[0];
    assert_eq!(reply.text, "half an ");
    assert_eq!(reply.payload["llm"]["usage_estimated"], true);
    assert_eq!(reply.payload["llm"]["interrupted"], "transient");
    assert!(reply.completion_tokens > 0, "estimated, not zero");
    assert!(backup.requests().is_empty(), "shown text is not taken back");

    // Broken before any text: the fallback answers, streamed.
    w.llm.push_failure(transient());
    backup.push_answer("whole answer");
    let events: Vec<_> = engine
        .handle_stream(Inbound {
            org: w.org,
            bot: w.bot,
            channel: "web".into(),
            external_user: "visitor".into(),
            text: "again".into(),
        })
        .collect()
        .await;
    let deltas: String = events
        .iter()
        .filter_map(|e| match e {
            Ok(TurnEvent::TextDelta(d)) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, "whole answer");
}

/// Streams one word, then waits forever; notes when its stream is dropped.
#[derive(Default)]
struct Stalling {
    dropped: Arc<std::sync::atomic::AtomicBool>,
}

struct NoteDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for NoteDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl LlmProvider for Stalling {
    fn id(&self) -> &str {
        "stalling"
    }

    async fn complete(
        &self,
        _req: &crate::llm::ChatRequest,
    ) -> Result<crate::llm::ChatResponse, ProviderError> {
        futures::future::pending().await
    }

    async fn stream(
        &self,
        _req: &crate::llm::ChatRequest,
    ) -> Result<crate::llm::ChatStream, ProviderError> {
        use futures::StreamExt as _;
        let guard = NoteDrop(self.dropped.clone());
        let first =
            futures::stream::iter([Ok(crate::llm::ChatEvent::TextDelta("Once upon ".into()))]);
        let rest = futures::stream::pending().map(move |e| {
            let _keep = &guard;
            e
        });
        Ok(Box::pin(first.chain(rest)))
    }
}

#[tokio::test]
async fn a_listener_that_goes_away_aborts_the_model_call_and_the_turn_is_stored() {
    use futures::StreamExt as _;
    let w = world().await;
    let stalling = Arc::new(Stalling::default());
    let dropped = stalling.dropped.clone();
    let engine = Arc::new(
        Engine::builder()
            .store(w.store.clone())
            .provider(stalling)
            .build()
            .unwrap(),
    );
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "stalling".into(),
                    ..AiConfig::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    let mut events = engine.handle_stream(w.inbound("a story"));
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first, TurnEvent::TextDelta("Once upon ".into()));
    drop(events);
    for _ in 0..100 {
        if dropped.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "upstream dropped"
    );
    let session = w
        .store
        .find_open_session(w.org, w.bot, "web", "visitor")
        .await
        .unwrap()
        .unwrap();
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = w
            .store
            .recent_messages(w.org, session.id, 10)
            .await
            .unwrap();
        if stored.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stored.len(), 2, "the turn is stored: {stored:?}");
    assert_eq!(stored[1].text, "Once upon ");
    assert_eq!(stored[1].payload["llm"]["interrupted"], LISTENER_GONE);
    assert_eq!(stored[1].payload["llm"]["usage_estimated"], true);
}

#[tokio::test]
async fn parallel_turns_cannot_spend_past_the_monthly_limit_by_more_than_one_estimate() {
    use crate::domain::{OrgSettings, OrganizationPatch};
    const PRICE: f64 = 100.0; // micro-dollars per token
    const LIMIT: i64 = 10_000;
    let w = world().await;
    let llm = Arc::new(
        ScriptedLlm::with_id("priced")
            .with_model_info(ModelInfo {
                context_window: 8_192,
                price: Some(Price {
                    input_per_mtok: PRICE,
                    output_per_mtok: PRICE,
                }),
            })
            .with_delay(Duration::from_millis(20)),
    );
    let engine = Arc::new(
        Engine::builder()
            .store(w.store.clone())
            .provider(llm.clone())
            .clock(w.clock.clone())
            .build()
            .unwrap(),
    );
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "priced".into(),
                    max_tokens: 30,
                    ..AiConfig::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    w.store
        .update_org(
            w.org,
            OrganizationPatch {
                settings: Some(OrgSettings {
                    monthly_spend_limit_micros: Some(LIMIT),
                }),
                ..OrganizationPatch::default()
            },
        )
        .await
        .unwrap();
    let twenty_words = "word ".repeat(20);
    for _ in 0..24 {
        llm.push_answer(twenty_words.trim());
    }
    let mut events = engine.subscribe();
    let turns = (0..24).map(|i| {
        let engine = engine.clone();
        let inbound = Inbound {
            external_user: format!("visitor-{i}"),
            ..w.inbound("tell me something")
        };
        tokio::spawn(async move { engine.handle(inbound).await })
    });
    let mut answered = 0;
    let mut refused = 0;
    for turn in futures::future::join_all(turns).await {
        let turn = turn
            .unwrap()
            .expect("a refused call is a reply, not an error");
        let reply = &turn.replies[0];
        if reply.payload["error"] == PROVIDER_UNAVAILABLE {
            assert_eq!(
                reply.payload["llm"]["attempts"][0]["error"],
                "spend_limit_reached"
            );
            assert_eq!(reply.cost_micros, 0);
            refused += 1;
        } else {
            answered += 1;
        }
    }
    let month_start = spend::month_of(w.clock.now());
    let spent = w.store.spend_since(w.org, month_start).await.unwrap();
    // One call costs (1 + 20) tokens at 100 µ$; its worst case is its prompt plus 30 tokens.
    let one_estimate = (20 + 30) * 100;
    assert!(
        answered >= 1 && refused >= 1,
        "{answered} answered, {refused} refused"
    );
    assert!(
        spent <= LIMIT + one_estimate,
        "spent {spent} against {LIMIT}"
    );
    assert_eq!(
        llm.requests().len(),
        answered,
        "refused calls were never made"
    );
    let mut limit_events = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, EngineEvent::SpendLimitReached { .. }) {
            limit_events += 1;
        }
    }
    assert_eq!(limit_events, refused);
    let bot = w.store.get_bot(w.org, w.bot).await.unwrap();
    if spent >= LIMIT {
        assert_eq!(
            engine.provider_status(w.org, &bot.ai_config).await,
            ProviderStatus::SpendLimitReached
        );
    }
}

#[tokio::test]
async fn a_caller_can_give_the_conversation_so_far() {
    use crate::llm::ChatMessage;
    let w = world().await;
    w.say("stored earlier").await;
    let history = vec![
        ChatMessage::system("Answer in French."),
        ChatMessage::user("My name is Ada."),
        ChatMessage::assistant("Hello Ada."),
    ];
    let turn = w
        .engine
        .handle_with_history(w.inbound("What is my name?"), history)
        .await
        .unwrap();
    assert_eq!(turn.replies.len(), 1);
    let sent = w.llm.requests().pop().unwrap();
    let texts: Vec<(ChatRole, &str)> = sent
        .messages
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts[0].1.ends_with("Answer in French."), "{texts:?}");
    assert_eq!(texts[1], (ChatRole::User, "My name is Ada."));
    assert_eq!(texts[2], (ChatRole::Assistant, "Hello Ada."));
    assert_eq!(texts[3], (ChatRole::User, "What is my name?"));
    assert!(
        !texts.iter().any(|(_, t)| t.contains("stored earlier")),
        "the given history replaces the stored one"
    );
}
