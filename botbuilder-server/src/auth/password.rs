//! argon2id password hashing on a blocking thread.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use botbuilder_core::auth::{AuthError, PasswordHasher};

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP's recommended argon2id setting (19 MiB, 2 passes, 1 lane).
    pub const RECOMMENDED: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest valid setting: for tests only, never for real passwords.
    pub const INSECURE_FOR_TESTS: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for HashCost {
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// Hashes passwords with argon2id into PHC strings. The work runs on tokio's blocking pool so
/// it never stalls the async runtime.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    argon: Argon2<'static>,
    dummy_hash: String,
}

impl Argon2Hasher {
    /// A hasher with the given cost.
    pub fn new(cost: HashCost) -> Result<Self, AuthError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| AuthError::Backend(e.to_string().into()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = argon
            .hash_password(b"dummy password for timing equalization")
            .map_err(|e| AuthError::Backend(e.to_string().into()))?
            .to_string();
        Ok(Self { argon, dummy_hash })
    }

    fn verify_blocking(
        argon: &Argon2<'static>,
        password: &str,
        hash: &str,
    ) -> Result<bool, AuthError> {
        let parsed =
            PasswordHash::new(hash).map_err(|e| AuthError::Backend(e.to_string().into()))?;
        Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Backend(Box::new(e)))?
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> Result<String, AuthError> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        blocking(move || {
            argon
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| AuthError::Backend(e.to_string().into()))
        })
        .await
    }

    async fn verify(&self, password: &str, hash: &str) -> Result<bool, AuthError> {
        let argon = self.argon.clone();
        let (password, hash) = (password.to_owned(), hash.to_owned());
        blocking(move || Self::verify_blocking(&argon, &password, &hash)).await
    }

    async fn verify_dummy(&self, password: &str) -> Result<(), AuthError> {
        self.verify(password, &self.dummy_hash.clone())
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let hasher = Argon2Hasher::new(HashCost::INSECURE_FOR_TESTS).unwrap();
        let a = hasher.hash("correct horse").await.unwrap();
        let b = hasher.hash("correct horse").await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(hasher.verify("correct horse", &a).await.unwrap());
        assert!(!hasher.verify("wrong horse", &a).await.unwrap());
        assert!(hasher.verify("x", "not a hash").await.is_err());
        hasher.verify_dummy("anything").await.unwrap();
    }
}
