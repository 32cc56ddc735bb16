//! Knowledge bases over HTTP: a document is accepted (202), ingested in the background by the
//! server's worker, and found by keyword, vector and hybrid search; bad input is refused
//! clearly and stores nothing.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email};

pub(crate) const GUIDE: &str = "# Shop guide\n\n## Refunds\n\nRefunds are paid within five days of the \
    return reaching our warehouse.\n\n## Shipping\n\nShipping is free above 50 euros.\n";

pub(crate) async fn wait_until_settled(app: &TestApp, owner: &Account, doc_url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let doc = app.get(doc_url, &owner.token).await;
        assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
        let status = doc.json["status"].as_str().unwrap().to_owned();
        if status == "ready" || status == "failed" {
            return doc.json;
        }
        assert!(Instant::now() < deadline, "still {status}: {}", doc.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn documents_are_ingested_in_the_background_and_searchable() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("kb-http")).await;
    let org = owner.org_id.clone();
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &owner.token,
            json!({ "name": "Help center", "description": "FAQ" }),
        )
        .await;
    assert_eq!(kb.status, StatusCode::CREATED, "{}", kb.text);
    assert_eq!(kb.json["embedding_dimensions"], 384);
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
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.text);
    assert_eq!(added.json["status"], "pending");
    assert_eq!(added.json["content_hash"].as_str().unwrap().len(), 64);
    let doc_url = format!("{base}/documents/{}", added.json["id"].as_str().unwrap());
    let ready = wait_until_settled(&app, &owner, &doc_url).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["progress"], 1.0);
    assert!(ready["chunk_count"].as_u64().unwrap() >= 1);

    for mode in ["keyword", "vector", "hybrid"] {
        let hits = app
            .post(
                &format!("{base}/search"),
                &owner.token,
                json!({ "query": "how long do refunds take", "mode": mode, "top_k": 2 }),
            )
            .await;
        assert_eq!(hits.status, StatusCode::OK, "{mode}: {}", hits.text);
        let first = &hits.json[0];
        assert!(
            first["text"].as_str().unwrap().contains("Refunds are paid"),
            "{mode}: {}",
            hits.text
        );
        assert_eq!(first["document_title"], "Shop guide");
        assert_eq!(first["document_id"], added.json["id"]);
        assert!(hits.json.as_array().unwrap().len() <= 2);
    }

    // The same text again is a conflict; the listing still holds one document.
    let again = app
        .post(
            &format!("{base}/documents"),
            &owner.token,
            json!({ "title": "Copy", "text": GUIDE, "content_type": "text/markdown" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let listed = app.get(&format!("{base}/documents"), &owner.token).await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);

    app.call(Method::DELETE, &doc_url, Some(&owner.token), None)
        .await;
    let gone = app
        .post(
            &format!("{base}/search"),
            &owner.token,
            json!({ "query": "refunds" }),
        )
        .await;
    assert_eq!(gone.json, json!([]), "a deleted document is never found");
    assert_eq!(
        app.get(&doc_url, &owner.token).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_documents_and_searches_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("kb-bad")).await;
    let org = owner.org_id.clone();
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &owner.token,
            json!({ "name": "KB" }),
        )
        .await;
    let base = format!(
        "/api/v1/orgs/{org}/knowledge-bases/{}",
        kb.json["id"].as_str().unwrap()
    );
    let docs = format!("{base}/documents");
    let unsupported = app
        .post(
            &docs,
            &owner.token,
            json!({ "title": "x", "text": "MZ", "content_type": "application/x-msdownload" }),
        )
        .await;
    assert_eq!(
        unsupported.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        unsupported.text
    );
    let blank = app
        .post(&docs, &owner.token, json!({ "title": "x", "text": "   " }))
        .await;
    assert_eq!(blank.error_fields(), vec!["text"]);
    let untitled = app
        .post(&docs, &owner.token, json!({ "title": "", "text": "hello" }))
        .await;
    let mut fields = untitled.error_fields();
    fields.dedup();
    assert_eq!(fields, vec!["title"]);
    let listed = app.get(&docs, &owner.token).await;
    assert_eq!(listed.json["items"], json!([]), "nothing stored");

    let search = format!("{base}/search");
    for (body, field) in [
        (json!({ "query": "" }), "query"),
        (json!({ "query": "x", "top_k": 0 }), "top_k"),
        (json!({ "query": "x", "top_k": 101 }), "top_k"),
        (json!({ "query": "x", "mode": "psychic" }), "mode"),
        (json!({ "query": "x", "min_score": -1 }), "min_score"),
    ] {
        let reply = app.post(&search, &owner.token, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        let mut fields = reply.error_fields();
        fields.dedup();
        assert_eq!(fields, vec![field], "{body}");
    }
    for odd in ["\"refund", "NEAR(a b)", "*", "مرحبا 🤖"] {
        let reply = app
            .post(&search, &owner.token, json!({ "query": odd }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{odd}: {}", reply.text);
    }
    let missing = app
        .post(
            &format!(
                "/api/v1/orgs/{org}/knowledge-bases/{}/search",
                uuid::Uuid::now_v7()
            ),
            &owner.token,
            json!({ "query": "x" }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bot_linked_to_a_knowledge_base_answers_over_web_chat_with_citations() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("rag")).await;
    let org = owner.org_id.clone();
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &owner.token,
            json!({ "name": "Help" }),
        )
        .await;
    let kb_id = kb.json["id"].as_str().unwrap().to_owned();
    let docs = format!("/api/v1/orgs/{org}/knowledge-bases/{kb_id}/documents");
    let mut ids = Vec::new();
    for (title, text) in [
        ("Shop guide", GUIDE),
        (
            "Company history",
            "# History\n\nThe company was founded in 1987 by two sisters in Porto. It opened \
             its first store downtown and moved online in 2004.\n",
        ),
    ] {
        let added = app
            .post(
                &docs,
                &owner.token,
                json!({ "title": title, "text": text, "content_type": "text/markdown" }),
            )
            .await;
        assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.text);
        let url = format!("{docs}/{}", added.json["id"].as_str().unwrap());
        assert_eq!(
            wait_until_settled(&app, &owner, &url).await["status"],
            "ready"
        );
        ids.push(added.json["id"].as_str().unwrap().to_owned());
    }

    let unknown = app
        .post(
            &format!("/api/v1/orgs/{org}/bots"),
            &owner.token,
            json!({ "name": "x", "ai_config": { "knowledge_base_ids": [uuid::Uuid::now_v7()] } }),
        )
        .await;
    assert_eq!(
        unknown.error_fields(),
        vec!["ai_config.knowledge_base_ids[0]"]
    );

    let bot = app
        .post(
            &format!("/api/v1/orgs/{org}/bots"),
            &owner.token,
            json!({ "name": "Helper", "ai_config": { "knowledge_base_ids": [kb_id] } }),
        )
        .await;
    assert_eq!(bot.status, StatusCode::CREATED, "{}", bot.text);
    assert_eq!(bot.json["ai_config"]["knowledge_base_ids"], json!([kb_id]));
    let bot = bot.json["id"].as_str().unwrap().to_owned();
    let session = app
        .call(
            Method::POST,
            &format!("/api/v1/webchat/{bot}/sessions"),
            None,
            None,
        )
        .await;
    let visitor = session.json["session_token"].as_str().unwrap().to_owned();
    let ask = |question: &'static str| {
        let (app, visitor, bot) = (&app, &visitor, &bot);
        async move {
            let r = app
                .post(
                    &format!("/api/v1/webchat/{bot}/messages"),
                    visitor,
                    json!({ "text": question }),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{question}: {}", r.text);
            r.json["replies"][0].clone()
        }
    };

    let refunds = ask("How long do refunds take to be paid?").await;
    let text = refunds["text"].as_str().unwrap();
    assert!(text.contains("five days"), "{refunds}");
    assert!(text.ends_with("[1]"), "{refunds}");
    let citation = &refunds["payload"]["citations"][0];
    assert_eq!(citation["document_id"], ids[0].as_str(), "{refunds}");
    assert_eq!(citation["title"], "Shop guide");
    assert_eq!(
        citation["url"],
        serde_json::Value::Null,
        "a text document has no address"
    );
    assert_eq!(citation["knowledge_base_id"], kb_id.as_str());
    assert!(
        GUIDE.contains(citation["snippet"].as_str().unwrap().trim()),
        "{citation}"
    );
    assert_eq!(refunds["payload"]["citations"].as_array().unwrap().len(), 1);

    let history = ask("When was the company founded?").await;
    assert!(
        history["text"].as_str().unwrap().contains("1987"),
        "{history}"
    );
    assert_eq!(
        history["payload"]["citations"][0]["document_id"],
        ids[1].as_str()
    );

    // Nothing relevant: the bot says so, and cites nothing.
    let unrelated = ask("zebra quantum saxophone").await;
    assert!(
        unrelated["text"]
            .as_str()
            .unwrap()
            .starts_with("I don't have information"),
        "{unrelated}"
    );
    assert!(
        unrelated["payload"].get("citations").is_none(),
        "{unrelated}"
    );
}
