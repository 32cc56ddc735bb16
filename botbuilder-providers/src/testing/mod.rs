//! Fakes of the remote APIs and the provider conformance suite (feature `testing`).
//!
//! - [`FakeServer`]: a scripted HTTP server on 127.0.0.1 that controls every byte.
//! - [`wire`]: how OpenAI and Anthropic write answers, streams and errors.
//! - [`suite`]: the clauses every provider must pass, expanded into tests by
//!   [`crate::provider_conformance_suite!`].

pub mod fake_server;
pub mod suite;
pub mod wire;

pub use fake_server::{FakeServer, Recorded, Step, StreamEnd};
pub use wire::{AnthropicWire, OpenAiWire, ScriptedAnswer, ScriptedCall, Wire};
