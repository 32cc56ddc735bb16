//! The database goes away mid-run (its connections closed and its port refusing new ones, as
//! during a Postgres restart) and comes back: requests answer 503 with a problem document while it is
//! gone, `/readyz` says `unavailable`, and the instance recovers by itself.

mod support;

use std::time::{Duration, Instant};

use botbuilder_server::Settings;
use botbuilder_store::postgres::testing::fresh_database;
use reqwest::StatusCode;
use serde_json::Value;
use support::http::{bots_status, register, serve};
use support::outage::{Outage, server_of};

#[tokio::test]
async fn a_postgres_outage_answers_503_and_the_instance_recovers_by_itself() {
    let test = "a_postgres_outage_answers_503_and_the_instance_recovers_by_itself";
    let Some(database) = fresh_database(test).await else {
        return;
    };
    let proxy = Outage::start(server_of(&database)).await;
    let settings = Settings::for_tests(proxy.rewrite(&database));
    let base = serve(&settings, botbuilder_core::change::POLL_INTERVAL).await;
    let http = reqwest::Client::new();
    let tenant = register(&http, &base, "outage@example.com").await;
    assert_eq!(
        bots_status(&http, &base, &tenant, &tenant.token).await,
        StatusCode::OK
    );

    proxy.go_down().await;
    let started = Instant::now();
    let bots = format!("{base}/api/v1/orgs/{}/bots", tenant.org);
    let response = http
        .get(&bots)
        .bearer_auth(&tenant.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 503 comes within the pool's acquire timeout (5 s): {:?}",
        started.elapsed()
    );
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "unavailable", "{body}");

    proxy.come_back().await;
    let started = Instant::now();
    while bots_status(&http, &base, &tenant, &tenant.token).await != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the instance did not take the database back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}
