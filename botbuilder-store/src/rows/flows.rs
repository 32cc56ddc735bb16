//! Flows as stored (see the [module docs](super)): a draft's or version's graph is the flow's
//! JSON text.

use botbuilder_core::domain::FlowVersion;
use botbuilder_core::flow::Flow;
use botbuilder_core::store::{StoreError, StoreResult};
use uuid::Uuid;

use super::from_micros;
use crate::error::corrupt;

/// The stored JSON of a flow.
pub(crate) fn graph_json(flow: &Flow) -> StoreResult<String> {
    serde_json::to_string(flow).map_err(|e| corrupt("flow", e))
}

/// A stored flow.
pub(crate) fn parse_graph(json: &str) -> StoreResult<Flow> {
    serde_json::from_str(json).map_err(|e| corrupt("flow", e))
}

/// A published version: `bot_id, version, graph, created_at`.
#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    bot_id: Uuid,
    version: i64,
    graph: String,
    created_at: i64,
}

impl TryFrom<VersionRow> for FlowVersion {
    type Error = StoreError;

    fn try_from(r: VersionRow) -> StoreResult<Self> {
        Ok(FlowVersion {
            bot_id: r.bot_id.into(),
            version: u32::try_from(r.version).map_err(|e| corrupt("flow version", e))?,
            flow: parse_graph(&r.graph)?,
            created_at: from_micros(r.created_at),
        })
    }
}
