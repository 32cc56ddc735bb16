//! Reading a conversation for an inbox: the conversation itself (its status), its transcript
//! from the start, from its end (`?last=`), and after the newest message seen (live polling).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, email, handoff_bot};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_inbox_reads_a_conversation_its_tail_and_what_came_after() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("transcripts")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Talker").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let opened = app.post(&base, &owner.token, json!({})).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let session = opened.json["session_id"].as_str().unwrap().to_owned();
    for text in ["one", "two", "three"] {
        let turn = app
            .post(
                &format!("{base}/{session}/messages"),
                &owner.token,
                json!({ "text": text }),
            )
            .await;
        assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
    }

    let conversation = app.get(&format!("{base}/{session}"), &owner.token).await;
    assert_eq!(conversation.status, StatusCode::OK, "{}", conversation.text);
    assert_eq!(conversation.json["status"], "active");
    assert_eq!(conversation.json["channel"], "api");

    let messages = format!("{base}/{session}/messages");
    let all = ids(&app
        .get(&format!("{messages}?limit=200"), &owner.token)
        .await
        .json);
    assert_eq!(all.len(), 6, "three turns of a message and a reply");
    let tail = app.get(&format!("{messages}?last=3"), &owner.token).await;
    assert_eq!(tail.status, StatusCode::OK, "{}", tail.text);
    assert_eq!(ids(&tail.json), all[3..], "the newest three, oldest first");
    assert_eq!(tail.json["next_cursor"], Value::Null);
    let after = app
        .get(&format!("{messages}?cursor={}", all[3]), &owner.token)
        .await;
    assert_eq!(ids(&after.json), all[4..], "what came after the one seen");

    for query in ["last=0", "last=501", &format!("last=2&cursor={}", all[0])] {
        let refused = app.get(&format!("{messages}?{query}"), &owner.token).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(refused.error_fields(), vec!["last".to_owned()], "{query}");
    }
}

#[tokio::test]
async fn a_conversation_in_handoff_says_so_until_it_is_released() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("transcripts-handoff")).await;
    let org = owner.org_id.clone();
    let bot = handoff_bot(&app, &owner, "Connecting you to a person.").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let opened = app.post(&base, &owner.token, json!({})).await;
    let session = opened.json["session_id"].as_str().unwrap().to_owned();
    let turn = app
        .post(
            &format!("{base}/{session}/messages"),
            &owner.token,
            json!({ "text": "help" }),
        )
        .await;
    assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
    let conversation = format!("{base}/{session}");
    assert_eq!(
        app.get(&conversation, &owner.token).await.json["status"],
        "handoff"
    );
    let released = app
        .post(
            &format!("{conversation}/handoff/release"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(
        app.get(&conversation, &owner.token).await.json["status"],
        "active"
    );
    let foreign = format!(
        "/api/v1/orgs/{org}/bots/{}/conversations/{session}",
        app.create_bot(&owner, &org, "Other").await
    );
    assert_eq!(
        app.get(&foreign, &owner.token).await.status,
        StatusCode::NOT_FOUND,
        "a session is read through its own bot only"
    );
}
