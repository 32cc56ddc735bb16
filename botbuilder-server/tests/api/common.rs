//! Spawns the real server on port 0 against a temporary database and speaks HTTP to it: a
//! SQLite file, or with `BOTBUILDER_TEST_DATABASE=postgres` a fresh database on the Postgres
//! server of `BOTBUILDER_TEST_POSTGRES_URL` (how `scripts/test` runs this suite a second time).

use std::net::SocketAddr;

use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) struct TestApp {
    pub(crate) addr: SocketAddr,
    pub(crate) http: reqwest::Client,
    database_url: String,
    /// The database outlives restarts: the same URL serves the next server.
    fixed_database: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A response: status, headers and the body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) text: String,
    pub(crate) json: Value,
}

impl Reply {
    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The `field`s of a problem+json `errors` list.
    pub(crate) fn error_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A signed-up user with their first organization.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) email: String,
    pub(crate) token: String,
    pub(crate) user_id: String,
    pub(crate) org_id: String,
    pub(crate) refresh_cookie: String,
}

/// A parameter of [`TestApp::execute_sql`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum SqlParam {
    Uuid(uuid::Uuid),
    Int(i64),
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// The secret part of the bot tokens of this test process's fake Telegram ([`telegram`]),
/// which serves many bots: each connection gets a token of its own, `<bot id>:` and this.
pub(crate) const TELEGRAM_TOKEN: &str = "424242:shared-fake-telegram-token";
static NEXT_TELEGRAM_BOT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(500_000);
static TELEGRAM: tokio::sync::OnceCell<botbuilder_channels::testing::FakeTelegram> =
    tokio::sync::OnceCell::const_new();

/// A fake Telegram Bot API for this test process, which every app of the process may reach
/// through the outbound guard (so any test can connect a channel).
pub(crate) async fn telegram() -> &'static botbuilder_channels::testing::FakeTelegram {
    TELEGRAM
        .get_or_init(|| {
            botbuilder_channels::testing::FakeTelegram::start_for_many_bots(TELEGRAM_TOKEN)
        })
        .await
}

/// The body connecting a new Telegram bot of this process's fake (started by any app): a
/// bot can be connected to one channel only.
pub(crate) fn telegram_channel_body() -> Value {
    let url = TELEGRAM.get().expect("an app was spawned").url();
    let bot = NEXT_TELEGRAM_BOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let secret = TELEGRAM_TOKEN.split_once(':').expect("a token").1;
    json!({ "type": "telegram", "config": { "bot_token": format!("{bot}:{secret}"), "api_base_url": url } })
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A fresh database file, test secrets, cheap password hashing; `tweak` edits settings.
    pub(crate) async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_in(tempfile::tempdir().expect("tempdir"), tweak).await
    }

    /// Stops this server and starts a new one on the same database (a restart).
    pub(crate) async fn restart_with(mut self, tweak: impl FnOnce(&mut Settings)) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task panicked");
        }
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("tempdir"));
        Self::spawn_on(dir, self.fixed_database.take(), tweak).await
    }

    async fn spawn_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Settings)) -> Self {
        let postgres = match std::env::var("BOTBUILDER_TEST_DATABASE").as_deref() {
            Ok("postgres") => Some(
                botbuilder_store::postgres::testing::fresh_database("api test")
                    .await
                    .expect("BOTBUILDER_TEST_DATABASE=postgres needs BOTBUILDER_TEST_POSTGRES_URL"),
            ),
            Ok("sqlite") | Err(_) => None,
            Ok(other) => panic!("BOTBUILDER_TEST_DATABASE={other}: expected sqlite or postgres"),
        };
        Self::spawn_on(dir, postgres, tweak).await
    }

    async fn spawn_on(
        dir: tempfile::TempDir,
        postgres: Option<String>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let url = postgres
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("test.db").display()));
        let mut settings = Settings::for_tests(url.clone());
        // Documents are parsed by the real binary in a separate process, as in production.
        settings.extract_program = Some(env!("CARGO_BIN_EXE_botbuilder").into());
        settings.fetch_allow.push(telegram().await.addr());
        tweak(&mut settings);
        let state = AppState::from_settings_with_cost(&settings, HashCost::INSECURE_FOR_TESTS)
            .await
            .expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let stop = async {
                let _ = rx.await;
            };
            botbuilder_server::serve(listener, state, stop)
                .await
                .expect("server failed");
        });
        Self {
            addr,
            http: reqwest::Client::new(),
            database_url: url,
            fixed_database: postgres,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    /// The URL of this app's database.
    pub(crate) fn database_url(&self) -> String {
        self.database_url.clone()
    }

    /// The store's backend name (`/readyz`'s `database`).
    pub(crate) fn backend(&self) -> &'static str {
        if self.database_url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Runs one statement directly on this app's database, bypassing the server (as someone
    /// with database access would). Parameters are `$1`, `$2`… (both backends read them).
    pub(crate) async fn execute_sql(&self, sql: &'static str, params: &[SqlParam]) {
        // One body for both pools: the query type differs by database, the steps do not.
        macro_rules! run_on {
            ($pool:ty) => {{
                let pool = <$pool>::connect(&self.database_url).await.unwrap();
                let mut query = sqlx::query(sql);
                for param in params {
                    query = match *param {
                        SqlParam::Uuid(id) => query.bind(id),
                        SqlParam::Int(n) => query.bind(n),
                    };
                }
                query.execute(&pool).await.unwrap();
                pool.close().await;
            }};
        }
        if self.backend() == "postgres" {
            run_on!(sqlx::PgPool)
        } else {
            run_on!(sqlx::SqlitePool)
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request; `token` becomes `Authorization: Bearer`, `body` JSON.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    pub(crate) async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Signs up `email` with a new organization.
    pub(crate) async fn register(&self, email: &str) -> Account {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({
                    "email": email,
                    "password": PASSWORD,
                    "name": "Test User",
                    "organization_name": format!("{email} org"),
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        Account {
            email: email.to_owned(),
            token: reply.json["access_token"].as_str().unwrap().to_owned(),
            user_id: reply.json["user"]["id"].as_str().unwrap().to_owned(),
            org_id: reply.json["organization"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            refresh_cookie: refresh_cookie(&reply.headers).expect("refresh cookie"),
        }
    }

    /// Creates a bot and returns its id.
    /// Connects a Telegram channel (this process's fake) to `bot`; returns its id.
    pub(crate) async fn connect_telegram(&self, account: &Account, org: &str, bot: &str) -> String {
        let r = self
            .post(
                &format!("/api/v1/orgs/{org}/bots/{bot}/channels"),
                &account.token,
                telegram_channel_body(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json["id"].as_str().expect("channel id").to_owned()
    }

    pub(crate) async fn create_bot(&self, account: &Account, org: &str, name: &str) -> String {
        let reply = self
            .post(
                &format!("/api/v1/orgs/{org}/bots"),
                &account.token,
                json!({ "name": name }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json["id"].as_str().unwrap().to_owned()
    }

    /// Makes a signed-up user a member of `org` with `role`; returns the member's account.
    pub(crate) async fn add_member(
        &self,
        owner: &Account,
        org: &str,
        email: &str,
        role: &str,
    ) -> Account {
        let member = self.register(email).await;
        let reply = self
            .post(
                &format!("/api/v1/orgs/{org}/members"),
                &owner.token,
                json!({ "email": email, "role": role }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        member
    }

    /// Graceful stop; a server panic fails the test.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task panicked");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `bb_refresh=...` pair of a `Set-Cookie` header, if present.
pub(crate) fn refresh_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("bb_refresh="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// A unique email for this test run.
pub(crate) fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}

/// Every `{org}` route with its verbs, from the OpenAPI document of the running server (so a
/// new route cannot escape the matrices). Deleting the organization goes last: it ends the
/// caller's access to it.
pub(crate) async fn org_routes(app: &TestApp) -> Vec<(Method, String)> {
    let spec = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json;
    let mut routes = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if !path.contains("{org}") {
            continue;
        }
        for verb in item.as_object().expect("path item").keys() {
            if let Ok(method) = verb.to_uppercase().parse::<Method>() {
                routes.push((method, path.clone()));
            }
        }
    }
    routes.sort_by_key(|(method, path)| {
        (
            *method == Method::DELETE && path == "/api/v1/orgs/{org}",
            path.clone(),
            method.to_string(),
        )
    });
    routes
}

/// A web chat session token for a new visitor of `bot`.
pub(crate) async fn visitor_token(app: &TestApp, bot: &str) -> String {
    let res = app
        .call(
            Method::POST,
            &format!("/api/v1/webchat/{bot}/sessions"),
            None,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.json["session_token"].as_str().unwrap().to_owned()
}

/// The `event:` names and `data:` payloads of an SSE body, in order.
pub(crate) fn sse(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name.to_owned(), serde_json::from_str(data).unwrap()))
        })
        .collect()
}

/// A webhook endpoint of `account`'s organization posting to `url` (a name that never
/// resolves is fine), and one delivery to it: a conversation is opened on `bot` and the
/// delivery of its `conversation.started` awaited. Returns `(webhook, delivery)`.
pub(crate) async fn webhook_with_delivery(
    app: &TestApp,
    account: &Account,
    bot: &str,
    url: &str,
) -> (String, String) {
    let org = &account.org_id;
    let created = app
        .post(
            &format!("/api/v1/orgs/{org}/webhooks"),
            &account.token,
            json!({ "url": url, "events": ["conversation.started"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let webhook = created.json["id"].as_str().unwrap().to_owned();
    let opened = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
            &account.token,
            json!({}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let deliveries = format!("/api/v1/orgs/{org}/webhooks/{webhook}/deliveries");
    for _ in 0..400 {
        let listed = app.get(&deliveries, &account.token).await;
        if let Some(id) = listed.json["items"][0]["id"].as_str() {
            return (webhook, id.to_owned());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no delivery to {url} appeared");
}

/// A bot of `owner`'s organization whose published flow hands every conversation to a person
/// at once, saying `message`.
pub(crate) async fn handoff_bot(app: &TestApp, owner: &Account, message: &str) -> String {
    let bot = app.create_bot(owner, &owner.org_id, "Desk").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "human", "type": "handoff", "data": { "message": message } }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "human" }]
    });
    publish_flow(app, owner, &bot, flow).await;
    bot
}

/// Saves `flow` as `bot`'s draft and publishes it (as `owner`), asserting both succeed.
pub(crate) async fn publish_flow(app: &TestApp, owner: &Account, bot: &str, flow: Value) {
    let base = format!("/api/v1/orgs/{}/bots/{bot}/flow", owner.org_id);
    let saved = app
        .call(Method::PUT, &base, Some(&owner.token), Some(flow))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let published = app
        .call(
            Method::POST,
            &format!("{base}/publish"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
}
