//! A valid body for each organization route, so the matrices' requests are refused (or
//! allowed) for who sends them and what they target, never for their input.

use reqwest::Method;
use serde_json::{Value, json};

/// A valid body per route, so a request is refused for its target and not for its input.
pub(crate) fn body_for(method: &Method, path: &str) -> Option<Value> {
    let body = match (method.as_str(), path) {
        ("POST", "/api/v1/orgs/{org}/bots") => json!({ "name": "intruder" }),
        ("PATCH", "/api/v1/orgs/{org}/bots/{bot}") => json!({ "name": "pwned" }),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/clone") => json!({}),
        ("PATCH", "/api/v1/orgs/{org}") => json!({ "name": "pwned" }),
        ("POST", "/api/v1/orgs/{org}/members") => {
            json!({ "email": "x@example.com", "role": "viewer" })
        }
        ("PATCH", "/api/v1/orgs/{org}/members/{user}") => json!({ "role": "viewer" }),
        ("POST", "/api/v1/orgs/{org}/roles") => json!({ "name": "intruder", "permissions": [] }),
        ("PATCH", "/api/v1/orgs/{org}/roles/{role}") => json!({ "name": "pwned" }),
        ("POST", "/api/v1/orgs/{org}/api-keys") => {
            json!({ "name": "intruder", "permissions": ["bots:read"] })
        }
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/intents") => {
            json!({ "name": "intruder", "examples": ["x"] })
        }
        ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}") => json!({ "name": "pwned" }),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/entities") => {
            json!({ "name": "intruder", "kind": { "type": "builtin", "builtin": "email" } })
        }
        ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}") => json!({ "name": "pwned" }),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/nlu/parse") => {
            json!({ "text": "victim secret example" })
        }
        ("PUT", "/api/v1/orgs/{org}/bots/{bot}/flow") => json!({
            "nodes": [{ "id": "start", "type": "start", "data": {} }],
            "edges": []
        }),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations") => json!({}),
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages") => {
            json!({ "text": "hello" })
        }
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/reply") => {
            json!({ "text": "agent here" })
        }
        ("POST", "/api/v1/orgs/{org}/messages/{message}/feedback") => json!({ "rating": "down" }),
        ("POST", "/api/v1/orgs/{org}/knowledge-bases") => json!({ "name": "intruder" }),
        ("PATCH", "/api/v1/orgs/{org}/knowledge-bases/{kb}") => json!({ "name": "pwned" }),
        ("PATCH", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}") => {
            json!({ "title": "pwned" })
        }
        ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents") => {
            json!({ "title": "intruder", "text": "pwned" })
        }
        ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/search") => {
            json!({ "query": "victim secret knowledge" })
        }
        ("PUT", "/api/v1/orgs/{org}/provider-credentials/{provider}") => {
            json!({ "api_key": "sk-intruder-0123456789" })
        }
        ("PUT", "/api/v1/orgs/{org}/secrets/{name}") => {
            json!({ "value": "intruder-0123456789", "origin": "https://intruder.example" })
        }
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/channels") => {
            crate::common::telegram_channel_body()
        }
        ("POST", "/api/v1/orgs/{org}/webhooks") => {
            json!({ "url": "https://intruder-hooks.example.invalid/in" })
        }
        ("PATCH", "/api/v1/orgs/{org}/webhooks/{webhook}") => json!({ "description": "pwned" }),
        ("POST", "/api/v1/orgs/{org}/bots/import") => json!({
            "format": "botbuilder.bot/v1",
            "bot": { "name": "Imported", "ai_config": { "provider": "local", "model": "local-extractive",
                "system_prompt": "Hi", "temperature": 0.2, "max_tokens": 100, "fallback_provider": null } },
            "intents": [{ "name": "greet", "examples": ["hi"] }],
            "entities": [],
            "flow": { "nodes": [{ "id": "start", "type": "start", "data": {} }], "edges": [] }
        }),
        _ => return None,
    };
    Some(body)
}
