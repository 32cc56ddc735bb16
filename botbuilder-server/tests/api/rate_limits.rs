//! Rate limits with the production defaults: an operator's bulk job (77 intents, then 3,000
//! parses) runs without a 429, because authenticated requests are limited per credential and
//! per organization, not per IP; anonymous requests from the same address keep their own
//! per-IP limit; every limit is a setting.

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, email};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_job_is_not_throttled_but_anonymous_traffic_is() {
    let app = TestApp::spawn_with(|settings| {
        // The production defaults (tests otherwise run with generous limits).
        settings.rate_limit_per_minute = 600;
        settings.rate_limit_per_credential_per_minute = 6_000;
        settings.rate_limit_per_org_per_minute = 30_000;
        settings.auth_rate_limit_per_ip = 20;
    })
    .await;
    let owner = app.register(&email("bulk")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Bulk").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}");

    let intents = futures::stream::iter(0..77)
        .map(|i| {
            let (app, token, base) = (&app, &owner.token, &base);
            async move {
                app.post(
                    &format!("{base}/intents"),
                    token,
                    json!({ "name": format!("intent_{i}"), "examples": [
                        format!("please handle topic number {i}"),
                        format!("question about subject {i}"),
                    ] }),
                )
                .await
                .status
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    assert!(
        intents.iter().all(|s| *s == StatusCode::CREATED),
        "{intents:?}"
    );
    let parses = futures::stream::iter(0..3_000)
        .map(|i| {
            let (app, token, base) = (&app, &owner.token, &base);
            async move {
                app.post(
                    &format!("{base}/nlu/parse"),
                    token,
                    json!({ "text": format!("question about subject {}", i % 77) }),
                )
                .await
                .status
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let limited = parses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(limited, 0, "no 429 in a bulk job");
    assert!(parses.iter().all(|s| *s == StatusCode::OK));

    // The same address, without credentials, has its own bucket of 600 a minute.
    let mut anonymous = Vec::new();
    for _ in 0..610 {
        anonymous.push(app.call(Method::GET, "/api/v1/me", None, None).await.status);
    }
    assert_eq!(anonymous[0], StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    // ...and a credential still works from it.
    let me = app.get("/api/v1/me", &owner.token).await;
    assert_eq!(me.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn credential_and_organization_limits_are_settings() {
    let app = TestApp::spawn_with(|settings| {
        settings.rate_limit_per_credential_per_minute = 5;
    })
    .await;
    let owner = app.register(&email("cred-limit")).await;
    let bots = format!("/api/v1/orgs/{}/bots", owner.org_id);
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(app.get(&bots, &owner.token).await.status);
    }
    assert_eq!(&statuses[..5], &[StatusCode::OK; 5], "{statuses:?}");
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS);
    let other = app.register(&email("cred-limit-2")).await;
    let theirs = format!("/api/v1/orgs/{}/bots", other.org_id);
    assert_eq!(app.get(&theirs, &other.token).await.status, StatusCode::OK);
    app.stop().await;

    let app = TestApp::spawn_with(|settings| settings.rate_limit_per_org_per_minute = 4).await;
    let owner = app.register(&email("org-limit")).await;
    let org = owner.org_id.clone();
    let member = app
        .add_member(&owner, &org, &email("org-limit-m"), "viewer")
        .await;
    let bots = format!("/api/v1/orgs/{org}/bots");
    let mut statuses = Vec::new();
    for account in [&owner, &member, &owner, &member, &owner] {
        statuses.push(app.get(&bots, &account.token).await.status);
    }
    // Adding the member was the organization's first request: two users together get three
    // more, then 429.
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3], "{statuses:?}");
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    app.stop().await;
}

/// Requests to an organization by someone outside it are refused without using up its
/// allowance.
#[tokio::test]
async fn outsiders_cannot_use_up_an_organizations_allowance() {
    let app = TestApp::spawn_with(|settings| settings.rate_limit_per_org_per_minute = 5).await;
    let owner = app.register(&email("org-victim")).await;
    let outsider = app.register(&email("org-outsider")).await;
    let bots = format!("/api/v1/orgs/{}/bots", owner.org_id);
    for _ in 0..20 {
        assert_eq!(
            app.get(&bots, &outsider.token).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(app.get(&bots, &owner.token).await.status, StatusCode::OK);
    app.stop().await;
}
