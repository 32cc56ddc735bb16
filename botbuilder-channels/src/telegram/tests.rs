use botbuilder_core::channel::{Button, Choices, Image};
use proptest::prelude::*;

use botbuilder_core::fetch::FetchError;

use super::*;
use crate::scripted::{Scripted, answer};

const TOKEN: &str = "s3cret-token_ABC";

fn request(token: Option<&str>, body: &str) -> InboundRequest {
    let headers = token
        .map(|t| vec![("X-Telegram-Bot-Api-Secret-Token".to_owned(), t.to_owned())])
        .unwrap_or_default();
    InboundRequest::post(headers, body)
}

fn events(body: &str) -> Vec<InboundEvent> {
    match TelegramInbound::new(TOKEN).parse(&request(Some(TOKEN), body)) {
        Ok(Parsed::Events(events)) => events,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_secret_token_is_checked() {
    let inbound = TelegramInbound::new(TOKEN);
    let now = Utc::now();
    assert_eq!(inbound.verify(&request(Some(TOKEN), "{}"), now), Ok(()));
    assert_eq!(
        inbound.verify(&request(Some("s3cret-token_ABD"), "{}"), now),
        Err(VerifyError::Mismatch("X-Telegram-Bot-Api-Secret-Token"))
    );
    assert_eq!(
        inbound.verify(&request(None, "{}"), now),
        Err(VerifyError::Missing("X-Telegram-Bot-Api-Secret-Token"))
    );
    let mut get = request(Some(TOKEN), "");
    get.method = "GET".into();
    assert_eq!(inbound.verify(&get, now), Err(VerifyError::Method));
    // A channel without a token accepts nothing, not everything.
    assert!(
        TelegramInbound::new("")
            .verify(&request(Some(""), "{}"), now)
            .is_err()
    );
}

#[test]
fn a_text_message_becomes_a_text_event() {
    // The documented example shape (core.telegram.org/bots/api#update).
    let body = r#"{"update_id":10000,"message":{"date":1441645532,
        "chat":{"last_name":"Test Lastname","id":1111111,"type":"private","first_name":"Test Firstname","username":"Testusername"},
        "message_id":1365,"from":{"last_name":"Test Lastname","id":1111111,"is_bot":false,"first_name":"Test Firstname","username":"Testusername"},
        "text":"/start"}}"#;
    let events = events(body);
    assert_eq!(
        events,
        [InboundEvent {
            event_id: "10000".into(),
            external_user: "1111111".into(),
            user_name: Some("Test Firstname Test Lastname".into()),
            reply_to: Recipient::new("1111111"),
            kind: InboundKind::Text {
                text: "/start".into()
            },
        }]
    );
}

#[test]
fn a_callback_query_becomes_a_button_press_to_acknowledge() {
    let body = r#"{"update_id":10001,"callback_query":{"id":"4382bfdwdsb323b2d9","chat_instance":"42",
        "from":{"id":1111111,"is_bot":false,"first_name":"Ann"},
        "message":{"message_id":77,"chat":{"id":-100222,"type":"group"},"date":1,"text":"Pick"},
        "data":"yes"}}"#;
    let events = events(body);
    assert_eq!(events[0].external_user, "-100222");
    assert_eq!(
        events[0].kind,
        InboundKind::ButtonPress {
            payload: "yes".into(),
            title: None,
            ack: Some("4382bfdwdsb323b2d9".into()),
            message_id: Some("77".into()),
        }
    );
}

#[test]
fn attachments_bots_and_unknown_updates() {
    let photo = r#"{"update_id":3,"message":{"message_id":1,"chat":{"id":5},"from":{"id":5,"first_name":"A"},
        "photo":[{"file_id":"small","width":90},{"file_id":"large","width":800}],"caption":"look"}}"#;
    assert_eq!(
        events(photo)[0].kind,
        InboundKind::Attachment {
            media: "photo".into(),
            reference: "large".into(),
            caption: Some("look".into())
        }
    );
    let from_bot = r#"{"update_id":4,"message":{"message_id":1,"chat":{"id":5},"from":{"id":9,"is_bot":true,"first_name":"B"},"text":"hi"}}"#;
    assert!(events(from_bot).is_empty());
    let edited = r#"{"update_id":5,"edited_message":{"message_id":1,"chat":{"id":5},"text":"x"}}"#;
    assert!(events(edited).is_empty());
    let poll = r#"{"update_id":6,"message":{"message_id":1,"chat":{"id":5},"poll":{}}}"#;
    assert!(events(poll).is_empty());
}

#[test]
fn malformed_updates_are_parse_errors() {
    let inbound = TelegramInbound::new(TOKEN);
    for body in [
        "",
        "[]",
        "{}",
        r#"{"update_id":"x"}"#,
        r#"{"update_id":1,"message":{"chat":{}}}"#,
    ] {
        assert!(
            inbound.parse(&request(Some(TOKEN), body)).is_err(),
            "{body}"
        );
    }
}

#[test]
fn long_payloads_are_kept_server_side() {
    use botbuilder_core::channel::kept_button_index;
    let data =
        |i, payload: &str| button_reference(i, payload, MAX_CALLBACK_DATA_BYTES).into_owned();
    assert_eq!(data(0, "yes"), "yes");
    assert_eq!(data(2, &"x".repeat(65)), "#2");
    assert_eq!(data(1, "#tag"), "#1");
    assert_eq!(data(1, ""), "#1");
    assert_eq!(data(1, &"é".repeat(32)), "é".repeat(32)); // 64 bytes fit
    assert_eq!(data(1, &"é".repeat(33)), "#1"); // 33 chars, but 66 bytes
    assert_eq!(kept_button_index("#2"), Some(2));
    assert_eq!(kept_button_index("yes"), None);
}

proptest! {
    #[test]
    fn only_the_exact_token_is_accepted(given in "[A-Za-z0-9_-]{0,80}") {
        let accepted = TelegramInbound::new(TOKEN)
            .verify(&request(Some(&given), "{}"), Utc::now())
            .is_ok();
        prop_assert_eq!(accepted, given == TOKEN);
    }

    #[test]
    fn parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let request = InboundRequest::post(vec![], body);
        let _ = TelegramInbound::new(TOKEN).parse(&request);
    }

    #[test]
    fn parsing_json_updates_never_panics(id in any::<i64>(), text in "\\PC{0,50}", data in proptest::option::of("\\PC{0,70}")) {
        let body = json!({"update_id": id, "message": {"message_id": 1, "chat": {"id": id}, "text": text}});
        let _ = parse_update(&body);
        let body = json!({"update_id": id, "callback_query": {"id": "q", "from": {"id": 1}, "data": data}});
        let (update_id, event) = parse_update(&body).expect("a valid callback query");
        prop_assert_eq!(update_id, id);
        prop_assert!(event.is_some());
    }
}

#[tokio::test]
async fn buttons_go_as_an_inline_keyboard_and_quick_replies_as_a_reply_keyboard() {
    let fake = Scripted::new(vec![
        answer(200, json!({"ok": true, "result": {"message_id": 41}})),
        answer(200, json!({"ok": true, "result": {"message_id": 42}})),
        answer(200, json!({"ok": true, "result": {"message_id": 43}})),
        answer(200, json!({"ok": true, "result": true})),
    ]);
    let api = TelegramApi::new(TOKEN, Some("http://fake.test/"), fake.clone());
    let to = Recipient::new("1111111");
    let options = vec![
        Button {
            title: "Yes".into(),
            payload: "yes".into(),
        },
        Button {
            title: "Long".into(),
            payload: "p".repeat(80),
        },
    ];
    let buttons = Part::Text {
        text: "Pick".into(),
        choices: Some(Choices {
            style: Style::Buttons,
            options: options.clone(),
        }),
    };
    let receipt = api.send(&to, &buttons).await.unwrap();
    assert_eq!(receipt.external_id.as_deref(), Some("41"));
    let quick = Part::Text {
        text: "Rate".into(),
        choices: Some(Choices {
            style: Style::QuickReplies,
            options,
        }),
    };
    api.send(&to, &quick).await.unwrap();
    let photo = Part::Image(Image {
        url: "https://example.com/a.png".into(),
        alt: "A".into(),
    });
    api.send(&to, &photo).await.unwrap();
    api.send(&to, &Part::Typing).await.unwrap();

    let sent = fake.bodies();
    assert_eq!(
        sent[0].0,
        format!("http://fake.test/bot{TOKEN}/sendMessage")
    );
    assert_eq!(
        sent[0].1,
        json!({"chat_id": "1111111", "text": "Pick", "reply_markup": {"inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}],
            [{"text": "Long", "callback_data": "#1"}],
        ]}})
    );
    assert_eq!(
        sent[1].1["reply_markup"],
        json!({"keyboard": [[{"text": "Yes"}], [{"text": "Long"}]], "one_time_keyboard": true, "resize_keyboard": true})
    );
    assert!(sent[2].0.ends_with("/sendPhoto"));
    assert_eq!(sent[3].1, json!({"chat_id": "1111111", "action": "typing"}));
}

#[tokio::test]
async fn errors_are_sorted_by_what_to_do_next() {
    let fake = Scripted::new(vec![
        answer(
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}),
        ),
        answer(
            401,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
        ),
        answer(
            403,
            json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
        ),
        answer(502, json!({})),
        answer(
            200,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
        ),
        Err(FetchError::Timeout),
        Err(FetchError::Failed(
            format!("error sending request for url (http://x/bot{TOKEN}/sendMessage)").into(),
        )),
    ]);
    let api = TelegramApi::new(TOKEN, Some("http://fake.test"), fake);
    let to = Recipient::new("1");
    let part = Part::Text {
        text: "hi".into(),
        choices: None,
    };
    let mut results = Vec::new();
    for _ in 0..7 {
        results.push(api.send(&to, &part).await.unwrap_err());
    }
    assert!(
        matches!(results[0], ChannelError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7))
    );
    assert!(matches!(results[1], ChannelError::Unauthorized(_)));
    assert!(matches!(&results[2], ChannelError::Permanent(m) if m.contains("blocked")));
    assert!(matches!(results[3], ChannelError::Transient(_)));
    assert!(matches!(&results[4], ChannelError::Permanent(m) if m.contains("chat not found")));
    assert!(results[5].is_retryable());
    let leaked = botbuilder_core::error_chain(&results[6]);
    assert!(!leaked.contains(TOKEN), "{leaked}");
    assert!(leaked.contains("<token>"), "{leaked}");
}

#[tokio::test]
async fn webhook_management_and_long_polling() {
    let fake = Scripted::new(vec![
        answer(
            200,
            json!({"ok": true, "result": {"id": 1, "is_bot": true, "username": "acme_bot"}}),
        ),
        answer(200, json!({"ok": true, "result": true})),
        answer(200, json!({"ok": true, "result": true})),
        answer(
            200,
            json!({"ok": true, "result": [{"update_id": 8, "message": {"message_id": 1, "chat": {"id": 2}, "text": "hi"}}]}),
        ),
        answer(200, json!({"ok": true, "result": true})),
    ]);
    let api = TelegramApi::new(TOKEN, Some("http://fake.test"), fake.clone());
    assert_eq!(api.get_me().await.unwrap(), "acme_bot");
    api.set_webhook("https://bots.example.com/hooks/telegram/c1", "tok")
        .await
        .unwrap();
    api.delete_webhook().await.unwrap();
    let updates = api.get_updates(8, Duration::from_secs(1)).await.unwrap();
    let (id, event) = parse_update(&updates[0]).unwrap();
    assert_eq!((id, event.unwrap().external_user.as_str()), (8, "2"));
    api.answer_callback_query("q1").await.unwrap();
    let sent = fake.bodies();
    assert_eq!(
        sent[1].1,
        json!({"url": "https://bots.example.com/hooks/telegram/c1", "secret_token": "tok", "allowed_updates": ["message", "callback_query"]})
    );
    assert_eq!(sent[3].1["offset"], 8);
    assert_eq!(sent[4].1, json!({"callback_query_id": "q1"}));
}

#[test]
fn secret_tokens_use_the_allowed_alphabet() {
    let a = new_secret_token();
    assert_eq!(a.len(), 48);
    assert!(
        a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    );
    assert_ne!(a, new_secret_token());
}
