//! Bots answering from real provider protocols: OpenAI-compatible and Anthropic fakes on
//! localhost (allowed through the outbound guard by `fetch_allow`), streaming over web chat
//! with usage and cost recorded, fallback when the primary fails, and the unavailable
//! message, never a 5xx, when nothing can answer.

use botbuilder_core::domain::BotSettings;
use botbuilder_providers::catalog::{ModelCatalog, ModelEntry};
use botbuilder_providers::testing::{
    AnthropicWire, FakeServer, OpenAiWire, ScriptedAnswer, Step, Wire,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) use crate::common::visitor_token;
use crate::common::{Account, TestApp, email, sse};

const KEY: &str = "sk-ant-e2e-canary-4f1c2d3e";

pub(crate) struct Fakes {
    pub(crate) openai: FakeServer,
    pub(crate) anthropic: FakeServer,
}

/// A server whose `openai-compatible` bots reach the OpenAI fake and whose `anthropic` bots
/// reach the Anthropic fake; `fake-llama` costs $1/M in and $2/M out.
pub(crate) async fn app_with_fakes() -> (TestApp, Fakes) {
    app_with_fakes_allowing(Vec::new()).await
}

/// [`app_with_fakes`], also allowed to reach `extra` (a tool server on loopback).
pub(crate) async fn app_with_fakes_allowing(extra: Vec<std::net::SocketAddr>) -> (TestApp, Fakes) {
    let fakes = Fakes {
        openai: FakeServer::start().await,
        anthropic: FakeServer::start().await,
    };
    let (openai, anthropic) = (fakes.openai.url(), fakes.anthropic.url());
    let mut allow = vec![fakes.openai.addr(), fakes.anthropic.addr()];
    allow.extend(extra);
    let app = TestApp::spawn_with(move |settings| {
        settings.fetch_allow = allow;
        settings.llm.openai_compatible_base_url = Some(format!("{openai}/v1").parse().unwrap());
        settings.llm.anthropic_base_url = Some(anthropic.parse().unwrap());
        settings.llm.anthropic_api_key = Some(botbuilder_server::config::Secret::new(KEY));
        settings.llm.catalog = ModelCatalog::new(vec![ModelEntry {
            provider: "openai-compatible".into(),
            name: "fake-llama".into(),
            context_window: 32_000,
            input_per_mtok: Some(1.0),
            output_per_mtok: Some(2.0),
        }])
        .unwrap();
    })
    .await;
    (app, fakes)
}

pub(crate) async fn bot_on(app: &TestApp, owner: &Account, ai_config: Value) -> String {
    let org = &owner.org_id;
    let bot = app.create_bot(owner, org, "Provider bot").await;
    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{bot}"),
            Some(&owner.token),
            Some(json!({ "ai_config": ai_config })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    bot
}

pub(crate) async fn stream_turn(
    app: &TestApp,
    bot: &str,
    visitor: &str,
    text: &str,
) -> Vec<(String, Value)> {
    let res = app
        .http
        .post(app.url(&format!("/api/v1/webchat/{bot}/messages")))
        .bearer_auth(visitor)
        .header("accept", "text/event-stream")
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    sse(&res.text().await.unwrap())
}

pub(crate) fn deltas(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect()
}

/// The bot's replies as the organization sees them (with the `llm` record).
pub(crate) async fn stored_replies(app: &TestApp, owner: &Account, bot: &str) -> Vec<Value> {
    let org = &owner.org_id;
    let sessions = app
        .get(
            &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
            &owner.token,
        )
        .await;
    let session = sessions.json["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let messages = app
        .get(
            &format!("/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages"),
            &owner.token,
        )
        .await;
    messages.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .cloned()
        .collect()
}

#[tokio::test]
async fn bots_on_openai_compatible_and_anthropic_stream_over_web_chat_with_usage_and_cost() {
    let (app, fakes) = app_with_fakes().await;
    let owner = app.register(&email("providers")).await;
    let org = owner.org_id.clone();

    // An OpenAI-compatible server (think Ollama), priced by a [[models]] override.
    let llama = bot_on(
        &app,
        &owner,
        json!({ "provider": "openai-compatible", "model": "fake-llama", "system_prompt": "Be kind." }),
    )
    .await;
    let shown = app
        .get(&format!("/api/v1/orgs/{org}/bots/{llama}"), &owner.token)
        .await;
    assert_eq!(shown.json["provider_status"], "ready");
    fakes.openai.push(Step::events(OpenAiWire.answer_events(
        &ScriptedAnswer::text(&["We open ", "at nine", "."], (100, 20)),
        true,
    )));
    let visitor = visitor_token(&app, &llama).await;
    let events = stream_turn(&app, &llama, &visitor, "When do you open?").await;
    assert_eq!(deltas(&events), "We open at nine.");
    let message = events.iter().find(|(n, _)| n == "message").unwrap();
    assert_eq!(message.1["text"], "We open at nine.");
    assert!(
        message.1["payload"].get("llm").is_none(),
        "visitors do not see provider details"
    );
    let done = &events.last().unwrap();
    assert_eq!(done.0, "done");
    assert_eq!(
        done.1["usage"],
        json!({ "prompt_tokens": 100, "completion_tokens": 20 })
    );
    assert_eq!(done.1["cost_micros"], 140, "100 × $1/M + 20 × $2/M");
    let sent = &fakes.openai.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    let body = sent.json();
    assert_eq!(body["model"], "fake-llama");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(
        body["messages"][0],
        json!({ "role": "system", "content": "Be kind." })
    );
    assert_eq!(
        body["messages"].as_array().unwrap().last().unwrap()["content"],
        "When do you open?"
    );
    let stored = stored_replies(&app, &owner, &llama).await;
    assert_eq!(stored[0]["cost_micros"], 140);
    assert_eq!(stored[0]["payload"]["llm"]["provider"], "openai-compatible");
    assert_eq!(stored[0]["payload"]["llm"]["fallback"], false);
    assert_eq!(stored[0]["payload"]["llm"]["usage_estimated"], false);

    // Anthropic, priced from the built-in catalog ($1/M in, $5/M out for Haiku 4.5).
    let claude = bot_on(
        &app,
        &owner,
        json!({ "provider": "anthropic", "model": "claude-haiku-4-5" }),
    )
    .await;
    fakes
        .anthropic
        .push(Step::events(AnthropicWire.answer_events(
            &ScriptedAnswer::text(&["Bonjour", " !"], (1_000, 200)),
            true,
        )));
    let visitor = visitor_token(&app, &claude).await;
    let events = stream_turn(&app, &claude, &visitor, "Salut").await;
    assert_eq!(deltas(&events), "Bonjour !");
    let done = &events.last().unwrap().1;
    assert_eq!(
        done["usage"],
        json!({ "prompt_tokens": 1000, "completion_tokens": 200 })
    );
    assert_eq!(done["cost_micros"], 2_000);
    let sent = &fakes.anthropic.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.json()["model"], "claude-haiku-4-5");

    // JSON mode too.
    fakes.anthropic.push(Step::json(
        200,
        AnthropicWire.answer_json(&ScriptedAnswer::text(&["Oui."], (10, 2))),
    ));
    let reply = app
        .post(
            &format!("/api/v1/webchat/{claude}/messages"),
            &visitor,
            json!({ "text": "Ça va ?" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["replies"][0]["text"], "Oui.");
    assert_eq!(reply.json["replies"][0]["cost_micros"], 20);
}

#[tokio::test]
async fn a_failing_primary_hands_over_to_the_fallback_and_the_reply_says_so() {
    let (app, fakes) = app_with_fakes().await;
    let owner = app.register(&email("fallback")).await;
    let bot = bot_on(
        &app,
        &owner,
        json!({ "provider": "openai-compatible", "model": "fake-llama",
                "fallback_provider": "anthropic", "fallback_model": "claude-haiku-4-5" }),
    )
    .await;
    for _ in 0..3 {
        fakes.openai.push(Step::json(
            500,
            OpenAiWire.error_body("server_error", "boom"),
        ));
    }
    fakes
        .anthropic
        .push(Step::events(AnthropicWire.answer_events(
            &ScriptedAnswer::text(&["Answered by the fallback."], (50, 5)),
            true,
        )));
    let visitor = visitor_token(&app, &bot).await;
    let events = stream_turn(&app, &bot, &visitor, "Hello?").await;
    assert_eq!(deltas(&events), "Answered by the fallback.");
    assert_eq!(
        fakes.openai.requests().len(),
        3,
        "the primary was retried twice"
    );
    let stored = stored_replies(&app, &owner, &bot).await;
    let llm = &stored[0]["payload"]["llm"];
    assert_eq!(llm["provider"], "anthropic");
    assert_eq!(llm["model"], "claude-haiku-4-5");
    assert_eq!(llm["fallback"], true);
    assert_eq!(
        llm["attempts"],
        json!([{ "provider": "openai-compatible", "model": "fake-llama", "error": "transient" }])
    );
}

#[tokio::test]
async fn without_credentials_the_visitor_gets_the_unavailable_message_and_no_error() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("no-keys")).await;
    let org = owner.org_id.clone();
    let bot = bot_on(&app, &owner, json!({ "provider": "anthropic" })).await;
    let shown = app
        .get(&format!("/api/v1/orgs/{org}/bots/{bot}"), &owner.token)
        .await;
    assert_eq!(shown.json["provider_status"], "missing_credentials");
    assert_eq!(
        shown.json["ai_config"]["model"], "claude-haiku-4-5",
        "the default model"
    );

    let visitor = visitor_token(&app, &bot).await;
    let url = format!("/api/v1/webchat/{bot}/messages");
    let reply = app
        .post(&url, &visitor, json!({ "text": "Anyone there?" }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["replies"][0]["text"],
        BotSettings::DEFAULT_UNAVAILABLE_MESSAGE
    );
    assert_eq!(
        reply.json["replies"][0]["payload"]["error"],
        "provider_unavailable"
    );
    let events = stream_turn(&app, &bot, &visitor, "Still nobody?").await;
    assert!(events.iter().all(|(name, _)| name != "error"), "{events:?}");
    assert!(events.iter().any(|(name, data)| name == "message"
        && data["text"] == BotSettings::DEFAULT_UNAVAILABLE_MESSAGE));
    let stored = stored_replies(&app, &owner, &bot).await;
    assert_eq!(
        stored[0]["payload"]["llm"]["attempts"][0]["error"], "missing_credentials",
        "the reason is recorded for the organization"
    );

    // The bot's own words.
    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{bot}"),
            Some(&owner.token),
            Some(json!({ "settings": { "unavailable_message": "Our assistant is resting." } })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let reply = app.post(&url, &visitor, json!({ "text": "Hello?" })).await;
    assert_eq!(
        reply.json["replies"][0]["text"],
        "Our assistant is resting."
    );
}

#[tokio::test]
async fn usage_is_reported_and_the_monthly_spend_limit_stops_calls_before_they_are_made() {
    let (app, fakes) = app_with_fakes().await;
    let owner = app.register(&email("spend")).await;
    let org = owner.org_id.clone();
    let bot = bot_on(
        &app,
        &owner,
        json!({ "provider": "openai-compatible", "model": "fake-llama" }),
    )
    .await;
    let visitor = visitor_token(&app, &bot).await;
    let url = format!("/api/v1/webchat/{bot}/messages");
    for _ in 0..2 {
        fakes.openai.push(Step::json(
            200,
            OpenAiWire.answer_json(&ScriptedAnswer::text(&["Sure."], (100, 20))),
        ));
        let reply = app.post(&url, &visitor, json!({ "text": "hi" })).await;
        assert_eq!(
            reply.json["replies"][0]["cost_micros"], 140,
            "{}",
            reply.text
        );
    }

    let usage = app
        .get(
            &format!("/api/v1/orgs/{org}/usage?group_by=model"),
            &owner.token,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    assert_eq!(
        usage.json["rows"],
        json!([{ "provider": "openai-compatible", "model": "fake-llama", "calls": 2,
                 "prompt_tokens": 200, "completion_tokens": 40, "cost_micros": 280 }])
    );
    assert_eq!(usage.json["total"]["cost_micros"], 280);
    assert_eq!(usage.json["month_spent_micros"], 280);
    let by_bot = app
        .get(
            &format!("/api/v1/orgs/{org}/usage?group_by=bot&bot={bot}"),
            &owner.token,
        )
        .await;
    assert_eq!(by_bot.json["rows"][0]["bot_id"], bot.as_str());
    let by_day = app
        .get(
            &format!("/api/v1/orgs/{org}/usage?since=2020-01-01"),
            &owner.token,
        )
        .await;
    assert_eq!(by_day.json["rows"][0]["calls"], 2, "{}", by_day.text);
    let backwards = app
        .get(
            &format!("/api/v1/orgs/{org}/usage?since=2030-01-01&until=2020-01-01"),
            &owner.token,
        )
        .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    assert_eq!(backwards.error_fields(), vec!["until"]);
    let editor = app
        .add_member(&owner, &org, &email("spend-editor"), "editor")
        .await;
    let forbidden = app
        .get(&format!("/api/v1/orgs/{org}/usage"), &editor.token)
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // A limit already reached: calls are refused before they are made.
    let org_url = format!("/api/v1/orgs/{org}");
    let settings = |limit: Value| {
        app.call(
            Method::PATCH,
            &org_url,
            Some(&owner.token),
            Some(json!({ "settings": limit })),
        )
    };
    let negative = settings(json!({ "monthly_spend_limit_micros": -1 })).await;
    assert_eq!(negative.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        negative.error_fields(),
        vec!["settings.monthly_spend_limit_micros"]
    );
    let limited = settings(json!({ "monthly_spend_limit_micros": 280 })).await;
    assert_eq!(limited.status, StatusCode::OK, "{}", limited.text);
    assert_eq!(limited.json["settings"]["monthly_spend_limit_micros"], 280);
    let shown = app
        .get(&format!("/api/v1/orgs/{org}/bots/{bot}"), &owner.token)
        .await;
    assert_eq!(shown.json["provider_status"], "spend_limit_reached");
    let before = fakes.openai.requests().len();
    let refused = app
        .post(&url, &visitor, json!({ "text": "one more?" }))
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.text);
    assert_eq!(
        refused.json["replies"][0]["text"],
        BotSettings::DEFAULT_UNAVAILABLE_MESSAGE
    );
    assert_eq!(fakes.openai.requests().len(), before, "no call was made");
    let stored = stored_replies(&app, &owner, &bot).await;
    assert_eq!(
        stored.last().unwrap()["payload"]["llm"]["attempts"][0]["error"],
        "spend_limit_reached"
    );

    // Lifted: the bot answers again.
    let lifted = settings(json!({})).await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.text);
    fakes.openai.push(Step::json(
        200,
        OpenAiWire.answer_json(&ScriptedAnswer::text(&["Back."], (1, 1))),
    ));
    let back = app
        .post(&url, &visitor, json!({ "text": "and now?" }))
        .await;
    assert_eq!(back.json["replies"][0]["text"], "Back.");
}

/// The operator's private model server serves every organization, yet no tenant can point
/// its own base URL, a tool, or anything else at that address.
#[tokio::test]
async fn an_operators_private_model_server_is_not_a_door_for_tenants() {
    let ollama = FakeServer::start().await;
    let base = format!("{}/v1", ollama.url());
    let app = TestApp::spawn_with({
        let base = base.clone();
        move |settings| {
            // No fetch_allow: the operator's own address needs none.
            settings.llm.openai_compatible_base_url = Some(base.parse().unwrap());
        }
    })
    .await;
    let owner = app.register(&email("operator-door")).await;
    let org = owner.org_id.clone();
    let bot = bot_on(
        &app,
        &owner,
        json!({ "provider": "openai-compatible", "model": "llama",
            "tools": [{ "name": "peek", "description": "Peek", "parameters": { "type": "object" },
                        "method": "GET", "url": format!("{}/api/tags", ollama.url()) }] }),
    )
    .await;
    ollama.push(Step::json(
        200,
        OpenAiWire.answer_json(&ScriptedAnswer::text(&["Served."], (3, 1))),
    ));
    let visitor = visitor_token(&app, &bot).await;
    let url = format!("/api/v1/webchat/{bot}/messages");
    let reply = app.post(&url, &visitor, json!({ "text": "hi" })).await;
    assert_eq!(
        reply.json["replies"][0]["text"], "Served.",
        "{}",
        reply.text
    );

    // The model asks for the tool aimed at the same private address: refused.
    ollama.push(Step::events(OpenAiWire.answer_events(
        &ScriptedAnswer {
            text: vec![],
            calls: vec![botbuilder_providers::testing::ScriptedCall {
                id: "c".into(),
                name: "peek".into(),
                argument_pieces: vec!["{}".into()],
            }],
            usage: (3, 1),
        },
        true,
    )));
    ollama.push(Step::events(
        OpenAiWire.answer_events(&ScriptedAnswer::text(&["No."], (3, 1)), true),
    ));
    stream_turn(&app, &bot, &visitor, "peek").await;
    let stored = stored_replies(&app, &owner, &bot).await;
    assert_eq!(
        stored.last().unwrap()["payload"]["tools"][0]["status"],
        "failed"
    );
    let reached = ollama.requests().len();

    // The organization's own base URL at that address: refused too.
    let put = app
        .call(
            Method::PUT,
            &format!("/api/v1/orgs/{org}/provider-credentials/openai-compatible"),
            Some(&owner.token),
            Some(json!({ "base_url": base })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let refused = app.post(&url, &visitor, json!({ "text": "again" })).await;
    assert_eq!(
        refused.json["replies"][0]["text"],
        BotSettings::DEFAULT_UNAVAILABLE_MESSAGE,
        "{}",
        refused.text
    );
    assert_eq!(
        ollama.requests().len(),
        reached,
        "no tenant request reached it"
    );
}
