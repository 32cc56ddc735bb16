//! One conversation turn in-process: the engine with the SQLite file store, a flow with a
//! message and an intent router, three intents, the offline local provider.
//!
//! `turn_sqlite_file` is the time per turn (turns/s = 1 / time); `turn_in_memory` is the same
//! turn on the in-memory store, the engine's own cost without I/O.

use std::sync::Arc;

use botbuilder_core::domain::{NewBot, NewIntent, NewOrganization, NewUser};
use botbuilder_core::engine::{Engine, Inbound};
use botbuilder_core::flow::Flow;
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::Store;
use botbuilder_core::testing::InMemoryStore;
use botbuilder_providers::local::LocalProvider;
use botbuilder_store::SqliteStore;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

async fn seed(store: Arc<dyn Store>) -> (Engine, OrgId, BotId) {
    let email = format!("bench-{}@example.com", uuid::Uuid::now_v7());
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email,
                name: "B".into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: "B".into() },
        )
        .await
        .unwrap();
    let bot = store
        .create_bot(
            org.id,
            NewBot {
                name: "B".into(),
                ..NewBot::default()
            },
        )
        .await
        .unwrap();
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
        ("hello", ["hi", "hello there", "good morning"]),
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
            .await
            .unwrap();
    }
    let flow = Flow::parse(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "hi", "type": "message", "data": { "text": "Hi {{name}}!" } },
            { "id": "route", "type": "intent_router", "data": {} },
            { "id": "hours", "type": "message", "data": { "text": "We open at 9." } },
            { "id": "other", "type": "message", "data": { "text": "Ask me about our hours." } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "hi" },
            { "id": "e2", "source": "hi", "target": "route" },
            { "id": "e3", "source": "route", "sourceHandle": "hours", "target": "hours" },
            { "id": "e4", "source": "route", "sourceHandle": "fallback", "target": "other" }
        ]
    }))
    .unwrap();
    store.publish_flow(org.id, bot.id, flow).await.unwrap();
    let engine = Engine::builder()
        .store(store)
        .provider(Arc::new(LocalProvider))
        .build()
        .unwrap();
    (engine, org.id, bot.id)
}

fn bench_turns(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: Arc<dyn Store>) {
    let (engine, org, bot) = rt.block_on(seed(store));
    let mut i = 0u64;
    c.bench_function(name, |b| {
        b.to_async(rt).iter(|| {
            i += 1;
            // 100 web users taking turns, so sessions grow like real ones.
            let inbound = Inbound {
                org,
                bot,
                channel: "web".into(),
                external_user: format!("user-{}", i % 100),
                text: "when are you open?".into(),
            };
            let engine = &engine;
            async move {
                let turn = engine.handle(inbound).await.unwrap();
                assert_eq!(turn.replies.len(), 2);
            }
        });
    });
}

/// Throughput with `width` users taking turns at once: one iteration is `width` turns, so
/// turns/s = width / time.
fn bench_concurrent_turns(
    c: &mut Criterion,
    name: &str,
    rt: &tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    width: usize,
) {
    let (engine, org, bot) = rt.block_on(seed(store));
    let engine = Arc::new(engine);
    let mut round = 0u64;
    c.bench_function(name, |b| {
        b.to_async(rt).iter(|| {
            round += 1;
            let tasks: Vec<_> = (0..width)
                .map(|u| {
                    let engine = engine.clone();
                    let inbound = Inbound {
                        org,
                        bot,
                        channel: "web".into(),
                        external_user: format!("user-{u}-{}", round % 10),
                        text: "when are you open?".into(),
                    };
                    tokio::spawn(async move { engine.handle(inbound).await.unwrap() })
                })
                .collect();
            async move {
                for task in tasks {
                    assert_eq!(task.await.unwrap().replies.len(), 2);
                }
            }
        });
    });
}

fn turns(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("turns.db").display());
    let sqlite: Arc<dyn Store> = Arc::new(rt.block_on(SqliteStore::connect(&url)).unwrap());
    bench_turns(c, "turn_sqlite_file", &rt, sqlite.clone());
    bench_concurrent_turns(c, "turn_sqlite_file_16_users_at_once", &rt, sqlite, 16);
    bench_turns(c, "turn_in_memory", &rt, Arc::new(InMemoryStore::default()));
}

criterion_group!(benches, turns);
criterion_main!(benches);
