//! Bad input: a clear problem+json naming the field, the right status, and nothing stored.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Account, TestApp, email};

async fn setup() -> (TestApp, Account, String) {
    let app = TestApp::spawn_with(|s| s.body_limit = 16 * 1024).await;
    let owner = app.register(&email("val")).await;
    let bots = format!("/api/v1/orgs/{}/bots", owner.org_id);
    (app, owner, bots)
}

async fn raw(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> crate::common::Reply {
    let res = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::reply(res).await
}

async fn assert_no_bots(app: &TestApp, owner: &Account, bots: &str) {
    let listed = app.get(bots, &owner.token).await;
    assert!(
        listed.json["items"].as_array().unwrap().is_empty(),
        "nothing stored: {}",
        listed.text
    );
}

#[tokio::test]
async fn malformed_json_names_the_body() {
    let (app, owner, bots) = setup().await;
    let reply = raw(
        &app,
        &bots,
        &owner.token,
        "application/json",
        b"{\"name\": ".to_vec(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(reply.json["code"], "validation_failed");
    assert_eq!(reply.error_fields(), vec!["body"]);
    let trailing = raw(
        &app,
        &bots,
        &owner.token,
        "application/json",
        b"{\"name\":\"a\"} x".to_vec(),
    )
    .await;
    assert_eq!(trailing.status, StatusCode::BAD_REQUEST);
    assert_no_bots(&app, &owner, &bots).await;
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_named() {
    let (app, owner, bots) = setup().await;
    let cases = [
        (json!({ "name": 42 }), "name"),
        (json!({}), "name"),
        (
            json!({ "name": "ok", "ai_config": { "temperature": "hot" } }),
            "ai_config.temperature",
        ),
        (
            json!({ "name": "ok", "ai_config": { "max_tokens": -1 } }),
            "ai_config.max_tokens",
        ),
        (
            json!({ "name": "ok", "organization_id": "someone-else" }),
            "organization_id",
        ),
        (
            json!({ "name": "ok", "ai_config": { "api_key": "sk-..." } }),
            "ai_config.api_key",
        ),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let reply = app.post(&bots, &owner.token, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(
            reply.error_fields(),
            vec![field.to_owned()],
            "{body}: {}",
            reply.text
        );
        assert!(
            !reply.json["errors"][0]["message"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    assert_no_bots(&app, &owner, &bots).await;
}

#[tokio::test]
async fn rule_violations_list_every_field() {
    let (app, owner, bots) = setup().await;
    let reply = app
        .post(
            &bots,
            &owner.token,
            json!({
                "name": "x".repeat(101),
                "description": "d".repeat(2001),
                "ai_config": { "provider": "skynet", "temperature": 2.5, "max_tokens": 0 }
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let mut fields = reply.error_fields();
    fields.sort();
    fields.dedup();
    assert_eq!(
        fields,
        vec![
            "ai_config.max_tokens",
            "ai_config.provider",
            "ai_config.temperature",
            "description",
            "name"
        ]
    );
    let cross = app
        .post(
            &bots,
            &owner.token,
            json!({ "name": "x", "ai_config": { "provider": "openai-compatible" } }),
        )
        .await;
    assert_eq!(cross.error_fields(), vec!["ai_config.model"]);
    let same = app
        .post(
            &bots,
            &owner.token,
            json!({ "name": "x", "ai_config": { "fallback_provider": "local" } }),
        )
        .await;
    assert_eq!(same.error_fields(), vec!["ai_config.fallback_provider"]);
    let settings = app
        .post(
            &bots,
            &owner.token,
            json!({ "name": "x", "settings": {
                "nlu_threshold": 1.5,
                "idle_timeout_secs": 5,
                "allowed_origins": ["https://ok.example", "https://shop.example/path", "*", "ftp://x.example"]
            } }),
        )
        .await;
    assert_eq!(settings.status, StatusCode::BAD_REQUEST);
    let mut fields = settings.error_fields();
    fields.sort();
    fields.dedup();
    assert_eq!(
        fields,
        vec![
            "settings.allowed_origins[1]",
            "settings.allowed_origins[2]",
            "settings.allowed_origins[3]",
            "settings.idle_timeout_secs",
            "settings.nlu_threshold",
        ],
        "every problem at once"
    );
    let origins = app
        .post(
            &bots,
            &owner.token,
            json!({ "name": "x", "settings": {
                "allowed_origins": ["https://ok.example", "https://shop.example/path", "*", "ftp://x.example", "https://ok.example:8443"]
            } }),
        )
        .await;
    assert_eq!(
        origins.error_fields(),
        vec![
            "settings.allowed_origins[1]",
            "settings.allowed_origins[2]",
            "settings.allowed_origins[3]"
        ]
    );
    assert_no_bots(&app, &owner, &bots).await;
}

#[tokio::test]
async fn registration_input_is_validated() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "long enough", "name": "a", "organization_name": "b"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short", "name": "a", "organization_name": "b"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "long enough", "name": "   ", "organization_name": "b"}),
            "name",
        ),
        (
            json!({"email": "a@example.com", "password": "long enough", "name": "a"}),
            "organization_name",
        ),
        (
            json!({"email": "a@example.com", "password": "long enough", "name": "a", "organization_name": "b", "role": "owner"}),
            "role",
        ),
    ];
    for (body, field) in cases {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            reply.error_fields().contains(&field.to_owned()),
            "{body}: {}",
            reply.text
        );
    }
    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "a@example.com", "password": "long enough"})),
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::UNAUTHORIZED,
        "nothing was registered"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_and_store_nothing() {
    let (app, owner, bots) = setup().await;
    let huge = json!({ "name": "big", "description": "x".repeat(64 * 1024) });
    let reply = app.post(&bots, &owner.token, huge).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_no_bots(&app, &owner, &bots).await;
}

#[tokio::test]
async fn non_json_content_types_are_415() {
    let (app, owner, bots) = setup().await;
    let reply = raw(
        &app,
        &bots,
        &owner.token,
        "text/plain",
        b"{\"name\":\"a\"}".to_vec(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_no_bots(&app, &owner, &bots).await;
}

#[tokio::test]
async fn unicode_round_trips_and_control_characters_are_refused() {
    let (app, owner, bots) = setup().await;
    let name = "Support 🤖 مرحبا שלום 日本";
    let created = app
        .post(
            &bots,
            &owner.token,
            json!({ "name": name, "description": "line one\nline two" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().unwrap();
    let fetched = app.get(&format!("{bots}/{id}"), &owner.token).await;
    assert_eq!(fetched.json["name"], name);
    assert_eq!(fetched.json["description"], "line one\nline two");

    let nul = app
        .post(&bots, &owner.token, json!({ "name": "bad\u{0}name" }))
        .await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST);
    assert_eq!(nul.error_fields(), vec!["name"]);
    // Query parameters too (Postgres text cannot hold NUL): refused, naming the parameter.
    let audit = format!(
        "/api/v1/orgs/{}/audit-log?action=bot.%00created",
        owner.org_id
    );
    let nul_query = app.get(&audit, &owner.token).await;
    assert_eq!(
        nul_query.status,
        StatusCode::BAD_REQUEST,
        "{}",
        nul_query.text
    );
    assert_eq!(nul_query.error_fields(), vec!["action"]);
    let invalid_utf8 = raw(
        &app,
        &bots,
        &owner.token,
        "application/json",
        b"{\"name\":\"\xff\xfe\"}".to_vec(),
    )
    .await;
    assert_eq!(invalid_utf8.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_path_and_query_parameters_are_named() {
    let (app, owner, bots) = setup().await;
    let bad_bot = app.get(&format!("{bots}/not-a-uuid"), &owner.token).await;
    assert_eq!(bad_bot.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_bot.error_fields(), vec!["bot"]);
    let bad_org = app.get("/api/v1/orgs/nope/bots", &owner.token).await;
    assert_eq!(bad_org.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_org.error_fields(), vec!["org"]);
    let bad_limit = app.get(&format!("{bots}?limit=lots"), &owner.token).await;
    assert_eq!(bad_limit.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_limit.error_fields(), vec!["limit"]);
    let unknown = app.get(&format!("{bots}?sort=name"), &owner.token).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.error_fields(), vec!["sort"]);
    let audit = app
        .get(
            &format!("/api/v1/orgs/{}/audit-log?since=yesterday", owner.org_id),
            &owner.token,
        )
        .await;
    assert_eq!(audit.error_fields(), vec!["since"]);
}
