//! OpenAI-style embeddings against a fake server: batches, order restored by index, sizes
//! checked, errors classified.

use botbuilder_core::embed::Embedder;
use botbuilder_core::llm::ProviderError;
use botbuilder_providers::http::{FetchPolicy, GuardedFetcher};
use botbuilder_providers::openai::{OpenAiConfig, OpenAiEmbedder};
use botbuilder_providers::remote::{ApiKey, HttpOptions, RetryPolicy};
use botbuilder_providers::testing::{FakeServer, Step};
use serde_json::{Value, json};

fn embedder(server: &FakeServer, model: &str, dimensions: Option<usize>) -> OpenAiEmbedder {
    let mut config = OpenAiConfig::compatible(
        format!("{}/v1", server.url()).parse().unwrap(),
        Some(ApiKey::new("sk-embed-test")),
    );
    config.options = HttpOptions {
        retry: RetryPolicy::NONE,
        ..HttpOptions::default()
    };
    let fetcher = GuardedFetcher::new(FetchPolicy {
        allow: vec![server.addr()],
        ..FetchPolicy::default()
    })
    .unwrap();
    OpenAiEmbedder::new(config, model, dimensions, fetcher).unwrap()
}

/// An answer for `count` texts, items listed in reverse order, vector `i` = `[i, i, i]`.
fn reversed(count: usize) -> String {
    let data: Vec<Value> = (0..count)
        .rev()
        .map(|i| {
            let v = vec![i as f32; 3];
            json!({ "object": "embedding", "index": i, "embedding": v })
        })
        .collect();
    json!({ "object": "list", "data": data, "model": "m",
        "usage": { "prompt_tokens": 5, "total_tokens": 5 } })
    .to_string()
}

#[tokio::test]
async fn texts_are_embedded_in_batches_in_input_order() {
    let server = FakeServer::start().await;
    let embedder = embedder(&server, "nomic-embed-text", Some(3));
    server.push(Step::json(200, reversed(96)));
    server.push(Step::json(200, reversed(54)));
    let texts: Vec<String> = (0..150).map(|i| format!("text {i}")).collect();
    let vectors = embedder.embed_texts(&texts).await.unwrap();
    assert_eq!(vectors.len(), 150);
    assert_eq!(vectors[0], vec![0.0; 3]);
    assert_eq!(vectors[95], vec![95.0; 3]);
    assert_eq!(vectors[96], vec![0.0; 3], "the second batch starts over");
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/v1/embeddings");
    assert_eq!(
        sent[0].header("authorization"),
        Some("Bearer sk-embed-test")
    );
    let body = sent[0].json();
    assert_eq!(body["model"], "nomic-embed-text");
    assert_eq!(body["input"].as_array().unwrap().len(), 96);
    assert!(
        body.get("dimensions").is_none(),
        "only text-embedding-3 models shorten"
    );
    assert_eq!(embedder.dimensions(), 3);
}

#[tokio::test]
async fn wrong_sizes_and_counts_are_errors() {
    let server = FakeServer::start().await;
    let four = embedder(&server, "m", Some(4));
    server.push(Step::json(200, reversed(2)));
    let texts = vec!["a".to_owned(), "b".to_owned()];
    let error = four.embed_texts(&texts).await.unwrap_err();
    assert!(matches!(error, ProviderError::Permanent(_)), "{error:?}");
    let three = embedder(&server, "m", Some(3));
    server.push(Step::json(200, reversed(1)));
    let error = three.embed_texts(&texts).await.unwrap_err();
    assert!(matches!(error, ProviderError::Transient(_)), "{error:?}");
    server.push(Step::json(
        401,
        json!({ "error": { "message": "bad key", "type": "invalid_request_error" } }).to_string(),
    ));
    let error = three.embed_text("a").await.unwrap_err();
    assert!(matches!(error, ProviderError::Unauthorized), "{error:?}");
}

#[tokio::test]
async fn openai_models_know_their_size_and_shorten_on_request() {
    let server = FakeServer::start().await;
    let small = embedder(&server, "text-embedding-3-small", None);
    assert_eq!(small.dimensions(), 1536);
    let short = embedder(&server, "text-embedding-3-small", Some(3));
    server.push(Step::json(200, reversed(1)));
    short.embed_text("a").await.unwrap();
    assert_eq!(server.requests()[0].json()["dimensions"], 3);
    let mut config = OpenAiConfig::compatible("http://127.0.0.1:1/v1".parse().unwrap(), None);
    config.options = HttpOptions::default();
    let unknown = OpenAiEmbedder::new(
        config,
        "my-model",
        None,
        GuardedFetcher::new(FetchPolicy::default()).unwrap(),
    );
    assert!(
        unknown.is_err(),
        "a model of unknown size needs its dimensions"
    );
}
