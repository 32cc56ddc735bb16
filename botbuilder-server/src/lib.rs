//! # botbuilder-server
//!
//! The reference server of BotBuilder-rs: the HTTP API on axum, authentication (argon2id
//! passwords, short-lived JWTs, rotating refresh cookies, API keys), role-based access per
//! organization, the audit log, OpenAPI at `/api/v1/openapi.json` with docs at `/docs`,
//! Prometheus metrics, and the `botbuilder` command line.
//!
//! ## Layout
//!
//! | module | role |
//! |---|---|
//! | [`config`] | settings: flags > `BOTBUILDER_*` env > TOML > defaults; secrets |
//! | [`state`] | [`AppState`]: the ports handlers use |
//! | [`middleware`] | request ids, tracing, metrics, rate limit, CORS, body limit, audit |
//! | [`extract`] | auth, organization access + permission, validated JSON |
//! | [`routes`] | the handlers and [`routes::build_router`] |
//! | [`auth`] | argon2id and JWT implementations of the core auth ports |
//! | [`edge`] | the accept loop: connection caps, header and idle timeouts |
//! | [`isolation`] | documents parsed in a separate, killable process with limits |
//! | [`credential_source`] | organizations' provider credentials opened for the provider registry |
//! | [`error`] | [`error::ApiError`], rendered as RFC 9457 problem+json |
//! | [`web`] | the web assets of `web/dist`, embedded: the operator console at `/`, the chat widget at `/widget.js` |
//!
//! ## Embedding
//!
//! ```no_run
//! use botbuilder_server::{AppState, Settings, serve};
//!
//! # async fn run() -> anyhow::Result<()> {
//! let settings = Settings::for_tests("sqlite://example.db");
//! let state = AppState::from_settings(&settings).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod access_cache;
pub mod auth;
pub mod chat;
pub mod cli;
pub mod config;
pub mod credential_source;
pub mod demo;
pub mod edge;
pub mod error;
pub mod extract;
pub mod ingest;
pub mod isolation;
pub mod middleware;
pub mod routes;
pub mod shared;
pub mod state;
pub mod web;

use std::future::Future;

pub use config::Settings;

/// The README's Rust snippets, compiled and run as doc tests so they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub use routes::build_router;
pub use state::AppState;

/// Serves the API on `listener` until `shutdown` resolves, then stops accepting connections
/// and gives in-flight requests the state's shutdown grace period
/// ([`state::HttpSettings::shutdown_grace`]) to finish; whatever still runs then (a stalled
/// client, an event stream, an ingestion job) is abandoned, and interrupted jobs are taken up
/// again after their lease by the next start.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Ingestion runs beside the server, one worker per core (chunking and embedding run on
    // blocking threads; documents are parsed in a separate process); an interrupted job is
    // taken up again after its lease.
    let workers: Vec<_> = (0..ingest_workers())
        .map(|_| {
            tokio::spawn(
                state
                    .knowledge
                    .clone()
                    .run_worker(INGEST_IDLE, std::future::pending()),
            )
        })
        .collect();
    // Channel events and deliveries: several workers, because a turn may wait on a language
    // model and a delivery on a chat's rate limit (idle ones cost a queue poll per
    // `CHANNEL_IDLE`); and a poller per Telegram channel without a webhook.
    let mut workers = workers;
    for _ in 0..CHANNEL_WORKERS {
        workers.push(tokio::spawn(state.channel_worker.clone().run(
            CHANNEL_IDLE,
            CHANNEL_SWEEP_EVERY,
            std::future::pending(),
        )));
    }
    workers.push(tokio::spawn(
        state.channel_worker.clone().forward_agent_replies(),
    ));
    // The change bus polls the store's change feed, so changes made elsewhere (another
    // instance, the CLI) reach this instance's caches.
    workers.push(tokio::spawn(
        state
            .changes
            .clone()
            .run(state.change_poll_interval, std::future::pending()),
    ));
    // With Redis, instances announce their changes to each other instead of waiting a poll,
    // and relay web chat replies to the instance holding the visitor's stream.
    workers.push(tokio::spawn(
        state
            .shared
            .clone()
            .run(state.changes.clone(), state.web.clone()),
    ));
    // Customer webhooks: one relay fanning new events out, and workers delivering them (an
    // endpoint has at most two deliveries in flight, each for at most its timeout).
    workers.push(tokio::spawn(state.webhook_worker.clone().run_relay(
        WEBHOOK_RELAY_EVERY,
        CHANNEL_SWEEP_EVERY,
        std::future::pending(),
    )));
    for _ in 0..WEBHOOK_WORKERS {
        workers.push(tokio::spawn(
            state
                .webhook_worker
                .clone()
                .run(WEBHOOK_IDLE, std::future::pending()),
        ));
    }
    match botbuilder_core::store::ChannelRepo::all_channels(state.store.as_ref()).await {
        Ok(channels) => {
            for channel in channels {
                if channel.status == botbuilder_core::domain::ChannelStatus::Polling {
                    spawn_poller(&state, channel.id);
                }
            }
        }
        Err(e) => tracing::warn!("cannot start polling channels: {e}"),
    }
    let grace = state.http.shutdown_grace;
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = {
        let stopping = stopping.clone();
        let streams = state.stopping.clone();
        async move {
            shutdown.await;
            stopping.notify_one();
            streams.notify_waiters();
        }
    };
    let limits = state.http.edge;
    let app = build_router(state);
    let served = edge::serve_connections(listener, app, limits, signal);
    let grace_over = async {
        stopping.notified().await;
        tokio::time::sleep(grace).await;
    };
    let result = tokio::select! {
        served = served => served,
        () = grace_over => {
            tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                "in-flight requests did not finish within the shutdown grace period; stopping anyway"
            );
            Ok(())
        }
    };
    for worker in workers {
        worker.abort();
    }
    result
}

/// Starts long polling for a Telegram channel without a webhook; the task ends when the
/// channel is disconnected.
pub fn spawn_poller(state: &AppState, channel: botbuilder_core::id::ChannelId) {
    let channels = state.channels.clone();
    tokio::spawn(async move { channels.poll(channel, std::future::pending()).await });
}

/// Channel workers a server runs.
pub const CHANNEL_WORKERS: usize = 8;
/// How long a channel worker waits for work when the queue is empty (an accepted event
/// wakes it at once).
pub const CHANNEL_IDLE: std::time::Duration = std::time::Duration::from_secs(1);
/// How often replies whose delivery job was lost are swept up.
pub const CHANNEL_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Webhook delivery workers a server runs.
pub const WEBHOOK_WORKERS: usize = 4;
/// How often new events are fanned out to webhook endpoints.
pub const WEBHOOK_RELAY_EVERY: std::time::Duration = std::time::Duration::from_millis(200);
/// How long a webhook worker waits for work when the queue is empty (the relay wakes it when
/// it enqueues deliveries).
pub const WEBHOOK_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Ingestion workers a server runs: one per core, at most four.
pub fn ingest_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// How long the ingestion worker waits when the queue is empty.
pub const INGEST_IDLE: std::time::Duration = std::time::Duration::from_millis(200);

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled, so a signal arriving between start-up
/// and the first poll (a supervisor stopping a server that just said it listens) is not
/// lost, and does not kill the process with the default disposition. Call it inside the
/// runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let installed = {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)))
    };
    async move {
        #[cfg(unix)]
        match installed {
            Ok((mut terminate, mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {},
                    _ = interrupt.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}
