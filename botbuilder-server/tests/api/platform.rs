//! Probes, metrics, OpenAPI and docs, request ids, fallbacks.

use reqwest::{Method, StatusCode};

use crate::common::{TestApp, email};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json["status"], "ok");
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json["database"], app.backend());
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::spawn().await;
    app.register(&email("metrics")).await;
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type().starts_with("text/plain"));
    assert!(
        metrics.text.contains("http_requests_total"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("route=\"/api/v1/auth/register\""));
    assert!(
        metrics
            .text
            .contains("http_request_duration_seconds_bucket")
    );
}

#[tokio::test]
async fn openapi_document_and_docs_page_are_served() {
    let app = TestApp::spawn().await;
    let spec = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(spec.json["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/orgs/{org}/bots",
        "/api/v1/orgs/{org}/audit-log",
    ] {
        assert!(
            spec.json["paths"].get(path).is_some(),
            "{path} missing from the spec"
        );
    }
    assert!(spec.json["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "an HTML docs page");
    // Served offline: the page's assets come from this server.
    let css = app
        .http
        .get(app.url("/docs/swagger-ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
}

#[tokio::test]
async fn request_ids_are_generated_or_propagated() {
    let app = TestApp::spawn().await;
    let generated = app.call(Method::GET, "/healthz", None, None).await;
    assert!(!generated.headers["x-request-id"].is_empty());
    let given = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
    assert_eq!(given.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let app = TestApp::spawn().await;
    let missing = app
        .call(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.content_type(), "application/problem+json");
    let wrong_method = app.call(Method::PUT, "/healthz", None, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.content_type(), "application/problem+json");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app =
        TestApp::spawn_with(|s| s.cors_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.http
                .request(Method::OPTIONS, app.url("/api/v1/me"))
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization")
                .send()
                .await
                .unwrap()
        }
    };
    let allowed = preflight("https://app.example.com").await;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.com").await;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn orgs_can_be_created_listed_renamed_and_deleted() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("orgs")).await;
    let created = app
        .post(
            "/api/v1/orgs",
            &owner.token,
            serde_json::json!({ "name": "Second" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let listed = app.get("/api/v1/orgs", &owner.token).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{id}"),
            Some(&owner.token),
            Some(serde_json::json!({ "name": "Renamed" })),
        )
        .await;
    assert_eq!(renamed.json["name"], "Renamed");
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/{id}"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{id}"), &owner.token)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn bots_clone_copies_settings() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("clone")).await;
    let org = owner.org_id.clone();
    let bots = format!("/api/v1/orgs/{org}/bots");
    let source = app
        .post(&bots, &owner.token, serde_json::json!({ "name": "Source", "ai_config": { "temperature": 1.5, "system_prompt": "Be terse." } }))
        .await;
    let id = source.json["id"].as_str().unwrap();
    let clone = app
        .http
        .post(app.url(&format!("{bots}/{id}/clone")))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    let clone = TestApp::reply(clone).await;
    assert_eq!(clone.status, StatusCode::CREATED, "{}", clone.text);
    assert_eq!(clone.json["name"], "Source (copy)");
    assert_ne!(clone.json["id"], source.json["id"]);
    assert_eq!(clone.json["ai_config"], source.json["ai_config"]);
    let named = app
        .post(
            &format!("{bots}/{id}/clone"),
            &owner.token,
            serde_json::json!({ "name": "Twin" }),
        )
        .await;
    assert_eq!(named.json["name"], "Twin");
    let listed = app.get(&bots, &owner.token).await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn().await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // The request has started arriving when shutdown begins...
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !stopping.is_finished(),
        "the server waits for the in-flight request"
    );
    // ...and still gets its answer.
    stream
        .write_all(b"Connection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    stopping.await.expect("server stopped cleanly");
}
