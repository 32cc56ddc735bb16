//! Clauses of the credentials repository.

use super::{assert_conflict, assert_not_found, signup};
use crate::domain::{NewProviderCredential, SealedSecret};
use crate::store::Store;

fn sealed(tag: u8) -> SealedSecret {
    SealedSecret {
        key_id: format!("key-{tag}"),
        nonce: vec![tag; 12],
        ciphertext: vec![tag, 1, 2, 3, 255, 0],
    }
}

pub(super) fn credential(provider: &str, tag: u8) -> NewProviderCredential {
    NewProviderCredential {
        provider: provider.to_owned(),
        secret: sealed(tag),
        hint: format!("sk-…{tag:04}"),
        base_url: (provider == "openai-compatible").then(|| "http://127.0.0.1:11434/v1".to_owned()),
    }
}

/// Credentials round-trip per organization and provider; a second put replaces the first
/// (keeping when it was first stored); another organization sees none of them; deleting the
/// organization deletes them.
pub async fn provider_credentials_belong_to_their_organization(store: &dyn Store) {
    let (_, org) = signup(store, "cred").await;
    let (_, other) = signup(store, "cred-other").await;
    let first = store
        .put_provider_credential(org.id, credential("openai", 1))
        .await
        .unwrap();
    assert_eq!(first.secret, sealed(1));
    assert_eq!(first.hint, "sk-…0001");
    store
        .put_provider_credential(org.id, credential("openai-compatible", 2))
        .await
        .unwrap();
    let replaced = store
        .put_provider_credential(org.id, credential("openai", 3))
        .await
        .unwrap();
    assert_eq!(replaced.created_at, first.created_at);
    assert!(replaced.updated_at >= first.updated_at);
    let read = store
        .get_provider_credential(org.id, "openai")
        .await
        .unwrap();
    assert_eq!(read, replaced);
    let listed = store.list_provider_credentials(org.id).await.unwrap();
    let providers: Vec<&str> = listed.iter().map(|c| c.provider.as_str()).collect();
    assert_eq!(providers, ["openai", "openai-compatible"]);
    assert_eq!(
        listed[1].base_url.as_deref(),
        Some("http://127.0.0.1:11434/v1")
    );

    assert_not_found(store.get_provider_credential(other.id, "openai").await);
    assert!(
        store
            .list_provider_credentials(other.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(store.delete_provider_credential(other.id, "openai").await);
    assert_not_found(
        store
            .put_provider_credential(crate::id::OrgId::new(), credential("openai", 4))
            .await,
    );

    store
        .delete_provider_credential(org.id, "openai")
        .await
        .unwrap();
    assert_not_found(store.get_provider_credential(org.id, "openai").await);
    assert_not_found(store.delete_provider_credential(org.id, "openai").await);
    store.delete_org(org.id).await.unwrap();
    assert!(
        store
            .all_provider_credentials()
            .await
            .unwrap()
            .iter()
            .all(|c| c.org_id != org.id),
        "deleted with the organization"
    );
}

/// Re-sealing replaces only the envelope it was given, and only while it is current.
pub async fn provider_credentials_are_resealed_compare_and_set(store: &dyn Store) {
    let (_, org) = signup(store, "reseal").await;
    let stored = store
        .put_provider_credential(org.id, credential("anthropic", 5))
        .await
        .unwrap();
    let all = store.all_provider_credentials().await.unwrap();
    assert!(
        all.iter()
            .any(|c| c.org_id == org.id && c.provider == "anthropic")
    );
    store
        .reseal_provider_credential(org.id, "anthropic", &sealed(5), sealed(6))
        .await
        .unwrap();
    let resealed = store
        .get_provider_credential(org.id, "anthropic")
        .await
        .unwrap();
    assert_eq!(resealed.secret, sealed(6));
    assert_eq!(
        resealed.updated_at, stored.updated_at,
        "the key itself did not change"
    );
    assert_conflict(
        store
            .reseal_provider_credential(org.id, "anthropic", &sealed(5), sealed(7))
            .await,
    );
    assert_not_found(
        store
            .reseal_provider_credential(org.id, "openai", &sealed(5), sealed(7))
            .await,
    );
}
