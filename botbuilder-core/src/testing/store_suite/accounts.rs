//! Store conformance: users, organizations, members, roles, API keys, the audit log and
//! refresh tokens.

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::{
    assert_conflict, assert_not_found, audit_entry, new_bot, new_user, signup, unique_email,
};
use crate::domain::{
    Actor, AiConfig, AuditFilter, BotPatch, BotSettings, BuiltinRole, NewApiKey, NewAuditEntry,
    NewBot, NewOrganization, NewRefreshToken, NewRole, OrgSettings, OrganizationPatch, PageRequest,
    Permission, PermissionSet, RolePatch,
};
use crate::id::{BotId, OrgId, TokenFamilyId, UserId};
use crate::store::Store;

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
                ..OrganizationPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Renamed");
    assert_eq!(renamed.settings, OrgSettings::default());
    let limited = store
        .update_org(
            org.id,
            OrganizationPatch {
                settings: Some(OrgSettings {
                    monthly_spend_limit_micros: Some(5_000_000),
                }),
                ..OrganizationPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        limited.name, "Renamed",
        "a patch changes only what it names"
    );
    assert_eq!(limited.settings.monthly_spend_limit_micros, Some(5_000_000));
    assert_eq!(
        store.get_org(org.id).await.unwrap().settings,
        limited.settings
    );
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
        fallback_model: Some("local-extractive".into()),
        knowledge_base_ids: vec![crate::id::KnowledgeBaseId::new()],
        tools: vec![crate::domain::HttpTool {
            name: "order_status".into(),
            description: "Where an order is".into(),
            parameters: json!({ "type": "object", "properties": { "order": { "type": "string" } } }),
            method: "GET".into(),
            url: "https://shop.example/orders/{{order}}".into(),
            headers: vec![crate::domain::ToolHeader {
                name: "accept".into(),
                value: "application/json".into(),
            }],
            timeout_secs: 5,
        }],
        max_tool_steps: 2,
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
        unavailable_message: "Back soon — à bientôt".into(),
        appearance: crate::domain::WebchatAppearance {
            title: Some("Sales desk".into()),
            color: Some("#0f766e".into()),
            position: crate::domain::WidgetPosition::Left,
            language: Some("fr".into()),
            ..crate::domain::WebchatAppearance::default()
        },
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
