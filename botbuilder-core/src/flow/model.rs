//! The flow graph: ReactFlow-compatible `nodes` and `edges`, with typed node data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::channel::Button;
use crate::nlu::BuiltinEntity;

/// A conversation flow: a graph of nodes joined by edges, entered at the `start` node.
///
/// The JSON is what ReactFlow produces (`{nodes: [{id, type, position, data}], edges:
/// [{id, source, target, sourceHandle}]}`), so a visual editor can load and save it as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges.
    #[serde(default)]
    pub edges: Vec<Edge>,
}

/// A node's position in the editor (kept, never interpreted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Horizontal.
    pub x: f64,
    /// Vertical.
    pub y: f64,
}

/// One node of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Unique within the flow.
    pub id: String,
    /// Where the editor draws it.
    #[serde(default)]
    pub position: Position,
    /// What the node does; serialized as ReactFlow's `type` plus `data`.
    #[serde(flatten)]
    pub kind: NodeKind,
}

/// An edge from one node (optionally one of its handles) to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// Unique within the flow.
    pub id: String,
    /// The node the edge leaves.
    pub source: String,
    /// The node it enters.
    pub target: String,
    /// Which output of the source: a condition rule, an intent of a router, `fallback`, or
    /// nothing for a node's single output.
    #[serde(
        default,
        rename = "sourceHandle",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_handle: Option<String>,
}

/// The kinds of node and their settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum NodeKind {
    /// Where every new session enters. Exactly one per flow.
    Start {},
    /// Sends a message (with optional buttons / quick replies) and continues.
    Message {
        /// Text; `{{variable}}` placeholders are filled in.
        text: String,
        /// Buttons offered with the message.
        #[serde(default)]
        buttons: Vec<Button>,
    },
    /// Asks a question, waits for the answer, validates it and stores it in a variable.
    Ask {
        /// The question.
        prompt: String,
        /// Variable receiving the answer.
        variable: String,
        /// What counts as a valid answer.
        #[serde(default)]
        validation: AnswerValidation,
        /// Said when the answer is invalid (before asking again).
        #[serde(default)]
        retry_prompt: Option<String>,
        /// Attempts before following the `invalid` handle (default 3).
        #[serde(default = "default_attempts")]
        max_attempts: u32,
        /// Quick replies offered with the question.
        #[serde(default)]
        buttons: Vec<Button>,
    },
    /// Branches on variables: the first matching rule's handle is followed, else `fallback`.
    Condition {
        /// Rules in order.
        rules: Vec<ConditionRule>,
    },
    /// Branches on the intent of the user's last message: the edge whose handle is that
    /// intent, else `fallback`.
    IntentRouter {},
    /// Answers with the language model (and the bot's knowledge, when linked).
    AiAnswer {
        /// Extra instructions for this answer.
        #[serde(default)]
        instructions: Option<String>,
    },
    /// Calls an HTTP API (templated, SSRF-guarded) and stores the JSON result.
    HttpRequest {
        /// `GET`, `POST`, ...
        #[serde(default = "default_method")]
        method: String,
        /// URL template.
        url: String,
        /// Header templates.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// Body template.
        #[serde(default)]
        body: Option<String>,
        /// Variable receiving the response (`{status, body}`).
        save_as: String,
        /// Timeout in milliseconds (default 5,000; at most 30,000).
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Sets a variable from a template.
    SetVariable {
        /// The variable.
        variable: String,
        /// Template of the value.
        value: String,
    },
    /// Hands the conversation to a human agent; the bot stays silent until released.
    Handoff {
        /// Said to the user first.
        #[serde(default)]
        message: Option<String>,
    },
    /// Continues at another node.
    Jump {
        /// The node to continue at.
        target: String,
    },
    /// Ends the conversation.
    End {
        /// Said last.
        #[serde(default)]
        message: Option<String>,
    },
}

fn default_attempts() -> u32 {
    3
}

fn default_method() -> String {
    "GET".to_owned()
}

/// What an `ask` node accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnswerValidation {
    /// Anything non-empty.
    #[default]
    Any,
    /// A built-in entity (the normalized value is stored).
    Builtin {
        /// Which one.
        builtin: BuiltinEntity,
    },
    /// A regular expression that must match the whole answer.
    Regex {
        /// The pattern.
        pattern: String,
    },
    /// One of the given options (case-insensitive).
    Choice {
        /// The options.
        options: Vec<String>,
    },
}

/// One rule of a `condition` node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionRule {
    /// The output handle followed when the rule matches.
    pub handle: String,
    /// The variable compared.
    pub variable: String,
    /// The comparison.
    pub op: ConditionOp,
    /// The value compared with (unused by `is_set` / `is_not_set`).
    #[serde(default)]
    pub value: serde_json::Value,
}

/// Comparisons of a condition rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionOp {
    /// Equal (strings compare case-insensitively).
    Eq,
    /// Not equal.
    Ne,
    /// Contains (strings) or includes (arrays).
    Contains,
    /// Greater than (numbers).
    Gt,
    /// Less than (numbers).
    Lt,
    /// The variable has a non-empty value.
    IsSet,
    /// The variable is missing or empty.
    IsNotSet,
}

impl NodeKind {
    /// The kind's name as in the JSON (`"message"`, `"ask"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start {} => "start",
            Self::Message { .. } => "message",
            Self::Ask { .. } => "ask",
            Self::Condition { .. } => "condition",
            Self::IntentRouter {} => "intent_router",
            Self::AiAnswer { .. } => "ai_answer",
            Self::HttpRequest { .. } => "http_request",
            Self::SetVariable { .. } => "set_variable",
            Self::Handoff { .. } => "handoff",
            Self::Jump { .. } => "jump",
            Self::End { .. } => "end",
        }
    }

    /// Whether executing the node ends the turn (it waits for the user or for an agent), so a
    /// cycle through it cannot spin within one turn.
    pub fn pauses(&self) -> bool {
        matches!(
            self,
            Self::Ask { .. } | Self::Handoff { .. } | Self::End { .. }
        )
    }
}
