//! `botbuilder demo`: a seeded organization, a knowledge base built from the project's own
//! README, and a bot with a small flow that answers from it, offline.

use std::time::Duration;

use anyhow::Context;
use botbuilder_core::domain::{
    AiConfig, DocumentSource, NewBot, NewIntent, NewOrganization, NewUser,
};
use botbuilder_core::flow::Flow;
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::knowledge::Upload;
use serde_json::json;

use crate::state::AppState;

/// The demo login.
pub const DEMO_EMAIL: &str = "demo@example.com";
/// The demo password (the demo runs on a throwaway database).
pub const DEMO_PASSWORD: &str = "demo-password";

/// What the demo created.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The demo organization.
    pub org: OrgId,
    /// The demo bot.
    pub bot: BotId,
}

const README: &str = include_str!("../../README.md");
const FAQ: &str = "# BotBuilder-rs FAQ\n\n\
## Is it offline?\n\nYes. With the default settings the server uses SQLite, an in-process \
cache and queue, and the local provider, so bots answer from their knowledge bases without \
any network or API key.\n\n\
## Which channels are supported?\n\nThe web chat API and the REST API today; Telegram, \
WhatsApp and Slack channels follow.\n\n\
## How do bots cite sources?\n\nEvery answer from a knowledge base carries citations that \
point to the document and the chunk it came from.\n";

/// Seeds the demo into `state`'s store and ingests its documents before returning.
pub async fn seed(state: &AppState) -> anyhow::Result<Demo> {
    let hash = state.hasher.hash(DEMO_PASSWORD).await?;
    let (_, org) = state
        .store
        .create_user_with_org(
            NewUser {
                email: DEMO_EMAIL.to_owned(),
                name: "Demo".to_owned(),
                password_hash: hash,
            },
            NewOrganization {
                name: "Demo".to_owned(),
            },
        )
        .await
        .context("the demo database is not empty")?;
    let kb = state
        .knowledge
        .create_knowledge_base(org.id, "BotBuilder docs".into(), "README and FAQ".into())
        .await?;
    for (title, text) in [("README", README), ("FAQ", FAQ)] {
        let bytes = text.as_bytes().to_vec();
        state
            .knowledge
            .add_document(
                org.id,
                kb.id,
                Upload {
                    title: title.to_owned(),
                    source: DocumentSource::Text,
                    content_type: "text/markdown".to_owned(),
                    content_hash: format!("demo-{title}"),
                    bytes,
                },
            )
            .await?;
    }
    while state.knowledge.work_once().await? {}

    let bot = state
        .store
        .create_bot(
            org.id,
            NewBot {
                name: "Demo bot".to_owned(),
                description: "Answers questions about BotBuilder-rs from its docs".to_owned(),
                ai_config: AiConfig {
                    system_prompt: "You answer questions about BotBuilder-rs.".to_owned(),
                    knowledge_base_ids: vec![kb.id],
                    ..AiConfig::default()
                },
                ..NewBot::default()
            },
        )
        .await?;
    for (name, examples) in [
        ("greet", vec!["hi", "hello", "hey there", "good morning"]),
        (
            "human",
            vec!["talk to a human", "i want an agent", "real person please"],
        ),
    ] {
        let examples = examples.into_iter().map(str::to_owned).collect();
        state
            .store
            .create_intent(
                org.id,
                bot.id,
                NewIntent {
                    name: name.to_owned(),
                    examples,
                },
            )
            .await?;
    }
    let flow = Flow::parse(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "route", "type": "intent_router", "data": {} },
            { "id": "hi", "type": "message", "data": {
                "text": "Hi! Ask me anything about BotBuilder-rs.",
                "buttons": [{ "title": "Is it offline?", "payload": "Is it offline?" }] } },
            { "id": "human", "type": "handoff", "data": { "message": "Connecting you to a person." } },
            { "id": "answer", "type": "ai_answer", "data": {} }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "route" },
            { "id": "e2", "source": "route", "sourceHandle": "greet", "target": "hi" },
            { "id": "e3", "source": "route", "sourceHandle": "human", "target": "human" },
            { "id": "e4", "source": "route", "sourceHandle": "fallback", "target": "answer" }
        ]
    }))
    .map_err(|issues| anyhow::anyhow!("demo flow invalid: {issues:?}"))?;
    state.store.publish_flow(org.id, bot.id, flow).await?;
    Ok(Demo {
        org: org.id,
        bot: bot.id,
    })
}

/// What the demo prints once it serves at `base`.
pub fn instructions(base: &str, demo: &Demo) -> String {
    let bot = demo.bot;
    format!(
        "\nDemo ready at {base} (API docs: {base}/docs)\n\
         login:  {DEMO_EMAIL} / {DEMO_PASSWORD}   (POST {base}/api/v1/auth/login)\n\
         bot id: {bot}\n\
         ask it, offline, with a citation:\n\
         \x20 TOKEN=$(curl -s -X POST {base}/api/v1/webchat/{bot}/sessions | jq -r .session_token)\n\
         \x20 curl -s -X POST {base}/api/v1/webchat/{bot}/messages -H \"authorization: Bearer $TOKEN\" \\\n\
         \x20   -H 'content-type: application/json' -d '{{\"text\":\"Is it offline?\"}}' \\\n\
         \x20   | jq '.replies[0] | {{text, citations: .payload.citations}}'\n"
    )
}

/// How long ingestion of the demo documents may take before the demo gives up.
pub const SEED_TIMEOUT: Duration = Duration::from_secs(120);
