//! The store conformance suite: one `pub async fn` per clause of the contract documented on
//! [`crate::store`]. Backends run every case through [`crate::store_conformance_suite!`]; the
//! case list lives in the macro here, so no backend can drop a case silently.

use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::domain::{
    Actor, AiConfig, AuditFilter, BotPatch, BotSettings, BuiltinRole, EntityPatch, IntentPatch,
    MessageDirection, NewApiKey, NewAuditEntry, NewBot, NewEntity, NewIntent, NewMessage,
    NewOrganization, NewRefreshToken, NewRole, NewSession, NewUser, Organization,
    OrganizationPatch, PageRequest, Permission, PermissionSet, Rating, RolePatch, SessionState,
    SessionStatus, User,
};
use crate::domain::{
    DocumentSource, DocumentStatus, KnowledgeBasePatch, NewChunk, NewDocument, NewKnowledgeBase,
};
use crate::flow::Flow;
use crate::id::{BotId, MessageId, OrgId, TokenFamilyId, UserId};
use crate::nlu::{BuiltinEntity, EntityKind, LookupValue};
use crate::store::{Store, StoreError};

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        name: "Test User".to_owned(),
        password_hash: "$argon2id$fake".to_owned(),
    }
}

fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}

/// Signs up a fresh user with a fresh organization.
async fn signup(store: &dyn Store, tag: &str) -> (User, Organization) {
    store
        .create_user_with_org(
            new_user(&unique_email(tag)),
            NewOrganization {
                name: format!("{tag} Inc"),
            },
        )
        .await
        .expect("signup")
}

fn new_bot(name: &str) -> NewBot {
    NewBot {
        name: name.to_owned(),
        description: String::new(),
        ai_config: AiConfig::default(),
        settings: BotSettings::default(),
    }
}

fn audit_entry(actor: Actor, action: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor,
        action: action.to_owned(),
        target_type: None,
        target_id: None,
        details: json!({}),
        ip: None,
        request_id: None,
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// The backend answers a ping.
pub async fn ping_succeeds(store: &dyn Store) {
    store.ping().await.expect("ping");
}

/// Emails are normalized and unique regardless of case.
pub async fn user_email_is_unique_ignoring_case(store: &dyn Store) {
    let email = unique_email("Dup");
    let user = store.create_user(new_user(&email)).await.unwrap();
    assert_eq!(user.email, email.to_lowercase());
    assert_conflict(store.create_user(new_user(&email.to_uppercase())).await);
    let found = store
        .find_user_by_email(&email.to_uppercase())
        .await
        .unwrap();
    assert_eq!(found.id, user.id);
    assert_eq!(store.get_user(user.id).await.unwrap(), user);
}

/// Unknown users are `NotFound`, by id and by email.
pub async fn unknown_user_is_not_found(store: &dyn Store) {
    assert_not_found(store.get_user(UserId::new()).await);
    assert_not_found(store.find_user_by_email("nobody@example.com").await);
}

/// Sign-up creates the user, the organization, the built-in roles, and an owner membership.
pub async fn signup_makes_the_user_owner(store: &dyn Store) {
    let (user, org) = signup(store, "signup").await;
    let orgs = store.list_orgs_for_user(user.id).await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].organization, org);
    assert!(orgs[0].role.is_owner());
    let member = store.get_member(org.id, user.id).await.unwrap();
    assert_eq!(member.role.permissions, PermissionSet::all());
}

/// A failed sign-up (duplicate email) stores no organization.
pub async fn failed_signup_stores_nothing(store: &dyn Store) {
    let (user, _) = signup(store, "first").await;
    let result = store
        .create_user_with_org(
            new_user(&user.email),
            NewOrganization {
                name: "Second".into(),
            },
        )
        .await;
    assert_conflict(result);
    assert_eq!(store.list_orgs_for_user(user.id).await.unwrap().len(), 1);
}

/// Every organization gets the four built-in roles with the documented permissions, first in
/// the role list and in owner, admin, editor, viewer order.
pub async fn builtin_roles_match_the_matrix(store: &dyn Store) {
    let (_, org) = signup(store, "roles").await;
    let roles = store.list_roles(org.id).await.unwrap();
    assert_eq!(roles.len(), 4);
    for (role, builtin) in roles.iter().zip(BuiltinRole::ALL) {
        assert!(role.builtin);
        assert_eq!(role.name, builtin.name());
        assert_eq!(role.permissions, builtin.permissions());
        assert_eq!(role.org_id, org.id);
    }
}

/// `create_org` adds a second organization owned by an existing user.
pub async fn create_org_adds_an_owned_org(store: &dyn Store) {
    let (user, first) = signup(store, "multi").await;
    let second = store
        .create_org(
            NewOrganization {
                name: "Second".into(),
            },
            user.id,
        )
        .await
        .unwrap();
    let orgs = store.list_orgs_for_user(user.id).await.unwrap();
    let ids: Vec<OrgId> = orgs.iter().map(|m| m.organization.id).collect();
    assert_eq!(ids, vec![first.id, second.id]);
    assert_not_found(
        store
            .create_org(NewOrganization { name: "x".into() }, UserId::new())
            .await,
    );
}

/// Organizations can be renamed; deleting one removes what it owns.
pub async fn org_delete_cascades(store: &dyn Store) {
    let (user, org) = signup(store, "cascade").await;
    let renamed = store
        .update_org(
            org.id,
            OrganizationPatch {
                name: Some("Renamed".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Renamed");
    let bot = store.create_bot(org.id, new_bot("b")).await.unwrap();
    store.delete_org(org.id).await.unwrap();
    assert_not_found(store.get_org(org.id).await);
    assert_not_found(store.get_bot(org.id, bot.id).await);
    assert!(store.list_orgs_for_user(user.id).await.unwrap().is_empty());
    assert_not_found(store.delete_org(org.id).await);
    assert_not_found(
        store
            .update_org(OrgId::new(), OrganizationPatch::default())
            .await,
    );
}

/// Bots round-trip, including their AI configuration.
pub async fn bot_round_trips(store: &dyn Store) {
    let (_, org) = signup(store, "bot").await;
    let ai = AiConfig {
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        system_prompt: "Be brief. 🤖 مرحبا".into(),
        temperature: 0.7,
        max_tokens: 300,
        fallback_provider: Some("local".into()),
        knowledge_base_ids: vec![crate::id::KnowledgeBaseId::new()],
    };
    let bot = store
        .create_bot(
            org.id,
            NewBot {
                name: "Support".into(),
                description: "d".into(),
                ai_config: ai.clone(),
                settings: BotSettings::default(),
            },
        )
        .await
        .unwrap();
    assert_eq!(bot.org_id, org.id);
    assert_eq!(bot.ai_config, ai);
    assert_eq!(store.get_bot(org.id, bot.id).await.unwrap(), bot);
    let patched = store
        .update_bot(
            org.id,
            bot.id,
            BotPatch {
                name: Some("Sales".into()),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.name, "Sales");
    assert_eq!(patched.ai_config, ai);
    assert_eq!(patched.settings, BotSettings::default());
    assert!(patched.updated_at >= bot.updated_at);
    let settings = BotSettings {
        nlu_threshold: 0.6,
        idle_timeout_secs: 90,
        allowed_origins: vec!["https://shop.example".into()],
    };
    let patched = store
        .update_bot(
            org.id,
            bot.id,
            BotPatch {
                settings: Some(settings.clone()),
                ..BotPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.settings, settings);
    assert_eq!(patched.name, "Sales");
    assert_eq!(
        store.get_bot(org.id, bot.id).await.unwrap().settings,
        settings
    );
    assert_eq!(store.get_public_bot(bot.id).await.unwrap().org_id, org.id);
    store.delete_bot(org.id, bot.id).await.unwrap();
    assert_not_found(store.get_bot(org.id, bot.id).await);
    assert_not_found(store.delete_bot(org.id, bot.id).await);
    assert_not_found(store.get_public_bot(bot.id).await);
}

/// Another organization's bot is `NotFound` for every operation, and never listed.
pub async fn other_tenant_bot_is_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme").await;
    let (_, globex) = signup(store, "globex").await;
    let bot = store.create_bot(acme.id, new_bot("secret")).await.unwrap();
    assert_not_found(store.get_bot(globex.id, bot.id).await);
    assert_not_found(
        store
            .update_bot(
                globex.id,
                bot.id,
                BotPatch {
                    name: Some("pwned".into()),
                    ..BotPatch::default()
                },
            )
            .await,
    );
    assert_not_found(store.delete_bot(globex.id, bot.id).await);
    let listed = store
        .list_bots(globex.id, PageRequest::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert_eq!(store.get_bot(acme.id, bot.id).await.unwrap().name, "secret");
}

/// Bot lists are oldest first and page with a cursor until exhausted.
pub async fn bots_page_in_creation_order(store: &dyn Store) {
    let (_, org) = signup(store, "paging").await;
    let mut created: Vec<BotId> = Vec::new();
    for i in 0..5 {
        created.push(
            store
                .create_bot(org.id, new_bot(&format!("b{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let got = store.list_bots(org.id, page).await.unwrap();
        assert!(got.items.len() <= 2);
        seen.extend(got.items.iter().map(|b| b.id));
        match got.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

/// A member cannot be added twice; roles must belong to the organization.
pub async fn member_rules(store: &dyn Store) {
    let (_, org) = signup(store, "members").await;
    let (_, other) = signup(store, "members-other").await;
    let joiner = store
        .create_user(new_user(&unique_email("joiner")))
        .await
        .unwrap();
    let viewer = store.find_role_by_name(org.id, "viewer").await.unwrap();
    let foreign_role = store.find_role_by_name(other.id, "viewer").await.unwrap();
    assert_not_found(store.add_member(org.id, joiner.id, foreign_role.id).await);
    store
        .add_member(org.id, joiner.id, viewer.id)
        .await
        .unwrap();
    assert_conflict(store.add_member(org.id, joiner.id, viewer.id).await);
    let member = store.get_member(org.id, joiner.id).await.unwrap();
    assert_eq!(member.role.name, "viewer");
    assert_eq!(member.email, joiner.email);
    let editor = store.find_role_by_name(org.id, "editor").await.unwrap();
    let changed = store
        .update_member_role(org.id, joiner.id, editor.id)
        .await
        .unwrap();
    assert_eq!(changed.role.id, editor.id);
    let listed = store
        .list_members(org.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
    store.remove_member(org.id, joiner.id).await.unwrap();
    assert_not_found(store.get_member(org.id, joiner.id).await);
    assert_not_found(store.remove_member(org.id, joiner.id).await);
}

/// Another organization's members are `NotFound` and never listed.
pub async fn other_tenant_member_is_not_found(store: &dyn Store) {
    let (alice, acme) = signup(store, "acme-m").await;
    let (_, globex) = signup(store, "globex-m").await;
    let globex_viewer = store.find_role_by_name(globex.id, "viewer").await.unwrap();
    assert_not_found(store.get_member(globex.id, alice.id).await);
    assert_not_found(
        store
            .update_member_role(globex.id, alice.id, globex_viewer.id)
            .await,
    );
    assert_not_found(store.remove_member(globex.id, alice.id).await);
    let listed = store
        .list_members(globex.id, PageRequest::default())
        .await
        .unwrap();
    assert!(listed.items.iter().all(|m| m.user_id != alice.id));
    assert!(store.get_member(acme.id, alice.id).await.is_ok());
}

/// The last owner can be neither demoted nor removed; with two owners either may go.
pub async fn last_owner_is_kept(store: &dyn Store) {
    let (alice, org) = signup(store, "owner").await;
    let owner = store.find_role_by_name(org.id, "owner").await.unwrap();
    let admin = store.find_role_by_name(org.id, "admin").await.unwrap();
    assert_conflict(store.update_member_role(org.id, alice.id, admin.id).await);
    assert_conflict(store.remove_member(org.id, alice.id).await);
    assert!(
        store
            .get_member(org.id, alice.id)
            .await
            .unwrap()
            .role
            .is_owner()
    );

    let bob = store
        .create_user(new_user(&unique_email("bob")))
        .await
        .unwrap();
    store.add_member(org.id, bob.id, owner.id).await.unwrap();
    store
        .update_member_role(org.id, alice.id, admin.id)
        .await
        .unwrap();
    assert_conflict(store.remove_member(org.id, bob.id).await);
    store.remove_member(org.id, alice.id).await.unwrap();
}

/// Custom roles: create, rename, re-scope, unique names, delete when unused.
pub async fn custom_role_lifecycle(store: &dyn Store) {
    let (_, org) = signup(store, "custom").await;
    let perms: PermissionSet = [Permission::BotsRead, Permission::AuditRead]
        .into_iter()
        .collect();
    let role = store
        .create_role(
            org.id,
            NewRole {
                name: "auditor".into(),
                description: "reads logs".into(),
                permissions: perms.clone(),
            },
        )
        .await
        .unwrap();
    assert!(!role.builtin);
    assert_eq!(role.permissions, perms);
    assert_conflict(
        store
            .create_role(
                org.id,
                NewRole {
                    name: "viewer".into(),
                    description: String::new(),
                    permissions: PermissionSet::empty(),
                },
            )
            .await,
    );
    let updated = store
        .update_role(
            org.id,
            role.id,
            RolePatch {
                name: Some("auditors".into()),
                permissions: Some(PermissionSet::empty()),
                ..RolePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "auditors");
    assert!(updated.permissions.is_empty());
    assert_eq!(store.get_role(org.id, role.id).await.unwrap(), updated);

    let user = store
        .create_user(new_user(&unique_email("holder")))
        .await
        .unwrap();
    store.add_member(org.id, user.id, role.id).await.unwrap();
    assert_conflict(store.delete_role(org.id, role.id).await);
    store.remove_member(org.id, user.id).await.unwrap();
    store.delete_role(org.id, role.id).await.unwrap();
    assert_not_found(store.get_role(org.id, role.id).await);
}

/// Built-in roles cannot be changed or deleted.
pub async fn builtin_roles_are_immutable(store: &dyn Store) {
    let (_, org) = signup(store, "immutable").await;
    let viewer = store.find_role_by_name(org.id, "viewer").await.unwrap();
    assert_conflict(
        store
            .update_role(
                org.id,
                viewer.id,
                RolePatch {
                    permissions: Some(PermissionSet::all()),
                    ..RolePatch::default()
                },
            )
            .await,
    );
    assert_conflict(store.delete_role(org.id, viewer.id).await);
    assert_eq!(
        store.get_role(org.id, viewer.id).await.unwrap().permissions,
        BuiltinRole::Viewer.permissions()
    );
}

/// Another organization's roles are `NotFound`.
pub async fn other_tenant_role_is_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme-r").await;
    let (_, globex) = signup(store, "globex-r").await;
    let role = store
        .create_role(
            acme.id,
            NewRole {
                name: "secret-role".into(),
                description: String::new(),
                permissions: PermissionSet::empty(),
            },
        )
        .await
        .unwrap();
    assert_not_found(store.get_role(globex.id, role.id).await);
    assert_not_found(
        store
            .update_role(globex.id, role.id, RolePatch::default())
            .await,
    );
    assert_not_found(store.delete_role(globex.id, role.id).await);
    assert_not_found(store.find_role_by_name(globex.id, "secret-role").await);
    let names: Vec<String> = store
        .list_roles(globex.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(!names.contains(&"secret-role".to_owned()));
}

/// API keys are found by hash, listed per organization, and deleted only by their own org.
pub async fn api_keys_are_scoped(store: &dyn Store) {
    let (alice, acme) = signup(store, "acme-k").await;
    let (_, globex) = signup(store, "globex-k").await;
    let hash = uuid::Uuid::now_v7().as_bytes().to_vec();
    let key = store
        .create_api_key(
            acme.id,
            NewApiKey {
                name: "ci".into(),
                prefix: "bb_abcd".into(),
                key_hash: hash.clone(),
                permissions: [Permission::BotsRead].into_iter().collect(),
                created_by: Some(alice.id),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(key.org_id, acme.id);
    assert_eq!(store.find_api_key_by_hash(&hash).await.unwrap(), key);
    assert_not_found(store.find_api_key_by_hash(b"nope").await);
    assert_eq!(
        store.list_api_keys(acme.id).await.unwrap(),
        vec![key.clone()]
    );
    assert!(store.list_api_keys(globex.id).await.unwrap().is_empty());
    assert_not_found(store.delete_api_key(globex.id, key.id).await);
    store.delete_api_key(acme.id, key.id).await.unwrap();
    assert_not_found(store.find_api_key_by_hash(&hash).await);
}

/// The audit log lists newest first, filters by action, actor and time, and pages.
pub async fn audit_log_filters_and_pages(store: &dyn Store) {
    let (alice, org) = signup(store, "audit").await;
    let before = Utc::now() - TimeDelta::seconds(5);
    for i in 0..3 {
        store
            .append_audit(
                org.id,
                NewAuditEntry {
                    actor: Actor::User(alice.id),
                    action: if i == 1 { "bot.delete" } else { "bot.create" }.into(),
                    target_type: Some("bot".into()),
                    target_id: Some(format!("b{i}")),
                    details: json!({ "i": i }),
                    ip: Some("127.0.0.1".into()),
                    request_id: Some(format!("req-{i}")),
                },
            )
            .await
            .unwrap();
    }
    store
        .append_audit(org.id, audit_entry(Actor::System, "bot.create"))
        .await
        .unwrap();
    let all = store
        .list_audit(org.id, &AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 4);
    assert!(
        all.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    assert_eq!(all.items[1].details, json!({ "i": 2 }));

    let creates = AuditFilter {
        action: Some("bot.create".into()),
        actor: Some(Actor::User(alice.id)),
        ..AuditFilter::default()
    };
    let got = store
        .list_audit(org.id, &creates, PageRequest::default())
        .await
        .unwrap();
    let targets: Vec<_> = got
        .items
        .iter()
        .filter_map(|e| e.target_id.clone())
        .collect();
    assert_eq!(targets, vec!["b2".to_owned(), "b0".to_owned()]);

    let future = AuditFilter {
        since: Some(Utc::now() + TimeDelta::hours(1)),
        ..AuditFilter::default()
    };
    let none = store
        .list_audit(org.id, &future, PageRequest::default())
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let past = AuditFilter {
        until: Some(before),
        ..AuditFilter::default()
    };
    let none = store
        .list_audit(org.id, &past, PageRequest::default())
        .await
        .unwrap();
    assert!(none.items.is_empty());

    let first = store
        .list_audit(org.id, &AuditFilter::default(), PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 3);
    let rest = store
        .list_audit(
            org.id,
            &AuditFilter::default(),
            PageRequest {
                limit: 3,
                cursor: first.next_cursor,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
    assert_eq!(rest.items[0].id, all.items[3].id);
}

/// Another organization's audit entries never appear.
pub async fn other_tenant_audit_is_invisible(store: &dyn Store) {
    let (alice, acme) = signup(store, "acme-a").await;
    let (_, globex) = signup(store, "globex-a").await;
    store
        .append_audit(acme.id, audit_entry(Actor::User(alice.id), "bot.create"))
        .await
        .unwrap();
    let got = store
        .list_audit(globex.id, &AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert!(got.items.is_empty());
}

/// A refresh token is consumed exactly once; a revoked family consumes nothing.
pub async fn refresh_tokens_rotate_once(store: &dyn Store) {
    let (alice, _) = signup(store, "refresh").await;
    let family = TokenFamilyId::new();
    let hash = uuid::Uuid::now_v7().as_bytes().to_vec();
    let token = store
        .insert_refresh_token(NewRefreshToken {
            family_id: family,
            user_id: alice.id,
            token_hash: hash.clone(),
            expires_at: Utc::now() + TimeDelta::days(30),
        })
        .await
        .unwrap();
    assert_eq!(store.find_refresh_token(&hash).await.unwrap(), token);
    assert!(
        store
            .consume_refresh_token(&hash, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .consume_refresh_token(&hash, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        store
            .find_refresh_token(&hash)
            .await
            .unwrap()
            .used_at
            .is_some()
    );

    let next_hash = uuid::Uuid::now_v7().as_bytes().to_vec();
    store
        .insert_refresh_token(NewRefreshToken {
            family_id: family,
            user_id: alice.id,
            token_hash: next_hash.clone(),
            expires_at: Utc::now() + TimeDelta::days(30),
        })
        .await
        .unwrap();
    store
        .revoke_refresh_family(family, Utc::now())
        .await
        .unwrap();
    store
        .revoke_refresh_family(family, Utc::now())
        .await
        .unwrap();
    let next = store.find_refresh_token(&next_hash).await.unwrap();
    assert!(next.revoked_at.is_some());
    assert!(
        !store
            .consume_refresh_token(&next_hash, Utc::now())
            .await
            .unwrap()
    );
    assert_not_found(store.find_refresh_token(b"unknown").await);
}

fn lookup_kind() -> EntityKind {
    EntityKind::Lookup {
        values: vec![LookupValue {
            value: "large".into(),
            synonyms: vec!["big".into(), "XL".into()],
        }],
    }
}

/// Intents round-trip, names are unique per bot, and a missing bot is `NotFound`.
pub async fn intents_round_trip(store: &dyn Store) {
    let (_, org) = signup(store, "intents").await;
    let bot = store.create_bot(org.id, new_bot("nlu")).await.unwrap();
    let other_bot = store.create_bot(org.id, new_bot("other")).await.unwrap();
    let new = |name: &str| NewIntent {
        name: name.into(),
        examples: vec!["where is my order".into(), "track 📦 «parcel»".into()],
    };
    let intent = store
        .create_intent(org.id, bot.id, new("track"))
        .await
        .unwrap();
    assert_eq!(intent.bot_id, bot.id);
    assert_eq!(
        store.get_intent(org.id, bot.id, intent.id).await.unwrap(),
        intent
    );
    assert_conflict(store.create_intent(org.id, bot.id, new("track")).await);
    store
        .create_intent(org.id, other_bot.id, new("track"))
        .await
        .unwrap();
    let refund = store
        .create_intent(org.id, bot.id, new("refund"))
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_intents(org.id, bot.id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, vec!["track", "refund"]);
    assert_not_found(store.get_intent(org.id, other_bot.id, intent.id).await);
    let patched = store
        .update_intent(
            org.id,
            bot.id,
            intent.id,
            IntentPatch {
                examples: Some(vec!["where's my stuff".into()]),
                ..IntentPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.examples, vec!["where's my stuff".to_owned()]);
    assert_eq!(patched.name, "track");
    let rename = IntentPatch {
        name: Some("refund".into()),
        ..IntentPatch::default()
    };
    assert_conflict(store.update_intent(org.id, bot.id, intent.id, rename).await);
    store
        .delete_intent(org.id, bot.id, refund.id)
        .await
        .unwrap();
    assert_not_found(store.get_intent(org.id, bot.id, refund.id).await);
    assert_not_found(store.delete_intent(org.id, bot.id, refund.id).await);
    assert_not_found(store.create_intent(org.id, BotId::new(), new("x")).await);
    assert_not_found(store.list_intents(org.id, BotId::new()).await);
}

/// Entity definitions round-trip with their recognition rule.
pub async fn entities_round_trip(store: &dyn Store) {
    let (_, org) = signup(store, "entities").await;
    let bot = store.create_bot(org.id, new_bot("nlu")).await.unwrap();
    let entity = store
        .create_entity(
            org.id,
            bot.id,
            NewEntity {
                name: "size".into(),
                kind: lookup_kind(),
            },
        )
        .await
        .unwrap();
    assert_eq!(entity.kind, lookup_kind());
    assert_eq!(
        store.get_entity(org.id, bot.id, entity.id).await.unwrap(),
        entity
    );
    let dup = NewEntity {
        name: "size".into(),
        kind: lookup_kind(),
    };
    assert_conflict(store.create_entity(org.id, bot.id, dup).await);
    let email = EntityKind::Builtin {
        builtin: BuiltinEntity::Email,
    };
    let patched = store
        .update_entity(
            org.id,
            bot.id,
            entity.id,
            EntityPatch {
                kind: Some(email.clone()),
                ..EntityPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.kind, email);
    assert_eq!(
        store.list_entities(org.id, bot.id).await.unwrap(),
        vec![patched]
    );
    store
        .delete_entity(org.id, bot.id, entity.id)
        .await
        .unwrap();
    assert_not_found(store.get_entity(org.id, bot.id, entity.id).await);
}

/// Another organization's intents and entities are `NotFound`; deleting a bot removes them.
pub async fn other_tenant_nlu_data_is_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme-n").await;
    let (_, globex) = signup(store, "globex-n").await;
    let bot = store.create_bot(acme.id, new_bot("secret")).await.unwrap();
    let intent = store
        .create_intent(
            acme.id,
            bot.id,
            NewIntent {
                name: "secret".into(),
                examples: vec!["x".into()],
            },
        )
        .await
        .unwrap();
    let entity = store
        .create_entity(
            acme.id,
            bot.id,
            NewEntity {
                name: "secret".into(),
                kind: lookup_kind(),
            },
        )
        .await
        .unwrap();
    assert_not_found(store.list_intents(globex.id, bot.id).await);
    assert_not_found(store.get_intent(globex.id, bot.id, intent.id).await);
    assert_not_found(
        store
            .update_intent(globex.id, bot.id, intent.id, IntentPatch::default())
            .await,
    );
    assert_not_found(store.delete_intent(globex.id, bot.id, intent.id).await);
    let new = NewIntent {
        name: "planted".into(),
        examples: vec![],
    };
    assert_not_found(store.create_intent(globex.id, bot.id, new).await);
    assert_not_found(store.list_entities(globex.id, bot.id).await);
    assert_not_found(store.get_entity(globex.id, bot.id, entity.id).await);
    assert_not_found(store.delete_entity(globex.id, bot.id, entity.id).await);

    store.delete_bot(acme.id, bot.id).await.unwrap();
    assert_not_found(store.get_intent(acme.id, bot.id, intent.id).await);
    assert_not_found(store.get_entity(acme.id, bot.id, entity.id).await);
}

fn tiny_flow(text: &str) -> Flow {
    Flow::parse(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "say", "type": "message", "data": { "text": text } }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "say" }]
    }))
    .expect("valid flow")
}

/// Drafts are replaced; publications get increasing, immutable version numbers.
pub async fn flows_draft_and_versions(store: &dyn Store) {
    let (_, org) = signup(store, "flows").await;
    let bot = store.create_bot(org.id, new_bot("flows")).await.unwrap();
    assert_eq!(store.get_flow_draft(org.id, bot.id).await.unwrap(), None);
    assert_eq!(
        store.latest_flow_version(org.id, bot.id).await.unwrap(),
        None
    );
    let draft = store
        .save_flow_draft(org.id, bot.id, tiny_flow("v1 ✓"))
        .await
        .unwrap();
    assert_eq!(
        store.get_flow_draft(org.id, bot.id).await.unwrap(),
        Some(draft)
    );
    let first = store
        .publish_flow(org.id, bot.id, tiny_flow("v1 ✓"))
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    store
        .save_flow_draft(org.id, bot.id, tiny_flow("v2"))
        .await
        .unwrap();
    let second = store
        .publish_flow(org.id, bot.id, tiny_flow("v2"))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(
        store.get_flow_version(org.id, bot.id, 1).await.unwrap(),
        first
    );
    assert_eq!(
        store.latest_flow_version(org.id, bot.id).await.unwrap(),
        Some(second)
    );
    assert_not_found(store.get_flow_version(org.id, bot.id, 3).await);
    let other = store.create_bot(org.id, new_bot("other")).await.unwrap();
    assert_eq!(
        store
            .publish_flow(org.id, other.id, tiny_flow("o"))
            .await
            .unwrap()
            .version,
        1
    );
}

/// Another organization's flows are `NotFound`; deleting the bot removes them.
pub async fn other_tenant_flows_are_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme-f").await;
    let (_, globex) = signup(store, "globex-f").await;
    let bot = store.create_bot(acme.id, new_bot("secret")).await.unwrap();
    store
        .save_flow_draft(acme.id, bot.id, tiny_flow("secret"))
        .await
        .unwrap();
    store
        .publish_flow(acme.id, bot.id, tiny_flow("secret"))
        .await
        .unwrap();
    assert_not_found(store.get_flow_draft(globex.id, bot.id).await);
    assert_not_found(
        store
            .save_flow_draft(globex.id, bot.id, tiny_flow("x"))
            .await,
    );
    assert_not_found(store.publish_flow(globex.id, bot.id, tiny_flow("x")).await);
    assert_not_found(store.get_flow_version(globex.id, bot.id, 1).await);
    assert_not_found(store.latest_flow_version(globex.id, bot.id).await);
    store.delete_bot(acme.id, bot.id).await.unwrap();
    assert_not_found(store.get_flow_draft(acme.id, bot.id).await);
}

fn web_session(user: &str) -> NewSession {
    NewSession {
        channel: "web".into(),
        external_user: user.into(),
        flow_version: Some(1),
    }
}

/// Sessions open, resume by (bot, channel, user), and update only at the revision read.
pub async fn sessions_resume_and_update_optimistically(store: &dyn Store) {
    let (_, org) = signup(store, "sessions").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("visitor-1"))
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Active);
    assert_eq!(session.revision, 0);
    assert_eq!(session.flow_version, Some(1));
    let open = store
        .find_open_session(org.id, bot.id, "web", "visitor-1")
        .await
        .unwrap();
    assert_eq!(open.as_ref().map(|s| s.id), Some(session.id));
    assert_eq!(
        store
            .find_open_session(org.id, bot.id, "telegram", "visitor-1")
            .await
            .unwrap(),
        None
    );
    let mut state = SessionState {
        current_node: Some("ask_email".into()),
        ..SessionState::default()
    };
    state.variables.insert("name".into(), json!("Ada 🤖"));
    let updated = store
        .update_session(org.id, session.id, 0, SessionStatus::Active, state.clone())
        .await
        .unwrap();
    assert_eq!(updated.revision, 1);
    assert_eq!(updated.state, state);
    // A second writer that read revision 0 loses, and changes nothing.
    assert_conflict(
        store
            .update_session(
                org.id,
                session.id,
                0,
                SessionStatus::Ended,
                SessionState::default(),
            )
            .await,
    );
    assert_eq!(
        store.get_session(org.id, session.id).await.unwrap(),
        updated
    );
    store
        .update_session(org.id, session.id, 1, SessionStatus::Ended, state)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_open_session(org.id, bot.id, "web", "visitor-1")
            .await
            .unwrap(),
        None,
        "ended sessions are not resumed"
    );
}

/// Messages keep their order and details; pages and the recent window are oldest first.
pub async fn messages_are_ordered_and_paged(store: &dyn Store) {
    let (_, org) = signup(store, "messages").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("u"))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut new = NewMessage::text(
            if i % 2 == 0 {
                MessageDirection::Inbound
            } else {
                MessageDirection::Outbound
            },
            format!("message {i} – مرحبا"),
        );
        if i == 0 {
            new.intent = Some("greet".into());
            new.confidence = Some(0.75);
            new.payload = json!({ "buttons": [{ "title": "Yes", "payload": "yes" }] });
            new.prompt_tokens = 10;
            new.completion_tokens = 5;
            new.cost_micros = 42;
        }
        ids.push(store.append_message(org.id, session.id, new).await.unwrap());
    }
    let first = store.get_message(org.id, ids[0].id).await.unwrap();
    assert_eq!(first, ids[0]);
    assert_eq!(first.intent.as_deref(), Some("greet"));
    assert_eq!(first.confidence, Some(0.75));
    assert_eq!(first.payload["buttons"][0]["payload"], "yes");
    assert_eq!(
        (
            first.prompt_tokens,
            first.completion_tokens,
            first.cost_micros
        ),
        (10, 5, 42)
    );
    assert_eq!(first.direction, MessageDirection::Inbound);

    let page = store
        .list_messages(org.id, session.id, PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[0].id, ids[1].id]
    );
    let rest = store
        .list_messages(
            org.id,
            session.id,
            PageRequest {
                limit: 10,
                cursor: page.next_cursor,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    let recent = store.recent_messages(org.id, session.id, 3).await.unwrap();
    let texts: Vec<&str> = recent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "message 2 – مرحبا",
            "message 3 – مرحبا",
            "message 4 – مرحبا"
        ]
    );
    let touched = store.get_session(org.id, session.id).await.unwrap();
    assert!(touched.last_activity_at >= session.last_activity_at);
}

/// `complete_turn` stores the replies in order with the new state, or nothing at all.
pub async fn turns_complete_atomically(store: &dyn Store) {
    let (_, org) = signup(store, "turns").await;
    let (_, other) = signup(store, "turns-other").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("v"))
        .await
        .unwrap();
    store
        .append_message(
            org.id,
            session.id,
            NewMessage::text(MessageDirection::Inbound, "hi"),
        )
        .await
        .unwrap();
    let mut state = SessionState::default();
    state.variables.insert("step".into(), json!(2));
    let mut rich = NewMessage::text(MessageDirection::Outbound, "two 🤖 \"quoted\" مرحبا");
    rich.payload = json!({ "buttons": [{ "title": "Yes", "payload": "yes" }] });
    rich.intent = Some("greet".into());
    rich.confidence = Some(0.123_456_79);
    rich.prompt_tokens = 12;
    rich.completion_tokens = 34;
    rich.cost_micros = 56;
    let replies = vec![NewMessage::text(MessageDirection::Outbound, "one"), rich];
    let (saved, stored) = store
        .complete_turn(
            org.id,
            session.id,
            0,
            replies.clone(),
            SessionStatus::Handoff,
            state.clone(),
        )
        .await
        .unwrap();
    assert_eq!(saved.revision, 1);
    assert_eq!(saved.status, SessionStatus::Handoff);
    assert_eq!(saved.state, state);
    assert_eq!(
        stored.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        vec!["one", "two 🤖 \"quoted\" مرحبا"]
    );
    let all = store
        .list_messages(org.id, session.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        vec!["hi", "one", "two 🤖 \"quoted\" مرحبا"],
        "stored in order after the inbound message"
    );
    assert_eq!(all.items[1..], stored[..], "returned exactly as stored");
    // A stale revision stores nothing.
    assert_conflict(
        store
            .complete_turn(
                org.id,
                session.id,
                0,
                replies.clone(),
                SessionStatus::Active,
                SessionState::default(),
            )
            .await,
    );
    // Another organization cannot write into the session.
    assert_not_found(
        store
            .complete_turn(
                other.id,
                session.id,
                1,
                replies,
                SessionStatus::Active,
                SessionState::default(),
            )
            .await,
    );
    let after = store
        .list_messages(org.id, session.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(after.items.len(), 3);
    let current = store.get_session(org.id, session.id).await.unwrap();
    assert_eq!(current.revision, 1);
    assert_eq!(current.state, state);
}

fn new_kb(name: &str) -> NewKnowledgeBase {
    NewKnowledgeBase {
        name: name.to_owned(),
        description: String::new(),
        embedding_model: "local".to_owned(),
        embedding_dimensions: 3,
    }
}

fn new_doc(title: &str, hash: &str) -> NewDocument {
    NewDocument {
        title: title.to_owned(),
        source: DocumentSource::Text,
        content_type: "text/plain".to_owned(),
        content_hash: hash.to_owned(),
        size_bytes: 42,
        content: format!("# {title}\n\nbody 🤖").into_bytes(),
    }
}

fn new_chunk(position: u32, text: &str, embedding: [f32; 3]) -> NewChunk {
    NewChunk {
        position,
        text: text.to_owned(),
        heading_path: vec!["Guide".to_owned(), "Refunds 🤖".to_owned()],
        token_count: 7,
        embedding: embedding.to_vec(),
    }
}

/// Knowledge bases: CRUD within the organization, `NotFound` from any other.
pub async fn knowledge_bases_belong_to_their_organization(store: &dyn Store) {
    let (_, acme) = signup(store, "kb-acme").await;
    let (_, globex) = signup(store, "kb-globex").await;
    let kb = store
        .create_knowledge_base(acme.id, new_kb("Help center"))
        .await
        .unwrap();
    assert_eq!(kb.embedding_dimensions, 3);
    assert_eq!(store.get_knowledge_base(acme.id, kb.id).await.unwrap(), kb);
    let renamed = store
        .update_knowledge_base(
            acme.id,
            kb.id,
            KnowledgeBasePatch {
                name: Some("Docs".into()),
                ..KnowledgeBasePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Docs");
    assert_eq!(renamed.embedding_model, "local");
    let reembedded = store
        .update_knowledge_base(
            acme.id,
            kb.id,
            KnowledgeBasePatch {
                embedding: Some(("minilm".into(), 384)),
                ..KnowledgeBasePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            reembedded.name.as_str(),
            reembedded.embedding_model.as_str()
        ),
        ("Docs", "minilm")
    );
    assert_eq!(reembedded.embedding_dimensions, 384);
    let listed = store
        .list_knowledge_bases(acme.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![reembedded.clone()]);
    assert!(
        store
            .list_knowledge_bases(globex.id, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_not_found(store.get_knowledge_base(globex.id, kb.id).await);
    assert_eq!(
        store.locate_knowledge_base(kb.id).await.unwrap().org_id,
        acme.id
    );
    assert_not_found(
        store
            .locate_knowledge_base(crate::id::KnowledgeBaseId::new())
            .await,
    );
    assert_not_found(
        store
            .update_knowledge_base(globex.id, kb.id, KnowledgeBasePatch::default())
            .await,
    );
    assert_not_found(
        store
            .create_document(globex.id, kb.id, new_doc("x", "h"))
            .await,
    );
    assert_not_found(
        store
            .list_documents(globex.id, kb.id, PageRequest::default())
            .await,
    );
    assert_not_found(store.chunk_embeddings(globex.id, kb.id).await);
    assert_not_found(store.delete_knowledge_base(globex.id, kb.id).await);
    store.delete_knowledge_base(acme.id, kb.id).await.unwrap();
    assert_not_found(store.get_knowledge_base(acme.id, kb.id).await);
}

/// Documents: pending → processing → ready with chunks; the same content twice is refused;
/// deleting a document or its knowledge base removes its chunks.
pub async fn documents_move_through_ingestion_and_take_their_chunks_along(store: &dyn Store) {
    let (_, org) = signup(store, "docs").await;
    let (_, other) = signup(store, "docs-other").await;
    let kb = store
        .create_knowledge_base(org.id, new_kb("KB"))
        .await
        .unwrap();
    let second = store
        .create_knowledge_base(org.id, new_kb("KB 2"))
        .await
        .unwrap();
    let doc = store
        .create_document(org.id, kb.id, new_doc("Refunds", "abc"))
        .await
        .unwrap();
    assert_eq!(doc.status, DocumentStatus::Pending);
    assert_eq!(doc.chunk_count, 0);
    assert_eq!(
        store.document_content(org.id, doc.id).await.unwrap(),
        "# Refunds\n\nbody 🤖".as_bytes()
    );
    assert_not_found(store.document_content(other.id, doc.id).await);
    assert_conflict(
        store
            .create_document(org.id, kb.id, new_doc("Again", "abc"))
            .await,
    );
    store
        .create_document(org.id, second.id, new_doc("Same text elsewhere", "abc"))
        .await
        .expect("another knowledge base may hold the same content");
    let working = store
        .set_document_status(org.id, doc.id, DocumentStatus::Processing, 0.5, None)
        .await
        .unwrap();
    assert_eq!(working.status, DocumentStatus::Processing);
    assert!((working.progress - 0.5).abs() < 1e-6);
    assert_not_found(
        store
            .set_document_status(other.id, doc.id, DocumentStatus::Failed, 0.0, None)
            .await,
    );

    let ready = store
        .replace_chunks(
            org.id,
            doc.id,
            vec![
                new_chunk(0, "Refunds take five days.", [1.0, 0.0, 0.0]),
                new_chunk(1, "Shipping is free.", [0.0, 1.0, 0.0]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ready.status, DocumentStatus::Ready);
    assert_eq!(ready.chunk_count, 2);
    assert!((ready.progress - 1.0).abs() < 1e-6);
    let vectors = store.chunk_embeddings(org.id, kb.id).await.unwrap();
    assert_eq!(vectors.len(), 2);
    let ids: Vec<_> = vectors.iter().map(|(id, _)| *id).collect();
    let reversed: Vec<_> = ids.iter().rev().copied().collect();
    let chunks = store.get_chunks(org.id, &reversed).await.unwrap();
    assert_eq!(
        chunks.iter().map(|c| c.id).collect::<Vec<_>>(),
        reversed,
        "in the order asked for"
    );
    let refund = chunks.iter().find(|c| c.position == 0).unwrap();
    assert_eq!(refund.text, "Refunds take five days.");
    assert_eq!(refund.heading_path, vec!["Guide", "Refunds 🤖"]);
    assert_eq!(refund.document_id, doc.id);
    assert_eq!(refund.kb_id, kb.id);
    let refund_vector = &vectors.iter().find(|(id, _)| *id == refund.id).unwrap().1;
    assert_eq!(refund_vector, &vec![1.0, 0.0, 0.0]);
    let texts = store.chunk_texts(org.id, kb.id).await.unwrap();
    assert_eq!(
        texts.iter().map(|t| t.id).collect::<Vec<_>>(),
        ids,
        "the same chunks in the same order as the vectors"
    );
    let indexed = texts.iter().find(|t| t.id == refund.id).unwrap();
    assert_eq!(indexed.text, "Refunds take five days.");
    assert_eq!(indexed.heading_path, vec!["Guide", "Refunds 🤖"]);
    assert_eq!(indexed.document_id, doc.id);
    assert_eq!(indexed.title, doc.title);
    assert_not_found(store.chunk_texts(other.id, kb.id).await);
    // A renamed document's chunks carry the new title; another organization cannot rename.
    let renamed = store
        .rename_document(org.id, doc.id, "Shop guide 🛒".into())
        .await
        .unwrap();
    assert_eq!(renamed.title, "Shop guide 🛒");
    let texts = store.chunk_texts(org.id, kb.id).await.unwrap();
    assert!(
        texts
            .iter()
            .all(|t| t.document_id != doc.id || t.title == "Shop guide 🛒")
    );
    assert_not_found(store.rename_document(other.id, doc.id, "Mine".into()).await);
    assert!(
        store.get_chunks(other.id, &ids).await.unwrap().is_empty(),
        "another organization sees none"
    );

    // Re-ingesting replaces the chunks.
    let again = store
        .replace_chunks(
            org.id,
            doc.id,
            vec![new_chunk(0, "Refunds take a week.", [1.0, 1.0, 0.0])],
        )
        .await
        .unwrap();
    assert_eq!(again.chunk_count, 1);
    assert_eq!(
        store.chunk_embeddings(org.id, kb.id).await.unwrap().len(),
        1
    );
    assert!(store.get_chunks(org.id, &ids).await.unwrap().is_empty());

    assert_not_found(store.delete_document(other.id, doc.id).await);
    store.delete_document(org.id, doc.id).await.unwrap();
    assert!(
        store
            .chunk_embeddings(org.id, kb.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .keyword_search(org.id, &[kb.id], "refunds", 10)
            .await
            .unwrap()
            .is_empty(),
        "a deleted document's chunks are gone from search"
    );
    assert_not_found(store.get_document(org.id, doc.id).await);

    let kept = store
        .create_document(org.id, kb.id, new_doc("Kept", "def"))
        .await
        .unwrap();
    store
        .replace_chunks(
            org.id,
            kept.id,
            vec![new_chunk(0, "Gift cards never expire.", [0.0, 0.0, 1.0])],
        )
        .await
        .unwrap();
    store.delete_knowledge_base(org.id, kb.id).await.unwrap();
    assert_not_found(store.get_document(org.id, kept.id).await);
    assert!(
        store
            .keyword_search(org.id, &[kb.id], "gift cards", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Keyword search ranks the best chunk first and never leaves the given knowledge bases of
/// the organization; any text is a safe query.
pub async fn keyword_search_ranks_within_the_given_knowledge_bases(store: &dyn Store) {
    let (_, org) = signup(store, "search").await;
    let (_, other) = signup(store, "search-other").await;
    let kb = store
        .create_knowledge_base(org.id, new_kb("Policies"))
        .await
        .unwrap();
    let elsewhere = store
        .create_knowledge_base(org.id, new_kb("Elsewhere"))
        .await
        .unwrap();
    let foreign = store
        .create_knowledge_base(other.id, new_kb("Foreign"))
        .await
        .unwrap();
    let texts = [
        "Our refund policy: refunds are paid within five days of the return.",
        "Shipping takes two days inside the country.",
        "Opening hours are nine to five on weekdays.",
        "Gift cards can be used online and in stores.",
    ];
    let doc = store
        .create_document(org.id, kb.id, new_doc("Policies", "p"))
        .await
        .unwrap();
    let chunks = texts
        .iter()
        .enumerate()
        .map(|(i, t)| new_chunk(u32::try_from(i).unwrap(), t, [0.0, 0.0, 1.0]))
        .collect();
    store.replace_chunks(org.id, doc.id, chunks).await.unwrap();
    for (target_org, target_kb) in [(org.id, elsewhere.id), (other.id, foreign.id)] {
        let d = store
            .create_document(target_org, target_kb, new_doc("Copy", "p"))
            .await
            .unwrap();
        store
            .replace_chunks(
                target_org,
                d.id,
                vec![new_chunk(0, texts[0], [1.0, 0.0, 0.0])],
            )
            .await
            .unwrap();
    }

    let hits = store
        .keyword_search(org.id, &[kb.id], "what is the refund policy?", 10)
        .await
        .unwrap();
    assert!(!hits.is_empty());
    assert_eq!(hits[0].chunk.position, 0, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h.chunk.kb_id == kb.id && h.chunk.org_id == org.id)
    );
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    let both = store
        .keyword_search(org.id, &[kb.id, elsewhere.id], "refund policy", 10)
        .await
        .unwrap();
    assert_eq!(
        both.iter().filter(|h| h.chunk.position == 0).count(),
        2,
        "both of the organization's knowledge bases, never the other organization's"
    );
    assert!(
        store
            .keyword_search(org.id, &[foreign.id], "refund policy", 10)
            .await
            .unwrap()
            .is_empty(),
        "another organization's knowledge base matches nothing"
    );
    assert_eq!(
        store
            .keyword_search(org.id, &[kb.id], "refund", 1)
            .await
            .unwrap()
            .len(),
        1,
        "limit"
    );
    for odd in [
        "\"refund",
        "NEAR(refund policy)",
        "refund* OR -x",
        "?!",
        "",
        "مرحبا 🤖",
    ] {
        store
            .keyword_search(org.id, &[kb.id], odd, 5)
            .await
            .unwrap_or_else(|e| panic!("{odd}: {e}"));
    }
    assert!(
        store
            .keyword_search(org.id, &[], "refund", 5)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Sessions list newest first and filter by status.
pub async fn sessions_list_by_status(store: &dyn Store) {
    let (_, org) = signup(store, "inbox").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let a = store
        .create_session(org.id, bot.id, web_session("a"))
        .await
        .unwrap();
    let b = store
        .create_session(org.id, bot.id, web_session("b"))
        .await
        .unwrap();
    store
        .update_session(
            org.id,
            b.id,
            0,
            SessionStatus::Handoff,
            SessionState::default(),
        )
        .await
        .unwrap();
    let all = store
        .list_sessions(org.id, bot.id, None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        all.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b.id, a.id]
    );
    let waiting = store
        .list_sessions(
            org.id,
            bot.id,
            Some(SessionStatus::Handoff),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        waiting.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b.id]
    );
}

/// A second rating of a message replaces the first.
pub async fn feedback_replaces_earlier_feedback(store: &dyn Store) {
    let (_, org) = signup(store, "feedback").await;
    let bot = store.create_bot(org.id, new_bot("chat")).await.unwrap();
    let session = store
        .create_session(org.id, bot.id, web_session("u"))
        .await
        .unwrap();
    let message = store
        .append_message(
            org.id,
            session.id,
            NewMessage::text(MessageDirection::Outbound, "hi"),
        )
        .await
        .unwrap();
    let up = store
        .set_feedback(org.id, message.id, Rating::Up, None)
        .await
        .unwrap();
    assert_eq!(up.rating, Rating::Up);
    let down = store
        .set_feedback(
            org.id,
            message.id,
            Rating::Down,
            Some("wrong answer".into()),
        )
        .await
        .unwrap();
    assert_eq!(down.rating, Rating::Down);
    assert_eq!(down.comment.as_deref(), Some("wrong answer"));
    assert_eq!(down.message_id, message.id);
    assert_not_found(
        store
            .set_feedback(org.id, MessageId::new(), Rating::Up, None)
            .await,
    );
}

/// Another organization's sessions, messages and feedback are `NotFound`.
pub async fn other_tenant_conversations_are_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme-c").await;
    let (_, globex) = signup(store, "globex-c").await;
    let bot = store.create_bot(acme.id, new_bot("secret")).await.unwrap();
    let session = store
        .create_session(acme.id, bot.id, web_session("u"))
        .await
        .unwrap();
    let message = store
        .append_message(
            acme.id,
            session.id,
            NewMessage::text(MessageDirection::Inbound, "secret"),
        )
        .await
        .unwrap();
    assert_not_found(
        store
            .create_session(globex.id, bot.id, web_session("x"))
            .await,
    );
    assert_not_found(store.get_session(globex.id, session.id).await);
    assert_not_found(
        store
            .update_session(
                globex.id,
                session.id,
                0,
                SessionStatus::Ended,
                SessionState::default(),
            )
            .await,
    );
    assert_not_found(
        store
            .append_message(
                globex.id,
                session.id,
                NewMessage::text(MessageDirection::Inbound, "x"),
            )
            .await,
    );
    assert_not_found(
        store
            .list_messages(globex.id, session.id, PageRequest::default())
            .await,
    );
    assert_not_found(store.recent_messages(globex.id, session.id, 5).await);
    assert_not_found(store.get_message(globex.id, message.id).await);
    assert_not_found(
        store
            .set_feedback(globex.id, message.id, Rating::Down, None)
            .await,
    );
    assert_not_found(
        store
            .list_sessions(globex.id, bot.id, None, PageRequest::default())
            .await,
    );
    assert_eq!(
        store
            .find_open_session(globex.id, bot.id, "web", "u")
            .await
            .unwrap(),
        None
    );
    let intact = store.get_session(acme.id, session.id).await.unwrap();
    assert_eq!(intact.revision, 0);
}

/// Expands one `#[tokio::test]` per store contract clause for a backend.
///
/// `$make` is an expression evaluating to a future of `Option<S>` where `S: Store`; `None`
/// skips (printing why) outside CI. Each test gets a fresh store from `$make`.
///
/// ```text
/// botbuilder_core::store_conformance_suite!(async { Some(SqliteStore::in_memory().await.unwrap()) });
/// ```
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::__store_cases!($make;
            ping_succeeds,
            user_email_is_unique_ignoring_case,
            unknown_user_is_not_found,
            signup_makes_the_user_owner,
            failed_signup_stores_nothing,
            builtin_roles_match_the_matrix,
            create_org_adds_an_owned_org,
            org_delete_cascades,
            bot_round_trips,
            other_tenant_bot_is_not_found,
            bots_page_in_creation_order,
            member_rules,
            other_tenant_member_is_not_found,
            last_owner_is_kept,
            custom_role_lifecycle,
            builtin_roles_are_immutable,
            other_tenant_role_is_not_found,
            api_keys_are_scoped,
            audit_log_filters_and_pages,
            other_tenant_audit_is_invisible,
            refresh_tokens_rotate_once,
            intents_round_trip,
            entities_round_trip,
            other_tenant_nlu_data_is_not_found,
            flows_draft_and_versions,
            other_tenant_flows_are_not_found,
            sessions_resume_and_update_optimistically,
            messages_are_ordered_and_paged,
            sessions_list_by_status,
            turns_complete_atomically,
            knowledge_bases_belong_to_their_organization,
            documents_move_through_ingestion_and_take_their_chunks_along,
            keyword_search_ranks_within_the_given_knowledge_bases,
            feedback_replaces_earlier_feedback,
            other_tenant_conversations_are_not_found,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_cases {
    ($make:expr; $($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let Some(store) = $make.await else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{}: backend not configured, and under CI every backend must run",
                    stringify!($case)
                );
                eprintln!("skipped {}: backend not configured", stringify!($case));
                return;
            };
            $crate::testing::store_suite::$case(&store).await;
        }
    )+};
}
