//! A ReLU, tanh, softplus or hard sigmoid squashes the logits right before a softmax
//!
//! ## What it finds
//! An element-wise activation applied to the logits of a linear layer, whose result feeds a softmax
//! over the class axis:
//! - in the graph: `Dense(10, activation="relu")` followed by a `Softmax` layer, or
//!   `Gemm → Relu → Softmax` in ONNX (directly or through ops that only move data);
//! - through the loss: an output that ends in such an activation, trained with a loss that applies the
//!   softmax itself (`from_logits=True` categorical or sparse categorical cross-entropy,
//!   `nn.CrossEntropyLoss`, `F.cross_entropy`).
//!
//! The activations are `Relu`, `ThresholdedRelu`, `Softplus` (bounded below by 0), `Tanh` and
//! `HardSigmoid` (bounded on both sides). A sigmoid before a softmax is rule NNL005.
//!
//! ## Why it matters
//! Softmax turns logits into probabilities by their differences. An activation in between limits
//! those differences. A bounded one (tanh: [−1, 1]) caps every probability: over K classes no class
//! can exceed e^r/(e^r + K − 1), r being the activation's range (0.451 for tanh and K = 10), so the
//! cross-entropy can never fall below −log of that. A ReLU clamps every negative logit to 0 and stops
//! its gradient: when the correct class's logit is clamped, its probability is at most 1/K (all other
//! logits are ≥ 0) and nothing can raise it again.
//!
//! ## Symptom
//! With a bounded activation, predicted probabilities stay flat (never above the cap), a 0.5
//! threshold is never reached, and the loss plateaus at the floor while accuracy may look fine (the
//! arg-max survives). With a ReLU, part of the training set stays stuck at probability ≤ 1/K and a
//! loss of log K: training plateaus early and some classes are never learned.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([
//!     keras.Input((64,)),
//!     keras.layers.Dense(10, activation="relu"),  # logits clamped at 0
//!     keras.layers.Softmax(),
//! ])
//! ```
//! In PyTorch, a ReLU on the logits before `nn.CrossEntropyLoss`, which applies the softmax:
//! ```python
//! class Net(nn.Module):
//!     def forward(self, x):
//!         return F.relu(self.fc(x))  # logits clamped at 0
//!
//! criterion = nn.CrossEntropyLoss()
//! loss = criterion(model(x), y)
//! ```
//! In TF1, `tf.nn.softmax(tf.nn.tanh(tf.matmul(h, w) + b))`.
//!
//! ## Fix
//! Feed the softmax the raw output of the last linear layer:
//! ```python
//! keras.layers.Dense(10),  # linear logits
//! keras.layers.Softmax(),  # or Dense(10, activation="softmax")
//! ```
//! In PyTorch, return `self.fc(x)` and let `nn.CrossEntropyLoss` apply the softmax; in TF1,
//! `tf.nn.softmax(tf.matmul(h, w) + b)`. Put the hidden activation on the hidden layers only.
//!
//! ## Formats
//! ONNX graphs and Keras configs (stacked activations; Keras configs with a compile config also the
//! from_logits loss). Python source: Keras, TF1 and PyTorch models, `nn.Sequential` or `forward`, and
//! the loss that the training loop or a Lightning `training_step` calls on the output. The
//! activation must act on the logits of a linear or convolution layer (plus a bias or batch
//! normalisation), so attention scores (a product of two activations), gates and temperature-scaled
//! logits (`tanh(z) * 10`) are left alone. In Python source a tensor multiplied or divided by a
//! number is read as that tensor, so a soft-capped `cap * torch.tanh(z / cap)` looks like a bare
//! tanh there (ONNX graphs and Keras configs keep the scale).
//!
//! ## References
//! - UMLAUT (Schoop et al., CHI 2021), check "activation before softmax"
//! - softmax over K inputs in [a, b]: max e^(b−a) / (e^(b−a) + K − 1)

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Graph, LossKind, LossSpec, OpId, Part, ValueId};
use crate::ops::{self, Act};
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    let opset = ctx.model.opset;
    let mut out = vec![];
    for (softmax, op) in ops::of_type(graph, &["Softmax", "LogSoftmax"]) {
        let Some(axis) = analysis::softmax_axis(graph, op, opset) else {
            continue;
        };
        let (Some(input), Some(k)) = (op.input(0), axis.group_size) else {
            continue;
        };
        let rank = graph.value(input).shape.as_ref().map_or(0, |s| s.len());
        // Pre-13 semantics normalise the trailing dims together: only the last axis is one class axis.
        if k < 2 || (axis.coerced_2d && axis.axis_index + 1 != rank) {
            continue;
        }
        if analysis::class_axis(graph, input) != Some(axis.axis_index) {
            continue;
        }
        if let Some((act_op, act)) = squash_on_logits(graph, input) {
            out.push(finding(
                ctx,
                (act_op, act),
                Softmaxed::Op(softmax),
                axis.axis_index,
                k,
            ));
        }
    }
    for (loss, index) in analysis::losses_by_output(ctx.model) {
        if !applies_softmax(loss) {
            continue;
        }
        let output = graph.outputs[index].value;
        let Some((act_op, act)) = squash_on_logits(graph, output) else {
            continue;
        };
        let Some(shape) = graph.value(graph.op(act_op).outputs[0]).shape.as_ref() else {
            continue;
        };
        // The class axis the framework's cross-entropy reads.
        let Some(axis) = crate::shape::norm_axis(loss.framework.default_class_axis(), shape.len())
        else {
            continue;
        };
        let Some(k) = shape.get(axis).and_then(|d| d.fixed()).filter(|&k| k >= 2) else {
            continue;
        };
        if shape.len() < 2 || analysis::class_axis(graph, output) != Some(axis) {
            continue;
        }
        out.push(finding(ctx, (act_op, act), Softmaxed::Loss(loss), axis, k));
    }
    out
}

/// The activations this rule is about: bounded below by 0, or bounded on both sides.
fn squashes(act: Act) -> bool {
    matches!(
        act,
        Act::Relu | Act::ThresholdedRelu | Act::Softplus | Act::Tanh | Act::HardSigmoid
    )
}

/// The activation computing `value` (through data movers) when it acts on the logits of a linear
/// layer: its input comes from a `MatMul`/`Gemm`/`Conv` with a constant weight, through data movers,
/// a constant bias and batch normalisation only.
fn squash_on_logits(graph: &Graph, value: ValueId) -> Option<(OpId, Act)> {
    let (id, act) = ops::activation_feeding(graph, value, squashes)?;
    let op = graph.op(id);
    if ops::is_linear(op) {
        // An onnxruntime fused layer (FusedGemm with activation="Relu").
        return Some((id, act));
    }
    let constants = ops::constant_values(graph);
    let mut v = op.input(0)?;
    for _ in 0..16 {
        let (_, src) = ops::source_op(graph, v)?;
        if ops::is_linear(src) {
            let weight = src.input(1)?;
            return constants.contains(&weight).then_some((id, act));
        }
        let t = src.op_type.as_str();
        if !src.is_default_domain() {
            return None;
        }
        v = match t {
            "BatchNormalization" => src.input(0)?,
            "Add" | "Sub" => {
                let (a, b) = (src.input(0)?, src.input(1)?);
                match (constants.contains(&a), constants.contains(&b)) {
                    (false, true) => a,
                    (true, false) if t == "Add" => b,
                    _ => return None,
                }
            }
            _ => return None,
        };
    }
    None
}

/// A loss that applies a softmax to what it is given.
fn applies_softmax(loss: &LossSpec) -> bool {
    loss.from_logits
        && matches!(
            loss.kind,
            LossKind::CategoricalCrossentropy | LossKind::SparseCategoricalCrossentropy
        )
}

enum Softmaxed<'a> {
    Op(OpId),
    Loss(&'a LossSpec),
}

/// What the activation does to the probabilities, for messages and the check.
enum Effect {
    /// Outputs lie in [lo, hi]: every probability is capped.
    Capped { lo: f64, hi: f64 },
    /// Outputs are ≥ 0 with no (or a vanishing) gradient at 0.
    Floored,
}

fn effect(act: Act) -> Effect {
    match act {
        Act::Tanh => Effect::Capped { lo: -1.0, hi: 1.0 },
        Act::HardSigmoid => Effect::Capped { lo: 0.0, hi: 1.0 },
        _ => Effect::Floored,
    }
}

/// Largest softmax output over `k` classes when every input lies in a range of width `range`.
fn cap(range: f64, k: u64) -> f64 {
    let e = range.exp();
    e / (e + k as f64 - 1.0)
}

fn finding(
    ctx: &RuleContext,
    (act_op, act): (OpId, Act),
    softmaxed: Softmaxed,
    axis: usize,
    k: u64,
) -> Detection {
    let graph = &ctx.model.graph;
    let name = act.name().to_lowercase();
    let what = analysis::describe_op(graph.op(act_op));
    let mut labels = vec![Label {
        at: At::op_key(graph, act_op, Part::Activation),
        text: format!("{name} on the logits"),
    }];
    let (message, framework) = match &softmaxed {
        Softmaxed::Op(s) => {
            labels.push(Label {
                at: At::op_key(graph, *s, Part::Activation),
                text: "the softmax reads the squashed logits".into(),
            });
            (
                format!(
                    "{name} applied to the logits before a softmax: {what} feeds {}",
                    analysis::describe_op(graph.op(*s))
                ),
                ctx.model.framework,
            )
        }
        Softmaxed::Loss(loss) => {
            if let Some(span) = loss.from_logits_span.or(loss.span) {
                labels.push(Label {
                    at: At::Span(span),
                    text: "this loss applies the softmax to the squashed logits".into(),
                });
            }
            (
                format!(
                    "{name} applied to the logits of a softmax loss: {what} ends the output that `{}` \
                     normalises",
                    loss.written
                ),
                loss.framework,
            )
        }
    };
    let symptom = match effect(act) {
        Effect::Capped { lo, hi } => format!(
            "predicted probabilities stay flat: no class can exceed {} over {k} classes, so the loss \
             never falls below {} and a 0.5 threshold is never reached, while accuracy may look fine",
            num(cap(hi - lo, k)),
            num(-cap(hi - lo, k).ln())
        ),
        Effect::Floored => format!(
            "examples whose correct class has its logit clamped at 0 stay at a probability of at most \
             1/{k} and a loss of at least log {k} = {} with no gradient to revive the class: training \
             plateaus early and some classes are never learned",
            num((k as f64).ln())
        ),
    };
    Detection {
        message,
        help: Advice::ActivationBeforeSoftmaxHelp {
            activation: &name,
            by_loss: matches!(softmaxed, Softmaxed::Loss(_)),
        }
        .say(framework),
        symptom,
        labels,
        node_path: graph.op(act_op).origin.path.clone(),
        check: numerical_check(ctx, graph.op(act_op).outputs[0], act, axis, k),
    }
}

/// Probes the activation's output (the logits the softmax sees). Bounded activations: the largest
/// softmax output on the probes stays under the cap e^r/(e^r+K−1). Floored activations: the share of
/// logits sitting at 0 with no gradient, for which the class can reach at most 1/K.
fn numerical_check(ctx: &RuleContext, value: ValueId, act: Act, axis: usize, k: u64) -> Check {
    ctx.check_probed(value, |probed| {
        let shape = &probed.shape;
        if axis >= shape.len() || shape[axis] as u64 != k {
            return Check::Unconfirmed {
                reason: format!("the probe's shape {shape:?} has no class axis of size {k}"),
            };
        }
        let inner: usize = shape[axis + 1..].iter().product();
        let groups = probed.values.len() / k as usize;
        let at = |g: usize, c: usize| {
            let (outer, i) = (g / inner.max(1), g % inner.max(1));
            probed.values[(outer * k as usize + c) * inner + i]
        };
        let mut numbers = vec![
            ("probe rows".to_string(), probed.rows as f64),
            ("classes".to_string(), k as f64),
        ];
        match effect(act) {
            Effect::Capped { lo, hi } => {
                let mut largest = 0.0f64;
                for g in 0..groups {
                    let z: Vec<f64> = (0..k as usize).map(|c| at(g, c)).collect();
                    if z.iter().any(|&v| v < lo - 1e-6 || v > hi + 1e-6) {
                        return Check::Unconfirmed {
                            reason: format!("a probe logit left the {} range [{lo}, {hi}]", act.name()),
                        };
                    }
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = z.iter().map(|v| (v - m).exp()).sum();
                    largest = largest.max(1.0 / sum);
                }
                let bound = cap(hi - lo, k);
                numbers.push(("largest probe probability".into(), largest));
                numbers.push(("largest reachable probability".into(), bound));
                numbers.push(("cross-entropy floor".into(), -bound.ln()));
                Check::Confirmed {
                    summary: format!(
                        "on {} seeded probe rows with {}, every logit lies in [{lo}, {hi}] and the largest \
                         probability is {} (cap e^{}/(e^{}+K−1) = {} for K = {k}); the cross-entropy can \
                         never fall below {}",
                        probed.rows,
                        probed.weights,
                        num(largest),
                        num(hi - lo),
                        num(hi - lo),
                        num(bound),
                        num(-bound.ln())
                    ),
                    numbers,
                }
            }
            Effect::Floored => {
                // d act / d z at the output y: ReLU 0 at y = 0; softplus 1 − e^(−y).
                let dead = |y: f64| match act {
                    Act::Softplus => 1.0 - (-y).exp() < 0.05,
                    _ => y == 0.0,
                };
                if probed.values.iter().any(|&y| y < 0.0) {
                    return Check::Unconfirmed {
                        reason: format!("a probe logit is negative after the {}", act.name()),
                    };
                }
                let clamped = probed.values.iter().filter(|&&y| dead(y)).count();
                let all_clamped = (0..groups)
                    .filter(|&g| (0..k as usize).all(|c| dead(at(g, c))))
                    .count();
                if clamped == 0 {
                    return Check::Unconfirmed {
                        reason: format!(
                            "no probe logit sat at 0 after the {} (the weights keep every logit positive)",
                            act.name()
                        ),
                    };
                }
                let share = clamped as f64 / probed.values.len() as f64;
                numbers.push(("share of logits clamped at 0".into(), share));
                numbers.push(("rows with every logit clamped".into(), all_clamped as f64));
                numbers.push(("largest probability of a clamped class".into(), 1.0 / k as f64));
                Check::Confirmed {
                    summary: format!(
                        "on {} seeded probe rows with {}, {} of the logits ({}) sit at 0 with {} gradient: \
                         when one of them is the correct class, its probability is at most 1/{k} and the \
                         loss at least {}",
                        probed.rows,
                        probed.weights,
                        clamped,
                        format_args!("{:.1} %", 100.0 * share),
                        if act == Act::Softplus { "a vanishing (< 0.05)" } else { "no" },
                        num((k as f64).ln())
                    ),
                    numbers,
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_match_the_docs() {
        assert!((cap(2.0, 10) - 0.451).abs() < 1e-3);
        assert!((cap(1.0, 10) - 0.232).abs() < 1e-3);
    }
}
