//! Completes the generated OpenAPI document with what every route can answer beyond its own
//! annotations: the errors of the middleware and extractors in front of it, as
//! `application/problem+json` (RFC 9457), the web chat session-token security, and the
//! `text/event-stream` form of the message routes.
//!
//! | route has | it can also answer |
//! |---|---|
//! | anything | 429 (rate limits; not the probes), 500, 503 |
//! | bearer security | 401 |
//! | `{org}` in the path | 403 (not a member, missing permission) |
//! | a path parameter | 400 (not an id), 404 |
//! | a request body | 400 (invalid), 413 (too large), 415 (not JSON) |
//!
//! Annotated error responses declaring `body = Problem` get the problem media type. A test
//! calls every route in every way the API tests know and checks each status and media type
//! it gets is documented here.

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi as OpenApiDoc;

const PROBLEM_JSON: &str = "application/problem+json";
const PROBLEM_REF: &str = "#/components/schemas/Problem";
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];
/// Routes that are never rate limited.
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

fn problem_content() -> Value {
    json!({ PROBLEM_JSON: { "schema": { "$ref": PROBLEM_REF } } })
}

/// Moves `application/json` bodies that are problems to the problem media type.
fn problem_media_type(response: &mut Value) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    let is_problem = content
        .get("application/json")
        .and_then(|c| c.pointer("/schema/$ref"))
        .and_then(Value::as_str)
        == Some(PROBLEM_REF);
    if is_problem && let Some(json) = content.remove("application/json") {
        content.insert(PROBLEM_JSON.to_owned(), json);
    }
}

fn add_problem(responses: &mut Map<String, Value>, status: u16, description: &str) {
    responses
        .entry(status.to_string())
        .or_insert_with(|| json!({ "description": description, "content": problem_content() }));
}

/// Completes one operation (see the module docs).
fn complete_operation(path: &str, method: &str, operation: &mut Value) {
    let has_body = operation.get("requestBody").is_some();
    let bearer = operation["security"]
        .as_array()
        .is_some_and(|list| list.iter().any(|s| s.get("bearer").is_some()));
    let webchat_session = path.starts_with("/api/v1/webchat/") && !path.ends_with("/sessions");
    if webchat_session {
        operation["security"] = json!([{ "webchat_session": [] }]);
    }
    let has_params = path.contains('{');
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for response in responses.values_mut() {
        problem_media_type(response);
    }
    if !PROBES.contains(&path) {
        add_problem(responses, 429, "Rate limited (see `Retry-After`)");
    }
    add_problem(responses, 500, "Internal error");
    add_problem(responses, 503, "A dependency (the database) is unavailable");
    if bearer || webchat_session {
        add_problem(responses, 401, "Missing, invalid or expired credentials");
    }
    if path.contains("{org}") {
        add_problem(
            responses,
            403,
            "Not a member of the organization, or a permission is missing",
        );
    }
    if has_params {
        add_problem(responses, 400, "A path parameter is not a valid id");
        add_problem(responses, 404, "Not found (or another organization's)");
    }
    if has_body {
        add_problem(responses, 400, "Invalid input; `errors` names the fields");
        add_problem(responses, 413, "The body is too large");
        add_problem(responses, 415, "The body is not of a supported media type");
    }
    // Conversation turns stream as server-sent events on `Accept: text/event-stream`.
    if method == "post" && path.ends_with("/messages") {
        for (status, response) in responses.iter_mut() {
            if status.starts_with('2')
                && let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
            {
                content.insert(
                    "text/event-stream".to_owned(),
                    json!({ "schema": { "type": "string", "description":
                        "Server-sent events: `delta` (text as it is written), `message` (each stored reply), `done` (the turn), `error`" } }),
                );
            }
        }
    }
}

/// The document completed (see the module docs), as JSON.
pub fn complete(doc: &OpenApiDoc) -> Value {
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    value["components"]["securitySchemes"]["webchat_session"] = json!({
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A visitor's session token from POST /api/v1/webchat/{bot}/sessions",
    });
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(operation) = item.get_mut(method) {
                    complete_operation(path, method, operation);
                }
            }
        }
    }
    value
}
