//! The rules data must satisfy however it enters: created or changed through the API,
//! imported from a document, cloned, or written by a program embedding the library. One
//! function per kind of record returns every problem at once, each naming its field by path
//! (`ai_config.temperature`, `intents[3].examples[2]`), so callers can answer with all of
//! them (the server as RFC 9457 problem details).
//!
//! The limits are public constants; the HTTP documentation quotes them.

mod appearance;
mod tools;

pub use appearance::{
    MAX_AVATAR_URL_BYTES, MAX_GREETING_CHARS, MAX_PLACEHOLDER_CHARS, MAX_TITLE_CHARS,
};
pub use tools::{
    MAX_TOOL_DESCRIPTION_CHARS, MAX_TOOL_HEADERS, MAX_TOOL_STEPS, MAX_TOOLS, TOOL_METHODS,
    TOOL_TIMEOUT_SECS,
};

use std::collections::HashMap;
use std::ops::RangeInclusive;

use crate::domain::{AiConfig, BotSettings};
use crate::nlu::{EntityDefinition, EntityExtractor, EntityKind};

/// Longest name (organization, bot, role, key, knowledge base), in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// Longest system prompt, in characters.
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 20_000;
/// Longest model name, in characters.
pub const MAX_MODEL_CHARS: usize = 100;
/// Allowed sampling temperatures.
pub const TEMPERATURE: RangeInclusive<f32> = 0.0..=2.0;
/// Allowed bounds on tokens per answer.
pub const MAX_TOKENS: RangeInclusive<u32> = 1..=32_768;
/// Most knowledge bases one bot answers from.
pub const MAX_KNOWLEDGE_BASES: usize = 20;
/// Longest [`BotSettings::unavailable_message`], in characters.
pub const MAX_UNAVAILABLE_MESSAGE_CHARS: usize = 1_000;
/// Most browser origins one bot may allow.
pub const MAX_ALLOWED_ORIGINS: usize = 50;
/// Allowed idle timeouts, in seconds (a minute to 30 days).
pub const IDLE_TIMEOUT_SECS: RangeInclusive<u32> = 60..=30 * 24 * 60 * 60;
/// Longest intent or entity name, in characters.
pub const MAX_NLU_NAME_CHARS: usize = 64;
/// Most intents (and, separately, entities) in one bot document.
pub const MAX_INTENTS: usize = 1_000;
/// Most entities in one bot document.
pub const MAX_ENTITIES: usize = 1_000;
/// Most examples one intent may hold.
pub const MAX_EXAMPLES: usize = 2_000;
/// Longest example, in characters.
pub const MAX_EXAMPLE_CHARS: usize = 500;
/// Shortest password, in characters (NIST SP 800-63B §5.1.1.2).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Least zxcvbn score a password needs: 2 means about a million guesses or more, beyond
/// common passwords, keyboard walks, repeats and dictionary words with obvious changes.
pub const MIN_PASSWORD_SCORE: zxcvbn::Score = zxcvbn::Score::Two;

/// The intent NLU reports below the confidence threshold (not a name an intent may take).
pub const NONE_INTENT: &str = "none";

/// One problem: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    /// Path of the field (`name`, `ai_config.temperature`, `intents[2].examples[0]`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Input that breaks the rules: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldIssue>);

impl Invalid {
    /// `Ok` when `result` is, else its message as the one problem of `field`.
    pub fn field(field: &str, result: Result<(), String>) -> Result<(), Invalid> {
        result.map_err(|message| {
            Invalid(vec![FieldIssue {
                field: field.to_owned(),
                message,
            }])
        })
    }

    /// `Ok` when `issues` is empty, else the issues as an error.
    pub fn check(issues: Vec<FieldIssue>) -> Result<(), Invalid> {
        if issues.is_empty() {
            Ok(())
        } else {
            Err(Invalid(issues))
        }
    }
}

/// Collects issues under a path prefix.
#[derive(Debug, Default)]
pub struct Issues {
    prefix: String,
    found: Vec<FieldIssue>,
}

impl Issues {
    /// Issues whose fields are under `prefix` (`""` for the top level).
    pub fn under(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            found: Vec::new(),
        }
    }

    fn path(&self, field: &str) -> String {
        match (self.prefix.is_empty(), field.is_empty()) {
            (true, _) => field.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{field}", self.prefix),
        }
    }

    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let field = self.path(field);
        self.found.push(FieldIssue {
            field,
            message: message.into(),
        });
    }

    /// Records `result`'s problem, if any.
    pub fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(field, message);
        }
    }

    /// Adds issues found elsewhere (already with full paths).
    pub fn extend(&mut self, other: Vec<FieldIssue>) {
        self.found.extend(other);
    }

    /// The issues found.
    pub fn into_vec(self) -> Vec<FieldIssue> {
        self.found
    }
}

/// A text of `min..=max` characters, not only whitespace, without control characters other
/// than line breaks and tabs.
pub fn text(value: &str, min: usize, max: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(if min == 0 {
            format!("at most {max} characters")
        } else {
            format!("must have {min} to {max} characters")
        });
    }
    if min > 0 && value.trim().is_empty() {
        return Err("must not be blank".to_owned());
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err("must not contain control characters".to_owned());
    }
    Ok(())
}

/// A new password, following NIST SP 800-63B §5.1.1.2: [`MIN_PASSWORD_CHARS`] to
/// [`MAX_PASSWORD_CHARS`] characters, any characters, no composition rules, but not a
/// common, repeated, sequential or easily guessed one, nor one built from `context` (the
/// account's email and name): the strength estimator (zxcvbn, trained on leaked-password and
/// dictionary frequency lists) must rate it at least [`MIN_PASSWORD_SCORE`]. The error says
/// why, in words a person can act on.
pub fn password(value: &str, context: &[&str]) -> Result<(), String> {
    let chars = value.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("at most {MAX_PASSWORD_CHARS} characters"));
    }
    if value.trim().is_empty() {
        return Err("must not be only spaces".to_owned());
    }
    let mut inputs: Vec<String> = Vec::new();
    for item in context {
        let item = item.to_lowercase();
        // The parts of an email address or a name count on their own too.
        inputs.extend(
            item.split(|c: char| !c.is_alphanumeric())
                .filter(|p| p.len() > 2)
                .map(str::to_owned),
        );
        inputs.push(item);
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(value, &inputs);
    if estimate.score() >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    let why = estimate
        .feedback()
        .and_then(|f| f.warning())
        .map(|w| w.to_string())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "it would be guessed quickly".to_owned());
    Err(format!(
        "too easy to guess: {}; use a longer phrase of unrelated words",
        why.trim_end_matches('.')
    ))
}

/// A display name: 1 to [`MAX_NAME_CHARS`] characters.
pub fn name(value: &str) -> Result<(), String> {
    text(value, 1, MAX_NAME_CHARS)
}

/// An intent or entity name: letters, digits, `_`, `-` and `.`, at most
/// [`MAX_NLU_NAME_CHARS`], not `none`.
pub fn nlu_name(value: &str) -> Result<(), String> {
    if value.is_empty()
        || value.chars().count() > MAX_NLU_NAME_CHARS
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "use 1 to {MAX_NLU_NAME_CHARS} letters, digits, `_`, `-` and `.`"
        ));
    }
    if value == NONE_INTENT {
        return Err("`none` is reserved".to_owned());
    }
    Ok(())
}

/// A bot's name, description and settings; `providers` are the provider ids the deployment
/// offers.
pub fn bot(
    name_value: &str,
    description: &str,
    ai_config: &AiConfig,
    settings: &BotSettings,
    providers: &[&str],
    prefix: &str,
) -> Vec<FieldIssue> {
    let mut issues = Issues::under(prefix);
    issues.check("name", name(name_value));
    issues.check("description", text(description, 0, MAX_DESCRIPTION_CHARS));
    issues.extend(self::ai_config(
        ai_config,
        providers,
        &join(prefix, "ai_config"),
    ));
    issues.extend(bot_settings(settings, &join(prefix, "settings")));
    issues.into_vec()
}

/// `prefix.field`, or `field` at the top level.
fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

fn known_provider(provider: &str, providers: &[&str]) -> Result<(), String> {
    if providers.contains(&provider) {
        Ok(())
    } else {
        Err(format!(
            "unknown provider; expected one of {}",
            providers.join(", ")
        ))
    }
}

/// Language model settings; `providers` are the provider ids the deployment offers.
pub fn ai_config(config: &AiConfig, providers: &[&str], prefix: &str) -> Vec<FieldIssue> {
    let mut issues = Issues::under(prefix);
    issues.check("provider", known_provider(&config.provider, providers));
    issues.check("model", text(&config.model, 1, MAX_MODEL_CHARS));
    issues.check(
        "system_prompt",
        text(&config.system_prompt, 0, MAX_SYSTEM_PROMPT_CHARS),
    );
    if !TEMPERATURE.contains(&config.temperature) {
        issues.add(
            "temperature",
            format!(
                "must be between {} and {}",
                TEMPERATURE.start(),
                TEMPERATURE.end()
            ),
        );
    }
    if !MAX_TOKENS.contains(&config.max_tokens) {
        issues.add(
            "max_tokens",
            format!(
                "must be between {} and {}",
                MAX_TOKENS.start(),
                MAX_TOKENS.end()
            ),
        );
    }
    if let Some(fallback) = &config.fallback_provider {
        issues.check("fallback_provider", known_provider(fallback, providers));
        if *fallback == config.provider && config.fallback_model.is_none() {
            issues.add(
                "fallback_provider",
                "must differ from provider, or name a fallback_model",
            );
        }
    }
    if let Some(model) = &config.fallback_model {
        if config.fallback_provider.is_none() {
            issues.add("fallback_model", "needs a fallback_provider");
        }
        issues.check("fallback_model", text(model, 1, MAX_MODEL_CHARS));
    }
    tools::check(&config.tools, config.max_tool_steps, &mut issues);
    if config.knowledge_base_ids.len() > MAX_KNOWLEDGE_BASES {
        issues.add(
            "knowledge_base_ids",
            format!("at most {MAX_KNOWLEDGE_BASES} knowledge bases"),
        );
    }
    issues.into_vec()
}

/// Whether `value` is a browser origin in its canonical form (`https://host[:port]`).
pub fn is_origin(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.origin().ascii_serialization() == value
    })
}

/// NLU, session and web chat settings.
pub fn bot_settings(settings: &BotSettings, prefix: &str) -> Vec<FieldIssue> {
    let mut issues = Issues::under(prefix);
    if !(0.0..=1.0).contains(&settings.nlu_threshold) {
        issues.add("nlu_threshold", "must be between 0 and 1");
    }
    if !IDLE_TIMEOUT_SECS.contains(&settings.idle_timeout_secs) {
        issues.add(
            "idle_timeout_secs",
            format!(
                "must be between {} and {}",
                IDLE_TIMEOUT_SECS.start(),
                IDLE_TIMEOUT_SECS.end()
            ),
        );
    }
    if settings.allowed_origins.len() > MAX_ALLOWED_ORIGINS {
        issues.add(
            "allowed_origins",
            format!("at most {MAX_ALLOWED_ORIGINS} origins"),
        );
    }
    for (i, origin) in settings.allowed_origins.iter().enumerate() {
        if !is_origin(origin) {
            issues.add(
                &format!("allowed_origins[{i}]"),
                "must be an origin such as `https://shop.example` (scheme, host, port; no path)",
            );
        }
    }
    issues.check(
        "unavailable_message",
        text(
            &settings.unavailable_message,
            1,
            MAX_UNAVAILABLE_MESSAGE_CHARS,
        ),
    );
    appearance::check(&settings.appearance, &mut issues);
    issues.into_vec()
}

/// An intent: its name and examples (at most [`MAX_EXAMPLES`], each 1 to
/// [`MAX_EXAMPLE_CHARS`] characters, no example twice).
pub fn intent(name_value: &str, examples: &[String], prefix: &str) -> Vec<FieldIssue> {
    let mut issues = Issues::under(prefix);
    issues.check("name", nlu_name(name_value));
    if examples.len() > MAX_EXAMPLES {
        issues.add("examples", format!("at most {MAX_EXAMPLES} examples"));
        return issues.into_vec();
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, example) in examples.iter().enumerate() {
        let field = format!("examples[{i}]");
        if let Err(message) = text(example, 1, MAX_EXAMPLE_CHARS) {
            issues.add(&field, message);
        } else if let Some(first) = seen.insert(normalize_example(example), i) {
            issues.add(&field, format!("repeats example {first}"));
        }
    }
    issues.into_vec()
}

/// How examples are compared for repeats: as the classifier sees them (its lower-case word
/// tokens), so case, spacing and punctuation do not count.
pub fn normalize_example(example: &str) -> String {
    crate::nlu::tokens(example).join(" ")
}

/// An entity definition: its name, and a rule that compiles.
pub fn entity(name_value: &str, kind: &EntityKind, prefix: &str) -> Vec<FieldIssue> {
    let mut issues = Issues::under(prefix);
    issues.check("name", nlu_name(name_value));
    let definition = EntityDefinition {
        name: name_value.to_owned(),
        kind: kind.clone(),
    };
    if let Err(e) = EntityExtractor::new(&[definition]) {
        issues.add("kind", e.to_string());
    }
    issues.into_vec()
}

/// The intents of one bot together: each valid ([`intent`]), names unique, at most
/// [`MAX_INTENTS`], and no example taught to two intents (the classifier could then never
/// tell them apart on it). Fields are `prefix[i]…`.
pub fn intents<'a>(
    all: impl IntoIterator<Item = (&'a str, &'a [String])>,
    prefix: &str,
) -> Vec<FieldIssue> {
    let mut issues = Issues::default();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut examples: HashMap<String, (usize, &str)> = HashMap::new();
    let mut count = 0;
    for (i, (name_value, list)) in all.into_iter().enumerate() {
        count += 1;
        let at = format!("{prefix}[{i}]");
        issues.extend(intent(name_value, list, &at));
        if let Some(first) = names.insert(name_value, i) {
            issues.add(&format!("{at}.name"), format!("repeats {prefix}[{first}]"));
        }
        for (j, example) in list.iter().enumerate() {
            let key = normalize_example(example);
            match examples.get(&key) {
                Some((other, other_name)) if *other != i => issues.add(
                    &format!("{at}.examples[{j}]"),
                    format!("is already an example of intent `{other_name}`"),
                ),
                Some(_) => {}
                None => {
                    examples.insert(key, (i, name_value));
                }
            }
        }
    }
    if count > MAX_INTENTS {
        issues.add(prefix, format!("at most {MAX_INTENTS} intents"));
    }
    issues.into_vec()
}

/// The first of `examples` that another intent of the bot already has: its index and that
/// intent's name. An example taught to two intents makes the classifier unable to tell them
/// apart on it (the exact sentence then parses as either, or as `none`).
pub fn example_owned_elsewhere<'a>(
    examples: &[String],
    others: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Option<(usize, String)> {
    let mut owners: HashMap<String, &str> = HashMap::new();
    for (name_value, list) in others {
        for example in list {
            owners
                .entry(normalize_example(example))
                .or_insert(name_value);
        }
    }
    examples.iter().enumerate().find_map(|(i, example)| {
        owners
            .get(&normalize_example(example))
            .map(|owner| (i, (*owner).to_owned()))
    })
}

/// The entities of one bot together: each valid ([`entity`]), names unique, at most
/// [`MAX_ENTITIES`]. Fields are `prefix[i]…`.
pub fn entities<'a>(
    all: impl IntoIterator<Item = (&'a str, &'a EntityKind)>,
    prefix: &str,
) -> Vec<FieldIssue> {
    let mut issues = Issues::default();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut count = 0;
    for (i, (name_value, kind)) in all.into_iter().enumerate() {
        count += 1;
        let at = format!("{prefix}[{i}]");
        issues.extend(entity(name_value, kind, &at));
        if let Some(first) = names.insert(name_value, i) {
            issues.add(&format!("{at}.name"), format!("repeats {prefix}[{first}]"));
        }
    }
    if count > MAX_ENTITIES {
        issues.add(prefix, format!("at most {MAX_ENTITIES} entities"));
    }
    issues.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(issues: &[FieldIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.field.as_str()).collect()
    }

    const OFFERED: [&str; 3] = ["local", "openai", "anthropic"];

    #[test]
    fn a_bot_is_checked_field_by_field() {
        let mut config = AiConfig {
            provider: "evil-provider".into(),
            temperature: 7.0,
            max_tokens: 0,
            ..AiConfig::default()
        };
        let issues = bot("", "", &config, &BotSettings::default(), &OFFERED, "bot");
        assert_eq!(
            fields(&issues),
            [
                "bot.name",
                "bot.ai_config.provider",
                "bot.ai_config.temperature",
                "bot.ai_config.max_tokens"
            ]
        );
        config = AiConfig::default();
        config.fallback_provider = Some("local".into());
        let settings = BotSettings {
            nlu_threshold: 1.5,
            allowed_origins: vec!["https://shop.example/path".into()],
            unavailable_message: " ".into(),
            ..BotSettings::default()
        };
        assert_eq!(
            fields(&bot("Shop", "", &config, &settings, &OFFERED, "")),
            [
                "ai_config.fallback_provider",
                "settings.nlu_threshold",
                "settings.allowed_origins[0]",
                "settings.unavailable_message"
            ]
        );
        config.fallback_model = Some("a-bigger-model".into());
        assert!(
            ai_config(&config, &OFFERED, "").is_empty(),
            "the same provider with another model is a fallback"
        );
        config.fallback_provider = None;
        assert_eq!(
            fields(&ai_config(&config, &OFFERED, "")),
            ["fallback_model"]
        );
        assert!(
            bot(
                "Shop",
                "",
                &AiConfig::default(),
                &BotSettings::default(),
                &OFFERED,
                ""
            )
            .is_empty()
        );
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "password",
            "12345678",
            "        ",
            "qwertyuiop",
            "aaaaaaaaaaaa",
            "Password1!",
        ] {
            let why = password(weak, &[]).unwrap_err();
            assert!(!why.is_empty(), "{weak}");
        }
        assert!(password("short", &[]).unwrap_err().contains("at least 8"));
        assert!(
            password(
                "lovelace1815",
                &["ada.lovelace@example.com", "Ada Lovelace"]
            )
            .is_err()
        );
        assert!(password("ada.lovelace@example.com", &["ada.lovelace@example.com"]).is_err());
        for strong in [
            "correct horse battery staple",
            "correct horse battery",
            "tiny-otter-jumps-42",
        ] {
            assert_eq!(password(strong, &["ada@example.com"]), Ok(()), "{strong}");
        }
    }

    #[test]
    fn texts_refuse_blanks_control_characters_and_lengths() {
        assert!(name("Support").is_ok());
        assert!(name("   ").is_err());
        assert!(name("a\u{0}b").is_err());
        assert!(name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(text("line\nbreak\ttab", 0, 20).is_ok());
        assert!(nlu_name("track_order.v2").is_ok());
        assert!(nlu_name("none").is_err());
        assert!(nlu_name("has space").is_err());
    }

    #[test]
    fn intents_are_bounded_and_their_examples_belong_to_one_intent() {
        let huge = vec!["hello".to_owned(); MAX_EXAMPLES + 1];
        assert_eq!(fields(&intent("greet", &huge, "")), ["examples"]);
        let long = vec!["x".repeat(MAX_EXAMPLE_CHARS + 1)];
        assert_eq!(fields(&intent("greet", &long, "")), ["examples[0]"]);
        let repeated = vec!["Hello there".to_owned(), "hello,  THERE!".to_owned()];
        assert_eq!(fields(&intent("greet", &repeated, "")), ["examples[1]"]);
        let greet = ["hello".to_owned()];
        let also = ["Hello".to_owned(), "bye".to_owned()];
        let issues = intents([("greet", &greet[..]), ("bye", &also[..])], "intents");
        assert_eq!(fields(&issues), ["intents[1].examples[0]"]);
        assert!(issues[0].message.contains("`greet`"), "{issues:?}");
        let issues = intents([("greet", &greet[..]), ("greet", &also[1..])], "intents");
        assert_eq!(fields(&issues), ["intents[1].name"]);
    }

    #[test]
    fn entities_must_compile() {
        let bad = EntityKind::Regex {
            pattern: "(".into(),
        };
        assert_eq!(fields(&entity("size", &bad, "")), ["kind"]);
        let good = EntityKind::Regex {
            pattern: "[0-9]+".into(),
        };
        assert!(entity("size", &good, "").is_empty());
    }
}
