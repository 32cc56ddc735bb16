//! The server stays responsive while large documents ingest (text, Markdown, a page read by
//! the separate reader process): chunking and embedding run on blocking threads, so
//! `GET /healthz` keeps answering quickly. (Run alone: `.config/nextest.toml` gives this test every core, so other tests'
//! load does not count against it.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, email};
use crate::documents::upload;

/// Paragraphs of varied prose, `bytes` long.
fn prose(bytes: usize, seed: usize) -> Vec<u8> {
    let words = [
        "refund", "parcel", "courier", "warranty", "kettle", "invoice", "address", "delivery",
        "return", "policy", "within", "days", "customer", "order", "tracking", "number",
    ];
    let mut text = String::with_capacity(bytes + 64);
    let mut i = seed;
    while text.len() < bytes {
        text.push_str(words[(i * 7 + i / 3) % words.len()]);
        i += 1;
        text.push_str(if i.is_multiple_of(97) {
            ".\n\n"
        } else if i.is_multiple_of(13) {
            ". "
        } else {
            " "
        });
    }
    text.into_bytes()
}

/// `n` sequential `/healthz` latencies, sorted.
async fn healthz_latencies(app: &TestApp, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let health = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        out.push(started.elapsed());
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_stays_responsive_while_large_documents_ingest() {
    let app = TestApp::spawn().await;
    let idle = healthz_latencies(&app, 200).await;
    let owner = app.register(&email("responsive")).await;
    let kb = app
        .post(
            &format!("/api/v1/orgs/{}/knowledge-bases", owner.org_id),
            &owner.token,
            json!({ "name": "Large" }),
        )
        .await;
    let base = format!(
        "/api/v1/orgs/{}/knowledge-bases/{}",
        owner.org_id,
        kb.json["id"].as_str().unwrap()
    );
    let docs = format!("{base}/documents");
    // Two 4 MB documents of prose, one 30 MiB line without a single space, and a 4 MB page
    // (read by the separate reader process).
    let one_line = vec![b'x'; 30 << 20];
    let mut page = b"<html><body><article>".to_vec();
    for paragraph in prose(4 << 20, 2)
        .split(|b| *b == b'\n')
        .filter(|p| !p.is_empty())
    {
        page.extend_from_slice(b"<p>");
        page.extend_from_slice(paragraph);
        page.extend_from_slice(b"</p>\n");
    }
    page.extend_from_slice(b"</article></body></html>");
    let files: [(&str, Vec<u8>); 4] = [
        ("first.txt", prose(4 << 20, 0)),
        ("second.md", prose(4 << 20, 1)),
        ("one-line.txt", one_line),
        ("page.html", page),
    ];
    let mut urls = Vec::new();
    for (name, bytes) in &files {
        let added = upload(
            &app,
            &owner.token,
            &docs,
            &[("file", Some(name), None, bytes)],
        )
        .await;
        assert_eq!(added.status, StatusCode::ACCEPTED, "{name}: {}", added.text);
        urls.push(format!("{docs}/{}", added.json["id"].as_str().unwrap()));
    }

    let mut latencies = Vec::new();
    let mut busy_samples = 0;
    let window = Instant::now() + Duration::from_secs(25);
    while Instant::now() < window {
        let started = Instant::now();
        let health = app.http.get(app.url("/healthz")).send().await.unwrap();
        latencies.push(started.elapsed());
        assert_eq!(health.status(), StatusCode::OK);
        if latencies.len().is_multiple_of(20) {
            let mut processing = 0;
            for url in &urls {
                let doc = app.get(url, &owner.token).await;
                if matches!(doc.json["status"].as_str(), Some("pending" | "processing")) {
                    processing += 1;
                }
            }
            if processing == 0 {
                break;
            }
            busy_samples = latencies.len();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        busy_samples >= 200,
        "enough samples were taken while documents ingested: {busy_samples}"
    );
    let mut sorted = latencies[..busy_samples].to_vec();
    sorted.sort();
    let p50 = sorted[sorted.len() / 2];
    let p99 = sorted[sorted.len() * 99 / 100];
    eprintln!(
        "healthz during ingestion: {} samples, p50 {p50:?}, p99 {p99:?}, max {:?}; idle baseline \
         p50 {:?}, p99 {:?}",
        sorted.len(),
        sorted[sorted.len() - 1],
        idle[idle.len() / 2],
        idle[idle.len() * 99 / 100],
    );
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}");
    app.stop().await;
}
