//! SIGTERM stops the server within its grace period whatever it is doing: a document being
//! parsed in a reader process (killed with the server), a large one being chunked, a client
//! that never finishes its request. (Run alone; see `.config/nextest.toml`.)

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use botbuilder_core::testing::documents::html_nested;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use support::{botbuilder, serve};

/// Processes whose program (argv\[0\]) is `program`.
fn processes_running(program: &Path) -> Vec<u32> {
    let wanted = program.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                    let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                    let argv0 = cmdline.split(|b| *b == 0).next()?;
                    (argv0 == wanted).then_some(pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Uploads `bytes` as the multipart file `name`; returns the document.
async fn upload(http: &reqwest::Client, url: &str, token: &str, name: &str, bytes: &[u8]) -> Value {
    const BOUNDARY: &str = "shutdown-test-boundary";
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let res = http
        .post(url)
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_within_the_grace_period_whatever_is_ingesting() {
    let dir = tempfile::tempdir().unwrap();
    // The reader runs under a name of its own, so the test can find its processes.
    let reader = dir
        .path()
        .join(format!("reader-{}", uuid::Uuid::now_v7().simple()));
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_botbuilder"), &reader).unwrap();
    let grace = Duration::from_secs(2);
    let mut cmd = botbuilder(dir.path());
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "BOTBUILDER_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bb.db").display()),
        )
        .env("BOTBUILDER_EXTRACT_PROGRAM", &reader)
        .env("BOTBUILDER_EXTRACT_TIMEOUT_SECS", "600")
        .env(
            "BOTBUILDER_SHUTDOWN_GRACE_SECS",
            grace.as_secs().to_string(),
        );
    let served = serve(cmd);
    let http = reqwest::Client::new();
    let base = served.url.clone();

    let signup: Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({
            "email": "stop@example.com", "password": "correct horse battery staple",
            "name": "Stop", "organization_name": "Stop"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let org = signup["organization"]["id"].as_str().unwrap();
    let kb: Value = http
        .post(format!("{base}/api/v1/orgs/{org}/knowledge-bases"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Busy" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let docs = format!(
        "{base}/api/v1/orgs/{org}/knowledge-bases/{}/documents",
        kb["id"].as_str().unwrap()
    );
    // A page that keeps a reader busy, and a long line that keeps the chunker busy.
    let deep = upload(&http, &docs, &token, "deep.html", &html_nested(400_000)).await;
    upload(&http, &docs, &token, "line.txt", &vec![b'y'; 20 << 20]).await;
    let deep_url = format!("{docs}/{}", deep["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_running(&reader).is_empty() {
        assert!(Instant::now() < deadline, "the reader never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status: Value = http
        .get(&deep_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "processing", "{status}");
    // A client that sends half a request and then nothing.
    let mut stalled = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stalled
        .write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"email\":")
        .await
        .unwrap();

    let mut served = served;
    let stopping = Instant::now();
    served.signal_terminate();
    let exited = tokio::task::spawn_blocking(move || {
        let status = served.child.wait().unwrap();
        (status, stopping.elapsed())
    });
    let (status, took) = tokio::time::timeout(Duration::from_secs(60), exited)
        .await
        .expect("the server exited")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        took < grace + Duration::from_secs(3),
        "stopped in {took:?} with a grace period of {grace:?}"
    );
    // No reader outlives the server.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_running(&reader).is_empty() {
        assert!(
            Instant::now() < deadline,
            "a reader process outlived the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stalled);
}
