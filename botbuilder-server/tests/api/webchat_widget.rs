//! What the embeddable widget needs from the server: the script itself, a bot's public
//! appearance, and a refusal for pages on origins the bot does not allow.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Account, Reply, TestApp, email, visitor_token};

/// `PATCH`es the bot's `settings` with `settings`.
async fn set_settings(
    app: &TestApp,
    owner: &Account,
    bot: &str,
    settings: serde_json::Value,
) -> Reply {
    let path = format!("/api/v1/orgs/{}/bots/{bot}", owner.org_id);
    app.call(
        Method::PATCH,
        &path,
        Some(&owner.token),
        Some(json!({ "settings": settings })),
    )
    .await
}

/// The bot's public appearance, as the widget reads it.
async fn config(app: &TestApp, bot: &str) -> Reply {
    let path = format!("/api/v1/webchat/{bot}/config");
    app.call(Method::GET, &path, None, None).await
}

#[tokio::test]
async fn the_widget_script_is_served_with_a_validator() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let script = res.text().await.unwrap();
    assert!(script.contains("BotBuilderWidget"), "the built widget");

    let again = app
        .http
        .get(app.url("/widget.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    let weak = app
        .http
        .get(app.url("/widget.js"))
        .header("if-none-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::NOT_MODIFIED, "weak comparison");

    let missing = app
        .http
        .get(app.url("/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bot_appearance_is_set_checked_and_read_by_anyone() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("widget-look")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Shop helper").await;

    let plain = config(&app, &bot).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.text);
    assert_eq!(
        plain.json,
        json!({
            "bot_name": "Shop helper", "title": null, "color": null, "avatar_url": null,
            "greeting": null, "placeholder": null, "position": "right", "language": null
        })
    );

    let appearance = json!({
        "title": "Ask the shop", "color": "#0f766e", "avatar_url": "https://cdn.example/bot.png",
        "greeting": "Hi! Ask me about **orders**.", "placeholder": "Your question…",
        "position": "left", "language": "fr"
    });
    let patched = set_settings(&app, &owner, &bot, json!({ "appearance": appearance })).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let configured = config(&app, &bot).await;
    let mut expected = appearance.clone();
    expected["bot_name"] = json!("Shop helper");
    assert_eq!(configured.json, expected);

    for (body, field) in [
        (json!({ "color": "teal" }), "settings.appearance.color"),
        (
            json!({ "avatar_url": "javascript:alert(1)" }),
            "settings.appearance.avatar_url",
        ),
        (
            json!({ "language": "english" }),
            "settings.appearance.language",
        ),
    ] {
        let refused = set_settings(&app, &owner, &bot, json!({ "appearance": body })).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
        assert!(refused.text.contains(field), "{field}: {}", refused.text);
    }
    let misspelt = set_settings(
        &app,
        &owner,
        &bot,
        json!({ "appearance": { "colour": "#fff" } }),
    )
    .await;
    assert!(misspelt.status.is_client_error(), "{}", misspelt.text);
    assert!(misspelt.text.contains("colour"), "{}", misspelt.text);
    let unchanged = config(&app, &bot).await;
    assert_eq!(unchanged.json, expected, "a refused change loses nothing");

    let unknown = app
        .call(
            Method::GET,
            &format!("/api/v1/webchat/{}/config", uuid::Uuid::now_v7()),
            None,
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_on_origins_the_bot_does_not_allow_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.register(&email("widget-origin")).await;
    let org = owner.org_id.clone();
    let bot = app.create_bot(&owner, &org, "Shop").await;
    set_settings(
        &app,
        &owner,
        &bot,
        json!({ "allowed_origins": ["https://shop.example"] }),
    )
    .await;
    let visitor = visitor_token(&app, &bot).await;
    let send = |origin: Option<&str>| {
        let mut request = app
            .http
            .post(app.url(&format!("/api/v1/webchat/{bot}/messages")))
            .bearer_auth(&visitor)
            .json(&json!({ "text": "hi" }));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };

    let refused = send(Some("https://evil.example")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("https://evil.example"),
        "{problem}"
    );
    for path in ["sessions", "config"] {
        let method = if path == "sessions" {
            Method::POST
        } else {
            Method::GET
        };
        let res = app
            .http
            .request(method, app.url(&format!("/api/v1/webchat/{bot}/{path}")))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }

    assert_eq!(
        send(Some("https://shop.example")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        send(None).await.unwrap().status(),
        StatusCode::OK,
        "servers send no Origin"
    );
    let own = app.url("").trim_end_matches('/').to_owned();
    assert_eq!(
        send(Some(&own)).await.unwrap().status(),
        StatusCode::OK,
        "the server's own pages (the console's preview) may"
    );

    // Only the stored messages of allowed requests exist.
    let history = app
        .http
        .get(app.url(&format!("/api/v1/webchat/{bot}/messages")))
        .bearer_auth(&visitor)
        .send()
        .await
        .unwrap();
    let messages: serde_json::Value = history.json().await.unwrap();
    let inbound = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "inbound")
        .count();
    assert_eq!(inbound, 3);
}
