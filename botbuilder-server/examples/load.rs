//! HTTP load test against a running server: a bare `GET /healthz` baseline, then conversation
//! turns, each with `--connections` concurrent keep-alive clients for `--seconds`.
//!
//! The turn is the one of the in-process `turn` bench: a flow with a message and an intent
//! router over three intents, answered through `POST …/conversations/{session}/messages`
//! (authenticated, stored). Each client talks in its own session. Several `--url`s spread
//! the clients over several instances of one service (the first one seeds the data).
//!
//! ```sh
//! scripts/load-test            # builds, starts a server on a temp database, runs this
//! cargo run --release -p botbuilder-server --example load -- --url http://127.0.0.1:8080
//! ```
//!
//! The server needs a per-IP rate limit above the request rate
//! (`BOTBUILDER_RATE_LIMIT_PER_MINUTE`); the client shares the machine with the server.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

struct Options {
    /// The instance that seeds the data (the first `--url`).
    url: String,
    /// Every instance the clients spread over, round robin (every `--url`).
    instances: Vec<String>,
    connections: usize,
    seconds: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut opts = Options {
        url: "http://127.0.0.1:8080".to_owned(),
        instances: Vec::new(),
        connections: 64,
        seconds: 20,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => opts.instances.push(value.trim_end_matches('/').to_owned()),
            "--connections" => opts.connections = value.parse()?,
            "--seconds" => opts.seconds = value.parse()?,
            other => bail!("unknown option {other} (use --url, --connections, --seconds)"),
        }
    }
    match opts.instances.first() {
        Some(first) => opts.url = first.clone(),
        None => opts.instances.push(opts.url.clone()),
    }
    Ok(opts)
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let res = http
        .request(method, &url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = res.status();
    let text = res.text().await?;
    if !status.is_success() {
        bail!("{url}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Signs up, builds the bot, and opens one session per connection; returns the message URLs
/// and the access token.
async fn seed(http: &reqwest::Client, opts: &Options) -> anyhow::Result<(Vec<String>, String)> {
    let email = format!("load-{}@example.com", uuid::Uuid::now_v7());
    let signup: Value = http
        .post(format!("{}/api/v1/auth/register", opts.url))
        .json(&json!({ "email": email, "password": "load test password",
                       "name": "Load", "organization_name": "Load" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = signup["access_token"].as_str().context("token")?.to_owned();
    let org = signup["organization"]["id"].as_str().context("org")?;
    let bots = format!("{}/api/v1/orgs/{org}/bots", opts.url);
    let post = reqwest::Method::POST;
    let bot = call(
        http,
        post.clone(),
        bots.clone(),
        &token,
        json!({ "name": "Load" }),
    )
    .await?;
    let bot = format!("{bots}/{}", bot["id"].as_str().context("bot id")?);
    for (name, examples) in [
        (
            "hours",
            [
                "when are you open",
                "opening hours",
                "what time do you close",
            ],
        ),
        (
            "order",
            ["where is my order", "track my package", "order status"],
        ),
        ("hello", ["hi", "hello there", "good morning"]),
    ] {
        let body = json!({ "name": name, "examples": examples });
        call(http, post.clone(), format!("{bot}/intents"), &token, body).await?;
    }
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "hi", "type": "message", "data": { "text": "Hi {{name}}!" } },
            { "id": "route", "type": "intent_router", "data": {} },
            { "id": "hours", "type": "message", "data": { "text": "We open at 9." } },
            { "id": "other", "type": "message", "data": { "text": "Ask me about our hours." } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "hi" },
            { "id": "e2", "source": "hi", "target": "route" },
            { "id": "e3", "source": "route", "sourceHandle": "hours", "target": "hours" },
            { "id": "e4", "source": "route", "sourceHandle": "fallback", "target": "other" }
        ]
    });
    call(
        http,
        reqwest::Method::PUT,
        format!("{bot}/flow"),
        &token,
        flow,
    )
    .await?;
    call(
        http,
        post.clone(),
        format!("{bot}/flow/publish"),
        &token,
        json!({}),
    )
    .await?;
    let mut urls = Vec::with_capacity(opts.connections);
    for i in 0..opts.connections {
        let session = call(
            http,
            post.clone(),
            format!("{bot}/conversations"),
            &token,
            json!({}),
        )
        .await?;
        let id = session["session_id"].as_str().context("session id")?;
        // Each client talks to one instance; clients spread over the instances.
        let instance = &opts.instances[i % opts.instances.len()];
        let path = bot.strip_prefix(&opts.url).unwrap_or(&bot);
        urls.push(format!("{instance}{path}/conversations/{id}/messages"));
    }
    Ok((urls, token))
}

/// What one phase measured.
struct Report {
    ok: usize,
    errors: usize,
    /// The first failure seen (status and body, or the transport error).
    first_error: Option<String>,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i]
    }

    fn print(&self, name: &str) {
        let rate = self.ok as f64 / self.elapsed.as_secs_f64();
        println!(
            "{name:<10} {rate:>9.0} req/s   p50 {:>8.2} ms   p99 {:>8.2} ms   ok {}   errors {}",
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.ok,
            self.errors,
        );
        if let Some(error) = &self.first_error {
            println!("           first error: {error}");
        }
    }
}

/// Runs `connections` clients, each sending its request in a loop until the time is up.
async fn phase(requests: Vec<reqwest::RequestBuilder>, seconds: u64) -> Report {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = requests
        .into_iter()
        .map(|request| {
            tokio::spawn(async move {
                let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
                let mut first_error = None;
                while Instant::now() < deadline {
                    let Some(req) = request.try_clone() else {
                        break;
                    };
                    let t = Instant::now();
                    let failure = match req.send().await {
                        Ok(res) if res.status().is_success() => {
                            res.bytes().await.err().map(|e| e.to_string())
                        }
                        Ok(res) => {
                            let status = res.status();
                            Some(format!(
                                "{status}: {}",
                                res.text().await.unwrap_or_default()
                            ))
                        }
                        Err(e) => Some(e.to_string()),
                    };
                    match failure {
                        None => {
                            ok += 1;
                            latencies.push(t.elapsed());
                        }
                        Some(failure) => {
                            errors += 1;
                            first_error.get_or_insert(failure);
                        }
                    }
                }
                (ok, errors, latencies, first_error)
            })
        })
        .collect();
    let mut report = Report {
        ok: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for worker in workers {
        if let Ok((ok, errors, latencies, first_error)) = worker.await {
            report.ok += ok;
            report.errors += errors;
            report.first_error = report.first_error.or(first_error);
            report.latencies.extend(latencies);
        }
    }
    report.elapsed = started.elapsed();
    report.latencies.sort();
    report
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = options()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.connections)
        .build()?;
    let (urls, token) = seed(&http, &opts).await?;
    println!(
        "{} connections, {} s per phase, against {}",
        opts.connections,
        opts.seconds,
        opts.instances.join(" + ")
    );
    let health: Vec<_> = (0..opts.connections)
        .map(|i| {
            let instance = &opts.instances[i % opts.instances.len()];
            http.get(format!("{instance}/healthz"))
        })
        .collect();
    phase(health, opts.seconds).await.print("healthz");
    let turns: Vec<_> = urls
        .iter()
        .map(|url| {
            http.post(url)
                .bearer_auth(&token)
                .json(&json!({ "text": "when are you open?" }))
        })
        .collect();
    phase(turns, opts.seconds).await.print("turn");
    Ok(())
}
