//! Documents built to take a reader down: a PDF form that draws itself (stack overflow), a
//! page tree in a circle (endless loop), 100,000 nested `<div>`s, a decompression bomb. Each
//! ends `failed` with a reason, read in a separate process; the server keeps answering and
//! the next document ingests as usual.

use std::time::{Duration, Instant};

use botbuilder_core::testing::documents::{
    html_nested, pdf_bomb, pdf_circular_page_tree, pdf_self_drawing_form, pdf_with_text,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email};
use crate::documents::upload;

/// Uploads `bytes` as a file named `name`; returns the document's URL.
async fn add_file(app: &TestApp, owner: &Account, base: &str, name: &str, bytes: &[u8]) -> String {
    let docs = format!("{base}/documents");
    let added = upload(
        app,
        &owner.token,
        &docs,
        &[("file", Some(name), None, bytes)],
    )
    .await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{name}: {}", added.text);
    format!("{base}/documents/{}", added.json["id"].as_str().unwrap())
}

/// Waits until the document is `ready` or `failed` (the server must keep answering meanwhile).
async fn settle(app: &TestApp, owner: &Account, url: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let health = app.http.get(app.url("/healthz")).send().await;
        assert!(
            health.is_ok_and(|r| r.status().is_success()),
            "the server stopped answering"
        );
        let doc = app.get(url, &owner.token).await;
        let status = doc.json["status"].as_str().unwrap_or_default().to_owned();
        if status == "ready" || status == "failed" {
            return doc.json;
        }
        assert!(Instant::now() < deadline, "still {status}: {}", doc.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_fail_alone_and_the_server_keeps_serving() {
    let app = TestApp::spawn_with(|settings| {
        settings.extract_limits.timeout = Duration::from_secs(4);
    })
    .await;
    let owner = app.register(&email("hostile")).await;
    let kb = app
        .post(
            &format!("/api/v1/orgs/{}/knowledge-bases", owner.org_id),
            &owner.token,
            json!({ "name": "Hostile" }),
        )
        .await;
    let base = format!(
        "/api/v1/orgs/{}/knowledge-bases/{}",
        owner.org_id,
        kb.json["id"].as_str().unwrap()
    );

    let hostile: [(&str, Vec<u8>, &[&str]); 4] = [
        (
            "form.pdf",
            pdf_self_drawing_form(),
            &["stack overflow", "took too long"],
        ),
        (
            "loop.pdf",
            pdf_circular_page_tree(),
            &["stack overflow", "took too long"],
        ),
        (
            "deep.html",
            html_nested(100_000),
            &["stack overflow", "took too long"],
        ),
        ("bomb.pdf", pdf_bomb(400 << 20), &["bomb"]),
    ];
    let mut urls = Vec::new();
    for (name, bytes, _) in &hostile {
        urls.push(add_file(&app, &owner, &base, name, bytes).await);
    }
    for ((name, _, reasons), url) in hostile.iter().zip(&urls) {
        let doc = settle(&app, &owner, url, Duration::from_secs(60)).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let error = doc["error"].as_str().unwrap_or_default();
        assert!(
            reasons.iter().any(|r| error.contains(r)),
            "{name}: the reason says what happened: {error}"
        );
    }

    // Nothing else was affected: a good document still ingests and is found.
    let good = add_file(
        &app,
        &owner,
        &base,
        "refunds.pdf",
        &pdf_with_text(&["Refunds are paid within 14 days."]),
    )
    .await;
    let doc = settle(&app, &owner, &good, Duration::from_secs(60)).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    let hits = app
        .post(
            &format!("{base}/search"),
            &owner.token,
            json!({ "query": "refunds paid", "mode": "keyword" }),
        )
        .await;
    assert_eq!(hits.json[0]["document_id"], doc["id"], "{}", hits.text);
    app.stop().await;
}
