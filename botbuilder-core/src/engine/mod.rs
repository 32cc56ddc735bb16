//! The conversation engine: one inbound message in, the bot's replies out.
//!
//! Pipeline of [`Engine::handle`]: session (resume by bot, channel and user, or start a new
//! one after the idle timeout) → NLU (intent + entities of the bot) → the inbound message is
//! stored → unless a human agent has the conversation, the flow executor runs (bounded steps
//! per turn) and the AI handler answers where the flow says (or always, for a bot without a
//! published flow) → replies are stored → the session state is saved at the revision it was
//! read (no lost updates) → events are published.
//!
//! The AI handler asks the bot's provider chain ([`crate::llm::ProviderResolver`]: primary,
//! then fallback), with the retrieved sources and the bot's tools; a model's tool calls run
//! through the fetcher for up to `max_tool_steps` rounds; each priced call is first reserved
//! against the organization's monthly spend limit; when nothing can answer, the bot's
//! `unavailable_message` is the reply (never an error). Which provider answered, the tool
//! calls and any failed attempts are recorded on the reply.
//!
//! Beside turns, the engine holds the other conversation use cases, so an embedding program
//! and the HTTP server behave alike: [`Engine::open_conversation`], [`Engine::understand`]
//! (NLU only), [`Engine::agent_reply`] and [`Engine::release_handoff`] (a person's side of a
//! handoff), [`Engine::record_feedback`].
//!
//! Turns of one session are serialized in-process by a per-session lock; across instances the
//! revision check turns a race into [`EngineError::Conflict`] instead of a lost update.

mod answer;
mod builder;
mod call;
mod changes;
mod executor;
mod handoff;
mod open;
mod rag;
mod snapshot;
mod spend;
mod tools;
mod understand;

pub use answer::{LISTENER_GONE, PROVIDER_UNAVAILABLE};
pub use builder::{EngineBuilder, EngineConfig, MissingPart};
pub use rag::{
    NOTHING_FOUND_INSTRUCTIONS, RAG_CONTEXT_SHARE, RAG_MIN_SIMILARITY, RAG_TOP_K, SNIPPET_CHARS,
    SOURCES_INSTRUCTIONS,
};
pub use spend::{SPEND_REFRESH, month_of};
pub use tools::{TOOL_RESULT_BYTES, ToolRun};
pub use understand::Understanding;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::credentials::SecretSource;
use crate::domain::{
    AiConfig, Feedback, Message, MessageDirection, NewMessage, Rating, Session, SessionStatus,
};
use crate::fetch::Fetcher;
use crate::id::{BotId, MessageId, OrgId};
use crate::knowledge::KnowledgeService;
use crate::llm::{ChatMessage, ProviderResolver, ProviderStatus, Usage};
use crate::nlu::{EntityMatch, IntentScore, ModelCache, ModelError};
use crate::store::{Store, StoreError};
use executor::{Effect, FlowFailure, Input};
pub use executor::{MAX_HTTP_REQUESTS_PER_TURN, NOT_UNDERSTOOD};
use snapshot::{BotSnapshot, Snapshots};

/// Flow nodes one turn may execute before it is stopped.
pub const DEFAULT_MAX_STEPS: u32 = 100;
/// Said (once per handoff) to a visitor who writes while a person has the conversation, or at
/// once when a handoff starts without a message of the flow's (payload `"handoff": "waiting"`).
pub const HANDOFF_WAIT_REPLY: &str =
    "A person will answer you here shortly. Your messages are passed on.";
/// Session variable marking that the visitor was told a person will answer.
const HANDOFF_NOTIFIED: &str = "_handoff_notified";
/// The one reply of a turn whose flow hit the step bound (its payload says
/// `"error": "flow_step_limit"`).
pub const FLOW_FAILED_REPLY: &str =
    "Sorry, something went wrong on my side. Please try again, or ask for a person.";
/// The reply of a turn whose flow produced none (payload `"error": "flow_silent"`): a turn is
/// never empty unless a person has the conversation.
pub const NO_REPLY_FALLBACK: &str =
    "Sorry, I can't help with that here. Could you put it another way?";
/// Past messages given to the language model.
pub const DEFAULT_HISTORY_WINDOW: u32 = 10;
/// How long a bot snapshot is reused at most ([`EngineConfig::bot_cache_ttl`]).
pub const DEFAULT_BOT_CACHE_TTL: Duration = Duration::from_secs(60);

/// A message arriving from a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The organization owning the bot.
    pub org: OrgId,
    /// The bot.
    pub bot: BotId,
    /// Channel id (`web`, `api`, `telegram`, ...).
    pub channel: String,
    /// The user's id on the channel.
    pub external_user: String,
    /// What the user wrote (or the title of the button pressed). NUL characters are removed
    /// before the turn (here and from `external_user`): they carry nothing a person wrote,
    /// and Postgres cannot store them.
    pub text: String,
}

/// The result of one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The session (new or resumed).
    pub session: Session,
    /// The stored inbound message.
    pub inbound: Message,
    /// The bot's stored replies, in order (none during a handoff).
    pub replies: Vec<Message>,
    /// The detected intent (`None` below the threshold or without intents).
    pub intent: Option<String>,
    /// The intent ranking.
    pub ranking: Vec<IntentScore>,
    /// The entities found.
    pub entities: Vec<EntityMatch>,
    /// Tokens spent by the language model in this turn.
    pub usage: Usage,
    /// What those tokens cost, in millionths of a US dollar (0 for unpriced models).
    pub cost_micros: i64,
}

/// What a streamed turn ([`Engine::handle_stream`]) reports, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TurnEvent {
    /// A piece of an answer the language model is writing (in order; the whole answer is
    /// also among the replies of `Done`).
    TextDelta(String),
    /// A tool the model called has run.
    Tool(ToolRun),
    /// One reply of the turn is complete (replies complete in order). `streamed`: its text
    /// came as the [`TurnEvent::TextDelta`]s just before; otherwise `text` is new (a flow's
    /// message, an apology, the unavailable message) and a listener shows it now. Like the
    /// deltas, it comes before the turn is stored: if storing fails, the stream ends with the
    /// error instead of `Done`.
    Reply {
        /// The reply's whole text.
        text: String,
        /// Whether the text was streamed as deltas.
        streamed: bool,
    },
    /// The turn is stored; always the last event of a successful turn.
    Done(Box<Turn>),
}

/// The events of a streamed turn; a failure ends the stream.
pub type TurnStream = futures::stream::BoxStream<'static, Result<TurnEvent, EngineError>>;

type DeltaSender = tokio::sync::mpsc::Sender<Result<TurnEvent, EngineError>>;

/// Something that happened, for webhooks, channels and live views.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EngineEvent {
    /// A session started.
    SessionStarted(Session),
    /// A user message was stored.
    MessageReceived(Message),
    /// A bot message was stored.
    MessageSent(Message),
    /// A session was handed to human agents.
    HandoffRequested(Session),
    /// A human agent gave the session back to the bot.
    HandoffReleased(Session),
    /// Someone rated a message.
    FeedbackCreated(Feedback),
    /// A language model call was refused because the organization reached its monthly
    /// spend limit (the conversation got the bot's unavailable message).
    SpendLimitReached {
        /// The organization.
        org: OrgId,
        /// The bot whose turn was refused.
        bot: BotId,
    },
}

/// Why a turn failed. The inbound message is stored before anything that can fail after NLU.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The bot does not exist in this organization.
    #[error("bot not found")]
    BotNotFound,
    /// The session does not exist, or is not the bot's.
    #[error("conversation not found")]
    SessionNotFound,
    /// An agent action on a conversation no person has.
    #[error("the conversation is not handed off")]
    NotHandedOff,
    /// Another turn of the same session won the race; retry.
    #[error("the session changed concurrently; retry")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The bot's NLU data could not be compiled.
    #[error(transparent)]
    Nlu(#[from] ModelError),
    /// Searching the bot's knowledge bases failed.
    #[error("knowledge search failed: {0}")]
    Knowledge(#[source] Box<crate::knowledge::KnowledgeError>),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::Conflict,
            other => Self::Store(other),
        }
    }
}

/// The per-session locks turns and agent actions take.
type SessionLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// The conversation engine (see the module docs). Share it with `Arc`.
pub struct Engine {
    store: Arc<dyn Store>,
    resolver: Arc<dyn ProviderResolver>,
    clock: Arc<dyn Clock>,
    models: Arc<ModelCache>,
    fetcher: Option<Arc<dyn Fetcher>>,
    secrets: Option<Arc<dyn SecretSource>>,
    knowledge: Option<Arc<KnowledgeService>>,
    config: EngineConfig,
    events: broadcast::Sender<EngineEvent>,
    locks: SessionLocks,
    snapshots: Snapshots,
    spend: Arc<spend::SpendGuard>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Whether the primary language model of `config` can be called in `org` (shown on a
    /// bot before anyone writes to it): the resolver's verdict, or `SpendLimitReached` when
    /// the organization used up its monthly limit.
    pub async fn provider_status(&self, org: OrgId, config: &AiConfig) -> ProviderStatus {
        let status = self.resolver.status(org, config).await;
        if status != ProviderStatus::Ready {
            return status;
        }
        let limit = match self.store.get_org(org).await {
            Ok(found) => found.settings.monthly_spend_limit_micros,
            Err(_) => None,
        };
        if let Some(limit) = limit {
            let month = spend::month_of(self.clock.now());
            if self
                .store
                .spend_since(org, month)
                .await
                .is_ok_and(|spent| spent >= limit)
            {
                return ProviderStatus::SpendLimitReached;
            }
        }
        status
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    /// Stores a rating of `message` (replacing an earlier one) and publishes
    /// [`EngineEvent::FeedbackCreated`].
    pub async fn record_feedback(
        &self,
        org: OrgId,
        message: MessageId,
        rating: Rating,
        comment: Option<String>,
    ) -> Result<Feedback, EngineError> {
        let feedback = self
            .store
            .set_feedback(org, message, rating, comment)
            .await?;
        self.publish(EngineEvent::FeedbackCreated(feedback.clone()));
        Ok(feedback)
    }

    /// Drops what the engine remembers about `bot` (settings, NLU models, flows). The change
    /// bus ([`crate::change`]) does it for every recorded change; call it only without one.
    pub fn invalidate_bot(&self, bot: BotId) {
        self.snapshots.invalidate(bot);
    }

    /// [`Engine::invalidate_bot`] for every bot of `org` (its settings changed, or it went).
    pub fn invalidate_org(&self, org: OrgId) {
        self.snapshots.invalidate_org(org);
    }

    async fn snapshot(&self, org: OrgId, bot: BotId) -> Result<Arc<BotSnapshot>, EngineError> {
        let ttl = chrono::TimeDelta::from_std(self.config.bot_cache_ttl)
            .unwrap_or(chrono::TimeDelta::MAX);
        self.snapshots
            .bot(
                self.store.as_ref(),
                &self.models,
                org,
                bot,
                self.clock.now(),
                ttl,
            )
            .await
    }

    fn publish(&self, event: EngineEvent) {
        let _no_listener_is_fine = self.events.send(event);
    }

    /// The lock serializing the turns (and agent actions) of one conversation.
    fn session_lock(
        &self,
        bot: BotId,
        channel: &str,
        external_user: &str,
    ) -> Arc<tokio::sync::Mutex<()>> {
        self.lock_for(&format!("{bot}\u{0}{channel}\u{0}{external_user}"))
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("session locks poisoned");
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// Handles one inbound message (see the module docs).
    pub async fn handle(&self, inbound: Inbound) -> Result<Turn, EngineError> {
        self.handle_with(inbound, None, None).await
    }

    /// Handles one inbound message like [`Engine::handle`], with the conversation so far
    /// given by the caller (oldest first) instead of read from the session: what an
    /// OpenAI-style client sends with every request. System messages among them are added to
    /// the bot's instructions (after its own system prompt); the session still records the
    /// turn.
    pub async fn handle_with_history(
        &self,
        inbound: Inbound,
        history: Vec<ChatMessage>,
    ) -> Result<Turn, EngineError> {
        self.handle_with(inbound, None, Some(history)).await
    }

    /// [`Engine::handle_with_history`], streamed like [`Engine::handle_stream`].
    pub fn handle_stream_with_history(
        self: &Arc<Self>,
        inbound: Inbound,
        history: Vec<ChatMessage>,
    ) -> TurnStream {
        self.spawn_stream(inbound, Some(history))
    }

    /// Handles one inbound message like [`Engine::handle`], reporting the language model's
    /// answer token by token as it is written. The turn is stored even if the stream is
    /// dropped, so a client that goes away never leaves half a turn behind; a language model
    /// answer being written at that moment is cut short (the upstream call is aborted) and
    /// stored as far as it got.
    pub fn handle_stream(self: &Arc<Self>, inbound: Inbound) -> TurnStream {
        self.spawn_stream(inbound, None)
    }

    fn spawn_stream(
        self: &Arc<Self>,
        inbound: Inbound,
        history: Option<Vec<ChatMessage>>,
    ) -> TurnStream {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let engine = self.clone();
        tokio::spawn(async move {
            let result = engine.handle_with(inbound, Some(&tx), history).await;
            let _listener_may_be_gone = tx.send(result.map(|t| TurnEvent::Done(Box::new(t)))).await;
        });
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        }))
    }

    async fn handle_with(
        &self,
        mut inbound: Inbound,
        deltas: Option<&DeltaSender>,
        history: Option<Vec<ChatMessage>>,
    ) -> Result<Turn, EngineError> {
        // Channels hand over what their platform sent; no store keeps NUL.
        inbound.text.retain(|c| c != '\0');
        inbound.external_user.retain(|c| c != '\0');
        let lock = self.session_lock(inbound.bot, &inbound.channel, &inbound.external_user);
        let _serialized = lock.lock().await;
        self.turn(inbound, deltas, history).await
    }

    async fn turn(
        &self,
        inbound: Inbound,
        deltas: Option<&DeltaSender>,
        history: Option<Vec<ChatMessage>>,
    ) -> Result<Turn, EngineError> {
        let (org, bot_id) = (inbound.org, inbound.bot);
        let snapshot = self.snapshot(org, bot_id).await?;
        let bot = &snapshot.bot;
        let session = self.open_session(&snapshot, &inbound).await?;

        // NLU first (pure, in-process), so the stored inbound message carries its result.
        let today = self.clock.now().date_naive();
        let understood = understand::understand(&snapshot, &inbound.text, today);
        let intent = understood.intent.clone();
        let entities = understood.entities;

        let mut message = NewMessage::text(MessageDirection::Inbound, inbound.text.clone());
        message.intent.clone_from(&intent);
        let has_classifier = snapshot.models.classifier.is_some();
        message.confidence = has_classifier.then_some(understood.confidence);
        if !entities.is_empty() {
            message.payload = json!({ "entities": entities });
        }
        let stored_inbound = self.store.append_message(org, session.id, message).await?;
        self.publish(EngineEvent::MessageReceived(stored_inbound.clone()));

        let mut turn = Turn {
            session: session.clone(),
            inbound: stored_inbound,
            replies: Vec::new(),
            intent: intent.clone(),
            ranking: understood.ranking,
            entities,
            usage: Usage::default(),
            cost_micros: 0,
        };
        if session.status == SessionStatus::Handoff {
            return self.turn_during_handoff(turn, deltas).await;
        }

        let mut state = session.state.clone();
        for entity in &turn.entities {
            state
                .variables
                .insert(entity.entity.clone(), entity.value.clone());
        }
        let flow = match session.flow_version {
            Some(version) => Some(
                self.snapshots
                    .flow(self.store.as_ref(), org, bot_id, version)
                    .await?,
            ),
            None => None,
        };
        let (effects, status) = match flow.as_deref() {
            Some(flow) => {
                let input = Input {
                    text: &inbound.text,
                    intent: intent.as_deref(),
                    today,
                };
                let step = executor::run(
                    flow,
                    &mut state,
                    &input,
                    self.config.max_steps,
                    self.fetcher.as_deref(),
                )
                .await;
                if step.step_limit_hit {
                    // Whatever the loop produced is dropped (no repeated output, no model
                    // calls): one apology, the error recorded on it, and the flow starts over
                    // with the next message.
                    tracing::warn!(bot = %bot_id, session = %session.id,
                        "flow stopped after {} steps in one turn", self.config.max_steps);
                    state.current_node = None;
                    (vec![Effect::Failed(FlowFailure::StepLimit)], None)
                } else {
                    (step.effects, step.status)
                }
            }
            None => (vec![Effect::AiAnswer(None)], None),
        };

        let mut replies = Vec::with_capacity(effects.len().max(1));
        for effect in effects {
            let mut streamed = false;
            let reply = match effect {
                Effect::Failed(failure) => {
                    let mut message =
                        NewMessage::text(MessageDirection::Outbound, FLOW_FAILED_REPLY.to_owned());
                    message.payload = json!({ "error": failure.code() });
                    message
                }
                Effect::Say(out) => {
                    let mut message = NewMessage::text(MessageDirection::Outbound, out.text);
                    if !out.buttons.is_empty() {
                        message.payload = json!({ "buttons": out.buttons });
                    }
                    message
                }
                Effect::AiAnswer(instructions) => {
                    let limit = snapshot.org_settings.monthly_spend_limit_micros;
                    let asked = answer::Asked {
                        session: session.id,
                        text: &inbound.text,
                        instructions,
                        history: history.as_deref(),
                    };
                    let (message, was_streamed) = self.ai_answer(bot, limit, asked, deltas).await?;
                    streamed = was_streamed;
                    if let Some(call) = &message.llm {
                        turn.usage.prompt_tokens += call.prompt_tokens;
                        turn.usage.completion_tokens += call.completion_tokens;
                        turn.cost_micros += call.cost_micros;
                    }
                    message
                }
            };
            announce(deltas, &reply, streamed).await;
            replies.push(reply);
        }

        let status = status.unwrap_or(session.status);
        if status == SessionStatus::Handoff {
            handoff::start_handoff(&mut replies, &mut state, deltas).await;
        }
        if replies.is_empty() && status != SessionStatus::Handoff {
            // Never an empty turn: a flow that ends or stops without a word still answers.
            let mut message =
                NewMessage::text(MessageDirection::Outbound, NO_REPLY_FALLBACK.to_owned());
            message.payload = json!({ "error": FlowFailure::Silent.code() });
            announce(deltas, &message, false).await;
            replies.push(message);
        }
        let (saved, stored) = self
            .store
            .complete_turn(org, session.id, session.revision, replies, status, state)
            .await?;
        for message in &stored {
            self.publish(EngineEvent::MessageSent(message.clone()));
        }
        turn.replies = stored;
        if status == SessionStatus::Handoff {
            self.publish(EngineEvent::HandoffRequested(saved.clone()));
        }
        turn.session = saved;
        Ok(turn)
    }
}

/// Tells a streaming listener that `reply` is complete ([`TurnEvent::Reply`]).
async fn announce(deltas: Option<&DeltaSender>, reply: &NewMessage, streamed: bool) {
    if let Some(deltas) = deltas {
        let event = TurnEvent::Reply {
            text: reply.text.clone(),
            streamed,
        };
        let _listener_may_be_gone = deltas.send(Ok(event)).await;
    }
}

#[cfg(test)]
mod tests;
