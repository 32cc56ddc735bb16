//! The OpenAPI document is the contract: every route is called in every way the API tests
//! know (anonymous, authenticated with real ids, with an id that is not one, with a body of
//! the wrong type or broken JSON, asking for server-sent events), and every status and media
//! type it answers must be documented for that operation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Reply, TestApp};
use crate::isolation::{body_for, fill, victim};

/// The operations of the document: (method, path, has a request body), destructive ones last.
fn operations(spec: &Value) -> Vec<(Method, String, bool)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (verb, operation) in item.as_object().expect("path item") {
            if let Ok(method) = verb.to_uppercase().parse::<Method>() {
                ops.push((method, path.clone(), operation.get("requestBody").is_some()));
            }
        }
    }
    ops.sort_by_key(|(method, path, _)| {
        (
            *method == Method::DELETE && path == "/api/v1/orgs/{org}",
            *method == Method::DELETE,
            path.ends_with("/logout"),
            path.clone(),
            method.to_string(),
        )
    });
    ops
}

/// What is wrong with `reply` for `method path` per the document, if anything.
fn undocumented(
    spec: &Value,
    method: &Method,
    path: &str,
    case: &str,
    reply: &Reply,
) -> Option<String> {
    let operation = &spec["paths"][path][method.as_str().to_lowercase()];
    let status = reply.status.as_u16().to_string();
    let declared = operation["responses"]
        .get(&status)
        .or_else(|| operation["responses"].get("default"));
    let Some(declared) = declared else {
        return Some(format!(
            "{method} {path} ({case}): status {status} is not documented: {}",
            reply.text
        ));
    };
    if reply.text.is_empty() {
        return None;
    }
    let media = reply
        .content_type()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let documented = declared["content"]
        .as_object()
        .is_some_and(|content| content.contains_key(&media));
    (!documented)
        .then(|| format!("{method} {path} ({case}): {status} as `{media}` is not documented"))
}

async fn send(
    app: &TestApp,
    method: &Method,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
    accept: Option<&str>,
) -> Reply {
    let mut request = app.http.request(method.clone(), app.url(url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some((content_type, body)) = body {
        request = request.header("content-type", content_type).body(body);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let mut response = request.send().await.expect("request");
    let streams = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !streams {
        return TestApp::reply(response).await;
    }
    // An event stream may stay open (the visitor event stream): read what comes within a
    // second of quiet.
    let (status, headers) = (response.status(), response.headers().clone());
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(std::time::Duration::from_secs(1), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    Reply {
        status,
        headers,
        text,
        json: serde_json::Value::Null,
    }
}

#[tokio::test]
async fn every_status_and_media_type_a_route_answers_is_documented() {
    let app = TestApp::spawn().await;
    let spec = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json;
    let owner = victim(&app).await;
    let session = app
        .call(
            Method::POST,
            &format!("/api/v1/webchat/{}/sessions", owner.ids["bot"]),
            None,
            None,
        )
        .await;
    let visitor = session.json["session_token"].as_str().unwrap().to_owned();
    let mut problems = Vec::new();
    let ops = operations(&spec);
    assert!(ops.len() > 60, "{}", ops.len());
    for (method, path, has_body) in ops {
        let url = fill(&path, &owner.org, &owner.ids);
        let token = if path.starts_with("/api/v1/webchat/") {
            visitor.as_str()
        } else {
            owner.account.token.as_str()
        };
        let valid = body_for(&method, &path)
            .or_else(|| has_body.then(|| json!({})))
            .map(|b| ("application/json", b.to_string()));
        let mut cases: Vec<(&str, Reply)> = vec![
            (
                "anonymous",
                send(&app, &method, &url, None, valid.clone(), None).await,
            ),
            (
                "authenticated",
                send(&app, &method, &url, Some(token), valid.clone(), None).await,
            ),
        ];
        if path.contains('{') {
            let mut bad = path.replace("{org}", &owner.org);
            for name in owner.ids.keys() {
                bad = bad.replace(&format!("{{{name}}}"), "not-an-id");
            }
            cases.push((
                "bad id",
                send(&app, &method, &bad, Some(token), valid.clone(), None).await,
            ));
        }
        if has_body {
            let text = Some(("text/plain", "hello".to_owned()));
            cases.push((
                "text body",
                send(&app, &method, &url, Some(token), text, None).await,
            ));
            let broken = Some(("application/json", "{\"oops\":".to_owned()));
            cases.push((
                "broken JSON",
                send(&app, &method, &url, Some(token), broken, None).await,
            ));
        }
        if method == Method::POST && path.ends_with("/messages") {
            let stream = send(
                &app,
                &method,
                &url,
                Some(token),
                valid,
                Some("text/event-stream"),
            )
            .await;
            cases.push(("event stream", stream));
        }
        for (case, reply) in &cases {
            problems.extend(undocumented(&spec, &method, &path, case, reply));
            if !reply.status.is_success() && !reply.text.is_empty() {
                assert_eq!(
                    reply.content_type(),
                    "application/problem+json",
                    "{method} {path} ({case}): {}",
                    reply.text
                );
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} undocumented:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
