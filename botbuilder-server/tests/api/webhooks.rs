//! Outgoing webhooks for customers, against a receiver on localhost that verifies our
//! Standard Webhooks signatures: a receiver that is down gets every event later, signed, in
//! order per conversation; `410 Gone` disables an endpoint; redirects are not followed; URLs
//! are judged by the outbound guard; secrets are shown once and rotate with two signatures.

use std::net::SocketAddr;
use std::time::Duration;

use botbuilder_channels::standard_webhooks::{WebhookSecret, verify};
use botbuilder_core::webhook::RetrySchedule;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email, handoff_bot};
use crate::receiver::{Mode, Receiver, Seen};

/// A server that retries webhooks within a second, and may reach `receivers`.
async fn app_reaching(receivers: &[&Receiver]) -> TestApp {
    let allowed: Vec<SocketAddr> = receivers.iter().map(|r| r.addr).collect();
    TestApp::spawn_with(move |settings| {
        settings.fetch_allow.extend(allowed);
        settings.webhook_retry = RetrySchedule {
            first: Duration::from_millis(200),
            factor: 2,
            longest: Duration::from_secs(1),
            give_up_after: Duration::from_secs(120),
        };
    })
    .await
}

async fn add_webhook(app: &TestApp, owner: &Account, body: Value) -> (String, String) {
    let created = app
        .post(
            &format!("/api/v1/orgs/{}/webhooks", owner.org_id),
            &owner.token,
            body,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let secret = created.json["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (created.json["id"].as_str().unwrap().to_owned(), secret)
}

/// Waits until `done` holds, for at most 30 s.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the delivery log at `path` until `settled` holds for its items, for at most 30 s,
/// and returns them: a receiver holds a request before the server has recorded its answer.
async fn deliveries_when(
    app: &TestApp,
    token: &str,
    path: &str,
    settled: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = app.get(path, token).await;
        assert_eq!(log.status, StatusCode::OK, "{}", log.text);
        let items = log.json["items"].as_array().cloned().unwrap_or_default();
        if settled(&items) {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting on {path}: {}",
            log.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts `seen` carries a valid signature by `secret` (within the 5-minute tolerance).
fn assert_signed(seen: &Seen, secret: &str) {
    let secret = WebhookSecret::parse(secret).unwrap();
    let now = chrono::Utc::now().timestamp();
    verify(
        &secret,
        &seen.id,
        seen.timestamp,
        &seen.signature,
        &seen.body,
        now,
    )
    .unwrap_or_else(|e| panic!("{} does not verify: {e}", seen.id));
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_event_later_signed_and_in_order() {
    let receiver = Receiver::start(Mode::Down).await;
    let app = app_reaching(&[&receiver]).await;
    let owner = app.register(&email("hooks-down")).await;
    let org = owner.org_id.clone();
    let (webhook, secret) = add_webhook(&app, &owner, json!({ "url": receiver.url() })).await;
    let bot = handoff_bot(&app, &owner, "Connecting you to a person.").await;

    let conversations = format!("/api/v1/orgs/{org}/bots/{bot}/conversations");
    let opened = app
        .post(
            &conversations,
            &owner.token,
            json!({ "user": "customer-7" }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let session = opened.json["session_id"].as_str().unwrap().to_owned();
    let base = format!("{conversations}/{session}");
    let turn = app
        .post(
            &format!("{base}/messages"),
            &owner.token,
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
    for (path, body) in [
        ("handoff/reply", json!({ "text": "Hello, I am Ann." })),
        ("handoff/release", json!({})),
    ] {
        let r = app
            .post(&format!("{base}/{path}"), &owner.token, body)
            .await;
        assert!(r.status.is_success(), "{path}: {}", r.text);
    }
    let transcript = app.get(&format!("{base}/messages"), &owner.token).await;
    let messages: Vec<Value> = transcript.json["items"].as_array().unwrap().clone();
    let bot_reply = messages
        .iter()
        .find(|m| m["direction"] == "outbound")
        .expect("the bot's reply");
    let rated = app
        .post(
            &format!(
                "/api/v1/orgs/{org}/messages/{}/feedback",
                bot_reply["id"].as_str().unwrap()
            ),
            &owner.token,
            json!({ "rating": "up" }),
        )
        .await;
    assert!(rated.status.is_success(), "{}", rated.text);

    // Down: the first event is tried again and again, and nothing overtakes it.
    until("three failed attempts", || receiver.seen().len() >= 3).await;
    let tried = receiver.seen();
    assert!(tried.iter().all(|s| s.answered == 503));
    assert!(
        tried.iter().all(|s| s.id == tried[0].id),
        "only the head of the conversation is tried while the receiver is down"
    );
    assert_eq!(tried[0].json()["type"], "conversation.started");
    let log = app
        .get(
            &format!("/api/v1/orgs/{org}/webhooks/{webhook}/deliveries"),
            &owner.token,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let head = log.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "conversation.started")
        .expect("the head's delivery")
        .clone();
    assert_eq!(head["state"], "pending");
    assert!(head["attempts"].as_u64().unwrap() >= 1, "{head}");
    assert_eq!(head["attempt_log"][0]["status"], 503);
    assert!(head["attempt_log"][0]["duration_ms"].is_u64());
    assert!(head["next_attempt_at"].is_string());

    receiver.set(Mode::Up);
    let expected = [
        "conversation.started",
        "message.received",
        "message.sent",
        "conversation.handoff",
        "message.sent",
        "conversation.released",
        "feedback.created",
    ];
    until("every event accepted", || {
        receiver.accepted().len() >= expected.len()
    })
    .await;
    let accepted = receiver.accepted();
    assert_eq!(
        accepted.len(),
        expected.len(),
        "each event is accepted once"
    );
    for seen in receiver.seen() {
        assert_signed(&seen, &secret);
    }
    let kinds: Vec<String> = accepted
        .iter()
        .map(|s| s.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, expected, "in the order they happened");
    assert_eq!(
        accepted[0].id, tried[0].id,
        "a retry carries the same webhook-id"
    );
    let message_ids: Vec<Value> = accepted
        .iter()
        .map(Seen::json)
        .filter(|b| b["type"].as_str().unwrap().starts_with("message."))
        .map(|b| b["data"]["message"]["id"].clone())
        .collect();
    let transcript_ids: Vec<Value> = messages.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(
        message_ids, transcript_ids,
        "messages arrive in conversation order"
    );
    let started = accepted[0].json();
    assert_eq!(started["data"]["session"]["id"], session.as_str());
    assert_eq!(started["data"]["session"]["external_user"], "customer-7");
    assert_eq!(started["data"]["bot_id"], bot.as_str());
    let feedback = accepted[6].json();
    assert_eq!(feedback["data"]["feedback"]["rating"], "up");
    assert_eq!(feedback["data"]["message"]["id"], bot_reply["id"]);

    let log = deliveries_when(
        &app,
        &owner.token,
        &format!("/api/v1/orgs/{org}/webhooks/{webhook}/deliveries"),
        |items| items.iter().all(|d| d["state"] != "pending"),
    )
    .await;
    let states: Vec<&Value> = log.iter().map(|d| &d["state"]).collect();
    assert_eq!(states.len(), expected.len());
    assert!(states.iter().all(|s| *s == "succeeded"), "{states:?}");
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_redirects_are_not_followed() {
    let moved = Receiver::start(Mode::Up).await;
    moved.set(Mode::Redirect(format!("http://{}/elsewhere", moved.addr)));
    let gone = Receiver::start(Mode::Gone).await;
    let app = app_reaching(&[&moved, &gone]).await;
    let owner = app.register(&email("hooks-gone")).await;
    let org = owner.org_id.clone();
    let only_starts = json!(["conversation.started"]);
    let (moved_id, _) = add_webhook(
        &app,
        &owner,
        json!({ "url": moved.url(), "events": only_starts }),
    )
    .await;
    let (gone_id, gone_secret) = add_webhook(
        &app,
        &owner,
        json!({ "url": gone.url(), "events": only_starts }),
    )
    .await;
    let bot = app.create_bot(&owner, &org, "B").await;
    let opened = app
        .post(
            &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
            &owner.token,
            json!({ "user": "u" }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);

    let endpoint = format!("/api/v1/orgs/{org}/webhooks/{gone_id}");
    let mut disabled = Value::Null;
    for _ in 0..600 {
        disabled = app.get(&endpoint, &owner.token).await.json;
        if disabled["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{disabled}"
    );
    assert_eq!(gone.seen().len(), 1, "a 410 is not retried");
    let log = deliveries_when(
        &app,
        &owner.token,
        &format!("{endpoint}/deliveries"),
        |items| items.first().is_some_and(|d| d["state"] != "pending"),
    )
    .await;
    let delivery = &log[0];
    assert_eq!(delivery["state"], "failed");
    assert_eq!(delivery["attempt_log"][0]["status"], 410);

    until("the redirect was tried twice", || moved.seen().len() >= 2).await;
    assert_eq!(
        *moved.state.elsewhere.lock().unwrap(),
        0,
        "the redirect's target is never contacted"
    );
    let log = app
        .get(
            &format!("/api/v1/orgs/{org}/webhooks/{moved_id}/deliveries"),
            &owner.token,
        )
        .await;
    let attempt = &log.json["items"][0]["attempt_log"][0];
    assert_eq!(attempt["status"], 302, "{log:?}");
    assert!(
        attempt["error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed"),
        "{attempt}"
    );
    assert_eq!(
        log.json["items"][0]["state"], "pending",
        "a redirect is retried"
    );

    // Redelivering to a disabled endpoint is refused until it is enabled again.
    let redeliver = format!(
        "{endpoint}/deliveries/{}/redeliver",
        delivery["id"].as_str().unwrap()
    );
    let refused = app.post(&redeliver, &owner.token, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    let enabled = app
        .call(
            Method::PATCH,
            &endpoint,
            Some(&owner.token),
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.text);
    assert_eq!(enabled.json["disabled_reason"], Value::Null);
    gone.set(Mode::Up);
    let again = app.post(&redeliver, &owner.token, json!({})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text);
    until("the redelivery", || !gone.accepted().is_empty()).await;
    let redelivered = &gone.accepted()[0];
    assert_eq!(redelivered.id, gone.seen()[0].id, "the same webhook-id");
    assert_signed(redelivered, &gone_secret);
}

#[tokio::test]
async fn endpoints_are_checked_and_their_secrets_shown_once_and_rotated() {
    let receiver = Receiver::start(Mode::Up).await;
    let app = app_reaching(&[&receiver]).await;
    let owner = app.register(&email("hooks-rules")).await;
    let org = owner.org_id.clone();
    let hooks = format!("/api/v1/orgs/{org}/webhooks");
    for (body, field) in [
        (json!({ "url": "ftp://hooks.example.com/" }), "url"),
        (
            json!({ "url": "https://user:pw@hooks.example.com/" }),
            "url",
        ),
        (json!({ "url": "http://10.1.2.3/hook" }), "url"),
        (json!({ "url": "http://169.254.169.254/latest" }), "url"),
        (
            json!({ "url": receiver.url(), "events": ["message.sent", "nope"] }),
            "events[1]",
        ),
        (json!({ "url": receiver.url(), "events": [] }), "events"),
        (
            json!({ "url": receiver.url(), "description": "x".repeat(501) }),
            "description",
        ),
    ] {
        let refused = app.post(&hooks, &owner.token, body.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            refused.text
        );
        assert_eq!(refused.error_fields(), [field], "{body}");
    }

    let (webhook, first_secret) = add_webhook(
        &app,
        &owner,
        json!({ "url": receiver.url(), "events": ["document.ready"], "description": "CRM" }),
    )
    .await;
    let endpoint = format!("{hooks}/{webhook}");
    let shown = app.get(&endpoint, &owner.token).await;
    assert_eq!(shown.json["events"], json!(["document.ready"]));
    assert!(
        !shown.text.contains(&first_secret),
        "the secret is shown once"
    );
    assert!(shown.json.get("secret").is_none());
    let listed = app.get(&hooks, &owner.token).await;
    assert!(!listed.text.contains(&first_secret));
    assert_eq!(listed.json["items"][0]["id"], webhook.as_str());
    let audit = app
        .get(
            &format!("/api/v1/orgs/{org}/audit-log?action=webhook.create"),
            &owner.token,
        )
        .await;
    assert!(!audit.text.contains(&first_secret), "{}", audit.text);

    let rotated = app
        .post(
            &format!("{endpoint}/rotate-secret"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let second_secret = rotated.json["secret"].as_str().unwrap().to_owned();
    assert_ne!(second_secret, first_secret);
    assert!(rotated.json["previous_secret_expires_at"].is_string());

    // A document becomes ready: the event is signed with both secrets during the grace.
    let kb = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases"),
            &owner.token,
            json!({ "name": "Docs" }),
        )
        .await;
    let kb = kb.json["id"].as_str().unwrap().to_owned();
    let added = app
        .post(
            &format!("/api/v1/orgs/{org}/knowledge-bases/{kb}/documents"),
            &owner.token,
            json!({ "title": "Returns", "text": "Parcels are collected on Tuesdays." }),
        )
        .await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.text);
    until("document.ready", || !receiver.accepted().is_empty()).await;
    let ready = &receiver.accepted()[0];
    assert_eq!(ready.json()["type"], "document.ready");
    assert_eq!(ready.json()["data"]["document"]["id"], added.json["id"]);
    assert_eq!(ready.signature.split(' ').count(), 2, "{}", ready.signature);
    assert_signed(ready, &first_secret);
    assert_signed(ready, &second_secret);

    // A name that resolves to a private address passes the check on creation, and is
    // refused when delivering: the delivery fails without retries.
    let (_, _) = add_webhook(
        &app,
        &owner,
        json!({ "url": "http://localhost:9/hook", "events": ["conversation.started"] }),
    )
    .await;
    let bot = app.create_bot(&owner, &org, "B").await;
    app.post(
        &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
        &owner.token,
        json!({ "user": "u" }),
    )
    .await;
    let list = app.get(&hooks, &owner.token).await;
    let private = list.json["items"][1]["id"].as_str().unwrap().to_owned();
    let log = deliveries_when(
        &app,
        &owner.token,
        &format!("{hooks}/{private}/deliveries"),
        |items| items.first().is_some_and(|d| d["state"] != "pending"),
    )
    .await;
    let delivery = &log[0];
    assert_eq!(delivery["state"], "failed", "{delivery}");
    assert!(
        delivery["attempt_log"][0]["error"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{delivery}"
    );

    let deleted = app
        .call(Method::DELETE, &endpoint, Some(&owner.token), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&endpoint, &owner.token).await.status,
        StatusCode::NOT_FOUND
    );
}

/// An endpoint asking for a retry far in the future (`Retry-After: 99999999999`) gets it at
/// the schedule's longest wait, and the event arrives then.
#[tokio::test]
async fn a_huge_retry_after_is_cut_to_the_longest_wait() {
    let receiver = Receiver::start(Mode::Throttled(99_999_999_999)).await;
    let app = app_reaching(&[&receiver]).await;
    let owner = app.register(&email("hooks-throttled")).await;
    let org = owner.org_id.clone();
    let (webhook, secret) = add_webhook(
        &app,
        &owner,
        json!({ "url": receiver.url(), "events": ["conversation.started"] }),
    )
    .await;
    let bot = app.create_bot(&owner, &org, "B").await;
    app.post(
        &format!("/api/v1/orgs/{org}/bots/{bot}/conversations"),
        &owner.token,
        json!({ "user": "u" }),
    )
    .await;
    until("a throttled attempt", || !receiver.seen().is_empty()).await;
    receiver.set(Mode::Up);
    until("the delivery after the longest wait", || {
        !receiver.accepted().is_empty()
    })
    .await;
    assert_signed(&receiver.accepted()[0], &secret);
    let log = deliveries_when(
        &app,
        &owner.token,
        &format!("/api/v1/orgs/{org}/webhooks/{webhook}/deliveries"),
        |items| items.first().is_some_and(|d| d["state"] != "pending"),
    )
    .await;
    assert_eq!(log[0]["state"], "succeeded", "{log:?}");
}

/// Webhooks carry conversations: `webhooks:*` without `conversations:read` is not enough.
#[tokio::test]
async fn webhooks_also_take_conversations_read() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("hooks-perm")).await;
    let org = owner.org_id.clone();
    let role = app
        .post(
            &format!("/api/v1/orgs/{org}/roles"),
            &owner.token,
            json!({ "name": "integrator", "permissions": ["webhooks:read", "webhooks:manage"] }),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
    let integrator = app
        .add_member(&owner, &org, &email("integrator"), "integrator")
        .await;
    let refused = app
        .post(
            &format!("/api/v1/orgs/{org}/webhooks"),
            &integrator.token,
            json!({ "url": "https://hooks.example.invalid/in" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(
        refused.text.contains("conversations:read"),
        "{}",
        refused.text
    );
}
