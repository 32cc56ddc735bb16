use chrono::{DateTime, Utc};

use crate::id::{RefreshTokenId, TokenFamilyId, UserId};

/// A stored refresh token. Only a hash of the secret is kept.
///
/// Tokens are rotated on every use: the used token is marked `used_at` and a new one in the
/// same `family_id` replaces it. Presenting a used token again means it leaked, so the whole
/// family is revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    /// The token's id.
    pub id: RefreshTokenId,
    /// The chain of rotations this token belongs to (one per login).
    pub family_id: TokenFamilyId,
    /// The user it signs in.
    pub user_id: UserId,
    /// Hash of the secret.
    pub token_hash: Vec<u8>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for a new one, if it was.
    pub used_at: Option<DateTime<Utc>>,
    /// When its family was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A refresh token to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefreshToken {
    /// Family (a new one per login, the old one's on rotation).
    pub family_id: TokenFamilyId,
    /// The user.
    pub user_id: UserId,
    /// Hash of the secret.
    pub token_hash: Vec<u8>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}
