//! Knowledge embedded by an OpenAI-compatible embedding server (the fake): documents are
//! embedded in batches through it, the knowledge base records its model and size, and vector
//! search asks it for the query's vector.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, email};
use crate::knowledge::{GUIDE, wait_until_settled};
use botbuilder_providers::testing::{FakeServer, Step};

#[tokio::test]
async fn an_openai_compatible_embedding_server_indexes_and_searches_knowledge() {
    let fake = FakeServer::start().await;
    fake.otherwise(Step::Embeddings { dimensions: 32 });
    let (url, allow) = (fake.url(), vec![fake.addr()]);
    let app = TestApp::spawn_with(move |settings| {
        settings.fetch_allow = allow;
        settings.llm.openai_compatible_base_url = Some(format!("{url}/v1").parse().unwrap());
        settings.llm.embedding_provider = "openai-compatible".into();
        settings.llm.embedding_model = Some("fake-embed".into());
        settings.llm.embedding_dimensions = Some(32);
    })
    .await;
    let owner = app.register(&email("embed")).await;
    let org = owner.org_id.clone();
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &owner.token,
            json!({ "name": "Help" }),
        )
        .await;
    assert_eq!(kb.status, StatusCode::CREATED, "{}", kb.text);
    assert_eq!(kb.json["embedding_model"], "fake-embed");
    assert_eq!(kb.json["embedding_dimensions"], 32);
    let base = format!(
        "/api/v1/orgs/{org}/knowledge-bases/{}",
        kb.json["id"].as_str().unwrap()
    );
    let added = app
        .post(
            &format!("{base}/documents"),
            &owner.token,
            json!({ "title": "Shop guide", "text": GUIDE, "content_type": "text/markdown" }),
        )
        .await;
    let doc_url = format!("{base}/documents/{}", added.json["id"].as_str().unwrap());
    let ready = wait_until_settled(&app, &owner, &doc_url).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let embedded = fake.requests();
    assert!(!embedded.is_empty());
    assert!(embedded.iter().all(|r| r.path == "/v1/embeddings"));
    assert_eq!(embedded[0].json()["model"], "fake-embed");

    let hits = app
        .post(
            &format!("{base}/search"),
            &owner.token,
            json!({ "query": "Refunds are paid within five days", "mode": "vector", "top_k": 1 }),
        )
        .await;
    assert_eq!(hits.status, StatusCode::OK, "{}", hits.text);
    assert!(
        hits.json[0]["text"].as_str().unwrap().contains("Refunds"),
        "{}",
        hits.text
    );
    let last = fake.requests().pop().unwrap().json();
    assert_eq!(last["input"], json!(["Refunds are paid within five days"]));
}
