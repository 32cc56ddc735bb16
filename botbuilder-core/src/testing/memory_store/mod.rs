//! [`InMemoryStore`]: the whole [`Store`] in a mutex, for tests, benches and examples that
//! need no database. It passes the same conformance suite as the real backends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::clock::{Clock, SystemClock};
use crate::domain::{
    ApiKey, AuditEntry, AuditFilter, Bot, BotPatch, BuiltinRole, Change, Entity, EntityPatch,
    Feedback, FlowDraft, FlowVersion, Intent, IntentPatch, Member, Membership, Message, NewApiKey,
    NewAuditEntry, NewBot, NewEntity, NewIntent, NewMessage, NewOrganization, NewRefreshToken,
    NewRole, NewSession, NewUser, OrgMembership, Organization, OrganizationPatch, Page,
    PageRequest, Rating, RefreshToken, Role, RolePatch, Session, SessionState, SessionStatus, User,
};
use crate::flow::Flow;
use crate::id::{
    ApiKeyId, AuditId, BotId, EntityId, FeedbackId, IntentId, MessageId, OrgId, RefreshTokenId,
    RoleId, SessionId, TokenFamilyId, UserId,
};
use crate::store::{
    ApiKeyRepo, AuditRepo, BotRepo, ConversationRepo, FlowRepo, MemberRepo, NluRepo, OrgRepo,
    RefreshTokenRepo, RoleRepo, Store, StoreError, StoreResult, UserRepo,
};

mod access;
mod analytics;
mod changes;
mod channels;
mod conversations;
mod credentials;
mod knowledge;
mod nlu;
mod usage;
mod webhooks;

const LAST_OWNER: &str = "an organization must keep at least one owner";

#[derive(Debug, Default)]
struct Data {
    users: BTreeMap<UserId, User>,
    orgs: BTreeMap<OrgId, Organization>,
    roles: BTreeMap<RoleId, Role>,
    members: BTreeMap<(OrgId, UserId), Membership>,
    keys: BTreeMap<ApiKeyId, (ApiKey, Vec<u8>)>,
    bots: BTreeMap<BotId, Bot>,
    intents: BTreeMap<IntentId, Intent>,
    entities: BTreeMap<EntityId, Entity>,
    drafts: BTreeMap<BotId, FlowDraft>,
    versions: BTreeMap<(BotId, u32), FlowVersion>,
    sessions: BTreeMap<SessionId, Session>,
    messages: BTreeMap<MessageId, Message>,
    feedback: BTreeMap<MessageId, Feedback>,
    audit: BTreeMap<AuditId, AuditEntry>,
    tokens: BTreeMap<RefreshTokenId, RefreshToken>,
    kbs: BTreeMap<crate::id::KnowledgeBaseId, crate::domain::KnowledgeBase>,
    documents: BTreeMap<crate::id::DocumentId, (crate::domain::Document, Vec<u8>)>,
    chunks: BTreeMap<crate::id::ChunkId, (crate::domain::Chunk, Vec<f32>)>,
    credentials: BTreeMap<(OrgId, String), crate::domain::ProviderCredential>,
    usage: Vec<(OrgId, BotId, crate::domain::LlmCall, DateTime<Utc>)>,
    channels: BTreeMap<crate::id::ChannelId, crate::domain::Channel>,
    deliveries: BTreeMap<MessageId, crate::domain::Delivery>,
    delivery_parts: BTreeMap<(crate::id::ChannelId, String), MessageId>,
    webhooks: webhooks::Webhooks,
    changes: changes::Changes,
}

impl Data {
    fn bot_of(&self, org: OrgId, bot: BotId) -> StoreResult<&Bot> {
        self.bots
            .get(&bot)
            .filter(|b| b.org_id == org)
            .ok_or(StoreError::NotFound)
    }

    fn role_of(&self, org: OrgId, role: RoleId) -> StoreResult<&Role> {
        self.roles
            .get(&role)
            .filter(|r| r.org_id == org)
            .ok_or(StoreError::NotFound)
    }

    fn member(&self, org: OrgId, user: UserId) -> StoreResult<Member> {
        let m = self.members.get(&(org, user)).ok_or(StoreError::NotFound)?;
        let u = self.users.get(&user).ok_or(StoreError::NotFound)?;
        Ok(Member {
            user_id: user,
            email: u.email.clone(),
            name: u.name.clone(),
            role: self.role_of(org, m.role_id)?.clone(),
            joined_at: m.created_at,
        })
    }

    fn owner_count(&self, org: OrgId) -> usize {
        self.members
            .values()
            .filter(|m| m.org_id == org)
            .filter(|m| self.roles.get(&m.role_id).is_some_and(Role::is_owner))
            .count()
    }

    fn is_last_owner(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        Ok(self.member(org, user)?.role.is_owner() && self.owner_count(org) <= 1)
    }

    fn insert_user(&mut self, new: NewUser, now: DateTime<Utc>) -> StoreResult<User> {
        let email = new.email.trim().to_lowercase();
        if self.users.values().any(|u| u.email == email) {
            return Err(StoreError::Conflict("already exists".to_owned()));
        }
        let user = User {
            id: UserId::new(),
            email,
            name: new.name,
            password_hash: new.password_hash,
            created_at: now,
        };
        self.users.insert(user.id, user.clone());
        Ok(user)
    }

    fn insert_org(
        &mut self,
        new: NewOrganization,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Organization> {
        if !self.users.contains_key(&owner) {
            return Err(StoreError::NotFound);
        }
        let org = Organization {
            id: OrgId::new(),
            name: new.name,
            settings: crate::domain::OrgSettings::default(),
            created_at: now,
            updated_at: now,
        };
        self.orgs.insert(org.id, org.clone());
        for builtin in BuiltinRole::ALL {
            let role = Role {
                id: RoleId::new(),
                org_id: org.id,
                name: builtin.name().to_owned(),
                description: format!("Built-in {} role", builtin.name()),
                permissions: builtin.permissions(),
                builtin: true,
                created_at: now,
            };
            if builtin == BuiltinRole::Owner {
                let membership = Membership {
                    org_id: org.id,
                    user_id: owner,
                    role_id: role.id,
                    created_at: now,
                };
                self.members.insert((org.id, owner), membership);
            }
            self.roles.insert(role.id, role);
        }
        Ok(org)
    }
}

/// Every repository in memory (see the module docs).
pub struct InMemoryStore {
    clock: Arc<dyn Clock>,
    data: Mutex<Data>,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStore").finish_non_exhaustive()
    }
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl InMemoryStore {
    /// An empty store reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            data: Mutex::new(Data::default()),
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().expect("in-memory store poisoned")
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn get_intent_in(
        &self,
        data: &Data,
        org: OrgId,
        bot: BotId,
        intent: IntentId,
    ) -> StoreResult<()> {
        data.intents
            .get(&intent)
            .filter(|i| i.org_id == org && i.bot_id == bot)
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }
}

fn page_of<T: Clone>(
    items: impl Iterator<Item = T>,
    page: PageRequest,
    id: impl Fn(&T) -> uuid::Uuid + Copy,
    descending: bool,
) -> Page<T> {
    let limit = page.effective_limit();
    let after = |item: &T| match page.cursor {
        None => true,
        Some(c) if descending => id(item) < c,
        Some(c) => id(item) > c,
    };
    let fetched: Vec<T> = items.filter(after).take(limit as usize + 1).collect();
    Page::from_overfetch(fetched, limit, id)
}

#[async_trait]
impl UserRepo for InMemoryStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let now = self.now();
        self.data().insert_user(new, now)
    }

    async fn create_user_with_org(
        &self,
        user: NewUser,
        org: NewOrganization,
    ) -> StoreResult<(User, Organization)> {
        let now = self.now();
        let mut data = self.data();
        let user = data.insert_user(user, now)?;
        let org = data.insert_org(org, user.id, now)?;
        Ok((user, org))
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        self.data()
            .users
            .get(&id)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<User> {
        let email = email.trim().to_lowercase();
        let data = self.data();
        data.users
            .values()
            .find(|u| u.email == email)
            .cloned()
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl OrgRepo for InMemoryStore {
    async fn create_org(&self, new: NewOrganization, owner: UserId) -> StoreResult<Organization> {
        let now = self.now();
        self.data().insert_org(new, owner, now)
    }

    async fn get_org(&self, org: OrgId) -> StoreResult<Organization> {
        self.data()
            .orgs
            .get(&org)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn list_orgs_for_user(&self, user: UserId) -> StoreResult<Vec<OrgMembership>> {
        let data = self.data();
        data.orgs
            .values()
            .filter_map(|org| {
                let m = data.members.get(&(org.id, user))?;
                let role = data.roles.get(&m.role_id)?.clone();
                Some(Ok(OrgMembership {
                    organization: org.clone(),
                    role,
                }))
            })
            .collect()
    }

    async fn update_org(&self, org: OrgId, patch: OrganizationPatch) -> StoreResult<Organization> {
        let now = self.now();
        let mut data = self.data();
        let stored = data.orgs.get_mut(&org).ok_or(StoreError::NotFound)?;
        if let Some(name) = patch.name {
            stored.name = name;
        }
        if let Some(settings) = patch.settings {
            stored.settings = settings;
        }
        stored.updated_at = now;
        let updated = stored.clone();
        data.record_change(Change::Organization { org }, now);
        Ok(updated)
    }

    async fn delete_org(&self, org: OrgId) -> StoreResult<()> {
        let now = self.now();
        let mut data = self.data();
        data.orgs.remove(&org).ok_or(StoreError::NotFound)?;
        data.record_change(Change::Organization { org }, now);
        data.roles.retain(|_, r| r.org_id != org);
        data.members.retain(|(o, _), _| *o != org);
        data.keys.retain(|_, (k, _)| k.org_id != org);
        data.bots.retain(|_, b| b.org_id != org);
        data.intents.retain(|_, i| i.org_id != org);
        data.entities.retain(|_, e| e.org_id != org);
        let bots: Vec<BotId> = data.bots.keys().copied().collect();
        data.drafts.retain(|b, _| bots.contains(b));
        data.versions.retain(|(b, _), _| bots.contains(b));
        data.sessions.retain(|_, x| x.org_id != org);
        data.messages.retain(|_, m| m.org_id != org);
        data.feedback.retain(|_, f| f.org_id != org);
        data.audit.retain(|_, e| e.org_id != org);
        data.kbs.retain(|_, kb| kb.org_id != org);
        data.documents.retain(|_, (d, _)| d.org_id != org);
        data.chunks.retain(|_, (c, _)| c.org_id != org);
        data.forget_channels(|c| c.org_id == org);
        data.forget_webhooks(org);
        data.credentials.retain(|(o, _), _| *o != org);
        data.usage.retain(|(o, ..)| *o != org);
        Ok(())
    }
}

#[async_trait]
impl BotRepo for InMemoryStore {
    async fn import_bot(&self, org: OrgId, import: crate::domain::BotImport) -> StoreResult<Bot> {
        // Everything that could fail is checked first, so a failure stores nothing.
        let duplicate = |names: Vec<&str>| {
            let mut seen = std::collections::BTreeSet::new();
            names
                .into_iter()
                .find(|n| !seen.insert(*n))
                .map(str::to_owned)
        };
        if let Some(name) = duplicate(import.intents.iter().map(|i| i.name.as_str()).collect())
            .or_else(|| duplicate(import.entities.iter().map(|e| e.name.as_str()).collect()))
        {
            return Err(StoreError::Conflict(format!(
                "the name `{name}` is already used"
            )));
        }
        let bot = self.create_bot(org, import.bot).await?;
        for intent in import.intents {
            self.create_intent(org, bot.id, intent).await?;
        }
        for entity in import.entities {
            self.create_entity(org, bot.id, entity).await?;
        }
        if let Some(flow) = import.flow {
            self.save_flow_draft(org, bot.id, flow.clone()).await?;
            self.publish_flow(org, bot.id, flow).await?;
        }
        Ok(bot)
    }

    async fn create_bot(&self, org: OrgId, new: NewBot) -> StoreResult<Bot> {
        let now = self.now();
        let mut data = self.data();
        if !data.orgs.contains_key(&org) {
            return Err(StoreError::NotFound);
        }
        let bot = Bot {
            id: BotId::new(),
            org_id: org,
            name: new.name,
            description: new.description,
            ai_config: new.ai_config,
            settings: new.settings,
            created_at: now,
            updated_at: now,
        };
        data.bots.insert(bot.id, bot.clone());
        Ok(bot)
    }

    async fn get_bot(&self, org: OrgId, bot: BotId) -> StoreResult<Bot> {
        let data = self.data();
        data.bots
            .get(&bot)
            .filter(|b| b.org_id == org)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn list_bots(&self, org: OrgId, page: PageRequest) -> StoreResult<Page<Bot>> {
        let data = self.data();
        let bots = data.bots.values().filter(|b| b.org_id == org).cloned();
        Ok(page_of(bots, page, |b| b.id.as_uuid(), false))
    }

    async fn update_bot(&self, org: OrgId, bot: BotId, patch: BotPatch) -> StoreResult<Bot> {
        let now = self.now();
        let mut data = self.data();
        let stored = data
            .bots
            .get_mut(&bot)
            .filter(|b| b.org_id == org)
            .ok_or(StoreError::NotFound)?;
        if let Some(name) = patch.name {
            stored.name = name;
        }
        if let Some(description) = patch.description {
            stored.description = description;
        }
        if let Some(settings) = patch.settings {
            stored.settings = settings;
        }
        if let Some(ai_config) = patch.ai_config {
            stored.ai_config = ai_config;
        }
        stored.updated_at = now;
        let updated = stored.clone();
        data.record_change(Change::Bot { org, bot }, now);
        Ok(updated)
    }

    async fn get_public_bot(&self, bot: BotId) -> StoreResult<Bot> {
        self.data()
            .bots
            .get(&bot)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn delete_bot(&self, org: OrgId, bot: BotId) -> StoreResult<()> {
        let mut data = self.data();
        data.bot_of(org, bot)?;
        data.bots.remove(&bot);
        data.record_change(Change::Bot { org, bot }, self.now());
        data.intents.retain(|_, i| i.bot_id != bot);
        data.entities.retain(|_, e| e.bot_id != bot);
        data.drafts.remove(&bot);
        data.versions.retain(|(b, _), _| *b != bot);
        data.sessions.retain(|_, x| x.bot_id != bot);
        data.forget_channels(|c| c.bot_id == bot);
        let messages: Vec<MessageId> = data
            .messages
            .values()
            .filter(|m| m.bot_id == bot)
            .map(|m| m.id)
            .collect();
        for id in messages {
            data.messages.remove(&id);
            data.feedback.remove(&id);
        }
        Ok(())
    }
}

fn name_taken<'a>(mut names: impl Iterator<Item = &'a str>, name: &str) -> StoreResult<()> {
    if names.any(|n| n == name) {
        Err(StoreError::Conflict(format!(
            "the name `{name}` is already used"
        )))
    } else {
        Ok(())
    }
}

#[async_trait]
impl AuditRepo for InMemoryStore {
    async fn append_audit(&self, org: OrgId, entry: NewAuditEntry) -> StoreResult<AuditEntry> {
        let now = self.now();
        let mut data = self.data();
        if !data.orgs.contains_key(&org) {
            return Err(StoreError::NotFound);
        }
        let entry = AuditEntry {
            id: AuditId::new(),
            org_id: org,
            actor: entry.actor,
            action: entry.action,
            target_type: entry.target_type,
            target_id: entry.target_id,
            details: entry.details,
            ip: entry.ip,
            request_id: entry.request_id,
            created_at: now,
        };
        data.audit.insert(entry.id, entry.clone());
        Ok(entry)
    }

    async fn list_audit(
        &self,
        org: OrgId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let data = self.data();
        let matching = data.audit.values().rev().filter(|e| {
            e.org_id == org
                && filter.action.as_ref().is_none_or(|a| *a == e.action)
                && filter.actor.is_none_or(|a| a == e.actor)
                && filter.since.is_none_or(|t| e.created_at >= t)
                && filter.until.is_none_or(|t| e.created_at < t)
        });
        Ok(page_of(matching.cloned(), page, |e| e.id.as_uuid(), true))
    }
}

#[async_trait]
impl RefreshTokenRepo for InMemoryStore {
    async fn insert_refresh_token(&self, new: NewRefreshToken) -> StoreResult<RefreshToken> {
        let now = self.now();
        let mut data = self.data();
        if data.tokens.values().any(|t| t.token_hash == new.token_hash) {
            return Err(StoreError::Conflict("already exists".to_owned()));
        }
        if !data.users.contains_key(&new.user_id) {
            return Err(StoreError::NotFound);
        }
        let token = RefreshToken {
            id: RefreshTokenId::new(),
            family_id: new.family_id,
            user_id: new.user_id,
            token_hash: new.token_hash,
            created_at: now,
            expires_at: new.expires_at,
            used_at: None,
            revoked_at: None,
        };
        data.tokens.insert(token.id, token.clone());
        Ok(token)
    }

    async fn find_refresh_token(&self, token_hash: &[u8]) -> StoreResult<RefreshToken> {
        let data = self.data();
        data.tokens
            .values()
            .find(|t| t.token_hash == token_hash)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut data = self.data();
        let token = data
            .tokens
            .values_mut()
            .find(|t| t.token_hash == token_hash && t.used_at.is_none() && t.revoked_at.is_none());
        Ok(token.map(|t| t.used_at = Some(at)).is_some())
    }

    async fn revoke_refresh_family(
        &self,
        family: TokenFamilyId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut data = self.data();
        for token in data.tokens.values_mut() {
            if token.family_id == family && token.revoked_at.is_none() {
                token.revoked_at = Some(at);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Store for InMemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}
