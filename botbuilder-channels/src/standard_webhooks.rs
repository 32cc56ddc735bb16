//! Signing of the webhooks we send to customers, by the Standard Webhooks 1.0 scheme
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>):
//!
//! - headers `webhook-id` (the same on every retry of a message, for deduplication),
//!   `webhook-timestamp` (Unix seconds) and `webhook-signature`;
//! - the signature is `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the
//!   secret's key; several, space-separated, while a secret rotates;
//! - secrets are `whsec_` and the base64 of 24 to 64 random bytes;
//! - receivers reject timestamps more than [`TOLERANCE_SECS`] from their clock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::verify::{hmac_sha256, same};

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a timestamp may be from the receiver's clock, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// A signing secret. Its `Debug` does not show the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// A secret that is not `whsec_` and the base64 of 24 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected `whsec_` followed by the base64 of 24 to 64 bytes")]
pub struct MalformedSecret;

impl WebhookSecret {
    /// A new secret of 32 bytes from the system's random generator.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut key).expect("the system random generator failed");
        Self(key)
    }

    /// Parses the `whsec_…` form.
    pub fn parse(text: &str) -> Result<Self, MalformedSecret> {
        let key = STANDARD
            .decode(text.strip_prefix(SECRET_PREFIX).ok_or(MalformedSecret)?)
            .map_err(|_| MalformedSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(MalformedSecret);
        }
        Ok(Self(key))
    }

    /// The `whsec_…` form (shown to the customer once).
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// This secret's signature of a message: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mac = hmac_sha256(
            &self.0,
            &[
                id.as_bytes(),
                b".",
                timestamp.to_string().as_bytes(),
                b".",
                body,
            ],
        );
        format!("v1,{}", STANDARD.encode(mac))
    }
}

/// The `webhook-signature` header for a message signed with every one of `secrets` (the
/// current one, and the previous one while a rotation is in its grace period).
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The [`WebhookSigner`](botbuilder_core::webhook::WebhookSigner) of the webhooks sent to
/// customers.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardWebhooks;

impl botbuilder_core::webhook::WebhookSigner for StandardWebhooks {
    fn generate_secret(&self) -> String {
        WebhookSecret::generate().expose()
    }

    fn signature(
        &self,
        secrets: &[String],
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, String> {
        let parsed = secrets
            .iter()
            .map(|s| WebhookSecret::parse(s).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(signature_header(&parsed, id, timestamp, body))
    }
}

/// Why a received webhook does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// The timestamp is too far from now (a replay, or a wrong clock).
    #[error("timestamp out of tolerance")]
    Stale,
    /// No signature in the header is `secret`'s.
    #[error("no matching signature")]
    Mismatch,
}

/// What a receiver does (our tests, and customers' code to copy): accepts the message if its
/// timestamp is within [`TOLERANCE_SECS`] of `now` and one of the header's `v1` signatures is
/// `secret`'s, compared in constant time.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: i64,
    signature_header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Unverified> {
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(Unverified::Stale);
    }
    let expected = secret.sign(id, timestamp, body);
    let matches = signature_header
        .split(' ')
        .filter(|s| s.starts_with("v1,"))
        .any(|given| same(given.as_bytes(), expected.as_bytes()));
    if matches {
        Ok(())
    } else {
        Err(Unverified::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The example of the Standard Webhooks specification (and its reference libraries).
    #[test]
    fn the_specifications_example_signs_as_documented() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            verify(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                &signature,
                body,
                1_614_265_400
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                &signature,
                body,
                1_614_265_331 + 300
            ),
            Err(Unverified::Stale)
        );
        assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 10, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert_eq!(verify(&old, "msg_1", 10, &header, b"{}", 10), Ok(()));
        assert_eq!(verify(&new, "msg_1", 10, &header, b"{}", 10), Ok(()));
        let other = WebhookSecret::generate();
        assert_eq!(
            verify(&other, "msg_1", 10, &header, b"{}", 10),
            Err(Unverified::Mismatch)
        );
        assert!(WebhookSecret::parse("whsec_short").is_err());
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(!format!("{new:?}").contains(&new.expose()[6..]));
    }

    proptest! {
        #[test]
        fn any_change_to_id_timestamp_or_body_breaks_the_signature(
            body in proptest::collection::vec(any::<u8>(), 0..200),
            flip in any::<usize>(),
            timestamp in 0i64..2_000_000_000,
        ) {
            let secret = WebhookSecret::generate();
            let header = secret.sign("msg_x", timestamp, &body);
            prop_assert_eq!(verify(&secret, "msg_x", timestamp, &header, &body, timestamp), Ok(()));
            prop_assert!(verify(&secret, "msg_y", timestamp, &header, &body, timestamp).is_err());
            prop_assert!(verify(&secret, "msg_x", timestamp + 1, &header, &body, timestamp).is_err());
            if !body.is_empty() {
                let mut changed = body.clone();
                let at = flip % changed.len();
                changed[at] ^= 1;
                prop_assert!(verify(&secret, "msg_x", timestamp, &header, &changed, timestamp).is_err());
            }
        }
    }
}
