//! The visitor event stream: an agent's reply reaches the web chat visitor through the web
//! channel, only that visitor, and a reconnect with `Last-Event-ID` gets what it missed.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Account, TestApp, email, handoff_bot, visitor_token};

/// An open `text/event-stream` response, read event by event.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, bot: &str, token: &str, last_event_id: Option<&str>) -> Self {
        let mut request = app
            .http
            .get(app.url(&format!("/api/v1/webchat/{bot}/events")))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's id, name and data (keep-alive comments skipped).
    async fn next(&mut self) -> (String, String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(str::to_owned)
                };
                if let (Some(event), Some(data)) = (field("event: "), field("data: ")) {
                    let id = field("id: ").unwrap_or_default();
                    return (id, event, serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .expect("an event within 30 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The visitor says hello and is handed over; returns their session id (the newest
/// conversation in handoff).
async fn handed_over(app: &TestApp, owner: &Account, bot: &str, token: &str) -> String {
    let turn = app
        .call(
            Method::POST,
            &format!("/api/v1/webchat/{bot}/messages"),
            Some(token),
            Some(json!({ "text": "hello" })),
        )
        .await;
    assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
    let waiting = app
        .get(
            &format!(
                "/api/v1/orgs/{}/bots/{bot}/conversations?status=handoff",
                owner.org_id
            ),
            &owner.token,
        )
        .await;
    waiting.json["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn agent_says(app: &TestApp, owner: &Account, bot: &str, session: &str, text: &str) {
    let replied = app
        .post(
            &format!(
                "/api/v1/orgs/{}/bots/{bot}/conversations/{session}/handoff/reply",
                owner.org_id
            ),
            &owner.token,
            json!({ "text": text }),
        )
        .await;
    assert!(replied.status.is_success(), "{}", replied.text);
}

#[tokio::test]
async fn agent_replies_reach_only_their_visitor_and_survive_a_reconnect() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("web-events")).await;
    let bot = handoff_bot(&app, &owner, "A person will reply.").await;
    let (ann, bob) = (
        visitor_token(&app, &bot).await,
        visitor_token(&app, &bot).await,
    );
    let ann_session = handed_over(&app, &owner, &bot, &ann).await;
    let bob_session = handed_over(&app, &owner, &bot, &bob).await;
    assert_ne!(ann_session, bob_session);
    let mut ann_events = EventStream::open(&app, &bot, &ann, None).await;
    let mut bob_events = EventStream::open(&app, &bot, &bob, None).await;

    agent_says(&app, &owner, &bot, &ann_session, "Hi Ann, how can I help?").await;
    agent_says(&app, &owner, &bot, &bob_session, "Hi Bob!").await;
    let (first_id, name, data) = ann_events.next().await;
    assert_eq!(name, "message");
    assert_eq!(data["type"], "text");
    assert_eq!(data["text"], "Hi Ann, how can I help?");
    assert_eq!(data["session_id"], ann_session.as_str());
    let (_, _, bobs) = bob_events.next().await;
    assert_eq!(
        bobs["text"], "Hi Bob!",
        "a visitor's stream carries only their own conversation"
    );

    // Ann's stream drops; a reply meanwhile arrives when she reconnects from her last id.
    drop(ann_events);
    agent_says(
        &app,
        &owner,
        &bot,
        &ann_session,
        "Your refund is on its way.",
    )
    .await;
    let mut resumed = EventStream::open(&app, &bot, &ann, Some(&first_id)).await;
    let (id, _, missed) = resumed.next().await;
    assert_eq!(missed["text"], "Your refund is on its way.");
    let seq = |id: &str| id.split_once('.').unwrap().1.parse::<u64>().unwrap();
    assert!(seq(&id) > seq(&first_id), "{first_id} then {id}");

    // An id from before a restart (another epoch) starts from now: nothing is replayed, and
    // the next reply arrives.
    let (epoch, _) = first_id.split_once('.').unwrap();
    let stale = format!(
        "{}.1",
        if epoch.starts_with('0') { "1" } else { "0" }.repeat(16)
    );
    let mut fresh = EventStream::open(&app, &bot, &ann, Some(&stale)).await;
    agent_says(&app, &owner, &bot, &ann_session, "Anything else?").await;
    let (_, _, next) = fresh.next().await;
    assert_eq!(next["text"], "Anything else?");

    // The stream is the visitor's own: no token, or another bot's token, is refused.
    let other = app.create_bot(&owner, &owner.org_id, "Other").await;
    let foreign = visitor_token(&app, &other).await;
    for token in [None, Some(foreign.as_str())] {
        let mut request = app
            .http
            .get(app.url(&format!("/api/v1/webchat/{bot}/events")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
}
