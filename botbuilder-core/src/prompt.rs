//! Prompt assembly for the AI handler, token counting and the price of a call.
//!
//! [`assemble`] builds the messages sent to a language model: the bot's system prompt (with
//! flow instructions and, from the knowledge issue on, retrieved context), as much recent
//! history as fits the model's context window after reserving room for the answer, and the
//! user's message. Tokens are counted with the OpenAI BPE tables bundled in `tiktoken-rs`
//! (`o200k_base` for the GPT-4o generation and later, `cl100k_base` otherwise): exact for
//! OpenAI models, a close estimate for others. Providers that report usage are believed over
//! the estimate.
//!
//! [`price`] knows list prices of common models (USD per million tokens) so every message
//! records its cost; models it does not know (self-hosted, `local`) cost nothing.

use tiktoken_rs::CoreBPE;

use crate::llm::{ChatMessage, ChatRole, Usage};

/// Tokens every chat message costs beyond its content (role and separators).
pub const TOKENS_PER_MESSAGE: u32 = 3;
/// Tokens that prime the model's reply.
pub const TOKENS_REPLY_PRIMING: u32 = 3;
/// Context window assumed for models this module does not know.
pub const DEFAULT_CONTEXT_WINDOW: u32 = 8_192;

fn encoding_for(model: &str) -> &'static CoreBPE {
    let m = model.to_ascii_lowercase();
    let o200k = [
        "gpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-5",
        "o1",
        "o3",
        "o4",
        "chatgpt-4o",
    ];
    if o200k.iter().any(|p| m.starts_with(p)) {
        tiktoken_rs::o200k_base_singleton()
    } else {
        tiktoken_rs::cl100k_base_singleton()
    }
}

/// Tokens of `text` for `model` (see the module docs for the tables used).
pub fn count_tokens(model: &str, text: &str) -> u32 {
    let tokens = encoding_for(model).encode_ordinary(text).len();
    u32::try_from(tokens).unwrap_or(u32::MAX)
}

/// The context window of `model` at `provider`, in tokens.
pub fn context_window(provider: &str, model: &str) -> u32 {
    let m = model.to_ascii_lowercase();
    match provider {
        "anthropic" => 200_000,
        "openai" if m.starts_with("gpt-4.1") => 1_047_576,
        "openai" if m.starts_with("gpt-5") => 400_000,
        "openai" if ["o1", "o3", "o4"].iter().any(|p| m.starts_with(p)) => 200_000,
        "openai" if m.starts_with("gpt-4o") || m.starts_with("gpt-4-turbo") => 128_000,
        "openai" if m.starts_with("gpt-3.5") => 16_385,
        _ => DEFAULT_CONTEXT_WINDOW,
    }
}

/// One past message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn<'a> {
    /// Who said it.
    pub role: ChatRole,
    /// What was said.
    pub text: &'a str,
}

/// What a prompt is made of.
#[derive(Debug, Clone, Copy)]
pub struct PromptParts<'a> {
    /// Model name (picks the token table).
    pub model: &'a str,
    /// The model's context window.
    pub context_window: u32,
    /// Tokens reserved for the answer.
    pub max_tokens: u32,
    /// The system prompt, instructions and context.
    pub system: &'a str,
    /// Earlier messages, oldest first (the newest that fit are kept).
    pub history: &'a [Turn<'a>],
    /// The user's message, always included.
    pub user: &'a str,
}

/// An assembled prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// The messages to send, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Their tokens, as counted here.
    pub tokens: u32,
    /// How many history messages were left out for lack of room.
    pub history_dropped: usize,
}

/// Builds the prompt (see the module docs): system, the newest history that fits, user.
pub fn assemble(parts: &PromptParts<'_>) -> Prompt {
    let cost = |text: &str| count_tokens(parts.model, text) + TOKENS_PER_MESSAGE;
    let fixed = cost(parts.system) + cost(parts.user) + TOKENS_REPLY_PRIMING;
    let mut room = parts
        .context_window
        .saturating_sub(parts.max_tokens)
        .saturating_sub(fixed);
    let mut kept = Vec::new();
    for turn in parts.history.iter().rev() {
        let tokens = cost(turn.text);
        if tokens > room {
            break;
        }
        room -= tokens;
        kept.push((turn, tokens));
    }
    let history_dropped = parts.history.len() - kept.len();
    let mut tokens = fixed;
    let mut messages = Vec::with_capacity(kept.len() + 2);
    messages.push(ChatMessage {
        role: ChatRole::System,
        content: parts.system.to_owned(),
    });
    for (turn, cost) in kept.into_iter().rev() {
        tokens += cost;
        messages.push(ChatMessage {
            role: turn.role,
            content: turn.text.to_owned(),
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: parts.user.to_owned(),
    });
    Prompt {
        messages,
        tokens,
        history_dropped,
    }
}

/// List price of a model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million generated tokens.
    pub output: f64,
}

impl Price {
    /// The cost of `usage` in millionths of a US dollar (a token at $1/M costs 1).
    pub fn cost_micros(&self, usage: Usage) -> i64 {
        let micros = f64::from(usage.prompt_tokens) * self.input
            + f64::from(usage.completion_tokens) * self.output;
        // Rounded to the nearest micro-dollar; far inside i64 for any real usage.
        #[allow(clippy::cast_possible_truncation)]
        let rounded = micros.round() as i64;
        rounded
    }
}

/// Known list prices, most specific prefix first.
const PRICES: &[(&str, &str, Price)] = &[
    (
        "openai",
        "gpt-4o-mini",
        Price {
            input: 0.15,
            output: 0.60,
        },
    ),
    (
        "openai",
        "gpt-4o",
        Price {
            input: 2.50,
            output: 10.00,
        },
    ),
    (
        "openai",
        "gpt-4.1-nano",
        Price {
            input: 0.10,
            output: 0.40,
        },
    ),
    (
        "openai",
        "gpt-4.1-mini",
        Price {
            input: 0.40,
            output: 1.60,
        },
    ),
    (
        "openai",
        "gpt-4.1",
        Price {
            input: 2.00,
            output: 8.00,
        },
    ),
    (
        "openai",
        "gpt-3.5-turbo",
        Price {
            input: 0.50,
            output: 1.50,
        },
    ),
    (
        "openai",
        "o4-mini",
        Price {
            input: 1.10,
            output: 4.40,
        },
    ),
    (
        "openai",
        "o3-mini",
        Price {
            input: 1.10,
            output: 4.40,
        },
    ),
    (
        "anthropic",
        "claude-3-5-haiku",
        Price {
            input: 0.80,
            output: 4.00,
        },
    ),
    (
        "anthropic",
        "claude-3-haiku",
        Price {
            input: 0.25,
            output: 1.25,
        },
    ),
    (
        "anthropic",
        "claude-haiku-4",
        Price {
            input: 1.00,
            output: 5.00,
        },
    ),
    (
        "anthropic",
        "claude-3-5-sonnet",
        Price {
            input: 3.00,
            output: 15.00,
        },
    ),
    (
        "anthropic",
        "claude-3-7-sonnet",
        Price {
            input: 3.00,
            output: 15.00,
        },
    ),
    (
        "anthropic",
        "claude-sonnet-4",
        Price {
            input: 3.00,
            output: 15.00,
        },
    ),
    (
        "anthropic",
        "claude-3-opus",
        Price {
            input: 15.00,
            output: 75.00,
        },
    ),
    (
        "anthropic",
        "claude-opus-4",
        Price {
            input: 15.00,
            output: 75.00,
        },
    ),
];

/// The list price of `model` at `provider`, if known.
pub fn price(provider: &str, model: &str) -> Option<Price> {
    let m = model.to_ascii_lowercase();
    PRICES
        .iter()
        .find(|(p, prefix, _)| *p == provider && m.starts_with(prefix))
        .map(|(_, _, price)| *price)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_counted_with_the_models_table() {
        assert_eq!(count_tokens("gpt-4o-mini", "hello world"), 2);
        assert_eq!(count_tokens("gpt-3.5-turbo", "hello world"), 2);
        assert_eq!(count_tokens("local-extractive", ""), 0);
        assert!(count_tokens("gpt-4o", "مرحبا بالعالم 🤖") > 2);
    }

    #[test]
    fn history_is_cut_oldest_first_to_fit_the_window() {
        let long = "word ".repeat(400); // about 400 tokens
        let history: Vec<Turn<'_>> = (0..10)
            .map(|i| Turn {
                role: if i % 2 == 0 {
                    ChatRole::User
                } else {
                    ChatRole::Assistant
                },
                text: &long,
            })
            .collect();
        let parts = PromptParts {
            model: "gpt-4o-mini",
            context_window: 2_000,
            max_tokens: 500,
            system: "Be brief.",
            history: &history,
            user: "and now?",
        };
        let prompt = assemble(&parts);
        assert!(prompt.tokens + parts.max_tokens <= parts.context_window);
        assert_eq!(
            prompt.history_dropped, 7,
            "three 400-token turns fit in 1,500"
        );
        assert_eq!(prompt.messages.len(), 5);
        assert_eq!(prompt.messages[0].role, ChatRole::System);
        assert_eq!(
            prompt.messages[1].role,
            ChatRole::Assistant,
            "the newest kept"
        );
        assert_eq!(prompt.messages[4].content, "and now?");

        let everything = assemble(&PromptParts {
            context_window: 128_000,
            ..parts
        });
        assert_eq!(everything.history_dropped, 0);
        let nothing = assemble(&PromptParts {
            context_window: 100,
            ..parts
        });
        assert_eq!(nothing.history_dropped, 10);
        assert_eq!(nothing.messages.len(), 2, "system and user are always sent");
    }

    #[test]
    fn prices_turn_usage_into_micro_dollars() {
        let mini = price("openai", "gpt-4o-mini-2024-07-18").unwrap();
        assert_eq!(
            mini.input, 0.15,
            "the longest matching prefix wins over gpt-4o"
        );
        let usage = Usage {
            prompt_tokens: 1_000,
            completion_tokens: 200,
        };
        assert_eq!(mini.cost_micros(usage), 270); // 150 + 120
        assert_eq!(price("local", "local-extractive"), None);
        assert_eq!(price("openai-compatible", "llama3"), None);
        assert_eq!(context_window("anthropic", "claude-sonnet-4"), 200_000);
        assert_eq!(context_window("local", "x"), DEFAULT_CONTEXT_WINDOW);
    }
}
