//! The rules of a bot's tools.

use crate::credentials::named::{secret_placeholders, valid_secret_name};
use crate::domain::HttpTool;
use crate::fetch::{HEADERS_KEPT_ACROSS_ORIGINS, RESERVED_HEADERS};

use super::{Issues, text};

/// Most tools one bot may have.
pub const MAX_TOOLS: usize = 20;
/// Longest tool description, in characters.
pub const MAX_TOOL_DESCRIPTION_CHARS: usize = 1_024;
/// Most headers per tool.
pub const MAX_TOOL_HEADERS: usize = 20;
/// Range of [`HttpTool::timeout_secs`].
pub const TOOL_TIMEOUT_SECS: std::ops::RangeInclusive<u32> = 1..=30;
/// Range of `max_tool_steps`.
pub const MAX_TOOL_STEPS: std::ops::RangeInclusive<u32> = 0..=10;
/// The methods a tool may use.
pub const TOOL_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn tool_name(name: &str) -> Result<(), String> {
    if (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err("use 1 to 64 letters, digits, `_` and `-`".to_owned())
    }
}

/// Whether `schema` is a JSON Schema of an object that compiles.
fn parameters(schema: &serde_json::Value) -> Result<(), String> {
    if schema.get("type").and_then(serde_json::Value::as_str) != Some("object") {
        return Err("must be a JSON Schema with \"type\": \"object\"".to_owned());
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| format!("is not a valid JSON Schema: {e}"))
}

fn url_template(url: &str) -> Result<(), String> {
    // Placeholders become plain words for the check.
    let probe = url.replace("{{", "x").replace("}}", "x");
    match url::Url::parse(&probe) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            if url.starts_with("http://{{") || url.starts_with("https://{{") {
                Err("the host must be fixed, not an argument".to_owned())
            } else {
                Ok(())
            }
        }
        _ => Err("must be an absolute http or https URL".to_owned()),
    }
}

/// The tools of a bot and its step bound, under `prefix` (`ai_config`).
pub(super) fn check(tools: &[HttpTool], max_steps: u32, issues: &mut Issues) {
    if tools.len() > MAX_TOOLS {
        issues.add("tools", format!("at most {MAX_TOOLS} tools"));
    }
    if !MAX_TOOL_STEPS.contains(&max_steps) {
        issues.add(
            "max_tool_steps",
            format!(
                "must be between {} and {}",
                MAX_TOOL_STEPS.start(),
                MAX_TOOL_STEPS.end()
            ),
        );
    }
    for (i, tool) in tools.iter().enumerate() {
        let at = |field: &str| format!("tools[{i}].{field}");
        issues.check(&at("name"), tool_name(&tool.name));
        if tools[..i].iter().any(|t| t.name == tool.name) {
            issues.add(&at("name"), "two tools have this name");
        }
        issues.check(
            &at("description"),
            text(&tool.description, 1, MAX_TOOL_DESCRIPTION_CHARS),
        );
        issues.check(&at("parameters"), parameters(&tool.parameters));
        if !TOOL_METHODS.contains(&tool.method.as_str()) {
            issues.add(
                &at("method"),
                format!("expected one of {}", TOOL_METHODS.join(", ")),
            );
        }
        issues.check(&at("url"), url_template(&tool.url));
        if !secret_placeholders(&tool.url).is_empty() {
            issues.add(
                &at("url"),
                "secrets go in headers only (a URL ends up in logs)",
            );
        }
        if tool.headers.len() > MAX_TOOL_HEADERS {
            issues.add(
                &at("headers"),
                format!("at most {MAX_TOOL_HEADERS} headers"),
            );
        }
        for (h, header) in tool.headers.iter().enumerate() {
            let lower = header.name.to_ascii_lowercase();
            if reqwest_header_name(&header.name).is_err() {
                issues.add(
                    &at(&format!("headers[{h}].name")),
                    "not a valid header name",
                );
            } else if RESERVED_HEADERS.contains(&lower.as_str()) {
                issues.add(
                    &at(&format!("headers[{h}].name")),
                    "set by the connection itself",
                );
            }
            if header.value.chars().any(|c| c.is_control()) {
                issues.add(
                    &at(&format!("headers[{h}].value")),
                    "must not contain control characters",
                );
            }
            let secrets = secret_placeholders(&header.value);
            if !secrets.is_empty() && HEADERS_KEPT_ACROSS_ORIGINS.contains(&lower.as_str()) {
                issues.add(
                    &at(&format!("headers[{h}].value")),
                    "a secret cannot go in a header that follows redirects to other origins",
                );
            } else if let Some(bad) = secrets.into_iter().find(|name| !valid_secret_name(name)) {
                issues.add(
                    &at(&format!("headers[{h}].value")),
                    format!(
                        "`{{{{secrets.{bad}}}}}` does not name a secret (letters, digits, `_`)"
                    ),
                );
            }
        }
        if !TOOL_TIMEOUT_SECS.contains(&tool.timeout_secs) {
            issues.add(
                &at("timeout_secs"),
                format!(
                    "must be between {} and {}",
                    TOOL_TIMEOUT_SECS.start(),
                    TOOL_TIMEOUT_SECS.end()
                ),
            );
        }
    }
}

/// An HTTP header name (RFC 9110 token characters).
fn reqwest_header_name(name: &str) -> Result<(), ()> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.is_empty() && name.bytes().all(token) {
        Ok(())
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ToolHeader;
    use serde_json::json;

    fn tool() -> HttpTool {
        HttpTool {
            name: "order_status".into(),
            description: "Where an order is".into(),
            parameters: json!({ "type": "object", "properties": { "order": { "type": "string" } },
                "required": ["order"] }),
            method: "GET".into(),
            url: "https://shop.example/orders/{{order}}".into(),
            headers: vec![],
            timeout_secs: 10,
        }
    }

    fn fields(tools: &[HttpTool], steps: u32) -> Vec<String> {
        let mut issues = Issues::under("ai_config");
        check(tools, steps, &mut issues);
        issues.into_vec().into_iter().map(|i| i.field).collect()
    }

    #[test]
    fn tools_are_checked_field_by_field() {
        assert!(fields(&[tool()], 4).is_empty());
        let bad = HttpTool {
            name: "has space".into(),
            description: String::new(),
            parameters: json!({ "type": "string" }),
            method: "TRACE".into(),
            url: "https://{{host}}/x".into(),
            headers: vec![ToolHeader {
                name: "bad header".into(),
                value: "a\nb".into(),
            }],
            timeout_secs: 0,
        };
        assert_eq!(
            fields(&[tool(), tool(), bad], 11),
            [
                "ai_config.max_tool_steps",
                "ai_config.tools[1].name",
                "ai_config.tools[2].name",
                "ai_config.tools[2].description",
                "ai_config.tools[2].parameters",
                "ai_config.tools[2].method",
                "ai_config.tools[2].url",
                "ai_config.tools[2].headers[0].name",
                "ai_config.tools[2].headers[0].value",
                "ai_config.tools[2].timeout_secs",
            ]
        );
        let mut broken = tool();
        broken.parameters = json!({ "type": "object", "properties": { "n": { "type": 12 } } });
        assert_eq!(fields(&[broken], 4), ["ai_config.tools[0].parameters"]);
        let mut local = tool();
        local.url = "ftp://files.example/x".into();
        assert_eq!(fields(&[local], 4), ["ai_config.tools[0].url"]);
    }
}
