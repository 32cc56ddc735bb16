//! Steps a session through its flow for one inbound message.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::channel::{Button, OutboundMessage};
use crate::domain::{SessionState, SessionStatus};
use crate::fetch::{FetchRequest, Fetcher};
use crate::flow::{AnswerValidation, ConditionOp, ConditionRule, Flow, Node, NodeKind};
use crate::nlu::{EntityDefinition, EntityExtractor, EntityKind};
use crate::template;

/// Said when an `ask` without an `invalid` edge got `max_attempts` wrong answers and has no
/// `retry_prompt` (then the question is asked again).
pub const NOT_UNDERSTOOD: &str = "Sorry, I still didn't understand that answer.";

/// Most `http_request` nodes one turn may run: past that the turn stops as at the step
/// bound (a loop calling an API must not turn one message into a hundred requests).
pub const MAX_HTTP_REQUESTS_PER_TURN: u32 = 5;

/// What the executor asks the engine to do that needs the outside world.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// Send a message.
    Say(OutboundMessage),
    /// Answer with the language model here (extra instructions, if any).
    AiAnswer(Option<String>),
    /// The flow failed this turn: one apology instead of its output.
    Failed(FlowFailure),
}

/// Why a turn's flow produced no proper answer (recorded on the reply's payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowFailure {
    /// The turn hit the step bound (a loop that never waited for the user).
    StepLimit,
    /// The flow ended or stopped without saying anything.
    Silent,
}

impl FlowFailure {
    /// The code recorded on the reply.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::StepLimit => "flow_step_limit",
            Self::Silent => "flow_silent",
        }
    }
}

/// The outcome of running the flow for one message.
#[derive(Debug, Default)]
pub(crate) struct Step {
    pub(crate) effects: Vec<Effect>,
    pub(crate) status: Option<SessionStatus>,
    pub(crate) step_limit_hit: bool,
}

/// Everything the executor knows about the inbound message.
pub(crate) struct Input<'a> {
    pub(crate) text: &'a str,
    pub(crate) intent: Option<&'a str>,
    pub(crate) today: chrono::NaiveDate,
}

fn node<'f>(flow: &'f Flow, id: &str) -> Option<&'f Node> {
    flow.nodes.iter().find(|n| n.id == id)
}

/// The target of the edge leaving `from` through `handle` (`None` = the single output).
fn follow(flow: &Flow, from: &str, handle: Option<&str>) -> Option<String> {
    flow.edges
        .iter()
        .find(|e| e.source == from && e.source_handle.as_deref() == handle)
        .map(|e| e.target.clone())
}

fn render(text: &str, vars: &Map<String, Value>) -> String {
    template::render(text, &Value::Object(vars.clone()))
}

fn say(text: String, buttons: &[Button]) -> Effect {
    Effect::Say(OutboundMessage {
        text,
        buttons: buttons.to_vec(),
        ..OutboundMessage::default()
    })
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

fn matches(rule: &ConditionRule, vars: &Map<String, Value>) -> bool {
    let value = vars.get(&rule.variable);
    let text = |v: &Value| match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    };
    match rule.op {
        ConditionOp::IsSet => is_set(value),
        ConditionOp::IsNotSet => !is_set(value),
        ConditionOp::Eq => value.is_some_and(|v| text(v) == text(&rule.value)),
        ConditionOp::Ne => value.is_none_or(|v| text(v) != text(&rule.value)),
        ConditionOp::Contains => match value {
            Some(Value::Array(items)) => items.iter().any(|i| text(i) == text(&rule.value)),
            Some(v) => text(v).contains(&text(&rule.value)),
            None => false,
        },
        ConditionOp::Gt | ConditionOp::Lt => {
            match (value.and_then(as_number), as_number(&rule.value)) {
                (Some(a), Some(b)) if rule.op == ConditionOp::Gt => a > b,
                (Some(a), Some(b)) => a < b,
                _ => false,
            }
        }
    }
}

/// Checks an answer to an `ask` node; `Some(value)` to store when it is valid.
fn validate_answer(validation: &AnswerValidation, input: &Input<'_>) -> Option<Value> {
    let answer = input.text.trim();
    if answer.is_empty() {
        return None;
    }
    match validation {
        AnswerValidation::Any => Some(Value::String(answer.to_owned())),
        AnswerValidation::Choice { options } => options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(answer))
            .map(|o| Value::String(o.clone())),
        AnswerValidation::Regex { pattern } => regex::Regex::new(&format!("^(?:{pattern})$"))
            .ok()
            .filter(|re| re.is_match(answer))
            .map(|_| Value::String(answer.to_owned())),
        AnswerValidation::Builtin { builtin } => {
            let def = EntityDefinition {
                name: "answer".into(),
                kind: EntityKind::Builtin { builtin: *builtin },
            };
            let extractor = EntityExtractor::new(&[def]).ok()?;
            extractor
                .extract(answer, input.today)
                .into_iter()
                .next()
                .map(|m| m.value)
        }
    }
}

/// Runs the flow from where `state` stands, for one inbound message, at most `max_steps`
/// nodes.
pub(crate) async fn run(
    flow: &Flow,
    state: &mut SessionState,
    input: &Input<'_>,
    max_steps: u32,
    fetcher: Option<&dyn Fetcher>,
) -> Step {
    let mut step = Step::default();
    let vars = &mut state.variables;
    vars.insert("last_message".into(), Value::String(input.text.to_owned()));
    vars.insert(
        "intent".into(),
        input
            .intent
            .map_or(Value::Null, |i| Value::String(i.to_owned())),
    );

    // Resume at a waiting `ask`, or enter at the start node.
    let mut next: Option<String> = match state
        .current_node
        .take()
        .and_then(|id| node(flow, &id).cloned())
    {
        Some(Node {
            id,
            kind:
                NodeKind::Ask {
                    prompt,
                    variable,
                    validation,
                    retry_prompt,
                    max_attempts,
                    buttons,
                },
            ..
        }) => match validate_answer(&validation, input) {
            Some(value) => {
                vars.insert(variable, value);
                state.attempts = 0;
                follow(flow, &id, Some("valid")).or_else(|| follow(flow, &id, None))
            }
            None => {
                state.attempts += 1;
                let exhausted = state.attempts >= max_attempts;
                if exhausted && let Some(target) = follow(flow, &id, Some("invalid")) {
                    state.attempts = 0;
                    Some(target)
                } else if exhausted {
                    // Nowhere to go: say so and ask again, so the turn is never empty and the
                    // next answer still lands here.
                    state.attempts = 0;
                    let sorry = retry_prompt.as_deref().unwrap_or(NOT_UNDERSTOOD);
                    step.effects.push(say(render(sorry, vars), &[]));
                    step.effects.push(say(render(&prompt, vars), &buttons));
                    state.current_node = Some(id);
                    return step;
                } else {
                    if let Some(retry) = retry_prompt {
                        step.effects.push(say(render(&retry, vars), &[]));
                    }
                    step.effects.push(say(render(&prompt, vars), &buttons));
                    state.current_node = Some(id);
                    return step;
                }
            }
        },
        _ => flow
            .nodes
            .iter()
            .find(|n| matches!(n.kind, NodeKind::Start {}))
            .map(|n| n.id.clone()),
    };

    let mut steps = 0;
    let mut requests = 0;
    while let Some(id) = next.take() {
        steps += 1;
        if steps > max_steps {
            step.step_limit_hit = true;
            break;
        }
        let Some(current) = node(flow, &id) else {
            break;
        };
        next = match &current.kind {
            NodeKind::Start {} => follow(flow, &id, None),
            NodeKind::Message { text, buttons } => {
                step.effects.push(say(render(text, vars), buttons));
                follow(flow, &id, None)
            }
            NodeKind::Ask {
                prompt, buttons, ..
            } => {
                step.effects.push(say(render(prompt, vars), buttons));
                state.current_node = Some(id.clone());
                state.attempts = 0;
                None
            }
            NodeKind::Condition { rules } => {
                let handle = rules
                    .iter()
                    .find(|r| matches(r, vars))
                    .map_or("fallback", |r| r.handle.as_str());
                follow(flow, &id, Some(handle))
            }
            NodeKind::IntentRouter {} => input
                .intent
                .and_then(|intent| follow(flow, &id, Some(intent)))
                .or_else(|| follow(flow, &id, Some("fallback"))),
            NodeKind::AiAnswer { instructions } => {
                step.effects.push(Effect::AiAnswer(
                    instructions.as_deref().map(|i| render(i, vars)),
                ));
                follow(flow, &id, None)
            }
            NodeKind::HttpRequest {
                method,
                url,
                headers,
                body,
                save_as,
                timeout_ms,
            } => {
                requests += 1;
                if requests > MAX_HTTP_REQUESTS_PER_TURN {
                    step.step_limit_hit = true;
                    break;
                }
                let result = match fetcher {
                    None => json!({ "status": 0, "error": "http requests are not enabled" }),
                    Some(fetcher) => {
                        let request = FetchRequest {
                            method: method.clone(),
                            url: render(url, vars),
                            headers: headers
                                .iter()
                                .map(|(k, v)| (k.clone(), render(v, vars)))
                                .collect(),
                            body: body.as_ref().map(|b| render(b, vars)),
                            timeout: Duration::from_millis(timeout_ms.unwrap_or(5_000)),
                            max_body_bytes: None,
                            follow_redirects: true,
                            truncate_body: false,
                        };
                        match fetcher.fetch(request).await {
                            Ok(response) => {
                                let body = serde_json::from_slice(&response.body)
                                    .unwrap_or_else(|_| Value::String(response.text()));
                                json!({ "status": response.status, "body": body })
                            }
                            Err(e) => json!({ "status": 0, "error": e.to_string() }),
                        }
                    }
                };
                vars.insert(save_as.clone(), result);
                follow(flow, &id, None)
            }
            NodeKind::SetVariable { variable, value } => {
                let rendered = render(value, vars);
                vars.insert(variable.clone(), Value::String(rendered));
                follow(flow, &id, None)
            }
            NodeKind::Handoff { message } => {
                if let Some(message) = message {
                    step.effects.push(say(render(message, vars), &[]));
                }
                step.status = Some(SessionStatus::Handoff);
                None
            }
            NodeKind::Jump { target } => Some(target.clone()),
            NodeKind::End { message } => {
                if let Some(message) = message {
                    step.effects.push(say(render(message, vars), &[]));
                }
                step.status = Some(SessionStatus::Ended);
                None
            }
        };
    }
    step
}
