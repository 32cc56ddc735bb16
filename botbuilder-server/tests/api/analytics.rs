//! A bot's analytics over HTTP: a conversation over web chat shows in the totals and in its
//! bucket, and a bad window is a 400 naming the parameter.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, email, handoff_bot, visitor_token};

#[tokio::test]
async fn a_conversation_shows_in_the_totals_and_its_bucket() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("analytics")).await;
    let org = owner.org_id.clone();
    let bot = handoff_bot(&app, &owner, "Connecting you to a person.").await;
    let visitor = visitor_token(&app, &bot).await;
    let said = app
        .post(
            &format!("/api/v1/webchat/{bot}/messages"),
            &visitor,
            json!({ "text": "hello" }),
        )
        .await;
    assert_eq!(said.status, StatusCode::OK, "{}", said.text);

    let base = format!("/api/v1/orgs/{org}/bots/{bot}/analytics");
    let week = app.get(&base, &owner.token).await;
    assert_eq!(week.status, StatusCode::OK, "{}", week.text);
    let totals = &week.json["totals"];
    assert_eq!(totals["conversations"], 1);
    assert_eq!(totals["messages_in"], 1);
    assert_eq!(totals["messages_out"], 1);
    assert_eq!(totals["unique_users"], 1);
    assert_eq!(totals["handoffs"], 1, "the reply started a handoff");
    assert_eq!(totals["handoff_rate"], 1.0);
    assert_eq!(totals["classified_messages"], 0, "the bot has no intents");
    assert_eq!(totals["fallbacks"], 0);
    assert_eq!(
        totals["fallback_rate"],
        serde_json::Value::Null,
        "nothing to count"
    );
    assert!(totals["median_response_ms"].is_f64(), "{totals}");
    assert_eq!(week.json["interval"], "day");
    let series = week.json["series"].as_array().unwrap();
    assert_eq!(series.len(), 7, "a week with today, by day");
    assert!(
        series
            .iter()
            .all(|b| b["start"].as_str().unwrap().ends_with("T00:00:00Z"))
    );
    // The day it happened (today, or yesterday if midnight passed meanwhile) holds it.
    let days: Vec<u64> = series
        .iter()
        .map(|b| b["conversations"].as_u64().unwrap())
        .collect();
    assert_eq!(days.iter().sum::<u64>(), 1, "{days:?}");
    assert!(days[5] + days[6] == 1, "{days:?}");

    let until_only = app
        .get(&format!("{base}?until=2026-01-01"), &owner.token)
        .await;
    assert_eq!(until_only.status, StatusCode::OK, "{}", until_only.text);
    assert_eq!(
        until_only.json["since"], "2025-12-26T00:00:00Z",
        "a week up to until"
    );
    let hours = app
        .get(
            &format!("{base}?interval=hour&since=2000-01-01T00:00:00Z&until=2000-01-02"),
            &owner.token,
        )
        .await;
    assert_eq!(hours.status, StatusCode::OK, "{}", hours.text);
    assert_eq!(hours.json["series"].as_array().unwrap().len(), 24);
    assert_eq!(hours.json["totals"]["conversations"], 0);
    assert_eq!(
        hours.json["totals"]["fallback_rate"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn a_bad_window_names_its_parameter_and_an_unknown_bot_is_not_found() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("analytics-bad")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Counted").await;
    let base = format!("/api/v1/orgs/{org}/bots/{bot}/analytics");
    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=2026-11-02&until=2026-11-01", "until"),
        (
            "since=2025-01-01&until=2026-01-01&interval=hour",
            "interval",
        ),
        ("interval=week", "interval"),
    ] {
        let res = app.get(&format!("{base}?{query}"), &owner.token).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}: {}", res.text);
        assert_eq!(
            res.error_fields(),
            vec![field.to_owned()],
            "{query}: {}",
            res.text
        );
    }
    let unknown = format!("/api/v1/orgs/{org}/bots/{}/analytics", uuid::Uuid::now_v7());
    assert_eq!(
        app.get(&unknown, &owner.token).await.status,
        StatusCode::NOT_FOUND
    );
}
