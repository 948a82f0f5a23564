//! Outputs read as a class distribution do not sum to 1: independent sigmoids, or a softmax over the wrong axis
//!
//! ## What it finds
//! - **Independent sigmoids read as a distribution**: an output with more than one unit that ends in
//!   a sigmoid, while it is declared or used as a class distribution (`[outputs] x = "distribution"`,
//!   `--output-intent x=distribution`, a ZipMap consumer, code that samples it as one distribution
//!   (`torch.multinomial(probs, 1)`, `Categorical(probs=...)`, `np.random.choice(k, p=...)`), or a
//!   name like `softmax`). A categorical loss
//!   on sigmoids is NNL002's finding, not this one.
//! - **A softmax over the wrong axis**: the class axis is the one the last linear or conv layer produced
//!   (the last axis after MatMul/Gemm, axis 1 after an ONNX Conv), followed through transposes. The
//!   softmax normalises over another axis: the batch axis, time instead of classes, a spatial axis. Before
//!   opset 13 the input is coerced to 2-D at `axis`, so on an N-D tensor it normalises over the classes
//!   and every trailing axis together, e.g. over C×H×W of a segmentation map.
//!
//! ## Why it matters
//! Per example, the values over the classes no longer form a distribution. Arg-max, top-k, thresholds
//! and cross-entropy all assume they sum to 1. With a softmax over the batch axis, each prediction
//! depends on the other examples in the batch, so results change with batch size and ordering.
//!
//! ## Symptom
//! Class "probabilities" that sum to anything between 0 and K per example, or that are all tiny (for a
//! softmax over C×H×W, each pixel's classes share 1/(H·W) of the mass). Predictions change when the batch
//! size changes. Calibration and thresholding are meaningless, and training with cross-entropy pushes
//! the wrong quantity.
//!
//! ## Example
//! ```python
//! # [batch, time, classes] with softmax over time
//! y = keras.layers.Softmax(axis=1)(keras.layers.Dense(5)(lstm_seq))
//! ```
//! In PyTorch, a softmax over `dim=0` of a `[batch, classes]` output normalises over the batch:
//! ```python
//! model = nn.Sequential(
//!     nn.Linear(8, 32),
//!     nn.ReLU(),
//!     nn.Linear(32, 3),
//!     nn.Softmax(dim=0),  # each class sums to 1 over the batch
//! )
//! probs = model(x)
//! loss = F.mse_loss(probs, F.one_hot(y, 3).float())
//! ```
//! Inference code is read where it is written (a `predict`, `decode` or `sample` method or function,
//! a `with torch.no_grad():` block). Independent sigmoids sampled as if they were one distribution,
//! on a multi-label model trained with `nn.BCEWithLogitsLoss`:
//! ```python
//! with torch.no_grad():
//!     probs = torch.sigmoid(model(x))
//!     picks = torch.multinomial(probs, 1)  # the sigmoids do not sum to 1
//! ```
//! or a softmax over the batch at prediction time:
//! ```python
//! def predict(model, batch):
//!     with torch.no_grad():
//!         return torch.softmax(model(batch), dim=0).argmax(dim=1)
//! ```
//!
//! ## Fix
//! Normalise over the class axis: `Softmax(axis=-1)` for `[batch, ..., classes]`, `dim=1` for
//! `[N, C, H, W]`. At opset < 13, transpose the classes last before the softmax (or export at opset
//! 13+). For multi-label outputs, keep the sigmoids and stop reading them as a distribution.
//!
//! In PyTorch, pass the class axis as `dim` (`dim=1` or `dim=-1` for `[batch, classes]`):
//! ```python
//! model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(dim=1))
//! ```
//! Sample independent sigmoids one by one: `torch.bernoulli(torch.sigmoid(model(x)))`.
//!
//! ## Formats
//! ONNX graphs (both softmax semantics) and Keras configs (Softmax layers with `axis`, activations on
//! sequence outputs). PyTorch source (`.py`, `.ipynb`): the softmax over the wrong axis, from
//! `nn.Softmax`, `F.softmax` or `torch.softmax` with an explicit `dim`, in `nn.Sequential` or
//! `forward`, or applied to a model's output in inference code; sigmoid outputs sampled with
//! `torch.multinomial` or `Categorical(probs=...)`. It needs no loss. A softmax without `dim` is not
//! checked.
//!
//! ## References
//! - ONNX operator docs, `Softmax` (axis semantics before and after opset 13)

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Dim, Intent, IntentSource, OpId, Part, ValueId};
use crate::ops;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    let mut out: Vec<Detection> = ops::of_type(graph, &["Softmax"])
        .filter_map(|(id, _)| wrong_axis(ctx, id))
        .collect();
    for o in &graph.outputs {
        let from_loss = o.intent_source == IntentSource::TrainingSpec;
        if o.intent != Intent::Distribution || from_loss {
            continue;
        }
        let head = analysis::output_head(graph, o.value, ctx.model.opset);
        if let (Some(act), Some(op)) = (head.activation.as_deref(), head.activation_op)
            && act == "Sigmoid"
            && head.units.is_some_and(|u| u > 1)
        {
            out.push(sigmoids(ctx, op, o.value, &o.intent_source));
        }
    }
    out
}

fn wrong_axis(ctx: &RuleContext, id: OpId) -> Option<Detection> {
    let graph = &ctx.model.graph;
    let op = graph.op(id);
    let input = op.input(0)?;
    let shape = graph.value(input).shape.as_ref()?;
    let ax = analysis::softmax_axis(graph, op, ctx.model.opset)?;
    if ax.group_size == Some(1) {
        return None; // NNL001
    }
    // The axes the softmax normalises over, leaving out those of size 1.
    let normalised: Vec<usize> = if ax.coerced_2d {
        (ax.axis_index..shape.len()).collect()
    } else {
        vec![ax.axis_index]
    };
    if normalised.iter().any(|&a| matches!(shape[a], Dim::Unknown)) && ax.coerced_2d {
        return None;
    }
    let real: Vec<usize> = normalised
        .into_iter()
        .filter(|&a| shape[a] != Dim::Fixed(1))
        .collect();
    let class = analysis::class_axis(graph, input);
    let reason = match class {
        Some(c) if real == [c] => return None,
        Some(c) if shape.get(c) == Some(&Dim::Fixed(1)) => return None,
        Some(c) if ax.coerced_2d && real.contains(&c) => format!(
            "opset {} coerces the input to 2-D at axis {}, so it normalises over axes {:?} together instead of the class axis {c} alone",
            ctx.model.opset, ax.axis, real
        ),
        Some(c) => format!(
            "it normalises over axis {} but the classes are on axis {c}",
            ax.axis_index
        ),
        None if ax.axis_index == 0 && shape.len() >= 2 && !ax.coerced_2d => {
            "it normalises over axis 0, the batch axis".to_string()
        }
        None => return None,
    };
    let class_axis = class.unwrap_or(shape.len() - 1);
    let what = analysis::describe_op(op);
    Some(Detection {
        message: format!(
            "softmax over the wrong axis: {what} does not normalise over the classes ({reason})"
        ),
        help: Advice::SoftmaxAxisHelp {
            class_axis,
            last: class_axis + 1 == shape.len(),
        }
        .say(ctx.model.framework),
        symptom: "per example, the class probabilities do not sum to 1; arg-max, thresholds and \
                  calibration are meaningless and predictions depend on tensor layout or batch size"
            .into(),
        labels: vec![Label {
            at: At::op_key(graph, id, Part::Axis),
            text: format!(
                "normalises over axes {:?}",
                if ax.coerced_2d {
                    (ax.axis_index..shape.len()).collect::<Vec<_>>()
                } else {
                    vec![ax.axis_index]
                }
            ),
        }],
        node_path: op.origin.path.clone(),
        check: sums_check(
            ctx,
            op.outputs[0],
            class_axis,
            Some(if ax.coerced_2d {
                (ax.axis_index..shape.len()).collect()
            } else {
                vec![ax.axis_index]
            }),
        ),
    })
}

fn sigmoids(ctx: &RuleContext, act: OpId, output: ValueId, source: &IntentSource) -> Detection {
    let graph = &ctx.model.graph;
    let op = graph.op(act);
    let out_name = &graph.value(output).name;
    let because = match source {
        IntentSource::Declared => "declared a distribution".to_string(),
        IntentSource::Consumer => "read as a distribution by a consumer".to_string(),
        IntentSource::Name(n) => format!("named `{n}`"),
        _ => "read as a distribution".to_string(),
    };
    let rank = graph.value(output).shape.as_ref().map_or(2, Vec::len);
    Detection {
        message: format!(
            "independent sigmoids read as a class distribution: `{out_name}` is {because} but ends in a sigmoid"
        ),
        help: "use a softmax over the class axis for one class out of K, or treat the outputs as \
               independent (multi-label) probabilities and stop reading them as a distribution"
            .into(),
        symptom: "per example the class scores sum to anything between 0 and K, so they are not \
                  probabilities of one class out of K"
            .into(),
        labels: vec![Label {
            at: At::op_key(graph, act, Part::Activation),
            text: "each unit is squashed on its own: nothing makes them sum to 1".into(),
        }],
        node_path: op.origin.path.clone(),
        check: sums_check(ctx, output, rank.saturating_sub(1), None),
    }
}

/// Sums the probed output over the class axis (should be 1 for a distribution) and, for a softmax,
/// over the axes it normalises (which are 1).
fn sums_check(
    ctx: &RuleContext,
    value: ValueId,
    class_axis: usize,
    normalised: Option<Vec<usize>>,
) -> Check {
    ctx.check_probed(value, |probed| {
        let Some(class_sums) = axis_sums(&probed.values, &probed.shape, &[class_axis]) else {
            return Check::Unconfirmed { reason: "the probed output's shape does not fit the class axis".into() };
        };
        let devs: Vec<f64> = class_sums.iter().map(|s| (s - 1.0).abs()).collect();
        let max_dev = devs.iter().copied().fold(0.0, f64::max);
        let mean_sum = class_sums.iter().sum::<f64>() / class_sums.len().max(1) as f64;
        if max_dev < 1e-3 {
            return Check::Unconfirmed {
                reason: "on the probes the sums over the class axis happened to be 1".into(),
            };
        }
        let mut numbers = vec![
            ("probe rows".to_string(), probed.rows as f64),
            ("mean sum over the class axis".to_string(), mean_sum),
            ("max |sum over the class axis - 1|".to_string(), max_dev),
        ];
        let mut summary = format!(
            "on {} seeded probe rows with {}, the sums over the class axis average {} and are off from 1 by up to {}",
            probed.rows,
            probed.weights,
            num(mean_sum),
            num(max_dev)
        );
        if let Some(axes) = normalised
            && let Some(sums) = axis_sums(&probed.values, &probed.shape, &axes)
        {
            let dev = sums.iter().map(|s| (s - 1.0).abs()).fold(0.0, f64::max);
            numbers.push(("max |sum over the normalised axes - 1|".to_string(), dev));
            summary.push_str(&format!(", while the sums over the normalised axes {axes:?} are 1 (within {})", num(dev)));
        }
        Check::Confirmed { summary, numbers }
    })
}

/// Sums of `values` (row-major, `shape`) over `axes`.
fn axis_sums(values: &[f64], shape: &[usize], axes: &[usize]) -> Option<Vec<f64>> {
    let mut a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), values.to_vec()).ok()?;
    let mut axes = axes.to_vec();
    axes.sort_unstable_by(|x, y| y.cmp(x));
    for ax in axes {
        if ax >= a.ndim() {
            return None;
        }
        a = a.sum_axis(ndarray::Axis(ax));
    }
    Some(a.iter().copied().collect())
}
