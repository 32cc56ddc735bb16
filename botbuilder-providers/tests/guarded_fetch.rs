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
            "/whoami",
            get(|headers: axum::http::HeaderMap| async move {
                headers
                    .get(header::AUTHORIZATION)
                    .or_else(|| headers.get("x-api-key"))
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("anonymous")
                    .to_owned()
            }),
        )
        .route(
            "/host",
            get(|headers: axum::http::HeaderMap| async move {
                headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_owned()
            }),
        )
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
        allow,
        ..FetchPolicy::default()
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
        // IPv6 forms carrying a private IPv4 address: mapped, compatible, NAT64, 6to4, ISATAP.
        "http://[::ffff:127.0.0.1]/",
        "http://[::7f00:1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::1]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://[fe80::5efe:a00:1]/",
        "http://[2001:db9::5efe:c0a8:101]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[64:ff9b:1::a00:1]/",
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
        ..FetchPolicy::default()
    })
    .unwrap();
    let ok = open
        .fetch(get_req(format!("http://{addr}/json")))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
}

/// Unknown names and names of internal hosts get the same answer.
#[tokio::test]
async fn unknown_and_internal_names_are_told_apart_by_nothing() {
    let fetcher = guarded(vec![]);
    let message = |result: Result<botbuilder_core::fetch::FetchResponse, FetchError>| match result {
        Err(FetchError::Refused(why)) => why,
        other => panic!("expected Refused, got {other:?}"),
    };
    let internal = message(fetcher.fetch(get_req("http://localhost/".into())).await);
    let unknown = message(
        fetcher
            .fetch(get_req("http://no-such-host.invalid/".into()))
            .await,
    );
    assert_eq!(
        internal.replace("localhost", "HOST"),
        unknown.replace("no-such-host.invalid", "HOST"),
    );
}

/// A stand-in proxy: answers every request with "from the proxy", counting them.
async fn proxy() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let app = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "from the proxy" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// With a proxy configured, names resolving to internal addresses are still refused (the
/// proxy never hears of them), and public targets go through it.
#[tokio::test]
async fn an_explicit_proxy_never_carries_internal_names() {
    use std::sync::atomic::Ordering;
    let (addr, seen) = proxy().await;
    let fetcher = GuardedFetcher::new(FetchPolicy {
        proxy: Some(format!("http://{addr}")),
        ..FetchPolicy::default()
    })
    .unwrap();
    for url in [
        "http://localhost/",
        "http://localhost:9/admin",
        "http://127.0.0.1/",
    ] {
        assert_refused(fetcher.fetch(get_req(url.into())).await, url);
    }
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    let public = fetcher
        .fetch(get_req("http://93.184.216.34/page".into()))
        .await
        .unwrap();
    assert_eq!(public.text(), "from the proxy");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

/// Proxy environment variables are ignored. The test runs itself again as a child process
/// whose environment points every scheme at a stand-in proxy serving "loopback content"; the
/// child fetches internal names and must be refused without the proxy hearing of them.
#[tokio::test]
async fn proxy_environment_variables_are_ignored() {
    use std::sync::atomic::Ordering;
    if std::env::var_os("BOTBUILDER_PROXY_TEST_CHILD").is_some() {
        let fetcher = guarded(vec![]);
        for url in ["http://internal.test/", "http://localhost/"] {
            assert_refused(fetcher.fetch(get_req(url.into())).await, url);
        }
        return;
    }
    let (addr, seen) = proxy().await;
    let proxy_url = format!("http://{addr}");
    let exe = std::env::current_exe().unwrap();
    let output = tokio::process::Command::new(exe)
        .args([
            "--exact",
            "proxy_environment_variables_are_ignored",
            "--nocapture",
        ])
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("HTTPS_PROXY", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .env("BOTBUILDER_PROXY_TEST_CHILD", "1")
        .output()
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("1 passed"), "the child ran: {log}");
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing went to the proxy");
}

/// Credentials go with a redirect on the same origin, never to another one: of the request's
/// headers, only `Accept`, `Accept-Language`, `Content-Type` and `User-Agent` cross origins.
#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let (home, elsewhere) = (server().await, server().await);
    let fetcher = guarded(vec![home, elsewhere]);
    let with_token = |url: String| FetchRequest {
        headers: vec![("Authorization".into(), "Bearer s3cret".into())],
        ..get_req(url)
    };
    let same = fetcher
        .fetch(with_token(format!("http://{home}/redirect?to=/whoami")))
        .await
        .unwrap();
    assert_eq!(same.text(), "Bearer s3cret");
    let other = fetcher
        .fetch(with_token(format!(
            "http://{home}/redirect?to=http://{elsewhere}/whoami"
        )))
        .await
        .unwrap();
    assert_eq!(other.text(), "anonymous");

    // Any other header may carry a credential too (a tool's `x-api-key`): it stays home.
    let with_key = |url: String| FetchRequest {
        headers: vec![
            ("x-api-key".into(), "k3y".into()),
            ("accept".into(), "text/plain".into()),
        ],
        ..get_req(url)
    };
    let same = fetcher
        .fetch(with_key(format!("http://{home}/redirect?to=/whoami")))
        .await
        .unwrap();
    assert_eq!(same.text(), "k3y");
    let other = fetcher
        .fetch(with_key(format!(
            "http://{home}/redirect?to=http://{elsewhere}/whoami"
        )))
        .await
        .unwrap();
    assert_eq!(other.text(), "anonymous");
}

/// The connection's own headers are the client's: a caller's `host` (which would send the
/// request to another site on a shared address than the URL names) is not sent.
#[tokio::test]
async fn a_callers_host_header_is_not_sent() {
    let home = server().await;
    let fetcher = guarded(vec![home]);
    let request = FetchRequest {
        headers: vec![("Host".into(), "victim.example".into())],
        ..get_req(format!("http://{home}/host"))
    };
    let answer = fetcher.fetch(request).await.unwrap();
    assert_eq!(answer.text(), home.to_string());
}

/// A request's `Debug` names its headers but never shows their values (they may be opened
/// secrets).
#[test]
fn a_requests_debug_hides_header_values() {
    let request = FetchRequest {
        headers: vec![("authorization".into(), "Bearer sk-secret-123".into())],
        ..get_req("https://api.example/x".into())
    };
    let shown = format!("{request:?}");
    assert!(shown.contains("authorization"), "{shown}");
    assert!(!shown.contains("sk-secret-123"), "{shown}");
}

/// A request that does not follow redirects gets the `3xx` itself, and nothing reaches the
/// target it names (customer webhooks: a redirect is not an acceptance).
#[tokio::test]
async fn a_request_may_refuse_to_follow_redirects() {
    let home = server().await;
    let fetcher = guarded(vec![home]);
    let response = fetcher
        .fetch(FetchRequest {
            follow_redirects: false,
            ..get_req(format!("http://{home}/redirect?to=/whoami"))
        })
        .await
        .unwrap();
    assert!((300..400).contains(&response.status), "{}", response.status);
    assert_ne!(response.text(), "anonymous");
}

/// A request that truncates the body gets the status and the first `max_body_bytes` of a
/// large answer instead of an error.
#[tokio::test]
async fn a_truncating_request_keeps_the_status_of_a_large_answer() {
    let addr = server().await;
    let fetcher = guarded(vec![addr]);
    let response = fetcher
        .fetch(FetchRequest {
            max_body_bytes: Some(1000),
            truncate_body: true,
            ..get_req(format!("http://{addr}/big"))
        })
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), 1000);
}
