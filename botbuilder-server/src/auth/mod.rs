//! Reference implementations of the auth ports of `botbuilder-core`, reusable by embedders:
//! [`Argon2Hasher`] (argon2id on a blocking thread) and [`JwtIssuer`] (HS256 access tokens),
//! plus the opaque secrets used for refresh tokens and API keys.

mod jwt;
mod password;
mod secrets;

pub use jwt::{ACCESS_TOKEN_TTL, AUDIENCE, ISSUER, JwtIssuer};
pub use password::{Argon2Hasher, HashCost};
pub use secrets::{API_KEY_PREFIX, hash_secret, new_api_key, new_secret};
