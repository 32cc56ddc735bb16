use botbuilder_core::channel::{Button, Choices, Style};
use botbuilder_core::fetch::FetchResponse;
use proptest::prelude::*;

use botbuilder_core::fetch::FetchError;

use super::*;
use crate::scripted::{Scripted, answer};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn signed_at(body: &str, at: i64, content_type: &str) -> InboundRequest {
    let timestamp = at.to_string();
    let signature = SlackInbound::new(SECRET).signature(&timestamp, body.as_bytes());
    InboundRequest::post(
        vec![
            ("X-Slack-Request-Timestamp".into(), timestamp),
            ("X-Slack-Signature".into(), signature),
            ("Content-Type".into(), content_type.into()),
        ],
        body,
    )
}

fn signed(body: &str) -> InboundRequest {
    signed_at(body, Utc::now().timestamp(), "application/json")
}

fn events(request: &InboundRequest) -> Vec<InboundEvent> {
    match SlackInbound::new(SECRET).parse(request) {
        Ok(Parsed::Events(events)) => events,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_documented_signature_example_verifies() {
    // api.slack.com/authentication/verifying-requests-from-slack, "a walk-through".
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let request = InboundRequest::post(
        vec![
            ("X-Slack-Request-Timestamp".into(), "1531420618".into()),
            (
                "X-Slack-Signature".into(),
                "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503".into(),
            ),
        ],
        body,
    );
    let at = DateTime::from_timestamp(1_531_420_618 + 10, 0).unwrap();
    assert_eq!(SlackInbound::new(SECRET).verify(&request, at), Ok(()));
}

#[test]
fn wrong_missing_and_stale_signatures_are_refused() {
    let inbound = SlackInbound::new(SECRET);
    let now = Utc::now();
    let body = r#"{"type":"url_verification","challenge":"c"}"#;
    assert_eq!(inbound.verify(&signed(body), now), Ok(()));
    let mut wrong = signed(body);
    wrong.body.extend_from_slice(b" ");
    assert_eq!(
        inbound.verify(&wrong, now),
        Err(VerifyError::Mismatch("X-Slack-Signature"))
    );
    let old = signed_at(body, now.timestamp() - 301, "application/json");
    assert!(matches!(
        inbound.verify(&old, now),
        Err(VerifyError::Stale { age_secs: 301, .. })
    ));
    let future = signed_at(body, now.timestamp() + 400, "application/json");
    assert!(matches!(
        inbound.verify(&future, now),
        Err(VerifyError::Stale { .. })
    ));
    let just_in = signed_at(body, now.timestamp() - 299, "application/json");
    assert_eq!(inbound.verify(&just_in, now), Ok(()));
    let mut unsigned = signed(body);
    unsigned.headers.retain(|(n, _)| n != "X-Slack-Signature");
    assert_eq!(
        inbound.verify(&unsigned, now),
        Err(VerifyError::Missing("X-Slack-Signature"))
    );
    let mut no_time = signed(body);
    no_time
        .headers
        .retain(|(n, _)| n != "X-Slack-Request-Timestamp");
    assert_eq!(
        inbound.verify(&no_time, now),
        Err(VerifyError::Missing("X-Slack-Request-Timestamp"))
    );
}

#[test]
fn url_verification_is_answered() {
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    assert_eq!(
        SlackInbound::new(SECRET).parse(&signed(body)),
        Ok(Parsed::Challenge(
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
        ))
    );
}

fn envelope(event: Value) -> String {
    json!({"token": "z", "team_id": "T123ABC456", "api_app_id": "A123", "type": "event_callback",
           "event_id": "Ev123ABC456", "event_time": 1_515_449_522, "event": event})
    .to_string()
}

#[test]
fn messages_are_answered_in_their_thread_and_bots_are_ignored() {
    let mention = envelope(
        json!({"type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> is it everything?",
                                  "ts": "1515449522.000016", "channel": "C123ABC456", "event_ts": "1515449522000016"}),
    );
    let got = events(&signed(&mention));
    assert_eq!(got[0].event_id, "C123ABC456:1515449522.000016");
    assert_eq!(got[0].external_user, "C123ABC456/1515449522.000016");
    assert_eq!(
        got[0].kind,
        InboundKind::Text {
            text: "is it everything?".into()
        }
    );
    assert_eq!(
        got[0].reply_to,
        Recipient {
            conversation: "C123ABC456".into(),
            thread: Some("1515449522.000016".into())
        }
    );
    let in_thread = envelope(
        json!({"type": "app_mention", "user": "U1", "text": "more", "ts": "2.0", "thread_ts": "1.0", "channel": "C1"}),
    );
    assert_eq!(
        events(&signed(&in_thread))[0].reply_to.thread.as_deref(),
        Some("1.0")
    );
    let direct = envelope(
        json!({"type": "message", "channel_type": "im", "user": "U1", "text": "hi", "ts": "3.0", "channel": "D1"}),
    );
    let got = events(&signed(&direct));
    assert_eq!(
        (
            got[0].external_user.as_str(),
            got[0].reply_to.thread.as_ref()
        ),
        ("D1", None)
    );
    assert_eq!(ChannelKind::Slack.recipient_of("D1"), got[0].reply_to);
    let own = envelope(
        json!({"type": "message", "bot_id": "B1", "text": "I said", "ts": "4.0", "channel": "C1"}),
    );
    assert!(events(&signed(&own)).is_empty());
    let edited = envelope(
        json!({"type": "message", "subtype": "message_changed", "ts": "5.0", "channel": "C1"}),
    );
    assert!(events(&signed(&edited)).is_empty());
    let reaction = envelope(json!({"type": "reaction_added", "user": "U1"}));
    assert!(events(&signed(&reaction)).is_empty());
}

#[test]
fn button_clicks_arrive_form_encoded() {
    let payload = json!({"type": "block_actions", "user": {"id": "U1", "name": "ann"}, "channel": {"id": "C1"},
        "trigger_id": "t", "response_url": "https://hooks.slack.com/actions/x",
        "message": {"ts": "9.0", "thread_ts": "8.0"},
        "actions": [{"action_id": "choice_0", "value": "yes", "text": {"type": "plain_text", "text": "Yes"}, "action_ts": "10.5"}]});
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let request = signed_at(
        &body,
        Utc::now().timestamp(),
        "application/x-www-form-urlencoded",
    );
    assert_eq!(
        SlackInbound::new(SECRET).verify(&request, Utc::now()),
        Ok(())
    );
    let got = events(&request);
    assert_eq!(got[0].event_id, "action:U1:10.5");
    assert_eq!(got[0].external_user, "C1/8.0");
    assert_eq!(
        got[0].reply_to,
        Recipient {
            conversation: "C1".into(),
            thread: Some("8.0".into())
        }
    );
    assert_eq!(
        got[0].kind,
        InboundKind::ButtonPress {
            payload: "yes".into(),
            title: Some("Yes".into()),
            ack: None,
            message_id: Some("9.0".into())
        }
    );
}

#[test]
fn malformed_bodies_are_parse_errors() {
    let inbound = SlackInbound::new(SECRET);
    for body in [
        "",
        "{}",
        r#"{"type":"event_callback"}"#,
        &envelope(json!({"type": "app_mention", "text": "no user"})),
    ] {
        assert!(inbound.parse(&signed(body)).is_err(), "{body}");
    }
    let form = signed_at(
        "nothing=here",
        Utc::now().timestamp(),
        "application/x-www-form-urlencoded",
    );
    assert!(inbound.parse(&form).is_err());
}

proptest! {
    #[test]
    fn only_the_signing_secret_signs(body in "\\PC{0,200}", secret in "[a-z0-9]{1,32}") {
        let now = Utc::now();
        let timestamp = now.timestamp().to_string();
        let mut request = signed(&body);
        request.headers[0].1.clone_from(&timestamp);
        request.headers[1].1 = SlackInbound::new(secret.clone()).signature(&timestamp, body.as_bytes());
        prop_assert_eq!(SlackInbound::new(SECRET).verify(&request, now).is_ok(), secret == SECRET);
    }

    #[test]
    fn parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), form in any::<bool>()) {
        let content_type = if form { "application/x-www-form-urlencoded" } else { "application/json" };
        let request = InboundRequest::post(vec![("content-type".into(), content_type.into())], body);
        let _ = SlackInbound::new(SECRET).parse(&request);
    }
}

fn posted(ts: &str) -> Result<FetchResponse, FetchError> {
    answer(200, json!({"ok": true, "channel": "C1", "ts": ts}))
}

#[tokio::test]
async fn replies_go_in_the_thread_with_escaped_text_and_buttons() {
    let fake = Scripted::new(vec![
        posted("11.0"),
        answer(200, json!({"ok": true, "user_id": "UBOT"})),
    ]);
    let api = SlackApi::new("xoxb-1", Some("http://slack.test/api"), fake.clone());
    let to = Recipient {
        conversation: "C1".into(),
        thread: Some("8.0".into()),
    };
    let part = Part::Text {
        text: "Hi <!channel> & <https://evil.example|bank>".into(),
        choices: Some(Choices {
            style: Style::Buttons,
            options: vec![Button {
                title: "Yes".into(),
                payload: "yes".into(),
            }],
        }),
    };
    assert_eq!(
        api.send(&to, &part).await.unwrap().external_id.as_deref(),
        Some("11.0")
    );
    assert_eq!(api.auth_test().await.unwrap(), "UBOT");
    let requests = fake.requests();
    assert_eq!(requests[0].url, "http://slack.test/api/chat.postMessage");
    assert!(
        requests[0]
            .headers
            .contains(&("authorization".into(), "Bearer xoxb-1".into()))
    );
    let body = &fake.bodies()[0].1;
    let escaped = "Hi &lt;!channel&gt; &amp; &lt;https://evil.example|bank&gt;";
    assert_eq!(
        body,
        &json!({"channel": "C1", "thread_ts": "8.0", "text": escaped, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": escaped}},
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Yes", "emoji": true},
                                              "action_id": "choice_0", "value": "yes"}]}]})
    );
}

#[tokio::test]
async fn ok_false_is_a_failure_even_with_200() {
    let mut limited = answer(429, json!({"ok": false, "error": "ratelimited"}));
    if let Ok(response) = &mut limited {
        response.retry_after = Some(Duration::from_secs(3));
    }
    let fake = Scripted::new(vec![
        limited,
        answer(200, json!({"ok": false, "error": "invalid_auth"})),
        answer(200, json!({"ok": false, "error": "channel_not_found"})),
        answer(500, json!({})),
    ]);
    let api = SlackApi::new("xoxb-1", Some("http://slack.test/api"), fake);
    let to = Recipient::new("C1");
    let part = Part::Text {
        text: "hi".into(),
        choices: None,
    };
    let mut errors = Vec::new();
    for _ in 0..4 {
        errors.push(api.send(&to, &part).await.unwrap_err());
    }
    assert!(
        matches!(errors[0], ChannelError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3))
    );
    assert!(matches!(errors[1], ChannelError::Unauthorized(_)));
    assert!(matches!(&errors[2], ChannelError::Permanent(m) if m == "channel_not_found"));
    assert!(matches!(errors[3], ChannelError::Transient(_)));
}

#[test]
fn escaped_text_longer_than_a_section_takes_several_never_cutting_an_entity() {
    let text = "a&".repeat(1000) + "b";
    let escaped = escape(&text);
    let pieces = sections(&escaped, 3000);
    assert!(pieces.len() > 1);
    assert!(pieces.iter().all(|p| p.chars().count() <= 3000));
    assert_eq!(pieces.concat(), escaped);
    for piece in &pieces {
        let tail = &piece[piece.rfind('&').unwrap_or(0)..];
        assert!(
            tail.contains(';') || !tail.starts_with('&'),
            "cut inside an entity: {tail}"
        );
    }
    let shown = blocks(&text, None);
    assert_eq!(shown.len(), pieces.len());
}

#[test]
fn channel_chatter_and_the_message_beside_a_mention_are_not_for_the_bot() {
    let echo = envelope(
        json!({"type": "message", "channel_type": "channel", "user": "U1",
        "text": "<@U0LAN0Z89> hi", "ts": "2.0", "channel": "C1"}),
    );
    assert!(events(&signed(&echo)).is_empty());
    let mention = envelope(
        json!({"type": "app_mention", "user": "U1", "text": "<@U0LAN0Z89> hi",
        "ts": "2.0", "channel": "C1"}),
    );
    let direct = envelope(
        json!({"type": "message", "channel_type": "im", "user": "U1", "text": "hi",
        "ts": "2.0", "channel": "D1"}),
    );
    // One message, whichever event carries it, has one id.
    assert_eq!(events(&signed(&mention))[0].event_id, "C1:2.0");
    assert_eq!(events(&signed(&direct))[0].event_id, "D1:2.0");
}
