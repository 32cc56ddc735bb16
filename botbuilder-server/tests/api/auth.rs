//! Sign-up, login, refresh rotation and reuse detection, logout, rate limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{PASSWORD, TestApp, email, refresh_cookie};

async fn refresh(app: &TestApp, cookie: &str) -> crate::common::Reply {
    let res = app
        .http
        .post(app.url("/api/v1/auth/refresh"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    TestApp::reply(res).await
}

#[tokio::test]
async fn register_login_and_me() {
    let app = TestApp::spawn().await;
    let address = email("ada");
    let account = app.register(&address.to_uppercase()).await;
    let me = app.get("/api/v1/me", &account.token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["user"]["email"], address.to_lowercase());
    assert_eq!(me.json["organizations"][0]["role"], "owner");
    assert!(me.json["user"].get("password_hash").is_none());

    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": address, "password": PASSWORD })),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert!(login.json["access_token"].as_str().unwrap().len() > 20);
    assert_eq!(login.json["expires_in"], 900);
    assert_eq!(
        login.json["organizations"][0]["id"],
        account.org_id.as_str()
    );
    let cookie = login
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Max-Age=",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    app.stop().await;
}

#[tokio::test]
async fn duplicate_email_is_a_conflict() {
    let app = TestApp::spawn().await;
    let address = email("dup");
    app.register(&address).await;
    let again = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": address, "password": PASSWORD, "name": "x", "organization_name": "y"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.content_type(), "application/problem+json");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let address = email("same");
    app.register(&address).await;
    let login = |email: String, password: &'static str| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await
        }
    };
    let wrong_password = login(address.clone(), "not the password").await;
    let unknown_email = login(email("nobody"), "not the password").await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.text, unknown_email.text);
    assert!(refresh_cookie(&wrong_password.headers).is_none());
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let account = app.register(&email("rot")).await;

    let first = refresh(&app, &account.refresh_cookie).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let rotated = refresh_cookie(&first.headers).expect("rotated cookie");
    assert_ne!(rotated, account.refresh_cookie);
    let token = first.json["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", token).await.status, StatusCode::OK);

    // The old token is presented again: someone stole it. 401, and the family dies...
    let reuse = refresh(&app, &account.refresh_cookie).await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    // ...so the newest token of the family stops working too.
    let newest = refresh(&app, &rotated).await;
    assert_eq!(newest.status, StatusCode::UNAUTHORIZED);

    // A fresh login starts a new family that works.
    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": account.email, "password": PASSWORD })),
        )
        .await;
    let cookie = refresh_cookie(&login.headers).unwrap();
    assert_eq!(refresh(&app, &cookie).await.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_without_or_with_garbage_cookie_is_unauthorized() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&app, "bb_refresh=garbage").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_revokes_the_refresh_family_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let account = app.register(&email("logout")).await;
    let res = app
        .http
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &account.refresh_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cleared.starts_with("bb_refresh=;") && cleared.contains("Max-Age=0"));
    assert_eq!(
        refresh(&app, &account.refresh_cookie).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_email_and_per_ip() {
    let app = TestApp::spawn_with(|s| {
        s.auth_rate_limit_per_email = 3;
        s.auth_rate_limit_per_ip = 6;
    })
    .await;
    let attempt = |address: String| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": address, "password": "wrong password" })),
            )
            .await
        }
    };
    let victim = email("victim");
    for _ in 0..3 {
        assert_eq!(
            attempt(victim.clone()).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = attempt(victim.clone()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(limited.json["code"], "rate_limited");

    // Other emails from the same IP still pass until the per-IP quota (6) is spent.
    assert_eq!(attempt(email("a")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt(email("b")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        attempt(email("c")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn register_is_rate_limited_per_ip() {
    let app = TestApp::spawn_with(|s| s.auth_rate_limit_per_ip = 2).await;
    app.register(&email("r1")).await;
    app.register(&email("r2")).await;
    let third = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": email("r3"), "password": PASSWORD, "name": "x", "organization_name": "y"})),
        )
        .await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_global_per_ip_limit_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(|s| s.rate_limit_per_minute = 3).await;
    for _ in 0..3 {
        let r = app.call(Method::GET, "/api/v1/me", None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let limited = app.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));
    // Probes are never limited.
    let health = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn the_last_owner_cannot_leave_or_be_demoted() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("lastowner")).await;
    let path = format!("/api/v1/orgs/{}/members/{}", owner.org_id, owner.user_id);
    let demote = app
        .call(
            Method::PATCH,
            &path,
            Some(&owner.token),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(demote.status, StatusCode::CONFLICT, "{}", demote.text);
    let remove = app
        .call(Method::DELETE, &path, Some(&owner.token), None)
        .await;
    assert_eq!(remove.status, StatusCode::CONFLICT);

    // With a second owner, the first may step down.
    app.add_member(&owner, &owner.org_id, &email("second"), "owner")
        .await;
    let demote = app
        .call(
            Method::PATCH,
            &path,
            Some(&owner.token),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(demote.status, StatusCode::OK, "{}", demote.text);
}
