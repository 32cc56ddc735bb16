//! Knowledge embedded by an OpenAI-compatible embedding server (the fake): documents are
//! embedded in batches through it, the knowledge base records its model and size, and vector
//! search asks it for the query's vector. Each knowledge base may choose its embedder, and
//! moving it to another re-indexes it.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Account, Reply, TestApp, email};
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
    let kb = create_kb(&app, &owner, json!({ "name": "Help" })).await;
    assert_eq!(kb.status, StatusCode::CREATED, "{}", kb.text);
    assert_eq!(kb.json["embedding_model"], "fake-embed");
    assert_eq!(kb.json["embedding_dimensions"], 32);
    let base = format!(
        "/api/v1/orgs/{org}/knowledge-bases/{}",
        kb.json["id"].as_str().unwrap()
    );
    let ready = add_guide(&app, &owner, &base).await;
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

/// Creates a knowledge base in the owner's organization with `body`.
async fn create_kb(app: &TestApp, owner: &Account, body: serde_json::Value) -> Reply {
    app.post(
        &format!("/api/v1/orgs/{}/knowledge-bases", owner.org_id),
        &owner.token,
        body,
    )
    .await
}

/// Adds the guide to the knowledge base at `base` and waits until it is ingested.
async fn add_guide(app: &TestApp, owner: &Account, base: &str) -> serde_json::Value {
    let added = app
        .post(
            &format!("{base}/documents"),
            &owner.token,
            json!({ "title": "Shop guide", "text": GUIDE, "content_type": "text/markdown" }),
        )
        .await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.text);
    let doc_url = format!("{base}/documents/{}", added.json["id"].as_str().unwrap());
    wait_until_settled(app, owner, &doc_url).await
}

#[tokio::test]
async fn each_knowledge_base_chooses_its_embedder_and_changing_it_reindexes() {
    let fake = FakeServer::start().await;
    fake.otherwise(Step::Embeddings { dimensions: 24 });
    let allow = vec![fake.addr()];
    // The server's default embedder stays the offline one; the organization brings its own
    // embedding server.
    let app = TestApp::spawn_with(move |settings| settings.fetch_allow = allow).await;
    let owner = app.register(&email("kb-embedder")).await;
    let org = owner.org_id.clone();
    let put = app
        .call(
            Method::PUT,
            &format!("/api/v1/orgs/{org}/provider-credentials/openai-compatible"),
            Some(&owner.token),
            Some(json!({ "base_url": format!("{}/v1", fake.url()) })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);

    let local = create_kb(&app, &owner, json!({ "name": "Local" })).await;
    assert_eq!(local.status, StatusCode::CREATED, "{}", local.text);
    assert_eq!(local.json["embedding_provider"], "local");
    let remote = create_kb(
        &app,
        &owner,
        json!({ "name": "Remote", "embedding": {
            "provider": "openai-compatible", "model": "nomic-embed-text", "dimensions": 24 } }),
    )
    .await;
    assert_eq!(remote.status, StatusCode::CREATED, "{}", remote.text);
    assert_eq!(remote.json["embedding_provider"], "openai-compatible");
    assert_eq!(remote.json["embedding_model"], "nomic-embed-text");
    assert_eq!(remote.json["embedding_dimensions"], 24);
    let kb_url = |kb: &Reply| {
        format!(
            "/api/v1/orgs/{org}/knowledge-bases/{}",
            kb.json["id"].as_str().unwrap()
        )
    };
    let (local_url, remote_url) = (kb_url(&local), kb_url(&remote));

    assert_eq!(add_guide(&app, &owner, &local_url).await["status"], "ready");
    assert!(
        fake.requests().is_empty(),
        "the local knowledge base called out"
    );
    assert_eq!(
        add_guide(&app, &owner, &remote_url).await["status"],
        "ready"
    );
    let embedded = fake.requests();
    assert!(!embedded.is_empty());
    assert!(
        embedded
            .iter()
            .all(|r| r.json()["model"] == "nomic-embed-text")
    );
    let search =
        json!({ "query": "Refunds are paid within five days", "mode": "vector", "top_k": 1 });
    for url in [&local_url, &remote_url] {
        let hits = app
            .post(&format!("{url}/search"), &owner.token, search.clone())
            .await;
        assert_eq!(hits.status, StatusCode::OK, "{}", hits.text);
        assert!(
            hits.json[0]["text"].as_str().unwrap().contains("Refunds"),
            "{url}: {}",
            hits.text
        );
    }
    let asked = fake.requests().len();
    assert_eq!(
        fake.requests().pop().unwrap().json()["input"],
        json!(["Refunds are paid within five days"])
    );

    // Moving the remote knowledge base to the local embedder re-embeds every document, with
    // no more calls to the embedding server.
    let moved = app
        .call(
            Method::PATCH,
            &remote_url,
            Some(&owner.token),
            Some(json!({ "embedding": { "provider": "local" } })),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(moved.json["embedding_provider"], "local");
    assert_eq!(moved.json["embedding_model"], "local-hashed-ngrams-v1");
    let documents = app
        .get(&format!("{remote_url}/documents"), &owner.token)
        .await;
    let doc_url = format!(
        "{remote_url}/documents/{}",
        documents.json["items"][0]["id"].as_str().unwrap()
    );
    assert_eq!(
        wait_until_settled(&app, &owner, &doc_url).await["status"],
        "ready"
    );
    let hits = app
        .post(&format!("{remote_url}/search"), &owner.token, search)
        .await;
    assert!(
        hits.json[0]["text"].as_str().unwrap().contains("Refunds"),
        "{}",
        hits.text
    );
    assert_eq!(
        fake.requests().len(),
        asked,
        "the moved knowledge base called out"
    );
    let audit = app
        .get(
            &format!("/api/v1/orgs/{org}/audit-log?action=knowledge_base.update"),
            &owner.token,
        )
        .await;
    assert_eq!(
        audit.json["items"][0]["details"]["queued_documents"], 1,
        "{}",
        audit.text
    );
}

#[tokio::test]
async fn an_embedder_that_cannot_serve_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("kb-embedder-rules")).await;
    for (embedding, field) in [
        (json!({ "provider": "anthropic" }), "embedding.provider"),
        (json!({ "provider": "acme" }), "embedding.provider"),
        // No credentials in the organization nor on the server.
        (json!({ "provider": "openai" }), "embedding.provider"),
        (
            json!({ "provider": "openai-compatible", "dimensions": 8 }),
            "embedding.model",
        ),
        (
            json!({ "provider": "openai-compatible", "model": "mystery" }),
            "embedding.dimensions",
        ),
        (
            json!({ "provider": "local", "dimensions": 3 }),
            "embedding.dimensions",
        ),
        (
            json!({ "provider": "local", "model": "bert" }),
            "embedding.model",
        ),
        (
            json!({ "provider": "openai", "model": "m".repeat(201) }),
            "embedding.model",
        ),
        (json!({ "provider": "x".repeat(65) }), "embedding.provider"),
    ] {
        let res = create_kb(
            &app,
            &owner,
            json!({ "name": "KB", "embedding": embedding }),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{embedding}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), vec![field], "{embedding}");
    }
    let unknown = create_kb(
        &app,
        &owner,
        json!({ "name": "KB", "embedding": { "provider": "local", "size": 3 } }),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    let listed = app
        .get(
            &format!("/api/v1/orgs/{}/knowledge-bases", owner.org_id),
            &owner.token,
        )
        .await;
    assert_eq!(listed.json["items"], json!([]), "a refused one was stored");
}

#[tokio::test]
async fn a_knowledge_base_whose_embedder_is_gone_is_still_found_by_its_words() {
    let fake = FakeServer::start().await;
    fake.otherwise(Step::Embeddings { dimensions: 24 });
    let allow = vec![fake.addr()];
    let app = TestApp::spawn_with(move |settings| settings.fetch_allow = allow).await;
    let owner = app.register(&email("kb-embedder-gone")).await;
    let org = owner.org_id.clone();
    let credentials = format!("/api/v1/orgs/{org}/provider-credentials/openai-compatible");
    let put = app
        .call(
            Method::PUT,
            &credentials,
            Some(&owner.token),
            Some(json!({ "base_url": format!("{}/v1", fake.url()) })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let kb = create_kb(
        &app,
        &owner,
        json!({ "name": "Remote", "embedding": {
            "provider": "openai-compatible", "model": "nomic-embed-text", "dimensions": 24 } }),
    )
    .await;
    let kb_id = kb.json["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/orgs/{org}/knowledge-bases/{kb_id}");
    assert_eq!(add_guide(&app, &owner, &base).await["status"], "ready");
    let bot = app
        .post(
            &format!("/api/v1/orgs/{org}/bots"),
            &owner.token,
            json!({ "name": "Helper", "ai_config": { "knowledge_base_ids": [kb_id] } }),
        )
        .await;
    let bot = bot.json["id"].as_str().unwrap().to_owned();

    // The organization takes its embedding server away.
    let deleted = app
        .call(Method::DELETE, &credentials, Some(&owner.token), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let vector = app
        .post(
            &format!("{base}/search"),
            &owner.token,
            json!({ "query": "refunds", "mode": "vector" }),
        )
        .await;
    assert_eq!(vector.status, StatusCode::CONFLICT, "{}", vector.text);
    assert!(vector.text.contains("no credentials"), "{}", vector.text);
    let keyword = app
        .post(
            &format!("{base}/search"),
            &owner.token,
            json!({ "query": "refunds", "mode": "keyword" }),
        )
        .await;
    assert_eq!(keyword.status, StatusCode::OK, "{}", keyword.text);
    // A bot using it still answers, from the sources its words find.
    let visitor = crate::llm_providers::visitor_token(&app, &bot).await;
    let reply = app
        .post(
            &format!("/api/v1/webchat/{bot}/messages"),
            &visitor,
            json!({ "text": "How long do refunds take to be paid?" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let answer = &reply.json["replies"][0];
    assert!(
        answer["text"].as_str().unwrap().contains("five days"),
        "{answer}"
    );
    assert_eq!(answer["payload"]["citations"][0]["title"], "Shop guide");
}
