//! # botbuilder-channels
//!
//! Messaging channels implementing [`botbuilder_core::channel::Channel`].
//!
//! | channel | type | feature |
//! |---|---|---|
//! | web chat (REST + SSE) | [`web::WebChannel`] | `web` (default) |
//!
//! Telegram, WhatsApp Cloud API and Slack arrive behind their own features, each verifying its
//! platform's webhook signature before anything is parsed.

#![warn(missing_docs)]

#[cfg(feature = "web")]
pub mod web;
