//! The JWT negative suite: every forged, foreign, stale or broken token is 401, and the
//! handler never runs (nothing is created).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use botbuilder_server::Settings;
use botbuilder_server::auth::{AUDIENCE, ISSUER};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email};

const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/rsa_public.pem");

fn secret() -> Vec<u8> {
    Settings::for_tests("sqlite::memory:")
        .jwt_secret
        .expose()
        .as_bytes()
        .to_vec()
}

fn claims(sub: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600 })
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).expect("encode")
}

fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&secret()),
        claims,
    )
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Every bad token the suite tries, with a name for failure messages.
fn bad_tokens(user: &str) -> Vec<(&'static str, String)> {
    let good = claims(user);
    let now = Utc::now().timestamp();
    let valid = hs256(&good);
    let mut parts: Vec<&str> = valid.split('.').collect();
    let tampered_payload = b64(&with(
        good.clone(),
        "sub",
        json!(uuid::Uuid::now_v7().to_string()),
    ));
    parts[1] = &tampered_payload;
    let tampered = parts.join(".");
    vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "alg None",
            format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&good)),
        ),
        (
            "HS256 with another key",
            sign(
                Algorithm::HS256,
                &EncodingKey::from_secret(b"another-secret-0123456789abcdefghijkl"),
                &good,
            ),
        ),
        (
            "HS512 with the right key",
            sign(
                Algorithm::HS512,
                &EncodingKey::from_secret(&secret()),
                &good,
            ),
        ),
        (
            "RS256 signed with an RSA key",
            sign(
                Algorithm::RS256,
                &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
                &good,
            ),
        ),
        (
            "HS256 keyed with the RSA public key (RS/HS confusion)",
            sign(
                Algorithm::HS256,
                &EncodingKey::from_secret(RSA_PUBLIC),
                &good,
            ),
        ),
        (
            "expired",
            hs256(&with(
                with(good.clone(), "exp", json!(now - 60)),
                "iat",
                json!(now - 1000),
            )),
        ),
        (
            "not yet valid",
            hs256(&with(good.clone(), "nbf", json!(now + 3600))),
        ),
        (
            "wrong audience",
            hs256(&with(good.clone(), "aud", json!("someone-else"))),
        ),
        (
            "wrong issuer",
            hs256(&with(good.clone(), "iss", json!("evil"))),
        ),
        ("missing exp", hs256(&without(good.clone(), "exp"))),
        ("missing sub", hs256(&without(good.clone(), "sub"))),
        (
            "sub not an id",
            hs256(&with(good.clone(), "sub", json!("admin"))),
        ),
        ("tampered payload", tampered),
        ("truncated signature", valid[..valid.len() - 4].to_owned()),
        ("garbage", "not-a-jwt".to_owned()),
        ("two segments", "abc.def".to_owned()),
        (
            "unknown API key",
            "bb_thisKeyDoesNotExist0000000000000000000000".to_owned(),
        ),
    ]
}

async fn bot_count(app: &TestApp, owner: &Account) -> usize {
    let reply = app
        .get(&format!("/api/v1/orgs/{}/bots", owner.org_id), &owner.token)
        .await;
    reply.json["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn forged_foreign_and_stale_tokens_are_refused_before_the_handler() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("jwt")).await;
    let path = format!("/api/v1/orgs/{}/bots", owner.org_id);
    for (name, token) in bad_tokens(&owner.user_id) {
        let me = app.get("/api/v1/me", &token).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{name}: {}", me.text);
        assert_eq!(me.content_type(), "application/problem+json", "{name}");
        assert!(me.headers.contains_key("www-authenticate"), "{name}");
        let create = app.post(&path, &token, json!({ "name": name })).await;
        assert_eq!(create.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    assert_eq!(bot_count(&app, &owner).await, 0, "no handler ran");
}

#[tokio::test]
async fn a_correctly_signed_token_for_the_user_works() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("jwt-ok")).await;
    let token = hs256(&claims(&owner.user_id));
    assert_eq!(app.get("/api/v1/me", &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_malformed_authorization_headers_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("hdr")).await;
    let no_header = app.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(no_header.status, StatusCode::UNAUTHORIZED);
    for value in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", &owner.token] {
        let res = app
            .http
            .get(app.url("/api/v1/me"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "header {value:?}");
    }
}

#[tokio::test]
async fn a_token_of_a_deleted_or_unknown_user_opens_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("ghost-owner")).await;
    let ghost = hs256(&claims(&uuid::Uuid::now_v7().to_string()));
    assert_eq!(
        app.get("/api/v1/me", &ghost).await.status,
        StatusCode::UNAUTHORIZED
    );
    let org = app
        .get(&format!("/api/v1/orgs/{}/bots", owner.org_id), &ghost)
        .await;
    assert_eq!(org.status, StatusCode::FORBIDDEN);
}
