//! A softmax used as a hidden activation: its output feeds another trainable layer
//!
//! ## What it finds
//! A softmax whose output (through ops that only move data) is the input of another linear or
//! convolution layer with weights of its own: `Dense(64, activation="softmax")` followed by
//! `Dense(10)`, `nn.Linear → nn.Softmax → nn.Linear` in `nn.Sequential`, `Gemm → Softmax → Gemm` in
//! ONNX. A softmax whose output is multiplied with other activations (attention weights applied to
//! values, a mixture-of-experts gate) is not a hidden activation and is left alone, and so is a
//! bias-free product with a fixed matrix or a one-output layer (soft-argmax, the expectation over
//! bins of a distribution-focal-loss head such as YOLOv8's `DFL`).
//!
//! ## Why it matters
//! Softmax makes its features compete: they are non-negative and sum to 1 in every example, so one
//! of the K degrees of freedom is gone and, as soon as one feature dominates, the others are pushed to
//! 0 and carry almost nothing. Its Jacobian diag(p) − ppᵀ scales every gradient passed back by at most
//! the largest feature, about 1/K while the features are spread out, so the wider the layer, the less
//! the layers below learn. The layer after it sees near-one-hot patterns instead of a rich
//! representation.
//!
//! ## Symptom
//! The network trains much more slowly than with ReLU/GELU hidden layers and plateaus lower; the
//! hidden features look like a one-hot code (one unit near 1, the rest near 0); widening the layer
//! does not help.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([
//!     keras.Input((32,)),
//!     keras.layers.Dense(64, activation="softmax"),  # hidden
//!     keras.layers.Dense(10, activation="softmax"),
//! ])
//! ```
//! In PyTorch, `nn.Sequential(nn.Linear(32, 64), nn.Softmax(dim=1), nn.Linear(64, 10))`.
//!
//! ## Fix
//! Use a hidden activation that keeps features independent, and keep the softmax for the output:
//! ```python
//! keras.layers.Dense(64, activation="relu"),
//! keras.layers.Dense(10, activation="softmax"),
//! ```
//! In PyTorch, `nn.ReLU()` (or `nn.GELU()`) between the `nn.Linear` layers.
//!
//! ## Formats
//! ONNX graphs, Keras configs and Python source (Keras, TF1 and PyTorch models). The softmax must
//! normalise over the feature axis the next layer reads (the last axis of a `Dense`, axis 1 of a
//! convolution), and that layer must have a bias and at least two outputs. tf2onnx drops an all-zero
//! bias, so an untrained Keras model exported to ONNX may be left alone.
//!
//! ## References
//! - Goodfellow, Bengio, Courville, *Deep Learning*, §6.2.2.3 (softmax units are for outputs)
//! - the softmax Jacobian diag(p) − ppᵀ has eigenvalues in [0, max p]

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Graph, OpId, Part, ValueId};
use crate::ops;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    let constants = ops::constant_values(graph);
    let mut out = vec![];
    for (id, op) in ops::of_type(graph, &["Softmax"]) {
        let Some(axis) = analysis::softmax_axis(graph, op, ctx.model.opset) else {
            continue;
        };
        let Some(k) = axis.group_size.filter(|&k| k >= 2) else {
            continue;
        };
        let Some(next) = trainable_reader(graph, op.outputs[0], &constants) else {
            continue;
        };
        // The softmax must normalise the axis the next layer mixes.
        let rank = graph
            .value(op.outputs[0])
            .shape
            .as_ref()
            .map_or(0, |s| s.len());
        let reads = match ops::linear_class_axis(graph.op(next)) {
            Some(ops::FeatureAxis::Last) => rank.checked_sub(1),
            Some(ops::FeatureAxis::Channels) => Some(1),
            None => None,
        };
        if reads != Some(axis.axis_index) || (axis.coerced_2d && axis.axis_index + 1 != rank) {
            continue;
        }
        out.push(finding(ctx, id, next, k));
    }
    out
}

/// A linear layer with a constant weight that reads `value` (through data movers) as its data input.
fn trainable_reader(
    graph: &Graph,
    value: ValueId,
    constants: &std::collections::HashSet<ValueId>,
) -> Option<OpId> {
    let mut frontier = vec![value];
    let mut steps = 0;
    while let Some(v) = frontier.pop() {
        for c in graph.consumers(v) {
            steps += 1;
            if steps > 64 {
                return None;
            }
            let op = graph.op(c);
            if ops::is_data_mover(op) && op.input(0) == Some(v) {
                frontier.extend(op.outputs.iter().copied());
            } else if ops::is_linear(op)
                && op.input(0) == Some(v)
                && op.input(1).is_some_and(|w| constants.contains(&w))
                && has_bias(graph, c, constants)
                && width(graph, op).is_none_or(|w| w >= 2)
            {
                return Some(c);
            }
        }
    }
    None
}

/// A layer with a bias of its own (`Gemm`/`Conv` input 2, or a `MatMul` whose only reader adds a
/// constant): what `nn.Linear`, `Dense` and `Conv2d` are by default. A bias-free product with a fixed
/// matrix is how soft-argmax and distribution-focal-loss heads take an expectation over the softmax.
fn has_bias(graph: &Graph, id: OpId, constants: &std::collections::HashSet<ValueId>) -> bool {
    let op = graph.op(id);
    if op.input(2).is_some() {
        return true;
    }
    let readers = graph.consumers(op.outputs[0]);
    op.op_type == "MatMul"
        && readers.len() == 1
        && graph.op(readers[0]).op_type == "Add"
        && graph
            .op(readers[0])
            .inputs
            .iter()
            .flatten()
            .any(|i| *i != op.outputs[0] && constants.contains(i))
}

/// Output features of a linear layer, when its output shape says.
fn width(graph: &Graph, op: &crate::ir::Op) -> Option<u64> {
    let shape = graph.value(op.outputs[0]).shape.as_ref()?;
    let axis = match ops::linear_class_axis(op)? {
        ops::FeatureAxis::Last => shape.len().checked_sub(1)?,
        ops::FeatureAxis::Channels => 1,
    };
    shape.get(axis)?.fixed()
}

fn finding(ctx: &RuleContext, softmax: OpId, next: OpId, k: u64) -> Detection {
    let graph = &ctx.model.graph;
    let what = analysis::describe_op(graph.op(softmax));
    Detection {
        message: format!(
            "softmax used as a hidden activation: {what} normalises {k} features that {} reads",
            analysis::describe_op(graph.op(next))
        ),
        help: Advice::SoftmaxHiddenHelp.say(ctx.model.framework),
        symptom:
            "training is slow and plateaus low: the hidden features compete for a total of 1, \
                  collapse towards a one-hot code, and pass on vanishing gradients"
                .into(),
        labels: vec![
            Label {
                at: At::op_key(graph, softmax, Part::Activation),
                text: "softmax on a hidden layer".into(),
            },
            Label {
                at: At::op_key(graph, next, Part::Units),
                text: "a trainable layer reads it".into(),
            },
        ],
        node_path: graph.op(softmax).origin.path.clone(),
        check: numerical_check(ctx, graph.op(softmax).outputs[0], k),
    }
}

/// The features' covariance (n × k rows) applied to the all-ones direction, relative to its size:
/// 0 when the features always sum to the same total (the covariance has lost that dimension).
fn ones_direction_share(rows: &[&[f64]], k: usize) -> f64 {
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..k)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let mut cov = vec![0.0; k * k];
    for r in rows {
        for i in 0..k {
            let di = r[i] - mean[i];
            for j in 0..k {
                cov[i * k + j] += di * (r[j] - mean[j]) / n;
            }
        }
    }
    let frob = cov.iter().map(|c| c * c).sum::<f64>().sqrt();
    let c1 = (0..k)
        .map(|i| cov[i * k..(i + 1) * k].iter().sum::<f64>().powi(2))
        .sum::<f64>()
        .sqrt()
        / (k as f64).sqrt();
    if frob == 0.0 { 0.0 } else { c1 / frob }
}

/// Probes the softmax output: the features sum to 1 in every row (their covariance loses the all-ones
/// direction), and its Jacobian diag(p) − ppᵀ, whose largest eigenvalue is at most max p, scales every
/// gradient passed back to the layer below by at most the row's largest feature.
fn numerical_check(ctx: &RuleContext, value: ValueId, k: u64) -> Check {
    ctx.check_probed(value, |probed| {
        let k = k as usize;
        if probed.shape.last().copied() != Some(k) || probed.values.len() < 2 * k {
            return Check::Unconfirmed {
                reason: format!("the probe's shape {:?} does not end in {k} features", probed.shape),
            };
        }
        let rows: Vec<&[f64]> = probed.values.chunks_exact(k).collect();
        let worst_sum = rows
            .iter()
            .map(|r| (r.iter().sum::<f64>() - 1.0).abs())
            .fold(0.0, f64::max);
        if worst_sum > 1e-4 {
            return Check::Unconfirmed {
                reason: format!("a probe row's features sum to 1 ± {}, not 1", num(worst_sum)),
            };
        }
        let lost = ones_direction_share(&rows, k);
        let gains: Vec<f64> = rows
            .iter()
            .map(|r| r.iter().copied().fold(0.0, f64::max))
            .collect();
        let mean_gain = gains.iter().sum::<f64>() / gains.len() as f64;
        let max_gain = gains.iter().copied().fold(0.0, f64::max);
        Check::Confirmed {
            summary: format!(
                "on {} seeded probe rows with {}, the {k} features sum to 1 in every row (largest |Σ − 1| = {}), \
                 so their covariance has lost the all-ones direction (|C·1| / |C| = {}); the softmax scales \
                 every gradient passed back by at most its largest feature: {} on average, {} at most (a \
                 ReLU passes an active unit's gradient at 1)",
                rows.len(),
                probed.weights,
                num(worst_sum),
                num(lost),
                num(mean_gain),
                num(max_gain)
            ),
            numbers: vec![
                ("probe rows".into(), rows.len() as f64),
                ("features".into(), k as f64),
                ("largest |row sum − 1|".into(), worst_sum),
                ("|C·1| / |C|".into(), lost),
                ("mean gradient gain bound (max p)".into(), mean_gain),
                ("largest gradient gain bound".into(), max_gain),
            ],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_with_a_fixed_total_lose_the_ones_direction() {
        let a = [
            [0.7, 0.2, 0.1],
            [0.1, 0.8, 0.1],
            [0.2, 0.2, 0.6],
            [0.3, 0.3, 0.4],
        ];
        let rows: Vec<&[f64]> = a.iter().map(|r| &r[..]).collect();
        assert!(ones_direction_share(&rows, 3) < 1e-12);
        let b = [[1.0, 2.0, 0.5], [0.1, 0.8, 3.0], [2.0, 0.2, 0.6]];
        let rows: Vec<&[f64]> = b.iter().map(|r| &r[..]).collect();
        assert!(ones_direction_share(&rows, 3) > 0.1);
    }
}
