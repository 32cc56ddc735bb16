//! # botbuilder-providers
//!
//! Language model providers and embedders implementing the ports of `botbuilder-core`.
//!
//! | provider | type | feature |
//! |---|---|---|
//! | model catalog: provider ids, default models, context windows, prices | [`catalog::ModelCatalog`] | always |
//! | offline, deterministic answerer | [`local::LocalProvider`] | `local` (default) |
//! | offline hashed n-gram embedder | [`local::LocalEmbedder`] | `local` (default) |
//! | SSRF-guarded outbound HTTP | [`http::GuardedFetcher`] | `http` (default) |
//! | semantic sentence embedder (all-MiniLM-L6-v2, candle) | `minilm::SentenceEmbedder` | `minilm` |
//! | OpenAI Chat Completions, also any compatible server (Ollama, vLLM, llama.cpp) | [`openai::OpenAiProvider`] | `openai` (default) |
//! | OpenAI-style embeddings | [`openai::OpenAiEmbedder`] | `openai` (default) |
//! | Anthropic Messages | [`anthropic::AnthropicProvider`] | `anthropic` (default) |
//! | timeouts, retries with backoff, error classes, SSE shared by the remote providers | [`remote`] | with either |
//! | the deployment's resolver: provider chains from server-wide and per-organization credentials | [`registry::ProviderRegistry`] | `openai` + `anthropic` + `local` |
//! | fake OpenAI/Anthropic servers and the provider conformance suite | `testing` | `testing` |
//!
//! The `local` backends need no network and no model download, so demos, examples and most
//! tests run anywhere. Remote providers call out through a [`http::GuardedFetcher`], so their
//! base URLs obey the same outbound policy as everything else a tenant can point the platform
//! at; every remote provider passes the same conformance suite
//! (`provider_conformance_suite!`, feature `testing`)
//! against a fake that speaks its documented wire format.
//!
//! ```
//! # tokio_test_block_on(async {
//! use botbuilder_core::embed::Embedder;
//! use botbuilder_providers::local::LocalEmbedder;
//!
//! let embedder = LocalEmbedder::default();
//! let v = embedder.embed_text("refund policy").await.unwrap();
//! assert_eq!(v.len(), embedder.dimensions());
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "anthropic")]
pub mod anthropic;
pub mod catalog;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "minilm")]
pub mod minilm;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(all(feature = "openai", feature = "anthropic", feature = "local"))]
pub mod registry;
#[cfg(feature = "remote")]
pub mod remote;
#[cfg(feature = "testing")]
pub mod testing;
