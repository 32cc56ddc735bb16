use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::OrgId;

/// A secret encrypted at rest: AES-256-GCM ciphertext (tag appended), its 96-bit nonce, and
/// the id of the key that sealed it (so a rotation can find what the old key sealed). See
/// [`crate::secrets::SecretCipher`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// Id of the sealing key ([`crate::secrets::SecretCipher::key_id`]).
    pub key_id: String,
    /// The nonce, unique per sealing.
    pub nonce: Vec<u8>,
    /// The ciphertext with its authentication tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("ciphertext_bytes", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// An organization's credentials for one language model provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCredential {
    /// The organization.
    pub org_id: OrgId,
    /// Provider id (`openai`, `anthropic`, `openai-compatible`).
    pub provider: String,
    /// The API key, sealed with associated data binding it to this organization and provider
    /// ([`crate::secrets::credential_binding`]), so a ciphertext copied to another row does
    /// not open.
    pub secret: SealedSecret,
    /// A masked form for people (`sk-…abcd`).
    pub hint: String,
    /// Another API root than the provider's public one, if any.
    pub base_url: Option<String>,
    /// When first stored.
    pub created_at: DateTime<Utc>,
    /// When last replaced.
    pub updated_at: DateTime<Utc>,
}

/// Credentials to store (replacing earlier ones for the same provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProviderCredential {
    /// Provider id.
    pub provider: String,
    /// The sealed key.
    pub secret: SealedSecret,
    /// Its masked form.
    pub hint: String,
    /// The API root, if not the public one.
    pub base_url: Option<String>,
}
