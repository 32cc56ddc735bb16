//! Prompt assembly for the AI handler and token counting.
//!
//! [`assemble`] builds the messages sent to a language model: the bot's system prompt (with
//! flow and retrieval instructions), as much recent history as fits the model's context
//! window after reserving room for the answer and for what travels beside the messages
//! (retrieved sources, tool definitions), and the user's message. Tokens are counted with the OpenAI BPE tables bundled in `tiktoken-rs`
//! (`o200k_base` for the GPT-4o generation and later, `cl100k_base` otherwise): exact for
//! OpenAI models, a close estimate for others. Providers that report usage are believed over
//! the estimate.
//!
//! Counting is skipped when it cannot change the outcome: a BPE token stands for at least one
//! byte of text, so a prompt whose bytes (plus the per-message overhead, the answer's
//! `max_tokens` and what travels beside the messages) fit the window keeps all its history,
//! and its count is left for when it is needed ([`count_prompt`]: a spend reservation, or an
//! estimate when a provider reports no usage), off the path to the first token.
//!
//! Context windows and prices are the providers' to know ([`crate::llm::ModelInfo`]).

use tiktoken_rs::CoreBPE;

use crate::llm::{ChatMessage, ChatRole};

/// Tokens every chat message costs beyond its content (role and separators).
pub const TOKENS_PER_MESSAGE: u32 = 3;
/// Tokens that prime the model's reply.
pub const TOKENS_REPLY_PRIMING: u32 = 3;

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

/// Tokens of `messages` sent as a prompt: each content, [`TOKENS_PER_MESSAGE`] each, and
/// [`TOKENS_REPLY_PRIMING`] (what travels beside the messages is not included).
pub fn count_prompt(model: &str, messages: &[ChatMessage]) -> u32 {
    messages
        .iter()
        .map(|m| count_tokens(model, &m.content).saturating_add(TOKENS_PER_MESSAGE))
        .fold(TOKENS_REPLY_PRIMING, u32::saturating_add)
}

/// An upper bound of the tokens of `text` as a message: its bytes (a token covers at least
/// one) and the per-message overhead.
fn bound(text: &str) -> u32 {
    u32::try_from(text.len())
        .unwrap_or(u32::MAX)
        .saturating_add(TOKENS_PER_MESSAGE)
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
    /// The system prompt and instructions.
    pub system: &'a str,
    /// Tokens the request carries besides its messages: the rendered sources and tool
    /// definitions.
    pub extra_tokens: u32,
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
    /// Their tokens with the extra ones, as counted here; `None` when everything fit without
    /// counting (see the module docs).
    pub tokens: Option<u32>,
    /// How many history messages were left out for lack of room.
    pub history_dropped: usize,
}

/// Builds the prompt (see the module docs): system, the newest history that fits, user.
pub fn assemble(parts: &PromptParts<'_>) -> Prompt {
    let (history_dropped, tokens) = fit_history(parts);
    let kept = &parts.history[history_dropped..];
    let mut messages = Vec::with_capacity(kept.len() + 2);
    messages.push(ChatMessage::system(parts.system));
    messages.extend(
        kept.iter()
            .map(|turn| ChatMessage::new(turn.role, turn.text)),
    );
    messages.push(ChatMessage::user(parts.user));
    Prompt {
        messages,
        tokens,
        history_dropped,
    }
}

/// How many of the oldest history messages must go, and the prompt's tokens when they had to
/// be counted to know (see the module docs).
fn fit_history(parts: &PromptParts<'_>) -> (usize, Option<u32>) {
    let most = parts.history.iter().map(|turn| bound(turn.text)).fold(
        bound(parts.system)
            .saturating_add(bound(parts.user))
            .saturating_add(TOKENS_REPLY_PRIMING)
            .saturating_add(parts.extra_tokens),
        u32::saturating_add,
    );
    if most.saturating_add(parts.max_tokens) <= parts.context_window {
        return (0, None);
    }
    let cost = |text: &str| count_tokens(parts.model, text) + TOKENS_PER_MESSAGE;
    let mut tokens =
        cost(parts.system) + cost(parts.user) + TOKENS_REPLY_PRIMING + parts.extra_tokens;
    let mut room = parts
        .context_window
        .saturating_sub(parts.max_tokens)
        .saturating_sub(tokens);
    let mut kept = 0;
    for turn in parts.history.iter().rev() {
        let cost = cost(turn.text);
        if cost > room {
            break;
        }
        room -= cost;
        tokens += cost;
        kept += 1;
    }
    (parts.history.len() - kept, Some(tokens))
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
    fn a_token_never_stands_for_less_than_a_byte() {
        for text in [
            "hello world",
            "مرحبا بالعالم 🤖",
            "数据库 データベース",
            "a\n\n\tb",
            " ",
        ] {
            for model in ["gpt-4o", "gpt-3.5-turbo"] {
                assert!(count_tokens(model, text) as usize <= text.len(), "{text}");
            }
        }
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
            extra_tokens: 0,
            history: &history,
            user: "and now?",
        };
        let prompt = assemble(&parts);
        let counted = prompt.tokens.expect("a tight window is counted");
        assert!(counted + parts.max_tokens <= parts.context_window);
        assert_eq!(counted, count_prompt(parts.model, &prompt.messages));
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
        assert_eq!(everything.tokens, None, "a roomy window needs no count");
        assert_eq!(everything.messages.len(), 12);
        assert!(count_prompt(parts.model, &everything.messages) + 500 <= 128_000);
        let nothing = assemble(&PromptParts {
            context_window: 100,
            ..parts
        });
        assert_eq!(nothing.history_dropped, 10);
        assert_eq!(nothing.messages.len(), 2, "system and user are always sent");
    }
}
