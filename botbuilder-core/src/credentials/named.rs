//! Named organization secrets: values a bot's HTTP tools send in their headers
//! (`{{secrets.NAME}}`), written by the people allowed to manage credentials and never shown
//! again.
//!
//! Each secret is tied to the one origin (`https://api.shop.example`) it may be sent to, so
//! an editor who can change a bot's tools cannot send an administrator's secret to a server
//! of their own: a tool whose URL has another origin is refused the secret, and redirects to
//! another origin drop it (the outbound guard keeps only harmless headers across origins).
//!
//! Secrets live beside the provider credentials, in the same sealed rows, keyed
//! `secret:NAME` with the origin where a provider's base URL goes; the origin is part of the
//! associated data, so a row edited to send the secret elsewhere no longer opens, and
//! [`CredentialService::reseal_all`] rotates them with the rest.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CredentialError, CredentialService, mask};
use crate::domain::{NewProviderCredential, ProviderCredential};
use crate::id::OrgId;
use crate::secrets::{CipherError, credential_binding};
use crate::store::StoreError;
use crate::validate::{FieldIssue, Invalid};

/// What the key of a named secret starts with in the credential rows.
pub const SECRET_KEY_PREFIX: &str = "secret:";
/// Longest secret value, in characters.
pub const MAX_SECRET_CHARS: usize = 4_096;
/// Longest secret name, in characters.
pub const MAX_SECRET_NAME_CHARS: usize = 64;
/// The placeholder prefix that names a secret in a tool header: `{{secrets.NAME}}`.
pub const SECRET_PLACEHOLDER_PREFIX: &str = "secrets.";

/// A secret to store.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretInput {
    /// The value (1 to [`MAX_SECRET_CHARS`] characters, no control characters, so it fits
    /// in a header).
    pub value: String,
    /// The only origin it may be sent to: an absolute `http(s)` URL without path, query or
    /// credentials (`https://api.shop.example`, or with a port).
    pub origin: String,
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretInput")
            .field("value", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

/// A stored secret as people see it: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSecret {
    /// Its name.
    pub name: String,
    /// The origin it may be sent to.
    pub origin: String,
    /// A masked form of the value (`sk_live_…abcd`).
    pub hint: String,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When its value last changed.
    pub updated_at: DateTime<Utc>,
}

impl NamedSecret {
    fn from_row(row: ProviderCredential) -> Option<Self> {
        Some(Self {
            name: row.provider.strip_prefix(SECRET_KEY_PREFIX)?.to_owned(),
            origin: row.base_url.unwrap_or_default(),
            hint: row.hint,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A secret opened to be sent.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedSecret {
    /// The value.
    pub value: String,
    /// The origin it may be sent to (`scheme://host[:port]`, as [`url::Origin`] serializes).
    pub origin: String,
}

impl std::fmt::Debug for OpenedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSecret")
            .field("value", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

/// Opens an organization's named secrets for the engine's tool calls.
#[async_trait]
pub trait SecretSource: Send + Sync + 'static {
    /// `org`'s secret `name`, opened; `Ok(None)` when it has none by that name.
    async fn secret(&self, org: OrgId, name: &str)
    -> Result<Option<OpenedSecret>, CredentialError>;
}

/// The secret names `template` asks for (`{{secrets.NAME}}`, spaces inside the braces
/// allowed), in order.
pub fn secret_placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        if let Some(name) = rest[start + 2..start + end]
            .trim()
            .strip_prefix(SECRET_PLACEHOLDER_PREFIX)
        {
            names.push(name);
        }
        rest = &rest[start + end + 2..];
    }
    names
}

/// The credential row key of the secret `name`.
fn row_key(name: &str) -> String {
    format!("{SECRET_KEY_PREFIX}{name}")
}

/// Whether `tool` sends an organization secret.
pub fn names_secrets(tool: &crate::domain::HttpTool) -> bool {
    tool.headers
        .iter()
        .any(|h| !secret_placeholders(&h.value).is_empty())
}

/// Whether going from the tools `before` to `after` adds or changes a tool that sends an
/// organization secret. Such a change decides where an administrator's secret goes and what
/// it is used for (another path of its origin), so it takes the right to manage credentials
/// (`credentials:manage`), not only to edit bots; removing one, or leaving such tools as
/// they are, does not.
pub fn changes_secret_tools(
    before: &[crate::domain::HttpTool],
    after: &[crate::domain::HttpTool],
) -> bool {
    after
        .iter()
        .filter(|tool| names_secrets(tool))
        .any(|tool| !before.contains(tool))
}

/// Whether `name` is a valid secret name: a letter or `_`, then letters, digits or `_`, at
/// most [`MAX_SECRET_NAME_CHARS`].
pub fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_SECRET_NAME_CHARS
}

/// The origin of `url` as [`url::Origin`] serializes it (`https://api.example`, default port
/// left out), or why it is not one a secret can be tied to.
pub fn origin_of(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|_| "must be an absolute http or https URL")?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err("must be an absolute http or https URL".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".to_owned());
    }
    Ok(parsed.origin().ascii_serialization())
}

fn check(name: &str, input: &SecretInput) -> Result<String, Invalid> {
    let mut issues = Vec::new();
    let mut add = |field: &str, message: String| {
        issues.push(FieldIssue {
            field: field.to_owned(),
            message,
        });
    };
    if !valid_secret_name(name) {
        add(
            "name",
            format!(
                "1 to {MAX_SECRET_NAME_CHARS} letters, digits or `_`, not starting with a digit"
            ),
        );
    }
    let chars = input.value.chars().count();
    if chars == 0 || chars > MAX_SECRET_CHARS {
        add(
            "value",
            format!("must have 1 to {MAX_SECRET_CHARS} characters"),
        );
    } else if input.value.chars().any(char::is_control) {
        add("value", "must not contain control characters".to_owned());
    }
    let origin = match origin_of(&input.origin) {
        Ok(origin) => {
            let parsed = url::Url::parse(&input.origin).ok();
            if parsed.is_some_and(|u| u.path() != "/" || u.query().is_some()) {
                add(
                    "origin",
                    "an origin only (scheme, host and port), without a path".to_owned(),
                );
            }
            origin
        }
        Err(message) => {
            add("origin", message);
            String::new()
        }
    };
    Invalid::check(issues)?;
    Ok(origin)
}

impl CredentialService {
    /// Checks and stores `org`'s secret `name` (replacing an earlier value), sealed and bound
    /// to the organization, the name and the origin.
    pub async fn put_secret(
        &self,
        org: OrgId,
        name: &str,
        input: SecretInput,
    ) -> Result<NamedSecret, CredentialError> {
        let origin = check(name, &input)?;
        let key = row_key(name);
        let binding = credential_binding(org, &key, Some(&origin));
        let secret = self.cipher.seal(input.value.as_bytes(), &binding)?;
        let row = self
            .store
            .put_provider_credential(
                org,
                NewProviderCredential {
                    provider: key,
                    secret,
                    hint: mask(&input.value),
                    base_url: Some(origin),
                },
            )
            .await?;
        NamedSecret::from_row(row).ok_or_else(|| StoreError::NotFound.into())
    }

    /// `org`'s secrets by name (never their values).
    pub async fn list_secrets(&self, org: OrgId) -> Result<Vec<NamedSecret>, CredentialError> {
        let mut secrets: Vec<NamedSecret> = self
            .store
            .list_provider_credentials(org)
            .await?
            .into_iter()
            .filter_map(NamedSecret::from_row)
            .collect();
        secrets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(secrets)
    }

    /// Removes `org`'s secret `name` (`Store(NotFound)` if none).
    pub async fn delete_secret(&self, org: OrgId, name: &str) -> Result<(), CredentialError> {
        Ok(self
            .store
            .delete_provider_credential(org, &row_key(name))
            .await?)
    }
}

#[async_trait]
impl SecretSource for CredentialService {
    async fn secret(
        &self,
        org: OrgId,
        name: &str,
    ) -> Result<Option<OpenedSecret>, CredentialError> {
        if !valid_secret_name(name) {
            return Ok(None);
        }
        let key = row_key(name);
        let stored = match self.store.get_provider_credential(org, &key).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let origin = stored.base_url.clone().unwrap_or_default();
        let binding = credential_binding(org, &key, Some(&origin));
        let value = self.cipher.open(&stored.secret, &binding)?;
        let value = String::from_utf8(value).map_err(|_| CipherError::Tampered)?;
        Ok(Some(OpenedSecret { value, origin }))
    }
}
