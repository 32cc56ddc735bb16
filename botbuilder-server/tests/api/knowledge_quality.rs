//! What real documents need: FAQ titles found by keyword, Chinese text found by its words,
//! every chunk of a CSV with its header, documents named by their own heading, and renamed.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email};
use crate::documents::upload;

async fn settle(app: &TestApp, owner: &Account, url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let doc = app.get(url, &owner.token).await;
        let status = doc.json["status"].as_str().unwrap_or_default().to_owned();
        if status == "ready" || status == "failed" {
            assert_eq!(status, "ready", "{}", doc.text);
            return doc.json;
        }
        assert!(Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn search(app: &TestApp, owner: &Account, base: &str, query: &str) -> Vec<Value> {
    let hits = app
        .post(
            &format!("{base}/search"),
            &owner.token,
            json!({ "query": query, "mode": "keyword", "top_k": 3 }),
        )
        .await;
    assert_eq!(hits.status, StatusCode::OK, "{}", hits.text);
    hits.json.as_array().unwrap().clone()
}

#[tokio::test]
async fn real_world_documents_are_found_by_what_people_ask() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("kb-quality")).await;
    let org = owner.org_id.clone();
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &owner.token,
            json!({ "name": "FAQ" }),
        )
        .await;
    let base = format!(
        "/api/v1/orgs/{org}/knowledge-bases/{}",
        kb.json["id"].as_str().unwrap()
    );
    let docs = format!("{base}/documents");
    let mut urls = Vec::new();
    for (title, text) in [
        (
            "How do I reset my password?",
            "Open the settings page and choose the link we email you.",
        ),
        (
            "Which countries do you deliver to?",
            "We deliver across the European Union; parcels to other places need a quote.",
        ),
        ("退货政策", "收到商品后三十天内可以退货，运费由我们承担。"),
    ] {
        let added = app
            .post(&docs, &owner.token, json!({ "title": title, "text": text }))
            .await;
        assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.text);
        urls.push(format!("{docs}/{}", added.json["id"].as_str().unwrap()));
    }
    let mut csv = String::from("sku,product,colour,price\n");
    for i in 0..800 {
        csv.push_str(&format!(
            "SKU-{i},Kettle model {i},colour-{},{}.99\n",
            i % 11,
            20 + i % 50
        ));
    }
    let table = upload(
        &app,
        &owner.token,
        &docs,
        &[("file", Some("products.csv"), None, csv.as_bytes())],
    )
    .await;
    urls.push(format!("{docs}/{}", table.json["id"].as_str().unwrap()));
    for (i, readme) in ["# tokio\n\nA runtime.", "# tracing\n\nDiagnostics."]
        .iter()
        .enumerate()
    {
        let added = upload(
            &app,
            &owner.token,
            &docs,
            &[("file", Some("README.md"), None, readme.as_bytes())],
        )
        .await;
        assert_eq!(added.status, StatusCode::ACCEPTED, "{i}: {}", added.text);
        urls.push(format!("{docs}/{}", added.json["id"].as_str().unwrap()));
    }
    let mut settled = Vec::new();
    for url in &urls {
        settled.push(settle(&app, &owner, url).await);
    }

    // The question is the title: found by keyword.
    let hits = search(&app, &owner, &base, "reset my password").await;
    assert_eq!(hits[0]["document_title"], "How do I reset my password?");
    // Chinese is found by its words.
    let hits = search(&app, &owner, &base, "退货").await;
    assert_eq!(hits[0]["document_title"], "退货政策", "{hits:?}");
    // Row 600 of the table comes with its header.
    let hits = search(&app, &owner, &base, "SKU-600").await;
    let text = hits[0]["text"].as_str().unwrap();
    assert!(text.starts_with("sku,product,colour,price\n"), "{text}");
    assert!(text.contains("SKU-600,Kettle model 600"), "{text}");
    // Two README.md files are named by their own headings.
    assert_eq!(settled[4]["title"], "tokio");
    assert_eq!(settled[5]["title"], "tracing");

    // Renamed: found by the new title once ingested again.
    let renamed = app
        .call(
            Method::PATCH,
            &urls[1],
            Some(&owner.token),
            Some(json!({ "title": "Shipping destinations" })),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(renamed.json["title"], "Shipping destinations");
    settle(&app, &owner, &urls[1]).await;
    let hits = search(&app, &owner, &base, "shipping destinations").await;
    assert_eq!(hits[0]["document_title"], "Shipping destinations");
    let blank = app
        .call(
            Method::PATCH,
            &urls[1],
            Some(&owner.token),
            Some(json!({ "title": "  " })),
        )
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert_eq!(blank.error_fields(), ["title"]);
    app.stop().await;
}
