//! [`AesGcmCipher`]: secrets at rest sealed with AES-256-GCM (NIST SP 800-38D) by aws-lc-rs.
//!
//! - Every sealing draws a fresh random 96-bit nonce from the system generator (safe for far
//!   more secrets than a deployment stores: the bound is about 2^32 sealings per key).
//! - The caller's binding (organization and provider, see
//!   [`botbuilder_core::secrets::credential_binding`]) is the associated data: authenticated,
//!   not stored, so a ciphertext moved to another row does not open.
//! - Each key has an id (the first 8 bytes of HMAC-SHA256(key, "botbuilder key id"), hex),
//!   stored beside what it sealed. The cipher seals with its current key and opens with any
//!   key it holds, so a rotation can re-seal secrets of the previous key.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use botbuilder_core::domain::SealedSecret;
use botbuilder_core::secrets::{CipherError, SecretCipher};

/// One master key with its id.
struct MasterKey {
    id: String,
    key: LessSafeKey,
}

impl MasterKey {
    fn new(bytes: &[u8; 32]) -> Self {
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, bytes),
            b"botbuilder key id",
        );
        let id = tag.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte key"));
        Self { id, key }
    }
}

/// AES-256-GCM under a current master key, opening with earlier keys too (see the module
/// docs). `Debug` shows key ids only.
pub struct AesGcmCipher {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl std::fmt::Debug for AesGcmCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesGcmCipher")
            .field("key_id", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AesGcmCipher {
    /// Seals with `current`; opens what `current` or any of `previous` sealed.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            current: MasterKey::new(current),
            previous: previous.iter().map(MasterKey::new).collect(),
        }
    }

    fn key(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

impl SecretCipher for AesGcmCipher {
    fn key_id(&self) -> &str {
        &self.current.id
    }

    fn seal(&self, plaintext: &[u8], binding: &[u8]) -> Result<SealedSecret, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CipherError::Failed)?;
        let mut ciphertext = plaintext.to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding),
                &mut ciphertext,
            )
            .map_err(|_| CipherError::Failed)?;
        Ok(SealedSecret {
            key_id: self.current.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    fn open(&self, sealed: &SealedSecret, binding: &[u8]) -> Result<Vec<u8>, CipherError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| CipherError::UnknownKey(sealed.key_id.clone()))?;
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| CipherError::Tampered)?;
        let mut buffer = sealed.ciphertext.clone();
        let plaintext = key
            .key
            .open_in_place(nonce, Aad::from(binding), &mut buffer)
            .map_err(|_| CipherError::Tampered)?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::id::OrgId;
    use botbuilder_core::secrets::credential_binding;

    #[test]
    fn sealed_secrets_open_only_where_they_were_sealed() {
        let cipher = AesGcmCipher::new(&[7; 32], &[]);
        let (org, other) = (OrgId::new(), OrgId::new());
        let here = credential_binding(org, "openai", None);
        let sealed = cipher.seal(b"sk-secret", &here).unwrap();
        assert_eq!(sealed.nonce.len(), 12);
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(cipher.open(&sealed, &here).unwrap(), b"sk-secret");
        assert_ne!(
            cipher.seal(b"sk-secret", &here).unwrap().nonce,
            sealed.nonce,
            "a fresh nonce each time"
        );
        for elsewhere in [
            credential_binding(other, "openai", None),
            credential_binding(org, "anthropic", None),
        ] {
            assert_eq!(cipher.open(&sealed, &elsewhere), Err(CipherError::Tampered));
        }
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert_eq!(cipher.open(&flipped, &here), Err(CipherError::Tampered));
        assert!(!format!("{sealed:?}").contains("ciphertext: ["));
    }

    #[test]
    fn a_new_key_opens_what_the_previous_one_sealed() {
        let old = AesGcmCipher::new(&[1; 32], &[]);
        let binding = credential_binding(OrgId::new(), "anthropic", None);
        let sealed = old.seal(b"sk-ant", &binding).unwrap();
        let rotated = AesGcmCipher::new(&[2; 32], &[[1; 32]]);
        assert_ne!(rotated.key_id(), old.key_id());
        assert_eq!(rotated.open(&sealed, &binding).unwrap(), b"sk-ant");
        let resealed = rotated.seal(b"sk-ant", &binding).unwrap();
        assert_eq!(resealed.key_id, rotated.key_id());
        let new_only = AesGcmCipher::new(&[2; 32], &[]);
        assert_eq!(
            new_only.open(&sealed, &binding),
            Err(CipherError::UnknownKey(old.key_id().to_owned()))
        );
        assert!(!format!("{rotated:?}").contains("[2"));
    }
}
