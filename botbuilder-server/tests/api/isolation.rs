//! The tenant isolation matrix. Every organization-scoped route of the router (enumerated
//! from the generated OpenAPI document, so a new route cannot escape) is called, for every
//! verb, (a) on another organization: 403, and (b) in the caller's own organization with ids
//! that belong to another organization: 404. Nothing of the other organization may appear in
//! any response body, and the other organization's data is intact afterwards.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Account, Reply, TestApp, email, org_routes};

/// The victim's own provider key.
const VICTIM_PROVIDER_KEY: &str = "sk-ant-victim-secret-provider-key";
const VICTIM_TOOL_SECRET: &str = "victim-tool-secret-value-0123";
pub(crate) use crate::route_bodies::body_for;

const VICTIM_WEBHOOK_URL: &str = "https://victim-hooks.example.invalid/in";

/// What the victim organization owns, by path parameter name.
pub(crate) struct Victim {
    pub(crate) account: Account,
    pub(crate) org: String,
    pub(crate) ids: BTreeMap<&'static str, String>,
    pub(crate) secrets: Vec<String>,
}

pub(crate) async fn victim(app: &TestApp) -> Victim {
    let account = app.register(&email("victim")).await;
    let org = account.org_id.clone();
    let bot = app.create_bot(&account, &org, "victim-secret-bot").await;
    let role = app
        .post(
            &format!("/api/v1/orgs/{org}/roles"),
            &account.token,
            json!({ "name": "victim-secret-role", "permissions": ["bots:read"] }),
        )
        .await;
    let key = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            &account.token,
            json!({ "name": "victim-secret-key", "permissions": ["bots:read"] }),
        )
        .await;
    let intent = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/{bot}/intents"),
            &account.token,
            json!({ "name": "victim-secret-intent", "examples": ["victim secret example"] }),
        )
        .await;
    let entity = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/{bot}/entities"),
            &account.token,
            json!({ "name": "victim-secret-entity", "kind": { "type": "lookup", "values": [{ "value": "victim-secret-value" }] } }),
        )
        .await;
    let session = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
            &account.token,
            json!({ "user": "victim-user" }),
        )
        .await;
    let session_id = session.json["session_id"].as_str().unwrap().to_owned();
    let turn = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/{bot}/conversations/{session_id}/messages"),
            &account.token,
            json!({ "text": "victim secret question" }),
        )
        .await;
    assert_eq!(turn.status, reqwest::StatusCode::OK, "{}", turn.text);
    let message_id = turn.json["message"]["id"].as_str().unwrap().to_owned();
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &account.token,
            json!({ "name": "victim-secret-kb" }),
        )
        .await;
    assert_eq!(kb.status, reqwest::StatusCode::CREATED, "{}", kb.text);
    let kb_id = kb.json["id"].as_str().unwrap().to_owned();
    let doc = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases/{kb_id}/documents"),
            &account.token,
            json!({ "title": "victim-secret-doc", "text": "victim secret knowledge" }),
        )
        .await;
    assert_eq!(doc.status, reqwest::StatusCode::ACCEPTED, "{}", doc.text);
    let doc_id = doc.json["id"].as_str().unwrap().to_owned();
    let credential = app
        .call(
            Method::PUT,
            &format!("/api/v1/orgs/{org}/provider-credentials/anthropic"),
            Some(&account.token),
            Some(json!({ "api_key": VICTIM_PROVIDER_KEY, "base_url": "https://victim-secret.example" })),
        )
        .await;
    assert_eq!(
        credential.status,
        reqwest::StatusCode::OK,
        "{}",
        credential.text
    );
    let secret = app
        .call(
            Method::PUT,
            &format!("/api/v1/orgs/{org}/secrets/VICTIM_SECRET"),
            Some(&account.token),
            Some(json!({ "value": VICTIM_TOOL_SECRET, "origin": "https://victim-tools.example" })),
        )
        .await;
    assert_eq!(secret.status, reqwest::StatusCode::OK, "{}", secret.text);
    let channel = app.connect_telegram(&account, &org, &bot).await;
    let (webhook, delivery) =
        crate::common::webhook_with_delivery(app, &account, &bot, VICTIM_WEBHOOK_URL).await;
    let member_email = email("victim-member");
    let member = app
        .add_member(&account, &org, &member_email, "editor")
        .await;
    let ids = BTreeMap::from([
        ("org", org.clone()),
        ("bot", bot.clone()),
        ("role", role.json["id"].as_str().unwrap().to_owned()),
        (
            "key",
            key.json["api_key"]["id"].as_str().unwrap().to_owned(),
        ),
        ("user", member.user_id.clone()),
        ("intent", intent.json["id"].as_str().unwrap().to_owned()),
        ("entity", entity.json["id"].as_str().unwrap().to_owned()),
        ("session", session_id.clone()),
        ("message", message_id.clone()),
        ("kb", kb_id.clone()),
        ("doc", doc_id.clone()),
        ("provider", "anthropic".to_owned()),
        ("name", "VICTIM_SECRET".to_owned()),
        ("channel", channel.clone()),
        ("webhook", webhook.clone()),
        ("delivery", delivery.clone()),
    ]);
    let secrets = vec![
        org.clone(),
        bot,
        ids["role"].clone(),
        ids["key"].clone(),
        member.user_id,
        member_email,
        account.email.clone(),
        "victim-secret-bot".to_owned(),
        "victim-secret-role".to_owned(),
        "victim-secret-key".to_owned(),
        "victim-secret-intent".to_owned(),
        "victim secret example".to_owned(),
        "victim-secret-entity".to_owned(),
        "victim-secret-value".to_owned(),
        "victim secret question".to_owned(),
        "victim-user".to_owned(),
        session_id,
        message_id,
        ids["intent"].clone(),
        ids["entity"].clone(),
        key.json["key"].as_str().unwrap().to_owned(),
        kb_id,
        doc_id,
        "victim-secret-kb".to_owned(),
        "victim-secret-doc".to_owned(),
        "victim secret knowledge".to_owned(),
        VICTIM_PROVIDER_KEY.to_owned(),
        "victim-secret.example".to_owned(),
        VICTIM_TOOL_SECRET.to_owned(),
        "victim-tools.example".to_owned(),
        channel,
        // The secret part of every fake bot token (the bot id is public).
        crate::common::TELEGRAM_TOKEN
            .split_once(':')
            .unwrap()
            .1
            .to_owned(),
        webhook,
        delivery,
        "victim-hooks.example.invalid".to_owned(),
    ];
    Victim {
        account,
        org,
        ids,
        secrets,
    }
}

/// The routes this test knows; a route missing here fails the test until it is added (with
/// a body if it takes one).
const KNOWN: &[(&str, &str)] = &[
    ("GET", "/api/v1/orgs/{org}"),
    ("PATCH", "/api/v1/orgs/{org}"),
    ("DELETE", "/api/v1/orgs/{org}"),
    ("GET", "/api/v1/orgs/{org}/members"),
    ("POST", "/api/v1/orgs/{org}/members"),
    ("PATCH", "/api/v1/orgs/{org}/members/{user}"),
    ("DELETE", "/api/v1/orgs/{org}/members/{user}"),
    ("GET", "/api/v1/orgs/{org}/roles"),
    ("POST", "/api/v1/orgs/{org}/roles"),
    ("PATCH", "/api/v1/orgs/{org}/roles/{role}"),
    ("DELETE", "/api/v1/orgs/{org}/roles/{role}"),
    ("GET", "/api/v1/orgs/{org}/api-keys"),
    ("POST", "/api/v1/orgs/{org}/api-keys"),
    ("DELETE", "/api/v1/orgs/{org}/api-keys/{key}"),
    ("GET", "/api/v1/orgs/{org}/audit-log"),
    ("GET", "/api/v1/orgs/{org}/bots"),
    ("POST", "/api/v1/orgs/{org}/bots"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}"),
    ("PATCH", "/api/v1/orgs/{org}/bots/{bot}"),
    ("DELETE", "/api/v1/orgs/{org}/bots/{bot}"),
    ("POST", "/api/v1/orgs/{org}/bots/{bot}/clone"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/intents"),
    ("POST", "/api/v1/orgs/{org}/bots/{bot}/intents"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}"),
    ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}"),
    ("DELETE", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/entities"),
    ("POST", "/api/v1/orgs/{org}/bots/{bot}/entities"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}"),
    ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}"),
    ("DELETE", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}"),
    ("POST", "/api/v1/orgs/{org}/bots/{bot}/nlu/parse"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/flow"),
    ("PUT", "/api/v1/orgs/{org}/bots/{bot}/flow"),
    ("POST", "/api/v1/orgs/{org}/bots/{bot}/flow/publish"),
    ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/conversations"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/export"),
    ("POST", "/api/v1/orgs/{org}/bots/import"),
    (
        "GET",
        "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}",
    ),
    (
        "POST",
        "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages",
    ),
    (
        "GET",
        "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages",
    ),
    (
        "POST",
        "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/reply",
    ),
    (
        "POST",
        "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/release",
    ),
    ("POST", "/api/v1/orgs/{org}/messages/{message}/feedback"),
    ("GET", "/api/v1/orgs/{org}/knowledge-bases"),
    ("POST", "/api/v1/orgs/{org}/knowledge-bases"),
    ("GET", "/api/v1/orgs/{org}/knowledge-bases/{kb}"),
    ("PATCH", "/api/v1/orgs/{org}/knowledge-bases/{kb}"),
    ("DELETE", "/api/v1/orgs/{org}/knowledge-bases/{kb}"),
    ("GET", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents"),
    ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents"),
    (
        "GET",
        "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}",
    ),
    (
        "PATCH",
        "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}",
    ),
    (
        "DELETE",
        "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}",
    ),
    ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/search"),
    (
        "GET",
        "/api/v1/orgs/{org}/knowledge-bases/{kb}/dead-letters",
    ),
    (
        "POST",
        "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}/retry",
    ),
    ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/reindex"),
    ("GET", "/api/v1/orgs/{org}/provider-credentials"),
    ("GET", "/api/v1/orgs/{org}/usage"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/analytics"),
    ("PUT", "/api/v1/orgs/{org}/provider-credentials/{provider}"),
    (
        "DELETE",
        "/api/v1/orgs/{org}/provider-credentials/{provider}",
    ),
    (
        "POST",
        "/api/v1/orgs/{org}/provider-credentials/{provider}/test",
    ),
    ("GET", "/api/v1/orgs/{org}/secrets"),
    ("PUT", "/api/v1/orgs/{org}/secrets/{name}"),
    ("DELETE", "/api/v1/orgs/{org}/secrets/{name}"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/channels"),
    ("POST", "/api/v1/orgs/{org}/bots/{bot}/channels"),
    ("GET", "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}"),
    ("DELETE", "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}"),
    (
        "POST",
        "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}/test",
    ),
    (
        "GET",
        "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}/dead-letters",
    ),
    ("GET", "/api/v1/orgs/{org}/webhooks"),
    ("POST", "/api/v1/orgs/{org}/webhooks"),
    ("GET", "/api/v1/orgs/{org}/webhooks/{webhook}"),
    ("PATCH", "/api/v1/orgs/{org}/webhooks/{webhook}"),
    ("DELETE", "/api/v1/orgs/{org}/webhooks/{webhook}"),
    (
        "POST",
        "/api/v1/orgs/{org}/webhooks/{webhook}/rotate-secret",
    ),
    ("GET", "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries"),
    (
        "POST",
        "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver",
    ),
];

pub(crate) fn fill(path: &str, org: &str, ids: &BTreeMap<&'static str, String>) -> String {
    let mut out = path.replace("{org}", org);
    for (name, id) in ids {
        out = out.replace(&format!("{{{name}}}"), id);
    }
    out
}

fn assert_no_leak(reply: &Reply, secrets: &[String], what: &str) {
    for secret in secrets {
        assert!(
            !reply.text.contains(secret.as_str()),
            "{what} leaked `{secret}`: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn every_org_route_is_covered_by_the_matrix() {
    let app = TestApp::spawn().await;
    let routes = org_routes(&app).await;
    assert!(routes.len() >= KNOWN.len());
    for (method, path) in &routes {
        assert!(
            KNOWN.contains(&(method.as_str(), path.as_str())),
            "{method} {path} is missing from the isolation matrix"
        );
    }
}

#[tokio::test]
async fn foreign_organizations_are_forbidden_on_every_route() {
    let app = TestApp::spawn().await;
    let victim = victim(&app).await;
    let intruder = app.register(&email("intruder")).await;
    let intruder_key = app
        .post(
            &format!("/api/v1/orgs/{}/api-keys", intruder.org_id),
            &intruder.token,
            json!({ "name": "k", "permissions": ["org:read", "org:update", "org:delete", "bots:read", "bots:write", "bots:delete", "members:read", "members:manage", "roles:read", "roles:manage", "api_keys:read", "api_keys:manage", "audit:read"] }),
        )
        .await
        .json["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path) in org_routes(&app).await {
        let url = fill(&path, &victim.org, &victim.ids);
        for (who, token) in [("user", &intruder.token), ("api key", &intruder_key)] {
            let reply = app
                .call(method.clone(), &url, Some(token), body_for(&method, &path))
                .await;
            let what = format!("{who} {method} {path}");
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{what}: {}",
                reply.text
            );
            assert_no_leak(&reply, &victim.secrets, &what);
        }
    }
    assert_victim_intact(&app, &victim).await;
}

#[tokio::test]
async fn foreign_ids_in_the_callers_own_organization_are_not_found() {
    let app = TestApp::spawn().await;
    let victim = victim(&app).await;
    let intruder = app.register(&email("intruder2")).await;
    for (method, path) in org_routes(&app).await {
        let url = fill(&path, &intruder.org_id, &victim.ids);
        let reply = app
            .call(
                method.clone(),
                &url,
                Some(&intruder.token),
                body_for(&method, &path),
            )
            .await;
        let what = format!("{method} {path}");
        let has_foreign_id = [
            "{bot}",
            "{role}",
            "{key}",
            "{user}",
            "{intent}",
            "{entity}",
            "{session}",
            "{message}",
            "{kb}",
            "{doc}",
            "{channel}",
            "{webhook}",
        ]
        .iter()
        .any(|p| path.contains(p));
        if has_foreign_id {
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{what}: {}",
                reply.text
            );
        } else if path.contains("{provider}") || path.contains("{name}") {
            // A provider or secret name names no row of anybody: these act on the
            // intruder's own (there or not, depending on the order routes come in).
            assert!(
                reply.status.is_success() || reply.status == StatusCode::NOT_FOUND,
                "{what}: {}",
                reply.text
            );
        } else if method == Method::DELETE {
            // Deleting one's own organization is allowed; it must not touch the victim.
            assert!(reply.status.is_success(), "{what}: {}", reply.text);
        }
        assert_no_leak(&reply, &victim.secrets, &what);
    }
    assert_victim_intact(&app, &victim).await;
}

async fn assert_victim_intact(app: &TestApp, victim: &Victim) {
    let token = &victim.account.token;
    let org = &victim.org;
    let bot = app
        .get(
            &format!("/api/v1/orgs/{org}/bots/{}", victim.ids["bot"]),
            token,
        )
        .await;
    assert_eq!(bot.status, StatusCode::OK);
    assert_eq!(bot.json["name"], "victim-secret-bot");
    let bots = app.get(&format!("/api/v1/orgs/{org}/bots"), token).await;
    assert_eq!(
        bots.json["items"].as_array().unwrap().len(),
        1,
        "no bot added or cloned"
    );
    let roles = app.get(&format!("/api/v1/orgs/{org}/roles"), token).await;
    assert!(roles.text.contains("victim-secret-role"));
    assert!(!roles.text.contains("pwned") && !roles.text.contains("intruder"));
    let keys = app
        .get(&format!("/api/v1/orgs/{org}/api-keys"), token)
        .await;
    assert_eq!(keys.json.as_array().unwrap().len(), 1);
    let credentials = app
        .get(&format!("/api/v1/orgs/{org}/provider-credentials"), token)
        .await;
    assert_eq!(
        credentials.json.as_array().unwrap().len(),
        1,
        "{}",
        credentials.text
    );
    assert_eq!(
        credentials.json[0]["base_url"],
        "https://victim-secret.example"
    );
    let secrets = app.get(&format!("/api/v1/orgs/{org}/secrets"), token).await;
    assert_eq!(
        secrets.json.as_array().unwrap().len(),
        1,
        "{}",
        secrets.text
    );
    assert_eq!(secrets.json[0]["origin"], "https://victim-tools.example");
    let intents = app
        .get(
            &format!("/api/v1/orgs/{org}/bots/{}/intents", victim.ids["bot"]),
            token,
        )
        .await;
    assert_eq!(
        intents.json[0]["name"], "victim-secret-intent",
        "{}",
        intents.text
    );
    assert_eq!(intents.json.as_array().unwrap().len(), 1);
    let entities = app
        .get(
            &format!("/api/v1/orgs/{org}/bots/{}/entities", victim.ids["bot"]),
            token,
        )
        .await;
    assert_eq!(entities.json[0]["name"], "victim-secret-entity");
    assert_eq!(entities.json.as_array().unwrap().len(), 1);
    let members = app.get(&format!("/api/v1/orgs/{org}/members"), token).await;
    assert_eq!(members.json["items"].as_array().unwrap().len(), 2);
    assert!(members.text.contains("\"editor\""));
    let kbs = app
        .get(&format!("/api/v1/orgs/{org}/knowledge-bases"), token)
        .await;
    assert_eq!(
        kbs.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        kbs.text
    );
    assert_eq!(kbs.json["items"][0]["name"], "victim-secret-kb");
    let docs = app
        .get(
            &format!(
                "/api/v1/orgs/{org}/knowledge-bases/{}/documents",
                victim.ids["kb"]
            ),
            token,
        )
        .await;
    assert_eq!(
        docs.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        docs.text
    );
    assert_eq!(docs.json["items"][0]["title"], "victim-secret-doc");
    let me = app.get(&format!("/api/v1/orgs/{org}"), token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(!me.text.contains("pwned"));
}
