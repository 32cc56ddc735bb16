//! Driving real server instances over HTTP: serve one, sign up, make a bot, publish a flow,
//! make an API key. Each helper asserts its request succeeded.

use std::time::Duration;

use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A signed-up account: its access token and organization id.
pub(crate) struct Tenant {
    pub(crate) token: String,
    pub(crate) org: String,
}

/// Serves an instance for `settings` on a free port; `poll` is how often its change bus reads
/// the feed by itself. Returns its base URL.
pub(crate) async fn serve(settings: &Settings, poll: Duration) -> String {
    serve_state(settings, poll).await.0
}

/// [`serve`], also returning the instance's state (to read what its caches did).
pub(crate) async fn serve_state(settings: &Settings, poll: Duration) -> (String, AppState) {
    let mut state = AppState::from_settings_with_cost(settings, HashCost::INSECURE_FOR_TESTS)
        .await
        .expect("state");
    state.change_poll_interval = poll;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(botbuilder_server::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    (url, state)
}

/// `POST` `body` (if any) to `url` as `token`; the JSON answer, after checking the status.
async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Option<&Value>,
    status: u16,
) -> Value {
    let mut request = http.post(url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), status, "POST {url}");
    response.json().await.unwrap_or(Value::Null)
}

/// Signs up `email` with an organization of its own on `base`.
pub(crate) async fn register(http: &reqwest::Client, base: &str, email: &str) -> Tenant {
    let body = json!({"email": email, "password": "correct horse battery", "name": "T", "organization_name": "Tenant"});
    let registered = post(
        http,
        &format!("{base}/api/v1/auth/register"),
        "",
        Some(&body),
        201,
    )
    .await;
    Tenant {
        token: registered["access_token"].as_str().unwrap().to_owned(),
        org: registered["organization"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// Creates a bot named `name`; returns its id.
pub(crate) async fn create_bot(
    http: &reqwest::Client,
    base: &str,
    t: &Tenant,
    name: &str,
) -> String {
    let url = format!("{base}/api/v1/orgs/{}/bots", t.org);
    let bot = post(http, &url, &t.token, Some(&json!({ "name": name })), 201).await;
    bot["id"].as_str().unwrap().to_owned()
}

/// Saves `flow` as `bot`'s draft and publishes it.
pub(crate) async fn publish_flow(
    http: &reqwest::Client,
    base: &str,
    t: &Tenant,
    bot: &str,
    flow: &Value,
) {
    let url = format!("{base}/api/v1/orgs/{}/bots/{bot}/flow", t.org);
    let saved = http
        .put(&url)
        .bearer_auth(&t.token)
        .json(flow)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    post(http, &format!("{url}/publish"), &t.token, None, 201).await;
}

/// Creates an API key with `permissions`; returns its secret and id.
pub(crate) async fn create_api_key(
    http: &reqwest::Client,
    base: &str,
    t: &Tenant,
    permissions: &[&str],
) -> (String, String) {
    let url = format!("{base}/api/v1/orgs/{}/api-keys", t.org);
    let body = json!({ "name": "test", "permissions": permissions });
    let key = post(http, &url, &t.token, Some(&body), 201).await;
    (
        key["key"].as_str().unwrap().to_owned(),
        key["api_key"]["id"].as_str().unwrap().to_owned(),
    )
}

/// Revokes the API key `key`.
pub(crate) async fn revoke_api_key(http: &reqwest::Client, base: &str, t: &Tenant, key: &str) {
    let url = format!("{base}/api/v1/orgs/{}/api-keys/{key}", t.org);
    let revoked = http
        .delete(&url)
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204, "DELETE {url}");
}

/// The status of listing `t`'s bots on `base` with `credential` (200, or 401 once revoked).
pub(crate) async fn bots_status(
    http: &reqwest::Client,
    base: &str,
    t: &Tenant,
    credential: &str,
) -> reqwest::StatusCode {
    let url = format!("{base}/api/v1/orgs/{}/bots", t.org);
    http.get(url)
        .bearer_auth(credential)
        .send()
        .await
        .unwrap()
        .status()
}

/// Polls `check` every 20 ms until it holds; returns how long that took (panics after 10 s).
pub(crate) async fn time_until<F, Fut>(mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not seen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}
