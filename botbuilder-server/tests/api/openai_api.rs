//! The OpenAI-compatible API: any OpenAI client talks to a bot, JSON and streamed, with
//! OpenAI's error shape.

use botbuilder_providers::testing::{OpenAiWire, ScriptedAnswer, Step, Wire};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestApp, email};
use crate::llm_providers::{app_with_fakes, bot_on};

async fn key(app: &TestApp, token: &str, org: &str, permissions: &[&str]) -> String {
    let created = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            token,
            json!({ "name": "sdk", "permissions": permissions }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.json["key"].as_str().unwrap().to_owned()
}

/// The `data:` payloads of an SSE body.
fn data_lines(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn any_openai_client_talks_to_a_bot_json_and_streamed() {
    let (app, fakes) = app_with_fakes().await;
    let owner = app.register(&email("openai-api")).await;
    let org = owner.org_id.clone();
    let bot = bot_on(
        &app,
        &owner,
        json!({ "provider": "openai-compatible", "model": "fake-llama", "system_prompt": "Be a pirate." }),
    )
    .await;
    app.call(
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/bots/{bot}"),
        Some(&owner.token),
        Some(json!({ "name": "Support Bot (EU)" })),
    )
    .await;
    let sdk = key(&app, &owner.token, &org, &["chat:completions"]).await;

    let models = app.get("/v1/models", &sdk).await;
    assert_eq!(models.status, StatusCode::OK, "{}", models.text);
    assert_eq!(models.json["object"], "list");
    assert_eq!(models.json["data"][0]["id"], bot.as_str());
    assert_eq!(models.json["data"][0]["slug"], "support-bot-eu");

    // JSON, addressed by id, with the conversation so far.
    fakes.openai.push(Step::json(
        200,
        OpenAiWire.answer_json(&ScriptedAnswer::text(&["Arr, Ada."], (50, 4))),
    ));
    let answer = app
        .post(
            "/v1/chat/completions",
            &sdk,
            json!({ "model": bot, "temperature": 0.3, "messages": [
                { "role": "system", "content": "Keep it short." },
                { "role": "user", "content": "I am Ada." },
                { "role": "assistant", "content": "Ahoy." },
                { "role": "user", "content": [{ "type": "text", "text": "Who am I?" }] }
            ] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["object"], "chat.completion");
    assert_eq!(answer.json["model"], bot.as_str());
    assert_eq!(answer.json["choices"][0]["message"]["role"], "assistant");
    assert_eq!(answer.json["choices"][0]["message"]["content"], "Arr, Ada.");
    assert_eq!(answer.json["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        answer.json["usage"],
        json!({ "prompt_tokens": 50, "completion_tokens": 4, "total_tokens": 54 })
    );
    let sent = fakes.openai.requests()[0].json();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(system.starts_with("Be a pirate.") && system.ends_with("Keep it short."));

    // Streamed, addressed by slug, with usage; the same `user` is one stored session.
    for round in 0..2 {
        fakes.openai.push(Step::events(
            OpenAiWire.answer_events(&ScriptedAnswer::text(&["Yo", " ho", "!"], (30, 3)), true),
        ));
        let res = app
            .http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&sdk)
            .json(&json!({ "model": "support-bot-eu", "stream": true,
                "stream_options": { "include_usage": true }, "user": "ada@example.com",
                "messages": [{ "role": "user", "content": format!("Sing {round}") }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.text().await.unwrap();
        let data = data_lines(&body);
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{body}");
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert!(
            chunks
                .iter()
                .all(|c| c["object"] == "chat.completion.chunk")
        );
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Yo ho!");
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 33);
    }
    let sessions = app
        .get(
            &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
            &owner.token,
        )
        .await;
    let users: Vec<&str> = sessions.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["external_user"].as_str())
        .collect();
    assert_eq!(
        users.iter().filter(|u| **u == "ada@example.com").count(),
        1,
        "one session per user: {users:?}"
    );
}

#[tokio::test]
async fn errors_come_in_openais_shape() {
    let (app, _fakes) = app_with_fakes().await;
    let owner = app.register(&email("openai-errors")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Helper").await;
    let sdk = key(&app, &owner.token, &org, &["chat:completions"]).await;
    let reader = key(&app, &owner.token, &org, &["bots:read"]).await;
    let ask = json!({ "model": bot, "messages": [{ "role": "user", "content": "hi" }] });

    let error = |reply: &crate::common::Reply| reply.json["error"].clone();
    let anonymous = app
        .call(
            Method::POST,
            "/v1/chat/completions",
            None,
            Some(ask.clone()),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.content_type().starts_with("application/json"));
    assert_eq!(error(&anonymous)["code"], "invalid_api_key");
    assert!(error(&anonymous)["message"].is_string());
    for token in [&owner.token, &reader] {
        let refused = app.post("/v1/chat/completions", token, ask.clone()).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!(error(&refused)["type"], "permission_error");
    }
    let unknown = app
        .post(
            "/v1/chat/completions",
            &sdk,
            json!({ "model": "no-such-bot", "messages": [{ "role": "user", "content": "hi" }] }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(error(&unknown)["code"], "model_not_found");
    let empty = app
        .post(
            "/v1/chat/completions",
            &sdk,
            json!({ "model": bot, "messages": [] }),
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&empty)["type"], "invalid_request_error");
    assert_eq!(error(&empty)["param"], "messages");
    let last_not_user = app
        .post(
            "/v1/chat/completions",
            &sdk,
            json!({ "model": bot, "messages": [{ "role": "assistant", "content": "hi" }] }),
        )
        .await;
    assert_eq!(last_not_user.status, StatusCode::BAD_REQUEST);
    let malformed = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&sdk)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // A bot on the offline provider answers too (no key needed anywhere).
    let answered = app.post("/v1/chat/completions", &sdk, ask).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text);
    assert!(answered.json["choices"][0]["message"]["content"].is_string());
}

#[tokio::test]
async fn a_streamed_completion_keeps_the_order_of_a_flows_messages_around_the_answer() {
    let (app, fakes) = app_with_fakes().await;
    let owner = app.register(&email("openai-flow")).await;
    let org = owner.org_id.clone();
    let bot = bot_on(
        &app,
        &owner,
        json!({ "provider": "openai-compatible", "model": "fake-llama" }),
    )
    .await;
    let flow = format!("/api/v1/orgs/{org}/bots/{bot}/flow");
    let saved = app
        .call(
            Method::PUT,
            &flow,
            Some(&owner.token),
            Some(json!({
                "nodes": [
                    { "id": "start", "type": "start", "data": {} },
                    { "id": "hello", "type": "message", "data": { "text": "Welcome aboard!" } },
                    { "id": "ai", "type": "ai_answer", "data": {} },
                    { "id": "more", "type": "message", "data": { "text": "Anything else?" } }
                ],
                "edges": [
                    { "id": "e1", "source": "start", "target": "hello" },
                    { "id": "e2", "source": "hello", "target": "ai" },
                    { "id": "e3", "source": "ai", "target": "more" }
                ]
            })),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let published = app
        .call(
            Method::POST,
            &format!("{flow}/publish"),
            Some(&owner.token),
            None,
        )
        .await;
    assert!(published.status.is_success(), "{}", published.text);
    let sdk = key(&app, &owner.token, &org, &["chat:completions"]).await;
    let ask = json!({ "role": "user", "content": "Sing" });

    fakes.openai.push(Step::json(
        200,
        OpenAiWire.answer_json(&ScriptedAnswer::text(&["Yo ho!"], (5, 2))),
    ));
    let whole = app
        .post(
            "/v1/chat/completions",
            &sdk,
            json!({ "model": bot, "messages": [ask] }),
        )
        .await;
    let expected = "Welcome aboard!\n\nYo ho!\n\nAnything else?";
    assert_eq!(
        whole.json["choices"][0]["message"]["content"], expected,
        "{}",
        whole.text
    );

    fakes.openai.push(Step::events(
        OpenAiWire.answer_events(&ScriptedAnswer::text(&["Yo", " ho!"], (5, 2)), true),
    ));
    let body = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&sdk)
        .json(&json!({ "model": bot, "stream": true, "messages": [ask] }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pieces: Vec<String> = data_lines(&body)
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| {
            let chunk: Value = serde_json::from_str(d).unwrap();
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|piece| !piece.is_empty())
        .collect();
    assert_eq!(
        pieces,
        ["Welcome aboard!", "\n\nYo", " ho!", "\n\nAnything else?"],
        "{body}"
    );
}
