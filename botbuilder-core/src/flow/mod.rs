//! Conversation flows: the graph model (ReactFlow-compatible JSON) and its validation.
//!
//! ```
//! use botbuilder_core::flow::Flow;
//! use serde_json::json;
//!
//! let flow = Flow::parse(json!({
//!     "nodes": [
//!         { "id": "start", "type": "start", "data": {} },
//!         { "id": "hello", "type": "message", "data": { "text": "Hi {{name}}!" } },
//!         { "id": "bye", "type": "end", "data": {} }
//!     ],
//!     "edges": [
//!         { "id": "e1", "source": "start", "target": "hello" },
//!         { "id": "e2", "source": "hello", "target": "bye" }
//!     ]
//! }))
//! .expect("a valid flow");
//! assert_eq!(flow.nodes.len(), 3);
//!
//! let broken = Flow::parse(json!({ "nodes": [{ "id": "x", "type": "teleport", "data": {} }] }));
//! assert_eq!(broken.unwrap_err()[0].node.as_deref(), Some("x"));
//! ```

mod model;
mod validate;

pub use model::{
    AnswerValidation, ConditionOp, ConditionRule, Edge, Flow, Node, NodeKind, Position,
};
pub use validate::{FlowIssue, MAX_NODES};

#[cfg(test)]
mod tests;
