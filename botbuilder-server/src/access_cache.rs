//! A short-lived, per-process cache of who may do what: memberships (with their role) and
//! API keys, so an authorized request costs no database round trip for the access check.
//!
//! Consistency: the cache listens to the change bus ([`botbuilder_core::change`]): a member's
//! role change or removal, a role edit or deletion, an API key's revocation or the
//! organization's deletion forgets the organization's entries, at once on the instance that
//! made the change (before it answers) and within the bus's poll interval on the others.
//! [`ACCESS_TTL`] bounds what a missed change could cost. Only positive answers are cached,
//! so a new member or key works immediately everywhere.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use botbuilder_core::domain::{ApiKey, Member};
use botbuilder_core::id::{OrgId, UserId};
use botbuilder_core::store::{Store, StoreResult};

/// How long a cached access decision may be reused.
pub const ACCESS_TTL: Duration = Duration::from_secs(5);
/// Entries per map before the whole map is dropped (bounds memory under key churn).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        let entries = self.entries.lock().expect("access cache poisoned");
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    /// Inserts unless `stale` says (under the map's lock) that an invalidation happened since
    /// the value was read.
    fn insert_unless(&self, key: K, value: V, stale: impl FnOnce() -> bool) {
        let mut entries = self.entries.lock().expect("access cache poisoned");
        if stale() {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        let mut entries = self.entries.lock().expect("access cache poisoned");
        entries.retain(|k, (_, v)| keep(k, v));
    }
}

/// The cache (see the module docs).
#[derive(Debug)]
pub struct AccessCache {
    ttl: Duration,
    members: TtlMap<(OrgId, UserId), Member>,
    keys: TtlMap<Vec<u8>, ApiKey>,
    /// Bumped by every invalidation (see [`botbuilder_core::change::Generation`]).
    generation: botbuilder_core::change::Generation,
}

impl Default for AccessCache {
    fn default() -> Self {
        Self::new(ACCESS_TTL)
    }
}

impl AccessCache {
    /// A cache keeping entries for `ttl` (zero disables caching).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            members: TtlMap::new(),
            keys: TtlMap::new(),
            generation: botbuilder_core::change::Generation::default(),
        }
    }

    /// `user`'s membership in `org`, from the cache or the store.
    pub async fn member(&self, store: &dyn Store, org: OrgId, user: UserId) -> StoreResult<Member> {
        if let Some(member) = self.members.get(&(org, user), self.ttl) {
            return Ok(member);
        }
        let generation = self.generation.current();
        let member = store.get_member(org, user).await?;
        let stale = || !self.generation.unchanged_since(generation);
        self.members
            .insert_unless((org, user), member.clone(), stale);
        Ok(member)
    }

    /// The API key with this secret hash, from the cache or the store.
    pub async fn api_key(&self, store: &dyn Store, hash: &[u8]) -> StoreResult<ApiKey> {
        let hash = hash.to_vec();
        if let Some(key) = self.keys.get(&hash, self.ttl) {
            return Ok(key);
        }
        let generation = self.generation.current();
        let key = store.find_api_key_by_hash(&hash).await?;
        let stale = || !self.generation.unchanged_since(generation);
        self.keys.insert_unless(hash, key.clone(), stale);
        Ok(key)
    }

    /// The API key with this secret hash if it is cached (no store read).
    pub fn cached_api_key(&self, hash: &[u8]) -> Option<ApiKey> {
        self.keys.get(&hash.to_vec(), self.ttl)
    }

    /// Forgets everything cached about `org` (after any change to its members, roles or keys).
    pub fn invalidate_org(&self, org: OrgId) {
        self.generation.bump();
        self.members.retain(|(o, _), _| *o != org);
        self.keys.retain(|_, key| key.org_id != org);
    }
}

/// Forgets an organization's entries when its access or the organization changes.
impl botbuilder_core::change::ChangeListener for AccessCache {
    fn on_change(&self, change: &botbuilder_core::change::Change) {
        use botbuilder_core::change::Change;
        if let Change::Access { org } | Change::Organization { org } = *change {
            self.invalidate_org(org);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_invalidate() {
        let map: TtlMap<u32, &str> = TtlMap::new();
        map.insert_unless(1, "a", || false);
        assert_eq!(map.get(&1, Duration::from_secs(60)), Some("a"));
        assert_eq!(map.get(&1, Duration::ZERO), None);
        map.retain(|k, _| *k != 1);
        assert_eq!(map.get(&1, Duration::from_secs(60)), None);
    }

    #[tokio::test]
    async fn a_load_that_overlaps_an_invalidation_is_not_cached() {
        use botbuilder_core::domain::{NewOrganization, NewUser};
        use botbuilder_core::store::prelude::*;
        use botbuilder_core::testing::InMemoryStore;
        let store = InMemoryStore::default();
        let (user, org) = store
            .create_user_with_org(
                NewUser {
                    email: "a@example.com".into(),
                    name: "A".into(),
                    password_hash: "x".into(),
                },
                NewOrganization { name: "O".into() },
            )
            .await
            .unwrap();
        let cache = AccessCache::new(Duration::from_secs(60));
        // What `member` does, with the organization invalidated between read and insert.
        let generation = cache.generation.current();
        let member = store.get_member(org.id, user.id).await.unwrap();
        cache.invalidate_org(org.id);
        let stale = || !cache.generation.unchanged_since(generation);
        cache
            .members
            .insert_unless((org.id, user.id), member, stale);
        assert_eq!(cache.members.get(&(org.id, user.id), cache.ttl), None);
        // A load after the invalidation is cached.
        cache.member(&store, org.id, user.id).await.unwrap();
        assert!(cache.members.get(&(org.id, user.id), cache.ttl).is_some());
    }
}
