//! Organizations' sealed provider credentials as stored (see the [module docs](super)).

use botbuilder_core::domain::{ProviderCredential, SealedSecret};
use uuid::Uuid;

use super::from_micros;

/// The columns of [`CredentialRow`].
macro_rules! credential_columns {
    () => {
        "organization_id, provider, key_id, nonce, ciphertext, hint, base_url, created_at, updated_at"
    };
}

pub(crate) use credential_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    organization_id: Uuid,
    provider: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    hint: String,
    base_url: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<CredentialRow> for ProviderCredential {
    fn from(r: CredentialRow) -> Self {
        Self {
            org_id: r.organization_id.into(),
            provider: r.provider,
            secret: SealedSecret {
                key_id: r.key_id,
                nonce: r.nonce,
                ciphertext: r.ciphertext,
            },
            hint: r.hint,
            base_url: r.base_url,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        }
    }
}
