//! The sentence embedder on a tiny randomly initialized BERT written to a temporary model
//! directory in the sentence-transformers layout: loading, mean pooling over real tokens
//! only (padding does not move a vector), unit length, truncation, and clear load errors.
//! (Retrieval quality with the real all-MiniLM-L6-v2 is measured by the `scifact-eval`
//! example.)

use std::path::Path;

use botbuilder_core::embed::Embedder;
use botbuilder_providers::minilm::{MAX_TOKENS, SentenceEmbedder};
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};
use serde_json::json;

const WORDS: [&str; 12] = [
    "refund", "refunds", "paid", "within", "five", "days", "shipping", "free", "gift", "cards",
    "never", "expire",
];

/// Writes config.json, tokenizer.json and model.safetensors of a 2-layer, 32-wide BERT.
fn tiny_model(dir: &Path) {
    let config = json!({
        "vocab_size": 4 + WORDS.len(), "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 64, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0, "max_position_embeddings": 512, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "model_type": "bert"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut vocab = serde_json::Map::new();
    for (i, token) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .chain(WORDS.iter())
        .enumerate()
    {
        vocab.insert((*token).to_owned(), json!(i));
    }
    let special = |id: usize, content: &str| {
        json!({ "id": id, "special": true, "content": content, "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false })
    };
    let tokenizer = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": { "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true },
        "pre_tokenizer": { "type": "BertPreTokenizer" },
        "post_processor": { "type": "TemplateProcessing",
            "single": [{ "SpecialToken": { "id": "[CLS]", "type_id": 0 } },
                { "Sequence": { "id": "A", "type_id": 0 } },
                { "SpecialToken": { "id": "[SEP]", "type_id": 0 } }],
            "pair": [{ "SpecialToken": { "id": "[CLS]", "type_id": 0 } },
                { "Sequence": { "id": "A", "type_id": 0 } },
                { "SpecialToken": { "id": "[SEP]", "type_id": 0 } },
                { "Sequence": { "id": "B", "type_id": 1 } },
                { "SpecialToken": { "id": "[SEP]", "type_id": 1 } }],
            "special_tokens": {
                "[CLS]": { "id": "[CLS]", "ids": [2], "tokens": ["[CLS]"] },
                "[SEP]": { "id": "[SEP]", "ids": [3], "tokens": ["[SEP]"] } } },
        "decoder": { "type": "WordPiece", "prefix": "##", "cleanup": true },
        "model": { "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab }
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let config: Config = serde_json::from_value(config).unwrap();
    let weights = VarMap::new();
    let vb = VarBuilder::from_varmap(&weights, DType::F32, &Device::Cpu);
    BertModel::load(vb, &config).unwrap();
    weights.save(dir.join("model.safetensors")).unwrap();
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[tokio::test]
async fn a_sentence_model_embeds_with_masked_mean_pooling() {
    let dir = tempfile::tempdir().unwrap();
    tiny_model(dir.path());
    let embedder = SentenceEmbedder::load(dir.path(), "tiny-bert").unwrap();
    assert_eq!(embedder.dimensions(), 32);
    assert_eq!(embedder.model(), "tiny-bert");

    let short = "Refunds paid within five days".to_owned();
    let long = "gift cards never expire and shipping is free ".repeat(10);
    let alone = embedder.embed_text(&short).await.unwrap();
    let batch = embedder
        .embed_texts(&[short.clone(), long.clone(), "zebra".into()])
        .await
        .unwrap();
    assert_eq!(batch.len(), 3);
    for v in &batch {
        assert_eq!(v.len(), 32);
        assert!((norm(v) - 1.0).abs() < 1e-4, "unit length");
    }
    // Padded to the long text's length in the batch, the short text's vector is unchanged.
    for (a, b) in alone.iter().zip(&batch[0]) {
        assert!((a - b).abs() < 1e-4, "{alone:?} vs {:?}", batch[0]);
    }
    assert_ne!(batch[0], batch[1]);
    assert_eq!(
        embedder.embed_text(&short).await.unwrap(),
        alone,
        "deterministic"
    );

    // Far longer than the model reads: cut, not an error.
    let huge = "refund ".repeat(MAX_TOKENS * 3);
    assert_eq!(embedder.embed_text(&huge).await.unwrap().len(), 32);
}

#[test]
fn a_missing_or_broken_model_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = SentenceEmbedder::load(dir.path(), "x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json"), "{e}");
    tiny_model(dir.path());
    std::fs::write(dir.path().join("model.safetensors"), b"not weights").unwrap();
    let e = SentenceEmbedder::load(dir.path(), "x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.safetensors"), "{e}");
}
