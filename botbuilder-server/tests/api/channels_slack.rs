//! A bot on Slack end to end against a fake Web API: URL verification, v0 signatures with
//! the five-minute window, a mention answered in its thread with Block Kit buttons, a click
//! at the interactivity endpoint (form-encoded) moving the flow on, Slack's retries
//! deduplicated, the bot's own messages ignored, a rate-limited post retried after
//! `Retry-After`, and an agent's reply reaching the thread.

use std::time::Duration;

use botbuilder_channels::slack::SlackInbound;
use botbuilder_channels::testing::FakeSlack;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, email};
use crate::conversations::build_bot;

const TOKEN: &str = "xoxb-fake-bot-token";
const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// How long a reply may take under a loaded CI machine (a bound, not a measurement).
const WAIT: Duration = Duration::from_secs(30);

async fn post(
    app: &TestApp,
    channel: &str,
    body: &str,
    form: bool,
    at: i64,
    extra: &[(&str, &str)],
) -> StatusCode {
    let signature = SlackInbound::new(SIGNING).signature(&at.to_string(), body.as_bytes());
    let content_type = if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let mut req = app
        .http
        .post(app.url(&format!("/hooks/slack/{channel}")))
        .header("content-type", content_type)
        .header("X-Slack-Request-Timestamp", at.to_string())
        .header("X-Slack-Signature", signature)
        .body(body.to_owned());
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    req.send().await.expect("hook").status()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn event(id: &str, event: Value) -> String {
    json!({ "token": "z", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": id, "event_time": now(), "event": event })
    .to_string()
}

fn click(value: &str, thread: &str, at: &str) -> String {
    let payload = json!({ "type": "block_actions", "user": { "id": "U1", "name": "ann" }, "channel": { "id": "C1" },
        "trigger_id": "t", "response_url": "https://hooks.slack.com/actions/x",
        "message": { "ts": "1700000000.000001", "thread_ts": thread },
        "actions": [{ "action_id": "choice_0", "value": value, "type": "button",
                      "text": { "type": "plain_text", "text": value }, "action_ts": at }] });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

#[tokio::test]
async fn a_flow_with_buttons_and_a_handoff_works_on_slack() {
    let fake = FakeSlack::start(TOKEN).await;
    let app = TestApp::spawn_with(|s| s.fetch_allow.push(fake.addr())).await;
    let owner = app.register(&email("slack")).await;
    let bot = build_bot(&app, &owner).await;
    let connected = app
        .post(
            &format!("/api/v1/orgs/{}/bots/{bot}/channels", owner.org_id),
            &owner.token,
            json!({ "type": "slack", "config": { "bot_token": TOKEN, "signing_secret": SIGNING, "api_base_url": fake.url() } }),
        )
        .await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.text);
    assert_eq!(connected.json["status"], "connected");
    let id = connected.json["id"].as_str().unwrap().to_owned();

    // URL verification.
    let challenge = json!({ "token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" }).to_string();
    let answered = app
        .http
        .post(app.url(&format!("/hooks/slack/{id}")))
        .header("content-type", "application/json")
        .header("X-Slack-Request-Timestamp", now().to_string())
        .header(
            "X-Slack-Signature",
            SlackInbound::new(SIGNING).signature(&now().to_string(), challenge.as_bytes()),
        )
        .body(challenge)
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(
        answered.text().await.unwrap(),
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let mention = event(
        "Ev1",
        json!({ "type": "app_mention", "user": "U1", "text": "<@UBOT> hello",
                                       "ts": "1700000000.000100", "channel": "C1" }),
    );
    // Too old (a replay) or badly signed: refused, nothing posted.
    assert_eq!(
        post(&app, &id, &mention, false, now() - 301, &[]).await,
        StatusCode::UNAUTHORIZED
    );
    let forged = app
        .http
        .post(app.url(&format!("/hooks/slack/{id}")))
        .header("X-Slack-Request-Timestamp", now().to_string())
        .header("X-Slack-Signature", "v0=0000")
        .body(mention.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // Answered in the mention's thread, with buttons; a rate-limited first post is retried.
    fake.rate_limit_next(1);
    assert_eq!(
        post(&app, &id, &mention, false, now(), &[]).await,
        StatusCode::OK
    );
    let posted = fake.wait_for_posted(1, WAIT).await;
    assert_eq!(posted[0]["channel"], "C1");
    assert_eq!(posted[0]["thread_ts"], "1700000000.000100");
    assert_eq!(
        posted[0]["blocks"][0]["text"]["text"],
        "Hello! What can I do?"
    );
    assert_eq!(
        posted[0]["blocks"][1]["elements"][1]["value"],
        "talk to a human"
    );
    // Slack retries the event (it thought we were slow): processed once.
    assert_eq!(
        post(
            &app,
            &id,
            &mention,
            false,
            now(),
            &[
                ("X-Slack-Retry-Num", "1"),
                ("X-Slack-Retry-Reason", "http_timeout")
            ]
        )
        .await,
        StatusCode::OK
    );
    // The `message` event Slack sends beside the mention is the same message: not answered
    // again.
    let echo = event(
        "Ev1b",
        json!({ "type": "message", "channel_type": "channel", "user": "U1",
        "text": "<@UBOT> hello", "ts": "1700000000.000100", "channel": "C1" }),
    );
    assert_eq!(
        post(&app, &id, &echo, false, now(), &[]).await,
        StatusCode::OK
    );
    // The bot's own message (echoed by Slack) is ignored.
    let own = event(
        "Ev2",
        json!({ "type": "message", "bot_id": "BBOT", "text": "Hello! What can I do?",
                                   "ts": "1700000000.000200", "thread_ts": "1700000000.000100", "channel": "C1" }),
    );
    assert_eq!(
        post(&app, &id, &own, false, now(), &[]).await,
        StatusCode::OK
    );

    // A click on "Track an order", form-encoded at the interactivity endpoint.
    let pressed = click("track my order", "1700000000.000100", "1700000001.0001");
    assert_eq!(
        post(&app, &id, &pressed, true, now(), &[]).await,
        StatusCode::OK
    );
    let posted = fake.wait_for_posted(2, WAIT).await;
    assert_eq!(posted[1]["thread_ts"], "1700000000.000100");
    assert_eq!(posted[1]["text"], "Your order number?");

    let answer = event(
        "Ev3",
        json!({ "type": "app_mention", "user": "U1", "text": "<@UBOT> #4521",
                                      "ts": "1700000000.000300", "thread_ts": "1700000000.000100", "channel": "C1" }),
    );
    assert_eq!(
        post(&app, &id, &answer, false, now(), &[]).await,
        StatusCode::OK
    );
    let posted = fake.wait_for_posted(3, WAIT).await;
    assert_eq!(posted[2]["text"], "Order #4521 is on its way.");

    // Handoff, and the agent's reply reaches the thread.
    let human = click("talk to a human", "1700000000.000100", "1700000002.0001");
    assert_eq!(
        post(&app, &id, &human, true, now(), &[]).await,
        StatusCode::OK
    );
    let posted = fake.wait_for_posted(4, WAIT).await;
    assert_eq!(posted[3]["text"], "Connecting you to a person.");
    let base = format!("/api/v1/orgs/{}/bots/{bot}/conversations", owner.org_id);
    let inbox = app
        .get(&format!("{base}?status=handoff"), &owner.token)
        .await;
    let session = inbox.json["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = app
        .post(
            &format!("{base}/{session}/handoff/reply"),
            &owner.token,
            json!({ "text": "Sam <here> & ready" }),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.text);
    let posted = fake.wait_for_posted(5, WAIT).await;
    assert_eq!(posted[4]["thread_ts"], "1700000000.000100");
    assert_eq!(posted[4]["text"], "Sam &lt;here&gt; &amp; ready");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.posted().len(), 5);
}
