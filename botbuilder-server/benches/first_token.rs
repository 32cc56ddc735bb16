//! Time to first token through the server, beside the fake provider's own, and memory per
//! open answer stream.
//!
//! A bot on the OpenAI-compatible provider points at an in-process fake that streams each
//! answer as SSE chunks. The bench measures the time from sending a request to receiving the
//! first piece of answer text: straight from the fake (its own time to first token: the
//! baseline) and through the server's web chat API (session, NLU, prompt assembly, the
//! provider client, SSE relay). The difference of the medians is what the server adds. It
//! does so for 1 client; for one client while 63 other answers stream (64 streams open, new
//! requests arriving one at a time); and for 64 clients asking at the same instant (a burst,
//! where each request also waits for the CPU the others use: the CPU time per request is
//! printed beside it). Then it opens streams that stay open and reports the resident memory
//! each one costs (client, server and fake together, and without the server).
//!
//! `cargo bench -p botbuilder-server --bench first_token` (release build; 2-core machine
//! figures go in the closing note).

use std::time::{Duration, Instant};

use botbuilder_providers::testing::{FakeServer, OpenAiWire, ScriptedAnswer, Step, Wire};
use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings};
use futures::StreamExt as _;
use serde_json::{Value, json};

/// Samples per concurrency level, at least (rounds of all clients at once).
const SAMPLES: usize = 256;
const OPEN_STREAMS: usize = 200;

fn answer() -> Vec<String> {
    OpenAiWire.answer_events(
        &ScriptedAnswer::text(&["Hello", " there", ", how can I help?"], (20, 6)),
        true,
    )
}

/// Milliseconds from sending a request until the first answer text of its streamed response.
async fn first_token(request: impl Future<Output = reqwest::Response>, marker: &str) -> f64 {
    let started = Instant::now();
    let mut body = request.await.bytes_stream();
    let mut seen = String::new();
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("body")));
        if seen.contains(marker) {
            return started.elapsed().as_secs_f64() * 1e3;
        }
    }
    panic!("no answer text in {seen}");
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at]
}

/// CPU time this process has used (all threads, user and system), in milliseconds.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state; utime and stime
    // are the 14th and 15th fields, in clock ticks (100 a second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<u64>() as f64 * 10.0
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

struct World {
    base: String,
    bot: String,
    fake: FakeServer,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let fake = FakeServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings =
        Settings::for_tests(format!("sqlite://{}", dir.path().join("b.db").display()));
    settings.fetch_allow = vec![fake.addr()];
    settings.llm.openai_compatible_base_url = Some(format!("{}/v1", fake.url()).parse().unwrap());
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
        .json(&json!({ "name": "Bench", "ai_config": { "provider": "openai-compatible", "model": "m" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    World {
        base,
        bot: bot["id"].as_str().unwrap().to_owned(),
        fake,
        http,
        _dir: dir,
    }
}

impl World {
    async fn visitor(&self) -> String {
        let session: Value = self
            .http
            .post(format!(
                "{}/api/v1/webchat/{}/sessions",
                self.base, self.bot
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        session["session_token"].as_str().unwrap().to_owned()
    }

    async fn through_server(&self, visitor: &str) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/api/v1/webchat/{}/messages",
                self.base, self.bot
            ))
            .bearer_auth(visitor)
            .header("accept", "text/event-stream")
            .json(&json!({ "text": "hello" }))
            .send()
            .await
            .unwrap()
    }

    async fn direct(&self) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/chat/completions", self.fake.url()))
            .json(&json!({ "model": "m", "stream": true, "messages": [{ "role": "user", "content": "hello" }] }))
            .send()
            .await
            .unwrap()
    }
}

async fn measure(w: &'static World, clients: usize) {
    let mut direct = Vec::new();
    let mut through = Vec::new();
    let (mut direct_cpu, mut through_cpu) = (0.0, 0.0);
    let visitors: Vec<String> = futures::future::join_all((0..clients).map(|_| w.visitor())).await;
    for _ in 0..SAMPLES.div_ceil(clients) {
        for _ in 0..clients {
            w.fake.push(Step::events(answer()));
        }
        let cpu = cpu_ms();
        let round = futures::future::join_all(
            (0..clients).map(|_| async { first_token(w.direct(), "Hello").await }),
        )
        .await;
        direct_cpu += cpu_ms() - cpu;
        direct.extend(round);
        for _ in 0..clients {
            w.fake.push(Step::events(answer()));
        }
        let cpu = cpu_ms();
        let round = futures::future::join_all(
            visitors
                .iter()
                .map(|v| async move { first_token(w.through_server(v), "event: delta").await }),
        )
        .await;
        through_cpu += cpu_ms() - cpu;
        through.extend(round);
    }
    let requests = through.len() as f64;
    let (d50, d99) = (percentile(&mut direct, 0.5), percentile(&mut direct, 0.99));
    let (t50, t99) = (
        percentile(&mut through, 0.5),
        percentile(&mut through, 0.99),
    );
    println!(
        "{clients:>2} concurrent: fake alone p50 {d50:.2} ms p99 {d99:.2} ms | through the server p50 {t50:.2} ms p99 {t99:.2} ms | added p50 {:.2} ms | CPU per request {:.2} ms alone, {:.2} ms through the server (to the first token)",
        t50 - d50,
        direct_cpu / requests,
        through_cpu / requests,
    );
}

/// Answers that start and then stay open, as long answers being written do.
fn hanging() -> Step {
    let mut events = answer();
    events.truncate(3); // some text, then the stream stays open
    Step::events(events).hanging()
}

/// One request at a time while `open` answers stream through the server.
async fn measure_beside_open(w: &'static World, open: usize) {
    let visitors: Vec<String> = futures::future::join_all((0..=open).map(|_| w.visitor())).await;
    let (asking, others) = visitors.split_first().unwrap();
    let mut streams = Vec::new();
    for visitor in others {
        w.fake.push(hanging());
        let mut body = w.through_server(visitor).await.bytes_stream();
        body.next().await;
        streams.push(body);
    }
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        w.fake.push(Step::events(answer()));
        direct.push(first_token(w.direct(), "Hello").await);
        w.fake.push(Step::events(answer()));
        through.push(first_token(w.through_server(asking), "event: delta").await);
    }
    let (d50, t50) = (percentile(&mut direct, 0.5), percentile(&mut through, 0.5));
    println!(
        " 1 asking beside {open} open streams: fake alone p50 {d50:.2} ms p99 {:.2} ms | through the server p50 {t50:.2} ms p99 {:.2} ms | added p50 {:.2} ms",
        percentile(&mut direct, 0.99),
        percentile(&mut through, 0.99),
        t50 - d50
    );
    let closed = w.fake.closed_by_client();
    drop(streams);
    // The server aborts each upstream call as its listener goes.
    w.fake
        .wait_closed_by_client(closed + open, Duration::from_secs(10))
        .await;
}

async fn memory(w: &'static World) {
    let before = rss_kib();
    let mut direct = Vec::new();
    for _ in 0..OPEN_STREAMS {
        w.fake.push(hanging());
        let mut body = w.direct().await.bytes_stream();
        body.next().await;
        direct.push(body);
    }
    let with_fake_only = rss_kib();
    drop(direct);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let visitors: Vec<String> =
        futures::future::join_all((0..OPEN_STREAMS).map(|_| w.visitor())).await;
    let settled = rss_kib();
    let mut open = Vec::new();
    for visitor in &visitors {
        w.fake.push(hanging());
        let mut body = w.through_server(visitor).await.bytes_stream();
        body.next().await;
        open.push(body);
    }
    let with_server = rss_kib();
    let per = |kib: u64| kib as f64 / OPEN_STREAMS as f64;
    println!(
        "{OPEN_STREAMS} open streams: {:.1} KiB each through the server (client, server and fake), {:.1} KiB each client and fake alone",
        per(with_server.saturating_sub(settled)),
        per(with_fake_only.saturating_sub(before)),
    );
    drop(open);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let w: &'static World = Box::leak(Box::new(world().await));
        // Warm up: connections, caches, the NLU model.
        measure(w, 4).await;
        println!("--");
        measure(w, 1).await;
        measure_beside_open(w, 63).await;
        measure(w, 64).await;
        memory(w).await;
    });
}
