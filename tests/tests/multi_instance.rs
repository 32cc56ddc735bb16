//! Two server instances sharing one database behave as one service: an account made on one
//! signs in on the other, a refresh token rotated on one is dead on the other, tenant
//! isolation holds across them, and a change made on one reaches the other's caches. Each
//! case runs on a SQLite file and on Postgres (`BOTBUILDER_TEST_POSTGRES_URL`).

mod support;

use botbuilder_server::Settings;
use botbuilder_store::postgres::testing::fresh_database;
use serde_json::{Value, json};
use support::http::{
    bots_status, create_api_key, create_bot, publish_flow, register, revoke_api_key, serve,
    time_until,
};

/// An instance on `database_url`, polling the change feed at the default interval.
async fn instance(database_url: &str) -> String {
    let settings = Settings::for_tests(database_url);
    serve(&settings, botbuilder_core::change::POLL_INTERVAL).await
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
async fn two_instances_on_one_sqlite_file_act_as_one_service() {
    let dir = tempfile::tempdir().unwrap();
    act_as_one_service(&support::sqlite_url(&dir)).await;
}

#[tokio::test]
async fn two_instances_on_one_postgres_act_as_one_service() {
    if let Some(db) = fresh_database("two_instances_on_one_postgres_act_as_one_service").await {
        act_as_one_service(&db).await;
    }
}

async fn act_as_one_service(db: &str) {
    let (a, b) = (instance(db).await, instance(db).await);
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

#[tokio::test]
async fn a_conversation_and_its_jobs_span_instances_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    conversation_and_jobs_span_instances(&support::sqlite_url(&dir)).await;
}

#[tokio::test]
async fn a_conversation_and_its_jobs_span_instances_on_postgres() {
    let test = "a_conversation_and_its_jobs_span_instances_on_postgres";
    if let Some(db) = fresh_database(test).await {
        conversation_and_jobs_span_instances(&db).await;
    }
}

/// A conversation alternating between the instances keeps its state (an answer given to B
/// completes the question A asked), and each job runs once although both instances work the
/// queue: every webhook event reaches the receiver exactly once.
async fn conversation_and_jobs_span_instances(db: &str) {
    use reqwest::Method;
    let receiver = support::receiver::Receiver::start().await;
    let mut settings = Settings::for_tests(db);
    settings.fetch_allow.push(receiver.addr);
    let poll = botbuilder_core::change::POLL_INTERVAL;
    let (a, b) = (serve(&settings, poll).await, serve(&settings, poll).await);
    let http = reqwest::Client::new();
    let tenant = register(&http, &a, "span@example.com").await;
    let (token, org) = (tenant.token.clone(), tenant.org.clone());
    let (status, hook) = call(
        &http,
        Method::POST,
        &format!("{a}/api/v1/orgs/{org}/webhooks"),
        &token,
        Some(json!({ "url": receiver.url(), "events": ["conversation.started"] })),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let bot_id = create_bot(&http, &a, &tenant, "asks").await;
    let asking = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "ask", "type": "ask", "data": { "prompt": "Your order number?", "variable": "order" } },
            { "id": "done", "type": "message", "data": { "text": "Looking up your order." } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "ask" },
            { "id": "e2", "source": "ask", "target": "done" }
        ]
    });
    publish_flow(&http, &a, &tenant, &bot_id, &asking).await;
    let conversations = format!("/api/v1/orgs/{org}/bots/{bot_id}/conversations");

    const CONVERSATIONS: usize = 6;
    for n in 0..CONVERSATIONS {
        let (first, second) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (status, opened) = call(
            &http,
            Method::POST,
            &format!("{first}{conversations}"),
            &token,
            Some(json!({ "user": format!("customer-{n}") })),
        )
        .await;
        assert_eq!(status, 201, "{opened}");
        let messages = format!(
            "{conversations}/{}/messages",
            opened["session_id"].as_str().unwrap()
        );
        let say = async |base: &str, text: &str| {
            let (status, turn) = call(
                &http,
                Method::POST,
                &format!("{base}{messages}"),
                &token,
                Some(json!({ "text": text })),
            )
            .await;
            assert_eq!(status, 200, "{turn}");
            turn["replies"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(say(first, "hi").await, "Your order number?");
        assert_eq!(
            say(second, "A-1234").await,
            "Looking up your order.",
            "the other instance resumes where the first left off"
        );
    }

    let took = time_until(async || receiver.ids().len() >= CONVERSATIONS).await;
    assert!(took.as_secs() < 10, "deliveries took {took:?}");
    // Both instances' workers had the chance to deliver twice: give them time to.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let ids = receiver.ids();
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), CONVERSATIONS, "each event once: {ids:?}");
    assert_eq!(distinct.len(), CONVERSATIONS);
}

/// `method` `url` with `token`, and the JSON answer (`null` when there is none).
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (reqwest::StatusCode, Value) {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A flow that answers any message with `text`.
fn saying(text: &str) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "say", "type": "message", "data": { "text": text } },
            { "id": "bye", "type": "end", "data": {} }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "say" },
            { "id": "e2", "source": "say", "target": "bye" }
        ]
    })
}

/// A change made through one instance reaches the other instance's caches within a second,
/// although both cached what it replaced: a flow published on A answers B's next
/// conversation, a document added on A is found by B's search, and an API key revoked on A is
/// refused by B. (The caches' own lifetimes are longer: 60 s for bots, 5 s for access.)
#[tokio::test]
async fn changes_on_one_instance_reach_the_other_within_a_second_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    changes_reach_the_other_instance(&support::sqlite_url(&dir)).await;
}

#[tokio::test]
async fn changes_on_one_instance_reach_the_other_within_a_second_on_postgres() {
    let test = "changes_on_one_instance_reach_the_other_within_a_second_on_postgres";
    if let Some(db) = fresh_database(test).await {
        changes_reach_the_other_instance(&db).await;
    }
}

async fn changes_reach_the_other_instance(db: &str) {
    use reqwest::Method;
    let (a, b) = (instance(db).await, instance(db).await);
    let http = reqwest::Client::new();
    let tenant = register(&http, &a, "bus@example.com").await;
    let (token, org) = (tenant.token.clone(), tenant.org.clone());
    let bot_id = create_bot(&http, &a, &tenant, "versions").await;
    let bot = format!("/api/v1/orgs/{org}/bots/{bot_id}");
    let publish = async |text: &str| publish_flow(&http, &a, &tenant, &bot_id, &saying(text)).await;
    // B's answer in a new conversation.
    let answer_on_b = async || {
        let conversations = format!("{b}{bot}/conversations");
        let (status, opened) = call(
            &http,
            Method::POST,
            &conversations,
            &token,
            Some(json!({ "user": "visitor" })),
        )
        .await;
        assert_eq!(status, 201, "{opened}");
        let session = opened["session_id"].as_str().unwrap();
        let url = format!("{conversations}/{session}/messages");
        let (status, turn) = call(
            &http,
            Method::POST,
            &url,
            &token,
            Some(json!({ "text": "hi" })),
        )
        .await;
        assert_eq!(status, 200, "{turn}");
        turn["replies"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    publish("version one").await;
    assert_eq!(answer_on_b().await, "version one");
    publish("version two").await;
    let took = time_until(async || answer_on_b().await == "version two").await;
    assert!(took.as_millis() < 1000, "the flow reached B after {took:?}");

    // B indexes the empty knowledge base, then A adds a document to it.
    let (status, kb) = call(
        &http,
        Method::POST,
        &format!("{a}/api/v1/orgs/{org}/knowledge-bases"),
        &token,
        Some(json!({ "name": "Help" })),
    )
    .await;
    assert_eq!(status, 201);
    let kb = format!(
        "/api/v1/orgs/{org}/knowledge-bases/{}",
        kb["id"].as_str().unwrap()
    );
    let found_on_b = async || {
        let query = json!({ "query": "how long do refunds take", "mode": "keyword" });
        let (status, hits) = call(
            &http,
            Method::POST,
            &format!("{b}{kb}/search"),
            &token,
            Some(query),
        )
        .await;
        assert_eq!(status, 200, "{hits}");
        !hits.as_array().unwrap().is_empty()
    };
    assert!(!found_on_b().await);
    let text = "# Refunds\n\nRefunds are paid within 5 days of the return.";
    let (status, doc) = call(
        &http,
        Method::POST,
        &format!("{a}{kb}/documents"),
        &token,
        Some(json!({ "title": "Refunds", "text": text, "content_type": "text/markdown" })),
    )
    .await;
    assert_eq!(status, 202, "{doc}");
    let doc = format!("{a}{kb}/documents/{}", doc["id"].as_str().unwrap());
    time_until(async || {
        let (_, doc) = call(&http, Method::GET, &doc, &token, None).await;
        doc["status"] == "ready"
    })
    .await;
    let took = time_until(found_on_b).await;
    assert!(
        took.as_millis() < 1000,
        "the document reached B after {took:?}"
    );

    // B admits an API key (and caches it); A revokes it.
    let (secret, key) = create_api_key(&http, &a, &tenant, &["bots:read"]).await;
    assert_eq!(bots_status(&http, &b, &tenant, &secret).await, 200);
    revoke_api_key(&http, &a, &tenant, &key).await;
    let took = time_until(async || bots_status(&http, &b, &tenant, &secret).await == 401).await;
    assert!(
        took.as_millis() < 1000,
        "the revocation reached B after {took:?}"
    );
}
