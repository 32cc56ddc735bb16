//! Runs the conversation engine inside your own program: no server, no network.
//!
//! ```sh
//! cargo run -p embed-engine
//! ```

use std::sync::Arc;

use botbuilder_core::domain::{NewBot, NewIntent, NewOrganization, NewUser};
use botbuilder_core::engine::{Engine, EngineEvent, Inbound, TurnEvent};
use botbuilder_core::flow::Flow;
use botbuilder_core::store::prelude::*;
use botbuilder_providers::local::LocalProvider;
use botbuilder_store::SqliteStore;
use futures::StreamExt as _;
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // 1. A store (SQLite in memory) with an organization and a bot.
    let store = Arc::new(SqliteStore::in_memory().await?);
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "dev@example.com".into(),
                name: "Dev".into(),
                password_hash: "-".into(),
            },
            NewOrganization {
                name: "Acme".into(),
            },
        )
        .await?;
    let bot = NewBot {
        name: "Shop".into(),
        ..NewBot::default()
    };
    let bot = store.create_bot(org.id, bot).await?;

    // 2. What the bot understands, and how it answers.
    for (name, examples) in [
        (
            "hours",
            [
                "when are you open",
                "opening hours",
                "what time do you close",
            ],
        ),
        (
            "order",
            ["where is my order", "track my package", "order status"],
        ),
        (
            "human",
            [
                "talk to a person",
                "I want a human agent",
                "can I speak to someone",
            ],
        ),
    ] {
        let examples = examples.map(str::to_owned).to_vec();
        store
            .create_intent(
                org.id,
                bot.id,
                NewIntent {
                    name: name.into(),
                    examples,
                },
            )
            .await?;
    }
    let flow = Flow::parse(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "route", "type": "intent_router", "data": {} },
            { "id": "hours", "type": "message", "data": { "text": "We are open 9:00-18:00." } },
            { "id": "ask", "type": "ask", "data": { "prompt": "Your order number?", "variable": "order" } },
            { "id": "tell", "type": "message", "data": { "text": "Order {{order}} ships tomorrow." } },
            { "id": "ai", "type": "ai_answer", "data": {} },
            { "id": "human", "type": "handoff", "data": { "message": "Connecting you to a person." } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "route" },
            { "id": "e2", "source": "route", "sourceHandle": "hours", "target": "hours" },
            { "id": "e3", "source": "route", "sourceHandle": "order", "target": "ask" },
            { "id": "e4", "source": "route", "sourceHandle": "fallback", "target": "ai" },
            { "id": "e5", "source": "ask", "sourceHandle": "valid", "target": "tell" },
            { "id": "e6", "source": "route", "sourceHandle": "human", "target": "human" }
        ]
    }))
    .map_err(|issues| anyhow::anyhow!("invalid flow: {issues:?}"))?;
    store.publish_flow(org.id, bot.id, flow).await?;

    // 3. The engine, and a conversation.
    let engine = Arc::new(
        Engine::builder()
            .store(store)
            .provider(Arc::new(LocalProvider))
            .build()?,
    );
    for text in [
        "when are you open?",
        "where is my order",
        "#1042",
        "can I pay by card?",
    ] {
        let turn = engine
            .handle(Inbound {
                org: org.id,
                bot: bot.id,
                channel: "console".into(),
                external_user: "me".into(),
                text: text.into(),
            })
            .await?;
        println!(
            "> {text}   [intent: {}]",
            turn.intent.as_deref().unwrap_or("none")
        );
        for reply in &turn.replies {
            println!("< {}", reply.text);
        }
    }

    // 4. The same, streamed: the model's answer arrives piece by piece, then the stored turn.
    let mut events = engine.handle_stream(Inbound {
        org: org.id,
        bot: bot.id,
        channel: "console".into(),
        external_user: "me".into(),
        text: "do you ship abroad?".into(),
    });
    println!("> do you ship abroad?");
    let mut streamed = false;
    while let Some(event) = events.next().await {
        match event? {
            TurnEvent::TextDelta(piece) => {
                if !streamed {
                    print!("< ");
                    streamed = true;
                }
                print!("{piece}");
            }
            TurnEvent::Done(turn) if streamed => {
                println!("\n  ({} tokens generated)", turn.usage.completion_tokens);
            }
            TurnEvent::Done(turn) => turn.replies.iter().for_each(|r| println!("< {}", r.text)),
            _ => {}
        }
    }

    // 5. A handoff, in-process: the flow hands the conversation to a person; the agent's
    //    reply is an engine event like any reply (a channel would deliver it); the release
    //    gives the conversation back to the bot.
    let mut live = engine.subscribe();
    let handed = engine
        .handle(Inbound {
            org: org.id,
            bot: bot.id,
            channel: "console".into(),
            external_user: "me".into(),
            text: "I want to talk to a person".into(),
        })
        .await?;
    println!(
        "> I want to talk to a person   [session: {:?}]",
        handed.session.status
    );
    let session = handed.session.id;
    engine
        .agent_reply(
            org.id,
            bot.id,
            session,
            "Hi, Sam here. How can I help?".into(),
            "agent:sam",
        )
        .await?;
    while let Ok(event) = live.try_recv() {
        if let EngineEvent::MessageSent(message) = event {
            println!("< [{}] {}", message.direction.as_str(), message.text);
        }
    }
    let released = engine.release_handoff(org.id, bot.id, session).await?;
    println!("  (released: {:?})", released.status);
    Ok(())
}
