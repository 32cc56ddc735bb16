//! A bot on Telegram end to end against a fake Bot API: connecting registers the webhook
//! with a secret token; a message gets the flow's reply with an inline keyboard; a button
//! press is acknowledged and moves the flow on; a redelivered update is processed once;
//! wrong or missing secret tokens do nothing; an agent's reply from the inbox reaches the
//! chat; long polling works without a public URL.

use std::time::Duration;

use botbuilder_channels::testing::FakeTelegram;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email};
use crate::conversations::build_bot;

const TOKEN: &str = "123456:ABC-fake-token";
/// How long a reply may take under a loaded CI machine (a bound, not a measurement).
const WAIT: Duration = Duration::from_secs(30);

async fn connect(app: &TestApp, owner: &Account, bot: &str, fake: &FakeTelegram) -> Value {
    let r = try_connect(app, owner, bot, fake, TOKEN).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json
}

async fn try_connect(
    app: &TestApp,
    owner: &Account,
    bot: &str,
    fake: &FakeTelegram,
    token: &str,
) -> crate::common::Reply {
    app.post(
        &format!("/api/v1/orgs/{}/bots/{bot}/channels", owner.org_id),
        &owner.token,
        json!({ "type": "telegram", "config": { "bot_token": token, "api_base_url": fake.url() } }),
    )
    .await
}

fn message(update_id: i64, chat: i64, text: &str) -> Value {
    json!({ "update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "text": text,
        "chat": { "id": chat, "type": "private", "first_name": "Ann" },
        "from": { "id": chat, "is_bot": false, "first_name": "Ann" } } })
}

fn press(update_id: i64, chat: i64, on_message: i64, data: &str) -> Value {
    json!({ "update_id": update_id, "callback_query": {
        "id": format!("cq-{update_id}"), "chat_instance": "1", "data": data,
        "from": { "id": chat, "is_bot": false, "first_name": "Ann" },
        "message": { "message_id": on_message, "date": 1, "chat": { "id": chat, "type": "private" } } } })
}

async fn deliver(app: &TestApp, channel: &str, secret: Option<&str>, update: &Value) -> StatusCode {
    let mut req = app
        .http
        .post(app.url(&format!("/hooks/telegram/{channel}")))
        .json(update);
    if let Some(secret) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    req.send().await.expect("hook").status()
}

fn texts(sent: &[Value]) -> Vec<String> {
    sent.iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_flow_with_buttons_and_a_handoff_works_on_telegram_through_the_webhook() {
    let fake = FakeTelegram::start(TOKEN).await;
    let app = TestApp::spawn_with(|s| {
        s.fetch_allow = vec![fake.addr()];
        s.public_url = Some("https://bots.example.com".to_owned());
    })
    .await;
    let owner = app.register(&email("telegram")).await;
    let bot = build_bot(&app, &owner).await;
    let channel = connect(&app, &owner, &bot, &fake).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    assert_eq!(channel["status"], "connected");
    assert_eq!(channel["name"], "@fake_bot");
    let hook = format!("https://bots.example.com/hooks/telegram/{id}");
    assert_eq!(channel["webhook_url"], hook.as_str());
    assert!(
        channel.get("config").is_none() && !channel.to_string().contains(TOKEN),
        "{channel}"
    );
    let (url, secret) = fake.webhook().expect("setWebhook was called");
    assert_eq!(url, hook);
    assert!(secret.len() >= 32);

    // Bad or missing secret tokens are refused and nothing is processed.
    assert_eq!(
        deliver(&app, &id, Some("wrong"), &message(1, 77, "hello")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        deliver(&app, &id, None, &message(1, 77, "hello")).await,
        StatusCode::UNAUTHORIZED
    );

    // A message: the flow's greeting with an inline keyboard.
    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(1, 77, "hello")).await,
        StatusCode::OK
    );
    let sent = fake.wait_for("sendMessage", 1, WAIT).await;
    assert_eq!(sent[0]["chat_id"], "77");
    assert_eq!(sent[0]["text"], "Hello! What can I do?");
    assert_eq!(
        sent[0]["reply_markup"]["inline_keyboard"],
        json!([[{ "text": "Track an order", "callback_data": "track my order" }],
               [{ "text": "Agent", "callback_data": "talk to a human" }]])
    );
    // Telegram redelivers the same update: processed once.
    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(1, 77, "hello")).await,
        StatusCode::OK
    );

    // A button press: acknowledged, and the flow moves on.
    assert_eq!(
        deliver(
            &app,
            &id,
            Some(&secret),
            &press(2, 77, 101, "track my order")
        )
        .await,
        StatusCode::OK
    );
    let sent = fake.wait_for("sendMessage", 2, WAIT).await;
    assert_eq!(
        texts(&sent),
        ["Hello! What can I do?", "Your order number?"]
    );
    let acks = fake.wait_for("answerCallbackQuery", 1, WAIT).await;
    assert_eq!(acks[0], json!({ "callback_query_id": "cq-2" }));
    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(3, 77, "#4521")).await,
        StatusCode::OK
    );
    let sent = fake.wait_for("sendMessage", 3, WAIT).await;
    assert_eq!(sent[2]["text"], "Order #4521 is on its way.");

    // A handoff, and the agent's reply from the inbox reaches the chat.
    assert_eq!(
        deliver(
            &app,
            &id,
            Some(&secret),
            &press(4, 77, 101, "talk to a human")
        )
        .await,
        StatusCode::OK
    );
    let sent = fake.wait_for("sendMessage", 4, WAIT).await;
    assert_eq!(sent[3]["text"], "Connecting you to a person.");
    let base = format!("/api/v1/orgs/{}/bots/{bot}/conversations", owner.org_id);
    let inbox = app
        .get(&format!("{base}?status=handoff"), &owner.token)
        .await;
    let session = inbox.json["items"][0]["session_id"]
        .as_str()
        .expect("in the inbox")
        .to_owned();
    let agent = app
        .post(
            &format!("{base}/{session}/handoff/reply"),
            &owner.token,
            json!({ "text": "Hi, I am Sam." }),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.text);
    let sent = fake.wait_for("sendMessage", 5, WAIT).await;
    assert_eq!(
        (sent[4]["chat_id"].as_str(), sent[4]["text"].as_str()),
        (Some("77"), Some("Hi, I am Sam."))
    );

    // Exactly what was asked for, once each.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.calls_of("sendMessage").len(), 5, "{:#?}", fake.calls());
    let shown = app
        .get(
            &format!("/api/v1/orgs/{}/bots/{bot}/channels/{id}", owner.org_id),
            &owner.token,
        )
        .await;
    assert!(shown.json["last_inbound_at"].is_string(), "{}", shown.text);
    assert!(shown.json["last_outbound_at"].is_string(), "{}", shown.text);

    // Disconnecting deletes the webhook.
    let gone = app
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/{}/bots/{bot}/channels/{id}", owner.org_id),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    assert_eq!(fake.webhook(), None);
    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(9, 77, "hello")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn without_a_public_url_telegram_channels_long_poll() {
    let fake = FakeTelegram::start(TOKEN).await;
    let app = TestApp::spawn_with(|s| s.fetch_allow = vec![fake.addr()]).await;
    let owner = app.register(&email("polling")).await;
    let bot = build_bot(&app, &owner).await;
    let channel = connect(&app, &owner, &bot, &fake).await;
    assert_eq!(channel["status"], "polling");
    assert!(channel["webhook_url"].is_null());
    assert!(
        !fake.calls_of("deleteWebhook").is_empty(),
        "the webhook is cleared for getUpdates"
    );

    fake.push_update(message(500, 88, "hello"));
    let sent = fake.wait_for("sendMessage", 1, WAIT).await;
    assert_eq!(
        (sent[0]["chat_id"].as_str(), sent[0]["text"].as_str()),
        (Some("88"), Some("Hello! What can I do?"))
    );
    fake.push_update(press(501, 88, 101, "track my order"));
    let sent = fake.wait_for("sendMessage", 2, WAIT).await;
    assert_eq!(sent[1]["text"], "Your order number?");
    // Confirmed updates are not fetched again: the next poll asks from 502.
    let polls = fake.wait_for("getUpdates", 3, WAIT).await;
    assert!(polls.iter().any(|p| p["offset"] == 502), "{polls:#?}");
}

#[tokio::test]
async fn refused_credentials_are_a_field_error_and_connect_nothing() {
    let fake = FakeTelegram::start(TOKEN).await;
    let app = TestApp::spawn_with(|s| s.fetch_allow = vec![fake.addr()]).await;
    let owner = app.register(&email("tg-refused")).await;
    let bot = app.create_bot(&owner, &owner.org_id, "B").await;
    let path = format!("/api/v1/orgs/{}/bots/{bot}/channels", owner.org_id);
    let refused = app
        .post(&path, &owner.token, json!({ "type": "telegram", "config": { "bot_token": "999:wrong", "api_base_url": fake.url() } }))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.error_fields(), ["config.bot_token"]);
    let invalid = app
        .post(&path, &owner.token, json!({ "type": "fax", "config": {} }))
        .await;
    assert_eq!(invalid.error_fields(), ["type"]);
    let missing = app
        .post(
            &path,
            &owner.token,
            json!({ "type": "whatsapp", "config": { "access_token": "t" } }),
        )
        .await;
    assert_eq!(
        missing.error_fields(),
        [
            "config.phone_number_id",
            "config.app_secret",
            "config.verify_token"
        ]
    );
    // A platform API on a private address is refused by the outbound guard unless allowed.
    let guarded = TestApp::spawn().await;
    let owner2 = guarded.register(&email("tg-guard")).await;
    let bot2 = guarded.create_bot(&owner2, &owner2.org_id, "B").await;
    let refused = guarded
        .post(
            &format!("/api/v1/orgs/{}/bots/{bot2}/channels", owner2.org_id),
            &owner2.token,
            json!({ "type": "telegram", "config": { "bot_token": TOKEN, "api_base_url": fake.url() } }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.error_fields(), ["config.api_base_url"]);
    assert!(fake.calls().is_empty() || fake.calls().iter().all(|(m, _)| m == "getMe"));
    let listed = app.get(&path, &owner.token).await;
    assert_eq!(listed.json, json!([]));
}

#[tokio::test]
async fn redeliveries_are_processed_once_across_a_restart_and_each_channel_has_its_own_sessions() {
    // Two bots (one channel each) on one fake Telegram.
    let fake = FakeTelegram::start_for_many_bots(TOKEN).await;
    let other_bot = format!("654321:{}", TOKEN.split_once(':').unwrap().1);
    let settings = |s: &mut botbuilder_server::Settings| {
        s.fetch_allow.push(fake.addr());
        s.public_url = Some("https://bots.example.com".to_owned());
    };
    let app = TestApp::spawn_with(settings).await;
    let owner = app.register(&email("tg-restart")).await;
    let bot = build_bot(&app, &owner).await;
    let first = connect(&app, &owner, &bot, &fake).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, first_secret) = fake.webhook().unwrap();
    let second = try_connect(&app, &owner, &bot, &fake, &other_bot).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let second = second.json["id"].as_str().unwrap().to_owned();
    let (_, second_secret) = fake.webhook().unwrap();
    assert_ne!(
        first_secret, second_secret,
        "each channel has its own secret token"
    );
    assert_eq!(
        deliver(&app, &first, Some(&second_secret), &message(1, 77, "hello")).await,
        StatusCode::FORBIDDEN,
        "one channel's token does not open another"
    );

    assert_eq!(
        deliver(&app, &first, Some(&first_secret), &message(1, 77, "hello")).await,
        StatusCode::OK
    );
    fake.wait_for("sendMessage", 1, WAIT).await;

    let app = app.restart_with(settings).await;
    // Telegram did not see our 200 before the restart, say, and sends update 1 again.
    assert_eq!(
        deliver(&app, &first, Some(&first_secret), &message(1, 77, "hello")).await,
        StatusCode::OK
    );
    // The same chat id on the second channel is another conversation.
    assert_eq!(
        deliver(
            &app,
            &second,
            Some(&second_secret),
            &message(1, 77, "hello")
        )
        .await,
        StatusCode::OK
    );
    let sent = fake.wait_for("sendMessage", 2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.calls_of("sendMessage").len(), 2, "{sent:#?}");

    let sessions = app
        .get(
            &format!("/api/v1/orgs/{}/bots/{bot}/conversations", owner.org_id),
            &owner.token,
        )
        .await;
    let mut channels: Vec<String> = sessions.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["channel"].as_str().unwrap().to_owned())
        .collect();
    channels.sort();
    let mut expected = vec![format!("telegram:{first}"), format!("telegram:{second}")];
    expected.sort();
    assert_eq!(channels, expected, "{}", sessions.text);
}

#[tokio::test]
async fn failed_sends_are_retried_or_recorded_and_later_replies_still_arrive() {
    let fake = FakeTelegram::start(TOKEN).await;
    let app = TestApp::spawn_with(|s| {
        s.fetch_allow.push(fake.addr());
        s.public_url = Some("https://bots.example.com".to_owned());
    })
    .await;
    let owner = app.register(&email("tg-failures")).await;
    let bot = build_bot(&app, &owner).await;
    let id = connect(&app, &owner, &bot, &fake).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, secret) = fake.webhook().unwrap();

    // Flood control, then a bad gateway: both retried, the reply arrives once.
    fake.fail_next_send(
        429,
        json!({ "ok": false, "error_code": 429,
        "description": "Too Many Requests: retry after 1", "parameters": { "retry_after": 1 } }),
    );
    fake.fail_next_send(
        502,
        json!({ "ok": false, "error_code": 502, "description": "Bad Gateway" }),
    );
    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(1, 77, "hello")).await,
        StatusCode::OK
    );
    let sent = fake.wait_for("sendMessage", 1, WAIT).await;
    assert_eq!(sent[0]["text"], "Hello! What can I do?");

    // The user blocked the bot: that reply fails for good; the next one is still sent.
    fake.fail_next_send(403, json!({ "ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user" }));
    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(2, 77, "track my order")).await,
        StatusCode::OK
    );
    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(3, 77, "#4521")).await,
        StatusCode::OK
    );
    let sent = fake.wait_for("sendMessage", 2, WAIT).await;
    assert_eq!(sent[1]["text"], "Order #4521 is on its way.");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.calls_of("sendMessage").len(), 2);
    let dead = app
        .get(
            &format!(
                "/api/v1/orgs/{}/bots/{bot}/channels/{id}/dead-letters",
                owner.org_id
            ),
            &owner.token,
        )
        .await;
    assert_eq!(dead.json, json!([]), "nothing left to retry: {}", dead.text);
}

#[tokio::test]
async fn a_users_messages_are_answered_in_the_order_they_were_sent() {
    let fake = FakeTelegram::start(TOKEN).await;
    let app = TestApp::spawn_with(|s| {
        s.fetch_allow.push(fake.addr());
        s.public_url = Some("https://bots.example.com".to_owned());
    })
    .await;
    let owner = app.register(&email("tg-order")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Echo").await;
    let flow = format!("/api/v1/orgs/{org}/bots/{bot}/flow");
    let saved = app
        .call(Method::PUT, &flow, Some(&owner.token), Some(json!({
            "nodes": [
                { "id": "start", "type": "start", "data": {} },
                { "id": "ask", "type": "ask", "data": { "prompt": "Say something", "variable": "said" } },
                { "id": "echo", "type": "message", "data": { "text": "You said {{said}}" } }
            ],
            "edges": [
                { "id": "e1", "source": "start", "target": "ask" },
                { "id": "e2", "source": "ask", "target": "echo" },
                { "id": "e3", "source": "echo", "target": "ask" }
            ]
        })))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    app.call(
        Method::POST,
        &format!("{flow}/publish"),
        Some(&owner.token),
        None,
    )
    .await;
    let id = connect(&app, &owner, &bot, &fake).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, secret) = fake.webhook().unwrap();

    assert_eq!(
        deliver(&app, &id, Some(&secret), &message(1, 5, "start")).await,
        StatusCode::OK
    );
    fake.wait_for("sendMessage", 1, WAIT).await;
    // Six messages in quick succession (each acknowledged at once, none answered yet): eight
    // workers are free to take them together.
    for n in 2..=7 {
        let status = deliver(&app, &id, Some(&secret), &message(n, 5, &format!("m{n}"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let sent = fake.wait_for("sendMessage", 13, WAIT).await;
    let echoed: Vec<String> = texts(&sent)
        .into_iter()
        .filter(|t| t.starts_with("You said"))
        .collect();
    let expected: Vec<String> = (2..=7).map(|n| format!("You said m{n}")).collect();
    assert_eq!(echoed, expected);
}

/// A Telegram bot has one webhook: connecting it to a second channel (of any organization)
/// is refused, and the first channel keeps receiving.
#[tokio::test]
async fn a_telegram_bot_is_connected_to_one_channel_only() {
    let fake = FakeTelegram::start(TOKEN).await;
    let app = TestApp::spawn_with(|s| {
        s.fetch_allow.push(fake.addr());
        s.public_url = Some("https://bots.example.com".to_owned());
    })
    .await;
    let owner = app.register(&email("tg-once")).await;
    let bot = build_bot(&app, &owner).await;
    let first = connect(&app, &owner, &bot, &fake).await;
    assert_eq!(first["settings"]["account_id"], "123456", "{first}");
    let (url, secret) = fake.webhook().unwrap();
    let other = app.register(&email("tg-once-other")).await;
    let other_bot = app.create_bot(&other, &other.org_id, "Copycat").await;
    for (who, bot) in [(&owner, &bot), (&other, &other_bot)] {
        let again = try_connect(&app, who, bot, &fake, TOKEN).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
        assert!(again.text.contains("already connected"), "{}", again.text);
    }
    assert_eq!(
        fake.webhook(),
        Some((url, secret.clone())),
        "the webhook was not moved"
    );
    assert_eq!(fake.calls_of("setWebhook").len(), 1);
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        deliver(&app, id, Some(&secret), &message(1, 77, "hello")).await,
        StatusCode::OK
    );
    fake.wait_for("sendMessage", 1, WAIT).await;
}
