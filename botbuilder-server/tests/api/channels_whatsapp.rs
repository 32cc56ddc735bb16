//! A bot on WhatsApp end to end against a fake Cloud API: the subscription handshake, signed
//! notifications (wrong and missing signatures refused), reply buttons, a button reply
//! moving the flow on, a redelivered `wamid` processed once, delivery statuses stored, and
//! an agent's reply reaching the user.

use std::time::Duration;

use botbuilder_channels::testing::FakeWhatsApp;
use botbuilder_channels::whatsapp::WhatsAppInbound;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{SqlParam, TestApp, email};
use crate::conversations::build_bot;

const TOKEN: &str = "EAAG-fake-access-token";
const PHONE: &str = "106540352242922";
const APP_SECRET: &str = "fake-app-secret";
const VERIFY: &str = "fake-verify-token";
/// How long a reply may take under a loaded CI machine (a bound, not a measurement).
const WAIT: Duration = Duration::from_secs(30);

fn notification(extra: Value) -> Value {
    let mut value = json!({ "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100", "phone_number_id": PHONE },
        "contacts": [{ "profile": { "name": "Kerry" }, "wa_id": "16315551234" }] });
    for (key, item) in extra.as_object().expect("an object") {
        value[key] = item.clone();
    }
    json!({ "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA-1", "changes": [{ "field": "messages", "value": value }] }] })
}

fn text(id: &str, body: &str) -> Value {
    notification(
        json!({ "messages": [{ "from": "16315551234", "id": id, "timestamp": "1700000000", "type": "text", "text": { "body": body } }] }),
    )
}

fn button(id: &str, payload: &str, title: &str) -> Value {
    notification(
        json!({ "messages": [{ "from": "16315551234", "id": id, "timestamp": "1700000001", "type": "interactive",
        "interactive": { "type": "button_reply", "button_reply": { "id": payload, "title": title } } }] }),
    )
}

async fn post(app: &TestApp, channel: &str, body: &Value, secret: Option<&str>) -> StatusCode {
    let raw = body.to_string();
    let mut req = app
        .http
        .post(app.url(&format!("/hooks/whatsapp/{channel}")))
        .header("content-type", "application/json")
        .body(raw.clone());
    if let Some(secret) = secret {
        let signature = WhatsAppInbound::new(secret, "", PHONE).signature(raw.as_bytes());
        req = req.header("X-Hub-Signature-256", signature);
    }
    req.send().await.expect("hook").status()
}

#[tokio::test]
async fn a_flow_with_buttons_and_a_handoff_works_on_whatsapp() {
    let fake = FakeWhatsApp::start(TOKEN, PHONE).await;
    let app = TestApp::spawn_with(|s| {
        s.fetch_allow.push(fake.addr());
        s.public_url = Some("https://bots.example.com".to_owned());
    })
    .await;
    let owner = app.register(&email("whatsapp")).await;
    let bot = build_bot(&app, &owner).await;
    let connected = app
        .post(
            &format!("/api/v1/orgs/{}/bots/{bot}/channels", owner.org_id),
            &owner.token,
            json!({ "type": "whatsapp", "config": { "access_token": TOKEN, "phone_number_id": PHONE,
                "app_secret": APP_SECRET, "verify_token": VERIFY, "api_base_url": fake.url() } }),
        )
        .await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.text);
    assert_eq!(connected.json["name"], "+1 555-0100");
    assert_eq!(connected.json["settings"]["phone_number_id"], PHONE);
    for secret in [TOKEN, APP_SECRET, VERIFY] {
        assert!(!connected.text.contains(secret));
    }
    let id = connected.json["id"].as_str().unwrap().to_owned();

    // Meta's subscription handshake.
    let hook = app.url(&format!("/hooks/whatsapp/{id}"));
    let ok = app
        .http
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = app
        .http
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    // Signatures: wrong and missing are refused, and nothing is sent.
    assert_eq!(
        post(&app, &id, &text("wamid.1", "hello"), Some("not-the-secret")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&app, &id, &text("wamid.1", "hello"), None).await,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        post(&app, &id, &text("wamid.1", "hello"), Some(APP_SECRET)).await,
        StatusCode::OK
    );
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0]["to"], "16315551234");
    assert_eq!(
        sent[0]["interactive"],
        json!({ "type": "button", "body": { "text": "Hello! What can I do?" }, "action": { "buttons": [
            { "type": "reply", "reply": { "id": "track my order", "title": "Track an order" } },
            { "type": "reply", "reply": { "id": "talk to a human", "title": "Agent" } } ] } })
    );
    // Meta retries a notification it thinks failed: the same wamid is processed once.
    assert_eq!(
        post(&app, &id, &text("wamid.1", "hello"), Some(APP_SECRET)).await,
        StatusCode::OK
    );

    assert_eq!(
        post(
            &app,
            &id,
            &button("wamid.2", "track my order", "Track an order"),
            Some(APP_SECRET)
        )
        .await,
        StatusCode::OK
    );
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(
        sent[1]["text"],
        json!({ "body": "Your order number?", "preview_url": false })
    );

    // A delivery status for the first reply is stored on its delivery.
    let status = notification(
        json!({ "statuses": [{ "id": "wamid.FAKE1", "status": "read", "timestamp": "1700000005", "recipient_id": "16315551234" }] }),
    );
    assert_eq!(
        post(&app, &id, &status, Some(APP_SECRET)).await,
        StatusCode::OK
    );
    let store = botbuilder_server::state::open_store(&app.database_url())
        .await
        .unwrap();
    let channel_id = id.parse().unwrap();
    let mut platform_status = None;
    for _ in 0..200 {
        let delivery = store
            .find_delivery(channel_id, "16315551234:wamid.FAKE1")
            .await
            .unwrap();
        if delivery.platform_status.is_some() {
            platform_status = delivery.platform_status;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(platform_status.as_deref(), Some("read"));

    assert_eq!(
        post(&app, &id, &text("wamid.3", "#4521"), Some(APP_SECRET)).await,
        StatusCode::OK
    );
    let sent = fake.wait_for_sent(3, WAIT).await;
    assert_eq!(sent[2]["text"]["body"], "Order #4521 is on its way.");

    // Handoff, and the agent's reply reaches WhatsApp.
    assert_eq!(
        post(
            &app,
            &id,
            &button("wamid.4", "talk to a human", "Agent"),
            Some(APP_SECRET)
        )
        .await,
        StatusCode::OK
    );
    let sent = fake.wait_for_sent(4, WAIT).await;
    assert_eq!(sent[3]["text"]["body"], "Connecting you to a person.");
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
            json!({ "text": "Sam here." }),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.text);
    let sent = fake.wait_for_sent(5, WAIT).await;
    assert_eq!(sent[4]["text"]["body"], "Sam here.");

    // A day later without a word from the user, a free-form reply is not sent, and the
    // delivery records why (the customer-service window).
    let day_and_an_hour_us: i64 = 25 * 3600 * 1_000_000;
    app.execute_sql(
        "UPDATE messages SET created_at = created_at - $1 WHERE direction = 'inbound'",
        &[SqlParam::Int(day_and_an_hour_us)],
    )
    .await;
    let late = app
        .post(
            &format!("{base}/{session}/handoff/reply"),
            &owner.token,
            json!({ "text": "Are you still there?" }),
        )
        .await;
    assert_eq!(late.status, StatusCode::CREATED, "{}", late.text);
    let late_id = late.json["id"].as_str().unwrap().parse().unwrap();
    let org_id = owner.org_id.parse().unwrap();
    let mut skipped = None;
    for _ in 0..400 {
        let delivery = store.get_delivery(org_id, late_id).await.unwrap();
        if delivery.state != botbuilder_core::domain::DeliveryState::Pending {
            skipped = Some(delivery);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let skipped = skipped.expect("the late reply was settled");
    assert_eq!(
        skipped.state,
        botbuilder_core::domain::DeliveryState::Skipped
    );
    assert!(
        skipped
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("24-hour"),
        "{skipped:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.sent().len(), 5);
}
