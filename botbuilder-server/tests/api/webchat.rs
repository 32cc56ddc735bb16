//! The public web chat API: session tokens bound to one bot and visitor, JSON and SSE replies,
//! history.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, email, sse, visitor_token};

#[tokio::test]
async fn visitors_chat_over_json_and_sse_and_read_their_history() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("web")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Widget bot").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "hi", "type": "message", "data": { "text": "Hi there!", "buttons": [{ "title": "Help", "payload": "help" }] } },
            { "id": "ask", "type": "ask", "data": { "prompt": "Your name?", "variable": "name" } },
            { "id": "bye", "type": "message", "data": { "text": "Nice to meet you, {{name}}." } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "hi" },
            { "id": "e2", "source": "hi", "target": "ask" },
            { "id": "e3", "source": "ask", "sourceHandle": "valid", "target": "bye" }
        ]
    });
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/flow");
    app.call(Method::PUT, &base, Some(&owner.token), Some(flow))
        .await;
    app.call(
        Method::POST,
        &format!("{base}/publish"),
        Some(&owner.token),
        None,
    )
    .await;

    let visitor = visitor_token(&app, &bot).await;
    let url = format!("/api/v1/webchat/{bot}/messages");
    let first = app.post(&url, &visitor, json!({ "text": "hello" })).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let texts: Vec<&str> = first.json["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["Hi there!", "Your name?"]);
    assert_eq!(
        first.json["replies"][0]["payload"]["buttons"][0]["title"],
        "Help"
    );

    // The same visitor answers over SSE.
    let res = app
        .http
        .post(app.url(&url))
        .bearer_auth(&visitor)
        .header("accept", "text/event-stream")
        .json(&json!({ "text": "Ada" }))
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
    assert!(body.contains("event: message"), "{body}");
    assert!(body.contains("Nice to meet you, Ada."), "{body}");
    assert!(body.trim_end().contains("event: done"), "{body}");

    let history = app.get(&url, &visitor).await;
    assert_eq!(history.status, StatusCode::OK);
    let texts: Vec<&str> = history
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec![
            "hello",
            "Hi there!",
            "Your name?",
            "Ada",
            "Nice to meet you, Ada."
        ]
    );

    // Another visitor sees only their own conversation.
    let other = visitor_token(&app, &bot).await;
    assert!(
        app.get(&url, &other)
            .await
            .json
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn tokens_are_bound_to_their_bot_and_never_work_as_access_tokens() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("web-sec")).await;
    let org = owner.org_id.clone();
    let bot_a = app.create_bot(&owner, &org, "A").await;
    let bot_b = app.create_bot(&owner, &org, "B").await;
    let token_a = visitor_token(&app, &bot_a).await;

    let cross = app
        .post(
            &format!("/api/v1/webchat/{bot_b}/messages"),
            &token_a,
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(cross.status, StatusCode::UNAUTHORIZED);
    let garbage = app
        .post(
            &format!("/api/v1/webchat/{bot_a}/messages"),
            "nope",
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    let access_token = app
        .post(
            &format!("/api/v1/webchat/{bot_a}/messages"),
            &owner.token,
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(
        access_token.status,
        StatusCode::UNAUTHORIZED,
        "a user JWT is not a visitor token"
    );
    assert_eq!(
        app.get("/api/v1/me", &token_a).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{org}/bots"), &token_a)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let missing = app
        .call(
            Method::POST,
            &format!("/api/v1/webchat/{}/sessions", uuid::Uuid::now_v7()),
            None,
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let huge = app
        .post(
            &format!("/api/v1/webchat/{bot_a}/messages"),
            &token_a,
            json!({ "text": "x".repeat(100 * 1024) }),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);

    app.call(
        Method::DELETE,
        &format!("/api/v1/orgs/{org}/bots/{bot_a}"),
        Some(&owner.token),
        None,
    )
    .await;
    let deleted = app
        .post(
            &format!("/api/v1/webchat/{bot_a}/messages"),
            &token_a,
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
}

/// A preflight for the bot's message route from `origin`; returns the allowed origin, if any.
async fn preflight(app: &TestApp, bot: &str, origin: &str) -> Option<String> {
    let res = app
        .http
        .request(
            Method::OPTIONS,
            app.url(&format!("/api/v1/webchat/{bot}/messages")),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    res.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn each_bot_allows_only_its_own_origins_for_web_chat() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("web-cors")).await;
    let org = owner.org_id.clone();
    let shop = app.create_bot(&owner, &org, "Shop").await;
    let other = app.create_bot(&owner, &org, "Other").await;
    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{shop}"),
            Some(&owner.token),
            Some(json!({ "settings": { "allowed_origins": ["https://shop.example"] } })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(
        patched.json["settings"]["allowed_origins"],
        json!(["https://shop.example"])
    );

    assert_eq!(
        preflight(&app, &shop, "https://shop.example")
            .await
            .as_deref(),
        Some("https://shop.example")
    );
    assert_eq!(preflight(&app, &shop, "https://evil.example").await, None);
    assert_eq!(
        preflight(&app, &other, "https://shop.example").await,
        None,
        "one bot's origins do not open another bot"
    );
    assert_eq!(
        preflight(&app, &shop, "https://shop.example.evil.example").await,
        None
    );
    let management = app
        .http
        .request(
            Method::OPTIONS,
            app.url(&format!("/api/v1/orgs/{org}/bots")),
        )
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        management
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "a bot's origins never open the management API"
    );

    // The actual request carries the header too, and the change applies at once.
    let visitor = visitor_token(&app, &shop).await;
    let res = app
        .http
        .post(app.url(&format!("/api/v1/webchat/{shop}/messages")))
        .header("origin", "https://shop.example")
        .bearer_auth(&visitor)
        .json(&json!({ "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    app.call(
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/bots/{shop}"),
        Some(&owner.token),
        Some(json!({ "settings": { "allowed_origins": [] } })),
    )
    .await;
    assert_eq!(preflight(&app, &shop, "https://shop.example").await, None);
}

#[tokio::test]
async fn changes_to_a_bot_apply_to_the_very_next_turn() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("web-fresh")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Fresh").await;
    let visitor = visitor_token(&app, &bot).await;
    let url = format!("/api/v1/webchat/{bot}/messages");
    let intent_of = |reply: &crate::common::Reply| reply.json["message"]["intent"].clone();

    let before = app
        .post(&url, &visitor, json!({ "text": "track my order" }))
        .await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert_eq!(intent_of(&before), json!(null), "no intents yet");

    let base = format!("/api/v1/orgs/{org}/bots/{bot}");
    for (name, examples) in [
        (
            "order",
            ["where is my order", "track my order", "order status"],
        ),
        ("hello", ["hi", "hello there", "good morning"]),
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
    let after = app
        .post(&url, &visitor, json!({ "text": "track my order" }))
        .await;
    assert_eq!(intent_of(&after), json!("order"), "{}", after.text);

    let strict = app
        .call(
            Method::PATCH,
            &base,
            Some(&owner.token),
            Some(json!({ "settings": { "nlu_threshold": 1.0 } })),
        )
        .await;
    assert_eq!(strict.status, StatusCode::OK, "{}", strict.text);
    let strict = app
        .post(&url, &visitor, json!({ "text": "track my order" }))
        .await;
    assert_eq!(
        intent_of(&strict),
        json!(null),
        "the new threshold applies at once"
    );

    app.call(Method::DELETE, &base, Some(&owner.token), None)
        .await;
    let gone = app.post(&url, &visitor, json!({ "text": "hello?" })).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text);
}

#[tokio::test]
async fn ai_answers_stream_token_by_token_before_the_stored_message() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("web-stream")).await;
    let org = owner.org_id.clone();
    // No flow: every message goes to the bot's model (the offline local provider).
    let bot = app.create_bot(&owner, &org, "Streamer").await;
    let visitor = visitor_token(&app, &bot).await;
    let res = app
        .http
        .post(app.url(&format!("/api/v1/webchat/{bot}/messages")))
        .bearer_auth(&visitor)
        .header("accept", "text/event-stream")
        .json(&json!({ "text": "what are your opening hours?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let events = sse(&res.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let deltas = names.iter().take_while(|n| **n == "delta").count();
    assert!(deltas > 3, "word by word: {names:?}");
    assert_eq!(&names[deltas..], ["message", "done"]);
    let streamed: String = events[..deltas]
        .iter()
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    let (_, message) = &events[deltas];
    assert_eq!(
        message["text"],
        json!(streamed),
        "the stored message is what streamed"
    );
    assert!(message["id"].is_string());
    let (_, done) = &events[deltas + 1];
    assert!(done["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(done["cost_micros"], json!(0), "the local model is free");

    // A failure before the first event is a plain problem response, not a 200 stream.
    app.call(
        Method::DELETE,
        &format!("/api/v1/orgs/{org}/bots/{bot}"),
        Some(&owner.token),
        None,
    )
    .await;
    let gone = app
        .http
        .post(app.url(&format!("/api/v1/webchat/{bot}/messages")))
        .bearer_auth(&visitor)
        .header("accept", "text/event-stream")
        .json(&json!({ "text": "still there?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(gone.headers()["content-type"], "application/problem+json");
}

/// The acceptance scenario, entirely over the public web chat API: a bot built only
/// through the API (intents, an entity, a flow with buttons, ask, condition, ai_answer and
/// handoff) holds a conversation in JSON and SSE; an agent takes over and releases; the
/// visitor rates a reply; transcript, intents, entities and feedback are stored.
#[tokio::test]
async fn a_bot_built_through_the_api_converses_over_web_chat_with_handoff_and_feedback() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("web-accept")).await;
    let org = owner.org_id.clone();
    let bot = crate::conversations::build_bot(&app, &owner).await;
    let visitor = visitor_token(&app, &bot).await;
    let url = format!("/api/v1/webchat/{bot}/messages");
    let json_turn = |text: &'static str| {
        let (app, visitor, url) = (&app, &visitor, &url);
        async move {
            let r = app.post(url, visitor, json!({ "text": text })).await;
            assert_eq!(r.status, StatusCode::OK, "{text}: {}", r.text);
            r.json
        }
    };
    let sse_turn = |text: &'static str| {
        let (app, visitor, url) = (&app, &visitor, &url);
        async move {
            let res = app
                .http
                .post(app.url(url))
                .bearer_auth(visitor)
                .header("accept", "text/event-stream")
                .json(&json!({ "text": text }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{text}");
            sse(&res.text().await.unwrap())
        }
    };
    let texts = |turn: &serde_json::Value| -> Vec<String> {
        turn["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let messages = |events: &[(String, serde_json::Value)]| -> Vec<String> {
        events
            .iter()
            .filter(|(name, _)| name == "message")
            .map(|(_, m)| m["text"].as_str().unwrap().to_owned())
            .collect()
    };

    let hello = json_turn("hello").await;
    assert_eq!(hello["message"]["intent"], "hello");
    assert_eq!(texts(&hello), vec!["Hello! What can I do?"]);
    assert_eq!(
        hello["replies"][0]["payload"]["buttons"][0]["title"],
        "Track an order"
    );
    let first_reply = hello["replies"][0]["id"].as_str().unwrap().to_owned();

    let ask = sse_turn("track my order").await;
    assert_eq!(messages(&ask), vec!["Your order number?"]);
    assert_eq!(ask.last().unwrap().0, "done");
    let retry = json_turn("no idea").await;
    assert_eq!(
        texts(&retry),
        vec!["Order numbers look like #123.", "Your order number?"]
    );
    let status = sse_turn("#4521").await;
    assert_eq!(messages(&status), vec!["Order #4521 is on its way."]);

    // Unknown question: the flow's ai_answer streams the (offline) model's answer.
    let ai = sse_turn("zq xv wk").await;
    assert!(ai.iter().any(|(name, _)| name == "delta"), "{ai:?}");
    assert_eq!(messages(&ai).len(), 1);

    let handoff = json_turn("i want a real person").await;
    assert_eq!(texts(&handoff), vec!["Connecting you to a person."]);
    let told = json_turn("are you there?").await;
    assert_eq!(
        texts(&told),
        vec![botbuilder_core::engine::HANDOFF_WAIT_REPLY],
        "the visitor is told a person will answer"
    );
    let silent = json_turn("hello?").await;
    assert!(
        texts(&silent).is_empty(),
        "then the bot is silent during a handoff"
    );

    // An agent answers through the management API, then hands the conversation back.
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let inbox = app
        .get(&format!("{base}?status=handoff"), &owner.token)
        .await;
    let session = inbox.json["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = app
        .post(
            &format!("{base}/{session}/handoff/reply"),
            &owner.token,
            json!({ "text": "Hi, I am Sam from support." }),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.text);
    let history = app.get(&url, &visitor).await;
    assert!(history.text.contains("Hi, I am Sam from support."));
    let released = app
        .call(
            Method::POST,
            &format!("{base}/{session}/handoff/release"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    let resumed = json_turn("hi").await;
    assert_eq!(
        texts(&resumed),
        vec!["Hello! What can I do?"],
        "the flow runs again"
    );

    // The visitor rates a reply; nobody else can, and their own messages are not rateable.
    let feedback_url = |message: &str| format!("/api/v1/webchat/{bot}/messages/{message}/feedback");
    let rated = app
        .post(
            &feedback_url(&first_reply),
            &visitor,
            json!({ "rating": "up", "comment": "quick!" }),
        )
        .await;
    assert_eq!(rated.status, StatusCode::CREATED, "{}", rated.text);
    assert_eq!(rated.json["rating"], "up");
    let stranger = visitor_token(&app, &bot).await;
    let foreign = app
        .post(
            &feedback_url(&first_reply),
            &stranger,
            json!({ "rating": "down" }),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let own_message = hello["message"]["id"].as_str().unwrap();
    let inbound = app
        .post(
            &feedback_url(own_message),
            &visitor,
            json!({ "rating": "up" }),
        )
        .await;
    assert_eq!(inbound.error_fields(), vec!["message"]);

    // Stored: the transcript with intents and entities, and the feedback.
    let transcript = app
        .get(
            &format!("{base}/{session}/messages?limit=200"),
            &owner.token,
        )
        .await;
    let items = transcript.json["items"].as_array().unwrap();
    assert_eq!(items[0]["text"], "hello");
    assert_eq!(items[0]["intent"], "hello");
    let number = items.iter().find(|m| m["text"] == "#4521").unwrap();
    assert_eq!(number["payload"]["entities"][0]["entity"], "order_id");
    assert_eq!(number["payload"]["entities"][0]["value"], "4521");
    assert!(items.iter().any(|m| m["direction"] == "agent"));
    // 10 visitor messages, 8 bot replies (one telling a person will answer), 1 agent reply.
    assert_eq!(items.len(), 19);
    assert_eq!(rated.json["message_id"], json!(first_reply));
    assert_eq!(rated.json["comment"], "quick!");
}
