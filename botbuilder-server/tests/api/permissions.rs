//! The permission matrix: built-in roles, a custom role and scoped API keys against every
//! organization route. Allowed calls succeed (2xx); denied calls are 403 and change nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Account, TestApp, email, org_routes};
use crate::permission_targets::target;

/// Who calls: a member with a role, or an API key with a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Owner,
    Admin,
    Editor,
    Viewer,
    /// Custom role `auditor`: `bots:read`, `audit:read`.
    Auditor,
    /// API key scoped to `bots:read`, `bots:write`.
    BotKey,
}

const CALLERS: [Caller; 6] = [
    Caller::Owner,
    Caller::Admin,
    Caller::Editor,
    Caller::Viewer,
    Caller::Auditor,
    Caller::BotKey,
];

use Caller::*;

/// Route -> callers allowed. The expected matrix, written out (not derived from the code).
fn allowed(method: &str, path: &str) -> &'static [Caller] {
    const ALL: &[Caller] = &[Owner, Admin, Editor, Viewer, Auditor, BotKey];
    const READ_MEMBERS: &[Caller] = &[Owner, Admin, Editor, Viewer];
    const MANAGERS: &[Caller] = &[Owner, Admin];
    const BOT_WRITERS: &[Caller] = &[Owner, Admin, Editor, BotKey];
    match (method, path) {
        ("GET", "/api/v1/orgs/{org}") => READ_MEMBERS,
        ("PATCH", "/api/v1/orgs/{org}") => MANAGERS,
        ("DELETE", "/api/v1/orgs/{org}") => &[Owner],
        ("GET", "/api/v1/orgs/{org}/members") => READ_MEMBERS,
        ("POST", "/api/v1/orgs/{org}/members")
        | ("PATCH", "/api/v1/orgs/{org}/members/{user}")
        | ("DELETE", "/api/v1/orgs/{org}/members/{user}") => MANAGERS,
        ("GET", "/api/v1/orgs/{org}/roles") => READ_MEMBERS,
        ("POST", "/api/v1/orgs/{org}/roles")
        | ("PATCH", "/api/v1/orgs/{org}/roles/{role}")
        | ("DELETE", "/api/v1/orgs/{org}/roles/{role}") => MANAGERS,
        ("GET", "/api/v1/orgs/{org}/api-keys")
        | ("POST", "/api/v1/orgs/{org}/api-keys")
        | ("DELETE", "/api/v1/orgs/{org}/api-keys/{key}") => MANAGERS,
        ("GET", "/api/v1/orgs/{org}/audit-log") => &[Owner, Admin, Auditor],
        ("GET", "/api/v1/orgs/{org}/provider-credentials")
        | ("PUT", "/api/v1/orgs/{org}/provider-credentials/{provider}")
        | ("DELETE", "/api/v1/orgs/{org}/provider-credentials/{provider}")
        | ("POST", "/api/v1/orgs/{org}/provider-credentials/{provider}/test")
        | ("GET", "/api/v1/orgs/{org}/secrets")
        | ("PUT", "/api/v1/orgs/{org}/secrets/{name}")
        | ("DELETE", "/api/v1/orgs/{org}/secrets/{name}")
        | ("GET", "/api/v1/orgs/{org}/usage") => MANAGERS,
        ("GET", "/api/v1/orgs/{org}/bots") | ("GET", "/api/v1/orgs/{org}/bots/{bot}") => ALL,
        ("POST", "/api/v1/orgs/{org}/bots")
        | ("PATCH", "/api/v1/orgs/{org}/bots/{bot}")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/clone") => BOT_WRITERS,
        ("DELETE", "/api/v1/orgs/{org}/bots/{bot}") => &[Owner, Admin, Editor],
        ("GET", "/api/v1/orgs/{org}/bots/{bot}/intents")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/entities")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/nlu/parse")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/flow")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/export")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/analytics") => ALL,
        ("POST", "/api/v1/orgs/{org}/bots/import") => BOT_WRITERS,
        ("GET", "/api/v1/orgs/{org}/bots/{bot}/conversations")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages") => READ_MEMBERS,
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/messages")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/reply")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/conversations/{session}/handoff/release")
        | ("POST", "/api/v1/orgs/{org}/messages/{message}/feedback") => &[Owner, Admin, Editor],
        ("PUT", "/api/v1/orgs/{org}/bots/{bot}/flow")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/flow/publish") => BOT_WRITERS,
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/intents")
        | ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}")
        | ("DELETE", "/api/v1/orgs/{org}/bots/{bot}/intents/{intent}")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/entities")
        | ("PATCH", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}")
        | ("DELETE", "/api/v1/orgs/{org}/bots/{bot}/entities/{entity}") => BOT_WRITERS,
        ("GET", "/api/v1/orgs/{org}/knowledge-bases")
        | ("GET", "/api/v1/orgs/{org}/knowledge-bases/{kb}")
        | ("GET", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents")
        | ("GET", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}")
        | ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/search")
        | ("GET", "/api/v1/orgs/{org}/knowledge-bases/{kb}/dead-letters") => ALL,
        ("POST", "/api/v1/orgs/{org}/knowledge-bases")
        | ("PATCH", "/api/v1/orgs/{org}/knowledge-bases/{kb}")
        | ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents")
        | ("PATCH", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}")
        | ("DELETE", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}")
        | ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/documents/{doc}/retry")
        | ("POST", "/api/v1/orgs/{org}/knowledge-bases/{kb}/reindex") => BOT_WRITERS,
        ("DELETE", "/api/v1/orgs/{org}/knowledge-bases/{kb}") => &[Owner, Admin, Editor],
        // Channels hold the platforms' credentials: those who manage credentials connect them.
        ("GET", "/api/v1/orgs/{org}/bots/{bot}/channels")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}")
        | ("GET", "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}/dead-letters") => ALL,
        ("POST", "/api/v1/orgs/{org}/bots/{bot}/channels")
        | ("DELETE", "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}")
        | ("POST", "/api/v1/orgs/{org}/bots/{bot}/channels/{channel}/test") => MANAGERS,
        // Webhooks send the organization's conversations to another system: admins decide.
        ("GET", "/api/v1/orgs/{org}/webhooks")
        | ("POST", "/api/v1/orgs/{org}/webhooks")
        | ("GET", "/api/v1/orgs/{org}/webhooks/{webhook}")
        | ("PATCH", "/api/v1/orgs/{org}/webhooks/{webhook}")
        | ("DELETE", "/api/v1/orgs/{org}/webhooks/{webhook}")
        | ("POST", "/api/v1/orgs/{org}/webhooks/{webhook}/rotate-secret")
        | ("GET", "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries")
        | ("POST", "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries/{delivery}/redeliver") => {
            MANAGERS
        }
        other => panic!("{other:?} is missing from the permission matrix"),
    }
}

pub(crate) struct World {
    pub(crate) owner: Account,
    pub(crate) org: String,
    pub(crate) caller_token: String,
}

async fn world(app: &TestApp, caller: Caller) -> World {
    let owner = app.register(&email("perm-owner")).await;
    let org = owner.org_id.clone();
    let auditor = app
        .post(
            &format!("/api/v1/orgs/{org}/roles"),
            &owner.token,
            json!({ "name": "auditor", "permissions": ["bots:read", "audit:read"] }),
        )
        .await;
    assert_eq!(auditor.status, StatusCode::CREATED, "{}", auditor.text);
    let caller_token = match caller {
        Owner => owner.token.clone(),
        BotKey => app
            .post(
                &format!("/api/v1/orgs/{org}/api-keys"),
                &owner.token,
                json!({ "name": "bots", "permissions": ["bots:read", "bots:write"] }),
            )
            .await
            .json["key"]
            .as_str()
            .unwrap()
            .to_owned(),
        role => {
            let name = format!("{role:?}").to_lowercase();
            app.add_member(&owner, &org, &email(&name), &name)
                .await
                .token
        }
    };
    World {
        owner,
        org,
        caller_token,
    }
}

#[tokio::test]
async fn roles_and_key_scopes_follow_the_matrix() {
    let app = TestApp::spawn().await;
    let routes = org_routes(&app).await;
    for caller in CALLERS {
        let w = world(&app, caller).await;
        for (method, path) in &routes {
            let (url, body) = target(&app, &w, method.as_str(), path).await;
            let reply = app
                .call(method.clone(), &url, Some(&w.caller_token), body)
                .await;
            let what = format!("{caller:?} {method} {path}");
            if allowed(method.as_str(), path).contains(&caller) {
                assert!(
                    reply.status.is_success(),
                    "{what} should be allowed: {} {}",
                    reply.status,
                    reply.text
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{what} should be forbidden: {}",
                    reply.text
                );
            }
        }
    }
}

#[tokio::test]
async fn denied_writes_change_nothing() {
    let app = TestApp::spawn().await;
    let w = world(&app, Viewer).await;
    let bots = format!("/api/v1/orgs/{}/bots", w.org);
    let denied = app
        .post(&bots, &w.caller_token, json!({ "name": "sneaky" }))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.json["code"], "forbidden");
    let listed = app.get(&bots, &w.owner.token).await;
    assert!(listed.json["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn no_one_grants_what_they_do_not_hold() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("esc-owner")).await;
    let org = owner.org_id.clone();
    let admin = app
        .add_member(&owner, &org, &email("esc-admin"), "admin")
        .await;

    // An admin cannot make anyone an owner, nor demote or remove an owner.
    let newcomer = app.register(&email("esc-new")).await;
    let grant = app
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            &admin.token,
            json!({ "email": newcomer.email, "role": "owner" }),
        )
        .await;
    assert_eq!(grant.status, StatusCode::FORBIDDEN, "{}", grant.text);
    let owner_path = format!("/api/v1/orgs/{org}/members/{}", owner.user_id);
    let demote = app
        .call(
            Method::PATCH,
            &owner_path,
            Some(&admin.token),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(demote.status, StatusCode::FORBIDDEN);
    let remove = app
        .call(Method::DELETE, &owner_path, Some(&admin.token), None)
        .await;
    assert_eq!(remove.status, StatusCode::FORBIDDEN);

    // An admin cannot create a role or a key holding `org:delete`.
    let role = app
        .post(
            &format!("/api/v1/orgs/{org}/roles"),
            &admin.token,
            json!({ "name": "superuser", "permissions": ["org:delete"] }),
        )
        .await;
    assert_eq!(role.status, StatusCode::FORBIDDEN);
    let key = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            &admin.token,
            json!({ "name": "k", "permissions": ["org:delete"] }),
        )
        .await;
    assert_eq!(key.status, StatusCode::FORBIDDEN);

    // A key that may manage keys still cannot mint a broader key.
    let manager_key = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            &owner.token,
            json!({ "name": "mgr", "permissions": ["api_keys:manage", "bots:read"] }),
        )
        .await
        .json["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let broader = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            &manager_key,
            json!({ "name": "wider", "permissions": ["bots:write"] }),
        )
        .await;
    assert_eq!(broader.status, StatusCode::FORBIDDEN);
    let narrower = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            &manager_key,
            json!({ "name": "narrow", "permissions": ["bots:read"] }),
        )
        .await;
    assert_eq!(narrower.status, StatusCode::CREATED);
}

#[tokio::test]
async fn api_keys_are_shown_once_stored_hashed_and_revocable() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("keys")).await;
    let org = owner.org_id.clone();
    let created = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            &owner.token,
            json!({ "name": "ci", "permissions": ["bots:read"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let key = created.json["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("bb_"));
    let listed = app
        .get(&format!("/api/v1/orgs/{org}/api-keys"), &owner.token)
        .await;
    assert!(!listed.text.contains(&key), "the secret is never listed");
    assert!(key.starts_with(listed.json[0]["prefix"].as_str().unwrap()));

    // Usable, scoped, and API keys are not users.
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{org}/bots"), &key)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/me", &key).await.status,
        StatusCode::FORBIDDEN
    );
    let orgs = app.get("/api/v1/orgs", &key).await;
    assert_eq!(orgs.json.as_array().unwrap().len(), 1);
    assert_eq!(orgs.json[0]["role"], "api_key");
    let create_org = app.post("/api/v1/orgs", &key, json!({ "name": "x" })).await;
    assert_eq!(create_org.status, StatusCode::FORBIDDEN);

    let id = created.json["api_key"]["id"].as_str().unwrap();
    let revoke = app
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/{org}/api-keys/{id}"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{org}/bots"), &key)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn expired_api_keys_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("expiry")).await;
    let org = owner.org_id.clone();
    let mut keys = Vec::new();
    for name in ["fresh", "stale"] {
        let created = app
            .post(
                &format!("/api/v1/orgs/{org}/api-keys"),
                &owner.token,
                json!({ "name": name, "permissions": ["bots:read"], "expires_in_days": 1 }),
            )
            .await;
        keys.push(created.json["key"].as_str().unwrap().to_owned());
    }
    // Move the stale key's expiry into the past directly in the database.
    app.execute_sql(
        "UPDATE api_keys SET expires_at = 0 WHERE name = 'stale'",
        &[],
    )
    .await;
    let bots = format!("/api/v1/orgs/{org}/bots");
    assert_eq!(app.get(&bots, &keys[0]).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&bots, &keys[1]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn access_changes_take_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("fx-owner")).await;
    let org = owner.org_id.clone();
    let member = app
        .add_member(&owner, &org, &email("fx-member"), "viewer")
        .await;
    let bots = format!("/api/v1/orgs/{org}/bots");
    let member_path = format!("/api/v1/orgs/{org}/members/{}", member.user_id);

    assert_eq!(app.get(&bots, &member.token).await.status, StatusCode::OK);
    let write = app.post(&bots, &member.token, json!({ "name": "x" })).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);

    // Promotion is effective at once...
    app.call(
        Method::PATCH,
        &member_path,
        Some(&owner.token),
        Some(json!({ "role": "editor" })),
    )
    .await;
    let write = app.post(&bots, &member.token, json!({ "name": "x" })).await;
    assert_eq!(write.status, StatusCode::CREATED);

    // ...and so are a custom role's changed permissions and a removal.
    let role = app
        .post(
            &format!("/api/v1/orgs/{org}/roles"),
            &owner.token,
            json!({ "name": "reader", "permissions": ["bots:read"] }),
        )
        .await;
    let role_id = role.json["id"].as_str().unwrap().to_owned();
    app.call(
        Method::PATCH,
        &member_path,
        Some(&owner.token),
        Some(json!({ "role": "reader" })),
    )
    .await;
    assert_eq!(app.get(&bots, &member.token).await.status, StatusCode::OK);
    app.call(
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/roles/{role_id}"),
        Some(&owner.token),
        Some(json!({ "permissions": [] })),
    )
    .await;
    assert_eq!(
        app.get(&bots, &member.token).await.status,
        StatusCode::FORBIDDEN
    );
    app.call(Method::DELETE, &member_path, Some(&owner.token), None)
        .await;
    assert_eq!(
        app.get(&bots, &member.token).await.status,
        StatusCode::FORBIDDEN
    );
}
