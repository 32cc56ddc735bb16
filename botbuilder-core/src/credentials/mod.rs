//! Organizations' own language model provider credentials, as a use case: validated, sealed
//! with a [`SecretCipher`] bound to their row, listed masked, opened only to call the provider,
//! and re-sealed under a new master key ([`CredentialService::reseal_all`]). The same service
//! keeps named secrets for tool headers ([`named`]).
//!
//! The HTTP API and the command line are thin layers over this service; library users get the
//! same rules.

pub mod named;

use std::sync::Arc;

use crate::domain::{NewProviderCredential, ProviderCredential};
use crate::id::OrgId;
use crate::secrets::{CipherError, SecretCipher, credential_binding};
use crate::store::{Store, StoreError};
use crate::validate::{FieldIssue, Invalid};

pub use named::{NamedSecret, OpenedSecret, SecretInput, SecretSource};

/// Longest API key accepted, in characters.
pub const MAX_API_KEY_CHARS: usize = 512;
/// Longest base URL accepted, in characters.
pub const MAX_BASE_URL_CHARS: usize = 2_000;

/// What an organization sends for one provider.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CredentialInput {
    /// The key (required unless the provider is self-hosted).
    pub api_key: Option<String>,
    /// Another API root than the provider's public one (required for self-hosted ones).
    pub base_url: Option<String>,
}

impl std::fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialInput")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Credentials opened for a call.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedCredential {
    /// The key, if one was stored.
    pub api_key: Option<String>,
    /// The API root, if not the public one.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for OpenedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedCredential")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Which providers take credentials, and which of them need a key or a base URL.
#[derive(Debug, Clone, Copy)]
pub struct ProviderRules<'a> {
    /// Provider ids that take credentials.
    pub providers: &'a [&'a str],
    /// Of those, the ones that work without a key (self-hosted servers).
    pub key_optional: &'a [&'a str],
    /// Of those, the ones that need a base URL.
    pub base_url_required: &'a [&'a str],
}

/// Why a credential operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The input breaks a rule (field paths `provider`, `api_key`, `base_url`).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The store failed (`NotFound`: no such credentials).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening failed.
    #[error(transparent)]
    Cipher(#[from] CipherError),
}

/// A masked form of a key for people: the prefix up to its first `-` (if within 8
/// characters) and the last four characters (`sk-…abcd`); keys shorter than 12 characters
/// show `…` and their last two only.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        let tail: String = chars[chars.len().saturating_sub(2)..].iter().collect();
        return format!("…{tail}");
    }
    let prefix = match key.find('-') {
        Some(dash) if dash < 8 => &key[..=dash],
        _ => "",
    };
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

fn check(provider: &str, input: &CredentialInput, rules: ProviderRules<'_>) -> Result<(), Invalid> {
    let mut issues = Vec::new();
    let mut add = |field: &str, message: String| {
        issues.push(FieldIssue {
            field: field.to_owned(),
            message,
        });
    };
    if !rules.providers.contains(&provider) {
        add(
            "provider",
            format!(
                "takes no credentials; expected one of {}",
                rules.providers.join(", ")
            ),
        );
    }
    match input.api_key.as_deref() {
        None if !rules.key_optional.contains(&provider) => {
            add("api_key", "required for this provider".to_owned());
        }
        None => {}
        Some(key) => {
            let chars = key.chars().count();
            if chars == 0 || chars > MAX_API_KEY_CHARS {
                add(
                    "api_key",
                    format!("must have 1 to {MAX_API_KEY_CHARS} characters"),
                );
            } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                add(
                    "api_key",
                    "must not contain spaces or control characters".to_owned(),
                );
            }
        }
    }
    match input.base_url.as_deref() {
        None if rules.base_url_required.contains(&provider) => {
            add("base_url", "required for this provider".to_owned());
        }
        None => {}
        Some(url) if url.chars().count() > MAX_BASE_URL_CHARS => {
            add(
                "base_url",
                format!("at most {MAX_BASE_URL_CHARS} characters"),
            );
        }
        Some(url) => match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    add(
                        "base_url",
                        "must not carry credentials; use api_key".to_owned(),
                    );
                }
            }
            _ => add(
                "base_url",
                "must be an absolute http or https URL".to_owned(),
            ),
        },
    }
    Invalid::check(issues)
}

/// The use case (see the module docs).
#[derive(Clone)]
pub struct CredentialService {
    store: Arc<dyn Store>,
    cipher: Arc<dyn SecretCipher>,
}

impl std::fmt::Debug for CredentialService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialService")
            .field("key_id", &self.cipher.key_id())
            .finish_non_exhaustive()
    }
}

impl CredentialService {
    /// Credentials kept in `store`, sealed with `cipher`.
    pub fn new(store: Arc<dyn Store>, cipher: Arc<dyn SecretCipher>) -> Self {
        Self { store, cipher }
    }

    /// Checks `input` against `rules`, seals the key bound to (`org`, `provider`) and stores
    /// it, replacing earlier credentials.
    pub async fn put(
        &self,
        org: OrgId,
        provider: &str,
        input: CredentialInput,
        rules: ProviderRules<'_>,
    ) -> Result<ProviderCredential, CredentialError> {
        check(provider, &input, rules)?;
        let key = input.api_key.unwrap_or_default();
        let binding = credential_binding(org, provider, input.base_url.as_deref());
        let secret = self.cipher.seal(key.as_bytes(), &binding)?;
        let hint = if key.is_empty() {
            String::new()
        } else {
            mask(&key)
        };
        Ok(self
            .store
            .put_provider_credential(
                org,
                NewProviderCredential {
                    provider: provider.to_owned(),
                    secret,
                    hint,
                    base_url: input.base_url,
                },
            )
            .await?)
    }

    /// Every provider credential of `org` (sealed; show their hints, never their keys),
    /// without its named secrets.
    pub async fn list(&self, org: OrgId) -> Result<Vec<ProviderCredential>, CredentialError> {
        let mut rows = self.store.list_provider_credentials(org).await?;
        rows.retain(|row| !row.provider.starts_with(named::SECRET_KEY_PREFIX));
        Ok(rows)
    }

    /// Removes `org`'s credentials for `provider` (`Store(NotFound)` if none).
    pub async fn delete(&self, org: OrgId, provider: &str) -> Result<(), CredentialError> {
        Ok(self.store.delete_provider_credential(org, provider).await?)
    }

    /// `org`'s credentials for `provider`, opened; `None` when it stored none.
    pub async fn open(
        &self,
        org: OrgId,
        provider: &str,
    ) -> Result<Option<OpenedCredential>, CredentialError> {
        let stored = match self.store.get_provider_credential(org, provider).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let binding = credential_binding(org, provider, stored.base_url.as_deref());
        let key = self.cipher.open(&stored.secret, &binding)?;
        let key = String::from_utf8(key).map_err(|_| CipherError::Tampered)?;
        Ok(Some(OpenedCredential {
            api_key: (!key.is_empty()).then_some(key),
            base_url: stored.base_url,
        }))
    }

    /// Re-seals every stored secret with `to` (opened with this service's cipher), each
    /// bound to its row as before; returns how many were re-sealed. Secrets already sealed
    /// with `to`'s key are left alone, so an interrupted rotation can simply be run again.
    pub async fn reseal_all(&self, to: &dyn SecretCipher) -> Result<usize, CredentialError> {
        let mut resealed = 0;
        for stored in self.store.all_provider_credentials().await? {
            if stored.secret.key_id == to.key_id() {
                continue;
            }
            let binding =
                credential_binding(stored.org_id, &stored.provider, stored.base_url.as_deref());
            let plain = self.cipher.open(&stored.secret, &binding)?;
            let secret = to.seal(&plain, &binding)?;
            self.store
                .reseal_provider_credential(stored.org_id, &stored.provider, &stored.secret, secret)
                .await?;
            resealed += 1;
        }
        Ok(resealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewOrganization, NewUser, SealedSecret};
    use crate::store::prelude::*;
    use crate::testing::InMemoryStore;

    /// Not encryption: the binding is stored in the clear and compared, which is all these
    /// tests need from a cipher.
    struct Plain(&'static str);

    impl SecretCipher for Plain {
        fn key_id(&self) -> &str {
            self.0
        }

        fn seal(&self, plaintext: &[u8], binding: &[u8]) -> Result<SealedSecret, CipherError> {
            Ok(SealedSecret {
                key_id: self.0.to_owned(),
                nonce: binding.to_vec(),
                ciphertext: plaintext.to_vec(),
            })
        }

        fn open(&self, sealed: &SealedSecret, binding: &[u8]) -> Result<Vec<u8>, CipherError> {
            if sealed.nonce != binding {
                return Err(CipherError::Tampered);
            }
            Ok(sealed.ciphertext.clone())
        }
    }

    const RULES: ProviderRules<'static> = ProviderRules {
        providers: &["openai", "anthropic", "openai-compatible"],
        key_optional: &["openai-compatible"],
        base_url_required: &["openai-compatible"],
    };

    fn input(key: Option<&str>, url: Option<&str>) -> CredentialInput {
        CredentialInput {
            api_key: key.map(str::to_owned),
            base_url: url.map(str::to_owned),
        }
    }

    fn fields(error: CredentialError) -> Vec<String> {
        match error {
            CredentialError::Invalid(Invalid(issues)) => {
                issues.into_iter().map(|i| i.field).collect()
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn credentials_are_checked_sealed_masked_and_resealed() {
        let store = Arc::new(InMemoryStore::default());
        let (_, org) = store
            .create_user_with_org(
                NewUser {
                    email: "c@example.com".into(),
                    name: "C".into(),
                    password_hash: "x".into(),
                },
                NewOrganization { name: "C".into() },
            )
            .await
            .unwrap();
        let service = CredentialService::new(store.clone(), Arc::new(Plain("old")));
        let refused = |provider: &'static str, i: CredentialInput| {
            let service = service.clone();
            async move { fields(service.put(org.id, provider, i, RULES).await.unwrap_err()) }
        };
        assert_eq!(refused("local", input(Some("k"), None)).await, ["provider"]);
        assert_eq!(refused("openai", input(None, None)).await, ["api_key"]);
        assert_eq!(
            refused("openai", input(Some("sk key"), None)).await,
            ["api_key"]
        );
        assert_eq!(
            refused("openai-compatible", input(None, None)).await,
            ["base_url"]
        );
        assert_eq!(
            refused("openai", input(Some("sk-x"), Some("ftp://x"))).await,
            ["base_url"]
        );
        assert_eq!(
            refused(
                "openai",
                input(Some("sk-x"), Some("https://u:p@api.example"))
            )
            .await,
            ["base_url"]
        );

        let stored = service
            .put(
                org.id,
                "openai",
                input(Some("sk-proj-0123456789abcd"), None),
                RULES,
            )
            .await
            .unwrap();
        assert_eq!(stored.hint, "sk-…abcd");
        assert_eq!(stored.secret.key_id, "old");
        let local = service
            .put(
                org.id,
                "openai-compatible",
                input(None, Some("http://127.0.0.1:11434/v1")),
                RULES,
            )
            .await
            .unwrap();
        assert_eq!(local.hint, "");
        let opened = service.open(org.id, "openai").await.unwrap().unwrap();
        assert_eq!(opened.api_key.as_deref(), Some("sk-proj-0123456789abcd"));
        assert!(!format!("{opened:?}").contains("sk-proj"));
        assert_eq!(
            service
                .open(org.id, "openai-compatible")
                .await
                .unwrap()
                .unwrap()
                .api_key,
            None
        );
        assert_eq!(service.open(org.id, "anthropic").await.unwrap(), None);

        assert_eq!(service.reseal_all(&Plain("new")).await.unwrap(), 2);
        let rotated = CredentialService::new(store.clone(), Arc::new(Plain("new")));
        assert_eq!(
            rotated.reseal_all(&Plain("new")).await.unwrap(),
            0,
            "idempotent"
        );
        assert_eq!(
            rotated
                .open(org.id, "openai")
                .await
                .unwrap()
                .unwrap()
                .api_key
                .as_deref(),
            Some("sk-proj-0123456789abcd")
        );
        assert_eq!(
            store
                .get_provider_credential(org.id, "openai")
                .await
                .unwrap()
                .secret
                .key_id,
            "new"
        );
    }

    #[tokio::test]
    async fn named_secrets_are_bound_to_their_origin_kept_apart_and_resealed() {
        let store = Arc::new(InMemoryStore::default());
        let (_, org) = store
            .create_user_with_org(
                NewUser {
                    email: "s@example.com".into(),
                    name: "S".into(),
                    password_hash: "x".into(),
                },
                NewOrganization { name: "S".into() },
            )
            .await
            .unwrap();
        let service = CredentialService::new(store.clone(), Arc::new(Plain("old")));
        let secret = SecretInput {
            value: "shop-live-0123456789".into(),
            origin: "https://API.shop.example:443/".into(),
        };
        assert!(!format!("{secret:?}").contains("shop-live"));
        let stored = service.put_secret(org.id, "SHOP", secret).await.unwrap();
        assert_eq!(stored.origin, "https://api.shop.example", "normalized");
        assert_eq!(stored.hint, "shop-…6789");
        service
            .put(
                org.id,
                "openai",
                input(Some("sk-proj-0123456789abcd"), None),
                RULES,
            )
            .await
            .unwrap();
        // Each list shows its own kind.
        let providers: Vec<String> = service
            .list(org.id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.provider)
            .collect();
        assert_eq!(providers, ["openai"]);
        assert_eq!(service.list_secrets(org.id).await.unwrap(), vec![stored]);
        let opened = service.secret(org.id, "SHOP").await.unwrap().unwrap();
        assert_eq!(opened.value, "shop-live-0123456789");
        assert!(!format!("{opened:?}").contains("shop-live"));
        assert_eq!(service.secret(org.id, "OTHER").await.unwrap(), None);
        assert_eq!(service.secret(org.id, "no such/name").await.unwrap(), None);

        // A row edited to send the secret elsewhere no longer opens.
        let mut row = store
            .get_provider_credential(org.id, "secret:SHOP")
            .await
            .unwrap();
        row.base_url = Some("https://evil.example".into());
        store
            .put_provider_credential(
                org.id,
                NewProviderCredential {
                    provider: row.provider.clone(),
                    secret: row.secret.clone(),
                    hint: row.hint.clone(),
                    base_url: row.base_url.clone(),
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            service.secret(org.id, "SHOP").await,
            Err(CredentialError::Cipher(CipherError::Tampered))
        ));
        service
            .put_secret(
                org.id,
                "SHOP",
                SecretInput {
                    value: "shop-live-0123456789".into(),
                    origin: "https://api.shop.example".into(),
                },
            )
            .await
            .unwrap();

        // Rotation re-seals secrets with the provider credentials.
        assert_eq!(service.reseal_all(&Plain("new")).await.unwrap(), 2);
        let rotated = CredentialService::new(store.clone(), Arc::new(Plain("new")));
        assert_eq!(
            rotated.secret(org.id, "SHOP").await.unwrap().unwrap().value,
            "shop-live-0123456789"
        );
        rotated.delete_secret(org.id, "SHOP").await.unwrap();
        assert!(rotated.list_secrets(org.id).await.unwrap().is_empty());
    }

    #[test]
    fn keys_are_masked() {
        assert_eq!(mask("sk-proj-abcdefghijklmnop1234"), "sk-…1234");
        assert_eq!(mask("sk-ant-api03-xyz-0000-9999"), "sk-…9999");
        assert_eq!(mask("short-key"), "…ey");
        assert_eq!(mask("abcdefghijklmnopqrst"), "…qrst");
    }
}
