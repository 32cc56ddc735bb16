//! Language model providers in turns: context windows and cost, fallback chains, broken and
//! abandoned streams, the spend limit, caller-given history.

use super::*;
use crate::llm::LlmProvider;

#[tokio::test]
async fn history_is_fitted_to_the_context_window_and_cost_is_recorded() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Arc::new(InMemoryStore::new(clock.clone()));
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "p@example.com".into(),
                name: "P".into(),
                password_hash: "x".into(),
            },
            NewOrganization { name: "P".into() },
        )
        .await
        .unwrap();
    let bot = store
        .create_bot(
            org.id,
            NewBot {
                name: "Priced".into(),
                ai_config: AiConfig {
                    provider: "openai".into(),
                    model: "gpt-3.5-turbo".into(),
                    max_tokens: 100,
                    ..AiConfig::default()
                },
                ..NewBot::default()
            },
        )
        .await
        .unwrap();
    let llm = Arc::new(ScriptedLlm::with_id("openai").with_model_info(ModelInfo {
        context_window: 16_385,
        price: Some(Price {
            input_per_mtok: 0.5,
            output_per_mtok: 1.5,
        }),
    }));
    let engine = Engine::builder()
        .store(store.clone())
        .provider(llm.clone())
        .clock(clock)
        .config(EngineConfig {
            history_window: 1_000,
            ..EngineConfig::default()
        })
        .build()
        .unwrap();
    let say = |text: String| Inbound {
        org: org.id,
        bot: bot.id,
        channel: "api".into(),
        external_user: "u".into(),
        text,
    };
    // 40 turns of ~300-token messages (24k tokens) against gpt-3.5-turbo's 16,385 window.
    let long = "lorem ipsum ".repeat(150);
    for i in 0..40 {
        llm.push_answer(format!("{i} {long}"));
        engine.handle(say(format!("{i} {long}"))).await.unwrap();
    }
    let last = llm.requests().pop().unwrap();
    let tokens: u32 = last
        .messages
        .iter()
        .map(|m| crate::prompt::count_tokens("gpt-3.5-turbo", &m.content) + 3)
        .sum();
    assert!(
        tokens + 3 + 100 <= 16_385,
        "{tokens} tokens leave room for the answer"
    );
    assert!(last.messages.len() < 79, "older history was dropped");
    assert!(last.messages.len() > 40, "but as much as fits is kept");
    assert!(
        last.messages[last.messages.len() - 2]
            .content
            .starts_with("38 "),
        "newest kept"
    );
    assert!(last.messages.last().unwrap().content.starts_with("39 "));
    let turn = {
        llm.push_answer("ok");
        engine.handle(say("cost?".into())).await.unwrap()
    };
    // ScriptedLlm reports 1 prompt token and 1 word: $0.50/M in, $1.50/M out.
    assert_eq!(turn.usage.prompt_tokens, 1);
    assert_eq!(turn.usage.completion_tokens, 1);
    assert_eq!(turn.cost_micros, 2, "0.5 + 1.5 micro-dollars");
    assert_eq!(turn.replies[0].cost_micros, 2, "stored with the message");
}

/// A bot on `primary` with `backup` as its fallback, both scripted.
async fn chain_world() -> (World, Arc<ScriptedLlm>) {
    let w = world().await;
    let backup = Arc::new(ScriptedLlm::with_id("backup"));
    let engine = Engine::builder()
        .store(w.store.clone())
        .provider(w.llm.clone())
        .provider(backup.clone())
        .clock(w.clock.clone())
        .build()
        .unwrap();
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "scripted".into(),
                    fallback_provider: Some("backup".into()),
                    fallback_model: Some("backup-large".into()),
                    ..AiConfig::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    (World { engine, ..w }, backup)
}

fn transient() -> ProviderError {
    ProviderError::Transient("HTTP 500".into())
}

#[tokio::test]
async fn a_failing_primary_hands_the_answer_to_the_fallback_and_the_reply_says_so() {
    let (w, backup) = chain_world().await;
    w.llm.push_failure(transient());
    backup.push_answer("from the backup");
    let turn = w.say("hello").await;
    assert_eq!(turn.replies[0].text, "from the backup");
    let llm = &turn.replies[0].payload["llm"];
    assert_eq!(llm["provider"], "backup");
    assert_eq!(llm["model"], "backup-large");
    assert_eq!(llm["fallback"], true);
    assert_eq!(
        llm["attempts"],
        json!([{ "provider": "scripted", "model": AiConfig::DEFAULT_MODEL, "error": "transient" }])
    );
    assert_eq!(backup.requests()[0].model, "backup-large");

    // Rate limits and refused credentials also move on; the primary answers when it can.
    w.llm
        .push_failure(ProviderError::RateLimited { retry_after: None });
    backup.push_answer("again the backup");
    assert_eq!(
        w.say("more").await.replies[0].payload["llm"]["fallback"],
        true
    );
    w.llm.push_failure(ProviderError::Unauthorized);
    assert_eq!(
        w.say("more").await.replies[0].payload["llm"]["fallback"],
        true
    );
    let direct = w.say("and now?").await;
    assert_eq!(direct.replies[0].payload["llm"]["provider"], "scripted");
    assert_eq!(direct.replies[0].payload["llm"]["fallback"], false);
    assert!(direct.replies[0].payload["llm"].get("attempts").is_none());
}

#[tokio::test]
async fn when_nothing_can_answer_the_visitor_gets_the_unavailable_message_and_no_error() {
    let (w, backup) = chain_world().await;
    w.llm.push_failure(transient());
    backup.push_failure(ProviderError::Unauthorized);
    let turn = w.say("hello").await;
    assert_eq!(
        turn.replies[0].text,
        BotSettings::DEFAULT_UNAVAILABLE_MESSAGE
    );
    assert_eq!(turn.replies[0].payload["error"], PROVIDER_UNAVAILABLE);
    assert_eq!(
        turn.replies[0].payload["llm"]["attempts"],
        json!([
            { "provider": "scripted", "model": AiConfig::DEFAULT_MODEL, "error": "transient" },
            { "provider": "backup", "model": "backup-large", "error": "unauthorized" },
        ])
    );
    assert_eq!(turn.cost_micros, 0);

    // A request the provider refuses as such is not sent elsewhere.
    w.llm
        .push_failure(ProviderError::Permanent("invalid model".into()));
    let refused = w.say("hello").await;
    assert_eq!(refused.replies[0].payload["error"], PROVIDER_UNAVAILABLE);
    assert_eq!(backup.requests().len(), 1, "the backup was not asked again");

    // The bot's own message, and a provider the deployment does not have.
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "anthropic".into(),
                    ..AiConfig::default()
                }),
                settings: Some(BotSettings {
                    unavailable_message: "We are closed for now.".into(),
                    ..BotSettings::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    w.engine.invalidate_bot(w.bot);
    let closed = w.say("hello").await;
    assert_eq!(closed.replies[0].text, "We are closed for now.");
    assert_eq!(
        closed.replies[0].payload["llm"]["attempts"][0]["error"],
        "unknown_provider"
    );
    let bot = w.store.get_bot(w.org, w.bot).await.unwrap();
    assert_eq!(
        w.engine.provider_status(w.org, &bot.ai_config).await,
        ProviderStatus::UnknownProvider
    );
    assert_eq!(
        w.engine
            .provider_status(
                w.org,
                &AiConfig {
                    provider: "scripted".into(),
                    ..AiConfig::default()
                }
            )
            .await,
        ProviderStatus::Ready
    );
}

#[tokio::test]
async fn a_stream_that_breaks_after_text_keeps_the_text_with_estimated_usage() {
    use futures::StreamExt as _;
    let (w, backup) = chain_world().await;
    let engine = Arc::new(w.engine);
    w.llm.push_broken_stream("half an ", transient());
    let events: Vec<_> = engine
        .handle_stream(Inbound {
            org: w.org,
            bot: w.bot,
            channel: "web".into(),
            external_user: "visitor".into(),
            text: "tell me".into(),
        })
        .collect()
        .await;
    let Some(Ok(TurnEvent::Done(turn))) = events.last() else {
        panic!("the turn completes: {events:?}");
    };
    let reply = &turn.replies[0];
    assert_eq!(reply.text, "half an ");
    assert_eq!(reply.payload["llm"]["usage_estimated"], true);
    assert_eq!(reply.payload["llm"]["interrupted"], "transient");
    assert!(reply.completion_tokens > 0, "estimated, not zero");
    assert!(backup.requests().is_empty(), "shown text is not taken back");

    // Broken before any text: the fallback answers, streamed.
    w.llm.push_failure(transient());
    backup.push_answer("whole answer");
    let events: Vec<_> = engine
        .handle_stream(Inbound {
            org: w.org,
            bot: w.bot,
            channel: "web".into(),
            external_user: "visitor".into(),
            text: "again".into(),
        })
        .collect()
        .await;
    let deltas: String = events
        .iter()
        .filter_map(|e| match e {
            Ok(TurnEvent::TextDelta(d)) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, "whole answer");
}

/// Streams one word, then waits forever; notes when its stream is dropped.
#[derive(Default)]
struct Stalling {
    dropped: Arc<std::sync::atomic::AtomicBool>,
}

struct NoteDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for NoteDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl LlmProvider for Stalling {
    fn id(&self) -> &str {
        "stalling"
    }

    async fn complete(
        &self,
        _req: &crate::llm::ChatRequest,
    ) -> Result<crate::llm::ChatResponse, ProviderError> {
        futures::future::pending().await
    }

    async fn stream(
        &self,
        _req: &crate::llm::ChatRequest,
    ) -> Result<crate::llm::ChatStream, ProviderError> {
        use futures::StreamExt as _;
        let guard = NoteDrop(self.dropped.clone());
        let first =
            futures::stream::iter([Ok(crate::llm::ChatEvent::TextDelta("Once upon ".into()))]);
        let rest = futures::stream::pending().map(move |e| {
            let _keep = &guard;
            e
        });
        Ok(Box::pin(first.chain(rest)))
    }
}

#[tokio::test]
async fn a_listener_that_goes_away_aborts_the_model_call_and_the_turn_is_stored() {
    use futures::StreamExt as _;
    let w = world().await;
    let stalling = Arc::new(Stalling::default());
    let dropped = stalling.dropped.clone();
    let engine = Arc::new(
        Engine::builder()
            .store(w.store.clone())
            .provider(stalling)
            .build()
            .unwrap(),
    );
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "stalling".into(),
                    ..AiConfig::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    let mut events = engine.handle_stream(w.inbound("a story"));
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first, TurnEvent::TextDelta("Once upon ".into()));
    drop(events);
    for _ in 0..100 {
        if dropped.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "upstream dropped"
    );
    let session = w
        .store
        .find_open_session(w.org, w.bot, "web", "visitor")
        .await
        .unwrap()
        .unwrap();
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = w
            .store
            .recent_messages(w.org, session.id, 10)
            .await
            .unwrap();
        if stored.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stored.len(), 2, "the turn is stored: {stored:?}");
    assert_eq!(stored[1].text, "Once upon ");
    assert_eq!(stored[1].payload["llm"]["interrupted"], LISTENER_GONE);
    assert_eq!(stored[1].payload["llm"]["usage_estimated"], true);
}

#[tokio::test]
async fn parallel_turns_cannot_spend_past_the_monthly_limit_by_more_than_one_estimate() {
    use crate::domain::{OrgSettings, OrganizationPatch};
    const PRICE: f64 = 100.0; // micro-dollars per token
    const LIMIT: i64 = 10_000;
    let w = world().await;
    let llm = Arc::new(
        ScriptedLlm::with_id("priced")
            .with_model_info(ModelInfo {
                context_window: 8_192,
                price: Some(Price {
                    input_per_mtok: PRICE,
                    output_per_mtok: PRICE,
                }),
            })
            .with_delay(Duration::from_millis(20)),
    );
    let engine = Arc::new(
        Engine::builder()
            .store(w.store.clone())
            .provider(llm.clone())
            .clock(w.clock.clone())
            .build()
            .unwrap(),
    );
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "priced".into(),
                    max_tokens: 30,
                    ..AiConfig::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    w.store
        .update_org(
            w.org,
            OrganizationPatch {
                settings: Some(OrgSettings {
                    monthly_spend_limit_micros: Some(LIMIT),
                }),
                ..OrganizationPatch::default()
            },
        )
        .await
        .unwrap();
    let twenty_words = "word ".repeat(20);
    for _ in 0..24 {
        llm.push_answer(twenty_words.trim());
    }
    let mut events = engine.subscribe();
    let turns = (0..24).map(|i| {
        let engine = engine.clone();
        let inbound = Inbound {
            external_user: format!("visitor-{i}"),
            ..w.inbound("tell me something")
        };
        tokio::spawn(async move { engine.handle(inbound).await })
    });
    let mut answered = 0;
    let mut refused = 0;
    for turn in futures::future::join_all(turns).await {
        let turn = turn
            .unwrap()
            .expect("a refused call is a reply, not an error");
        let reply = &turn.replies[0];
        if reply.payload["error"] == PROVIDER_UNAVAILABLE {
            assert_eq!(
                reply.payload["llm"]["attempts"][0]["error"],
                "spend_limit_reached"
            );
            assert_eq!(reply.cost_micros, 0);
            refused += 1;
        } else {
            answered += 1;
        }
    }
    let month_start = spend::month_of(w.clock.now());
    let spent = w.store.spend_since(w.org, month_start).await.unwrap();
    // One call costs (1 + 20) tokens at 100 µ$; its worst case is its prompt plus 30 tokens.
    let one_estimate = (20 + 30) * 100;
    assert!(
        answered >= 1 && refused >= 1,
        "{answered} answered, {refused} refused"
    );
    assert!(
        spent <= LIMIT + one_estimate,
        "spent {spent} against {LIMIT}"
    );
    assert_eq!(
        llm.requests().len(),
        answered,
        "refused calls were never made"
    );
    let mut limit_events = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, EngineEvent::SpendLimitReached { .. }) {
            limit_events += 1;
        }
    }
    assert_eq!(limit_events, refused);
    let bot = w.store.get_bot(w.org, w.bot).await.unwrap();
    if spent >= LIMIT {
        assert_eq!(
            engine.provider_status(w.org, &bot.ai_config).await,
            ProviderStatus::SpendLimitReached
        );
    }
}

#[tokio::test]
async fn a_caller_can_give_the_conversation_so_far() {
    use crate::llm::ChatMessage;
    let w = world().await;
    w.say("stored earlier").await;
    let history = vec![
        ChatMessage::system("Answer in French."),
        ChatMessage::user("My name is Ada."),
        ChatMessage::assistant("Hello Ada."),
    ];
    let turn = w
        .engine
        .handle_with_history(w.inbound("What is my name?"), history)
        .await
        .unwrap();
    assert_eq!(turn.replies.len(), 1);
    let sent = w.llm.requests().pop().unwrap();
    let texts: Vec<(ChatRole, &str)> = sent
        .messages
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts[0].1.ends_with("Answer in French."), "{texts:?}");
    assert_eq!(texts[1], (ChatRole::User, "My name is Ada."));
    assert_eq!(texts[2], (ChatRole::Assistant, "Hello Ada."));
    assert_eq!(texts[3], (ChatRole::User, "What is my name?"));
    assert!(
        !texts.iter().any(|(_, t)| t.contains("stored earlier")),
        "the given history replaces the stored one"
    );
}
