//! What a rule sees (`RuleContext`) and what it returns (`Detection`). A rule never names its own code,
//! name or severity: the engine stamps them from the registry, which derives them from the rule's file
//! name, so they cannot drift.

use crate::eval::{self, Limits, Tensor};
use crate::finding::{Check, Finding, Label, Severity};
use crate::fix::Fix;
use crate::ir::{Model, ValueId, Weights, WeightsProvenance};

/// How numerical checks draw their probes.
#[derive(Clone, Debug)]
pub struct ProbeSettings {
    pub seed: u64,
    /// Rows per probe batch.
    pub count: usize,
    pub limits: Limits,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            seed: 0x6e6e_6c69_6e74,
            count: 256,
            limits: Limits::default(),
        }
    }
}

/// What a rule sees.
pub struct RuleContext<'a> {
    pub model: &'a Model,
    pub probe: &'a ProbeSettings,
}

impl RuleContext<'_> {
    /// Runs the head that ends in `target` on seeded probes; the error is why a check is unconfirmed.
    pub fn probe(&self, target: ValueId) -> Result<Probed, String> {
        probe(self, target)
    }

    /// The usual numerical check: probe `target`, then judge the values. A probe that cannot run makes
    /// the check unconfirmed with the reason.
    pub fn check_probed(&self, target: ValueId, judge: impl FnOnce(Probed) -> Check) -> Check {
        match self.probe(target) {
            Ok(probed) => judge(probed),
            Err(reason) => Check::Unconfirmed { reason },
        }
    }
}

/// One thing a rule found. The engine turns it into a [`Finding`] with the rule's code, name and
/// (configured) severity ([`Rule::stamp`]).
#[derive(Clone, Debug)]
pub struct Detection {
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
}

/// A rule as the registry lists it. `build.rs` writes one per file of `rules/` (code and name from
/// the file name, severity from its `SEVERITY`, docs from its `//!` lines).
pub struct Rule {
    /// `NNL001`
    pub code: &'static str,
    /// `single-unit-softmax`
    pub name: &'static str,
    pub severity: Severity,
    /// One line, from the first line of the rule's docs.
    pub summary: &'static str,
    /// The rule file's `//!` docs, Markdown.
    pub docs: &'static str,
    pub check: fn(&RuleContext) -> Vec<Detection>,
    /// The rule's `pub fn fix`, when it has one: the edit that removes one of its detections, or
    /// `None` where it cannot say one safely.
    pub fix: Option<fn(&RuleContext, &Detection) -> Option<Fix>>,
}

impl Rule {
    /// A detection of this rule as a finding: the rule's code, name and default severity, and its
    /// fix when the rule has one.
    pub fn stamp(&self, ctx: &RuleContext, d: Detection) -> Finding {
        let fix = self
            .fix
            .filter(|_| crate::fix::edits_in_place(ctx.model.format))
            .and_then(|fix| fix(ctx, &d));
        Finding {
            code: self.code,
            name: self.name,
            severity: self.severity,
            message: d.message,
            help: d.help,
            symptom: d.symptom,
            labels: d.labels,
            node_path: d.node_path,
            check: d.check,
            fix,
            model: None,
        }
    }
}

/// Values of `target` computed from seeded probes through the head that produces it.
pub struct Probed {
    pub values: Vec<f64>,
    pub shape: Vec<usize>,
    /// "the file's weights" or "seeded weights of the real shapes": said in every evidence line.
    /// Where a width was not in the file, also the width probed instead.
    pub weights: String,
    /// Batch rows actually evaluated (a graph with a fixed batch dim keeps its own).
    pub rows: usize,
}

/// The size probed for spatial and time axes a file leaves open (see `eval::probes_with_spatial`).
const SPATIAL_PROBE: usize = 8;

/// Runs the head that ends in `target` on seeded probes. The error is the reason a check is unconfirmed.
fn probe(ctx: &RuleContext, target: ValueId) -> Result<Probed, String> {
    let model = ctx.model;
    let graph = &model.graph;
    let run_at = |head: &eval::Head, spatial: Option<usize>| {
        let rows = eval::probe_rows(graph, head, ctx.probe.count);
        let (seed, limits) = (ctx.probe.seed, &ctx.probe.limits);
        let feeds = match spatial {
            None => eval::probes_with_limits(graph, head, rows, seed, limits),
            Some(size) => eval::probes_with_spatial(graph, head, rows, seed, limits, size),
        }
        .map_err(|e| (matches!(e, eval::EvalError::Shape(_)), e.to_string()))?;
        eval::run(model, head, feeds, limits).map_err(|e| (false, e.to_string()))
    };
    let run = |head: &eval::Head| run_at(head, None);
    let mut head = eval::head(graph, target);
    let mut spatial = None;
    let mut result = run(&head);
    // A fully convolutional head whose image size the file never states (`[batch, 16, ?, ?]`): the
    // checks judge per-position values, so probe it at a stated size rather than not at all.
    if let Err((true, _)) = &result {
        let retried = run_at(&head, Some(SPATIAL_PROBE));
        if retried.is_ok() {
            spatial = Some(SPATIAL_PROBE);
            result = retried;
        }
    }
    // A head that reaches a graph input through a shape computation (tf2onnx's 3-D Dense:
    // `Reshape(MatMul(Reshape(x)), Shape(x))`) cannot be fed consistent probes at the linear layers:
    // their flattened rows must match the input's. Then evaluate from the graph inputs instead.
    if result.is_err()
        && head.probes.len() > 1
        && head.probes.iter().any(|p| graph.inputs.contains(p))
    {
        let from_inputs = eval::head_from(graph, target, &graph.inputs);
        if from_inputs.probes.iter().all(|p| graph.inputs.contains(p)) {
            let retried = run(&from_inputs);
            if retried.is_ok() {
                head = from_inputs;
                result = retried;
            }
        }
    }
    let values = result.map_err(|(_, e)| e)?;
    let tensor: &Tensor = values.get(&target).ok_or_else(|| {
        format!(
            "the head did not produce `{}`",
            model.graph.value(target).name
        )
    })?;
    Ok(Probed {
        values: tensor.to_f64_vec(),
        shape: tensor.shape().to_vec(),
        weights: match spatial {
            None => weights_used(model, &head),
            Some(size) => format!(
                "{} (the file does not give the image or sequence size: probed at {size} per open axis)",
                weights_used(model, &head)
            ),
        },
        rows: tensor.shape().first().copied().unwrap_or(1),
    })
}

/// The weights a check ran with, as its evidence says them.
fn weights_used(model: &Model, head: &eval::Head) -> String {
    let weights = match model.weights {
        Weights::Real => "the file's weights",
        Weights::Absent
            if matches!(model.weights_provenance, WeightsProvenance::NotUsed { .. }) =>
        {
            "seeded Glorot-uniform weights of the real shapes (the file's weights do not match \
                 its config, see the `weights_not_used` note)"
        }
        Weights::Absent => "seeded Glorot-uniform weights of the real shapes (the file has none)",
    };
    if head.probes.iter().any(|p| model.assumed_widths.contains(p)) {
        return format!(
            "seeded Glorot-uniform weights (the file has none; its input width is not in the file, \
             so the head was probed at width {})",
            crate::ir::REPRESENTATIVE_WIDTH
        );
    }
    weights.to_string()
}
