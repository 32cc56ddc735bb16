//! A bot built only through the API holds a multi-turn conversation: intents, entities, a
//! flow with buttons, ask, condition, ai_answer and handoff; an agent replies; release
//! resumes the flow; feedback is stored.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email};

fn replies(turn: &Value) -> Vec<String> {
    turn["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn build_bot(app: &TestApp, owner: &Account) -> String {
    let org = &owner.org_id;
    let bot = app.create_bot(owner, org, "Support").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}");
    for (name, examples) in [
        (
            "human",
            vec![
                "talk to a human",
                "i want an agent",
                "real person please",
                "connect me to support staff",
            ],
        ),
        (
            "order",
            vec![
                "where is my order",
                "track my order",
                "order status",
                "my package has not arrived",
            ],
        ),
        ("hello", vec!["hi", "hello", "good morning", "hey there"]),
    ] {
        let r = app
            .post(
                &format!("{base}/intents"),
                &owner.token,
                json!({ "name": name, "examples": examples }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = app
        .post(
            &format!("{base}/entities"),
            &owner.token,
            json!({ "name": "order_id", "kind": { "type": "regex", "pattern": "#(\\d{3,})" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "route", "type": "intent_router", "data": {} },
            { "id": "greet", "type": "message", "data": { "text": "Hello! What can I do?",
                "buttons": [{ "title": "Track an order", "payload": "track my order" }, { "title": "Agent", "payload": "talk to a human" }] } },
            { "id": "ask_id", "type": "ask", "data": { "prompt": "Your order number?", "variable": "number",
                "validation": { "type": "regex", "pattern": "#?\\d{3,}" }, "retry_prompt": "Order numbers look like #123." } },
            { "id": "check", "type": "condition", "data": { "rules": [
                { "handle": "big", "variable": "number", "op": "contains", "value": "999" } ] } },
            { "id": "status", "type": "message", "data": { "text": "Order {{number}} is on its way." } },
            { "id": "human", "type": "handoff", "data": { "message": "Connecting you to a person." } },
            { "id": "ai", "type": "ai_answer", "data": {} }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "route" },
            { "id": "e2", "source": "route", "sourceHandle": "hello", "target": "greet" },
            { "id": "e3", "source": "route", "sourceHandle": "order", "target": "ask_id" },
            { "id": "e4", "source": "route", "sourceHandle": "human", "target": "human" },
            { "id": "e5", "source": "route", "sourceHandle": "fallback", "target": "ai" },
            { "id": "e6", "source": "ask_id", "sourceHandle": "valid", "target": "check" },
            { "id": "e7", "source": "check", "sourceHandle": "big", "target": "human" },
            { "id": "e8", "source": "check", "sourceHandle": "fallback", "target": "status" }
        ]
    });
    crate::common::publish_flow(app, owner, &bot, flow).await;
    bot
}

#[tokio::test]
async fn a_bot_built_through_the_api_holds_a_conversation_with_handoff_and_feedback() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("convo")).await;
    let org = owner.org_id.clone();
    let bot = build_bot(&app, &owner).await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");

    let opened = app
        .post(&base, &owner.token, json!({ "user": "customer-42" }))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let session = opened.json["session_id"].as_str().unwrap().to_owned();
    let say = |text: &'static str| {
        let (app, owner, url) = (&app, &owner, format!("{base}/{session}/messages"));
        async move {
            let r = app.post(&url, &owner.token, json!({ "text": text })).await;
            assert_eq!(r.status, StatusCode::OK, "{text}: {}", r.text);
            r.json
        }
    };

    let hello = say("hello").await;
    assert_eq!(hello["intent"], "hello");
    assert_eq!(replies(&hello), vec!["Hello! What can I do?"]);
    assert_eq!(
        hello["replies"][0]["payload"]["buttons"][1]["title"],
        "Agent"
    );

    let order = say("track my order").await;
    assert_eq!(replies(&order), vec!["Your order number?"]);
    let wrong = say("no idea").await;
    assert_eq!(
        replies(&wrong),
        vec!["Order numbers look like #123.", "Your order number?"]
    );
    let status = say("#4521").await;
    assert_eq!(replies(&status), vec!["Order #4521 is on its way."]);
    assert_eq!(status["session"]["variables"]["number"], "#4521");

    // The local provider answers from context only; without knowledge it says so.
    let unknown = say("zq xv wk").await;
    assert_eq!(unknown["intent"], "none");
    assert_eq!(replies(&unknown).len(), 1);

    let handoff = say("i want a real person").await;
    assert_eq!(replies(&handoff), vec!["Connecting you to a person."]);
    assert_eq!(handoff["session"]["status"], "handoff");
    let inbox = app
        .get(&format!("{base}?status=handoff"), &owner.token)
        .await;
    assert_eq!(inbox.json["items"][0]["session_id"], session.as_str());

    let told = say("hello?").await;
    assert_eq!(
        replies(&told),
        vec![botbuilder_core::engine::HANDOFF_WAIT_REPLY],
        "told once that a person will answer"
    );
    let silent = say("anyone?").await;
    assert!(
        replies(&silent).is_empty(),
        "then the bot is silent during a handoff"
    );
    let agent = app
        .post(
            &format!("{base}/{session}/handoff/reply"),
            &owner.token,
            json!({ "text": "Hi, I am Sam." }),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.text);
    assert_eq!(agent.json["direction"], "agent");
    let released = app
        .call(
            Method::POST,
            &format!("{base}/{session}/handoff/release"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(released.json["status"], "active");
    let again = app
        .call(
            Method::POST,
            &format!("{base}/{session}/handoff/release"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let resumed = say("hi").await;
    assert_eq!(
        replies(&resumed),
        vec!["Hello! What can I do?"],
        "the flow runs again"
    );

    // The whole transcript is stored, with intents.
    let transcript = app
        .get(
            &format!("{base}/{session}/messages?limit=200"),
            &owner.token,
        )
        .await;
    let items = transcript.json["items"].as_array().unwrap();
    let directions: Vec<&str> = items
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert!(directions.contains(&"agent"));
    assert_eq!(items[0]["text"], "hello");
    assert_eq!(items[0]["intent"], "hello");

    // Feedback on a bot message.
    let bot_message = hello["replies"][0]["id"].as_str().unwrap();
    let rated = app
        .post(
            &format!("/api/v1/orgs/{org}/messages/{bot_message}/feedback"),
            &owner.token,
            json!({ "rating": "down", "comment": "too short" }),
        )
        .await;
    assert_eq!(rated.status, StatusCode::CREATED, "{}", rated.text);
    assert_eq!(rated.json["rating"], "down");
    let bad = app
        .post(
            &format!("/api/v1/orgs/{org}/messages/{bot_message}/feedback"),
            &owner.token,
            json!({ "rating": "meh" }),
        )
        .await;
    assert_eq!(bad.error_fields(), vec!["rating"]);
}

#[tokio::test]
async fn oversized_blank_and_misdirected_messages_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("convo-bad")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "B").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let session = app.post(&base, &owner.token, json!({})).await.json["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{base}/{session}/messages");
    let huge = app
        .post(
            &url,
            &owner.token,
            json!({ "text": "x".repeat(100 * 1024) }),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    let blank = app.post(&url, &owner.token, json!({ "text": "  " })).await;
    assert_eq!(blank.error_fields(), vec!["text"]);
    // NUL carries nothing a person wrote and Postgres text cannot hold it: refused on every
    // backend, naming the field.
    let nul = app
        .post(&url, &owner.token, json!({ "text": "héllo \u{0}" }))
        .await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.text);
    assert_eq!(nul.error_fields(), vec!["text"]);
    let unicode = app
        .post(
            &url,
            &owner.token,
            json!({ "text": "héllo 🤖 שלום \u{1}\u{7f}" }),
        )
        .await;
    assert_eq!(unicode.status, StatusCode::OK, "{}", unicode.text);
    assert_eq!(unicode.json["message"]["text"], "héllo 🤖 שלום \u{1}\u{7f}");

    let other_bot = app.create_bot(&owner, &org, "Other").await;
    let wrong_bot = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/{other_bot}/conversations/{session}/messages"),
            &owner.token,
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(wrong_bot.status, StatusCode::NOT_FOUND);
    app.call(
        Method::DELETE,
        &format!("/api/v1/orgs/{org}/bots/{bot}"),
        Some(&owner.token),
        None,
    )
    .await;
    let gone = app.post(&url, &owner.token, json!({ "text": "hi" })).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let history = app
        .get(&format!("{base}/{session}/messages"), &owner.token)
        .await;
    assert_eq!(history.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn flow_http_requests_to_private_targets_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("ssrf")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Curious").await;
    let flow_url = format!("/api/v1/orgs/{org}/bots/{bot}/flow");
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "meta", "type": "http_request", "data": { "url": "http://169.254.169.254/latest/meta-data/", "save_as": "meta" } },
            { "id": "self", "type": "http_request", "data": { "url": "http://127.0.0.1:1/healthz", "save_as": "own" } },
            { "id": "say", "type": "message", "data": { "text": "{{ meta.error }} | {{ own.error }}" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "meta" },
            { "id": "e2", "source": "meta", "target": "self" },
            { "id": "e3", "source": "self", "target": "say" }
        ]
    });
    app.call(Method::PUT, &flow_url, Some(&owner.token), Some(flow))
        .await;
    app.call(
        Method::POST,
        &format!("{flow_url}/publish"),
        Some(&owner.token),
        None,
    )
    .await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let session = app.post(&base, &owner.token, json!({})).await.json["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let turn = app
        .post(
            &format!("{base}/{session}/messages"),
            &owner.token,
            json!({ "text": "go" }),
        )
        .await;
    assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
    let reply = replies(&turn.json).join("");
    assert_eq!(reply.matches("refused").count(), 2, "{reply}");
}

#[tokio::test]
async fn messages_stream_as_server_sent_events_on_request() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("sse")).await;
    let org = owner.org_id.clone();
    let bot = build_bot(&app, &owner).await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let session = app.post(&base, &owner.token, json!({})).await.json["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .http
        .post(app.url(&format!("{base}/{session}/messages")))
        .bearer_auth(&owner.token)
        .header("accept", "text/event-stream")
        .json(&json!({ "text": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = res.text().await.unwrap();
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events, vec!["message", "done"], "{body}");
    assert!(body.contains("Hello! What can I do?"), "{body}");
}
