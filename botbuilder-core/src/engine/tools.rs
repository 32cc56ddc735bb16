//! Running the HTTP tools a model calls: arguments checked against the tool's JSON Schema,
//! the request built from the tool's template, sent through the outbound guard, and the
//! response handed back to the model (status and body, cut at [`TOOL_RESULT_BYTES`]).
//!
//! Header values may name the organization's secrets (`{{secrets.NAME}}`, see
//! [`crate::credentials::named`]): each is opened for the call and sent only when the URL's
//! origin is the one the secret is tied to. A model's arguments are inserted as text, never
//! read as placeholders, so no argument can ask for a secret.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::credentials::SecretSource;
use crate::credentials::named::{SECRET_PLACEHOLDER_PREFIX, origin_of, secret_placeholders};
use crate::domain::HttpTool;
use crate::fetch::{FetchRequest, Fetcher, HEADERS_KEPT_ACROSS_ORIGINS};
use crate::id::OrgId;
use crate::llm::ToolCall;

/// What tool calls are made with.
#[derive(Clone, Copy)]
pub(super) struct ToolContext<'a> {
    /// The organization whose bot calls.
    pub org: OrgId,
    /// Outbound HTTP (without it, calls fail).
    pub fetcher: Option<&'a dyn Fetcher>,
    /// The organization's secrets (without them, a header naming one fails the call).
    pub secrets: Option<&'a dyn SecretSource>,
}

/// Most bytes of a tool's response the model is shown.
pub const TOOL_RESULT_BYTES: usize = 8 * 1024;
/// What an argument is percent-encoded with in a URL: everything but RFC 3986 unreserved
/// characters.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Largest tool response read.
const TOOL_RESPONSE_CAP: usize = 256 * 1024;

/// What happened to one call, as recorded on the reply and sent to listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRun {
    /// The tool's name.
    pub name: String,
    /// The arguments the model gave (`Null` if they were not JSON).
    pub arguments: Value,
    /// `ok` (a 2xx answer), `http_error` (another status), `failed` (no answer: refused
    /// address, timeout), `invalid_arguments` or `unknown_tool`.
    pub status: &'static str,
    /// The HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl ToolRun {
    /// The record stored on the reply.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "arguments": self.arguments,
            "status": self.status,
            "http_status": self.http_status,
            "duration_ms": self.duration_ms,
        })
    }
}

/// `value` as it goes into a URL or header.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Opens the secrets `tool`'s headers name, for a call to `url`; the error is what the model
/// is told (never a value).
async fn open_secrets(
    tool: &HttpTool,
    url: &str,
    context: ToolContext<'_>,
) -> Result<HashMap<String, String>, String> {
    let mut opened = HashMap::new();
    for header in &tool.headers {
        let names = secret_placeholders(&header.value);
        let lower = header.name.to_ascii_lowercase();
        if !names.is_empty() && HEADERS_KEPT_ACROSS_ORIGINS.contains(&lower.as_str()) {
            // Refused when the bot is saved; checked again here, as this is what keeps a
            // redirect from carrying the secret to another origin.
            return Err(format!(
                "a secret cannot go in `{}`, which follows redirects",
                header.name
            ));
        }
        for name in names {
            if opened.contains_key(name) {
                continue;
            }
            let Some(source) = context.secrets else {
                return Err("secrets are not available to this engine".to_owned());
            };
            let secret = match source.secret(context.org, name).await {
                Ok(Some(secret)) => secret,
                Ok(None) => return Err(format!("the organization has no secret `{name}`")),
                Err(e) => {
                    tracing::warn!(org = %context.org, secret = name,
                        "a tool's secret cannot be opened: {}", crate::error_chain(&e));
                    return Err(format!("the secret `{name}` cannot be opened"));
                }
            };
            if origin_of(url).ok().as_deref() != Some(secret.origin.as_str()) {
                return Err(format!(
                    "the secret `{name}` may only be sent to {}",
                    secret.origin
                ));
            }
            opened.insert(name.to_owned(), secret.value);
        }
    }
    Ok(opened)
}

/// `template` with each `{{name}}` replaced by `encode(argument)`; returns the text and the
/// names it used.
fn render(template: &str, args: &Map<String, Value>, encode: bool) -> (String, Vec<String>) {
    render_with(template, args, &HashMap::new(), encode)
}

/// [`render`], with `{{secrets.NAME}}` replaced by `secrets[NAME]`.
fn render_with(
    template: &str,
    args: &Map<String, Value>,
    secrets: &HashMap<String, String>,
    encode: bool,
) -> (String, Vec<String>) {
    let mut out = String::with_capacity(template.len());
    let mut used = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + end].trim();
        let value = match name.strip_prefix(SECRET_PLACEHOLDER_PREFIX) {
            Some(secret) => secrets.get(secret).cloned().unwrap_or_default(),
            None => args.get(name).map(scalar).unwrap_or_default(),
        };
        if encode {
            out.extend(percent_encoding::utf8_percent_encode(&value, URL_COMPONENT));
        } else {
            out.push_str(&value);
        }
        used.push(name.to_owned());
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    (out, used)
}

/// Runs `call` with `tools`; returns the record and the text for the model.
pub(super) async fn run(
    tools: &[HttpTool],
    call: &ToolCall,
    context: ToolContext<'_>,
) -> (ToolRun, String) {
    let started = Instant::now();
    let arguments: Value = if call.arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&call.arguments).unwrap_or(Value::Null)
    };
    let record = |status, http_status| ToolRun {
        name: call.name.clone(),
        arguments: arguments.clone(),
        status,
        http_status,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let Some(tool) = tools.iter().find(|t| t.name == call.name) else {
        let known: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        let message =
            json!({ "error": format!("no tool named `{}`; the tools are {known:?}", call.name) });
        return (record("unknown_tool", None), message.to_string());
    };
    let Value::Object(args) = &arguments else {
        let message = json!({ "error": "the arguments must be a JSON object" });
        return (record("invalid_arguments", None), message.to_string());
    };
    match jsonschema::validator_for(&tool.parameters) {
        Ok(validator) => {
            let problems: Vec<String> = validator
                .iter_errors(&arguments)
                .take(5)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            if !problems.is_empty() {
                let message = json!({ "error": "invalid arguments", "problems": problems });
                return (record("invalid_arguments", None), message.to_string());
            }
        }
        Err(e) => {
            // Checked when the bot was saved; a schema that stopped compiling is reported.
            let message = json!({ "error": format!("the tool's schema does not compile: {e}") });
            return (record("failed", None), message.to_string());
        }
    }
    let Some(fetcher) = context.fetcher else {
        let message = json!({ "error": "outbound HTTP is not configured" });
        return (record("failed", None), message.to_string());
    };
    let (mut url, used) = render(&tool.url, args, true);
    let rest: Map<String, Value> = args
        .iter()
        .filter(|(k, _)| !used.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let secrets = match open_secrets(tool, &url, context).await {
        Ok(secrets) => secrets,
        Err(error) => {
            let message = json!({ "error": error });
            return (record("failed", None), message.to_string());
        }
    };
    let mut headers: Vec<(String, String)> = tool
        .headers
        .iter()
        .map(|h| {
            (
                h.name.clone(),
                render_with(&h.value, args, &secrets, false).0,
            )
        })
        .collect();
    let method = tool.method.to_uppercase();
    let body = if matches!(method.as_str(), "GET" | "DELETE") {
        if !rest.is_empty() {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(rest.iter().map(|(k, v)| (k, scalar(v))))
                .finish();
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&query);
        }
        None
    } else {
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        Some(Value::Object(rest).to_string())
    };
    let request = FetchRequest {
        method,
        url,
        headers,
        body,
        timeout: Duration::from_secs(u64::from(tool.timeout_secs)),
        max_body_bytes: Some(TOOL_RESPONSE_CAP),
        follow_redirects: true,
        truncate_body: false,
    };
    match fetcher.fetch(request).await {
        Ok(response) => {
            let mut text = response.text();
            if text.len() > TOOL_RESULT_BYTES {
                let mut cut = TOOL_RESULT_BYTES;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push_str(" …(cut)");
            }
            let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            let status = if (200..300).contains(&response.status) {
                "ok"
            } else {
                "http_error"
            };
            let message = json!({ "status": response.status, "body": body });
            (record(status, Some(response.status)), message.to_string())
        }
        Err(e) => {
            let message = json!({ "error": e.to_string() });
            (record("failed", None), message.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_arguments_encoded_in_urls_and_plain_in_headers() {
        let args: Map<String, Value> =
            serde_json::from_value(json!({ "order": "A 1/2", "n": 3, "token": "t&k" })).unwrap();
        let (url, used) = render("https://x.example/o/{{order}}?n={{ n }}", &args, true);
        assert_eq!(url, "https://x.example/o/A%201%2F2?n=3");
        assert_eq!(used, ["order", "n"]);
        assert_eq!(render("Bearer {{token}}", &args, false).0, "Bearer t&k");
        assert_eq!(render("{{missing}}x{{", &args, true).0, "x{{");
    }
}
