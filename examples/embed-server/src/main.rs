//! Runs the BotBuilder-rs API inside your own axum application, next to your own routes.
//!
//! ```sh
//! cargo run -p embed-server            # then: curl http://127.0.0.1:3000/hello
//! ```
//!
//! The API keeps its own middleware stack (rate limit, CORS, auth, audit); your routes keep
//! yours. Everything is stored in `embedded.db` next to where you run it.

use axum::Router;
use axum::routing::get;
use botbuilder_server::{AppState, Settings, build_router, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // In a real deployment, resolve settings from your own configuration (and keep secrets out
    // of the source). The test settings carry fixed development secrets.
    let settings = Settings::for_tests("sqlite://embedded.db");
    let state = AppState::from_settings(&settings).await?;

    let app = Router::new()
        .route(
            "/hello",
            get(|| async { "hello from the host application" }),
        )
        .merge(build_router(state));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("host app on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}
