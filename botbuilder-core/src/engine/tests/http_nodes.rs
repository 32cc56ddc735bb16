//! Flow nodes that call out over HTTP, through the engine's fetcher.

use super::*;

#[tokio::test]
async fn http_request_nodes_call_the_fetcher_with_rendered_templates() {
    let w = world().await;
    let (fetcher, engine) = w.engine_with_fetcher();
    w.publish(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "ask", "type": "ask", "data": { "prompt": "Order?", "variable": "order" } },
            { "id": "call", "type": "http_request", "data": {
                "method": "POST", "url": "https://api.example.com/orders/{{order}}",
                "headers": { "x-order": "{{order}}" }, "body": "{\"id\":\"{{order}}\"}", "save_as": "lookup" } },
            { "id": "tell", "type": "message", "data": { "text": "Status: {{lookup.body.status}} ({{lookup.status}})" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "ask" },
            { "id": "e2", "source": "ask", "sourceHandle": "valid", "target": "call" },
            { "id": "e3", "source": "call", "target": "tell" }
        ]
    }))
    .await;
    engine.handle(w.inbound("hi")).await.unwrap();
    let turn = engine.handle(w.inbound("A-17")).await.unwrap();
    assert_eq!(texts(&turn), vec!["Status: shipped (200)"]);
    let requests = fetcher.0.lock().unwrap().clone();
    assert_eq!(requests[0].url, "https://api.example.com/orders/A-17");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].headers,
        vec![("x-order".to_owned(), "A-17".to_owned())]
    );
    assert_eq!(requests[0].body.as_deref(), Some(r#"{"id":"A-17"}"#));

    // Without a fetcher the node records why and the flow goes on.
    let asked = w.engine.handle(w.inbound("again")).await.unwrap();
    assert_eq!(texts(&asked), vec!["Order?"]);
    let unfetched = w.engine.handle(w.inbound("B-2")).await.unwrap();
    assert_eq!(texts(&unfetched), vec!["Status:  (0)"]);
    let variables = &unfetched.session.state.variables;
    assert_eq!(
        variables["lookup"]["error"],
        "http requests are not enabled"
    );
}

/// A loop through an HTTP node (saved before loops were refused) calls the API a few times at
/// most, then the turn stops like at the step bound.
#[tokio::test]
async fn a_looping_http_node_calls_out_a_bounded_number_of_times() {
    let w = world().await;
    let (fetcher, engine) = w.engine_with_fetcher();
    let flow: Flow = serde_json::from_value(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "call", "type": "http_request", "data": {
                "url": "https://api.example.com/poll", "save_as": "poll" } },
            { "id": "again", "type": "jump", "data": { "target": "call" } }
        ],
        "edges": [
            { "id": "e1", "source": "start", "target": "call" },
            { "id": "e2", "source": "call", "target": "again" }
        ]
    }))
    .unwrap();
    w.store.publish_flow(w.org, w.bot, flow).await.unwrap();
    let turn = engine.handle(w.inbound("go")).await.unwrap();
    assert_eq!(texts(&turn), vec![FLOW_FAILED_REPLY]);
    let calls = fetcher.0.lock().unwrap().len();
    assert_eq!(calls, MAX_HTTP_REQUESTS_PER_TURN as usize);
}
