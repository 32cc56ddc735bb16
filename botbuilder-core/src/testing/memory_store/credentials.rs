//! [`CredentialRepo`] for the in-memory store.

use async_trait::async_trait;

use super::InMemoryStore;
use crate::domain::{Change, NewProviderCredential, ProviderCredential, SealedSecret};
use crate::id::OrgId;
use crate::store::{CredentialRepo, StoreError, StoreResult};

#[async_trait]
impl CredentialRepo for InMemoryStore {
    async fn put_provider_credential(
        &self,
        org: OrgId,
        new: NewProviderCredential,
    ) -> StoreResult<ProviderCredential> {
        let now = self.now();
        let mut data = self.data();
        if !data.orgs.contains_key(&org) {
            return Err(StoreError::NotFound);
        }
        let key = (org, new.provider.clone());
        let created_at = data.credentials.get(&key).map_or(now, |c| c.created_at);
        let stored = ProviderCredential {
            org_id: org,
            provider: new.provider,
            secret: new.secret,
            hint: new.hint,
            base_url: new.base_url,
            created_at,
            updated_at: now,
        };
        data.credentials.insert(key, stored.clone());
        data.record_change(Change::Credentials { org }, now);
        Ok(stored)
    }

    async fn get_provider_credential(
        &self,
        org: OrgId,
        provider: &str,
    ) -> StoreResult<ProviderCredential> {
        self.data()
            .credentials
            .get(&(org, provider.to_owned()))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn list_provider_credentials(&self, org: OrgId) -> StoreResult<Vec<ProviderCredential>> {
        Ok(self
            .data()
            .credentials
            .values()
            .filter(|c| c.org_id == org)
            .cloned()
            .collect())
    }

    async fn delete_provider_credential(&self, org: OrgId, provider: &str) -> StoreResult<()> {
        let mut data = self.data();
        data.credentials
            .remove(&(org, provider.to_owned()))
            .ok_or(StoreError::NotFound)?;
        data.record_change(Change::Credentials { org }, self.now());
        Ok(())
    }

    async fn all_provider_credentials(&self) -> StoreResult<Vec<ProviderCredential>> {
        Ok(self.data().credentials.values().cloned().collect())
    }

    async fn reseal_provider_credential(
        &self,
        org: OrgId,
        provider: &str,
        expected: &SealedSecret,
        secret: SealedSecret,
    ) -> StoreResult<()> {
        let mut data = self.data();
        let stored = data
            .credentials
            .get_mut(&(org, provider.to_owned()))
            .ok_or(StoreError::NotFound)?;
        if stored.secret != *expected {
            return Err(StoreError::Conflict(
                "the credentials changed since they were read".into(),
            ));
        }
        stored.secret = secret;
        data.record_change(Change::Credentials { org }, self.now());
        Ok(())
    }
}
