//! Softmax over a single unit always outputs 1.0, so the head cannot learn or tell classes apart
//!
//! ## What it finds
//! A softmax (or log-softmax) whose normalised axis has exactly one element: an ONNX `Softmax` node
//! over an axis of size 1 (from opset 13 the one `axis`, default −1; before opset 13 the input is
//! coerced to 2-D at `axis`, default 1, and all trailing dims count), or a Keras `Dense(1,
//! activation="softmax")`, `Softmax` layer or `Activation("softmax")` on a one-unit tensor.
//!
//! ## Why it matters
//! Softmax divides each exponential by the sum over the axis. With one element the sum is that element,
//! so the output is exactly 1.0 for every input (log-softmax: exactly 0.0). Its derivative with
//! respect to the logit is s·(1−s) = 0, so no gradient reaches the layers below: the model trains to
//! nothing, and at inference every example gets the same answer.
//!
//! ## Symptom
//! Trained with binary cross-entropy, every prediction is 1.0: accuracy equals the share of positive
//! labels (≈0.50 on balanced data) in every epoch, and the loss sits at the clipped floor times the
//! share of negative labels — Keras clips predictions to [1e−7, 1−1e−7], so each negative example costs
//! ≈15.9 in float32 (−log 1e−7 ≈ 16.12 in exact arithmetic); the report that started nnlint saw 7.6.
//! Keras 3 on TensorFlow computes binary cross-entropy from the cached pre-softmax logit, so there the
//! loss moves while every prediction stays 1.0 and accuracy stays at the positive share.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([
//!     keras.Input((64,)),
//!     keras.layers.Dense(1, activation="softmax"),  # always 1.0
//! ])
//! model.compile(loss="binary_crossentropy", metrics=["accuracy"])
//! ```
//! In PyTorch, a softmax after a one-output `nn.Linear`:
//! ```python
//! model = nn.Sequential(
//!     nn.Linear(64, 1),
//!     nn.Softmax(dim=1),  # over one unit: always 1.0
//! )
//! criterion = nn.BCELoss()
//! loss = criterion(model(x), y)
//! ```
//! `BCELoss` clamps log 0 to −100, so there the loss is 100 × the share of negative labels, and no
//! gradient reaches the `Linear`.
//!
//! ## Fix
//! For a binary problem use one unit with a sigmoid and binary cross-entropy:
//! ```python
//! keras.layers.Dense(1, activation="sigmoid")  # loss="binary_crossentropy"
//! ```
//! or two units with a softmax and (sparse) categorical cross-entropy:
//! ```python
//! keras.layers.Dense(2, activation="softmax")  # loss="sparse_categorical_crossentropy"
//! ```
//! In PyTorch, drop the softmax, return the logit and train with `nn.BCEWithLogitsLoss`, which
//! applies the sigmoid itself; apply `torch.sigmoid` where you need a probability:
//! ```python
//! model = nn.Sequential(nn.Linear(64, 1))  # one logit
//! criterion = nn.BCEWithLogitsLoss()
//! loss = criterion(model(x), y)
//! probs = torch.sigmoid(model(x))  # at inference
//! ```
//! (Ending the model in `nn.Sigmoid()` and keeping `nn.BCELoss` also works, but is less stable.)
//!
//! ## Formats
//! ONNX graphs (any opset; both softmax semantics) and Keras configs (JSON, YAML, `.keras`). ONNX
//! carries no loss, so there the symptom is stated for the common case of binary cross-entropy; Keras
//! configs with a compile config label the loss too. PyTorch source (`.py`, `.ipynb`): `nn.Softmax`,
//! `F.softmax` or `torch.softmax` with an explicit `dim` over a one-output layer, in `nn.Sequential`
//! or `forward`; when the training loop (or a Lightning `training_step`) calls `nn.BCELoss` or
//! `F.binary_cross_entropy` on the output, the loss is labelled too. A softmax without `dim` is not
//! checked.
//!
//! ## References
//! - ONNX operator docs, `Softmax` (axis semantics before and after opset 13)
//! - Keras `binary_crossentropy` (ε = 1e−7 clipping)

use crate::analysis::{self, keras_bce, num, torch_bce};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{LossKind, OpId, Part};
use crate::ops;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    ops::of_type(graph, &["Softmax", "LogSoftmax"])
        .filter_map(|(id, op)| {
            let log = op.op_type == "LogSoftmax";
            let axis = analysis::softmax_axis(graph, op, ctx.model.opset)?;
            (axis.group_size == Some(1)).then(|| finding(ctx, id, log, &axis))
        })
        .collect()
}

fn finding(ctx: &RuleContext, id: OpId, log: bool, axis: &analysis::SoftmaxAxis) -> Detection {
    let model = ctx.model;
    let graph = &model.graph;
    let op = graph.op(id);
    let out = op.outputs[0];
    let (kind, constant) = if log {
        ("log-softmax", "0.0")
    } else {
        ("softmax", "1.0")
    };
    let out_name = &graph.value(out).name;
    let what = analysis::describe_op(op);
    let axis_text = if axis.coerced_2d {
        format!(
            "axis {} (opset {} coerces the input to 2-D there, and the trailing dims hold one element)",
            axis.axis, model.opset
        )
    } else {
        format!("axis {}, which has size 1", axis.axis)
    };

    let mut labels = vec![Label {
        at: At::op_key(graph, id, Part::Activation),
        text: format!("{kind} over {axis_text}"),
    }];
    if let Some(units) = op.origin.spans.get(&Part::Units) {
        labels.push(Label {
            at: At::Span(*units),
            text: "one unit".into(),
        });
    }
    let bce = ctx.model.training.as_ref().and_then(|t| {
        t.losses
            .iter()
            .find(|l| l.kind == LossKind::BinaryCrossentropy)
    });
    if let Some(span) = bce.and_then(|l| l.span) {
        labels.push(Label {
            at: At::Span(span),
            text: "binary cross-entropy on a constant 1.0 prediction".into(),
        });
    }

    let torch = bce.is_some_and(|l| l.is_torch());
    let negative_cost = if torch {
        torch_bce(0.0, 1.0) as f64
    } else {
        keras_bce(0.0, 1.0) as f64
    };
    let check = numerical_check(ctx, out, log, negative_cost, torch);
    let symptom = match (bce, log) {
        (Some(_), false) if torch => format!(
            "every prediction is 1.0: accuracy equals the share of positive labels (≈0.50 on balanced \
             data) in every epoch, and `BCELoss` sits at {:.0} × the share of negative labels (PyTorch \
             clamps each log at −100; ≈{:.0} at 50 %), with no gradient reaching the layers below",
            negative_cost,
            negative_cost / 2.0
        ),
        (_, true) => "every output is 0.0 (log 1): a negative log-likelihood loss is 0 for every \
             example and no gradient reaches the layers below, so nothing learns"
            .to_string(),
        (Some(_), false) => format!(
            "every prediction is 1.0: accuracy equals the share of positive labels (≈0.50 on balanced \
             data) in every epoch, and binary cross-entropy sits at ≈{:.2} × the share of negative labels \
             (≈{:.2} at 50 %) on JAX/torch; Keras on TensorFlow computes the loss from the pre-softmax \
             logit, so there the loss moves while accuracy stays at the positive share",
            negative_cost,
            negative_cost / 2.0
        ),
        (None, false) => format!(
            "every prediction is 1.0 whatever the input, and no gradient flows back through the \
             softmax; trained with binary cross-entropy, accuracy equals the share of positive labels \
             (≈0.50 on balanced data) and the loss sits at ≈{:.2} × the share of negative labels (Keras, \
             float32; −log 1e−7 ≈ 16.12 in exact arithmetic)",
            negative_cost
        ),
    };
    Detection {
        message: format!(
            "{kind} over a single unit always outputs {constant}: {what} produces `{out_name}`"
        ),
        help: if torch && !log {
            "drop the softmax after the one-output layer, return the logit and train with \
             `nn.BCEWithLogitsLoss`; apply `torch.sigmoid` where a probability is needed"
                .into()
        } else if log {
            "use one unit with a sigmoid and binary cross-entropy (or a log-sigmoid), or give the \
             log-softmax at least two classes"
                .into()
        } else {
            "use `Dense(1, activation=\"sigmoid\")` with binary cross-entropy, or `Dense(2, \
             activation=\"softmax\")` with (sparse) categorical cross-entropy; in PyTorch drop the \
             softmax and train with BCEWithLogitsLoss"
                .into()
        },
        symptom,
        labels,
        node_path: op.origin.path.clone(),
        check,
    }
}

fn numerical_check(
    ctx: &RuleContext,
    out: crate::ir::ValueId,
    log: bool,
    negative_cost: f64,
    torch: bool,
) -> Check {
    ctx.check_probed(out, |probed| {
        let expected: f64 = if log { 0.0 } else { 1.0 };
        let total = probed.values.len();
        let exact = probed.values.iter().filter(|&&v| v == expected).count();
        if total == 0 || exact != total {
            return Check::Unconfirmed {
                reason: format!(
                    "only {exact} of {total} probe outputs were exactly {expected:.1}; the structural finding \
                     stands, but the evaluation disagrees"
                ),
            };
        }
        // d softmax / d logit = s·(1−s) on a one-element group; d logsoftmax / d logit = 1 − softmax.
        let max_grad = probed
            .values
            .iter()
            .map(|&v| {
                let s = if log { v.exp() } else { v };
                if log { (1.0 - s).abs() } else { (s * (1.0 - s)).abs() }
            })
            .fold(0.0f64, f64::max);
        let mut numbers = vec![
            ("probe rows".to_string(), probed.rows as f64),
            (format!("outputs exactly {expected:.1}"), exact as f64),
            ("outputs in total".to_string(), total as f64),
            ("max |d output / d logit|".to_string(), max_grad),
        ];
        if !log {
            let which = if torch {
                "PyTorch BCELoss, logs clamped at −100"
            } else {
                "Keras, float32"
            };
            numbers.push((format!("binary cross-entropy per negative label ({which})"), negative_cost));
            numbers.push(("predicted accuracy at 50 % positives".into(), 0.5));
        }
        Check::Confirmed {
            summary: format!(
                "evaluated the head on {} seeded probe rows with {}: all {} outputs are exactly {:.1}, and \
                 the largest gradient through the {} is {}",
                probed.rows,
                probed.weights,
                total,
                expected,
                if log { "log-softmax" } else { "softmax" },
                num(max_grad)
            ),
            numbers,
        }
    })
}
