//! Webhook acknowledgement under a burst, beside a baseline on the same server, and what
//! becomes of the events afterwards.
//!
//! A bot with a one-message flow is connected to a fake Telegram Bot API in process. 1,000
//! updates (200 chats, 5 updates each) are posted to `/hooks/telegram/{channel}` by 64
//! concurrent clients; each request's time to its `200` is recorded. The baseline is 1,000
//! `GET /healthz` at the same concurrency on the same server, measured just before. Then the
//! bench waits until every update has been answered, checks each was answered exactly once
//! (a further 100 redeliveries are acknowledged and not answered again), and reports the
//! outbound rate, which the dispatcher keeps within Telegram's limits (about 30 messages a
//! second overall, one a second per chat).
//!
//! `cargo bench -p botbuilder-server --bench webhook_ack`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use botbuilder_channels::testing::FakeTelegram;
use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings};
use serde_json::{Value, json};

const TOKEN: &str = "4242:bench-token";
const UPDATES: usize = 1000;
const CHATS: usize = 200;
const CONCURRENCY: usize = 64;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at]
}

fn summary(name: &str, samples: &mut [f64]) {
    let (p50, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
    let max = samples.iter().copied().fold(0.0, f64::max);
    println!(
        "{name:<32} p50 {p50:7.2} ms   p99 {p99:7.2} ms   max {max:7.2} ms   (n = {})",
        samples.len()
    );
}

/// Runs `requests` requests made by `make(i)` with `CONCURRENCY` in flight; returns each
/// one's milliseconds to its response status, asserting it is 200.
async fn burst<F, Fut>(requests: usize, make: F) -> Vec<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = reqwest::StatusCode> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, make) = (next.clone(), make.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        return times;
                    }
                    let started = Instant::now();
                    let status = make(i).await;
                    times.push(started.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(status, reqwest::StatusCode::OK, "request {i}");
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(requests);
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all
}

fn update(i: usize) -> Value {
    let chat = 10_000 + (i % CHATS) as i64;
    json!({ "update_id": 1 + i as i64, "message": { "message_id": i, "date": 1_700_000_000, "text": "hello",
        "chat": { "id": chat, "type": "private" }, "from": { "id": chat, "is_bot": false, "first_name": "B" } } })
}

#[tokio::main]
async fn main() {
    let fake = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings =
        Settings::for_tests(format!("sqlite://{}", dir.path().join("b.db").display()));
    settings.fetch_allow = vec![fake.addr()];
    settings.public_url = Some("https://bots.example.com".to_owned());
    let state = AppState::from_settings_with_cost(&settings, HashCost::INSECURE_FOR_TESTS)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(botbuilder_server::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let http = reqwest::Client::new();
    let account: Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(
            &json!({ "email": "bench@example.com", "password": "correct horse battery staple",
            "name": "B", "organization_name": "B" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = account["access_token"].as_str().unwrap().to_owned();
    let org = account["organization"]["id"].as_str().unwrap().to_owned();
    let bot: Value = http
        .post(format!("{base}/api/v1/orgs/{org}/bots"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Bench" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bot = bot["id"].as_str().unwrap().to_owned();
    let flow = format!("{base}/api/v1/orgs/{org}/bots/{bot}/flow");
    http.put(&flow)
        .bearer_auth(&token)
        .json(&json!({ "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "hi", "type": "message", "data": { "text": "Hi!" } } ],
            "edges": [{ "id": "e", "source": "start", "target": "hi" }] }))
        .send()
        .await
        .unwrap();
    http.post(format!("{flow}/publish"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let channel: Value = http
        .post(format!("{base}/api/v1/orgs/{org}/bots/{bot}/channels")).bearer_auth(&token)
        .json(&json!({ "type": "telegram", "config": { "bot_token": TOKEN, "api_base_url": fake.url() } }))
        .send().await.unwrap().json().await.unwrap();
    let hook = format!("{base}/hooks/telegram/{}", channel["id"].as_str().unwrap());
    let (_, secret) = fake.webhook().unwrap();

    // Warm up both paths (connections, caches).
    for _ in 0..20 {
        http.get(format!("{base}/healthz")).send().await.unwrap();
    }

    let (client, at) = (http.clone(), base.clone());
    let mut healthz = burst(UPDATES, move |_| {
        let (client, url) = (client.clone(), format!("{at}/healthz"));
        async move { client.get(url).send().await.unwrap().status() }
    })
    .await;

    let (client, url, token) = (http.clone(), hook.clone(), secret.clone());
    let started = Instant::now();
    let mut acks = burst(UPDATES, move |i| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            client
                .post(url)
                .header("X-Telegram-Bot-Api-Secret-Token", token)
                .json(&update(i))
                .send()
                .await
                .unwrap()
                .status()
        }
    })
    .await;
    let accepted_in = started.elapsed();

    println!("{UPDATES} requests at {CONCURRENCY} concurrent, release build, one process:");
    summary("GET /healthz (baseline)", &mut healthz);
    summary("POST /hooks/telegram (ack)", &mut acks);
    println!(
        "all {UPDATES} updates acknowledged in {:.2} s",
        accepted_in.as_secs_f64()
    );

    let sent = fake
        .wait_for("sendMessage", UPDATES, Duration::from_secs(600))
        .await;
    let drained = started.elapsed();
    // Redeliveries of 100 of them: acknowledged, never answered again.
    let (client, url, token) = (http.clone(), hook.clone(), secret.clone());
    burst(100, move |i| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            client
                .post(url)
                .header("X-Telegram-Bot-Api-Secret-Token", token)
                .json(&update(i))
                .send()
                .await
                .unwrap()
                .status()
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let answered = fake.calls_of("sendMessage");
    let mut per_chat = std::collections::HashMap::<String, usize>::new();
    for message in &answered {
        *per_chat
            .entry(message["chat_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(answered.len(), UPDATES, "each update answered exactly once");
    assert!(
        per_chat.values().all(|n| *n == UPDATES / CHATS),
        "{per_chat:?}"
    );
    println!(
        "all {} answered exactly once after {:.2} s: {:.1} messages/s overall (Telegram allows about 30)",
        sent.len(),
        drained.as_secs_f64(),
        sent.len() as f64 / drained.as_secs_f64()
    );
}
