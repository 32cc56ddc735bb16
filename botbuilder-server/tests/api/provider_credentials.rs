//! An organization's own provider keys: write-only, masked, sealed and bound to their row,
//! used before the server's, audited without their value, and tested with a cheap call.

use botbuilder_core::domain::BotSettings;
use botbuilder_providers::testing::{AnthropicWire, FakeServer, ScriptedAnswer, Step, Wire};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, SqlParam, TestApp, email};

const ORG_KEY: &str = "sk-ant-org-own-key-7c1d9e0b";

async fn app_allowing(fake: &FakeServer) -> TestApp {
    let allow = vec![fake.addr()];
    TestApp::spawn_with(move |settings| settings.fetch_allow = allow).await
}

async fn anthropic_bot(app: &TestApp, owner: &Account) -> String {
    let org = &owner.org_id;
    let bot = app.create_bot(owner, org, "Claude bot").await;
    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{bot}"),
            Some(&owner.token),
            Some(json!({ "ai_config": { "provider": "anthropic" } })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    bot
}

async fn status(app: &TestApp, owner: &Account, bot: &str) -> Value {
    let org = &owner.org_id;
    app.get(&format!("/api/v1/orgs/{org}/bots/{bot}"), &owner.token)
        .await
        .json["provider_status"]
        .clone()
}

async fn ask(app: &TestApp, owner: &Account, bot: &str, text: &str) -> Value {
    let org = &owner.org_id;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let session = app.post(&base, &owner.token, json!({})).await.json["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app
        .post(
            &format!("{base}/{session}/messages"),
            &owner.token,
            json!({ "text": text }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json["replies"][0].clone()
}

fn put_body(base_url: &str) -> Value {
    json!({ "api_key": ORG_KEY, "base_url": base_url })
}

#[tokio::test]
async fn an_organizations_key_is_write_only_masked_audited_and_used_by_its_bots() {
    let fake = FakeServer::start().await;
    let app = app_allowing(&fake).await;
    let owner = app.register(&email("creds")).await;
    let org = owner.org_id.clone();
    let bot = anthropic_bot(&app, &owner).await;
    assert_eq!(status(&app, &owner, &bot).await, "missing_credentials");

    let url = format!("/api/v1/orgs/{org}/provider-credentials/anthropic");
    let put = app
        .call(
            Method::PUT,
            &url,
            Some(&owner.token),
            Some(put_body(&fake.url())),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.json["provider"], "anthropic");
    assert_eq!(put.json["hint"], "sk-…9e0b");
    assert!(!put.text.contains(ORG_KEY));
    let listed = app
        .get(
            &format!("/api/v1/orgs/{org}/provider-credentials"),
            &owner.token,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json[0]["hint"], "sk-…9e0b");
    assert_eq!(listed.json[0]["base_url"], fake.url());
    assert!(!listed.text.contains(ORG_KEY));
    assert_eq!(status(&app, &owner, &bot).await, "ready");

    // Its bots call the provider with it.
    fake.push(Step::json(
        200,
        AnthropicWire.answer_json(&ScriptedAnswer::text(&["With your own key."], (9, 4))),
    ));
    let reply = ask(&app, &owner, &bot, "Hello").await;
    assert_eq!(reply["text"], "With your own key.");
    assert_eq!(fake.requests()[0].header("x-api-key"), Some(ORG_KEY));

    // A cheap test call reports the provider's verdict.
    fake.push(Step::json(
        200,
        AnthropicWire.answer_json(&ScriptedAnswer::text(&["p"], (1, 1))),
    ));
    let tested = app
        .call(
            Method::POST,
            &format!("{url}/test"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text);
    assert_eq!(tested.json["ok"], true);
    assert_eq!(tested.json["model"], "claude-haiku-4-5");
    assert_eq!(fake.requests()[1].json()["max_tokens"], 1);
    fake.push(Step::json(
        401,
        AnthropicWire.error_body(
            "authentication_error",
            &format!("invalid x-api-key {ORG_KEY}"),
        ),
    ));
    let refused = app
        .call(
            Method::POST,
            &format!("{url}/test"),
            Some(&owner.token),
            Some(json!({ "model": "claude-sonnet-4-5" })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.text);
    assert_eq!(refused.json["ok"], false);
    assert_eq!(refused.json["error"], "unauthorized");
    assert!(!refused.text.contains(ORG_KEY));

    // Every change is audited, never with the key.
    let audit = app
        .get(&format!("/api/v1/orgs/{org}/audit-log"), &owner.token)
        .await;
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"provider_credential.put"), "{actions:?}");
    assert!(actions.contains(&"provider_credential.test"), "{actions:?}");
    assert!(!audit.text.contains(ORG_KEY));

    // Removed: the bot is back to having no credentials.
    let deleted = app
        .call(Method::DELETE, &url, Some(&owner.token), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(status(&app, &owner, &bot).await, "missing_credentials");
    let again = app
        .call(Method::DELETE, &url, Some(&owner.token), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn credentials_are_checked_and_only_admins_see_or_change_them() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("creds-rules")).await;
    let org = owner.org_id.clone();
    let base = format!("/api/v1/orgs/{org}/provider-credentials");
    for (provider, body, field) in [
        ("local", json!({ "api_key": "x" }), "provider"),
        ("acme", json!({ "api_key": "x" }), "provider"),
        ("openai", json!({}), "api_key"),
        ("openai", json!({ "api_key": "has space" }), "api_key"),
        ("openai-compatible", json!({}), "base_url"),
        (
            "openai",
            json!({ "api_key": "sk-1", "base_url": "file:///etc/passwd" }),
            "base_url",
        ),
    ] {
        let res = app
            .call(
                Method::PUT,
                &format!("{base}/{provider}"),
                Some(&owner.token),
                Some(body),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{provider}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), vec![field], "{provider}");
    }
    let unknown = app
        .call(
            Method::PUT,
            &format!("{base}/openai"),
            Some(&owner.token),
            Some(json!({ "api_key": "sk-1", "extra": true })),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let editor = app
        .add_member(&owner, &org, &email("creds-editor"), "editor")
        .await;
    let listed = app.get(&base, &editor.token).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN);
    let put = app
        .call(
            Method::PUT,
            &format!("{base}/openai"),
            Some(&editor.token),
            Some(json!({ "api_key": "sk-editor-key" })),
        )
        .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    let admin = app
        .add_member(&owner, &org, &email("creds-admin"), "admin")
        .await;
    let put = app
        .call(
            Method::PUT,
            &format!("{base}/openai"),
            Some(&admin.token),
            Some(json!({ "api_key": "sk-admin-key-1234567" })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let missing = app
        .call(
            Method::POST,
            &format!("{base}/anthropic/test"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "nothing stored to test"
    );
}

#[tokio::test]
async fn a_key_copied_into_another_organizations_row_does_not_open() {
    let fake = FakeServer::start().await;
    let app = app_allowing(&fake).await;
    let victim = app.register(&email("creds-victim")).await;
    let thief = app.register(&email("creds-thief")).await;
    app.call(
        Method::PUT,
        &format!(
            "/api/v1/orgs/{}/provider-credentials/anthropic",
            victim.org_id
        ),
        Some(&victim.token),
        Some(put_body(&fake.url())),
    )
    .await;
    // Someone with database access copies the sealed key into the other organization's row.
    let victim_id: uuid::Uuid = victim.org_id.parse().unwrap();
    let thief_id: uuid::Uuid = thief.org_id.parse().unwrap();
    app.execute_sql(
        "INSERT INTO provider_credentials
         SELECT $1, provider, key_id, nonce, ciphertext, hint, base_url, created_at, updated_at
         FROM provider_credentials WHERE organization_id = $2",
        &[SqlParam::Uuid(thief_id), SqlParam::Uuid(victim_id)],
    )
    .await;

    let thief_bot = anthropic_bot(&app, &thief).await;
    assert_eq!(
        status(&app, &thief, &thief_bot).await,
        "credentials_unreadable"
    );
    let reply = ask(&app, &thief, &thief_bot, "free tokens?").await;
    assert_eq!(reply["text"], BotSettings::DEFAULT_UNAVAILABLE_MESSAGE);
    assert!(
        fake.requests().is_empty(),
        "the provider was never called with it"
    );
}
