//! `kill -9` of a server process during 1,000 concurrent message writes loses nothing it
//! acknowledged: after a restart on the same database, every message answered with a 2xx is
//! in the transcript, on SQLite and on Postgres. The server runs as a real child process (this
//! test binary, started again with the database in its environment), so the kill is a real
//! one.

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings};
use botbuilder_store::postgres::testing::fresh_database;
use serde_json::{Value, json};
use support::http::{create_bot, publish_flow, register};
use tokio::sync::Mutex;

/// Set in the child: the database it serves.
const CHILD_DATABASE: &str = "BOTBUILDER_TEST_CHILD_DATABASE";
/// What the child prints before its address.
const LISTENING: &str = "CHILD-LISTENING ";
/// The test that, started with [`CHILD_DATABASE`] set, serves as the child.
const CHILD_ENTRY: &str = "acknowledged_messages_survive_a_kill_9_of_the_server_on_sqlite";

/// In the child: serves `database_url` until killed, or until its parent is gone (its stdin
/// closes), so a dead test leaves no server behind.
async fn serve_as_child(database_url: &str) {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        #[allow(clippy::exit)] // the child's only way out once its parent is gone
        std::process::exit(0);
    });
    let mut settings = Settings::for_tests(database_url);
    // All 1,000 writes come from one address.
    settings.edge.max_connections_per_ip = 0;
    let state = AppState::from_settings_with_cost(&settings, HashCost::INSECURE_FOR_TESTS)
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{LISTENING}http://{}", listener.local_addr().unwrap());
    botbuilder_server::serve(listener, state, std::future::pending())
        .await
        .unwrap();
}

/// A child server, killed (`SIGKILL`) when dropped, so a failing test leaves none behind.
struct Server(Child);

impl Server {
    fn kill_9(&mut self) {
        let _already_gone = self.0.kill();
        self.0.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Starts this test binary again as a server on `database_url`; returns it and its address.
fn spawn_server(database_url: &str) -> (Server, String) {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_ENTRY, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DATABASE, database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        // libtest may print the test's name on the same line first.
        if let Some((_, url)) = line.split_once(LISTENING) {
            let url = url.trim().to_owned();
            // Keep reading what the child prints, so its writes never fail.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            return (server, url);
        }
        line.clear();
    }
    panic!("the child server exited before listening");
}

#[tokio::test]
async fn acknowledged_messages_survive_a_kill_9_of_the_server_on_sqlite() {
    if let Ok(database_url) = std::env::var(CHILD_DATABASE) {
        serve_as_child(&database_url).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    kill_9_during_writes(&support::sqlite_url(&dir)).await;
}

#[tokio::test]
async fn acknowledged_messages_survive_a_kill_9_of_the_server_on_postgres() {
    let test = "acknowledged_messages_survive_a_kill_9_of_the_server_on_postgres";
    if let Some(database_url) = fresh_database(test).await {
        kill_9_during_writes(&database_url).await;
    }
}

/// Kills a server on `database_url` during 1,000 message writes, restarts it, and looks for
/// every acknowledged message.
async fn kill_9_during_writes(database_url: &str) {
    let (mut server, base) = spawn_server(database_url);
    let http = reqwest::Client::new();
    let tenant = register(&http, &base, "crash@example.com").await;
    let token = tenant.token.clone();
    let bot_id = create_bot(&http, &base, &tenant, "echo").await;
    let bot = format!("/api/v1/orgs/{}/bots/{bot_id}", tenant.org);
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "ask", "type": "ask", "data": { "prompt": "Say something", "variable": "said" } },
            { "id": "again", "type": "message", "data": { "text": "Noted." } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "ask" },
            { "id": "e2", "source": "ask", "target": "again" },
            { "id": "e3", "source": "again", "target": "ask" }
        ]
    });
    publish_flow(&http, &base, &tenant, &bot_id, &flow).await;
    let mut sessions = Vec::new();
    for i in 0..200 {
        let opened: Value = http
            .post(format!("{base}{bot}/conversations"))
            .bearer_auth(&token)
            .json(&json!({ "user": format!("user-{i}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sessions.push(opened["session_id"].as_str().unwrap().to_owned());
    }

    // 1,000 messages at once, five per conversation; the server dies part way through.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writes: Vec<_> = (0..1000)
        .map(|i| {
            let (http, token, acknowledged) = (http.clone(), token.clone(), acknowledged.clone());
            let killed = killed.clone();
            let session = sessions[i % sessions.len()].clone();
            let url = format!("{base}{bot}/conversations/{session}/messages");
            tokio::spawn(async move {
                let text = format!("message {i}");
                let sent = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "text": text }))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        if response.bytes().await.is_ok() {
                            acknowledged.lock().await.push((session, text));
                        }
                    }
                    // Refusals before the kill would make this test prove nothing.
                    Ok(response) => panic!(
                        "{}: {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    ),
                    // Only the kill may break a request.
                    Err(e) => assert!(
                        killed.load(std::sync::atomic::Ordering::SeqCst),
                        "a write failed before the kill: {e}"
                    ),
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().await.len() < 150 {
        assert!(
            std::time::Instant::now() < deadline,
            "150 writes were not acknowledged within a minute"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    killed.store(true, std::sync::atomic::Ordering::SeqCst);
    server.kill_9();
    for write in writes {
        write.await.unwrap();
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().await);
    assert!(
        acknowledged.len() < 1000,
        "the server was killed before answering everything"
    );

    let (mut server, base) = spawn_server(database_url);
    let mut stored = HashSet::new();
    for session in &sessions {
        let transcript: Value = http
            .get(format!(
                "{base}{bot}/conversations/{session}/messages?limit=100"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for message in transcript["items"].as_array().unwrap() {
            if message["direction"] == "inbound" {
                let text = message["text"].as_str().unwrap().to_owned();
                stored.insert((session.clone(), text));
            }
        }
    }
    server.kill_9();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|m| !stored.contains(*m))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        lost.first()
    );
    println!(
        "{} of 1000 writes acknowledged before the kill; all {} found after the restart",
        acknowledged.len(),
        acknowledged.len()
    );
}
