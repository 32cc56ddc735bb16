//! What connecting a channel takes on each platform: the settings, which of them are
//! secret, and the rules they must pass.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ChannelKind;
use crate::domain::Channel;
use crate::validate::{Invalid, Issues};

/// Longest setting value, in characters.
pub const MAX_SETTING_CHARS: usize = 4096;

/// One setting of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingSpec {
    /// Its name in `config`.
    pub name: &'static str,
    /// Sealed at rest and never returned.
    pub secret: bool,
    /// Must be given.
    pub required: bool,
}

const fn secret(name: &'static str) -> SettingSpec {
    SettingSpec {
        name,
        secret: true,
        required: true,
    }
}

const fn public(name: &'static str, required: bool) -> SettingSpec {
    SettingSpec {
        name,
        secret: false,
        required,
    }
}

/// Every platform may name its API server (a self-hosted Telegram Bot API server, a fake in
/// tests); it must pass the outbound guard like any other request.
pub const API_BASE_URL: &str = "api_base_url";

/// The settings `config` takes for `kind` (none for `web`, which is built in).
pub fn settings_of(kind: ChannelKind) -> &'static [SettingSpec] {
    const TELEGRAM: &[SettingSpec] = &[secret("bot_token"), public(API_BASE_URL, false)];
    const WHATSAPP: &[SettingSpec] = &[
        secret("access_token"),
        public("phone_number_id", true),
        secret("app_secret"),
        secret("verify_token"),
        public(API_BASE_URL, false),
    ];
    const SLACK: &[SettingSpec] = &[
        secret("bot_token"),
        secret("signing_secret"),
        public(API_BASE_URL, false),
    ];
    match kind {
        ChannelKind::Web => &[],
        ChannelKind::Telegram => TELEGRAM,
        ChannelKind::WhatsApp => WHATSAPP,
        ChannelKind::Slack => SLACK,
    }
}

/// The setting the platform checks first: where a refusal of the credentials is reported.
pub fn credential_field(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::WhatsApp => "access_token",
        _ => "bot_token",
    }
}

/// A checked `config`, split into what may be shown and what is sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Settings that are not secret.
    pub settings: Map<String, Value>,
    /// Secret settings.
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("settings", &self.settings)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Checks `config` for `kind`: an object with every required setting as a non-empty
/// string, nothing unknown, `api_base_url` an absolute `http(s)` URL, `phone_number_id`
/// digits. Problems name their field under `config.`.
pub fn check_config(kind: ChannelKind, config: &Value) -> Result<ChannelConfig, Invalid> {
    let mut issues = Issues::under("config");
    let specs = settings_of(kind);
    if specs.is_empty() {
        return Err(Invalid(vec![crate::validate::FieldIssue {
            field: "type".to_owned(),
            message: "expected one of `telegram`, `whatsapp`, `slack` (the web chat is built in)"
                .to_owned(),
        }]));
    }
    let Some(given) = config.as_object() else {
        issues.add("", "expected an object");
        return Err(Invalid(issues.into_vec()));
    };
    let mut out = ChannelConfig {
        settings: Map::new(),
        secrets: BTreeMap::new(),
    };
    for name in given.keys() {
        if !specs.iter().any(|s| s.name == name) {
            let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
            issues.add(
                name,
                format!("unknown setting; expected one of {}", known.join(", ")),
            );
        }
    }
    for spec in specs {
        let value = match given.get(spec.name) {
            None | Some(Value::Null) if !spec.required => continue,
            None | Some(Value::Null) => {
                issues.add(spec.name, "required");
                continue;
            }
            Some(Value::String(value)) => value.trim(),
            Some(_) => {
                issues.add(spec.name, "expected a string");
                continue;
            }
        };
        if let Err(why) = check_value(spec.name, value) {
            issues.add(spec.name, why);
            continue;
        }
        if spec.secret {
            out.secrets.insert(spec.name.to_owned(), value.to_owned());
        } else {
            out.settings
                .insert(spec.name.to_owned(), Value::String(value.to_owned()));
        }
    }
    Invalid::check(issues.into_vec())?;
    Ok(out)
}

fn check_value(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.chars().count() > MAX_SETTING_CHARS {
        return Err(format!("at most {MAX_SETTING_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    match name {
        API_BASE_URL => match url::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
            _ => Err("expected an absolute http or https URL".to_owned()),
        },
        "phone_number_id" if !value.bytes().all(|b| b.is_ascii_digit()) => {
            Err("expected the digits of a WhatsApp phone number id".to_owned())
        }
        _ => Ok(()),
    }
}

/// A channel with its secret settings opened: what platforms build adapters and senders
/// from. Its `Debug` names the secrets without showing them.
#[derive(Clone)]
pub struct OpenedChannel {
    /// The stored channel.
    pub channel: Channel,
    /// Its secret settings (the platform's tokens, and those generated at connection such as
    /// Telegram's webhook `secret_token`).
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for OpenedChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedChannel")
            .field("channel", &self.channel.id)
            .field("kind", &self.channel.kind)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl OpenedChannel {
    /// A secret setting (empty when absent).
    pub fn secret(&self, name: &str) -> &str {
        self.secrets.get(name).map_or("", String::as_str)
    }

    /// A setting that is not secret.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.channel.settings.get(name).and_then(Value::as_str)
    }

    /// The API server to call, when the channel names one.
    pub fn api_base_url(&self) -> Option<&str> {
        self.setting(API_BASE_URL)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn configs_are_checked_and_split() {
        let config = json!({"bot_token": " 123:abc ", "api_base_url": "http://127.0.0.1:9000"});
        let checked = check_config(ChannelKind::Telegram, &config).unwrap();
        assert_eq!(checked.secrets["bot_token"], "123:abc");
        assert_eq!(checked.settings["api_base_url"], "http://127.0.0.1:9000");
        assert!(!format!("{checked:?}").contains("123:abc"));

        let fields = |kind, config: Value| -> Vec<String> {
            check_config(kind, &config)
                .unwrap_err()
                .0
                .into_iter()
                .map(|i| i.field)
                .collect()
        };
        assert_eq!(
            fields(
                ChannelKind::WhatsApp,
                json!({"access_token": "t", "phone_number_id": "12a", "app_secret": "", "bogus": 1})
            ),
            [
                "config.bogus",
                "config.phone_number_id",
                "config.app_secret",
                "config.verify_token"
            ]
        );
        assert_eq!(fields(ChannelKind::Slack, json!([])), ["config"]);
        assert_eq!(
            fields(
                ChannelKind::Slack,
                json!({"bot_token": 5, "signing_secret": "s", "api_base_url": "ftp://x"})
            ),
            ["config.bot_token", "config.api_base_url"]
        );
        assert_eq!(fields(ChannelKind::Web, json!({})), ["type"]);
    }
}
