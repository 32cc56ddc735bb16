use botbuilder_core::channel::{Button, Choices, Image};
use botbuilder_core::fetch::FetchResponse;
use proptest::prelude::*;

use botbuilder_core::fetch::FetchError;

use super::*;
use crate::scripted::{Scripted, answer};

const APP_SECRET: &str = "app-secret";
const PHONE: &str = "106540352242922";

fn inbound() -> WhatsAppInbound {
    WhatsAppInbound::new(APP_SECRET, "verify-me", PHONE)
}

fn signed(body: &str, secret: &str) -> InboundRequest {
    let signature = format!(
        "sha256={}",
        hex(&hmac_sha256(secret.as_bytes(), &[body.as_bytes()]))
    );
    InboundRequest::post(vec![("X-Hub-Signature-256".into(), signature)], body)
}

fn notification(value: Value) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}).to_string()
}

fn events(body: &str) -> Vec<InboundEvent> {
    match inbound().parse(&signed(body, APP_SECRET)) {
        Ok(Parsed::Events(events)) => events,
        other => panic!("{other:?}"),
    }
}

fn metadata() -> Value {
    json!({"display_phone_number": "15550783881", "phone_number_id": PHONE})
}

#[test]
fn the_subscription_handshake_answers_the_challenge_only_with_our_token() {
    let get = |query: &str| InboundRequest {
        method: "GET".into(),
        headers: vec![],
        query: query.into(),
        body: vec![],
    };
    let ok = get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me");
    assert_eq!(inbound().verify(&ok, Utc::now()), Ok(()));
    assert_eq!(
        inbound().parse(&ok),
        Ok(Parsed::Challenge("1158201444".into()))
    );
    let wrong = get("hub.mode=subscribe&hub.challenge=1&hub.verify_token=verify-you");
    assert_eq!(
        inbound().verify(&wrong, Utc::now()),
        Err(VerifyError::Mismatch("hub.verify_token"))
    );
    let no_mode = get("hub.challenge=1&hub.verify_token=verify-me");
    assert!(inbound().verify(&no_mode, Utc::now()).is_err());
}

#[test]
fn the_signature_covers_the_exact_bytes() {
    // Meta signs the escaped form: re-serializing "\u00e9" as "é" would break the signature.
    let body = notification(
        json!({"messaging_product": "whatsapp", "metadata": metadata(), "messages": []}),
    )
    .replace("whatsapp\"", "whatsapp\",\"note\":\"caf\\u00e9\"");
    let now = Utc::now();
    assert_eq!(inbound().verify(&signed(&body, APP_SECRET), now), Ok(()));
    assert_eq!(
        inbound().verify(&signed(&body, "other-secret"), now),
        Err(VerifyError::Mismatch("X-Hub-Signature-256"))
    );
    let mut tampered = signed(&body, APP_SECRET);
    tampered.body.push(b' ');
    assert!(inbound().verify(&tampered, now).is_err());
    let unsigned = InboundRequest::post(vec![], body.clone());
    assert_eq!(
        inbound().verify(&unsigned, now),
        Err(VerifyError::Missing("X-Hub-Signature-256"))
    );
    // Upper-case hex from a proxy is the same signature.
    let mut upper = signed(&body, APP_SECRET);
    upper.headers[0].1 = upper.headers[0]
        .1
        .to_uppercase()
        .replace("SHA256=", "sha256=");
    assert_eq!(inbound().verify(&upper, now), Ok(()));
}

#[test]
fn messages_presses_and_statuses_are_normalized() {
    let body = notification(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "16315551234"}],
        "messages": [
            {"from": "16315551234", "id": "wamid.text", "timestamp": "1683229471", "type": "text", "text": {"body": "Hello"}},
            {"from": "16315551234", "id": "wamid.button", "timestamp": "1683229472", "type": "interactive",
             "context": {"from": "15550783881", "id": "wamid.offered"},
             "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}},
            {"from": "16315551234", "id": "wamid.list", "timestamp": "1683229473", "type": "interactive",
             "interactive": {"type": "list_reply", "list_reply": {"id": "#4", "title": "Fifth", "description": ""}}},
            {"from": "16315551234", "id": "wamid.image", "type": "image", "image": {"id": "media-1", "mime_type": "image/jpeg", "caption": "receipt"}},
            {"from": "16315551234", "id": "wamid.unknown", "type": "reaction", "reaction": {}}
        ],
        "statuses": [{"id": "wamid.sent", "status": "failed", "timestamp": "1", "recipient_id": "16315551234",
                      "errors": [{"code": 131047, "title": "Re-engagement message"}]}]
    }));
    let events = events(&body);
    let kinds: Vec<_> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(events[0].event_id, "wamid.text");
    assert_eq!(events[0].user_name.as_deref(), Some("Kerry Fisher"));
    assert_eq!(events[0].reply_to, Recipient::new("16315551234"));
    assert_eq!(
        kinds[0],
        InboundKind::Text {
            text: "Hello".into()
        }
    );
    assert_eq!(
        kinds[1],
        InboundKind::ButtonPress {
            payload: "yes".into(),
            title: Some("Yes".into()),
            ack: None,
            message_id: Some("wamid.offered".into())
        }
    );
    assert!(matches!(&kinds[2], InboundKind::ButtonPress { payload, .. } if payload == "#4"));
    assert_eq!(
        kinds[3],
        InboundKind::Attachment {
            media: "image".into(),
            reference: "media-1".into(),
            caption: Some("receipt".into())
        }
    );
    assert_eq!(
        kinds[4],
        InboundKind::DeliveryStatus {
            message_id: "wamid.sent".into(),
            status: "failed".into(),
            error: Some("131047: Re-engagement message".into())
        }
    );
    assert_eq!(events[4].event_id, "wamid.sent:failed");
    assert_eq!(events.len(), 5, "the reaction is not an event");
}

#[test]
fn another_phone_numbers_events_and_malformed_bodies() {
    let other = notification(json!({
        "metadata": {"phone_number_id": "999"},
        "messages": [{"from": "1", "id": "wamid.x", "type": "text", "text": {"body": "hi"}}]
    }));
    assert!(events(&other).is_empty());
    for body in [
        "",
        "{}",
        r#"{"object":"page","entry":[]}"#,
        r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":1}]}}]}]}"#,
    ] {
        assert!(
            inbound().parse(&signed(body, APP_SECRET)).is_err(),
            "{body}"
        );
    }
}

proptest! {
    #[test]
    fn only_the_right_signature_is_accepted(body in "\\PC{0,200}", key in "[a-z]{1,20}") {
        let now = Utc::now();
        prop_assert!(inbound().verify(&signed(&body, APP_SECRET), now).is_ok());
        prop_assert_eq!(inbound().verify(&signed(&body, &key), now).is_ok(), key == APP_SECRET);
    }

    #[test]
    fn parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = inbound().parse(&InboundRequest::post(vec![], body));
    }
}

fn sent_id(id: &str) -> Result<FetchResponse, FetchError> {
    answer(
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": "1", "wa_id": "1"}], "messages": [{"id": id}]}),
    )
}

#[tokio::test]
async fn replies_are_text_buttons_lists_and_images() {
    let fake = Scripted::new(vec![
        sent_id("wamid.1"),
        sent_id("wamid.2"),
        sent_id("wamid.3"),
        sent_id("wamid.4"),
    ]);
    let api = WhatsAppApi::new(PHONE, "EAAG-token", Some("http://graph.test"), fake.clone());
    let to = Recipient::new("16315551234");
    let options: Vec<Button> = (0..4)
        .map(|i| Button {
            title: format!("Option {i}"),
            payload: format!("opt{i}"),
        })
        .collect();
    let text = Part::Text {
        text: "Hello".into(),
        choices: None,
    };
    assert_eq!(
        api.send(&to, &text).await.unwrap().external_id.as_deref(),
        Some("wamid.1")
    );
    let buttons = Part::Text {
        text: "Pick".into(),
        choices: Some(Choices {
            style: Style::Buttons,
            options: options[..2].to_vec(),
        }),
    };
    api.send(&to, &buttons).await.unwrap();
    let list = Part::Text {
        text: "Pick".into(),
        choices: Some(Choices {
            style: Style::List,
            options,
        }),
    };
    api.send(&to, &list).await.unwrap();
    api.send(
        &to,
        &Part::Image(Image {
            url: "https://example.com/a.png".into(),
            alt: "A".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        api.send(&to, &Part::Typing).await.unwrap().external_id,
        None
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 4, "typing sends nothing");
    assert_eq!(
        requests[0].url,
        format!("http://graph.test/{API_VERSION}/{PHONE}/messages")
    );
    assert!(
        requests[0]
            .headers
            .contains(&("authorization".into(), "Bearer EAAG-token".into()))
    );
    let sent = fake.bodies();
    assert_eq!(
        sent[0].1,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551234",
               "type": "text", "text": {"body": "Hello", "preview_url": false}})
    );
    assert_eq!(
        sent[1].1["interactive"],
        json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "opt0", "title": "Option 0"}},
            {"type": "reply", "reply": {"id": "opt1", "title": "Option 1"}}]}})
    );
    assert_eq!(sent[2].1["interactive"]["type"], "list");
    assert_eq!(
        sent[2].1["interactive"]["action"]["sections"][0]["rows"][3],
        json!({"id": "opt3", "title": "Option 3"})
    );
    assert_eq!(
        sent[3].1["image"],
        json!({"link": "https://example.com/a.png", "caption": "A"})
    );
}

#[tokio::test]
async fn graph_errors_are_sorted() {
    let error = |status, code: i64, message: &str| {
        answer(
            status,
            json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "x"}}),
        )
    };
    let fake = Scripted::new(vec![
        error(400, 131_047, "Re-engagement message"),
        error(401, 190, "Error validating access token"),
        error(400, 130_429, "Rate limit hit"),
        answer(503, json!({})),
        error(400, 100, "Invalid parameter"),
    ]);
    let api = WhatsAppApi::new(PHONE, "t", Some("http://graph.test"), fake);
    let to = Recipient::new("1");
    let part = Part::Text {
        text: "hi".into(),
        choices: None,
    };
    let mut errors = Vec::new();
    for _ in 0..5 {
        errors.push(api.send(&to, &part).await.unwrap_err());
    }
    assert!(matches!(&errors[0], ChannelError::Permanent(m) if m.starts_with("131047")));
    assert!(matches!(errors[1], ChannelError::Unauthorized(_)));
    assert!(matches!(errors[2], ChannelError::RateLimited { .. }));
    assert!(matches!(errors[3], ChannelError::Transient(_)));
    assert!(matches!(&errors[4], ChannelError::Permanent(m) if m.contains("Invalid parameter")));
}
