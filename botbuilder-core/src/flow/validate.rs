//! Parsing and validating a flow, with issues that name the node or edge at fault.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::model::{AnswerValidation, Edge, Flow, Node, NodeKind};

/// Most nodes a flow may have.
pub const MAX_NODES: usize = 2_000;

/// One problem found in a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowIssue {
    /// The node at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The edge at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl FlowIssue {
    fn node(id: &str, message: impl Into<String>) -> Self {
        Self {
            node: Some(id.to_owned()),
            edge: None,
            message: message.into(),
        }
    }

    fn edge(id: &str, message: impl Into<String>) -> Self {
        Self {
            node: None,
            edge: Some(id.to_owned()),
            message: message.into(),
        }
    }

    fn flow(message: impl Into<String>) -> Self {
        Self {
            node: None,
            edge: None,
            message: message.into(),
        }
    }

    /// Where the issue is, for an error's `field`: `nodes[<id>]`, `edges[<id>]` or `flow`.
    pub fn location(&self) -> String {
        match (&self.node, &self.edge) {
            (Some(node), _) => format!("nodes[{node}]"),
            (None, Some(edge)) => format!("edges[{edge}]"),
            (None, None) => "flow".to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct RawFlow {
    nodes: Vec<serde_json::Value>,
    #[serde(default)]
    edges: Vec<serde_json::Value>,
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Flow {
    /// Parses a flow from JSON and validates it; every problem is reported, each naming the
    /// node or edge at fault.
    pub fn parse(value: serde_json::Value) -> Result<Flow, Vec<FlowIssue>> {
        let raw: RawFlow = serde_json::from_value(value)
            .map_err(|e| vec![FlowIssue::flow(format!("not a flow: {e}"))])?;
        let mut issues = Vec::new();
        let mut nodes = Vec::with_capacity(raw.nodes.len());
        for (i, value) in raw.nodes.into_iter().enumerate() {
            let id = value["id"]
                .as_str()
                .map_or_else(|| format!("#{i}"), str::to_owned);
            match serde_json::from_value::<Node>(value) {
                Ok(node) => nodes.push(node),
                Err(e) => issues.push(FlowIssue::node(&id, format!("invalid node: {e}"))),
            }
        }
        let mut edges = Vec::with_capacity(raw.edges.len());
        for (i, value) in raw.edges.into_iter().enumerate() {
            let id = value["id"]
                .as_str()
                .map_or_else(|| format!("#{i}"), str::to_owned);
            match serde_json::from_value::<Edge>(value) {
                Ok(edge) => edges.push(edge),
                Err(e) => issues.push(FlowIssue::edge(&id, format!("invalid edge: {e}"))),
            }
        }
        let flow = Flow { nodes, edges };
        if issues.is_empty() {
            issues = flow.validate();
        }
        if issues.is_empty() {
            Ok(flow)
        } else {
            Err(issues)
        }
    }

    /// Every structural problem of the flow (empty when it is valid).
    pub fn validate(&self) -> Vec<FlowIssue> {
        let mut issues = Vec::new();
        if self.nodes.len() > MAX_NODES {
            issues.push(FlowIssue::flow(format!("more than {MAX_NODES} nodes")));
            return issues;
        }
        let mut by_id: HashMap<&str, &Node> = HashMap::new();
        for node in &self.nodes {
            if node.id.is_empty() {
                issues.push(FlowIssue::flow("a node has an empty id"));
            } else if by_id.insert(&node.id, node).is_some() {
                issues.push(FlowIssue::node(&node.id, "duplicate node id"));
            }
            node_issues(node, &mut issues);
        }
        let starts: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Start {}))
            .collect();
        match starts.len() {
            0 => issues.push(FlowIssue::flow("missing start: add a node of type `start`")),
            1 => {}
            _ => {
                for extra in &starts[1..] {
                    issues.push(FlowIssue::node(
                        &extra.id,
                        "a flow has exactly one start node",
                    ));
                }
            }
        }

        let mut edge_ids = BTreeSet::new();
        for edge in &self.edges {
            if !edge_ids.insert(edge.id.as_str()) {
                issues.push(FlowIssue::edge(&edge.id, "duplicate edge id"));
            }
            for (end, id) in [("source", &edge.source), ("target", &edge.target)] {
                if !by_id.contains_key(id.as_str()) {
                    issues.push(FlowIssue::edge(
                        &edge.id,
                        format!("dangling edge: its {end} `{id}` is not a node"),
                    ));
                }
            }
            if let Some(source) = by_id.get(edge.source.as_str()) {
                handle_issues(source, edge, &mut issues);
            }
        }
        for node in &self.nodes {
            if let NodeKind::Jump { target } = &node.kind
                && !by_id.contains_key(target.as_str())
            {
                issues.push(FlowIssue::node(
                    &node.id,
                    format!("jump target `{target}` is not a node"),
                ));
            }
        }
        if !issues.is_empty() {
            return issues;
        }

        let graph = self.successors();
        let start = starts[0].id.as_str();
        let reachable = reachable_from(start, &graph);
        for node in &self.nodes {
            if !reachable.contains(node.id.as_str()) {
                issues.push(FlowIssue::node(&node.id, "unreachable from the start node"));
            }
        }
        // A loop must wait for the user somewhere: without a pausing node, one message could
        // run it until the step limit (an exit that never fires, or fires late, changes
        // nothing). Cycles are looked for among the nodes that do not pause.
        let running: BTreeMap<&str, Vec<&str>> = graph
            .iter()
            .filter(|(id, _)| !by_id[*id].kind.pauses())
            .map(|(id, next)| {
                let next = next
                    .iter()
                    .copied()
                    .filter(|n| !by_id[n].kind.pauses())
                    .collect();
                (*id, next)
            })
            .collect();
        for cycle in cycles(&running) {
            let path = cycle.join(" -> ");
            issues.push(FlowIssue::node(
                cycle[0],
                format!(
                    "loop without a pause ({path}): nothing in it waits for the user, so one \
                     message could run it over and over; put an `ask` (or a handoff or end) \
                     inside the loop"
                ),
            ));
        }
        issues
    }

    /// What is allowed but probably not meant, each naming its node: an `ask` without an
    /// `invalid` edge (after `max_attempts` wrong answers the bot says it did not understand
    /// and asks again, rather than going elsewhere).
    pub fn warnings(&self) -> Vec<FlowIssue> {
        self.nodes
            .iter()
            .filter(|node| matches!(node.kind, NodeKind::Ask { .. }))
            .filter(|node| {
                !self
                    .edges
                    .iter()
                    .any(|e| e.source == node.id && e.source_handle.as_deref() == Some("invalid"))
            })
            .map(|node| {
                FlowIssue::node(
                    &node.id,
                    "no `invalid` edge: after max_attempts wrong answers the bot says it did not \
                     understand and asks again; add an `invalid` edge to go elsewhere (a \
                     handoff, say)",
                )
            })
            .collect()
    }

    /// Successors of every node: edge targets plus jump targets.
    fn successors(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut graph: BTreeMap<&str, Vec<&str>> = self
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), Vec::new()))
            .collect();
        for edge in &self.edges {
            if let Some(next) = graph.get_mut(edge.source.as_str()) {
                next.push(edge.target.as_str());
            }
        }
        for node in &self.nodes {
            if let NodeKind::Jump { target } = &node.kind
                && let Some(next) = graph.get_mut(node.id.as_str())
            {
                next.push(target.as_str());
            }
        }
        graph
    }
}

/// The templates a node renders.
fn templates(kind: &NodeKind) -> Vec<&str> {
    match kind {
        NodeKind::Message { text, .. } => vec![text],
        NodeKind::Ask {
            prompt,
            retry_prompt,
            ..
        } => std::iter::once(prompt.as_str())
            .chain(retry_prompt.as_deref())
            .collect(),
        NodeKind::SetVariable { value, .. } => vec![value],
        NodeKind::HttpRequest {
            url, headers, body, ..
        } => std::iter::once(url.as_str())
            .chain(headers.values().map(String::as_str))
            .chain(body.as_deref())
            .collect(),
        NodeKind::AiAnswer { instructions } => instructions.as_deref().into_iter().collect(),
        NodeKind::Handoff { message } | NodeKind::End { message } => {
            message.as_deref().into_iter().collect()
        }
        _ => Vec::new(),
    }
}

fn node_issues(node: &Node, issues: &mut Vec<FlowIssue>) {
    let id = &node.id;
    for template in templates(&node.kind) {
        if let Err(e) = crate::template::check(template) {
            issues.push(FlowIssue::node(id, e.to_string()));
        }
    }
    match &node.kind {
        NodeKind::Ask {
            variable,
            validation,
            max_attempts,
            ..
        } => {
            if !valid_identifier(variable) {
                issues.push(FlowIssue::node(
                    id,
                    format!("`{variable}` is not a valid variable name"),
                ));
            }
            if *max_attempts == 0 {
                issues.push(FlowIssue::node(id, "max_attempts must be at least 1"));
            }
            match validation {
                AnswerValidation::Regex { pattern } => {
                    if let Err(e) = regex::RegexBuilder::new(pattern)
                        .size_limit(1 << 20)
                        .build()
                    {
                        issues.push(FlowIssue::node(id, format!("invalid pattern: {e}")));
                    }
                }
                AnswerValidation::Choice { options } if options.is_empty() => {
                    issues.push(FlowIssue::node(id, "a choice needs at least one option"));
                }
                _ => {}
            }
        }
        NodeKind::SetVariable { variable, .. }
        | NodeKind::HttpRequest {
            save_as: variable, ..
        } if !valid_identifier(variable) => {
            issues.push(FlowIssue::node(
                id,
                format!("`{variable}` is not a valid variable name"),
            ));
        }
        NodeKind::Condition { rules } => {
            for rule in rules {
                if !valid_identifier(&rule.variable) {
                    issues.push(FlowIssue::node(
                        id,
                        format!("`{}` is not a valid variable name", rule.variable),
                    ));
                }
            }
        }
        _ => {}
    }
    if let NodeKind::HttpRequest {
        timeout_ms: Some(t),
        ..
    } = &node.kind
        && *t > 30_000
    {
        issues.push(FlowIssue::node(id, "timeout_ms is at most 30000"));
    }
}

/// Edges leaving branching nodes must name one of the node's outputs.
fn handle_issues(source: &Node, edge: &Edge, issues: &mut Vec<FlowIssue>) {
    let handle = edge.source_handle.as_deref();
    let allowed: Option<Vec<&str>> = match &source.kind {
        NodeKind::Condition { rules } => Some(
            rules
                .iter()
                .map(|r| r.handle.as_str())
                .chain(["fallback"])
                .collect(),
        ),
        NodeKind::Ask { .. } => Some(vec!["valid", "invalid"]),
        _ => None,
    };
    match (allowed, handle) {
        (Some(allowed), Some(h)) if !allowed.contains(&h) => issues.push(FlowIssue::edge(
            &edge.id,
            format!(
                "`{h}` is not an output of `{}` (expected one of {})",
                source.id,
                allowed.join(", ")
            ),
        )),
        (None, Some(_)) if !matches!(source.kind, NodeKind::IntentRouter {}) => {
            issues.push(FlowIssue::edge(
                &edge.id,
                format!("`{}` has a single output: remove sourceHandle", source.id),
            ));
        }
        _ => {}
    }
}

fn reachable_from<'a>(
    start: &'a str,
    graph: &BTreeMap<&'a str, Vec<&'a str>>,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([start]);
    let mut stack = vec![start];
    while let Some(node) = stack.pop() {
        for next in graph.get(node).into_iter().flatten() {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    seen
}

/// Strongly connected components that contain a cycle, each as its node ids in id order
/// (Tarjan's algorithm).
fn cycles<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    struct Tarjan<'a, 'g> {
        graph: &'g BTreeMap<&'a str, Vec<&'a str>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        on_stack: BTreeSet<&'a str>,
        stack: Vec<&'a str>,
        next: usize,
        components: Vec<Vec<&'a str>>,
    }

    impl<'a> Tarjan<'a, '_> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for &w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }

    let mut t = Tarjan {
        graph,
        index: HashMap::new(),
        low: HashMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for &v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.components
        .into_iter()
        .filter(|c| c.len() > 1 || graph[c[0]].contains(&c[0]))
        .map(|mut c| {
            c.sort_unstable();
            c
        })
        .collect()
}
