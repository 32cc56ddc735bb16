//! HS256 access tokens with a fixed algorithm, issuer and audience.

use std::sync::Arc;
use std::time::Duration;

use botbuilder_core::auth::{AccessClaims, AuthError, IssuedToken, TokenIssuer};
use botbuilder_core::clock::Clock;
use botbuilder_core::id::UserId;
use chrono::DateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// `iss` of every access token.
pub const ISSUER: &str = "botbuilder";
/// `aud` of every access token.
pub const AUDIENCE: &str = "botbuilder-api";
/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// Issues and verifies HS256 JWTs.
///
/// Verification accepts exactly HS256 (so `alg: none`, RS256/HS256 confusion and any other
/// algorithm are refused), requires `iss`, `aud`, `sub`, `iat`, `nbf` and `exp`, checks issuer
/// and audience, and checks the validity window against the injected [`Clock`].
#[derive(Clone)]
pub struct JwtIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl JwtIssuer {
    /// An issuer signing with `secret` (at least 32 bytes; the config layer enforces it).
    pub fn new(secret: &[u8], clock: Arc<dyn Clock>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "iat", "nbf", "exp"]);
        // The window is checked against our clock below, so tests can move time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: ACCESS_TOKEN_TTL,
            clock,
        }
    }

    /// Changes the token lifetime (default [`ACCESS_TOKEN_TTL`]).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

impl TokenIssuer for JwtIssuer {
    fn issue(&self, user: UserId) -> Result<IssuedToken, AuthError> {
        let now = self.clock.now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: user.to_string(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Backend(Box::new(e)))?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
        })
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AuthError::InvalidToken)?;
        let claims = data.claims;
        let now = self.clock.now().timestamp();
        if claims.exp + LEEWAY_SECS <= now || claims.nbf - LEEWAY_SECS > now {
            return Err(AuthError::InvalidToken);
        }
        let user_id = claims.sub.parse().map_err(|_| AuthError::InvalidToken)?;
        let at = |secs| DateTime::from_timestamp(secs, 0).ok_or(AuthError::InvalidToken);
        Ok(AccessClaims {
            user_id,
            issued_at: at(claims.iat)?,
            expires_at: at(claims.exp)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use botbuilder_core::testing::ManualClock;
    use chrono::{TimeDelta, Utc};

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let issuer = JwtIssuer::new(&[7u8; 32], clock.clone());
        let user = UserId::new();
        let token = issuer.issue(user).unwrap();
        assert_eq!(token.expires_in, 900);
        assert_eq!(issuer.verify(&token.token).unwrap().user_id, user);
        clock.advance(TimeDelta::minutes(16));
        assert!(matches!(
            issuer.verify(&token.token),
            Err(AuthError::InvalidToken)
        ));
        let other = JwtIssuer::new(&[8u8; 32], clock);
        let forged = other.issue(user).unwrap();
        assert!(issuer.verify(&forged.token).is_err());
    }
}
