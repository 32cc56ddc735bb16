//! [`MemberRepo`], [`RoleRepo`] and [`ApiKeyRepo`] for the in-memory store: who may do what.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl MemberRepo for InMemoryStore {
    async fn add_member(&self, org: OrgId, user: UserId, role: RoleId) -> StoreResult<Membership> {
        let now = self.now();
        let mut data = self.data();
        data.role_of(org, role)?;
        if !data.users.contains_key(&user) {
            return Err(StoreError::NotFound);
        }
        if data.members.contains_key(&(org, user)) {
            return Err(StoreError::Conflict("already a member".to_owned()));
        }
        let membership = Membership {
            org_id: org,
            user_id: user,
            role_id: role,
            created_at: now,
        };
        data.members.insert((org, user), membership.clone());
        Ok(membership)
    }

    async fn get_member(&self, org: OrgId, user: UserId) -> StoreResult<Member> {
        self.data().member(org, user)
    }

    async fn list_members(&self, org: OrgId, page: PageRequest) -> StoreResult<Page<Member>> {
        let data = self.data();
        let members = data
            .members
            .keys()
            .filter(|(o, _)| *o == org)
            .map(|(_, user)| data.member(org, *user))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(
            members.into_iter(),
            page,
            |m| m.user_id.as_uuid(),
            false,
        ))
    }

    async fn update_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: RoleId,
    ) -> StoreResult<Member> {
        let mut data = self.data();
        let new_is_owner = data.role_of(org, role)?.is_owner();
        if !new_is_owner && data.is_last_owner(org, user)? {
            return Err(StoreError::Conflict(LAST_OWNER.to_owned()));
        }
        let m = data
            .members
            .get_mut(&(org, user))
            .ok_or(StoreError::NotFound)?;
        m.role_id = role;
        data.record_change(Change::Access { org }, self.now());
        data.member(org, user)
    }

    async fn remove_member(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        let mut data = self.data();
        if data.is_last_owner(org, user)? {
            return Err(StoreError::Conflict(LAST_OWNER.to_owned()));
        }
        if data.members.remove(&(org, user)).is_some() {
            data.record_change(Change::Access { org }, self.now());
        }
        Ok(())
    }
}

#[async_trait]
impl RoleRepo for InMemoryStore {
    async fn create_role(&self, org: OrgId, new: NewRole) -> StoreResult<Role> {
        let now = self.now();
        let mut data = self.data();
        if !data.orgs.contains_key(&org) {
            return Err(StoreError::NotFound);
        }
        if data
            .roles
            .values()
            .any(|r| r.org_id == org && r.name == new.name)
        {
            return Err(StoreError::Conflict(format!(
                "a role named `{}` already exists",
                new.name
            )));
        }
        let role = Role {
            id: RoleId::new(),
            org_id: org,
            name: new.name,
            description: new.description,
            permissions: new.permissions,
            builtin: false,
            created_at: now,
        };
        data.roles.insert(role.id, role.clone());
        Ok(role)
    }

    async fn get_role(&self, org: OrgId, role: RoleId) -> StoreResult<Role> {
        self.data().role_of(org, role).cloned()
    }

    async fn find_role_by_name(&self, org: OrgId, name: &str) -> StoreResult<Role> {
        let data = self.data();
        data.roles
            .values()
            .find(|r| r.org_id == org && r.name == name)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn list_roles(&self, org: OrgId) -> StoreResult<Vec<Role>> {
        let data = self.data();
        let mut roles: Vec<Role> = data
            .roles
            .values()
            .filter(|r| r.org_id == org)
            .cloned()
            .collect();
        let rank = |r: &Role| {
            BuiltinRole::from_name(&r.name)
                .filter(|_| r.builtin)
                .map_or(100, |b| b as usize)
        };
        roles.sort_by_key(|r| (rank(r), r.id));
        Ok(roles)
    }

    async fn update_role(&self, org: OrgId, role: RoleId, patch: RolePatch) -> StoreResult<Role> {
        let mut data = self.data();
        if data.role_of(org, role)?.builtin {
            return Err(StoreError::Conflict(
                "built-in roles cannot be changed".to_owned(),
            ));
        }
        if let Some(name) = &patch.name
            && data
                .roles
                .values()
                .any(|r| r.org_id == org && r.id != role && r.name == *name)
        {
            return Err(StoreError::Conflict("already exists".to_owned()));
        }
        let stored = data.roles.get_mut(&role).ok_or(StoreError::NotFound)?;
        if let Some(name) = patch.name {
            stored.name = name;
        }
        if let Some(description) = patch.description {
            stored.description = description;
        }
        if let Some(permissions) = patch.permissions {
            stored.permissions = permissions;
        }
        let updated = stored.clone();
        data.record_change(Change::Access { org }, self.now());
        Ok(updated)
    }

    async fn delete_role(&self, org: OrgId, role: RoleId) -> StoreResult<()> {
        let mut data = self.data();
        let in_use = data.members.values().any(|m| m.role_id == role);
        if data.role_of(org, role)?.builtin || in_use {
            return Err(StoreError::Conflict(
                "built-in roles and roles held by members cannot be deleted".to_owned(),
            ));
        }
        data.roles.remove(&role);
        data.record_change(Change::Access { org }, self.now());
        Ok(())
    }
}

#[async_trait]
impl ApiKeyRepo for InMemoryStore {
    async fn create_api_key(&self, org: OrgId, new: NewApiKey) -> StoreResult<ApiKey> {
        let now = self.now();
        let mut data = self.data();
        if !data.orgs.contains_key(&org) {
            return Err(StoreError::NotFound);
        }
        if data.keys.values().any(|(_, hash)| *hash == new.key_hash) {
            return Err(StoreError::Conflict("already exists".to_owned()));
        }
        let key = ApiKey {
            id: ApiKeyId::new(),
            org_id: org,
            name: new.name,
            prefix: new.prefix,
            permissions: new.permissions,
            created_by: new.created_by,
            created_at: now,
            expires_at: new.expires_at,
        };
        data.keys.insert(key.id, (key.clone(), new.key_hash));
        Ok(key)
    }

    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>> {
        let data = self.data();
        Ok(data
            .keys
            .values()
            .filter(|(k, _)| k.org_id == org)
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn delete_api_key(&self, org: OrgId, key: ApiKeyId) -> StoreResult<()> {
        let mut data = self.data();
        match data.keys.get(&key) {
            Some((k, _)) if k.org_id == org => {
                data.keys.remove(&key);
                data.record_change(Change::Access { org }, self.now());
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }

    async fn find_api_key_by_hash(&self, key_hash: &[u8]) -> StoreResult<ApiKey> {
        let data = self.data();
        data.keys
            .values()
            .find(|(_, hash)| hash == key_hash)
            .map(|(k, _)| k.clone())
            .ok_or(StoreError::NotFound)
    }
}
