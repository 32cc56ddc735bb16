//! The operator console's pages: `/` and any page a browser loads outside the API get the
//! console under a Content-Security-Policy allowing nothing inline; API clients still get
//! problem+json 404s; the page's hashed bundles are served for good.

use reqwest::StatusCode;

use crate::common::TestApp;

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn the_console_is_served_at_the_root_and_its_pages_with_a_strict_policy() {
    let app = TestApp::spawn().await;
    let root = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::OK);
    assert_eq!(root.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(root.headers()["cache-control"], "no-cache");
    assert_eq!(root.headers()["x-frame-options"], "DENY");
    let csp = root.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let page = root.text().await.unwrap();

    // A page of the console's own router, loaded directly (a reload, a bookmark).
    let deep = app
        .http
        .get(app.url("/bots/0190a3c0-0000-7000-8000-000000000000/deploy"))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(deep.status(), StatusCode::OK);
    assert!(deep.headers().contains_key("content-security-policy"));
    assert_eq!(deep.text().await.unwrap(), page);

    // Every bundle the page names is served, cached for good.
    let bundles: Vec<&str> = page
        .split('"')
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    assert!(!bundles.is_empty(), "{page}");
    for bundle in bundles {
        let res = app.http.get(app.url(bundle)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{bundle}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
}

#[tokio::test]
async fn machines_asking_for_unknown_paths_get_problem_json() {
    let app = TestApp::spawn().await;
    for (path, accept) in [
        ("/api/v1/nothing-here", BROWSER_ACCEPT),
        ("/hooks/nothing/here", BROWSER_ACCEPT),
        ("/bots", "application/json"),
        ("/bots", "*/*"),
    ] {
        let res = app
            .http
            .get(app.url(path))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path} ({accept})");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path} ({accept})"
        );
    }
    let posted = app
        .http
        .post(app.url("/bots"))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status(),
        StatusCode::NOT_FOUND,
        "only page loads get the console"
    );
}
