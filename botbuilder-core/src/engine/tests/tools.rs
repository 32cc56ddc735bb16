//! Tools in turns: the model calls a bot's HTTP tool, the engine checks the arguments, calls
//! through the fetcher, feeds the result back and records the call; the loop is bounded.

use super::*;
use crate::domain::{HttpTool, ToolHeader};
use crate::llm::ToolCall;

fn order_tool() -> HttpTool {
    HttpTool {
        name: "order_status".into(),
        description: "Where an order is".into(),
        parameters: json!({ "type": "object", "required": ["order"],
            "properties": { "order": { "type": "string", "pattern": "^[A-Z]-[0-9]+$" } } }),
        method: "GET".into(),
        url: "https://shop.example/orders/{{order}}".into(),
        headers: vec![ToolHeader {
            name: "x-order".into(),
            value: "{{order}}".into(),
        }],
        timeout_secs: 5,
    }
}

fn call(id: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: "order_status".into(),
        arguments: arguments.into(),
    }
}

async fn tool_world(max_tool_steps: u32) -> (World, Arc<CannedFetcher>, Arc<Engine>) {
    let w = world().await;
    let (fetcher, engine) = w.engine_with_fetcher();
    let engine = Arc::new(engine);
    w.store
        .update_bot(
            w.org,
            w.bot,
            BotPatch {
                ai_config: Some(AiConfig {
                    provider: "scripted".into(),
                    tools: vec![order_tool()],
                    max_tool_steps,
                    ..AiConfig::default()
                }),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    (w, fetcher, engine)
}

#[tokio::test]
async fn a_tool_round_trip_feeds_the_result_back_and_records_the_call() {
    let (w, fetcher, engine) = tool_world(4).await;
    w.llm
        .push_tool_calls("Let me look. ", vec![call("c1", r#"{"order":"A-17"}"#)]);
    w.llm.push_answer("Your order A-17 has shipped.");
    let events: Vec<_> =
        futures::StreamExt::collect(engine.handle_stream(w.inbound("where is A-17?"))).await;
    let tools: Vec<&ToolRun> = events
        .iter()
        .filter_map(|e| match e {
            Ok(TurnEvent::Tool(run)) => Some(run),
            _ => None,
        })
        .collect();
    assert_eq!(tools.len(), 1, "streamed as it runs");
    assert_eq!(tools[0].status, "ok");
    let Some(Ok(TurnEvent::Done(turn))) = events.last() else {
        panic!("{events:?}");
    };
    let reply = &turn.replies[0];
    assert_eq!(reply.text, "Let me look. Your order A-17 has shipped.");
    assert_eq!(reply.payload["tools"][0]["name"], "order_status");
    assert_eq!(
        reply.payload["tools"][0]["arguments"],
        json!({ "order": "A-17" })
    );
    assert_eq!(reply.payload["tools"][0]["http_status"], 200);
    assert_eq!(turn.usage.prompt_tokens, 2, "both calls counted");

    let sent = fetcher.0.lock().unwrap().clone();
    assert_eq!(sent[0].url, "https://shop.example/orders/A-17");
    assert_eq!(sent[0].method, "GET");
    assert_eq!(
        sent[0].headers,
        vec![("x-order".to_owned(), "A-17".to_owned())]
    );
    let second = &w.llm.requests()[1];
    let tail: Vec<(ChatRole, &str)> = second
        .messages
        .iter()
        .rev()
        .take(2)
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(tail[0].0, ChatRole::Tool);
    assert!(tail[0].1.contains("shipped"), "{tail:?}");
    assert_eq!(tail[1].0, ChatRole::Assistant);
    assert_eq!(
        second.messages.last().unwrap().tool_call_id.as_deref(),
        Some("c1")
    );
    assert!(
        !second.tools.is_empty(),
        "tools stay offered while steps remain"
    );
}

#[tokio::test]
async fn bad_arguments_go_back_to_the_model_and_the_loop_is_bounded() {
    let (w, fetcher, engine) = tool_world(2).await;
    // Arguments breaking the schema, then not JSON, then (no tools offered) an answer.
    w.llm
        .push_tool_calls("", vec![call("c1", r#"{"order":"nope"}"#)]);
    w.llm.push_tool_calls("", vec![call("c2", "{not json")]);
    w.llm.push_answer("I could not find it.");
    let turn = engine.handle(w.inbound("where?")).await.unwrap();
    assert_eq!(turn.replies[0].text, "I could not find it.");
    let statuses: Vec<&str> = turn.replies[0].payload["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["invalid_arguments", "invalid_arguments"]);
    assert!(fetcher.0.lock().unwrap().is_empty(), "nothing was called");
    let requests = w.llm.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[2].tools.is_empty(),
        "the last round offers no tools"
    );
    let fed_back = &requests[1].messages.last().unwrap().content;
    assert!(fed_back.contains("invalid arguments"), "{fed_back}");
}
