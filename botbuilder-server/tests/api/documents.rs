//! Documents as files (multipart: Markdown, HTML, PDF) and by URL (through the SSRF-guarded
//! client), and every kind of bad document: each gets a clear error, or ends `failed` with
//! the reason when it got that far, and nothing else is affected.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Query;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use botbuilder_core::testing::documents::{pdf_bomb, pdf_with_text};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Account, Reply, TestApp, email};

/// One part of a multipart body: field name, file name, content type, bytes.
pub(crate) type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// Sends `parts` as `multipart/form-data` (built by hand, as a browser would).
pub(crate) async fn upload(app: &TestApp, token: &str, path: &str, parts: &[Part<'_>]) -> Reply {
    const BOUNDARY: &str = "botbuilder-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, filename, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(filename) = filename {
            disposition.push_str(&format!("; filename=\"{filename}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let res = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("request");
    TestApp::reply(res).await
}

async fn knowledge_base(app: &TestApp, owner: &Account) -> String {
    let org = &owner.org_id;
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &owner.token,
            json!({ "name": "Docs" }),
        )
        .await;
    assert_eq!(kb.status, StatusCode::CREATED, "{}", kb.text);
    format!(
        "/api/v1/orgs/{org}/knowledge-bases/{}",
        kb.json["id"].as_str().unwrap()
    )
}

async fn settled(app: &TestApp, owner: &Account, base: &str, added: &Reply) -> Value {
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.text);
    let url = format!("{base}/documents/{}", added.json["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let doc = app.get(&url, &owner.token).await;
        let status = doc.json["status"].as_str().unwrap_or_default().to_owned();
        if status == "ready" || status == "failed" {
            return doc.json;
        }
        assert!(Instant::now() < deadline, "still {status}: {}", doc.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn top_hit(app: &TestApp, owner: &Account, base: &str, query: &str) -> Value {
    let hits = app
        .post(
            &format!("{base}/search"),
            &owner.token,
            json!({ "query": query, "mode": "keyword", "top_k": 1 }),
        )
        .await;
    assert_eq!(hits.status, StatusCode::OK, "{}", hits.text);
    hits.json[0].clone()
}

const PAGE: &str = r#"<!doctype html><html><head><title>Warranty</title>
<script>var secret = "exfiltrate-the-cookies";</script><style>p { color: red }</style></head>
<body><nav>Home | Products | Support</nav><h1>Warranty</h1>
<p>Every kettle carries a <a href="/terms">two year warranty</a> against defects.</p>
<footer>Copyright Kettles Ltd</footer></body></html>"#;

#[tokio::test]
async fn files_of_every_kind_are_uploaded_ingested_and_found() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("docs-files")).await;
    let base = knowledge_base(&app, &owner).await;
    let docs = format!("{base}/documents");

    // Markdown sent as octet-stream: the file name tells the type; the title defaults to it.
    let markdown = upload(
        &app,
        &owner.token,
        &docs,
        &[(
            "file",
            Some("dir/returns.md"),
            Some("application/octet-stream"),
            b"# Returns\n\nParcels are collected by the courier on Tuesdays.\n",
        )],
    )
    .await;
    let ready = settled(&app, &owner, &base, &markdown).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["title"], "Returns", "the document's own heading");
    assert_eq!(ready["content_type"], "text/markdown");
    assert_eq!(
        ready["source"],
        json!({ "type": "file", "filename": "returns.md" })
    );
    let hit = top_hit(&app, &owner, &base, "courier collects parcels").await;
    assert_eq!(hit["heading_path"], json!(["Returns"]));

    // HTML: the text is found, the script, styles and page furniture are not.
    let html = upload(
        &app,
        &owner.token,
        &docs,
        &[
            ("title", None, None, b"Warranty page"),
            (
                "file",
                Some("warranty.html"),
                Some("text/html"),
                PAGE.as_bytes(),
            ),
        ],
    )
    .await;
    let ready = settled(&app, &owner, &base, &html).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["title"], "Warranty page");
    let hit = top_hit(&app, &owner, &base, "kettle warranty defects").await;
    assert!(
        hit["text"].as_str().unwrap().contains("two year warranty"),
        "{hit}"
    );
    for hidden in ["exfiltrate", "color", "Copyright", "Products"] {
        let found = app
            .post(
                &format!("{base}/search"),
                &owner.token,
                json!({ "query": hidden, "mode": "keyword" }),
            )
            .await;
        assert_eq!(found.json, json!([]), "{hidden} must not be indexed");
    }

    // PDF.
    let pdf = pdf_with_text(&["Descaling the kettle monthly keeps the warranty valid."]);
    let added = upload(
        &app,
        &owner.token,
        &docs,
        &[("file", Some("care.pdf"), Some("application/pdf"), &pdf)],
    )
    .await;
    let ready = settled(&app, &owner, &base, &added).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let hit = top_hit(&app, &owner, &base, "descaling monthly").await;
    assert_eq!(hit["document_title"], "care.pdf");

    // Re-indexing queues every document again from its stored original.
    let reindexed = app
        .post(&format!("{base}/reindex"), &owner.token, json!({}))
        .await;
    assert_eq!(reindexed.status, StatusCode::ACCEPTED, "{}", reindexed.text);
    assert_eq!(reindexed.json["queued_documents"], 3);
    assert_eq!(
        reindexed.json["knowledge_base"]["embedding_model"],
        "local-hashed-ngrams-v1"
    );
    let again = settled(&app, &owner, &base, &added).await;
    assert_eq!(again["status"], "ready", "{again}");
    let hit = top_hit(&app, &owner, &base, "descaling monthly").await;
    assert_eq!(hit["document_title"], "care.pdf");
}

#[tokio::test]
async fn bad_files_get_clear_errors_and_affect_nothing_else() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("docs-bad")).await;
    let base = knowledge_base(&app, &owner).await;
    let docs = format!("{base}/documents");
    let good = upload(
        &app,
        &owner.token,
        &docs,
        &[(
            "file",
            Some("good.txt"),
            Some("text/plain"),
            b"The office cat is called Biscuit.",
        )],
    )
    .await;
    assert_eq!(settled(&app, &owner, &base, &good).await["status"], "ready");

    // Refused before anything is stored: (parts, status, field named).
    let huge = vec![b'a'; 50 * 1024 * 1024 + 1];
    let cases: Vec<(Vec<Part<'_>>, StatusCode, Option<&str>)> = vec![
        (
            vec![("file", Some("empty.txt"), Some("text/plain"), b"")],
            StatusCode::BAD_REQUEST,
            Some("file"),
        ),
        (
            vec![("file", Some("empty.pdf"), Some("application/pdf"), b"")],
            StatusCode::BAD_REQUEST,
            Some("file"),
        ),
        (
            vec![(
                "file",
                Some("latin1.txt"),
                Some("text/plain"),
                b"caf\xe9 cr\xe8me",
            )],
            StatusCode::BAD_REQUEST,
            Some("file"),
        ),
        (
            vec![("file", Some("cat.png"), Some("image/png"), b"\x89PNG\r\n")],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            vec![("file", Some("mystery.bin"), None, b"\x00\x01")],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            vec![("file", Some("huge.txt"), Some("text/plain"), &huge)],
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            vec![("title", None, None, b"no file")],
            StatusCode::BAD_REQUEST,
            Some("file"),
        ),
        (
            vec![
                ("file", Some("a.txt"), Some("text/plain"), b"hello"),
                ("colour", None, None, b"blue"),
            ],
            StatusCode::BAD_REQUEST,
            Some("colour"),
        ),
    ];
    for (parts, status, field) in cases {
        let what = parts.iter().map(|p| p.1.unwrap_or(p.0)).collect::<Vec<_>>();
        let reply = upload(&app, &owner.token, &docs, &parts).await;
        assert_eq!(reply.status, status, "{what:?}: {}", reply.text);
        assert_eq!(reply.content_type(), "application/problem+json");
        if let Some(field) = field {
            assert_eq!(reply.error_fields(), vec![field], "{what:?}");
        }
    }
    let not_a_form = app
        .http
        .post(app.url(&docs))
        .bearer_auth(&owner.token)
        .header("content-type", "text/plain")
        .body("just text")
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let listed = app.get(&docs, &owner.token).await;
    assert_eq!(
        listed.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );

    // Accepted, then failed in ingestion with the reason: a bomb, a damaged PDF, a page with
    // nothing but script.
    let bomb = pdf_bomb(300 << 20);
    let damaged = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ngarbage".to_vec();
    let script_only = b"<html><body><script>alert(1)</script></body></html>".to_vec();
    for (name, kind, bytes, reason) in [
        ("bomb.pdf", "application/pdf", bomb, "bomb"),
        ("damaged.pdf", "application/pdf", damaged, "cannot be read"),
        ("script.html", "text/html", script_only, "no text"),
    ] {
        let added = upload(
            &app,
            &owner.token,
            &docs,
            &[("file", Some(name), Some(kind), &bytes)],
        )
        .await;
        let failed = settled(&app, &owner, &base, &added).await;
        assert_eq!(failed["status"], "failed", "{name}: {failed}");
        assert!(
            failed["error"].as_str().unwrap().contains(reason),
            "{name}: {failed}"
        );
        assert_eq!(failed["chunk_count"], 0);
        if name == "damaged.pdf" {
            // A retry reads it again (and fails again, for the same reason).
            let url = format!("{docs}/{}/retry", failed["id"].as_str().unwrap());
            let retried = app.post(&url, &owner.token, json!({})).await;
            assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.text);
            assert_eq!(retried.json["status"], "pending");
            let again = settled(&app, &owner, &base, &retried).await;
            assert_eq!(again["status"], "failed");
        }
    }
    // Unreadable documents fail at once (no retries), so nothing is dead-lettered; a ready
    // document cannot be retried.
    let dead = app.get(&format!("{base}/dead-letters"), &owner.token).await;
    assert_eq!(dead.json, json!([]), "{}", dead.text);
    let retry_ready = app
        .post(
            &format!("{docs}/{}/retry", good.json["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(
        retry_ready.status,
        StatusCode::CONFLICT,
        "{}",
        retry_ready.text
    );

    // The good document is untouched and still found; the server still serves.
    let hit = top_hit(&app, &owner, &base, "office cat").await;
    assert!(hit["text"].as_str().unwrap().contains("Biscuit"), "{hit}");
    assert_eq!(
        app.get("/readyz", &owner.token).await.status,
        StatusCode::OK
    );

    // Another organization's knowledge base is not found, before the body is read.
    let stranger = app.register(&email("docs-stranger")).await;
    let theirs = upload(
        &app,
        &stranger.token,
        &docs,
        &[("file", Some("x.txt"), Some("text/plain"), b"sneaky")],
    )
    .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{}", theirs.text);
    let own_org_path = docs.replace(&owner.org_id, &stranger.org_id);
    let theirs = upload(
        &app,
        &stranger.token,
        &own_org_path,
        &[("file", Some("x.txt"), Some("text/plain"), b"sneaky")],
    )
    .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
}

#[derive(serde::Deserialize)]
struct To {
    to: String,
}

/// A small web site: a guide, a page, an image, a missing page, a redirect anywhere, and a
/// body too large for a document.
async fn site() -> SocketAddr {
    let app = Router::new()
        .route(
            "/guide.md",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
                    "# Opening hours\n\nThe shop opens at nine and closes at six.\n",
                )
            }),
        )
        .route(
            "/page",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], PAGE) }),
        )
        .route(
            "/logo.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], b"\x89PNG".to_vec()) }),
        )
        .route(
            "/redirect",
            get(|Query(to): Query<To>| async move { Redirect::temporary(&to.to) }),
        )
        .route(
            "/huge.txt",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain")],
                    vec![b'a'; 50 * 1024 * 1024 + 1],
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn documents_by_url_go_through_the_guarded_client() {
    let site = site().await;
    // Another local service the server must never be made to reach.
    let private = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let private_addr = private.local_addr().unwrap();
    // Only the site is an allowed exception (as an on-premises server would be).
    let app = TestApp::spawn_with(|s| s.fetch_allow = vec![site]).await;
    let owner = app.register(&email("docs-url")).await;
    let base = knowledge_base(&app, &owner).await;
    let docs = format!("{base}/documents");

    let guide = app
        .post(
            &docs,
            &owner.token,
            json!({ "url": format!("http://{site}/guide.md") }),
        )
        .await;
    let ready = settled(&app, &owner, &base, &guide).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(
        ready["title"], "Opening hours",
        "the document's own heading"
    );
    assert_eq!(ready["content_type"], "text/markdown");
    assert_eq!(ready["source"]["type"], "url");
    let hit = top_hit(&app, &owner, &base, "when does the shop open").await;
    assert!(hit["text"].as_str().unwrap().contains("opens at nine"));
    assert_eq!(
        hit["document_url"],
        format!("http://{site}/guide.md"),
        "a hit links to where its document came from (a citation does too)"
    );

    let page = app
        .post(
            &docs,
            &owner.token,
            json!({ "url": format!("http://{site}/page"), "title": "Warranty" }),
        )
        .await;
    assert_eq!(settled(&app, &owner, &base, &page).await["status"], "ready");

    for (url, says) in [
        (format!("http://{private_addr}/"), "refused"),
        (
            format!("http://localhost:{}/", private_addr.port()),
            "refused",
        ),
        (
            format!("http://{site}/redirect?to=http://{private_addr}/"),
            "refused",
        ),
        (
            format!("http://{site}/redirect?to=http://169.254.169.254/latest/meta-data"),
            "refused",
        ),
        ("http://10.0.0.1/internal".to_owned(), "refused"),
        (format!("http://{site}/missing"), "HTTP 404"),
        (
            format!("http://{site}/logo.png"),
            "unsupported content type",
        ),
        ("ftp://example.com/file.txt".to_owned(), "http and https"),
        ("not a url".to_owned(), "not a URL"),
    ] {
        let reply = app.post(&docs, &owner.token, json!({ "url": url })).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{url}: {}",
            reply.text
        );
        assert_eq!(reply.error_fields(), vec!["url"], "{url}");
        assert!(reply.text.contains(says), "{url}: {}", reply.text);
    }
    let huge = app
        .post(
            &docs,
            &owner.token,
            json!({ "url": format!("http://{site}/huge.txt") }),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", huge.text);
    for (body, field) in [
        (
            json!({ "url": format!("http://{site}/page"), "text": "x", "title": "t" }),
            "url",
        ),
        (json!({ "title": "nothing" }), "text"),
        (json!({ "text": "no title" }), "title"),
        (
            json!({ "url": format!("http://{site}/page"), "content_type": "text/plain" }),
            "content_type",
        ),
    ] {
        let reply = app.post(&docs, &owner.token, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.error_fields(), vec![field], "{body}");
    }
    let listed = app.get(&docs, &owner.token).await;
    assert_eq!(
        listed.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        listed.text
    );
    drop(private);
}
