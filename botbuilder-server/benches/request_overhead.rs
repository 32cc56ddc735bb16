//! Per-request overhead of the middleware stack.
//!
//! - `bare_router`: an axum router with one trivial route, no middleware (baseline).
//! - `db_list_bots`: the handler's own database read (`list_bots`) called directly.
//! - `full_stack_list_bots`: an authenticated `GET /api/v1/orgs/{org}/bots` through the whole
//!   router in-process (`oneshot`): request id, tracing, metrics, rate limit, CORS, body limit,
//!   JWT verification, membership + permission check, handler, JSON.
//! - `jwt_verify`: verifying one access token.
//! - `db_get_member`: the membership read the access check makes on a cache miss.
//! - `full_stack_healthz`: an unauthenticated probe through the whole stack.
//!
//! - `stack_overhead_list_bots`: `full_stack_list_bots` minus `db_list_bots`, measured
//!   alternately in one loop so both see the same machine state: the cost of the stack.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use botbuilder_core::domain::{AiConfig, NewBot, NewOrganization, NewUser, PageRequest};
use botbuilder_server::auth::HashCost;
use botbuilder_server::{AppState, Settings, build_router};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

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
    let (state, org, token) = rt.block_on(async {
        let state = AppState::from_settings_with_cost(&settings, HashCost::INSECURE_FOR_TESTS)
            .await
            .unwrap();
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
                description: String::new(),
                ai_config: AiConfig::default(),
            };
            state.store.create_bot(org.id, bot).await.unwrap();
        }
        let token = state.tokens.issue(user.id).unwrap().token;
        (state, org, token)
    });

    let bare = Router::new().route("/bots", get(|| async { "[]" }));
    c.bench_function("bare_router", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/bots").body(Body::empty()).unwrap();
            let res = bare.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_success());
        });
    });

    let store = state.store.clone();
    c.bench_function("db_list_bots", |b| {
        b.to_async(&rt).iter(|| async {
            let page = store
                .list_bots(org.id, PageRequest::default())
                .await
                .unwrap();
            assert_eq!(page.items.len(), 10);
        });
    });

    let member_store = state.store.clone();
    let user_id = rt.block_on(async {
        member_store
            .find_user_by_email("bench@example.com")
            .await
            .unwrap()
            .id
    });
    c.bench_function("db_get_member", |b| {
        b.to_async(&rt).iter(|| async {
            member_store.get_member(org.id, user_id).await.unwrap();
        });
    });

    let app = build_router(state.clone());
    c.bench_function("full_stack_healthz", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/healthz").body(Body::empty()).unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_success());
        });
    });

    let path = format!("/api/v1/orgs/{}/bots", org.id);
    let bearer = format!("Bearer {token}");
    c.bench_function("full_stack_list_bots", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get(&path)
                .header(header::AUTHORIZATION, &bearer)
                .body(Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_success(), "{}", res.status());
        });
    });

    // The same request and the handler's own read, alternated in one loop: what the stack adds.
    c.bench_function("stack_overhead_list_bots", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (app, store, path, bearer) = (&app, &store, &path, &bearer);
            async move {
                let mut full = std::time::Duration::ZERO;
                let mut db = std::time::Duration::ZERO;
                for _ in 0..iters {
                    let start = std::time::Instant::now();
                    store
                        .list_bots(org.id, PageRequest::default())
                        .await
                        .unwrap();
                    db += start.elapsed();
                    let req = Request::get(path.as_str())
                        .header(header::AUTHORIZATION, bearer.as_str())
                        .body(Body::empty())
                        .unwrap();
                    let start = std::time::Instant::now();
                    let res = app.clone().oneshot(req).await.unwrap();
                    assert!(res.status().is_success());
                    full += start.elapsed();
                }
                full.saturating_sub(db)
            }
        });
    });

    let tokens = state.tokens.clone();
    c.bench_function("jwt_verify", |b| {
        b.iter(|| tokens.verify(&token).unwrap());
    });
}

criterion_group!(benches, request_overhead);
criterion_main!(benches);
