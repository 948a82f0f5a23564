//! Findings are plain data: what a rule found, where, with what numerical evidence. Only `report/`
//! turns them into miette, JSON or SARIF.

use serde::Serialize;

use crate::fix::Fix;
use crate::ir::{Graph, OpId, Part, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What a label points at: an op (ONNX nodes, rendered in a graph listing) or a span of config text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum At {
    Op(OpId),
    Span(Span),
}

impl At {
    /// The span of `part` in the op's source (text formats), or the op itself.
    pub fn op_key(graph: &Graph, op: OpId, part: Part) -> At {
        match graph.op(op).origin.spans.get(&part) {
            Some(span) => At::Span(*span),
            None => At::Op(op),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Label {
    pub at: At,
    pub text: String,
}

/// Result of a rule's numerical check.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Check {
    /// The computation ran and shows the bug. `numbers` keep their order (they are shown as written).
    Confirmed {
        summary: String,
        numbers: Vec<(String, f64)>,
    },
    /// The computation could not run; the structural finding stands on its own.
    Unconfirmed { reason: String },
}

impl Check {
    pub fn is_confirmed(&self) -> bool {
        matches!(self, Check::Confirmed { .. })
    }
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// Lower-case, no trailing period: names the problem and the node or layer.
    pub message: String,
    /// The fix.
    pub help: String,
    /// What the user will observe if the model is trained or shipped like this.
    pub symptom: String,
    /// The first label is the primary location.
    pub labels: Vec<Label>,
    /// Readable path of the primary op (`graph/node` or `model/layer`).
    pub node_path: String,
    pub check: Check,
    /// The edit that removes the finding, when the rule has one for it (`--fix`).
    pub fix: Option<Fix>,
    /// Which of the file's models it is about, when the file builds several (an index into
    /// [`crate::ir::Model::submodels`]).
    pub model: Option<usize>,
}

impl Finding {
    pub fn primary(&self) -> Option<At> {
        self.labels.first().map(|l| l.at)
    }
}
