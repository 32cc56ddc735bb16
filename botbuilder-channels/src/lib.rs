//! # botbuilder-channels
//!
//! The messaging platforms of BotBuilder-rs, each implementing the two halves of a channel
//! from [`botbuilder_core::channel`]: an [`InboundAdapter`](botbuilder_core::channel::InboundAdapter)
//! that verifies a webhook request against the platform's secret before anything is parsed,
//! and a [`ChannelSender`](botbuilder_core::channel::ChannelSender) that delivers formatted
//! parts. Platform APIs are called through the core [`Fetcher`](botbuilder_core::fetch::Fetcher)
//! port, so they pass the same outbound guard as every other request (a self-hosted or fake
//! server on a private address must be allowed explicitly).
//!
//! | channel | inbound | outbound | feature |
//! |---|---|---|---|
//! | web chat (REST + SSE) | the server's web chat routes | [`web::WebChannel`] (agents' replies to the visitor event stream) | `web` (default) |
//! | Telegram | [`telegram::TelegramInbound`] (secret token) | [`telegram::TelegramApi`] | `telegram` (default) |
//! | WhatsApp Cloud API | [`whatsapp::WhatsAppInbound`] (`X-Hub-Signature-256`, verify token) | [`whatsapp::WhatsAppApi`] | `whatsapp` (default) |
//! | Slack | [`slack::SlackInbound`] (v0 signature, 5-minute window) | [`slack::SlackApi`] | `slack` (default) |
//!
//! [`standard_webhooks`] signs the webhooks sent to customers (Standard Webhooks 1.0):
//! [`standard_webhooks::StandardWebhooks`] is the
//! [`WebhookSigner`](botbuilder_core::webhook::WebhookSigner) the server hands to
//! [`WebhookService`](botbuilder_core::webhook::WebhookService).
//!
//! What each platform can show, and how messages degrade where it cannot, is the table in
//! [`botbuilder_core::channel`].
//!
//! ## Connecting platforms
//!
//! [`platforms()`] gives every platform of the build as a
//! [`ChannelPlatform`](botbuilder_core::channel::ChannelPlatform) (checking credentials,
//! registering webhooks, long polling for Telegram), which
//! [`ChannelService`](botbuilder_core::channel::ChannelService) connects channels with; the
//! server's `/hooks/{type}/{channel}` route and
//! [`ChannelWorker`](botbuilder_core::channel::ChannelWorker) do the rest. Feature `testing`
//! adds [`testing`]: fakes of the Telegram Bot API, the WhatsApp Cloud API and the Slack Web
//! API on localhost, errors included, for tests of the whole path.

#![warn(missing_docs)]

#[cfg(feature = "slack")]
pub use platforms::Slack;
#[cfg(feature = "telegram")]
pub use platforms::Telegram;
#[cfg(feature = "whatsapp")]
pub use platforms::WhatsApp;
pub use platforms::platforms;

mod outbound;
mod platforms;
#[cfg(test)]
mod scripted;
#[cfg(feature = "slack")]
pub mod slack;
pub mod standard_webhooks;
#[cfg(feature = "telegram")]
pub mod telegram;
#[cfg(feature = "testing")]
pub mod testing;
mod verify;
#[cfg(feature = "web")]
pub mod web;
#[cfg(feature = "whatsapp")]
pub mod whatsapp;
