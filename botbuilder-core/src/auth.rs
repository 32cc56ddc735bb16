//! Authentication ports: password hashing and access-token issuing/verification.
//!
//! The reference implementations (argon2id and HS256 JWTs) live in `botbuilder-server::auth`;
//! embedders can reuse them or plug in their own (an HSM, an external IdP).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::BoxError;
use crate::id::UserId;

/// What went wrong while authenticating, sorted by what the caller does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Email or password is wrong. Deliberately does not say which.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The token is malformed, forged, expired, not yet valid or meant for someone else.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The hashing or signing machinery failed; not the client's fault.
    #[error("authentication backend failure")]
    Backend(#[source] BoxError),
}

/// Hashes and verifies passwords. Implementations must be slow on purpose (memory-hard) and
/// must not block the async runtime (run the work on a blocking thread).
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a password into a self-describing string (PHC format), salted.
    async fn hash(&self, password: &str) -> Result<String, AuthError>;

    /// Checks a password against a hash from [`PasswordHasher::hash`]. `Ok(false)` for a wrong
    /// password; `Err` only when the hash itself is unusable.
    async fn verify(&self, password: &str, hash: &str) -> Result<bool, AuthError>;

    /// Burns the same time as a real verification, for unknown accounts, so response timing
    /// does not reveal which emails exist (verify against a fixed hash of the same cost).
    async fn verify_dummy(&self, password: &str) -> Result<(), AuthError>;
}

/// The verified content of an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user the token was issued to.
    pub user_id: UserId,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// A freshly issued access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The encoded token (a compact JWT in the reference implementation).
    pub token: String,
    /// Lifetime in seconds, as told to the client (`expires_in`).
    pub expires_in: u64,
}

/// Issues and verifies short-lived access tokens.
pub trait TokenIssuer: Send + Sync + 'static {
    /// Issues a token for `user` valid from now for the issuer's configured lifetime.
    fn issue(&self, user: UserId) -> Result<IssuedToken, AuthError>;

    /// Verifies signature, algorithm, issuer, audience and validity window. Any failure is
    /// [`AuthError::InvalidToken`].
    fn verify(&self, token: &str) -> Result<AccessClaims, AuthError>;
}
