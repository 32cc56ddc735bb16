//! Per-request overhead of the middleware stack.
//!
//! - `bare_router`: an axum router with one trivial route, no middleware (baseline).
//! - `full_stack_healthz`: an unauthenticated probe through the whole stack.
//! - `jwt_verify`: verifying one access token.
//! - `sqlite_list_bots` / `full_stack_list_bots_sqlite`: the handler's own database read
//!   (ten bots from the SQLite file store), and an authenticated
//!   `GET /api/v1/orgs/{org}/bots` through the whole router in-process (`oneshot`): request
//!   id, tracing, metrics, rate limit, CORS, body limit, JWT, membership + permission, handler,
//!   JSON, audit layer.
//! - `sqlite_get_member`: the membership read the access check makes on a cache miss.
//! - `memory_list_bots` / `full_stack_list_bots_memory_store`: the same pair with the
//!   in-memory store, whose read costs almost nothing, so the full-stack figure is the stack's
//!   own cost (plus JSON encoding of the page).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use botbuilder_core::domain::{NewBot, NewOrganization, NewUser, PageRequest};
use botbuilder_core::id::{OrgId, UserId};
use botbuilder_core::store::Store;
use botbuilder_core::testing::InMemoryStore;
use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings, build_router};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// A user owning an organization with ten bots.
async fn seed(state: &AppState) -> (UserId, OrgId, String) {
    let (user, org) = state
        .store
        .create_user_with_org(
            NewUser {
                email: "bench@example.com".into(),
                name: "Bench".into(),
                password_hash: "x".into(),
            },
            NewOrganization {
                name: "Bench".into(),
            },
        )
        .await
        .unwrap();
    for i in 0..10 {
        let bot = NewBot {
            name: format!("bot {i}"),
            ..NewBot::default()
        };
        state.store.create_bot(org.id, bot).await.unwrap();
    }
    let token = state.tokens.issue(user.id).unwrap().token;
    (user.id, org.id, token)
}

/// Benches the store read and the same read through the full stack.
fn pair(c: &mut Criterion, rt: &Runtime, name: &str, state: AppState) {
    let (user, org, token) = rt.block_on(seed(&state));
    let store = state.store.clone();
    c.bench_function(&format!("{name}_list_bots"), |b| {
        b.to_async(rt).iter(|| async {
            let page = store.list_bots(org, PageRequest::default()).await.unwrap();
            assert_eq!(page.items.len(), 10);
        });
    });
    c.bench_function(&format!("{name}_get_member"), |b| {
        b.to_async(rt).iter(|| async {
            store.get_member(org, user).await.unwrap();
        });
    });
    let app = build_router(state);
    let path = format!("/api/v1/orgs/{org}/bots");
    let bearer = format!("Bearer {token}");
    c.bench_function(&format!("full_stack_list_bots_{name}"), |b| {
        b.to_async(rt).iter(|| async {
            let req = Request::get(&path)
                .header(header::AUTHORIZATION, &bearer)
                .body(Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_success(), "{}", res.status());
        });
    });
}

fn request_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ));
    settings.rate_limit_per_minute = u32::MAX;

    let bare = Router::new().route("/bots", get(|| async { "[]" }));
    c.bench_function("bare_router", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/bots").body(Body::empty()).unwrap();
            let res = bare.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_success());
        });
    });

    let sqlite = rt
        .block_on(AppState::from_settings_with_cost(
            &settings,
            HashCost::INSECURE_FOR_TESTS,
        ))
        .unwrap();
    let tokens = sqlite.tokens.clone();
    let token = tokens.issue(UserId::new()).unwrap().token;
    c.bench_function("jwt_verify", |b| {
        b.iter(|| tokens.verify(&token).unwrap());
    });
    let app = build_router(sqlite.clone());
    c.bench_function("full_stack_healthz", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/healthz").body(Body::empty()).unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_success());
        });
    });
    pair(c, &rt, "sqlite", sqlite);

    let memory: Arc<dyn Store> = Arc::new(InMemoryStore::default());
    let state = rt
        .block_on(AppState::with_store(
            memory,
            &settings,
            HashCost::INSECURE_FOR_TESTS,
        ))
        .unwrap();
    pair(c, &rt, "memory", state);
}

criterion_group!(benches, request_overhead);
criterion_main!(benches);
