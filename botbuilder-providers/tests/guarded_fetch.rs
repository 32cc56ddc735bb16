//! The SSRF guard against real local servers: private targets, literal or by name, directly or
//! through a redirect, are refused; an explicitly allowed target works; time and size are capped.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use botbuilder_core::fetch::{FetchError, FetchRequest, Fetcher};
use botbuilder_providers::http::{FetchPolicy, GuardedFetcher};

#[derive(serde::Deserialize)]
struct Target {
    to: String,
}

async fn server() -> SocketAddr {
    let app = Router::new()
        .route(
            "/json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"ok":true}"#,
                )
            }),
        )
        .route(
            "/redirect",
            get(|Query(t): Query<Target>| async move {
                (StatusCode::FOUND, [(header::LOCATION, t.to)]).into_response()
            }),
        )
        .route("/big", get(|| async { "x".repeat(2 * 1024 * 1024) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn get_req(url: String) -> FetchRequest {
    FetchRequest::get(url, Duration::from_secs(5))
}

fn guarded(allow: Vec<SocketAddr>) -> GuardedFetcher {
    GuardedFetcher::new(FetchPolicy {
        allow_private: false,
        allow,
    })
    .unwrap()
}

fn assert_refused(result: Result<botbuilder_core::fetch::FetchResponse, FetchError>, what: &str) {
    match result {
        Err(FetchError::Refused(_)) => {}
        other => panic!("{what}: expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn private_and_metadata_targets_are_refused_before_connecting() {
    let fetcher = guarded(vec![]);
    for url in [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://localhost/",
    ] {
        assert_refused(fetcher.fetch(get_req(url.into())).await, url);
    }
    assert_refused(
        fetcher.fetch(get_req("file:///etc/passwd".into())).await,
        "file scheme",
    );
    assert!(matches!(
        fetcher.fetch(get_req("not a url".into())).await,
        Err(FetchError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn an_allowed_target_works_but_redirects_into_private_addresses_are_refused() {
    let addr = server().await;
    let other = server().await;
    let fetcher = guarded(vec![addr]);
    let ok = fetcher
        .fetch(get_req(format!("http://{addr}/json")))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), r#"{"ok":true}"#);
    assert_eq!(ok.content_type.as_deref(), Some("application/json"));

    // The same host but another (not allowed) port, by IP and by name.
    for target in [
        format!("http://{other}/json"),
        format!("http://localhost:{}/json", other.port()),
    ] {
        let url = format!("http://{addr}/redirect?to={target}");
        assert_refused(fetcher.fetch(get_req(url)).await, &target);
    }
    let metadata = format!("http://{addr}/redirect?to=http://169.254.169.254/");
    assert_refused(
        fetcher.fetch(get_req(metadata)).await,
        "redirect to metadata",
    );
    // Without the exception, the server itself is refused.
    assert_refused(
        guarded(vec![])
            .fetch(get_req(format!("http://{addr}/json")))
            .await,
        "unlisted",
    );
}

#[tokio::test]
async fn size_and_time_are_capped() {
    let addr = server().await;
    let fetcher = guarded(vec![addr]);
    assert!(matches!(
        fetcher.fetch(get_req(format!("http://{addr}/big"))).await,
        Err(FetchError::TooLarge)
    ));
    let mut slow = get_req(format!("http://{addr}/slow"));
    slow.timeout = Duration::from_millis(200);
    assert!(matches!(
        fetcher.fetch(slow).await,
        Err(FetchError::Timeout)
    ));
}

#[tokio::test]
async fn development_mode_allows_private_targets() {
    let addr = server().await;
    let open = GuardedFetcher::new(FetchPolicy {
        allow_private: true,
        allow: vec![],
    })
    .unwrap();
    let ok = open
        .fetch(get_req(format!("http://{addr}/json")))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
}
