//! # botbuilder-core
//!
//! The heart of BotBuilder-rs: domain types, the *ports* (traits) every backend implements,
//! the rules data must satisfy, the NLU, flows, knowledge retrieval and the conversation
//! engine. This crate performs no I/O and depends on no database, HTTP client or web
//! framework; backends live in `botbuilder-store`, `botbuilder-providers` and
//! `botbuilder-channels`, and the reference server in `botbuilder-server` wires them together.
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`id`] | UUIDv7 id newtypes (`OrgId`, `BotId`, ...) |
//! | [`domain`] | organizations, users, roles and permissions, API keys, bots, audit entries |
//! | [`validate`] | the rules every way data enters must pass (bots, intents, entities), with field paths |
//! | [`store`] | repository traits ([`store::Store`] bundles them) and [`store::StoreError`] |
//! | [`auth`] | [`auth::PasswordHasher`] and [`auth::TokenIssuer`] |
//! | [`llm`] / [`embed`] | [`llm::LlmProvider`], [`llm::ProviderResolver`] (provider chains) and [`embed::Embedder`] |
//! | [`channel`] | a messaging platform's two halves ([`channel::InboundAdapter`], [`channel::ChannelSender`]) and the one formatter ([`channel::format()`]) |
//! | [`change`] | the change bus: configuration changes recorded by the store, delivered to every cache on every instance |
//! | [`cache`], [`rate_limit`], [`queue`] | infrastructure ports with in-process and Redis backends |
//! | [`clock`] | [`clock::Clock`], so tests control time |
//! | [`nlu`] | intent classification and entity extraction, trained in process |
//! | [`flow`], [`template`] | conversation flows, their validation, `{{var}}` templates |
//! | [`knowledge`] | documents to chunks ([`knowledge::DocumentExtractor`]), keyword/vector/hybrid search |
//! | [`prompt`] | prompts fitted to a model's context window |
//! | [`engine`] | the conversation engine: session, NLU, flow, AI answer, persistence |
//! | [`analytics`] | a bot's conversations, messages, users, intents, fallbacks, handoffs, feedback, response time and spend, by hour or day, computed by the store's SQL |
//! | [`fetch`] | [`fetch::Fetcher`], the one port for outbound HTTP |
//! | [`secrets`] | [`secrets::SecretCipher`]: secrets sealed at rest, bound to their row |
//! | [`credentials`] | organizations' provider credentials and named secrets (tool headers): checked, sealed, masked, rotated |
//! | [`webhook`] | customers' webhook endpoints: events recorded with each change, signed (Standard Webhooks), delivered in order per conversation with retries |
//! | `testing` | fakes and conformance suites (feature `test-utils`) |
//!
//! ## Tenancy
//!
//! Every tenant-scoped repository method takes the [`id::OrgId`] it acts in, and a row of
//! another organization is indistinguishable from a missing one ([`store::StoreError::NotFound`]).
//!
//! ## Example: using a store through the ports
//!
//! ```
//! use botbuilder_core::domain::{NewBot, PageRequest};
//! use botbuilder_core::id::OrgId;
//! use botbuilder_core::store::{Store, StoreResult};
//!
//! /// Creates a bot and returns how many bots the organization now has.
//! async fn add_bot(store: &dyn Store, org: OrgId) -> StoreResult<usize> {
//!     let bot = NewBot { name: "Support".into(), ..NewBot::default() };
//!     store.create_bot(org, bot).await?;
//!     Ok(store.list_bots(org, PageRequest::default()).await?.items.len())
//! }
//! ```
//!
//! ## Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `test-utils` | no | [`testing`](crate::testing): `ManualClock`, `ScriptedLlm`, the store conformance suite |
//! | `html` | no | HTML documents in knowledge bases (`scraper` + `html2text`) |
//! | `pdf` | no | PDF documents in knowledge bases (`pdf-extract`, guarded against bombs and panics) |

#![deny(missing_docs)]

pub mod analytics;
pub mod auth;
pub mod cache;
pub mod change;
pub mod channel;
pub mod clock;
pub mod credentials;
pub mod domain;
pub mod embed;
pub mod engine;
pub mod fetch;
pub mod flow;
pub mod id;
pub mod knowledge;
pub mod llm;
pub mod nlu;
pub mod prompt;
pub mod queue;
pub mod rate_limit;
pub mod secrets;
pub mod store;
pub mod template;
pub mod validate;
pub mod webhook;

#[cfg(any(test, feature = "test-utils"))]
pub mod testing;

/// A boxed error for `#[source]` fields: the backend-specific cause of a port error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error with its causes, for people and logs: "transient provider error: connection
/// refused" (a cause already at the end of the text is not repeated).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
