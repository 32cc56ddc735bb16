//! The real binary with provider keys and a tool secret: no key ever appears in a response
//! body or a log line (at debug level), and rotating the master key keeps an organization's
//! stored key and secret working.

mod support;

use botbuilder_providers::testing::{
    AnthropicWire, FakeServer, OpenAiWire, ScriptedAnswer, ScriptedCall, Step, Wire,
};
use serde_json::{Value, json};
use support::{botbuilder, serve};

const SERVER_KEY: &str = "sk-ant-server-canary-51f0a2";
const ORG_KEY: &str = "sk-org-canary-9d8e7f6a5b";
const TOOL_SECRET: &str = "shop-tool-canary-3c4d5e6f";

/// Every body the test received, to scan for the keys.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn call(
        &mut self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut req = reqwest::Client::new().request(method, url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{status}: {text}");
        self.0.push(text.clone());
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

fn command(dir: &std::path::Path, fake: &FakeServer) -> std::process::Command {
    let mut cmd = botbuilder(dir);
    cmd.env("BOTBUILDER_BIND", "127.0.0.1:0")
        .env("BOTBUILDER_LOG", "debug")
        .env("BOTBUILDER_FETCH_ALLOW", fake.addr().to_string())
        .env("BOTBUILDER_ANTHROPIC_API_KEY", SERVER_KEY)
        .env("BOTBUILDER_ANTHROPIC_BASE_URL", fake.url());
    cmd
}

async fn ask(seen: &mut Seen, base: &str, org: &str, bot: &str, token: &str, text: &str) -> Value {
    let conversations = format!("{base}/api/v1/orgs/{org}/bots/{bot}/conversations");
    let session = seen
        .call(
            reqwest::Method::POST,
            conversations.clone(),
            Some(token),
            Some(json!({})),
        )
        .await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    seen.call(
        reqwest::Method::POST,
        format!("{conversations}/{session}/messages"),
        Some(token),
        Some(json!({ "text": text })),
    )
    .await["replies"][0]
        .clone()
}

#[tokio::test]
async fn keys_never_show_and_a_rotated_master_key_keeps_stored_keys_working() {
    use reqwest::Method;
    let fake = FakeServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Seen::default();
    let served = serve(command(dir.path(), &fake));
    let base = served.url.clone();

    let account = seen
        .call(
            Method::POST,
            format!("{base}/api/v1/auth/register"),
            None,
            Some(
                json!({ "email": "keys@example.com", "password": "correct horse battery staple",
                "name": "K", "organization_name": "Keys" }),
            ),
        )
        .await;
    let token = account["access_token"].as_str().unwrap().to_owned();
    let org = account["organization"]["id"].as_str().unwrap().to_owned();
    let bots = format!("{base}/api/v1/orgs/{org}/bots");
    let claude = seen
        .call(
            Method::POST,
            bots.clone(),
            Some(&token),
            Some(json!({ "name": "Claude", "ai_config": { "provider": "anthropic" } })),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = seen
        .call(
            Method::POST,
            bots.clone(),
            Some(&token),
            Some(json!({ "name": "Own", "ai_config": { "provider": "openai-compatible", "model": "m" } })),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    seen.call(
        Method::PUT,
        format!("{base}/api/v1/orgs/{org}/provider-credentials/openai-compatible"),
        Some(&token),
        Some(json!({ "api_key": ORG_KEY, "base_url": format!("{}/v1", fake.url()) })),
    )
    .await;
    // A tool of the same bot sends an organization secret (to the fake, as the shop's API).
    seen.call(
        Method::PUT,
        format!("{base}/api/v1/orgs/{org}/secrets/SHOP_KEY"),
        Some(&token),
        Some(json!({ "value": TOOL_SECRET, "origin": fake.url() })),
    )
    .await;
    seen.call(
        Method::PATCH,
        format!("{bots}/{own}"),
        Some(&token),
        Some(json!({ "ai_config": { "tools": [{
            "name": "stock", "description": "Items in stock",
            "parameters": { "type": "object" }, "method": "GET",
            "url": format!("{}/stock", fake.url()),
            "headers": [{ "name": "authorization", "value": "Bearer {{secrets.SHOP_KEY}}" }]
        }] } })),
    )
    .await;

    // The server's key serves the organization's Anthropic bot...
    fake.push(Step::json(
        200,
        AnthropicWire.answer_json(&ScriptedAnswer::text(&["Hi."], (3, 1))),
    ));
    let reply = ask(&mut seen, &base, &org, &claude, &token, "hello").await;
    assert_eq!(reply["text"], "Hi.");
    assert_eq!(
        fake.requests().last().unwrap().header("x-api-key"),
        Some(SERVER_KEY)
    );
    // ...and a provider quoting it back in a refusal does not get it into the logs.
    fake.push(Step::json(
        401,
        AnthropicWire.error_body(
            "authentication_error",
            &format!("invalid x-api-key: {SERVER_KEY}"),
        ),
    ));
    let refused = ask(&mut seen, &base, &org, &claude, &token, "again").await;
    assert_eq!(refused["payload"]["error"], "provider_unavailable");
    // The organization's own key serves its OpenAI-compatible bot.
    fake.push(Step::json(
        200,
        OpenAiWire.answer_json(&ScriptedAnswer::text(&["Own key."], (3, 2))),
    ));
    let reply = ask(&mut seen, &base, &org, &own, &token, "hello").await;
    assert_eq!(reply["text"], "Own key.");
    let expected = format!("Bearer {ORG_KEY}");
    assert_eq!(
        fake.requests().last().unwrap().header("authorization"),
        Some(expected.as_str())
    );
    seen.call(
        Method::GET,
        format!("{base}/api/v1/orgs/{org}/provider-credentials"),
        Some(&token),
        None,
    )
    .await;
    seen.call(
        Method::GET,
        format!("{base}/api/v1/orgs/{org}/audit-log"),
        Some(&token),
        None,
    )
    .await;
    let (status, first_log) = served.terminate();
    assert!(status.success(), "{first_log}");

    // Rotate the master key (kept in the development secrets file here).
    let secrets_before =
        std::fs::read_to_string(dir.path().join("botbuilder-secrets.toml")).unwrap();
    let rotated = botbuilder(dir.path())
        .args(["admin", "rotate-master-key"])
        .output()
        .unwrap();
    let rotate_out = String::from_utf8_lossy(&rotated.stdout).into_owned()
        + &String::from_utf8_lossy(&rotated.stderr);
    assert!(rotated.status.success(), "{rotate_out}");
    assert!(
        rotate_out.contains("re-encrypted 2 secret(s)"),
        "{rotate_out}"
    );
    let secrets_after =
        std::fs::read_to_string(dir.path().join("botbuilder-secrets.toml")).unwrap();
    assert_ne!(
        secrets_before, secrets_after,
        "the new key is in the secrets file"
    );

    // After a restart on the new key, the stored key still opens and works.
    let served = serve(command(dir.path(), &fake));
    let base = served.url.clone();
    fake.push(Step::json(
        200,
        OpenAiWire.answer_json(&ScriptedAnswer::text(&["Still."], (3, 1))),
    ));
    let reply = ask(&mut seen, &base, &org, &own, &token, "still there?").await;
    assert_eq!(reply["text"], "Still.");
    assert_eq!(
        fake.requests().last().unwrap().header("authorization"),
        Some(expected.as_str())
    );
    // The tool secret opens too, and goes to the tool only.
    let calling = ScriptedAnswer {
        text: vec![],
        calls: vec![ScriptedCall {
            id: "call_1".into(),
            name: "stock".into(),
            argument_pieces: vec!["{}".into()],
        }],
        usage: (3, 1),
    };
    fake.push(Step::json(200, OpenAiWire.answer_json(&calling)));
    fake.push(Step::json(200, r#"{"kettles":4}"#));
    fake.push(Step::json(
        200,
        OpenAiWire.answer_json(&ScriptedAnswer::text(&["Four kettles."], (3, 2))),
    ));
    let reply = ask(&mut seen, &base, &org, &own, &token, "kettles?").await;
    assert_eq!(reply["text"], "Four kettles.");
    let requests = fake.requests();
    let tool_call = &requests[requests.len() - 2];
    assert_eq!(tool_call.path, "/stock");
    let sent = format!("Bearer {TOOL_SECRET}");
    assert_eq!(tool_call.header("authorization"), Some(sent.as_str()));
    let (status, second_log) = served.terminate();
    assert!(status.success(), "{second_log}");
    for request in requests.iter().filter(|r| r.path != "/stock") {
        assert!(
            !request.body.contains(TOOL_SECRET),
            "the model was shown the secret"
        );
    }

    for key in [SERVER_KEY, ORG_KEY, TOOL_SECRET] {
        for body in &seen.0 {
            assert!(!body.contains(key), "a response contains {key}: {body}");
        }
        for line in first_log
            .lines()
            .chain(second_log.lines())
            .chain(rotate_out.lines())
        {
            assert!(!line.contains(key), "a log line contains {key}: {line}");
        }
    }
    assert!(
        first_log.contains("language model call failed"),
        "the refusal itself is logged: {first_log}"
    );
}
