//! The `botbuilder` binary: help, defaults, production refusal, migrate, admin, graceful stop.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{botbuilder, lines_of, serve};

use botbuilder_server::config::PartialSettings;

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request")
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["demo", "--help"],
        vec!["admin", "create-user", "--help"],
        vec!["chat", "--help"],
        vec!["kb", "ingest", "--help"],
        vec!["config", "print-default", "--help"],
    ] {
        let out = botbuilder(dir.path()).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
}

#[test]
fn print_default_is_a_valid_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = botbuilder(dir.path())
        .args(["config", "print-default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed = PartialSettings::from_toml(&text).unwrap();
    assert_eq!(parsed.bind.unwrap().to_string(), "127.0.0.1:8080");
    assert!(
        !dir.path().join("botbuilder-secrets.toml").exists(),
        "no side effects"
    );
}

#[test]
fn production_refuses_to_start_without_strong_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = botbuilder(dir.path())
        .env("BOTBUILDER_ENV", "production")
        .env("BOTBUILDER_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BOTBUILDER_JWT_SECRET"), "{err}");
    let weak = botbuilder(dir.path())
        .env("BOTBUILDER_ENV", "production")
        .env("BOTBUILDER_BIND", "127.0.0.1:0")
        .env("BOTBUILDER_JWT_SECRET", "changeme")
        .env("BOTBUILDER_MASTER_KEY", "AAAA")
        .output()
        .unwrap();
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("weak secrets"));
}

/// With no settings at all: 127.0.0.1:8080, ./botbuilder.db, generated secrets; SIGTERM
/// stops it cleanly.
#[tokio::test]
async fn serves_on_the_defaults_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(botbuilder(dir.path()));
    assert_eq!(served.url, "http://127.0.0.1:8080");
    let health = get(&format!("{}/readyz", served.url)).await;
    assert_eq!(health.status(), 200);
    assert!(dir.path().join("botbuilder.db").exists());
    assert!(dir.path().join("botbuilder-secrets.toml").exists());
    let (status, log) = served.terminate();
    assert!(status.success(), "exit {status:?}: {log}");
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test]
async fn toml_file_env_and_flags_layer_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("botbuilder.toml"),
        "bind = \"127.0.0.1:1\"\ndatabase_url = \"sqlite://from-file.db\"\n",
    )
    .unwrap();
    let mut cmd = botbuilder(dir.path());
    cmd.env("BOTBUILDER_BIND", "127.0.0.1:2")
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let served = serve(cmd);
    assert!(served.url.starts_with("http://127.0.0.1:") && !served.url.ends_with(":2"));
    assert!(
        dir.path().join("from-file.db").exists(),
        "the file layer applies"
    );
    served.terminate();
}

#[tokio::test]
async fn migrate_and_admin_create_user_prepare_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = "sqlite://admin.db";
    let migrate = botbuilder(dir.path())
        .args(["migrate", "--database-url", db])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let create = botbuilder(dir.path())
        .args([
            "admin",
            "create-user",
            "--email",
            "root@example.com",
            "--org-name",
            "Ops",
            "--database-url",
            db,
        ])
        .env("BOTBUILDER_ADMIN_PASSWORD", "a long admin password")
        .output()
        .unwrap();
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );

    let mut cmd = botbuilder(dir.path());
    cmd.env("BOTBUILDER_DATABASE_URL", db)
        .env("BOTBUILDER_BIND", "127.0.0.1:0");
    let served = serve(cmd);
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", served.url))
        .json(&serde_json::json!({ "email": "root@example.com", "password": "a long admin password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let body: serde_json::Value = login.json().await.unwrap();
    assert_eq!(body["organizations"][0]["name"], "Ops");
    assert_eq!(body["organizations"][0]["role"], "owner");
    served.terminate();
}

/// The README's `curl` tour, run as written against a fresh server.
#[tokio::test]
async fn readme_tour_works_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let tour = readme
        .split("<!-- tour:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- tour:end -->").next())
        .expect("tour markers in README.md");
    let script: String = tour
        .lines()
        .filter(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(script.contains("BB=http://127.0.0.1:8080"));

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = botbuilder(dir.path());
    cmd.env("BOTBUILDER_BIND", "127.0.0.1:0");
    let served = serve(cmd);
    let script = script.replace("BB=http://127.0.0.1:8080", &format!("BB={}", served.url));
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tour failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"Support bot\""), "{stdout}");
    served.terminate();
}

#[tokio::test]
async fn chat_talks_to_a_bot_in_the_terminal() {
    use botbuilder_core::domain::{NewBot, NewOrganization, NewUser};
    use botbuilder_core::flow::Flow;
    use botbuilder_core::store::prelude::*;
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let store = botbuilder_store::SqliteStore::connect(&url).await.unwrap();
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "c@example.com".into(),
                name: "C".into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: "C".into() },
        )
        .await
        .unwrap();
    let bot = store
        .create_bot(
            org.id,
            NewBot {
                name: "Echo".into(),
                ..NewBot::default()
            },
        )
        .await
        .unwrap();
    let flow = Flow::parse(serde_json::json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "q", "type": "ask", "data": { "prompt": "Name?", "variable": "name",
                "buttons": [{ "title": "Ada", "payload": "Ada" }] } },
            { "id": "hi", "type": "message", "data": { "text": "Hello {{name}}!" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "q" },
            { "id": "e2", "source": "q", "sourceHandle": "valid", "target": "hi" }
        ]
    }))
    .unwrap();
    store.publish_flow(org.id, bot.id, flow).await.unwrap();
    store.close().await;

    let mut child = botbuilder(dir.path())
        .args(["chat", "--bot", &bot.id.to_string(), "--database-url", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hi\nGrace\n/quit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Talking to Echo"), "{stdout}");
    assert!(
        stdout.contains("Echo: Name?") && stdout.contains("[Ada]"),
        "{stdout}"
    );
    assert!(stdout.contains("Echo: Hello Grace!"), "{stdout}");

    let unknown = botbuilder(dir.path())
        .args([
            "chat",
            "--bot",
            &uuid::Uuid::now_v7().to_string(),
            "--database-url",
            &url,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

/// `botbuilder kb ingest` adds a folder to a knowledge base and ingests it: supported files
/// become searchable, others are listed as skipped, a second run leaves unchanged files alone,
/// and a document that fails makes the command fail.
#[tokio::test]
async fn kb_ingest_adds_a_folder_and_reports_what_it_did() {
    use botbuilder_core::domain::{NewOrganization, NewUser};
    use botbuilder_core::knowledge::{KnowledgeService, SearchMode, SearchRequest};
    use botbuilder_core::store::prelude::*;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let store = Arc::new(botbuilder_store::SqliteStore::connect(&url).await.unwrap());
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "k@example.com".into(),
                name: "K".into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: "K".into() },
        )
        .await
        .unwrap();
    let knowledge = KnowledgeService::new(
        store.clone(),
        store.clone(),
        Arc::new(botbuilder_providers::local::LocalEmbedder::default()),
    );
    let kb = knowledge
        .create_knowledge_base(org.id, "Handbook".into(), String::new())
        .await
        .unwrap();
    let docs = dir.path().join("handbook");
    std::fs::create_dir_all(docs.join("policies")).unwrap();
    std::fs::write(
        docs.join("welcome.md"),
        "# Welcome\n\nThe office opens at eight.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("policies/leave.txt"),
        "Holiday requests go to your manager two weeks ahead.",
    )
    .unwrap();
    std::fs::write(docs.join("logo.png"), b"\x89PNG").unwrap();
    std::fs::write(docs.join(".hidden.md"), "secret").unwrap();
    let run = |paths: &[&std::path::Path]| {
        let mut cmd = botbuilder(dir.path());
        cmd.args([
            "kb",
            "ingest",
            "--kb",
            &kb.id.to_string(),
            "--database-url",
            &url,
        ]);
        cmd.args(paths);
        cmd.output().unwrap()
    };

    let out = run(&[&docs]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Handbook: 2 ready, 0 failed, 0 unchanged, 1 skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("logo.png: unsupported file type"),
        "{stdout}"
    );
    assert!(!stdout.contains("hidden"), "{stdout}");
    let hits = knowledge
        .search(
            org.id,
            &[kb.id],
            &SearchRequest {
                query: "holiday requests".into(),
                mode: SearchMode::Keyword,
                top_k: 1,
                min_score: 0.0,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        hits[0].document_title, "handbook/policies/leave.txt",
        "its path from the folder given"
    );

    // Again: nothing new. A damaged PDF fails the run, with its reason.
    std::fs::write(docs.join("broken.pdf"), "%PDF-1.4 not really").unwrap();
    let out = run(&[&docs]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Handbook: 0 ready, 1 failed, 2 unchanged, 1 skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("broken.pdf: the document cannot be read"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 document(s) failed"));

    let unknown = botbuilder(dir.path())
        .args([
            "kb",
            "ingest",
            "--kb",
            &uuid::Uuid::now_v7().to_string(),
            "--database-url",
            &url,
        ])
        .arg(&docs)
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no knowledge base"));
}

/// `botbuilder demo` seeds a bot answering from the README, and the commands it prints work
/// as printed: the answer comes with a citation, offline.
#[test]
fn the_demo_answers_as_it_says_with_a_citation() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = botbuilder(dir.path())
        .args(["demo", "--bind", "127.0.0.1:0"])
        .env(
            "BOTBUILDER_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("demo.db").display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn botbuilder demo");
    let lines = lines_of(child.stdout.take().unwrap());
    let mut printed = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .expect("the demo printed its instructions");
        let done = line.contains("jq '.replies[0]");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    assert!(text.contains("demo@example.com / demo-password"), "{text}");
    let script: Vec<&str> = printed
        .iter()
        .skip_while(|l| !l.starts_with("ask it"))
        .skip(1)
        .map(|l| l.trim_start())
        .collect();
    let out = Command::new("bash")
        .args(["-c", &script.join("\n")])
        .output()
        .expect("run the printed commands");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(kill.is_ok_and(|s| s.success()));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let text = answer["text"].as_str().unwrap();
    assert!(text.contains("offline") && text.ends_with(']'), "{answer}");
    let cited = &answer["citations"][0];
    assert!(
        cited["title"] == "README" || cited["title"] == "FAQ",
        "a citation of one of the demo's documents: {answer}"
    );
    assert!(cited["chunk_id"].is_string() && cited["document_id"].is_string());
}
