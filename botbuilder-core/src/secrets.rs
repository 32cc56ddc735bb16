//! Secrets at rest: the [`SecretCipher`] port that seals and opens them, and the associated
//! data that binds each sealed secret to the row it belongs to.
//!
//! Implementations use an AEAD (the server: AES-256-GCM under the master key, a random
//! 96-bit nonce per sealing). Opening checks the associated data, so a ciphertext moved to
//! another organization's or provider's row fails to open rather than leaking across tenants.

use crate::domain::SealedSecret;
use crate::id::OrgId;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CipherError {
    /// Sealed by a key this cipher does not hold.
    #[error("sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    /// The ciphertext, nonce or associated data does not match (damaged, or moved to another
    /// row).
    #[error("the secret does not open (damaged, or not sealed for this place)")]
    Tampered,
    /// The system's random generator or the cipher failed.
    #[error("encryption failed")]
    Failed,
}

/// Seals and opens secrets (see the module docs).
pub trait SecretCipher: Send + Sync + 'static {
    /// Id of the key new secrets are sealed with (stored beside them).
    fn key_id(&self) -> &str;

    /// Encrypts `plaintext`, bound to `binding` (associated data, not stored).
    fn seal(&self, plaintext: &[u8], binding: &[u8]) -> Result<SealedSecret, CipherError>;

    /// Decrypts a sealed secret; `binding` must be what it was sealed with.
    fn open(&self, sealed: &SealedSecret, binding: &[u8]) -> Result<Vec<u8>, CipherError>;
}

/// The associated data of an organization's provider credentials: the organization, the
/// provider and the base URL the key is sent to (so a row edited to send the key elsewhere
/// no longer opens).
pub fn credential_binding(org: OrgId, provider: &str, base_url: Option<&str>) -> Vec<u8> {
    format!(
        "botbuilder provider-credential\u{0}{org}\u{0}{provider}\u{0}{}",
        base_url.unwrap_or("")
    )
    .into_bytes()
}

/// The associated data of a connected channel's secret settings: the organization, the
/// channel and its platform (so the sealed settings of one channel never open as another's).
pub fn channel_binding(
    org: OrgId,
    channel: crate::id::ChannelId,
    kind: crate::channel::ChannelKind,
) -> Vec<u8> {
    format!(
        "botbuilder channel-secrets\u{0}{org}\u{0}{channel}\u{0}{}",
        kind.as_str()
    )
    .into_bytes()
}

/// The associated data of a webhook endpoint's signing secret: the organization and the
/// endpoint (so one endpoint's sealed secret never opens as another's).
pub fn webhook_binding(org: OrgId, endpoint: crate::id::WebhookId) -> Vec<u8> {
    format!("botbuilder webhook-secret\u{0}{org}\u{0}{endpoint}").into_bytes()
}
