//! What each route of the permission matrix acts on: created as the organization's owner
//! before the caller tries it, so a refusal is for who calls, never for a missing target.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestApp, email};
use crate::permissions::World;

/// Creates what the route acts on (as the owner) and returns the concrete path and body.
pub(crate) async fn target(
    app: &TestApp,
    w: &World,
    method: &str,
    path: &str,
) -> (String, Option<Value>) {
    let org = &w.org;
    let token = &w.owner.token;
    let mut concrete = path.replace("{org}", org);
    if path.contains("{bot}") {
        let bot = app.create_bot(&w.owner, org, "target").await;
        concrete = concrete.replace("{bot}", &bot);
        if path.ends_with("/flow/publish") {
            let saved = app
                .call(
                    Method::PUT,
                    &format!("/api/v1/orgs/{org}/bots/{bot}/flow"),
                    Some(token),
                    Some(json!({ "nodes": [{ "id": "start", "type": "start", "data": {} }] })),
                )
                .await;
            assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        }
        if path.contains("{session}") {
            // A flow that hands every conversation to a human, so the handoff routes apply.
            let flow = format!("/api/v1/orgs/{org}/bots/{bot}/flow");
            app.call(
                Method::PUT,
                &flow,
                Some(token),
                Some(json!({
                    "nodes": [
                        { "id": "start", "type": "start", "data": {} },
                        { "id": "human", "type": "handoff", "data": { "message": "An agent will answer." } }
                    ],
                    "edges": [{ "id": "e", "source": "start", "target": "human" }]
                })),
            )
            .await;
            app.call(Method::POST, &format!("{flow}/publish"), Some(token), None)
                .await;
            let session = app
                .post(
                    &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
                    token,
                    json!({}),
                )
                .await;
            let id = session.json["session_id"].as_str().unwrap().to_owned();
            let turn = app
                .post(
                    &format!("/api/v1/orgs/{org}/bots/{bot}/conversations/{id}/messages"),
                    token,
                    json!({ "text": "help" }),
                )
                .await;
            assert_eq!(turn.json["session"]["status"], "handoff", "{}", turn.text);
            concrete = concrete.replace("{session}", &id);
        }
        if path.contains("{channel}") {
            let channel = app.connect_telegram(&w.owner, org, &bot).await;
            concrete = concrete.replace("{channel}", &channel);
        }
        if path.contains("{intent}") {
            let intent = app
                .post(
                    &format!("/api/v1/orgs/{org}/bots/{bot}/intents"),
                    token,
                    json!({ "name": "target", "examples": ["hello there"] }),
                )
                .await;
            concrete = concrete.replace("{intent}", intent.json["id"].as_str().unwrap());
        }
        if path.contains("{entity}") {
            let entity = app
                .post(
                    &format!("/api/v1/orgs/{org}/bots/{bot}/entities"),
                    token,
                    json!({ "name": "target", "kind": { "type": "builtin", "builtin": "email" } }),
                )
                .await;
            concrete = concrete.replace("{entity}", entity.json["id"].as_str().unwrap());
        }
    }
    if path.contains("{kb}") {
        let kb = app
            .post(
                &format!("/api/v1/orgs/{org}/knowledge-bases"),
                token,
                json!({ "name": "target" }),
            )
            .await;
        let kb = kb.json["id"].as_str().unwrap().to_owned();
        concrete = concrete.replace("{kb}", &kb);
        if path.contains("{doc}") {
            // Only a failed document can be retried: a damaged PDF fails in ingestion.
            let retried = path.ends_with("/retry");
            let body = if retried {
                json!({ "title": "target", "text": format!("%PDF-1.4 damaged {}", uuid::Uuid::now_v7()),
                    "content_type": "application/pdf" })
            } else {
                json!({ "title": "target", "text": format!("target text {}", uuid::Uuid::now_v7()) })
            };
            let docs = format!("/api/v1/orgs/{org}/knowledge-bases/{kb}/documents");
            let doc = app.post(&docs, token, body).await;
            let doc = doc.json["id"].as_str().unwrap().to_owned();
            if retried {
                let url = format!("{docs}/{doc}");
                for _ in 0..400 {
                    if app.get(&url, token).await.json["status"] == "failed" {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
            }
            concrete = concrete.replace("{doc}", &doc);
        }
    }
    if path.contains("{webhook}") {
        let bot = app.create_bot(&w.owner, org, "hooked").await;
        // `localhost` passes the check on creation and is refused at once when delivering,
        // so the delivery is settled (failed, not in flight) and can be redelivered.
        let (webhook, delivery) =
            crate::common::webhook_with_delivery(app, &w.owner, &bot, "http://localhost:9/in")
                .await;
        let log = format!("/api/v1/orgs/{org}/webhooks/{webhook}/deliveries");
        for _ in 0..400 {
            if app.get(&log, token).await.json["items"][0]["state"] == "failed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        concrete = concrete
            .replace("{webhook}", &webhook)
            .replace("{delivery}", &delivery);
    }
    if path.contains("{user}") {
        let member = app
            .add_member(&w.owner, org, &email("target"), "viewer")
            .await;
        concrete = concrete.replace("{user}", &member.user_id);
    }
    if path.contains("{role}") {
        let role = app
            .post(
                &format!("/api/v1/orgs/{org}/roles"),
                token,
                json!({ "name": format!("r-{}", uuid::Uuid::now_v7().simple()), "permissions": ["bots:read"] }),
            )
            .await;
        concrete = concrete.replace("{role}", role.json["id"].as_str().unwrap());
    }
    if path.contains("{message}") {
        let bot = app.create_bot(&w.owner, org, "rated").await;
        let session = app
            .post(
                &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
                token,
                json!({}),
            )
            .await;
        let id = session.json["session_id"].as_str().unwrap();
        let turn = app
            .post(
                &format!("/api/v1/orgs/{org}/bots/{bot}/conversations/{id}/messages"),
                token,
                json!({ "text": "hello" }),
            )
            .await;
        concrete = concrete.replace("{message}", turn.json["replies"][0]["id"].as_str().unwrap());
    }
    if path.contains("{provider}") {
        let stored = app
            .call(
                Method::PUT,
                &format!("/api/v1/orgs/{org}/provider-credentials/openai-compatible"),
                Some(token),
                Some(json!({ "base_url": "http://127.0.0.1:9/v1" })),
            )
            .await;
        assert_eq!(stored.status, StatusCode::OK, "{}", stored.text);
        concrete = concrete.replace("{provider}", "openai-compatible");
    }
    if path.contains("{name}") {
        let stored = app
            .call(
                Method::PUT,
                &format!("/api/v1/orgs/{org}/secrets/SHOP_KEY"),
                Some(token),
                Some(json!({ "value": "shop-key-0123456789", "origin": "https://shop.example" })),
            )
            .await;
        assert_eq!(stored.status, StatusCode::OK, "{}", stored.text);
        concrete = concrete.replace("{name}", "SHOP_KEY");
    }
    if path.contains("{key}") {
        let key = app
            .post(
                &format!("/api/v1/orgs/{org}/api-keys"),
                token,
                json!({ "name": "target", "permissions": ["bots:read"] }),
            )
            .await;
        concrete = concrete.replace("{key}", key.json["api_key"]["id"].as_str().unwrap());
    }
    let body = match (method, path) {
        ("PATCH", "/api/v1/orgs/{org}") => Some(json!({ "name": "renamed" })),
        ("POST", "/api/v1/orgs/{org}/members") => {
            let newcomer = app.register(&email("newcomer")).await;
            Some(json!({ "email": newcomer.email, "role": "viewer" }))
        }
        ("PATCH", "/api/v1/orgs/{org}/members/{user}") => Some(json!({ "role": "editor" })),
        ("POST", "/api/v1/orgs/{org}/roles") => Some(json!({
            "name": format!("new-{}", uuid::Uuid::now_v7().simple()),
            "permissions": ["bots:read"]
        })),
        ("PATCH", "/api/v1/orgs/{org}/roles/{role}") => Some(json!({ "description": "changed" })),
        ("POST", "/api/v1/orgs/{org}/api-keys") => {
            Some(json!({ "name": "new", "permissions": ["bots:read"] }))
        }
        ("POST", "/api/v1/orgs/{org}/bots") => Some(json!({ "name": "new bot" })),
        ("PUT", "/api/v1/orgs/{org}/provider-credentials/{provider}") => {
            Some(json!({ "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-new-0123456789" }))
        }
        ("POST", "/api/v1/orgs/{org}/provider-credentials/{provider}/test") => {
            Some(json!({ "model": "m" }))
        }
        ("PUT", "/api/v1/orgs/{org}/secrets/{name}") => {
            Some(json!({ "value": "shop-key-new-0123456789", "origin": "https://shop.example" }))
        }
        ("PATCH", "/api/v1/orgs/{org}/bots/{bot}") => Some(json!({ "name": "renamed" })),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/clone") => Some(json!({})),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/intents") => {
            Some(json!({ "name": "greet", "examples": ["hi", "hello"] }))
        }
        ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}") => {
            Some(json!({ "examples": ["hey"] }))
        }
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/entities") => Some(json!({
            "name": "size",
            "kind": { "type": "lookup", "values": [{ "value": "large", "synonyms": ["big"] }] }
        })),
        ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}") => {
            Some(json!({ "name": "contact" }))
        }
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/nlu/parse") => Some(json!({ "text": "hello" })),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/channels") => {
            Some(crate::common::telegram_channel_body())
        }
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations") => Some(json!({})),
        ("POST", "/api/v1/orgs/{org}/webhooks") => {
            Some(json!({ "url": "https://hooks.example.invalid/new" }))
        }
        ("PATCH", "/api/v1/orgs/{org}/webhooks/{webhook}") => {
            Some(json!({ "description": "changed" }))
        }
        ("POST", "/api/v1/orgs/{org}/knowledge-bases") => Some(json!({ "name": "docs" })),
        ("PATCH", "/api/v1/orgs/{org}/knowledge-bases/{kb}") => {
            Some(json!({ "description": "changed" }))
        }
        ("PATCH", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}") => {
            Some(json!({ "title": "Renamed" }))
        }
        ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents") => Some(json!({
            "title": "Refunds",
            "text": format!("Refunds take five days. {}", uuid::Uuid::now_v7()),
            "content_type": "text/markdown"
        })),
        ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/search") => {
            Some(json!({ "query": "refunds", "mode": "keyword" }))
        }
        ("POST", "/api/v1/orgs/{org}/bots/import") => Some(json!({
            "format": "botbuilder.bot/v1",
            "bot": { "name": "Imported", "ai_config": { "provider": "local", "model": "local-extractive",
                "system_prompt": "Hi", "temperature": 0.2, "max_tokens": 100, "fallback_provider": null } },
            "intents": [{ "name": "greet", "examples": ["hi"] }],
            "entities": [],
            "flow": { "nodes": [{ "id": "start", "type": "start", "data": {} }], "edges": [] }
        })),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages") => {
            Some(json!({ "text": "hello" }))
        }
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/reply") => {
            Some(json!({ "text": "agent here" }))
        }
        ("POST", "/api/v1/orgs/{org}/messages/{message}/feedback") => {
            Some(json!({ "rating": "up", "comment": "great" }))
        }
        ("PUT", "/api/v1/orgs/{org}/bots/{bot}/flow") => Some(json!({
            "nodes": [
                { "id": "start", "type": "start", "data": {} },
                { "id": "hi", "type": "message", "data": { "text": "hi" } }
            ],
            "edges": [{ "id": "e", "source": "start", "target": "hi" }]
        })),
        _ => None,
    };
    (concrete, body)
}
