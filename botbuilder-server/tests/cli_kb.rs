//! The operator's commands beside a running server: `kb create|list|ingest` find the database
//! `serve` uses (the same `botbuilder.toml`) and work while it runs; `chat` shows the sources
//! it cites and answers `/help`; logs to a pipe carry no colour codes.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::{botbuilder, serve};

fn run(cmd: &mut std::process::Command) -> (String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("run botbuilder");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_commands_share_the_servers_database_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("botbuilder.toml"),
        "database_url = \"sqlite://ops.db\"\nbind = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let (created, _) = run(botbuilder(dir.path()).args([
        "admin",
        "create-user",
        "--email",
        "ops@example.com",
        "--password",
        "correct horse battery staple",
        "--org-name",
        "Ops",
    ]));
    let org = created
        .split("organization Ops (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the org id is printed")
        .to_owned();
    let (kb, _) =
        run(botbuilder(dir.path()).args(["kb", "create", "--org", &org, "--name", "Handbook"]));
    let kb = kb.trim().to_owned();
    assert_eq!(kb.len(), 36, "{kb}");

    let served = serve(botbuilder(dir.path()));
    let docs = dir.path().join("handbook");
    std::fs::create_dir(&docs).unwrap();
    for i in 0..5 {
        std::fs::write(
            docs.join(format!("page{i}.md")),
            format!("# Page {i}\n\nHolidays are requested {i} weeks ahead.\n"),
        )
        .unwrap();
    }
    let (report, _) = run(botbuilder(dir.path())
        .args(["kb", "ingest", "--kb", &kb])
        .arg(&docs));
    assert!(report.contains("5 ready"), "{report}");
    let (listed, _) = run(botbuilder(dir.path()).args(["kb", "list", "--org", &org]));
    assert!(
        listed.contains(&kb) && listed.contains("5 documents") && listed.contains("Handbook"),
        "{listed}"
    );

    // The server sees them too.
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", served.url))
        .json(&serde_json::json!({ "email": "ops@example.com", "password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documents: serde_json::Value = http
        .get(format!(
            "{}/api/v1/orgs/{org}/knowledge-bases/{kb}/documents",
            served.url
        ))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        documents["items"].as_array().unwrap().len(),
        5,
        "{documents}"
    );
    let home = http.get(format!("{}/", served.url)).send().await.unwrap();
    assert!(
        home.text().await.unwrap().contains("/assets/"),
        "the console's page, loading its bundles"
    );
    let (status, log) = served.terminate();
    assert!(status.success());
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes in a piped log: {log:?}"
    );
}

#[tokio::test]
async fn chat_shows_the_sources_it_cites_and_helps() {
    use botbuilder_core::domain::{AiConfig, NewBot, NewOrganization, NewUser};
    use botbuilder_core::store::prelude::*;

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
    store.close().await;
    let org = org.id.to_string();
    let (kb, _) = run(botbuilder(dir.path()).args([
        "kb",
        "create",
        "--org",
        &org,
        "--name",
        "Shop",
        "--database-url",
        &url,
    ]));
    let kb = kb.trim().to_owned();
    let docs = dir.path().join("shop");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(
        docs.join("refunds.md"),
        "# Refund policy\n\n## Timing\n\nRefunds are paid within five days of the return.\n",
    )
    .unwrap();
    run(botbuilder(dir.path())
        .args(["kb", "ingest", "--kb", &kb, "--database-url", &url])
        .arg(&docs));
    let store = botbuilder_store::SqliteStore::connect(&url).await.unwrap();
    let bot = store
        .create_bot(
            org.parse().unwrap(),
            NewBot {
                name: "Shopbot".into(),
                ai_config: AiConfig {
                    knowledge_base_ids: vec![kb.parse().unwrap()],
                    ..AiConfig::default()
                },
                ..NewBot::default()
            },
        )
        .await
        .unwrap();
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
        .write_all(b"/help\nhow many days until refunds are paid?\n/quit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("/new") && stdout.contains("/quit"),
        "help: {stdout}"
    );
    assert!(
        stdout.contains("Shopbot: Refunds are paid within five days"),
        "{stdout}"
    );
    assert!(
        stdout.contains("   [1] Refund policy\n"),
        "the cited source by title: {stdout}"
    );
}

/// `kb ingest` embeds a knowledge base that chose its organization's own embedding server
/// with that server (its credentials opened with the development master key); without the
/// key, it fails clearly rather than embed elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_ingest_embeds_with_the_organizations_own_credentials() {
    use botbuilder_providers::testing::{FakeServer, Step};
    let fake = FakeServer::start().await;
    fake.otherwise(Step::Embeddings { dimensions: 16 });
    let allow = fake.addr().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("botbuilder.toml"),
        "database_url = \"sqlite://own.db\"\nbind = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let mut command = botbuilder(dir.path());
    command.env("BOTBUILDER_FETCH_ALLOW", &allow);
    let served = serve(command);
    let http = reqwest::Client::new();
    let account: serde_json::Value = http
        .post(format!("{}/api/v1/auth/register", served.url))
        .json(&serde_json::json!({ "email": "own@example.com",
            "password": "correct horse battery staple", "name": "O", "organization_name": "Own" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = account["access_token"].as_str().unwrap();
    let org = account["organization"]["id"].as_str().unwrap();
    let put = http
        .put(format!(
            "{}/api/v1/orgs/{org}/provider-credentials/openai-compatible",
            served.url
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({ "base_url": format!("{}/v1", fake.url()) }))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let kb: serde_json::Value = http
        .post(format!("{}/api/v1/orgs/{org}/knowledge-bases", served.url))
        .bearer_auth(token)
        .json(&serde_json::json!({ "name": "Own", "embedding": {
            "provider": "openai-compatible", "model": "nomic-embed-text", "dimensions": 16 } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kb = kb["id"].as_str().expect("a knowledge base").to_owned();
    let (status, _) = served.terminate();
    assert!(status.success());

    let page = dir.path().join("holidays.md");
    std::fs::write(
        &page,
        "# Holidays\n\nHolidays are requested two weeks ahead.\n",
    )
    .unwrap();
    let (report, _) = run(botbuilder(dir.path())
        .env("BOTBUILDER_FETCH_ALLOW", &allow)
        .args(["kb", "ingest", "--kb", &kb])
        .arg(&page));
    assert!(report.contains("1 ready"), "{report}");
    let embedded = fake.requests();
    assert!(!embedded.is_empty());
    assert!(
        embedded
            .iter()
            .all(|r| r.json()["model"] == "nomic-embed-text")
    );

    // Without the master key the stored credentials stay shut: the document fails with the
    // reason, and nothing is embedded elsewhere.
    std::fs::remove_file(dir.path().join("botbuilder-secrets.toml")).unwrap();
    let other = dir.path().join("expenses.md");
    std::fs::write(&other, "# Expenses\n\nExpenses are paid monthly.\n").unwrap();
    let out = botbuilder(dir.path())
        .env("BOTBUILDER_FETCH_ALLOW", &allow)
        .args(["kb", "ingest", "--kb", &kb])
        .arg(&other)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("credentials_unreadable"), "{said}");
    assert_eq!(fake.requests().len(), embedded.len(), "embedded elsewhere");
    assert!(
        !dir.path().join("botbuilder-secrets.toml").exists(),
        "no key is made up"
    );
}
