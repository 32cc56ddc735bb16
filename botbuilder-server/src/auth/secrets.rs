//! Opaque high-entropy secrets (refresh tokens, API keys) and their at-rest hashes.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Every API key starts with this, so `Authorization: Bearer bb_...` is recognizably a key.
pub const API_KEY_PREFIX: &str = "bb_";

/// Characters of an API key shown in listings (including the `bb_` prefix).
const DISPLAY_PREFIX_LEN: usize = 10;

/// 256 random bits from the system CSPRNG, base64url encoded (43 characters).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API key and its displayable prefix: `("bb_<43 chars>", "bb_<7 chars>")`.
pub fn new_api_key() -> (String, String) {
    let key = format!("{API_KEY_PREFIX}{}", new_secret());
    let prefix = key[..DISPLAY_PREFIX_LEN].to_owned();
    (key, prefix)
}

/// SHA-256 of a secret: the stored and looked-up form. A plain hash is right here (unlike for
/// passwords) because the secrets carry 256 bits of entropy.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hashes_stable() {
        let (a, prefix) = new_api_key();
        let (b, _) = new_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with(API_KEY_PREFIX) && a.starts_with(&prefix));
        assert_eq!(a.len(), 46);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(hash_secret(&a).len(), 32);
    }
}
