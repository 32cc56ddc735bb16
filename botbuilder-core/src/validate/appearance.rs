//! The rules of a bot's web chat appearance ([`WebchatAppearance`]).

use crate::domain::WebchatAppearance;

use super::{Issues, text};

/// Longest [`WebchatAppearance::title`], in characters.
pub const MAX_TITLE_CHARS: usize = 60;
/// Longest [`WebchatAppearance::greeting`], in characters.
pub const MAX_GREETING_CHARS: usize = 1_000;
/// Longest [`WebchatAppearance::placeholder`], in characters.
pub const MAX_PLACEHOLDER_CHARS: usize = 100;
/// Longest [`WebchatAppearance::avatar_url`], in bytes.
pub const MAX_AVATAR_URL_BYTES: usize = 2_048;

/// `#rgb` or `#rrggbb`.
fn color(value: &str) -> Result<(), String> {
    let digits = value.strip_prefix('#').unwrap_or_default();
    if matches!(digits.len(), 3 | 6) && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("must be a color such as `#2563eb` or `#25e`".to_owned())
    }
}

/// An absolute `https` URL (the widget shows nothing else on a customer's page).
fn https_url(value: &str) -> Result<(), String> {
    if value.len() > MAX_AVATAR_URL_BYTES {
        return Err(format!("at most {MAX_AVATAR_URL_BYTES} bytes"));
    }
    match url::Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.has_host() => Ok(()),
        _ => Err("must be an absolute https URL".to_owned()),
    }
}

/// A BCP 47 language tag of the common shape: a 2–3 letter language, then optional
/// subtags of 1–8 letters or digits (`fr`, `pt-BR`, `zh-Hant-TW`).
fn language(value: &str) -> Result<(), String> {
    let mut parts = value.split('-');
    let primary = parts.next().unwrap_or_default();
    let primary_ok =
        (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok && value.len() <= 35 {
        Ok(())
    } else {
        Err("must be a language tag such as `en`, `fr` or `pt-BR`".to_owned())
    }
}

/// The appearance's fields, under `prefix` (`settings.appearance`).
pub(super) fn check(appearance: &WebchatAppearance, issues: &mut Issues) {
    let optional = |value: &Option<String>, rule: &dyn Fn(&str) -> Result<(), String>| {
        value.as_deref().map_or(Ok(()), rule)
    };
    issues.check(
        "appearance.title",
        optional(&appearance.title, &|v| text(v, 1, MAX_TITLE_CHARS)),
    );
    issues.check("appearance.color", optional(&appearance.color, &color));
    issues.check(
        "appearance.avatar_url",
        optional(&appearance.avatar_url, &https_url),
    );
    issues.check(
        "appearance.greeting",
        optional(&appearance.greeting, &|v| text(v, 1, MAX_GREETING_CHARS)),
    );
    issues.check(
        "appearance.placeholder",
        optional(&appearance.placeholder, &|v| {
            text(v, 1, MAX_PLACEHOLDER_CHARS)
        }),
    );
    issues.check(
        "appearance.language",
        optional(&appearance.language, &language),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BotSettings;

    fn issues_of(appearance: WebchatAppearance) -> Vec<String> {
        let settings = BotSettings {
            appearance,
            ..BotSettings::default()
        };
        super::super::bot_settings(&settings, "settings")
            .into_iter()
            .map(|issue| issue.field)
            .collect()
    }

    #[test]
    fn a_full_appearance_passes_and_each_bad_field_is_named() {
        let good = WebchatAppearance {
            title: Some("Shop help".into()),
            color: Some("#2563eb".into()),
            avatar_url: Some("https://cdn.example/bot.png".into()),
            greeting: Some("Hi! Ask me about **orders**.".into()),
            placeholder: Some("Ask away…".into()),
            position: crate::domain::WidgetPosition::Left,
            language: Some("pt-BR".into()),
        };
        assert!(issues_of(good.clone()).is_empty());
        assert!(issues_of(WebchatAppearance::default()).is_empty());
        for (field, broken) in [
            (
                "title",
                WebchatAppearance {
                    title: Some(" ".into()),
                    ..good.clone()
                },
            ),
            (
                "title",
                WebchatAppearance {
                    title: Some("x".repeat(61)),
                    ..good.clone()
                },
            ),
            (
                "color",
                WebchatAppearance {
                    color: Some("red".into()),
                    ..good.clone()
                },
            ),
            (
                "color",
                WebchatAppearance {
                    color: Some("#12345g".into()),
                    ..good.clone()
                },
            ),
            (
                "avatar_url",
                WebchatAppearance {
                    avatar_url: Some("http://cdn.example/a.png".into()),
                    ..good.clone()
                },
            ),
            (
                "avatar_url",
                WebchatAppearance {
                    avatar_url: Some("javascript:alert(1)".into()),
                    ..good.clone()
                },
            ),
            (
                "greeting",
                WebchatAppearance {
                    greeting: Some("x".repeat(1_001)),
                    ..good.clone()
                },
            ),
            (
                "placeholder",
                WebchatAppearance {
                    placeholder: Some(String::new()),
                    ..good.clone()
                },
            ),
            (
                "language",
                WebchatAppearance {
                    language: Some("english".into()),
                    ..good.clone()
                },
            ),
            (
                "language",
                WebchatAppearance {
                    language: Some("en_US".into()),
                    ..good.clone()
                },
            ),
        ] {
            assert_eq!(
                issues_of(broken),
                [format!("settings.appearance.{field}")],
                "{field}"
            );
        }
    }
}
