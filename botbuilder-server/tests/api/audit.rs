//! The audit log records every successful mutation in an organization, and nothing else.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, email};

#[tokio::test]
async fn mutations_are_audited_with_actor_target_and_request_id() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("audit")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "audited").await;
    let patch = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{bot}"),
            Some(&owner.token),
            Some(json!({ "name": "renamed" })),
        )
        .await;
    let request_id = patch.headers["x-request-id"].to_str().unwrap().to_owned();
    app.call(
        Method::DELETE,
        &format!("/api/v1/orgs/{org}/bots/{bot}"),
        Some(&owner.token),
        None,
    )
    .await;
    // Reads and failed writes are not audited.
    app.get(&format!("/api/v1/orgs/{org}/bots"), &owner.token)
        .await;
    let failed = app
        .post(&format!("/api/v1/orgs/{org}/bots"), &owner.token, json!({}))
        .await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);

    let log = app
        .get(&format!("/api/v1/orgs/{org}/audit-log"), &owner.token)
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let actions: Vec<&str> = log.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["bot.delete", "bot.update", "bot.create", "org.create"]
    );
    let update = &log.json["items"][1];
    assert_eq!(update["actor"], format!("user:{}", owner.user_id));
    assert_eq!(update["target_type"], "bot");
    assert_eq!(update["target_id"], bot.as_str());
    assert_eq!(update["request_id"], request_id.as_str());
    assert_eq!(update["ip"], "127.0.0.1");
}

#[tokio::test]
async fn audit_log_filters_and_pages() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("audit-f")).await;
    let org = owner.org_id.clone();
    for i in 0..3 {
        app.create_bot(&owner, &org, &format!("b{i}")).await;
    }
    let key = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            &owner.token,
            json!({ "name": "k", "permissions": ["bots:write", "bots:read"] }),
        )
        .await;
    let secret = key.json["key"].as_str().unwrap();
    let key_id = key.json["api_key"]["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/orgs/{org}/bots"),
        secret,
        json!({ "name": "by key" }),
    )
    .await;

    let base = format!("/api/v1/orgs/{org}/audit-log");
    let creates = app
        .get(&format!("{base}?action=bot.create"), &owner.token)
        .await;
    assert_eq!(creates.json["items"].as_array().unwrap().len(), 4);
    let by_key = app
        .get(&format!("{base}?actor=api_key:{key_id}"), &owner.token)
        .await;
    assert_eq!(by_key.json["items"].as_array().unwrap().len(), 1);
    let by_user = app
        .get(&format!("{base}?actor={}", owner.user_id), &owner.token)
        .await;
    assert_eq!(by_user.json["items"].as_array().unwrap().len(), 5);
    let future = app
        .get(&format!("{base}?since=2999-01-01T00:00:00Z"), &owner.token)
        .await;
    assert!(future.json["items"].as_array().unwrap().is_empty());

    let first = app.get(&format!("{base}?limit=2"), &owner.token).await;
    assert_eq!(first.json["items"].as_array().unwrap().len(), 2);
    let cursor = first.json["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("{base}?limit=2&cursor={cursor}"), &owner.token)
        .await;
    assert_eq!(second.json["items"].as_array().unwrap().len(), 2);
    assert_ne!(first.json["items"][0]["id"], second.json["items"][0]["id"]);
}

/// Opening a conversation is audited; its turns are not (the transcript is their record), in
/// JSON or streamed.
#[tokio::test]
async fn conversation_turns_are_not_audited() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("audit-turns")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "chatty").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let opened = app
        .post(&base, &owner.token, json!({ "user": "visitor" }))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let url = format!(
        "{base}/{}/messages",
        opened.json["session_id"].as_str().unwrap()
    );
    let turn = app
        .post(&url, &owner.token, json!({ "text": "hello" }))
        .await;
    assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
    let streamed = app
        .http
        .post(format!("http://{}{url}", app.addr))
        .bearer_auth(&owner.token)
        .header("accept", "text/event-stream")
        .json(&json!({ "text": "and again" }))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::OK);
    streamed.text().await.unwrap();

    let log = app
        .get(&format!("/api/v1/orgs/{org}/audit-log"), &owner.token)
        .await;
    let actions: Vec<&str> = log.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["conversation.open", "bot.create", "org.create"]
    );

    // Writing into a web visitor's conversation speaks as the visitor: that is audited.
    let visitor = crate::common::visitor_token(&app, &bot).await;
    let said = app
        .call(
            Method::POST,
            &format!("/api/v1/webchat/{bot}/messages"),
            Some(&visitor),
            Some(json!({ "text": "hi" })),
        )
        .await;
    assert_eq!(said.status, StatusCode::OK, "{}", said.text);
    let sessions = app.get(&format!("{base}?limit=10"), &owner.token).await;
    let web = sessions.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["channel"] == "web")
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let posted = app
        .post(
            &format!("{base}/{web}/messages"),
            &owner.token,
            json!({ "text": "as the visitor" }),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text);
    let log = app
        .get(&format!("/api/v1/orgs/{org}/audit-log"), &owner.token)
        .await;
    assert_eq!(log.json["items"][0]["action"], "conversation.message");
    assert_eq!(log.json["items"][0]["target_id"], web.as_str());
    assert_eq!(log.json["items"][0]["details"]["channel"], "web");
}
