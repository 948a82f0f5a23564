//! Helpers several rules share: which elements a softmax normalises over, each output's head,
//! and the loss semantics of the frameworks users train with.

use crate::ir::{Dim, Graph, LossSpec, Model, Op, OpId, ValueId};
use crate::ops::{self, Act};
use crate::shape::norm_axis;

/// How many elements one softmax normalisation group has, per ONNX semantics at this opset.
/// `Some(n)` only when every dim involved is known; never guessed.
pub struct SoftmaxAxis {
    /// Attribute value after defaults (`-1` from opset 13, `1` before).
    pub axis: i64,
    /// The normalised axis in the input's rank.
    pub axis_index: usize,
    pub group_size: Option<u64>,
    /// Pre-13 semantics: the input is coerced to 2-D and the trailing dims are flattened together.
    pub coerced_2d: bool,
}

pub fn softmax_axis(graph: &Graph, op: &Op, opset: i64) -> Option<SoftmaxAxis> {
    let input = op.input(0)?;
    let shape = graph.value(input).shape.as_ref()?;
    let coerced_2d = opset < 13;
    let axis = op
        .attr_int("axis")
        .unwrap_or(if coerced_2d { 1 } else { -1 });
    // An axis counted from the front of a tensor whose rank was assumed (`F.softmax(s, dim=1)`
    // after a layer nnlint cannot read): which axis it is, is not known inside the model
    // (attention scores `[N, T, 1]` normalised over time). At the model's output it is the head,
    // read as a batch of vectors like the layer before it: `Linear(h, 1)` then `softmax(dim=1)`
    // is a one-unit softmax whatever the trunk.
    if (axis >= 0 || coerced_2d)
        && graph.rank_is_assumed(input)
        && !op
            .outputs
            .first()
            .is_some_and(|&o| graph.reaches_output_alone(o))
    {
        return None;
    }
    let axis_index = norm_axis(axis, shape.len())?;
    let group_size = if coerced_2d {
        shape[axis_index..]
            .iter()
            .map(Dim::fixed)
            .product::<Option<u64>>()
    } else {
        shape[axis_index].fixed()
    };
    Some(SoftmaxAxis {
        axis,
        axis_index,
        group_size,
        coerced_2d,
    })
}

/// The last activation before a graph output, and the logits tensor it reads.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OutputHead {
    pub output: String,
    /// `Softmax`, `Sigmoid`, `Relu`, ... or `None` when the output is linear (or unknown).
    pub activation: Option<String>,
    #[serde(skip)]
    pub act: Option<Act>,
    #[serde(skip)]
    pub activation_op: Option<OpId>,
    /// The tensor entering the final activation: what to take for "the output before the softmax".
    pub logits: Option<String>,
    /// Normalised axis of a softmax-like activation (after opset defaults), in the input's rank.
    pub axis: Option<i64>,
    /// Size of the class axis (softmax) or of the last axis (others), when known.
    pub units: Option<u64>,
    /// Data movers between the activation and the output (Transpose, Reshape, Cast, ...).
    pub passthrough: Vec<String>,
}

/// Walks back from an output through data movers to the op that computes it, and reads its final
/// activation.
pub fn output_head(graph: &Graph, output: ValueId, opset: i64) -> OutputHead {
    let walk = ops::walk_back(graph, output);
    let mut head = OutputHead {
        output: graph.value(output).name.clone(),
        activation: None,
        act: None,
        activation_op: None,
        logits: None,
        axis: None,
        units: None,
        passthrough: walk
            .movers
            .iter()
            .map(|&m| graph.op(m).op_type.clone())
            .collect(),
    };
    let Some((op_id, op)) = ops::producer(graph, walk.value) else {
        return head;
    };
    let last_dim = |v: Option<ValueId>| {
        v.and_then(|v| graph.value(v).shape.as_ref())
            .and_then(|s| s.last())
            .and_then(Dim::fixed)
    };
    match ops::activation(op) {
        Some(act) => {
            head.activation = Some(act.name().to_string());
            head.act = Some(act);
            head.activation_op = Some(op_id);
            if op.is_default_domain() {
                head.logits = op.input(0).map(|v| graph.value(v).name.clone());
            }
            if act.is_softmax_like() {
                if let Some(ax) = softmax_axis(graph, op, opset) {
                    head.axis = Some(ax.axis_index as i64);
                    head.units = ax.group_size;
                }
            } else if op.is_default_domain() {
                head.units = last_dim(op.input(0));
            } else {
                head.units = last_dim(Some(walk.value));
            }
        }
        None if op.is_default_domain() || ops::is_linear(op) => {
            head.units = last_dim(Some(walk.value))
        }
        None => {}
    }
    head
}

/// The class axis of `value`, in its own rank: the axis the last linear or conv layer produced
/// (MatMul/Gemm: the last axis; Conv/ConvTranspose: axis 1), followed through axis-preserving ops,
/// Transposes and Reshapes that keep the last axis whole (tf2onnx writes a Dense on a 3-D input as
/// `Reshape [B·T, D] → MatMul → Reshape [B, T, K]`). `None` when any other reshape or anything unknown
/// is in the way: never guessed.
pub fn class_axis(graph: &Graph, value: ValueId) -> Option<usize> {
    /// How an axis moves through one op, met walking back; applied in reverse at the end.
    enum Step {
        Perm(Vec<usize>),
        /// A reshape whose input and output end in the same known dim: their last axes are the same
        /// rows of elements, in ranks (input, output).
        KeepLast(usize, usize),
    }
    let mut steps: Vec<Step> = vec![];
    let mut v = value;
    let mut axis = None;
    for _ in 0..64 {
        let (_, op) = ops::producer(graph, v)?;
        let rank = graph.value(v).shape.as_ref()?.len();
        if let Some(features) = ops::linear_class_axis(op) {
            axis = Some(match features {
                ops::FeatureAxis::Last => rank.checked_sub(1)?,
                ops::FeatureAxis::Channels => 1,
            });
            break;
        }
        if !op.is_default_domain() {
            return None;
        }
        if op.op_type == "Transpose" {
            let perm: Vec<usize> = match op.attr_ints("perm") {
                Some(p) => p
                    .iter()
                    .map(|&x| usize::try_from(x).ok())
                    .collect::<Option<_>>()?,
                None => (0..rank).rev().collect(),
            };
            steps.push(Step::Perm(perm));
            v = op.input(0)?;
        } else if op.op_type == "Reshape" {
            let input = op.input(0)?;
            let last = |x: ValueId| graph.value(x).shape.as_ref()?.last()?.fixed();
            let in_rank = graph.value(input).shape.as_ref()?.len();
            if last(input)? != last(v)? || in_rank == 0 {
                return None;
            }
            steps.push(Step::KeepLast(in_rank, rank));
            v = input;
        } else if ops::is_axis_preserving(op) {
            // Follow the data input: for binary ops, the one that is not a constant.
            v = op
                .inputs
                .iter()
                .flatten()
                .copied()
                .find(|&i| graph.value(i).constant.is_none() && graph.value(i).producer.is_some())
                .or_else(|| op.input(0))?;
            if graph.value(v).shape.as_ref()?.len() != rank {
                return None;
            }
        } else {
            return None;
        }
    }
    let mut axis = axis?;
    for step in steps.iter().rev() {
        axis = match step {
            // out[i] = in[perm[i]]: the axis moves to the position i where perm[i] == axis.
            Step::Perm(perm) => perm.iter().position(|&p| p == axis)?,
            Step::KeepLast(in_rank, out_rank) if axis + 1 == *in_rank => out_rank - 1,
            Step::KeepLast(..) => return None,
        };
    }
    Some(axis)
}

/// Every (loss, output index) pair of the training spec: a loss without an output index applies to
/// every output.
pub fn losses_by_output(model: &Model) -> Vec<(&LossSpec, usize)> {
    let Some(t) = &model.training else {
        return vec![];
    };
    let n = model.graph.outputs.len();
    t.losses
        .iter()
        .flat_map(|l| {
            (0..n)
                .filter(move |&i| l.output.is_none_or(|o| o == i))
                .map(move |i| (l, i))
        })
        .collect()
}

/// The categorical cross-entropy of probabilities for one row as Keras 3 computes it
/// (`from_logits=False`): ŷ is divided by its sum, clipped to [ε, 1−ε], then −Σ y·log ŷ (float32).
pub fn renormalised_cce(labels: &[f32], preds: &[f32]) -> f32 {
    use crate::ir::CLIP_EPSILON;
    let sum: f32 = preds.iter().sum();
    labels
        .iter()
        .zip(preds)
        .map(|(&y, &p)| {
            let q = (p / sum).clamp(CLIP_EPSILON, 1.0 - CLIP_EPSILON);
            -y * q.ln()
        })
        .sum()
}

/// How messages name an op: "layer `dense_1`" for Keras, "node `/fc/Gemm`" (or "node #12" when
/// unnamed) for ONNX.
pub fn describe_op(op: &Op) -> String {
    match &op.origin.layer {
        Some(layer) => format!("layer `{layer}`"),
        None if op.name.is_empty() => format!("node #{}", op.origin.index),
        None => format!("node `{}`", op.name),
    }
}

/// Formats a number for messages: integers without decimals, others with 4 significant digits.
pub fn num(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.is_finite() && (x.abs() >= 1e-3 || x == 0.0) {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renormalised_cross_entropy_does_not_see_the_scale() {
        let (y, p) = ([0.0, 1.0, 0.0], [0.2, 0.6, 0.2]);
        let loss = renormalised_cce(&y, &p);
        assert!((loss - 0.6f32.ln().abs()).abs() < 1e-6, "{loss}");
        assert!((loss - renormalised_cce(&y, &[0.1, 0.3, 0.1])).abs() < 1e-6);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(256.0), "256");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(15.94213), "15.9421");
        assert_eq!(num(1.5e-9), "1.500e-9");
    }
}
