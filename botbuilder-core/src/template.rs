//! `{{variable}}` templates for flow messages, prompts, variables and HTTP requests.
//!
//! Rendering uses minijinja in a sandbox: no file or network access, no auto-escaping, a fuel
//! budget that stops runaway templates, and lenient undefined values — a placeholder naming a
//! variable that does not exist renders empty (and is logged), `{{order.status}}` on a missing
//! `order` too. Rendering never panics.

use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior};

/// Instructions one render may execute before it is stopped.
pub const FUEL: u64 = 50_000;
/// Longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
});

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template error: {0}")]
pub struct TemplateError(pub String);

/// Checks a template's syntax (used when a flow is saved).
pub fn check(template: &str) -> Result<(), TemplateError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError(format!(
            "longer than {MAX_TEMPLATE_BYTES} bytes"
        )));
    }
    ENV.template_from_str(template)
        .map(|_| ())
        .map_err(|e| TemplateError(e.to_string()))
}

/// Renders `template` with `variables` (a JSON object). Unknown variables render empty and are
/// logged; a template that fails (syntax, fuel) renders as an empty string and is logged.
pub fn render(template: &str, variables: &serde_json::Value) -> String {
    if !template.contains("{{") && !template.contains("{%") {
        return template.to_owned();
    }
    let compiled = match ENV.template_from_str(template) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "template does not compile; rendered empty");
            return String::new();
        }
    };
    let undeclared = compiled.undeclared_variables(false);
    for name in &undeclared {
        if variables.get(name.as_str()).is_none() {
            tracing::debug!(variable = %name, "template references an unknown variable");
        }
    }
    match compiled.render(minijinja::value::Serde(variables)) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(error = %e, "template failed to render; rendered empty");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_filled_and_unknowns_render_empty() {
        let vars = json!({ "name": "Ada", "order": { "status": "shipped" }, "n": 3 });
        assert_eq!(render("Hi {{name}}!", &vars), "Hi Ada!");
        assert_eq!(render("{{ order.status }}", &vars), "shipped");
        assert_eq!(
            render("[{{missing}}] [{{missing.deep.field}}]", &vars),
            "[] []"
        );
        assert_eq!(render("no placeholders", &vars), "no placeholders");
        assert_eq!(
            render("<b>{{name}}</b> & co", &vars),
            "<b>Ada</b> & co",
            "no escaping"
        );
        assert_eq!(render("{{ name | upper }} x{{ n + 1 }}", &vars), "ADA x4");
    }

    #[test]
    fn broken_or_runaway_templates_never_panic() {
        let vars = json!({});
        assert_eq!(render("{{ unclosed", &vars), "");
        assert!(check("{{ unclosed").is_err());
        assert!(check("Hello {{ name }}").is_ok());
        let runaway =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        assert_eq!(render(runaway, &vars), "", "fuel stops it");
        assert!(check(&"x".repeat(MAX_TEMPLATE_BYTES + 1)).is_err());
        // Odd input round-trips.
        assert_eq!(
            render("{{ t }}", &json!({ "t": "🤖 مرحبا \u{0}" })),
            "🤖 مرحبا \u{0}"
        );
    }
}
