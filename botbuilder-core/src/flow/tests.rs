use serde_json::{Value, json};

use super::*;

fn node(id: &str, kind: &str, data: Value) -> Value {
    json!({ "id": id, "type": kind, "position": { "x": 0, "y": 0 }, "data": data })
}

fn edge(id: &str, source: &str, target: &str) -> Value {
    json!({ "id": id, "source": source, "target": target })
}

fn handle_edge(id: &str, source: &str, handle: &str, target: &str) -> Value {
    json!({ "id": id, "source": source, "target": target, "sourceHandle": handle })
}

/// A support flow using every node kind.
fn support_flow() -> Value {
    json!({
        "nodes": [
            node("start", "start", json!({})),
            node("hello", "message", json!({ "text": "Hi! How can I help?", "buttons": [{ "title": "Order", "payload": "order" }] })),
            node("route", "intent_router", json!({})),
            node("ask_email", "ask", json!({ "prompt": "Your email?", "variable": "email",
                "validation": { "type": "builtin", "builtin": "email" }, "retry_prompt": "Hmm?" })),
            node("lookup", "http_request", json!({ "url": "https://api.example.com/orders?email={{email}}", "save_as": "order" })),
            node("check", "condition", json!({ "rules": [{ "handle": "found", "variable": "order", "op": "is_set" }] })),
            node("tell", "message", json!({ "text": "Your order: {{order.body.status}}" })),
            node("ai", "ai_answer", json!({})),
            node("human", "handoff", json!({ "message": "Connecting you" })),
            node("again", "jump", json!({ "target": "bye" })),
            node("remember", "set_variable", json!({ "variable": "asked", "value": "yes" })),
            node("bye", "end", json!({ "message": "Bye" })),
        ],
        "edges": [
            edge("e1", "start", "hello"),
            edge("e2", "hello", "route"),
            handle_edge("e3", "route", "track_order", "ask_email"),
            handle_edge("e4", "route", "human", "human"),
            handle_edge("e5", "route", "fallback", "ai"),
            handle_edge("e6", "ask_email", "valid", "lookup"),
            handle_edge("e7", "ask_email", "invalid", "human"),
            edge("e8", "lookup", "check"),
            handle_edge("e9", "check", "found", "tell"),
            handle_edge("e10", "check", "fallback", "human"),
            edge("e11", "tell", "remember"),
            edge("e12", "remember", "bye"),
            edge("e13", "ai", "again"),
        ]
    })
}

fn issues(flow: Value) -> Vec<FlowIssue> {
    Flow::parse(flow).expect_err("the flow should be refused")
}

#[test]
fn a_flow_with_every_node_kind_parses_and_round_trips() {
    let flow = Flow::parse(support_flow()).unwrap();
    assert_eq!(flow.nodes.len(), 12);
    let json = serde_json::to_value(&flow).unwrap();
    assert_eq!(json["nodes"][1]["type"], "message");
    assert_eq!(json["edges"][2]["sourceHandle"], "track_order");
    assert_eq!(Flow::parse(json).unwrap(), flow);
}

#[test]
fn a_missing_start_is_reported() {
    let found = issues(json!({ "nodes": [node("a", "end", json!({}))] }));
    assert!(found[0].message.contains("missing start"), "{found:?}");
    assert_eq!(found[0].location(), "flow");
}

#[test]
fn unknown_kinds_and_bad_data_name_the_node() {
    let found = issues(json!({ "nodes": [
        node("start", "start", json!({})),
        node("warp", "teleport", json!({})),
        node("q", "ask", json!({ "prompt": "?" })),
    ] }));
    let nodes: Vec<_> = found.iter().map(|i| i.node.as_deref().unwrap()).collect();
    assert_eq!(nodes, vec!["warp", "q"]);
    assert!(found[0].message.contains("teleport"));
    assert_eq!(found[0].location(), "nodes[warp]");
}

#[test]
fn dangling_edges_and_jumps_are_reported() {
    let found = issues(json!({
        "nodes": [node("start", "start", json!({})), node("j", "jump", json!({ "target": "nowhere" }))],
        "edges": [edge("e1", "start", "j"), edge("e2", "j", "ghost")]
    }));
    assert!(
        found
            .iter()
            .any(|i| i.edge.as_deref() == Some("e2") && i.message.contains("ghost"))
    );
    assert!(
        found
            .iter()
            .any(|i| i.node.as_deref() == Some("j") && i.message.contains("nowhere"))
    );
}

#[test]
fn unreachable_nodes_are_reported() {
    let found = issues(json!({
        "nodes": [node("start", "start", json!({})), node("island", "message", json!({ "text": "?" }))],
    }));
    assert_eq!(found[0].node.as_deref(), Some("island"));
    assert!(found[0].message.contains("unreachable"));
}

#[test]
fn a_cycle_without_exit_is_refused_but_loops_through_questions_are_fine() {
    let spin = issues(json!({
        "nodes": [
            node("start", "start", json!({})),
            node("a", "message", json!({ "text": "a" })),
            node("b", "set_variable", json!({ "variable": "x", "value": "1" })),
        ],
        "edges": [edge("e1", "start", "a"), edge("e2", "a", "b"), edge("e3", "b", "a")]
    }));
    assert_eq!(spin.len(), 1, "{spin:?}");
    assert!(spin[0].message.contains("loop without a pause"));
    assert!(spin[0].message.contains("a -> b"));

    // An exit that never fires does not make a loop safe: message -> condition -> message.
    let exit_never_fires = issues(json!({
        "nodes": [
            node("start", "start", json!({})),
            node("say", "message", json!({ "text": "hello" })),
            node("check", "condition", json!({ "rules": [
                { "handle": "done", "variable": "never_set", "op": "is_set", "value": null }
            ] })),
            node("bye", "end", json!({})),
        ],
        "edges": [
            edge("e1", "start", "say"),
            edge("e2", "say", "check"),
            handle_edge("e3", "check", "fallback", "say"),
            handle_edge("e4", "check", "done", "bye"),
        ]
    }));
    assert_eq!(exit_never_fires.len(), 1, "{exit_never_fires:?}");
    assert!(
        exit_never_fires[0].message.contains("check -> say"),
        "{exit_never_fires:?}"
    );

    // A loop with a pause on one path and none on another is still refused.
    let side_loop = issues(json!({
        "nodes": [
            node("start", "start", json!({})),
            node("a", "set_variable", json!({ "variable": "x", "value": "1" })),
            node("b", "condition", json!({ "rules": [
                { "handle": "ask", "variable": "x", "op": "eq", "value": "2" }
            ] })),
            node("q", "ask", json!({ "prompt": "?", "variable": "y" })),
        ],
        "edges": [
            edge("e1", "start", "a"),
            edge("e2", "a", "b"),
            handle_edge("e3", "b", "fallback", "a"),
            handle_edge("e4", "b", "ask", "q"),
            handle_edge("e5", "q", "valid", "a"),
        ]
    }));
    assert_eq!(side_loop.len(), 1, "{side_loop:?}");
    assert!(side_loop[0].message.contains("a -> b"), "{side_loop:?}");

    let self_loop = issues(json!({
        "nodes": [node("start", "start", json!({})), node("j", "jump", json!({ "target": "j" }))],
        "edges": [edge("e1", "start", "j")]
    }));
    assert_eq!(self_loop[0].node.as_deref(), Some("j"));

    // A loop that asks the user each time waits for input: allowed.
    Flow::parse(json!({
        "nodes": [
            node("start", "start", json!({})),
            node("q", "ask", json!({ "prompt": "Again?", "variable": "answer" })),
            node("say", "message", json!({ "text": "ok" })),
        ],
        "edges": [edge("e1", "start", "q"), edge("e2", "q", "say"), edge("e3", "say", "q")]
    }))
    .unwrap();
}

#[test]
fn handles_must_be_outputs_of_their_node() {
    let found = issues(json!({
        "nodes": [
            node("start", "start", json!({})),
            node("c", "condition", json!({ "rules": [{ "handle": "yes", "variable": "x", "op": "eq", "value": 1 }] })),
            node("m", "message", json!({ "text": "m" })),
        ],
        "edges": [
            edge("e1", "start", "c"),
            handle_edge("e2", "c", "maybe", "m"),
            handle_edge("e3", "start", "whatever", "m"),
        ]
    }));
    let edges: Vec<_> = found.iter().filter_map(|i| i.edge.as_deref()).collect();
    assert_eq!(edges, vec!["e2", "e3"], "{found:?}");
}

#[test]
fn node_settings_are_checked() {
    let found = issues(json!({
        "nodes": [
            node("start", "start", json!({})),
            node("q", "ask", json!({ "prompt": "?", "variable": "9lives", "validation": { "type": "regex", "pattern": "(" } })),
            node("h", "http_request", json!({ "url": "https://x/{{ id", "save_as": "r", "timeout_ms": 60000 })),
        ],
        "edges": [edge("e1", "start", "q"), handle_edge("e2", "q", "valid", "h")]
    }));
    let messages: Vec<&str> = found.iter().map(|i| i.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("9lives")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("invalid pattern")));
    assert!(messages.iter().any(|m| m.contains("timeout_ms")));
    assert!(
        messages.iter().any(|m| m.contains("template error")),
        "{messages:?}"
    );
}

#[test]
fn duplicates_and_extra_starts_are_reported() {
    let found = issues(json!({
        "nodes": [
            node("start", "start", json!({})),
            node("start2", "start", json!({})),
            node("m", "message", json!({ "text": "1" })),
            node("m", "message", json!({ "text": "2" })),
        ],
        "edges": [edge("e1", "start", "m"), edge("e1", "start2", "m")]
    }));
    let locations: Vec<String> = found.iter().map(FlowIssue::location).collect();
    assert!(locations.contains(&"nodes[m]".to_owned()), "{locations:?}");
    assert!(locations.contains(&"nodes[start2]".to_owned()));
    assert!(locations.contains(&"edges[e1]".to_owned()));
}
