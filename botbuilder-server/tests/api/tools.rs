//! A tool round trip end to end: the model (an OpenAI-compatible fake) calls a bot's HTTP
//! tool in streamed fragments, a tool server on loopback (allowed by `fetch_allow`) answers,
//! and the model's final answer uses it; with Anthropic's wire format too. Tool headers send
//! organization secrets, to their origin only.

use botbuilder_providers::testing::{
    AnthropicWire, FakeServer, OpenAiWire, ScriptedAnswer, ScriptedCall, Step, Wire,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, Reply, TestApp, email};
use crate::llm_providers::{
    app_with_fakes_allowing, bot_on, deltas, stored_replies, stream_turn, visitor_token,
};

fn weather_call(id: &str) -> ScriptedCall {
    ScriptedCall {
        id: id.into(),
        name: "order_status".into(),
        argument_pieces: vec!["{\"ord".into(), "er\": \"A-".into(), "17\"}".into()],
    }
}

#[tokio::test]
async fn the_model_calls_a_tool_and_answers_with_its_result() {
    let tool_server = FakeServer::start().await;
    let (app, fakes) = app_with_fakes_allowing(vec![tool_server.addr()]).await;
    let owner = app.register(&email("tools")).await;
    let tool = json!({
        "name": "order_status",
        "description": "Where an order is, by order number",
        "parameters": { "type": "object", "required": ["order"],
            "properties": { "order": { "type": "string" } } },
        "method": "GET",
        "url": format!("{}/orders/{{{{order}}}}", tool_server.url()),
        "headers": [{ "name": "x-shop", "value": "demo" }]
    });
    for (provider, model) in [
        ("openai-compatible", "fake-llama"),
        ("anthropic", "claude-haiku-4-5"),
    ] {
        let bot = bot_on(
            &app,
            &owner,
            json!({ "provider": provider, "model": model, "tools": [tool.clone()] }),
        )
        .await;
        let (fake, wire): (&FakeServer, &dyn Wire) = if provider == "anthropic" {
            (&fakes.anthropic, &AnthropicWire)
        } else {
            (&fakes.openai, &OpenAiWire)
        };
        let asking = ScriptedAnswer {
            text: vec!["Let me check. ".into()],
            calls: vec![weather_call("call_7")],
            usage: (40, 12),
        };
        fake.push(Step::events(wire.answer_events(&asking, true)));
        tool_server.push(Step::json(200, r#"{"status":"shipped","eta":"Friday"}"#));
        fake.push(Step::events(wire.answer_events(
            &ScriptedAnswer::text(&["It ships ", "Friday."], (80, 6)),
            true,
        )));
        let visitor = visitor_token(&app, &bot).await;
        let events = stream_turn(&app, &bot, &visitor, "Where is my order A-17?").await;
        assert_eq!(
            deltas(&events),
            "Let me check. It ships Friday.",
            "{provider}"
        );
        let tool_event = events
            .iter()
            .find(|(n, _)| n == "tool")
            .expect("a tool event");
        assert_eq!(
            tool_event.1,
            json!({ "name": "order_status", "status": "ok" })
        );

        let called = tool_server.requests().pop().unwrap();
        assert_eq!(called.path, "/orders/A-17");
        assert_eq!(called.header("x-shop"), Some("demo"));
        let sent = fake.requests();
        let first = sent[sent.len() - 2].json();
        let second = sent[sent.len() - 1].json();
        assert!(
            first["tools"][0].to_string().contains("order_status"),
            "{provider}: {first}"
        );
        let fed_back = second["messages"].to_string();
        assert!(
            fed_back.contains("shipped") && fed_back.contains("call_7"),
            "{provider}: {fed_back}"
        );

        let stored = stored_replies(&app, &owner, &bot).await;
        let reply = stored.last().unwrap();
        assert_eq!(reply["text"], "Let me check. It ships Friday.");
        assert_eq!(reply["payload"]["tools"][0]["name"], "order_status");
        assert_eq!(
            reply["payload"]["tools"][0]["arguments"],
            json!({ "order": "A-17" })
        );
        assert_eq!(reply["payload"]["tools"][0]["http_status"], 200);
        assert_eq!(reply["prompt_tokens"], 120, "both calls counted");
    }
}

#[tokio::test]
async fn tools_are_validated_and_private_tool_targets_refused() {
    let (app, fakes) = app_with_fakes_allowing(Vec::new()).await;
    let owner = app.register(&email("tools-rules")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Tooled").await;
    let refused = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{bot}"),
            Some(&owner.token),
            Some(
                json!({ "ai_config": { "tools": [{ "name": "bad name", "description": "",
                "parameters": { "type": "string" }, "method": "TRACE", "url": "ftp://x" }] } }),
            ),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(
        refused.error_fields(),
        vec![
            "ai_config.tools[0].name",
            "ai_config.tools[0].description",
            "ai_config.tools[0].parameters",
            "ai_config.tools[0].method",
            "ai_config.tools[0].url",
        ]
    );

    // A tool on a loopback address nobody allowed: the call is refused, the model is told.
    let bot = bot_on(
        &app,
        &owner,
        json!({ "provider": "openai-compatible", "model": "fake-llama", "tools": [{
            "name": "internal", "description": "An internal API",
            "parameters": { "type": "object" }, "method": "POST",
            "url": "http://127.0.0.1:9/admin" }] }),
    )
    .await;
    fakes.openai.push(Step::events(OpenAiWire.answer_events(
        &ScriptedAnswer {
            text: vec![],
            calls: vec![ScriptedCall {
                id: "c".into(),
                name: "internal".into(),
                argument_pieces: vec!["{}".into()],
            }],
            usage: (5, 5),
        },
        true,
    )));
    fakes.openai.push(Step::events(OpenAiWire.answer_events(
        &ScriptedAnswer::text(&["I cannot reach it."], (5, 5)),
        true,
    )));
    let visitor = visitor_token(&app, &bot).await;
    let events = stream_turn(&app, &bot, &visitor, "Use the admin API").await;
    assert_eq!(deltas(&events), "I cannot reach it.");
    let stored = stored_replies(&app, &owner, &bot).await;
    assert_eq!(
        stored.last().unwrap()["payload"]["tools"][0]["status"],
        "failed"
    );
    let fed_back = fakes.openai.requests().last().unwrap().json()["messages"].to_string();
    assert!(fed_back.contains("refused"), "{fed_back}");
}

/// Puts `org`'s secret `name`.
async fn put_secret(app: &TestApp, owner: &Account, name: &str, body: Value) -> Reply {
    app.call(
        Method::PUT,
        &format!("/api/v1/orgs/{}/secrets/{name}", owner.org_id),
        Some(&owner.token),
        Some(body),
    )
    .await
}

fn calling(tool: &str) -> ScriptedAnswer {
    ScriptedAnswer {
        text: vec![],
        calls: vec![ScriptedCall {
            id: "c1".into(),
            name: tool.into(),
            argument_pieces: vec!["{\"order\":\"A-17\"}".into()],
        }],
        usage: (5, 5),
    }
}

#[tokio::test]
async fn a_tool_header_sends_an_organization_secret_to_its_origin_only() {
    const SECRET: &str = "shop-secret-canary-7a8b9c";
    let tool_server = FakeServer::start().await;
    let (app, fakes) = app_with_fakes_allowing(vec![tool_server.addr()]).await;
    let owner = app.register(&email("tool-secrets")).await;
    let org = owner.org_id.clone();
    let stored = put_secret(
        &app,
        &owner,
        "SHOP_KEY",
        json!({ "value": SECRET, "origin": tool_server.url() }),
    )
    .await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text);
    assert_eq!(stored.json["hint"], "shop-…8b9c");
    let tool = |header: &str| {
        json!({ "provider": "openai-compatible", "model": "fake-llama", "tools": [{
            "name": "order_status", "description": "Where an order is",
            "parameters": { "type": "object" }, "method": "GET",
            "url": format!("{}/orders/{{{{order}}}}", tool_server.url()),
            "headers": [{ "name": "authorization", "value": header }] }] })
    };
    let bot = bot_on(&app, &owner, tool("Bearer {{ secrets.SHOP_KEY }}")).await;
    let visitor = visitor_token(&app, &bot).await;
    let answer = |text: &'static str| {
        Step::events(OpenAiWire.answer_events(&ScriptedAnswer::text(&[text], (5, 5)), true))
    };

    fakes.openai.push(Step::events(
        OpenAiWire.answer_events(&calling("order_status"), true),
    ));
    tool_server.push(Step::json(200, r#"{"status":"shipped"}"#));
    fakes.openai.push(answer("Shipped."));
    let events = stream_turn(&app, &bot, &visitor, "Where is A-17?").await;
    assert_eq!(deltas(&events), "Shipped.");
    let called = tool_server.requests().pop().unwrap();
    let expected = format!("Bearer {SECRET}");
    assert_eq!(called.header("authorization"), Some(expected.as_str()));

    // Tied to another origin, the secret is not sent: the call fails and the model is told.
    let moved = put_secret(
        &app,
        &owner,
        "SHOP_KEY",
        json!({ "value": SECRET, "origin": "https://shop.example" }),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    // A secret that does not exist fails the same way.
    let missing = bot_on(&app, &owner, tool("Bearer {{secrets.NOT_SET}}")).await;
    for (bot, told) in [
        (&bot, "may only be sent to https://shop.example"),
        (&missing, "no secret `NOT_SET`"),
    ] {
        fakes.openai.push(Step::events(
            OpenAiWire.answer_events(&calling("order_status"), true),
        ));
        fakes.openai.push(answer("I cannot check."));
        let visitor = visitor_token(&app, bot).await;
        let events = stream_turn(&app, bot, &visitor, "Where is A-17?").await;
        assert_eq!(deltas(&events), "I cannot check.");
        let fed_back = fakes.openai.requests().last().unwrap().json()["messages"].to_string();
        assert!(fed_back.contains(told), "{fed_back}");
        let stored = stored_replies(&app, &owner, bot).await;
        assert_eq!(
            stored.last().unwrap()["payload"]["tools"][0]["status"],
            "failed"
        );
    }
    assert_eq!(tool_server.requests().len(), 1, "the tool was called again");

    // The value shows nowhere: not to the model, not in the bot, the replies or the lists.
    for request in fakes.openai.requests() {
        assert!(!request.body.contains(SECRET), "the model saw the secret");
    }
    let bot_view = app
        .get(&format!("/api/v1/orgs/{org}/bots/{bot}"), &owner.token)
        .await;
    assert!(bot_view.text.contains("{{ secrets.SHOP_KEY }}"));
    let listed = app
        .get(&format!("/api/v1/orgs/{org}/secrets"), &owner.token)
        .await;
    assert_eq!(listed.json[0]["origin"], "https://shop.example");
    let credentials = app
        .get(
            &format!("/api/v1/orgs/{org}/provider-credentials"),
            &owner.token,
        )
        .await;
    assert_eq!(credentials.json, json!([]), "a secret listed as a provider");
    for body in [
        bot_view.text,
        listed.text,
        json!(stored_replies(&app, &owner, &bot).await).to_string(),
    ] {
        assert!(!body.contains(SECRET), "{body}");
    }
    let via_credentials = app
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/{org}/provider-credentials/secret:SHOP_KEY"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(via_credentials.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn secrets_and_the_tools_naming_them_are_validated() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("secret-rules")).await;
    for (name, body, field) in [
        (
            "1BAD",
            json!({ "value": "v", "origin": "https://a.example" }),
            "name",
        ),
        (
            "OK",
            json!({ "value": "", "origin": "https://a.example" }),
            "value",
        ),
        (
            "OK",
            json!({ "value": "a\r\nx: y", "origin": "https://a.example" }),
            "value",
        ),
        (
            "OK",
            json!({ "value": "v", "origin": "https://a.example/path" }),
            "origin",
        ),
        (
            "OK",
            json!({ "value": "v", "origin": "ftp://a.example" }),
            "origin",
        ),
    ] {
        let res = put_secret(&app, &owner, name, body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}: {}", res.text);
        assert_eq!(res.error_fields(), vec![field], "{name}");
    }
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Tooled").await;
    let refused = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{bot}"),
            Some(&owner.token),
            Some(
                json!({ "ai_config": { "tools": [{ "name": "t", "description": "d",
                "parameters": { "type": "object" }, "method": "GET",
                "url": "https://a.example/{{secrets.KEY}}",
                "headers": [
                    { "name": "x-key", "value": "{{secrets.bad-name}}" },
                    // Follows redirects to other origins: no secret may ride on it.
                    { "name": "User-Agent", "value": "{{secrets.KEY}}" },
                    { "name": "host", "value": "elsewhere.example" }
                ] }] } }),
            ),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(
        refused.error_fields(),
        vec![
            "ai_config.tools[0].url",
            "ai_config.tools[0].headers[0].value",
            "ai_config.tools[0].headers[1].value",
            "ai_config.tools[0].headers[2].name",
        ]
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/{org}/secrets/NEVER_SET"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_credential_managers_decide_where_a_secret_goes() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("secret-owner")).await;
    let org = owner.org_id.clone();
    let editor = app
        .add_member(&owner, &org, &email("secret-editor"), "editor")
        .await;
    let stored = put_secret(
        &app,
        &owner,
        "SHOP_KEY",
        json!({ "value": "shop-0123456789", "origin": "https://shop.example" }),
    )
    .await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text);
    let tool = |path: &str| {
        json!({ "name": "orders", "description": "Orders", "parameters": { "type": "object" },
            "method": "GET", "url": format!("https://shop.example{path}"),
            "headers": [{ "name": "authorization", "value": "Bearer {{secrets.SHOP_KEY}}" }] })
    };
    let bot = app.create_bot(&owner, &org, "Shop").await;
    let url = format!("/api/v1/orgs/{org}/bots/{bot}");
    let patch = |who: &Account, body: Value| {
        let (app, url, token) = (&app, url.clone(), who.token.clone());
        async move {
            app.call(Method::PATCH, &url, Some(&token), Some(body))
                .await
                .status
        }
    };
    let with_tools = |tools: Value| json!({ "ai_config": { "tools": tools } });

    // An editor may not point the secret at a tool, nor at another path of its origin.
    assert_eq!(
        patch(&editor, with_tools(json!([tool("/orders")]))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch(&owner, with_tools(json!([tool("/orders")]))).await,
        StatusCode::OK
    );
    assert_eq!(
        patch(&editor, with_tools(json!([tool("/customers")]))).await,
        StatusCode::FORBIDDEN
    );
    // Other changes, and taking the tool away, remain the editor's.
    assert_eq!(
        patch(&editor, json!({ "name": "Shop assistant" })).await,
        StatusCode::OK
    );
    assert_eq!(
        patch(&editor, json!({ "ai_config": { "temperature": 0.5 } })).await,
        StatusCode::OK
    );
    assert_eq!(patch(&editor, with_tools(json!([]))).await, StatusCode::OK);
    let created = app
        .post(
            &format!("/api/v1/orgs/{org}/bots"),
            &editor.token,
            json!({ "name": "Sneaky", "ai_config": { "tools": [tool("/admin")] } }),
        )
        .await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.text);
}
