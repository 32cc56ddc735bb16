//! Export a bot as one document and import it as a new bot that behaves the same.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, email};

#[tokio::test]
async fn an_exported_bot_imports_as_a_working_copy() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("transfer")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Original").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}");
    for (name, examples) in [
        ("hours", ["when are you open", "opening hours"]),
        ("bye", ["goodbye", "see you"]),
    ] {
        app.post(
            &format!("{base}/intents"),
            &owner.token,
            json!({ "name": name, "examples": examples }),
        )
        .await;
    }
    app.post(
        &format!("{base}/entities"),
        &owner.token,
        json!({ "name": "email", "kind": { "type": "builtin", "builtin": "email" } }),
    )
    .await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "route", "type": "intent_router", "data": {} },
            { "id": "hours", "type": "message", "data": { "text": "9 to 5." } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "route" },
            { "id": "e2", "source": "route", "sourceHandle": "hours", "target": "hours" }
        ]
    });
    app.call(
        Method::PUT,
        &format!("{base}/flow"),
        Some(&owner.token),
        Some(flow),
    )
    .await;

    let exported = app.get(&format!("{base}/export"), &owner.token).await;
    assert_eq!(exported.status, StatusCode::OK, "{}", exported.text);
    assert_eq!(exported.json["format"], "botbuilder.bot/v1");
    assert_eq!(exported.json["intents"].as_array().unwrap().len(), 2);
    assert!(!exported.text.contains("password") && !exported.text.contains("api_key"));

    let mut document = exported.json.clone();
    document["bot"]["name"] = json!("Copy");
    let imported = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/import"),
            &owner.token,
            document,
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    let copy = imported.json["id"].as_str().unwrap();
    assert_ne!(copy, bot);
    let again = app
        .get(
            &format!("/api/v1/orgs/{org}/bots/{copy}/export"),
            &owner.token,
        )
        .await;
    assert_eq!(again.json["intents"], exported.json["intents"]);
    assert_eq!(again.json["entities"], exported.json["entities"]);
    assert_eq!(again.json["flow"], exported.json["flow"]);

    // The copy answers like the original.
    let conversations = format!("/api/v1/orgs/{org}/bots/{copy}/conversations");
    let session = app.post(&conversations, &owner.token, json!({})).await.json["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let turn = app
        .post(
            &format!("{conversations}/{session}/messages"),
            &owner.token,
            json!({ "text": "when are you open" }),
        )
        .await;
    assert_eq!(turn.json["replies"][0]["text"], "9 to 5.", "{}", turn.text);
}

#[tokio::test]
async fn invalid_documents_are_refused_whole() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("transfer-bad")).await;
    let org = owner.org_id.clone();
    let bad = json!({
        "format": "something/else",
        "bot": { "name": "", "ai_config": { "provider": "local", "model": "m", "system_prompt": "",
            "temperature": 0.2, "max_tokens": 10, "fallback_provider": null } },
        "intents": [{ "name": "has space", "examples": ["x"] }],
        "entities": [{ "name": "e", "kind": { "type": "regex", "pattern": "(" } }],
        "flow": { "nodes": [{ "id": "x", "type": "message", "data": { "text": "no start" } }] }
    });
    let refused = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/import"),
            &owner.token,
            bad,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    let fields = refused.error_fields();
    for expected in [
        "format",
        "bot.name",
        "intents[0].name",
        "entities[0].kind",
        "flow.flow",
    ] {
        assert!(
            fields.contains(&expected.to_owned()),
            "{expected} in {fields:?}"
        );
    }
    let bots = app
        .get(&format!("/api/v1/orgs/{org}/bots"), &owner.token)
        .await;
    assert!(
        bots.json["items"].as_array().unwrap().is_empty(),
        "nothing stored"
    );
}

/// What bot creation refuses, import refuses too (and so do change and clone): an unknown
/// provider, an out-of-range temperature, too many or too long examples, an example taught
/// to two intents.
#[tokio::test]
async fn import_applies_the_rules_of_creation() {
    // The operator allows large bodies (bot documents can be big): the rules still hold.
    let app = TestApp::spawn_with(|settings| settings.body_limit = 8 << 20).await;
    let owner = app.register(&email("transfer-rules")).await;
    let org = owner.org_id.clone();
    let many: Vec<String> = (0..12_000).map(|i| format!("example number {i}")).collect();
    let document = json!({
        "format": "botbuilder.bot/v1",
        "bot": { "name": "Evil", "ai_config": { "provider": "evil-provider", "model": "m",
            "system_prompt": "", "temperature": 7, "max_tokens": 10, "fallback_provider": null } },
        "intents": [
            { "name": "many", "examples": many },
            { "name": "long", "examples": ["x".repeat(960_000)] },
            { "name": "refund", "examples": ["I want my money back"] },
            { "name": "cancel", "examples": ["i want my  money back"] }
        ],
    });
    let refused = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/import"),
            &owner.token,
            document,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    let fields = refused.error_fields();
    for expected in [
        "bot.ai_config.provider",
        "bot.ai_config.temperature",
        "intents[0].examples",
        "intents[1].examples[0]",
        "intents[3].examples[0]",
    ] {
        assert!(
            fields.contains(&expected.to_owned()),
            "{expected} in {fields:?}"
        );
    }
    assert!(refused.text.contains("`refund`"), "{}", refused.text);

    // Creation and change refuse the same values, naming the same fields.
    let created = app
        .post(
            &format!("/api/v1/orgs/{org}/bots"),
            &owner.token,
            json!({ "name": "Evil", "ai_config": { "provider": "evil-provider", "temperature": 7 } }),
        )
        .await;
    assert_eq!(created.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        created.error_fields(),
        ["ai_config.provider", "ai_config.temperature"]
    );
    let bot = app.create_bot(&owner, &org, "Fine").await;
    let changed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/bots/{bot}"),
            Some(&owner.token),
            Some(json!({ "ai_config": { "max_tokens": 0 }, "settings": { "nlu_threshold": 3 } })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        changed.error_fields(),
        ["ai_config.max_tokens", "settings.nlu_threshold"]
    );

    // One example, one intent: a second intent teaching it is a conflict naming the first.
    let intents = format!("/api/v1/orgs/{org}/bots/{bot}/intents");
    let refund = app
        .post(
            &intents,
            &owner.token,
            json!({ "name": "refund", "examples": ["money back"] }),
        )
        .await;
    assert_eq!(refund.status, StatusCode::CREATED);
    let again = app
        .post(
            &intents,
            &owner.token,
            json!({ "name": "cancel", "examples": ["Money  back"] }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.text.contains("`refund`"), "{}", again.text);
    let cancel = app
        .post(
            &intents,
            &owner.token,
            json!({ "name": "cancel", "examples": ["stop it"] }),
        )
        .await;
    let moved = app
        .call(
            Method::PATCH,
            &format!("{intents}/{}", cancel.json["id"].as_str().unwrap()),
            Some(&owner.token),
            Some(json!({ "examples": ["stop it", "money back"] })),
        )
        .await;
    assert_eq!(moved.status, StatusCode::CONFLICT, "{}", moved.text);
    let own = app
        .call(
            Method::PATCH,
            &format!("{intents}/{}", refund.json["id"].as_str().unwrap()),
            Some(&owner.token),
            Some(json!({ "examples": ["money back", "refund please"] })),
        )
        .await;
    assert_eq!(
        own.status,
        StatusCode::OK,
        "an intent keeps its own examples"
    );
    let bots = app
        .get(&format!("/api/v1/orgs/{org}/bots"), &owner.token)
        .await;
    assert_eq!(
        bots.json["items"].as_array().unwrap().len(),
        1,
        "nothing imported"
    );
}
