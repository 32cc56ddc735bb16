//! Two server instances sharing one Postgres database and one Redis (`BOTBUILDER_TEST_POSTGRES_URL`
//! and `BOTBUILDER_TEST_REDIS_URL`, as `scripts/test` provisions them; under CI these tests
//! must run): the rate limit is one budget across both, a change made on one reaches the
//! other through Redis alone, a model trained on one is loaded by the other, and a handoff
//! reply sent on one reaches a visitor's stream on the other.

use std::time::{Duration, Instant};

mod support;

use botbuilder_server::Settings;
use botbuilder_store::postgres::testing::fresh_database;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::http::{
    bots_status, create_api_key, create_bot, publish_flow, register, revoke_api_key, serve,
    serve_state, time_until,
};

/// The Redis URL for database `db` of the test server, or `None` (skip) outside CI.
fn redis_url(db: u8, test: &str) -> Option<String> {
    match std::env::var("BOTBUILDER_TEST_REDIS_URL") {
        Ok(url) => Some(format!("{}/{db}", url.trim_end_matches('/'))),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: BOTBUILDER_TEST_REDIS_URL is not set, and under CI Redis must be tested"
            );
            eprintln!("skipped {test}: BOTBUILDER_TEST_REDIS_URL is not set");
            None
        }
    }
}

async fn flush(url: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("FLUSHDB")
        .query_async::<()>(&mut connection)
        .await
        .unwrap();
}

/// Settings for instances sharing a fresh Postgres database and the Redis at `redis`; `None`
/// (skip) when Postgres is not configured outside CI.
async fn shared(test: &str, redis: String) -> Option<Settings> {
    let database = fresh_database(test).await?;
    let mut settings = Settings::for_tests(database);
    settings.redis_url = Some(redis);
    Some(settings)
}

#[tokio::test]
async fn a_rate_limit_is_one_budget_across_instances() {
    let Some(redis) = redis_url(1, "a_rate_limit_is_one_budget_across_instances") else {
        return;
    };
    flush(&redis).await;
    let Some(mut settings) = shared("a_rate_limit_is_one_budget_across_instances", redis).await
    else {
        return;
    };
    settings.rate_limit_per_minute = 10;
    let poll = botbuilder_core::change::POLL_INTERVAL;
    let (a, b) = (serve(&settings, poll).await, serve(&settings, poll).await);
    let http = reqwest::Client::new();
    for url in [&a, &b] {
        let ready: Value = http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            ready,
            json!({"status": "ok", "database": "postgres", "redis": "ok"})
        );
    }

    // Anonymous requests from one address, alternating between the instances.
    let mut admitted = 0;
    for i in 0..30 {
        let base = if i % 2 == 0 { &a } else { &b };
        let response = http
            .get(format!("{base}/api/v1/orgs"))
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => {}
            StatusCode::UNAUTHORIZED => admitted += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(admitted, 10, "10 per minute in all, not per instance");
}

#[tokio::test]
async fn a_change_on_one_instance_reaches_the_other_through_redis_alone() {
    let test = "a_change_on_one_instance_reaches_the_other_through_redis_alone";
    let Some(redis) = redis_url(2, test) else {
        return;
    };
    flush(&redis).await;
    let Some(settings) = shared(test, redis).await else {
        return;
    };
    // Neither instance polls the feed by itself within the test: only an announcement over
    // Redis can tell B of A's change.
    let hour = Duration::from_secs(3600);
    let (a, b) = (serve(&settings, hour).await, serve(&settings, hour).await);
    let http = reqwest::Client::new();
    let tenant = register(&http, &a, "redis@example.com").await;
    let (secret, key) = create_api_key(&http, &a, &tenant, &["bots:read"]).await;
    let status_on_b = async || bots_status(&http, &b, &tenant, &secret).await;
    assert_eq!(
        status_on_b().await,
        StatusCode::OK,
        "B admits the key, and caches it"
    );

    revoke_api_key(&http, &a, &tenant, &key).await;
    let took = time_until(async || status_on_b().await == StatusCode::UNAUTHORIZED).await;
    assert!(
        took < Duration::from_secs(1),
        "B still admits the revoked key after a second"
    );
}

#[tokio::test]
async fn a_model_trained_on_one_instance_is_loaded_by_the_other() {
    let test = "a_model_trained_on_one_instance_is_loaded_by_the_other";
    let Some(redis) = redis_url(4, test) else {
        return;
    };
    flush(&redis).await;
    let Some(settings) = shared(test, redis).await else {
        return;
    };
    let poll = botbuilder_core::change::POLL_INTERVAL;
    let ((a, on_a), (b, on_b)) = (
        serve_state(&settings, poll).await,
        serve_state(&settings, poll).await,
    );
    let http = reqwest::Client::new();
    let tenant = register(&http, &a, "models@example.com").await;
    let bot = create_bot(&http, &a, &tenant, "Shop").await;
    let base = format!("/api/v1/orgs/{}/bots/{bot}", tenant.org);
    for (name, examples) in [
        (
            "track_order",
            ["where is my order", "track my parcel", "order status"],
        ),
        (
            "refund",
            [
                "i want my money back",
                "refund please",
                "return my purchase",
            ],
        ),
    ] {
        let created = http
            .post(format!("{a}{base}/intents"))
            .bearer_auth(&tenant.token)
            .json(&json!({ "name": name, "examples": examples }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let parse = async |base_url: &str| -> Value {
        let response = http
            .post(format!("{base_url}{base}/nlu/parse"))
            .bearer_auth(&tenant.token)
            .json(&json!({ "text": "where is my parcel" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    };

    let on_a_parse = parse(&a).await;
    assert_eq!(on_a_parse["intent"], "track_order");
    assert_eq!(
        on_a.nlu.stats().trained,
        1,
        "A trains the model and shares it"
    );
    let on_b_parse = parse(&b).await;
    assert_eq!(on_b_parse, on_a_parse, "the same model answers the same");
    assert_eq!(
        (on_b.nlu.stats().trained, on_b.nlu.stats().loaded),
        (0, 1),
        "B loads what A trained instead of training it again"
    );
}

/// A Redis server of the test's own, on a fixed port, that it can stop and start again.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// `None` (skip) when `redis-server` is missing outside CI; `scripts/test` installs it.
    fn start(test: &str) -> Option<Self> {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok();
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: redis-server is missing, and under CI Redis must be tested"
            );
            eprintln!("skipped {test}: redis-server is missing");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.restart();
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not listen");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn readiness(http: &reqwest::Client, base: &str) -> (StatusCode, Value) {
    let response = http.get(format!("{base}/readyz")).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Redis stopped mid-run: the instances keep serving (limits admit, `/readyz` says
/// `degraded`), a change still reaches the other instance through the database's feed, and
/// when Redis is back they use it again by themselves.
#[tokio::test]
async fn losing_redis_degrades_the_instances_and_they_recover_by_themselves() {
    let test = "losing_redis_degrades_the_instances_and_they_recover_by_themselves";
    let Some(mut redis) = OwnRedis::start(test) else {
        return;
    };
    let Some(settings) = shared(test, redis.url()).await else {
        return;
    };
    let poll = botbuilder_core::change::POLL_INTERVAL;
    let (a, b) = (serve(&settings, poll).await, serve(&settings, poll).await);
    let http = reqwest::Client::new();
    assert_eq!(readiness(&http, &a).await.1["status"], "ok");
    let tenant = register(&http, &a, "fault@example.com").await;
    let (secret, key) = create_api_key(&http, &a, &tenant, &["bots:read"]).await;
    let status_on_b = async || bots_status(&http, &b, &tenant, &secret).await;
    assert_eq!(status_on_b().await, StatusCode::OK);

    redis.stop();
    let started = Instant::now();
    let listed = bots_status(&http, &a, &tenant, &tenant.token).await;
    assert_eq!(listed, StatusCode::OK, "requests are still served");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "and promptly: {:?}",
        started.elapsed()
    );
    let (status, body) = readiness(&http, &b).await;
    assert_eq!(
        (status, &body["status"], &body["redis"]),
        (StatusCode::OK, &json!("degraded"), &json!("unavailable"))
    );
    revoke_api_key(&http, &a, &tenant, &key).await;
    let took = time_until(async || status_on_b().await == StatusCode::UNAUTHORIZED).await;
    assert!(
        took < Duration::from_secs(2),
        "without Redis the revocation still reaches B by the database's feed"
    );

    redis.restart();
    let started = Instant::now();
    while readiness(&http, &a).await.1["status"] != "ok"
        || readiness(&http, &b).await.1["status"] != "ok"
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the instances did not take Redis back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first `message` event of an open SSE response, within 10 s.
async fn next_message(events: &mut reqwest::Response, buffer: &mut String) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name));
            if field("event: ") == Some("message") {
                return serde_json::from_str(field("data: ").unwrap()).unwrap();
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, events.chunk())
            .await
            .expect("a message within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// A visitor's event stream is open on B; the agent answers on A, where the reply is
/// published; Redis carries it to B's stream.
#[tokio::test]
async fn an_agent_reply_on_one_instance_reaches_a_visitor_stream_on_the_other() {
    let test = "an_agent_reply_on_one_instance_reaches_a_visitor_stream_on_the_other";
    let Some(redis) = redis_url(3, test) else {
        return;
    };
    flush(&redis).await;
    let Some(settings) = shared(test, redis).await else {
        return;
    };
    let poll = botbuilder_core::change::POLL_INTERVAL;
    let (a, b) = (serve(&settings, poll).await, serve(&settings, poll).await);
    let http = reqwest::Client::new();
    let tenant = register(&http, &a, "desk@example.com").await;
    let (token, org) = (tenant.token.as_str(), tenant.org.as_str());
    let bot = create_bot(&http, &a, &tenant, "Desk").await;
    let bot = bot.as_str();
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "human", "type": "handoff", "data": { "message": "A person will reply." } }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "human" }]
    });
    publish_flow(&http, &a, &tenant, bot, &flow).await;

    // The visitor talks to B and listens on B.
    let visitor: Value = http
        .post(format!("{b}/api/v1/webchat/{bot}/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let visitor = visitor["session_token"].as_str().unwrap();
    let turn = http
        .post(format!("{b}/api/v1/webchat/{bot}/messages"))
        .bearer_auth(visitor)
        .json(&json!({ "text": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(turn.status(), StatusCode::OK);
    let mut events = http
        .get(format!("{b}/api/v1/webchat/{bot}/events"))
        .bearer_auth(visitor)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);

    // The agent answers on A.
    let waiting: Value = http
        .get(format!(
            "{a}/api/v1/orgs/{org}/bots/{bot}/conversations?status=handoff"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = waiting["items"][0]["session_id"].as_str().unwrap();
    let replied = http
        .post(format!(
            "{a}/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/reply"
        ))
        .bearer_auth(token)
        .json(&json!({ "text": "Hi, this is Dana." }))
        .send()
        .await
        .unwrap();
    assert!(replied.status().is_success());
    let message = next_message(&mut events, &mut String::new()).await;
    assert_eq!(message["text"], "Hi, this is Dana.");
    assert_eq!(message["session_id"], session);
}
