//! Two server instances sharing one SQLite database behave as one service: an account made on
//! one signs in on the other, a refresh token rotated on one is dead on the other, and tenant
//! isolation holds across them.

use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings};
use serde_json::{Value, json};
use tokio::net::TcpListener;

async fn instance(database_url: &str) -> String {
    let settings = Settings::for_tests(database_url);
    let state = AppState::from_settings_with_cost(&settings, HashCost::INSECURE_FOR_TESTS)
        .await
        .expect("state");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(botbuilder_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    url
}

fn cookie(res: &reqwest::Response) -> String {
    res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn two_instances_on_one_database_act_as_one_service() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("shared.db").display());
    let (a, b) = (instance(&db).await, instance(&db).await);
    let http = reqwest::Client::new();

    let signup = http
        .post(format!("{a}/api/v1/auth/register"))
        .json(&json!({"email": "multi@example.com", "password": "correct horse battery", "name": "M", "organization_name": "Shared"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let first_cookie = cookie(&signup);
    let body: Value = signup.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let org = body["organization"]["id"].as_str().unwrap();

    // The access token issued by A is accepted by B (same secret), and B sees A's writes.
    let created = http
        .post(format!("{b}/api/v1/orgs/{org}/bots"))
        .bearer_auth(token)
        .json(&json!({ "name": "made on b" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let listed: Value = http
        .get(format!("{a}/api/v1/orgs/{org}/bots"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["name"], "made on b");

    // Rotate on A; replaying the old cookie on B is reuse: 401, and the family is revoked.
    let rotated = http
        .post(format!("{a}/api/v1/auth/refresh"))
        .header("cookie", &first_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let second_cookie = cookie(&rotated);
    let replay = http
        .post(format!("{b}/api/v1/auth/refresh"))
        .header("cookie", &first_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    let newest = http
        .post(format!("{a}/api/v1/auth/refresh"))
        .header("cookie", &second_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(newest.status(), 401);

    // Another tenant signed up on B cannot reach the first tenant through A.
    let other: Value = http
        .post(format!("{b}/api/v1/auth/register"))
        .json(&json!({"email": "other@example.com", "password": "correct horse battery", "name": "O", "organization_name": "Other"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let foreign = http
        .get(format!("{a}/api/v1/orgs/{org}/bots"))
        .bearer_auth(other["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
}
