//! The network edge: slow and numerous clients cannot stop a normal one, every error the
//! stack produces is problem+json, and `/metrics` can require a token.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{TestApp, email};

/// Reads what the server sends until it closes the connection (or `within` passes: `None`).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_numerous_clients_cannot_stop_a_normal_one() {
    let app = TestApp::spawn_with(|settings| {
        settings.edge.header_timeout = Duration::from_secs(1);
        settings.edge.idle_timeout = Duration::from_secs(2);
        settings.edge.max_connections_per_ip = 40;
        settings.edge.max_connections = 150;
        settings.body_timeout = Duration::from_secs(1);
    })
    .await;
    // One address opens 60 connections and sends half a request head on each.
    let mut slow = Vec::new();
    for _ in 0..60 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    // Another client (another address) is served at once.
    let normal = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let started = Instant::now();
    let health = normal.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(500));

    // The connections over the per-address cap were refused with a problem, and the slow
    // heads were cut at the header timeout: every connection ends within a few seconds.
    let mut refused = 0;
    let mut cut = 0;
    for stream in &mut slow {
        let answer = read_until_closed(stream, Duration::from_secs(5))
            .await
            .expect("the server closed the slow connection");
        if answer.starts_with("HTTP/1.1 503") {
            assert!(answer.contains("application/problem+json"), "{answer}");
            assert!(answer.to_lowercase().contains("retry-after"), "{answer}");
            refused += 1;
        } else {
            cut += 1;
        }
    }
    assert_eq!(
        (refused, cut),
        (20, 40),
        "refused over the cap, the rest cut"
    );

    // A body that stops halfway is given up at the body deadline.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the half body was given up");
    assert!(
        answer.is_empty() || answer.contains("application/problem+json"),
        "{answer}"
    );

    // An idle keep-alive connection is closed after the idle timeout.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut idle, Duration::from_secs(6))
        .await
        .expect("the idle connection was closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let idle_for = started.elapsed();
    assert!(
        idle_for >= Duration::from_millis(1500),
        "kept alive a while: {idle_for:?}"
    );
    app.stop().await;
}

/// A request (method, path, optional content type and body) and the status it must get.
type Case<'a> = (Method, String, Option<(&'a str, String)>, StatusCode);

#[tokio::test]
async fn errors_from_anywhere_in_the_stack_are_problems() {
    let app = TestApp::spawn_with(|settings| settings.body_limit = 64 * 1024).await;
    let owner = app.register(&email("edge-problems")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Edge").await;
    let big = "x".repeat(200 * 1024);
    let cases: Vec<Case<'_>> = vec![
        // A body over the limit on a handler reading raw bytes.
        (
            Method::POST,
            format!("/api/v1/orgs/{org}/bots/{bot}/clone"),
            Some(("application/json", big.clone())),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        // ...and on a JSON handler.
        (
            Method::POST,
            format!("/api/v1/orgs/{org}/bots"),
            Some(("application/json", format!("{{\"name\":\"{big}\"}}"))),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Method::POST,
            format!("/api/v1/orgs/{org}/bots"),
            Some(("text/plain", "name=x".to_owned())),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::PUT,
            "/healthz".to_owned(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            "/nowhere".to_owned(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/api/v1/orgs/{org}/bots/not-a-uuid"),
            None,
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, body, status) in cases {
        let mut req = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(&owner.token);
        if let Some((content_type, body)) = body {
            req = req.header("content-type", content_type).body(body);
        }
        let reply = TestApp::reply(req.send().await.unwrap()).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.text);
        assert_eq!(
            reply.content_type(),
            "application/problem+json",
            "{method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.json["status"], status.as_u16(), "{}", reply.text);
    }
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app = TestApp::spawn_with(|settings| {
        settings.metrics_token = Some(botbuilder_server::config::Secret::new(
            "scrape-me-0123456789",
        ));
    })
    .await;
    let anonymous = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-0123456788")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let scraped = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.text().await.unwrap().contains("http_requests"));
    app.stop().await;

    // With an address of its own, the API does not serve it at all.
    let app = TestApp::spawn_with(|settings| {
        settings.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let here = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(here.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
