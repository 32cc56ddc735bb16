//! The model catalog: which providers exist, their default models, and each model's context
//! window and list price.
//!
//! Built-in entries match a model name by prefix (the longest wins), so dated snapshots
//! (`gpt-4o-mini-2024-07-18`) find their family. Operators add or correct entries with
//! [`ModelCatalog::new`] (the server reads `[[models]]` from its config file); an override
//! beats any built-in entry it matches. Models nobody describes get
//! [`ModelInfo::DEFAULT_CONTEXT_WINDOW`]; on a paid API (OpenAI, Anthropic) they are priced at
//! that provider's highest list price, so an unlisted model can never slip past a spend
//! limit (add a `[[models]]` entry for its real price); elsewhere (self-hosted) they cost
//! nothing.
//!
//! Prices are the providers' public list prices in US dollars per million tokens, as
//! published on openai.com/api/pricing and docs.anthropic.com (pricing) in 2025–2026.

use botbuilder_core::llm::{ModelInfo, Price};
use serde::{Deserialize, Serialize};

/// The offline extractive answerer.
pub const LOCAL: &str = "local";
/// OpenAI's API.
pub const OPENAI: &str = "openai";
/// Anthropic's Messages API.
pub const ANTHROPIC: &str = "anthropic";
/// Any server speaking OpenAI's Chat Completions (Ollama, vLLM, llama.cpp, LM Studio).
pub const OPENAI_COMPATIBLE: &str = "openai-compatible";

/// Every provider id a bot may name.
pub const PROVIDER_IDS: [&str; 4] = [LOCAL, OPENAI, ANTHROPIC, OPENAI_COMPATIBLE];

/// The model a bot gets when it names `provider` without a model (`None`: the provider has
/// no sensible default, as for self-hosted servers).
pub fn default_model(provider: &str) -> Option<&'static str> {
    match provider {
        LOCAL => Some("local-extractive"),
        OPENAI => Some("gpt-4o-mini"),
        ANTHROPIC => Some("claude-haiku-4-5"),
        _ => None,
    }
}

/// The embedding model a knowledge base gets when it names `provider` without a model
/// (`None`: the provider has no default, or no embeddings).
pub fn default_embedding_model(provider: &str) -> Option<&'static str> {
    match provider {
        LOCAL => Some(crate::local::LOCAL_EMBEDDING_MODEL),
        OPENAI => Some("text-embedding-3-small"),
        _ => None,
    }
}

/// One model (or family of models, by name prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Provider id (one of [`PROVIDER_IDS`]).
    pub provider: String,
    /// Model name, or the prefix of a family of names.
    pub name: String,
    /// Context window in tokens.
    pub context_window: u32,
    /// US dollars per million prompt tokens (absent: free or unknown).
    #[serde(default)]
    pub input_per_mtok: Option<f64>,
    /// US dollars per million generated tokens (absent: free or unknown).
    #[serde(default)]
    pub output_per_mtok: Option<f64>,
}

impl ModelEntry {
    fn info(&self) -> ModelInfo {
        let price = match (self.input_per_mtok, self.output_per_mtok) {
            (None, None) => None,
            (input, output) => Some(Price {
                input_per_mtok: input.unwrap_or(0.0),
                output_per_mtok: output.unwrap_or(0.0),
            }),
        };
        ModelInfo {
            context_window: self.context_window,
            price,
        }
    }
}

/// What is wrong with a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("models[{index}].{field}: {message}")]
pub struct CatalogError {
    /// Position of the entry.
    pub index: usize,
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Built-in entries: (provider, name prefix, context window, input $/Mtok, output $/Mtok).
const BUILT_IN: &[(&str, &str, u32, f64, f64)] = &[
    (OPENAI, "gpt-4o-mini", 128_000, 0.15, 0.60),
    (OPENAI, "gpt-4o", 128_000, 2.50, 10.00),
    (OPENAI, "chatgpt-4o", 128_000, 5.00, 15.00),
    (OPENAI, "gpt-4.1-nano", 1_047_576, 0.10, 0.40),
    (OPENAI, "gpt-4.1-mini", 1_047_576, 0.40, 1.60),
    (OPENAI, "gpt-4.1", 1_047_576, 2.00, 8.00),
    (OPENAI, "gpt-4-turbo", 128_000, 10.00, 30.00),
    (OPENAI, "gpt-3.5-turbo", 16_385, 0.50, 1.50),
    (OPENAI, "gpt-4", 8_192, 30.00, 60.00),
    (OPENAI, "gpt-4-32k", 32_768, 60.00, 120.00),
    (OPENAI, "gpt-4.5", 128_000, 75.00, 150.00),
    (OPENAI, "gpt-5-nano", 400_000, 0.05, 0.40),
    (OPENAI, "gpt-5-mini", 400_000, 0.25, 2.00),
    (OPENAI, "gpt-5", 400_000, 1.25, 10.00),
    (OPENAI, "o4-mini", 200_000, 1.10, 4.40),
    (OPENAI, "o3-mini", 200_000, 1.10, 4.40),
    (OPENAI, "o3", 200_000, 2.00, 8.00),
    (OPENAI, "o1", 200_000, 15.00, 60.00),
    (OPENAI, "o1-pro", 200_000, 150.00, 600.00),
    (OPENAI, "o3-pro", 200_000, 20.00, 80.00),
    (ANTHROPIC, "claude-3-haiku", 200_000, 0.25, 1.25),
    (ANTHROPIC, "claude-3-5-haiku", 200_000, 0.80, 4.00),
    (ANTHROPIC, "claude-haiku-4", 200_000, 1.00, 5.00),
    (ANTHROPIC, "claude-3-5-sonnet", 200_000, 3.00, 15.00),
    (ANTHROPIC, "claude-3-7-sonnet", 200_000, 3.00, 15.00),
    (ANTHROPIC, "claude-sonnet-4", 200_000, 3.00, 15.00),
    (ANTHROPIC, "claude-3-opus", 200_000, 15.00, 75.00),
    (ANTHROPIC, "claude-opus-4", 200_000, 15.00, 75.00),
    (ANTHROPIC, "claude-opus-4-5", 200_000, 5.00, 25.00),
    (ANTHROPIC, "claude", 200_000, 3.00, 15.00),
];

/// The catalog: built-in entries plus the operator's overrides (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelCatalog {
    overrides: Vec<ModelEntry>,
}

impl ModelCatalog {
    /// The built-in catalog with `overrides` on top; refuses unknown providers, empty names,
    /// a zero context window and negative or non-finite prices.
    pub fn new(overrides: Vec<ModelEntry>) -> Result<Self, CatalogError> {
        for (index, entry) in overrides.iter().enumerate() {
            let fail = |field, message: &str| CatalogError {
                index,
                field,
                message: message.to_owned(),
            };
            if !PROVIDER_IDS.contains(&entry.provider.as_str()) {
                return Err(fail(
                    "provider",
                    &format!("expected one of {}", PROVIDER_IDS.join(", ")),
                ));
            }
            if entry.name.trim().is_empty() {
                return Err(fail("name", "must not be empty"));
            }
            if entry.context_window == 0 {
                return Err(fail("context_window", "must be positive"));
            }
            for (field, price) in [
                ("input_per_mtok", entry.input_per_mtok),
                ("output_per_mtok", entry.output_per_mtok),
            ] {
                if price.is_some_and(|p| !p.is_finite() || p < 0.0) {
                    return Err(fail(field, "must be a non-negative number"));
                }
            }
        }
        Ok(Self { overrides })
    }

    /// The context window and price of `model` at `provider` (see the module docs).
    pub fn info(&self, provider: &str, model: &str) -> ModelInfo {
        let lower = model.to_ascii_lowercase();
        let matches = |name: &str| lower.starts_with(&name.to_ascii_lowercase());
        let overridden = self
            .overrides
            .iter()
            .filter(|e| e.provider == provider && matches(&e.name))
            .max_by_key(|e| e.name.len());
        if let Some(entry) = overridden {
            return entry.info();
        }
        let entry = |&(_, _, window, input, output): &(&str, &str, u32, f64, f64)| ModelInfo {
            context_window: window,
            price: Some(Price {
                input_per_mtok: input,
                output_per_mtok: output,
            }),
        };
        if let Some(known) = BUILT_IN
            .iter()
            .filter(|(p, name, ..)| *p == provider && matches(name))
            .max_by_key(|(_, name, ..)| name.len())
        {
            return entry(known);
        }
        // An unlisted model of a paid API: its dearest price, never free.
        let dearest = BUILT_IN
            .iter()
            .filter(|(p, ..)| *p == provider)
            .max_by(|a, b| (a.3 + a.4).total_cmp(&(b.3 + b.4)));
        match dearest {
            Some(&(_, _, _, input, output)) => ModelInfo {
                context_window: ModelInfo::DEFAULT_CONTEXT_WINDOW,
                price: Some(Price {
                    input_per_mtok: input,
                    output_per_mtok: output,
                }),
            },
            None => ModelInfo::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::llm::Usage;

    #[test]
    fn the_longest_prefix_prices_a_model_in_micro_dollars() {
        let catalog = ModelCatalog::default();
        let mini = catalog.info(OPENAI, "gpt-4o-mini-2024-07-18");
        assert_eq!(mini.context_window, 128_000);
        let usage = Usage {
            prompt_tokens: 1_000,
            completion_tokens: 200,
        };
        assert_eq!(
            mini.cost_micros(usage),
            270,
            "$0.15/M and $0.60/M, not gpt-4o's"
        );
        assert_eq!(catalog.info(OPENAI, "gpt-3.5-turbo").context_window, 16_385);
        assert_eq!(
            catalog
                .info(ANTHROPIC, "claude-opus-4-5-20251101")
                .cost_micros(usage),
            10_000
        );
        let unknown = catalog.info(OPENAI_COMPATIBLE, "llama3.1:8b");
        assert_eq!(unknown, ModelInfo::default());
        assert_eq!(unknown.cost_micros(usage), 0);
        let unlisted = catalog.info(OPENAI, "davinci-002");
        assert_eq!(
            unlisted.price.unwrap().output_per_mtok,
            600.0,
            "never free on a paid API"
        );
        assert_eq!(
            catalog
                .info(OPENAI, "gpt-4-0613")
                .price
                .unwrap()
                .input_per_mtok,
            30.0
        );
        assert_eq!(
            catalog.info(OPENAI, "o1-pro").price.unwrap().input_per_mtok,
            150.0
        );
        assert_eq!(catalog.info(LOCAL, "local-extractive").price, None);
    }

    #[test]
    fn overrides_beat_built_in_entries_and_are_checked() {
        let catalog = ModelCatalog::new(vec![
            ModelEntry {
                provider: OPENAI_COMPATIBLE.into(),
                name: "llama3.1".into(),
                context_window: 131_072,
                input_per_mtok: None,
                output_per_mtok: None,
            },
            ModelEntry {
                provider: OPENAI.into(),
                name: "gpt-4o-mini".into(),
                context_window: 64_000,
                input_per_mtok: Some(1.0),
                output_per_mtok: Some(2.0),
            },
        ])
        .unwrap();
        assert_eq!(
            catalog.info(OPENAI_COMPATIBLE, "llama3.1:8b"),
            ModelInfo::unpriced(131_072)
        );
        let mini = catalog.info(OPENAI, "gpt-4o-mini");
        assert_eq!(mini.context_window, 64_000);
        assert_eq!(
            mini.price.unwrap(),
            Price {
                input_per_mtok: 1.0,
                output_per_mtok: 2.0
            }
        );
        assert_eq!(catalog.info(OPENAI, "gpt-4o").context_window, 128_000);

        let bad = |entry: ModelEntry| ModelCatalog::new(vec![entry]).unwrap_err().field;
        let entry = ModelEntry {
            provider: OPENAI.into(),
            name: "x".into(),
            context_window: 1,
            input_per_mtok: None,
            output_per_mtok: None,
        };
        assert_eq!(
            bad(ModelEntry {
                provider: "acme".into(),
                ..entry.clone()
            }),
            "provider"
        );
        assert_eq!(
            bad(ModelEntry {
                context_window: 0,
                ..entry.clone()
            }),
            "context_window"
        );
        assert_eq!(
            bad(ModelEntry {
                output_per_mtok: Some(-1.0),
                ..entry
            }),
            "output_per_mtok"
        );
        assert_eq!(default_model(ANTHROPIC), Some("claude-haiku-4-5"));
        assert_eq!(default_model(OPENAI_COMPATIBLE), None);
    }
}
