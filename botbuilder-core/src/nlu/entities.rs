//! Entity extraction: user-defined regular expressions, lookup lists with synonyms, and
//! built-in entities (email, phone, number, url, date, time).
//!
//! Patterns compile with the `regex` crate, which matches in linear time, so a bot author's
//! pattern cannot stall the server; a size limit bounds memory. Overlapping matches are
//! resolved by keeping the longest (then the earliest-defined) one.

use chrono::{Datelike, Duration, NaiveDate};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// Largest compiled size of one pattern.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Entities every bot can use without defining them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltinEntity {
    /// `name@example.com`; the value is lower-cased.
    Email,
    /// Phone numbers with at least 7 digits; the value keeps digits and a leading `+`.
    Phone,
    /// Integers and decimals; the value is the number.
    Number,
    /// `http(s)://…` and `www.…` links.
    Url,
    /// `2026-11-27`, `27/11/2026`, `today`, `tomorrow`, `yesterday`; the value is ISO 8601.
    Date,
    /// `14:30`, `2:30 pm`, `9am`; the value is `HH:MM` (24 h).
    Time,
}

impl BuiltinEntity {
    /// Every built-in entity.
    pub const ALL: [BuiltinEntity; 6] = [
        Self::Email,
        Self::Phone,
        Self::Number,
        Self::Url,
        Self::Date,
        Self::Time,
    ];

    fn pattern(self) -> &'static str {
        match self {
            Self::Email => r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b",
            Self::Phone => r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d[\d\s.-]{5,}\d",
            Self::Number => r"-?\b\d+(?:[.,]\d+)?\b",
            Self::Url => r#"(?i)\b(?:https?://|www\.)[^\s<>"']+[^\s<>"'.,;:!?)]"#,
            Self::Date => {
                r"(?i)\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|today|tomorrow|yesterday)\b"
            }
            Self::Time => {
                r"(?i)\b(?:[01]?\d|2[0-3])(?::[0-5]\d)?\s*(?:am|pm)\b|\b(?:[01]?\d|2[0-3]):[0-5]\d\b"
            }
        }
    }

    /// Normalizes a matched text into the entity's value, or `None` if it is not one after all
    /// (an impossible date, a phone number with too few digits).
    fn value(self, text: &str, today: NaiveDate) -> Option<serde_json::Value> {
        use serde_json::Value;
        match self {
            Self::Email => Some(Value::String(text.to_lowercase())),
            Self::Url => Some(Value::String(text.to_owned())),
            Self::Phone => {
                if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
                    return None; // an ISO date, not a phone number
                }
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                (7..=15).contains(&digits.len()).then(|| {
                    let plus = if text.starts_with('+') { "+" } else { "" };
                    Value::String(format!("{plus}{digits}"))
                })
            }
            Self::Number => text
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            Self::Date => {
                parse_date(text, today).map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            }
            Self::Time => parse_time(text).map(|(h, m)| Value::String(format!("{h:02}:{m:02}"))),
        }
    }
}

fn parse_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    match text.to_lowercase().as_str() {
        "today" => Some(today),
        "tomorrow" => today.checked_add_signed(Duration::days(1)),
        "yesterday" => today.checked_sub_signed(Duration::days(1)),
        t if t.contains('-') => NaiveDate::parse_from_str(t, "%Y-%m-%d").ok(),
        t => {
            // Day first (27/11/2026) unless that is impossible and month first works.
            let parts: Vec<u32> = t.split('/').filter_map(|p| p.parse().ok()).collect();
            let [a, b, year] = parts[..] else { return None };
            let year = i32::try_from(year).ok()?;
            NaiveDate::from_ymd_opt(year, b, a).or_else(|| NaiveDate::from_ymd_opt(year, a, b))
        }
    }
    .filter(|d| d.year() > 0)
}

fn parse_time(text: &str) -> Option<(u32, u32)> {
    let lower = text.to_lowercase();
    let (clock, meridiem) = match lower.trim_end() {
        t if t.ends_with("am") => (t.trim_end_matches("am").trim(), Some(false)),
        t if t.ends_with("pm") => (t.trim_end_matches("pm").trim(), Some(true)),
        t => (t, None),
    };
    let (h, m) = match clock.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None => (clock.parse::<u32>().ok()?, 0),
    };
    let h = match meridiem {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) if h != 12 => h + 12,
        Some(false) if h == 12 => 0,
        _ => h,
    };
    (h < 24 && m < 60).then_some((h, m))
}

/// One value of a lookup entity and the words that mean it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupValue {
    /// The canonical value (`"large"`).
    pub value: String,
    /// Other ways to say it (`["big", "XL"]`), matched case-insensitively as whole words.
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// How an entity is recognized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntityKind {
    /// A regular expression (Rust `regex` syntax); the value is the matched text, or the
    /// first capture group when there is one.
    Regex {
        /// The pattern.
        pattern: String,
    },
    /// A list of values with synonyms.
    Lookup {
        /// The values.
        values: Vec<LookupValue>,
    },
    /// One of the built-in entities.
    Builtin {
        /// Which one.
        builtin: BuiltinEntity,
    },
}

/// A named entity of a bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityDefinition {
    /// Name used in flows and NLU results (`size`, `order_id`).
    pub name: String,
    /// How it is recognized.
    pub kind: EntityKind,
}

/// An entity found in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityMatch {
    /// The entity's name.
    pub entity: String,
    /// The normalized value.
    pub value: serde_json::Value,
    /// The text as written.
    pub text: String,
    /// Byte offset where the match starts.
    pub start: usize,
    /// Byte offset where the match ends.
    pub end: usize,
}

/// Why an entity definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntityError {
    /// The pattern does not compile (or is too large); the message says why.
    #[error("entity `{entity}`: invalid pattern: {message}")]
    InvalidPattern {
        /// The entity.
        entity: String,
        /// The compiler's explanation.
        message: String,
    },
    /// A lookup entity without any value.
    #[error("entity `{0}`: a lookup needs at least one value")]
    EmptyLookup(String),
}

#[derive(Debug, Clone)]
enum Matcher {
    Regex(Regex),
    /// The alternation of every synonym, and which canonical value each alternative means.
    Lookup(Regex, Vec<(String, String)>),
    Builtin(BuiltinEntity, Regex),
}

/// Compiled entity definitions, ready to extract.
#[derive(Debug, Clone)]
pub struct EntityExtractor {
    matchers: Vec<(String, Matcher)>,
}

fn compile(entity: &str, pattern: &str) -> Result<Regex, EntityError> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| EntityError::InvalidPattern {
            entity: entity.to_owned(),
            message: e.to_string(),
        })
}

impl EntityExtractor {
    /// Compiles `definitions`. Built-ins need no definition; list them to use them.
    pub fn new(definitions: &[EntityDefinition]) -> Result<Self, EntityError> {
        let mut matchers = Vec::with_capacity(definitions.len());
        for def in definitions {
            let matcher = match &def.kind {
                EntityKind::Regex { pattern } => Matcher::Regex(compile(&def.name, pattern)?),
                EntityKind::Builtin { builtin } => {
                    Matcher::Builtin(*builtin, compile(&def.name, builtin.pattern())?)
                }
                EntityKind::Lookup { values } => {
                    let mut words: Vec<(String, String)> = values
                        .iter()
                        .flat_map(|v| {
                            std::iter::once(&v.value)
                                .chain(&v.synonyms)
                                .map(|w| (w.trim().to_lowercase(), v.value.clone()))
                        })
                        .filter(|(w, _)| !w.is_empty())
                        .collect();
                    if words.is_empty() {
                        return Err(EntityError::EmptyLookup(def.name.clone()));
                    }
                    // Longest first, so "new york city" wins over "new york".
                    words.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
                    words.dedup_by(|a, b| a.0 == b.0);
                    let alternation = words
                        .iter()
                        .map(|(w, _)| regex::escape(w))
                        .collect::<Vec<_>>()
                        .join("|");
                    let pattern = format!(r"(?i)\b(?:{alternation})\b");
                    Matcher::Lookup(compile(&def.name, &pattern)?, words)
                }
            };
            matchers.push((def.name.clone(), matcher));
        }
        Ok(Self { matchers })
    }

    /// Every entity in `text`, in text order, with relative dates resolved against `today`.
    pub fn extract(&self, text: &str, today: NaiveDate) -> Vec<EntityMatch> {
        let mut found: Vec<(usize, EntityMatch)> = Vec::new();
        for (rank, (name, matcher)) in self.matchers.iter().enumerate() {
            let mut push = |start: usize, end: usize, value: serde_json::Value| {
                found.push((
                    rank,
                    EntityMatch {
                        entity: name.clone(),
                        value,
                        text: text[start..end].to_owned(),
                        start,
                        end,
                    },
                ));
            };
            match matcher {
                Matcher::Regex(re) => {
                    for caps in re.captures_iter(text) {
                        let whole = caps.get(0).expect("group 0 always matches");
                        let value = caps.get(1).unwrap_or(whole).as_str();
                        push(whole.start(), whole.end(), value.into());
                    }
                }
                Matcher::Lookup(re, words) => {
                    for m in re.find_iter(text) {
                        let key = m.as_str().to_lowercase();
                        if let Some((_, value)) = words.iter().find(|(w, _)| *w == key) {
                            push(m.start(), m.end(), value.clone().into());
                        }
                    }
                }
                Matcher::Builtin(builtin, re) => {
                    for m in re.find_iter(text) {
                        if let Some(value) = builtin.value(m.as_str(), today) {
                            push(m.start(), m.end(), value);
                        }
                    }
                }
            }
        }
        // Longest match wins an overlap; among equals, the entity defined first.
        found.sort_by(|(ra, a), (rb, b)| {
            (b.end - b.start)
                .cmp(&(a.end - a.start))
                .then(ra.cmp(rb))
                .then(a.start.cmp(&b.start))
        });
        let mut kept: Vec<EntityMatch> = Vec::new();
        for (_, m) in found {
            if kept.iter().all(|k| m.end <= k.start || m.start >= k.end) {
                kept.push(m);
            }
        }
        kept.sort_by_key(|m| m.start);
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn builtins() -> Vec<EntityDefinition> {
        BuiltinEntity::ALL
            .iter()
            .map(|b| EntityDefinition {
                name: format!("{b:?}").to_lowercase(),
                kind: EntityKind::Builtin { builtin: *b },
            })
            .collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    fn values(found: &[EntityMatch]) -> Vec<(String, serde_json::Value)> {
        found
            .iter()
            .map(|m| (m.entity.clone(), m.value.clone()))
            .collect()
    }

    #[test]
    fn builtins_extract_and_normalize() {
        let x = EntityExtractor::new(&builtins()).unwrap();
        let text = "Mail Ada@Example.com or call +44 20 7946 0958 about 3 boxes at 2:30 pm \
                    tomorrow; see https://example.com/a?b=1.";
        assert_eq!(
            values(&x.extract(text, today())),
            vec![
                ("email".into(), json!("ada@example.com")),
                ("phone".into(), json!("+442079460958")),
                ("number".into(), json!(3.0)),
                ("time".into(), json!("14:30")),
                ("date".into(), json!("2026-11-28")),
                ("url".into(), json!("https://example.com/a?b=1")),
            ]
        );
        let found = x.extract("on 2026-12-01 or 31/12/2026 at 09:05, 12am", today());
        assert_eq!(
            values(&found),
            vec![
                ("date".into(), json!("2026-12-01")),
                ("date".into(), json!("2026-12-31")),
                ("time".into(), json!("09:05")),
                ("time".into(), json!("00:00")),
            ]
        );
        assert!(
            x.extract("on 2026-13-45", today())
                .iter()
                .all(|m| m.entity != "date")
        );
    }

    #[test]
    fn lookups_match_synonyms_as_whole_words() {
        let defs = [EntityDefinition {
            name: "size".into(),
            kind: EntityKind::Lookup {
                values: vec![
                    LookupValue {
                        value: "large".into(),
                        synonyms: vec!["big".into(), "XL".into()],
                    },
                    LookupValue {
                        value: "small".into(),
                        synonyms: vec![],
                    },
                ],
            },
        }];
        let x = EntityExtractor::new(&defs).unwrap();
        let found = x.extract("A BIG one, not small; bigger is not a size", today());
        assert_eq!(
            values(&found),
            vec![
                ("size".into(), json!("large")),
                ("size".into(), json!("small"))
            ]
        );
        assert_eq!(
            (found[0].start, found[0].end, found[0].text.as_str()),
            (2, 5, "BIG")
        );
    }

    #[test]
    fn regex_entities_use_the_first_group_and_bad_patterns_are_refused() {
        let defs = [EntityDefinition {
            name: "order_id".into(),
            kind: EntityKind::Regex {
                pattern: r"(?i)order\s+#?([A-Z]{2}\d{4})".into(),
            },
        }];
        let x = EntityExtractor::new(&defs).unwrap();
        let found = x.extract("where is order #AB1234?", today());
        assert_eq!(values(&found), vec![("order_id".into(), json!("AB1234"))]);
        let bad = EntityDefinition {
            name: "broken".into(),
            kind: EntityKind::Regex {
                pattern: "(unclosed".into(),
            },
        };
        assert!(matches!(
            EntityExtractor::new(&[bad]),
            Err(EntityError::InvalidPattern { .. })
        ));
        let huge = EntityDefinition {
            name: "huge".into(),
            kind: EntityKind::Regex {
                pattern: r"\w{1000}{1000}".into(),
            },
        };
        assert!(EntityExtractor::new(&[huge]).is_err(), "size limit");
    }

    #[test]
    fn overlaps_keep_the_longest_match() {
        let x = EntityExtractor::new(&builtins()).unwrap();
        // The digits of a phone number, date or time are not also numbers.
        let found = x.extract("555-123-4567 on 2026-01-02", today());
        let names: Vec<&str> = found.iter().map(|m| m.entity.as_str()).collect();
        assert_eq!(names, vec!["phone", "date"]);
    }
}
