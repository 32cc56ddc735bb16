//! A bot's NLU through the API: intents, entities, parse, retraining on change.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, email};

#[tokio::test]
async fn intents_and_entities_drive_parse_and_retrain_on_change() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("nlu")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Shop").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}");

    // No intents yet: everything is `none`.
    let empty = app
        .post(
            &format!("{base}/nlu/parse"),
            &owner.token,
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.json["intent"], "none");

    let intents = [
        (
            "track_order",
            vec![
                "where is my order",
                "track my package",
                "has my parcel shipped",
                "when will my order arrive",
            ],
        ),
        (
            "refund",
            vec![
                "i want a refund",
                "give me my money back",
                "refund my purchase",
                "how do i return this for a refund",
            ],
        ),
        ("greet", vec!["hello", "hi there", "good morning", "hey"]),
    ];
    let mut ids = Vec::new();
    for (name, examples) in intents {
        let created = app
            .post(
                &format!("{base}/intents"),
                &owner.token,
                json!({ "name": name, "examples": examples }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.json["id"].as_str().unwrap().to_owned());
    }
    let size = app
        .post(
            &format!("{base}/entities"),
            &owner.token,
            json!({ "name": "size", "kind": { "type": "lookup", "values": [{ "value": "large", "synonyms": ["big", "XL"] }] } }),
        )
        .await;
    assert_eq!(size.status, StatusCode::CREATED, "{}", size.text);
    let order_id = app
        .post(
            &format!("{base}/entities"),
            &owner.token,
            json!({ "name": "order_id", "kind": { "type": "regex", "pattern": "#(\\d{4,})" } }),
        )
        .await;
    assert_eq!(order_id.status, StatusCode::CREATED, "{}", order_id.text);
    app.post(
        &format!("{base}/entities"),
        &owner.token,
        json!({ "name": "email", "kind": { "type": "builtin", "builtin": "email" } }),
    )
    .await;

    let parsed = app
        .post(
            &format!("{base}/nlu/parse"),
            &owner.token,
            json!({ "text": "Where is my big order #12345? Mail ada@example.com" }),
        )
        .await;
    assert_eq!(parsed.status, StatusCode::OK, "{}", parsed.text);
    assert_eq!(parsed.json["intent"], "track_order", "{}", parsed.text);
    assert!(parsed.json["confidence"].as_f64().unwrap() > 0.45);
    assert_eq!(parsed.json["ranking"][0]["intent"], "track_order");
    let found: Vec<(String, serde_json::Value)> = parsed.json["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["entity"].as_str().unwrap().to_owned(), e["value"].clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("size".to_owned(), json!("large")),
            ("order_id".to_owned(), json!("12345")),
            ("email".to_owned(), json!("ada@example.com")),
        ]
    );

    // Gibberish falls back to `none`.
    let gibberish = app
        .post(
            &format!("{base}/nlu/parse"),
            &owner.token,
            json!({ "text": "zq xv wk" }),
        )
        .await;
    assert_eq!(gibberish.json["intent"], "none", "{}", gibberish.text);

    // Changing the training data retrains on the next parse.
    let renamed = app
        .call(
            Method::PATCH,
            &format!("{base}/intents/{}", ids[0]),
            Some(&owner.token),
            Some(json!({ "name": "where_is_my_stuff" })),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let again = app
        .post(
            &format!("{base}/nlu/parse"),
            &owner.token,
            json!({ "text": "where is my order" }),
        )
        .await;
    assert_eq!(again.json["intent"], "where_is_my_stuff");

    let deleted = app
        .call(
            Method::DELETE,
            &format!("{base}/intents/{}", ids[0]),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let listed = app.get(&format!("{base}/intents"), &owner.token).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_nlu_input_names_the_field() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("nlu-bad")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Shop").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}");
    let cases = [
        (
            "intents",
            json!({ "name": "has space", "examples": ["x"] }),
            "name",
        ),
        (
            "intents",
            json!({ "name": "none", "examples": ["x"] }),
            "name",
        ),
        (
            "intents",
            json!({ "name": "ok", "examples": ["  "] }),
            "examples[0]",
        ),
        (
            "intents",
            json!({ "name": "ok", "examples": ["x".repeat(501)] }),
            "examples[0]",
        ),
        ("intents", json!({ "name": "ok" }), "examples"),
        (
            "entities",
            json!({ "name": "bad", "kind": { "type": "regex", "pattern": "(unclosed" } }),
            "kind",
        ),
        (
            "entities",
            json!({ "name": "bad", "kind": { "type": "lookup", "values": [] } }),
            "kind",
        ),
        (
            "entities",
            json!({ "name": "bad", "kind": { "type": "telepathy" } }),
            "kind.type",
        ),
        ("nlu/parse", json!({ "text": "" }), "text"),
        ("nlu/parse", json!({ "text": "x".repeat(10_001) }), "text"),
    ];
    for (route, body, field) in cases {
        let reply = app
            .post(&format!("{base}/{route}"), &owner.token, body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{route} {body}: {}",
            reply.text
        );
        assert_eq!(
            reply.error_fields(),
            vec![field.to_owned()],
            "{route} {body}: {}",
            reply.text
        );
    }
    let dup = json!({ "name": "greet", "examples": ["hi"] });
    assert_eq!(
        app.post(&format!("{base}/intents"), &owner.token, dup.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post(&format!("{base}/intents"), &owner.token, dup)
            .await
            .status,
        StatusCode::CONFLICT
    );
    let listed = app.get(&format!("{base}/entities"), &owner.token).await;
    assert!(listed.json.as_array().unwrap().is_empty(), "nothing stored");
}
