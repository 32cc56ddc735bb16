//! The audit layer: every successful mutating request inside an organization is appended to
//! that organization's audit log, after the handler ran and before the response leaves.
//! Conversation turns are the exception ([`super::ConversationTurn`]): they are conversation,
//! not administration, and the transcript is their record; unless the handler says otherwise
//! with an [`AuditRecord`] (a member writing into a web or Telegram user's conversation).

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponseParts, Response, ResponseParts};
use botbuilder_core::domain::{Actor, NewAuditEntry};
use botbuilder_core::id::OrgId;
use serde_json::Value;

use super::client_ip;
use crate::state::AppState;

/// Filled by [`crate::extract::OrgAccess`] with the organization and actor of the request.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Option<(OrgId, Actor)>>>);

impl AuditSlot {
    /// Attributes the request to `org` and `actor`.
    pub fn attribute(&self, org: OrgId, actor: Actor) {
        *self.0.lock().expect("audit slot poisoned") = Some((org, actor));
    }

    fn get(&self) -> Option<(OrgId, Actor)> {
        *self.0.lock().expect("audit slot poisoned")
    }
}

/// What a handler says about the change it made; returned as a response part. Requests
/// without one are still audited, with `METHOD /matched/path` as the action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    action: &'static str,
    target: Option<(&'static str, String)>,
    details: Value,
    attribution: Option<(OrgId, Actor)>,
}

impl AuditRecord {
    /// A record of `action` (`bot.create`, `member.remove`, ...).
    pub fn new(action: &'static str) -> Self {
        Self {
            action,
            target: None,
            details: Value::Object(Default::default()),
            attribution: None,
        }
    }

    /// The affected object.
    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target = Some((kind, id.to_string()));
        self
    }

    /// Extra facts (never secrets).
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Attributes the change explicitly (for routes outside `/orgs/{org}`, like sign-up).
    pub fn attributed(mut self, org: OrgId, actor: Actor) -> Self {
        self.attribution = Some((org, actor));
        self
    }
}

impl IntoResponseParts for AuditRecord {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware function (see module docs).
pub async fn audit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !is_mutating(req.method()) {
        return next.run(req).await;
    }
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let fallback_action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or_else(|| req.uri().path(), MatchedPath::as_str)
    );
    let ip = client_ip(&req, state.http.trusted_proxies);
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let mut res = next.run(req).await;
    // A turn is audited only when its handler says it is more than a turn (an AuditRecord).
    let turn = res.extensions().get::<super::ConversationTurn>().is_some()
        && res.extensions().get::<AuditRecord>().is_none();
    if !res.status().is_success() || turn {
        return res;
    }
    let record = res.extensions_mut().remove::<AuditRecord>();
    let attribution = record
        .as_ref()
        .and_then(|r| r.attribution)
        .or_else(|| slot.get());
    let Some((org, actor)) = attribution else {
        return res;
    };
    let (action, target, details) = match record {
        Some(r) => (r.action.to_owned(), r.target, r.details),
        None => (fallback_action, None, Value::Object(Default::default())),
    };
    let (target_type, target_id) =
        target.map_or((None, None), |(k, id)| (Some(k.to_owned()), Some(id)));
    let entry = NewAuditEntry {
        actor,
        action,
        target_type,
        target_id,
        details,
        ip,
        request_id,
    };
    if let Err(e) = state.store.append_audit(org, entry).await {
        // The organization itself may just have been deleted (its log with it).
        tracing::warn!(error = %e, %org, "audit entry not written");
    }
    res
}
