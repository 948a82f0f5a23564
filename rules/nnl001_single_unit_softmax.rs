//! Softmax over a single unit always outputs 1.0, so the head cannot learn or tell classes apart
//!
//! ## What it finds
//! A softmax (or log-softmax) whose normalised axis has exactly one element: an ONNX `Softmax` node
//! over an axis of size 1 (from opset 13 the one `axis`, default −1; before opset 13 the input is
//! coerced to 2-D at `axis`, default 1, and all trailing dims count), or a Keras `Dense(1,
//! activation="softmax")`, `Softmax` layer or `Activation("softmax")` on a one-unit tensor.
//!
//!
//! Also an output that a graph simplifier reduced to `ConstantOfShape(Shape(logits), value=1.0)`
//! (onnxsim folds a one-unit softmax this way, leaving no `Softmax` node): a one-unit output whose
//! value is read from the fill attribute and whose shape comes from the logits' shape alone, so it is
//! 1.0 whatever the input. It is reported when the shape is the logits' (a linear layer's output) or
//! the output is meant as a probability.
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
//! The same softmax written in inference code, on a one-logit model trained correctly:
//! ```python
//! criterion = nn.BCEWithLogitsLoss()
//! loss = criterion(model(x), y)
//! with torch.no_grad():
//!     probs = torch.softmax(model(x_test), dim=1)  # 1.0 for every example
//! ```
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
//! ## Fix safety
//! `--fix` changes the activation's value from `softmax` to `sigmoid` where the output is trained
//! with Keras binary cross-entropy on probabilities (`from_logits` off): `Dense(1,
//! activation="softmax")` and `Activation("softmax")` in Python source and notebooks, and
//! `"activation": "softmax"` in Keras JSON and YAML configs. Only the value's word is replaced, so
//! quoting, formatting, comments and key order stay as they are. The fix is **safe**: the softmax's
//! output is 1.0 whatever the input, so nothing that reads it can depend on its value. In PyTorch
//! source trained with `nn.BCELoss` or `F.binary_cross_entropy` (which take probabilities),
//! `nn.Softmax(dim=1)` becomes `nn.Sigmoid()` and `torch.softmax(h, dim=1)` becomes
//! `torch.sigmoid(h)`, also **safe**: the output stays a probability for the loss and for a 0.5
//! threshold (switching to `nn.BCEWithLogitsLoss`, as the help says, is more stable but changes
//! what the model returns, so it is left to you). A model without a binary loss (uncompiled, or
//! trained with a categorical one), a Keras `Softmax` layer and an activation chosen by an
//! expression are not fixed, nor are ONNX graphs, `.keras` archives and `.h5` files (change the
//! source that wrote them).
//!
//! ## Formats
//! ONNX graphs (any opset; both softmax semantics) and Keras configs (JSON, YAML, `.keras`). ONNX
//! carries no loss, so there the symptom is stated for the common case of binary cross-entropy; Keras
//! configs with a compile config label the loss too. PyTorch source (`.py`, `.ipynb`): `nn.Softmax`,
//! `F.softmax` or `torch.softmax` with an explicit `dim` over a one-output layer, in `nn.Sequential`
//! or `forward`; when the training loop (or a Lightning `training_step`) calls `nn.BCELoss` or
//! `F.binary_cross_entropy` on the output, the loss is labelled too; a softmax applied to a model's
//! output in inference code (`predict`, `evaluate`, a `torch.no_grad()` block) is checked with that
//! model. A softmax without `dim` is not checked.
//!
//! ## References
//! - ONNX operator docs, `Softmax` (axis semantics before and after opset 13)
//! - Keras `binary_crossentropy` (ε = 1e−7 clipping)

use crate::advice::{self, Advice, FixKind};
use crate::analysis::{self, num};
use crate::eval;
use crate::finding::{At, Check, Label, Severity};
use crate::fix::Fix;
use crate::ir::{Attr, Framework, Graph, GraphOutput, Intent, LossKind, OpId, Part, ValueId};
use crate::ops;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    let mut out: Vec<Detection> = ops::of_type(graph, &["Softmax", "LogSoftmax"])
        .filter_map(|(id, op)| {
            let log = op.op_type == "LogSoftmax";
            let axis = analysis::softmax_axis(graph, op, ctx.model.opset)?;
            (axis.group_size == Some(1)).then(|| finding(ctx, id, log, &axis))
        })
        .collect();
    for output in &graph.outputs {
        if let Some((fill_op, shape_of)) = folded_softmax(ctx, output) {
            out.push(folded_finding(ctx, output.value, fill_op, shape_of));
        }
    }
    out
}

/// The softmax becomes a sigmoid, where it is an output trained with a binary cross-entropy on
/// probabilities and nothing but that loss is said about it (the edit: [`FixKind::SigmoidForSoftmax`]).
pub fn fix(ctx: &RuleContext, d: &Detection) -> Option<Fix> {
    let model = ctx.model;
    let graph = &model.graph;
    let primary = d.labels.first()?.at;
    let (id, op) = ops::of_type(graph, &["Softmax"])
        .find(|(id, _)| At::op_key(graph, *id, Part::Activation) == primary)?;
    let output = graph
        .outputs
        .iter()
        .position(|o| ops::source_op(graph, o.value).is_some_and(|(src, _)| src == id))?;
    let losses: Vec<_> = analysis::losses_by_output(model)
        .into_iter()
        .filter(|(_, i)| *i == output)
        .map(|(l, _)| l)
        .collect();
    // One framework's binary cross-entropy of probabilities: the fix is written in its API.
    let framework = losses.first()?.framework;
    let binary = |l: &&crate::ir::LossSpec| {
        l.kind == LossKind::BinaryCrossentropy && !l.from_logits && l.framework == framework
    };
    if !losses.iter().all(binary) {
        return None;
    }
    advice::fix(model, FixKind::SigmoidForSoftmax { softmax: op }, framework)
}

/// A one-unit output that a graph simplifier (onnxsim) computed from the logits' *shape* alone:
/// `ConstantOfShape(Shape(logits), value=1.0)`, which is what a softmax over one unit folds into. The
/// fill is read from the op's `value` attribute; the shape input may only be shape arithmetic over
/// `Shape`/`Size` of data and constants. Returns the `ConstantOfShape` op and the value whose shape
/// it copies.
fn folded_softmax(ctx: &RuleContext, output: &GraphOutput) -> Option<(OpId, ValueId)> {
    let graph = &ctx.model.graph;
    if graph.value(output.value).shape.as_ref()?.last()?.fixed()? != 1 {
        return None;
    }
    let (id, op) = ops::source_op(graph, output.value)?;
    if !(op.is_default_domain() && op.op_type == "ConstantOfShape") {
        return None;
    }
    let fill = match op.attrs.get("value") {
        Some(Attr::Tensor(t)) if t.element_count() == Some(1) => {
            // One element, checked above: reading it is not an evaluation the probe limits govern.
            eval::constant(ctx.model, t, &eval::Limits::default())
                .ok()?
                .to_f64_vec()
                .first()
                .copied()?
        }
        Some(_) => return None,
        None => 0.0,
    };
    if fill != 1.0 {
        return None;
    }
    let shape_of = shape_source(graph, op.input(0)?)?;
    let reads_logits = ops::source_op(graph, shape_of).is_some_and(|(_, o)| ops::is_linear(o));
    let probability = matches!(
        output.intent,
        Intent::Probability | Intent::Distribution | Intent::Mask
    );
    (reads_logits || probability).then_some((id, shape_of))
}

/// The data value whose shape `shape` is computed from, when `shape` is shape arithmetic (`Shape`,
/// `Size`, gathers, concatenations, casts) over that one value's shape and constants.
fn shape_source(graph: &Graph, shape: ValueId) -> Option<ValueId> {
    let mut source = None;
    let mut stack = vec![shape];
    let mut steps = 0;
    while let Some(v) = stack.pop() {
        steps += 1;
        if steps > 64 {
            return None;
        }
        if graph.value(v).constant.is_some() {
            continue;
        }
        let (_, op) = ops::producer(graph, v)?;
        if !op.is_default_domain() {
            return None;
        }
        match op.op_type.as_str() {
            "Shape" | "Size" => {
                let data = op.input(0)?;
                if source.is_some_and(|s| s != data) {
                    return None;
                }
                source = Some(data);
            }
            "Constant" => {}
            "Gather" | "Concat" | "Slice" | "Unsqueeze" | "Squeeze" | "Cast" | "Identity"
            | "Reshape" => stack.extend(op.inputs.iter().flatten().copied()),
            _ => return None,
        }
    }
    source
}

fn folded_finding(ctx: &RuleContext, out: ValueId, fill_op: OpId, shape_of: ValueId) -> Detection {
    let graph = &ctx.model.graph;
    let out_name = &graph.value(out).name;
    let logits = &graph.value(shape_of).name;
    // A simplified graph says nothing of its loss.
    let framework = Framework::Unknown;
    let negative_cost = framework.bce(0.0, 1.0) as f64;
    Detection {
        message: format!(
            "output `{out_name}` is a constant 1.0 whatever the input: {} fills the shape of `{logits}` \
             with 1.0, the folded form of a softmax over a single unit",
            analysis::describe_op(graph.op(fill_op))
        ),
        help: Advice::FoldedSoftmaxHelp.say(framework),
        symptom: format!(
            "every prediction is 1.0 whatever the input: a 0.5 threshold calls everything positive, and \
             trained with binary cross-entropy the accuracy equals the share of positive labels while \
             the loss sits at ≈{:.2} × the share of negative labels",
            negative_cost
        ),
        labels: vec![Label {
            at: At::Op(fill_op),
            text: format!("1.0 of the shape of `{logits}`"),
        }],
        node_path: graph.op(fill_op).origin.path.clone(),
        check: numerical_check(ctx, out, false, framework),
    }
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

    let framework = bce.map_or(Framework::Unknown, |l| l.framework);
    let check = numerical_check(ctx, out, log, framework);
    let symptom = if log {
        "every output is 0.0 (log 1): a negative log-likelihood loss is 0 for every example and no \
         gradient reaches the layers below, so nothing learns"
            .to_string()
    } else {
        Advice::OneUnitSoftmaxSymptom {
            trained: bce.is_some(),
        }
        .say(framework)
    };
    Detection {
        message: format!(
            "{kind} over a single unit always outputs {constant}: {what} produces `{out_name}`"
        ),
        help: if log {
            "use one unit with a sigmoid and binary cross-entropy (or a log-sigmoid), or give the \
             log-softmax at least two classes"
                .into()
        } else {
            Advice::OneUnitSoftmaxHelp.say(framework)
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
    framework: Framework,
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
            let negative_cost = framework.bce(0.0, 1.0) as f64;
            numbers.push((Advice::CertainMissCostName.say(framework), negative_cost));
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
