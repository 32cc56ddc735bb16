//! Keeps the engine's bot snapshots fresh: after any successful change under
//! `/api/v1/orgs/{org}/bots/{bot}` (the bot, its intents, entities or flow) the engine forgets
//! that bot, and after an organization is deleted it forgets all of its bots. Done once here,
//! by path, so a new route that changes a bot cannot forget to do it.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use botbuilder_core::id::{BotId, OrgId};
use uuid::Uuid;

use crate::state::AppState;

/// What a successful change at `path` makes stale.
#[derive(Debug, PartialEq, Eq)]
enum Stale {
    Bot(BotId),
    Org(OrgId),
}

fn stale(method: &Method, path: &str) -> Option<Stale> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let mut parts = path.strip_prefix("/api/v1/orgs/")?.split('/');
    let org: Uuid = parts.next()?.parse().ok()?;
    match (parts.next(), parts.next()) {
        (None, None) if *method == Method::DELETE => Some(Stale::Org(org.into())),
        (Some("bots"), Some(bot)) => bot.parse::<Uuid>().ok().map(|b| Stale::Bot(b.into())),
        _ => None,
    }
}

/// The middleware (see the module docs).
pub async fn invalidate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let stale = stale(req.method(), req.uri().path());
    let response = next.run(req).await;
    if response.status().is_success() {
        match stale {
            Some(Stale::Bot(bot)) => state.engine.invalidate_bot(bot),
            Some(Stale::Org(org)) => state.engine.invalidate_org(org),
            None => {}
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_under_a_bot_or_to_an_org_are_stale() {
        let (org, bot) = (Uuid::now_v7(), Uuid::now_v7());
        let base = format!("/api/v1/orgs/{org}/bots/{bot}");
        for path in [
            base.clone(),
            format!("{base}/intents"),
            format!("{base}/flow/publish"),
        ] {
            assert_eq!(
                stale(&Method::PUT, &path),
                Some(Stale::Bot(bot.into())),
                "{path}"
            );
        }
        assert_eq!(stale(&Method::GET, &base), None);
        assert_eq!(
            stale(&Method::DELETE, &format!("/api/v1/orgs/{org}")),
            Some(Stale::Org(org.into()))
        );
        assert_eq!(stale(&Method::PATCH, &format!("/api/v1/orgs/{org}")), None);
        assert_eq!(
            stale(&Method::POST, &format!("/api/v1/orgs/{org}/bots")),
            None
        );
        assert_eq!(stale(&Method::POST, "/api/v1/orgs/x/bots/y"), None);
    }
}
