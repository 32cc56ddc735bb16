//! Flows through the API: validation naming nodes, draft, publication into versions.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, email};

#[tokio::test]
async fn flows_are_validated_saved_and_published_in_versions() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("flow")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Flowy").await;
    let path = format!("/api/v1/orgs/{org}/bots/{bot}/flow");

    let fresh = app.get(&path, &owner.token).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(fresh.json["flow"]["nodes"][0]["type"], "start");
    assert!(fresh.json["published_version"].is_null());

    let no_draft = app
        .call(
            Method::POST,
            &format!("{path}/publish"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(no_draft.status, StatusCode::CONFLICT);

    let broken = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "warp", "type": "teleport", "data": {} },
            { "id": "loop_a", "type": "message", "data": { "text": "a" } },
            { "id": "loop_b", "type": "set_variable", "data": { "variable": "x", "value": "1" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "loop_a" },
            { "id": "e2", "source": "loop_a", "target": "loop_b" },
            { "id": "e3", "source": "loop_b", "target": "loop_a" },
            { "id": "e4", "source": "loop_b", "target": "nowhere" }
        ]
    });
    let refused = app
        .call(Method::PUT, &path, Some(&owner.token), Some(broken))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(
        refused.error_fields(),
        vec!["nodes[warp]"],
        "{}",
        refused.text
    );

    let dangling = json!({
        "nodes": [{ "id": "start", "type": "start", "data": {} }],
        "edges": [{ "id": "e1", "source": "start", "target": "nowhere" }]
    });
    let refused = app
        .call(Method::PUT, &path, Some(&owner.token), Some(dangling))
        .await;
    assert_eq!(
        refused.error_fields(),
        vec!["edges[e1]"],
        "{}",
        refused.text
    );

    let spinning = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "a", "type": "message", "data": { "text": "a" } },
            { "id": "b", "type": "jump", "data": { "target": "a" } }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "a" }, { "id": "e2", "source": "a", "target": "b" }]
    });
    let refused = app
        .call(Method::PUT, &path, Some(&owner.token), Some(spinning))
        .await;
    assert_eq!(refused.error_fields(), vec!["nodes[a]"], "{}", refused.text);
    assert!(
        refused.text.contains("loop without a pause"),
        "{}",
        refused.text
    );
    let still_fresh = app.get(&path, &owner.token).await;
    assert!(still_fresh.json["updated_at"].is_null(), "nothing saved");

    let good = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 10, "y": 20 }, "data": {} },
            { "id": "hello", "type": "message", "data": { "text": "Hi {{name}}", "buttons": [{ "title": "Help", "payload": "help" }] } },
            { "id": "ask", "type": "ask", "data": { "prompt": "Email?", "variable": "email", "validation": { "type": "builtin", "builtin": "email" } } },
            { "id": "bye", "type": "end", "data": {} }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "hello" },
            { "id": "e2", "source": "hello", "target": "ask" },
            { "id": "e3", "source": "ask", "sourceHandle": "valid", "target": "bye" }
        ]
    });
    let saved = app
        .call(Method::PUT, &path, Some(&owner.token), Some(good))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.json["flow"]["nodes"][0]["position"]["x"], 10.0);
    // Saved, with a warning: the question has no way out after wrong answers.
    assert_eq!(
        saved.json["warnings"][0]["field"], "nodes[ask]",
        "{}",
        saved.text
    );
    assert!(
        saved.json["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`invalid`")
    );
    let v1 = app
        .call(
            Method::POST,
            &format!("{path}/publish"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(v1.status, StatusCode::CREATED, "{}", v1.text);
    assert_eq!(v1.json["version"], 1);
    let v2 = app
        .call(
            Method::POST,
            &format!("{path}/publish"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(v2.json["version"], 2);
    let current = app.get(&path, &owner.token).await;
    assert_eq!(current.json["published_version"], 2);
    assert_eq!(current.json["flow"]["edges"][2]["sourceHandle"], "valid");

    let text = app
        .http
        .put(app.url(&path))
        .bearer_auth(&owner.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
