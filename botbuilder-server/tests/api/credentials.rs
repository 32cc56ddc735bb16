//! Credentials live no longer, and reach no further, than their holder's rights: API keys
//! follow their creator's current role, nobody revokes what holds more than they do, an
//! attacker's failed logins never lock the owner out, and weak passwords are refused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, email};

async fn create_key(app: &TestApp, token: &str, org: &str, permissions: &[&str]) -> Value {
    let created = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            token,
            json!({ "name": "key", "permissions": permissions }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.json
}

#[tokio::test]
async fn an_api_key_reaches_no_further_than_its_creators_current_role() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("key-owner")).await;
    let org = owner.org_id.clone();
    let admin = app
        .add_member(&owner, &org, &email("key-admin"), "admin")
        .await;
    let key = create_key(
        &app,
        &admin.token,
        &org,
        &["bots:read", "bots:write", "members:read", "members:manage"],
    )
    .await;
    let secret = key["key"].as_str().unwrap();
    let bots = format!("/api/v1/orgs/{org}/bots");
    let created = app.post(&bots, secret, json!({ "name": "By key" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    // Demoted to viewer: the key keeps only what a viewer may do.
    let member = format!("/api/v1/orgs/{org}/members/{}", admin.user_id);
    let demoted = app
        .call(
            Method::PATCH,
            &member,
            Some(&owner.token),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text);
    let refused = app.post(&bots, secret, json!({ "name": "Again" })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(app.get(&bots, secret).await.status, StatusCode::OK);

    // Removed: the key stops at once, and cannot bring its creator back.
    let removed = app
        .call(Method::DELETE, &member, Some(&owner.token), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert_eq!(
        app.get(&bots, secret).await.status,
        StatusCode::UNAUTHORIZED
    );
    let readd = app
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            secret,
            json!({ "email": admin.email, "role": "admin" }),
        )
        .await;
    assert_eq!(readd.status, StatusCode::UNAUTHORIZED, "{}", readd.text);
    // The removal revoked the key, and says so in the audit log.
    let log = app
        .get(
            &format!("/api/v1/orgs/{org}/audit-log?action=member.remove"),
            &owner.token,
        )
        .await;
    assert_eq!(
        log.json["items"][0]["details"]["revoked_api_keys"][0], key["api_key"]["id"],
        "{}",
        log.text
    );
    let keys = app
        .get(&format!("/api/v1/orgs/{org}/api-keys"), &owner.token)
        .await;
    assert!(keys.json.as_array().unwrap().is_empty(), "{}", keys.text);
}

#[tokio::test]
async fn nobody_revokes_a_key_that_holds_more_than_they_do() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("revoke-owner")).await;
    let org = owner.org_id.clone();
    let everything = create_key(
        &app,
        &owner.token,
        &org,
        &[
            "org:read",
            "bots:read",
            "bots:write",
            "api_keys:read",
            "api_keys:manage",
        ],
    )
    .await;
    let manager = create_key(
        &app,
        &owner.token,
        &org,
        &["api_keys:read", "api_keys:manage"],
    )
    .await;
    let reader = create_key(&app, &owner.token, &org, &["api_keys:read"]).await;
    let manager_secret = manager["key"].as_str().unwrap();
    let key_url = |key: &Value| {
        format!(
            "/api/v1/orgs/{org}/api-keys/{}",
            key["api_key"]["id"].as_str().unwrap()
        )
    };
    let refused = app
        .call(
            Method::DELETE,
            &key_url(&everything),
            Some(manager_secret),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.content_type(), "application/problem+json");
    let allowed = app
        .call(
            Method::DELETE,
            &key_url(&reader),
            Some(manager_secret),
            None,
        )
        .await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT, "{}", allowed.text);
    // The owner's key still works.
    let bots = app
        .get(
            &format!("/api/v1/orgs/{org}/bots"),
            everything["key"].as_str().unwrap(),
        )
        .await;
    assert_eq!(bots.status, StatusCode::OK);
}

/// A login from `ip` (as the one trusted proxy reports it; `spoofed` is what the client
/// itself put in front).
async fn login_from(app: &TestApp, ip: &str, spoofed: &str, email: &str, password: &str) -> u16 {
    app.http
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", format!("{spoofed}, {ip}"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_attackers_failed_logins_never_lock_out_the_owner() {
    let app = TestApp::spawn_with(|settings| {
        settings.auth_rate_limit_per_email = 10;
        settings.auth_failures_per_ip = 30;
        settings.auth_rate_limit_per_ip = 1_000;
        settings.trust_forwarded_for = true;
    })
    .await;
    let victim = app.register(&email("victim")).await;
    let attacker_ip = "203.0.113.66";
    let mut statuses = Vec::new();
    for i in 0..15 {
        // Rotating the part of X-Forwarded-For the client controls changes nothing.
        let spoofed = format!("10.9.8.{i}");
        statuses.push(login_from(&app, attacker_ip, &spoofed, &victim.email, "wrong guess").await);
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], &[429; 5], "{statuses:?}");
    // Even the right password from the attacker's address is refused now...
    assert_eq!(
        login_from(&app, attacker_ip, "1.1.1.1", &victim.email, PASSWORD).await,
        429
    );
    // ...but the owner, from their own address, signs in.
    assert_eq!(
        login_from(&app, "198.51.100.20", "1.1.1.1", &victim.email, PASSWORD).await,
        200
    );

    // Guessing across many accounts from one address is cut off too.
    let stuffer = "203.0.113.99";
    let mut cut = false;
    for i in 0..40 {
        let status = login_from(
            &app,
            stuffer,
            "x",
            &format!("user{i}@example.com"),
            "123456",
        )
        .await;
        if status == 429 {
            cut = i >= 30;
            break;
        }
    }
    assert!(cut, "failures per address are capped after 30");
}

#[tokio::test]
async fn weak_passwords_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    for weak in [
        "password",
        "12345678",
        "        ",
        "qwerty123",
        "victim-2026@example.com",
    ] {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({
                    "email": "victim-2026@example.com",
                    "password": weak,
                    "name": "Victim",
                    "organization_name": "Acme",
                })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{weak:?}: {}",
            reply.text
        );
        assert_eq!(reply.error_fields(), ["password"], "{}", reply.text);
        let message = reply.json["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("guess") || message.contains("spaces"),
            "{weak:?}: {message}"
        );
    }
}
