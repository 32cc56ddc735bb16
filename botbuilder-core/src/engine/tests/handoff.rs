//! Handoffs: the reply that starts one, the reminder during one, and a handoff node with
//! nothing to say.

use super::*;

#[tokio::test]
async fn ask_validates_reprompts_and_conditions_route_to_handoff() {
    let w = world().await;
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "hello", "type": "message", "data": { "text": "Welcome!", "buttons": [{ "title": "Help", "payload": "help" }] } },
            { "id": "ask", "type": "ask", "data": { "prompt": "Your email?", "variable": "email",
                "validation": { "type": "builtin", "builtin": "email" }, "retry_prompt": "That is not an email." } },
            { "id": "check", "type": "condition", "data": { "rules": [
                { "handle": "vip", "variable": "email", "op": "contains", "value": "vip" } ] } },
            { "id": "human", "type": "handoff", "data": { "message": "Connecting you, {{email}}." } },
            { "id": "bye", "type": "end", "data": { "message": "Thanks {{email}}!" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "hello" },
            { "id": "e2", "source": "hello", "target": "ask" },
            { "id": "e3", "source": "ask", "sourceHandle": "valid", "target": "check" },
            { "id": "e4", "source": "check", "sourceHandle": "vip", "target": "human" },
            { "id": "e5", "source": "check", "sourceHandle": "fallback", "target": "bye" }
        ]
    }))
    .await;
    let mut events = w.engine.subscribe();

    let first = w.say("hi").await;
    assert_eq!(texts(&first), vec!["Welcome!", "Your email?"]);
    assert_eq!(first.replies[0].payload["buttons"][0]["payload"], "help");
    assert_eq!(first.session.flow_version, Some(1));

    let retry = w.say("not telling").await;
    assert_eq!(texts(&retry), vec!["That is not an email.", "Your email?"]);

    let handed = w.say("VIP@Example.com").await;
    assert_eq!(texts(&handed), vec!["Connecting you, vip@example.com."]);
    assert_eq!(handed.session.status, SessionStatus::Handoff);
    assert_eq!(
        handed.replies[0].payload["handoff"], "waiting",
        "the reply that starts a handoff says so, for the widget"
    );

    // During the handoff the visitor is told, once, that a person will answer; the bot says
    // nothing else, and every message is stored.
    let waiting = w.say("hello?").await;
    assert_eq!(texts(&waiting), vec![HANDOFF_WAIT_REPLY]);
    assert_eq!(
        waiting.replies[0].payload["handoff"], "reminder",
        "a reminder, not a new handoff"
    );
    let silent = w.say("anyone there?").await;
    assert!(silent.replies.is_empty());
    assert_eq!(silent.inbound.text, "anyone there?");
    assert!(
        w.llm.requests().is_empty(),
        "no model call in a scripted flow"
    );

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(match event {
            EngineEvent::SessionStarted(_) => "started",
            EngineEvent::MessageReceived(_) => "received",
            EngineEvent::MessageSent(_) => "sent",
            EngineEvent::HandoffRequested(_) => "handoff",
            EngineEvent::FeedbackCreated(_) => "feedback",
            EngineEvent::SpendLimitReached { .. } => "spend",
            EngineEvent::HandoffReleased(_) => "released",
        });
    }
    assert_eq!(seen.first(), Some(&"started"));
    assert!(seen.contains(&"handoff"));

    let rated = w
        .engine
        .record_feedback(w.org, handed.replies[0].id, Rating::Up, None)
        .await
        .unwrap();
    assert!(matches!(
        events.try_recv(),
        Ok(EngineEvent::FeedbackCreated(f)) if f == rated
    ));

    // The agent answers: stored and published like any reply; then gives the conversation
    // back, and the flow starts over.
    let session = handed.session.id;
    let agent = w
        .engine
        .agent_reply(w.org, w.bot, session, "Sam here.".into(), "user:sam")
        .await
        .unwrap();
    assert_eq!(agent.direction, MessageDirection::Agent);
    assert_eq!(agent.payload["agent"], "user:sam");
    assert!(matches!(events.try_recv(), Ok(EngineEvent::MessageSent(m)) if m == agent));
    let other_bot = BotId::new();
    assert!(matches!(
        w.engine
            .agent_reply(w.org, other_bot, session, "x".into(), "a")
            .await,
        Err(EngineError::SessionNotFound)
    ));
    let released = w
        .engine
        .release_handoff(w.org, w.bot, session)
        .await
        .unwrap();
    assert_eq!(released.status, SessionStatus::Active);
    assert!(matches!(events.try_recv(), Ok(EngineEvent::HandoffReleased(s)) if s == released));
    assert!(matches!(
        w.engine
            .agent_reply(w.org, w.bot, session, "late".into(), "a")
            .await,
        Err(EngineError::NotHandedOff)
    ));
    assert_eq!(texts(&w.say("hi").await), vec!["Welcome!", "Your email?"]);
}

#[tokio::test]
async fn a_handoff_without_a_message_still_tells_the_visitor_once() {
    let w = world().await;
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "human", "type": "handoff", "data": {} }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "human" }]
    }))
    .await;
    let handed = w.say("help").await;
    assert_eq!(handed.session.status, SessionStatus::Handoff);
    assert_eq!(texts(&handed), vec![HANDOFF_WAIT_REPLY]);
    assert_eq!(
        handed.replies[0].payload["handoff"], "waiting",
        "on record, for widgets and analytics"
    );
    let silent = w.say("hello?").await;
    assert!(silent.replies.is_empty(), "told once, not again");
}
