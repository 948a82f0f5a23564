//! A cross-entropy reads the classes on another axis than the one the output normalises
//!
//! ## What it finds
//! A cross-entropy loss (categorical, sparse categorical, PyTorch's `CrossEntropyLoss` or
//! `NLLLoss`) reads its classes on one axis of the output, and the output normalises over another:
//! - a softmax or log-softmax output whose axis is not the loss's class axis, e.g. a recurrent layer
//!   with one unit per class (`GRU(9, return_sequences=True)`) followed by `Softmax(axis=1)` over
//!   time and trained with `categorical_crossentropy`, which reads the classes on the last axis;
//! - logits whose classes a linear layer put on one axis, fed to a loss that reads another, e.g. a
//!   `[batch, time, classes]` output into `nn.CrossEntropyLoss`, which takes the classes on dim 1.
//!
//! The loss's class axis is its `axis` argument (Keras loss objects), else the framework's: the last
//! axis for Keras and TensorFlow losses, dim 1 for PyTorch's. Where the class axis the linear layer produced is known and the softmax misses it,
//! NNL003 reports the softmax instead (one finding per bug). Softmaxes inside the model (attention
//! weights over the keys) are not outputs trained with a cross-entropy and are left alone.
//!
//! A hand-written cross-entropy summed over the batch axis instead of the classes
//! (`-tf.reduce_sum(y * tf.log(p), axis=0)`, then a mean) is not reported: Σ over examples then the
//! mean over K classes is the correct loss times N/K, a rescaled learning rate with the same
//! gradient direction, not a wrong loss. A softmax over the batch axis is (NNL003 or this rule).
//!
//! ## Why it matters
//! Cross-entropy is −log of the probability of the true class, where the probabilities over the
//! classes sum to 1. Normalised over another axis, the numbers the loss reads along its class axis do
//! not sum to 1 (Keras divides them by their sum again, PyTorch's `NLLLoss` takes them as they are),
//! so the loss rewards moving mass between time steps, positions or examples instead of between
//! classes.
//!
//! ## Symptom
//! The loss falls but accuracy does not follow; per-position predictions are inconsistent (each time
//! step's "probabilities" sum to anything but 1), and a model that is right still pays a large loss.
//! In PyTorch the shapes often disagree first: `Expected target size [N, C], got [N, T]`.
//!
//! ## Example
//! ```python
//! x = keras.Input((20, 32))
//! h = keras.layers.GRU(9, return_sequences=True)(x)   # one unit per tag
//! y = keras.layers.Softmax(axis=1)(h)                  # over time
//! model = keras.Model(x, y)
//! model.compile(optimizer="adam", loss="categorical_crossentropy")
//! ```
//! In PyTorch, `nn.CrossEntropyLoss()(logits, tags)` with `logits` of shape `[batch, time, tags]`.
//!
//! ## Fix
//! Normalise over the axis the loss reads as classes: `Softmax(axis=-1)` (or
//! `activation="softmax"`) for a Keras loss. In PyTorch, move the classes to dim 1 before the loss:
//! `criterion(logits.permute(0, 2, 1), tags)`, or flatten the positions:
//! `criterion(logits.reshape(-1, n_tags), tags.reshape(-1))`.
//!
//! ## Formats
//! Keras configs with a compile config and Python source (Keras, and PyTorch where the interpreter
//! knows the output's rank: not through a call it does not model, unless it knows that call's output
//! rank, as a recurrent layer's). ONNX carries no loss. A hand-written cross-entropy reduced over the
//! batch axis is not in the IR, and is not checked.
//!
//! ## References
//! - Keras `categorical_crossentropy(y_true, y_pred, axis=-1)`
//! - PyTorch `nn.CrossEntropyLoss`: input `(N, C)` or `(N, C, d1, …)`

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Dim, LossKind, LossSpec, OpId, Part, ValueId};
use crate::ops::Act;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let model = ctx.model;
    let graph = &model.graph;
    let mut out = vec![];
    for (loss, index) in analysis::losses_by_output(model) {
        if !matches!(
            loss.kind,
            LossKind::CategoricalCrossentropy
                | LossKind::SparseCategoricalCrossentropy
                | LossKind::NegativeLogLikelihood
        ) {
            continue;
        }
        let value = graph.outputs[index].value;
        let Some(shape) = graph.value(value).shape.clone() else {
            continue;
        };
        let rank = shape.len();
        if rank < 2 {
            continue;
        }
        let default = loss.framework.default_class_axis();
        let Some(loss_axis) = crate::shape::norm_axis(loss.axis.unwrap_or(default), rank) else {
            continue;
        };
        // The loss's class axis must be able to hold classes. A softmax's group must be known and
        // wider than one; logits whose classes are known to lie elsewhere are misread whatever the
        // size of the axis the loss takes instead (a sequence's unknown length).
        let loss_axis_known = matches!(shape[loss_axis], Dim::Fixed(k) if k > 1);
        if shape[loss_axis] == Dim::Fixed(1) {
            continue;
        }
        let head = analysis::output_head(graph, value, model.opset);
        if !head.passthrough.is_empty() || !rank_stated(ctx, value) {
            continue;
        }
        let nll = loss.kind == LossKind::NegativeLogLikelihood;
        let found = match (head.act, head.activation_op) {
            // Probabilities into a loss of probabilities, log-probabilities into a negative
            // log-likelihood. (A softmax into a loss that applies its own is NNL005's.)
            (Some(_), _) if !loss_axis_known => None,
            (Some(Act::Softmax), Some(op)) if !nll && !loss.from_logits => {
                softmax_case(ctx, op, Act::Softmax, &shape, loss_axis)
            }
            (Some(Act::LogSoftmax), Some(op)) if nll => {
                softmax_case(ctx, op, Act::LogSoftmax, &shape, loss_axis)
            }
            (None, _) if loss.from_logits && !nll => logits_case(ctx, value, &shape, loss_axis),
            _ => None,
        };
        if let Some(found) = found {
            out.push(finding(ctx, loss, value, loss_axis, found));
        }
    }
    out
}

/// Whether the output's rank is what the file says rather than what a front end derived around code
/// it could not follow. In Python source, a call the interpreter does not model is an op of its
/// own domain whose output rank is inferred from its inputs (`torch.bmm(a, b).squeeze(1)` may keep
/// the rank of `b`), unless the interpreter marks it `absolute_rank` (a recurrent layer's output is
/// rank 3 whatever its input); an axis counted from such a rank is not known. Other formats state
/// their shapes (Keras configs, ONNX).
fn rank_stated(ctx: &RuleContext, value: ValueId) -> bool {
    use crate::ir::Format;
    if !matches!(ctx.model.format, Format::PythonSource | Format::Notebook) {
        return true;
    }
    let graph = &ctx.model.graph;
    let mut seen = vec![value];
    let mut todo = vec![value];
    while let Some(v) = todo.pop() {
        let Some(op) = graph.value(v).producer.map(|o| graph.op(o)) else {
            continue;
        };
        if op.attrs.contains_key("absolute_rank") {
            continue;
        }
        if !op.is_default_domain() {
            return false;
        }
        for &i in op.inputs.iter().flatten() {
            if graph.value(i).constant.is_none() && !seen.contains(&i) {
                if seen.len() > 4096 {
                    return false;
                }
                seen.push(i);
                todo.push(i);
            }
        }
    }
    true
}

/// What the output normalises over, against the loss's class axis.
struct Found {
    /// The op to label: the softmax, or the layer that produced the logits.
    op: OpId,
    /// The softmax's axis, or the class axis of the logits.
    axis: usize,
    /// `Some(act)` when the output is already normalised (softmax or log-softmax), `None` for logits.
    act: Option<Act>,
}

fn softmax_case(
    ctx: &RuleContext,
    op: OpId,
    act: Act,
    shape: &[Dim],
    loss_axis: usize,
) -> Option<Found> {
    let graph = &ctx.model.graph;
    let ax = analysis::softmax_axis(graph, graph.op(op), ctx.model.opset)?;
    if ax.coerced_2d || ax.axis_index == loss_axis || ax.group_size == Some(1) {
        // Pre-13 coercion and a single-unit softmax are NNL003's and NNL001's.
        return None;
    }
    if !matches!(shape.get(ax.axis_index), Some(Dim::Fixed(n)) if *n > 1) {
        return None;
    }
    // Where NNL003 already knows the class axis and sees the softmax miss it, the finding is its own.
    let input = graph.op(op).input(0)?;
    match analysis::class_axis(graph, input) {
        Some(c) if c != ax.axis_index => return None,
        None if ax.axis_index == 0 => return None,
        _ => {}
    }
    Some(Found {
        op,
        axis: ax.axis_index,
        act: Some(act),
    })
}

fn logits_case(
    ctx: &RuleContext,
    value: ValueId,
    shape: &[Dim],
    loss_axis: usize,
) -> Option<Found> {
    let graph = &ctx.model.graph;
    let class = analysis::class_axis(graph, value)?;
    if class == loss_axis || !matches!(shape.get(class), Some(Dim::Fixed(n)) if *n > 1) {
        return None;
    }
    let op = graph.value(value).producer?;
    Some(Found {
        op,
        axis: class,
        act: None,
    })
}

fn finding(
    ctx: &RuleContext,
    loss: &LossSpec,
    value: ValueId,
    loss_axis: usize,
    found: Found,
) -> Detection {
    let graph = &ctx.model.graph;
    let what = analysis::describe_op(graph.op(found.op));
    let rank = graph.value(value).shape.as_ref().map_or(0, |s| s.len());
    let mut labels = vec![];
    let message = match found.act {
        Some(act) => {
            // The `axis=` argument where it is written, else the softmax itself.
            let spans = &graph.op(found.op).origin.spans;
            let at = [Part::Axis, Part::Activation, Part::Entry]
                .iter()
                .find_map(|p| spans.get(p).copied())
                .map_or(At::Op(found.op), At::Span);
            labels.push(Label {
                at,
                text: format!("{} over axis {}", act.name().to_lowercase(), found.axis),
            });
            format!(
                "`{}` reads the classes on axis {loss_axis}, but {what} normalises over axis {}",
                loss.written, found.axis
            )
        }
        None => {
            labels.push(Label {
                at: At::op_key(graph, found.op, Part::Units),
                text: format!("the classes: axis {}", found.axis),
            });
            format!(
                "`{}` reads the classes on axis {loss_axis}, but the logits of {what} have them on \
                 axis {}",
                loss.written, found.axis
            )
        }
    };
    if let Some(span) = loss.span {
        labels.push(Label {
            at: At::Span(span),
            text: format!("classes on axis {loss_axis}"),
        });
    }
    let explicit = loss.axis.is_some_and(|a| a != -1 && a + 1 != rank as i64);
    let help = Advice::CrossEntropyAxisHelp {
        normalised: found.act.is_some(),
        explicit,
        loss: &loss.written,
        loss_axis,
        found_axis: found.axis,
        rank,
    }
    .say(loss.framework);
    Detection {
        message,
        help,
        symptom: "the loss moves probability between positions instead of between classes: it \
                  falls while accuracy does not follow, and each position's class probabilities \
                  do not sum to 1"
            .into(),
        labels,
        node_path: graph.op(found.op).origin.path.clone(),
        check: numerical_check(ctx, value, loss_axis, &found),
    }
}

/// Offsets of every line of `shape` along `axis`: (start, stride), with `shape[axis]` elements each.
fn lines(shape: &[usize], axis: usize) -> Vec<(usize, usize)> {
    let stride: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    (0..outer)
        .flat_map(|o| (0..stride).map(move |i| (o * n * stride + i, stride)))
        .collect()
}

/// Softmax of `x` along `axis`, in place.
fn softmax_along(x: &mut [f64], shape: &[usize], axis: usize) {
    let n = shape[axis];
    for (start, stride) in lines(shape, axis) {
        let idx = |j: usize| start + j * stride;
        let m = (0..n).map(|j| x[idx(j)]).fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = (0..n).map(|j| (x[idx(j)] - m).exp()).sum();
        for j in 0..n {
            x[idx(j)] = (x[idx(j)] - m).exp() / s;
        }
    }
}

/// Mean over the lines along `axis` of the cross-entropy of the class the correct distribution `q`
/// ranks first (a model that is right), read from `p` after dividing it by its sum along `axis` as
/// Keras does (PyTorch's losses read log-probabilities without renormalising; for them `p` is
/// already what the loss sees).
fn cross_entropy(p: &[f64], q: &[f64], shape: &[usize], axis: usize, renormalise: bool) -> f64 {
    let n = shape[axis];
    let all = lines(shape, axis);
    let mut total = 0.0;
    for &(start, stride) in &all {
        let idx = |j: usize| start + j * stride;
        let label = (0..n)
            .max_by(|&a, &b| q[idx(a)].total_cmp(&q[idx(b)]))
            .unwrap_or(0);
        let sum: f64 = if renormalise {
            (0..n).map(|j| p[idx(j)]).sum()
        } else {
            1.0
        };
        total -= (p[idx(label)] / sum).max(1e-300).ln();
    }
    total / all.len().max(1) as f64
}

/// Probes the output (and for a softmax output, the logits it normalises), then shows that along the
/// loss's class axis the probabilities do not sum to 1 and compares the loss the model trains with to
/// the loss of the same logits normalised over the loss's class axis, on labels a correct model
/// would get right.
fn numerical_check(ctx: &RuleContext, value: ValueId, loss_axis: usize, found: &Found) -> Check {
    let graph = &ctx.model.graph;
    let logits = match found.act {
        Some(_) => match graph.op(found.op).input(0) {
            Some(v) => v,
            None => {
                return Check::Unconfirmed {
                    reason: "the softmax has no input".into(),
                };
            }
        },
        None => value,
    };
    ctx.check_probed(logits, |probed| {
        let shape = probed.shape.clone();
        let axis_ok = |a: usize| shape.get(a).is_some_and(|&n| n > 1);
        if !axis_ok(loss_axis) || !axis_ok(found.axis) || probed.values.is_empty() {
            return Check::Unconfirmed {
                reason: format!(
                    "the probe's shape {shape:?} has no axes {loss_axis} and {} of more than one element",
                    found.axis
                ),
            };
        }
        let z = probed.values;
        // What the model hands the loss, as probabilities.
        let mut p = z.clone();
        softmax_along(&mut p, &shape, found.axis);
        // The same logits normalised over the loss's class axis: for a softmax output, the
        // distribution the loss means; for logits, the one it computes.
        let mut q = z.clone();
        softmax_along(&mut q, &shape, loss_axis);
        // What the training normalises (over `normalised`), summed over the axis the classes are
        // really on (`classes`): a softmax output read by the loss over its own axis, or logits the
        // loss normalises over its axis while the layer put the classes on another.
        let (normalised, classes, probs) = match found.act {
            Some(_) => (found.axis, loss_axis, &p),
            None => (loss_axis, found.axis, &q),
        };
        let sums: Vec<f64> = lines(&shape, classes)
            .into_iter()
            .map(|(start, stride)| (0..shape[classes]).map(|j| probs[start + j * stride]).sum())
            .collect();
        let off = sums.iter().map(|s| (s - 1.0).abs()).sum::<f64>() / sums.len() as f64;
        let (lo, hi) = sums
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &s| (l.min(s), h.max(s)));
        // Keras renormalises probabilities; PyTorch reads them as they are (NLLLoss of log-softmax)
        // or, for logits, takes log-softmax over its own axis (then `p` along the loss axis is q's).
        let renormalise = found.act == Some(Act::Softmax);
        let trained = if found.act.is_some() {
            cross_entropy(&p, &q, &shape, loss_axis, renormalise)
        } else {
            // Logits into a loss over another axis: the loss normalises over its own axis, so
            // the model's classes (along `found.axis`) are not what it reads.
            let mut r = z.clone();
            softmax_along(&mut r, &shape, loss_axis);
            let mut right = z.clone();
            softmax_along(&mut right, &shape, found.axis);
            cross_entropy(&r, &right, &shape, found.axis, false)
        };
        let correct = if found.act.is_some() {
            cross_entropy(&q, &q, &shape, loss_axis, false)
        } else {
            let mut right = z.clone();
            softmax_along(&mut right, &shape, found.axis);
            cross_entropy(&right, &right, &shape, found.axis, false)
        };
        if off < 1e-3 || (trained - correct).abs() < 1e-3 {
            return Check::Unconfirmed {
                reason: format!(
                    "on the probes the probabilities sum to 1 over the classes (axis {classes}) \
                     within {} and the loss matches the correct one ({} against {})",
                    num(off),
                    num(trained),
                    num(correct)
                ),
            };
        }
        let rows = sums.len();
        Check::Confirmed {
            summary: format!(
                "on {} seeded probe rows with {}, the probabilities as trained (normalised over \
                 axis {normalised}) sum to {}..{} over the classes (axis {classes}; mean distance \
                 from 1: {}, {rows} positions); on labels a correct model ranks first, the loss as \
                 trained is {} against {} with the softmax over the classes",
                probed.rows,
                probed.weights,
                num(lo),
                num(hi),
                num(off),
                num(trained),
                num(correct)
            ),
            numbers: vec![
                ("probe rows".into(), probed.rows as f64),
                ("positions".into(), rows as f64),
                ("smallest sum over the classes".into(), lo),
                ("largest sum over the classes".into(), hi),
                ("mean |sum - 1|".into(), off),
                ("loss as trained".into(), trained),
                ("loss over the class axis".into(), correct),
            ],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{
        Attr, DType, Format, Graph, GraphOutput, Intent, IntentSource, Model, Op, TensorData,
        TensorRef, TrainingSpec, Weights,
    };
    use crate::rule::ProbeSettings;

    /// x[N, 5, 8] -> MatMul W[8, 12] -> logits [N, 5, 12] (the classes last, as `nn.Linear` puts
    /// them), optionally transposed to [N, 12, 5], into PyTorch's `CrossEntropyLoss`.
    fn tagger(permuted: bool) -> Model {
        tagger_of(permuted, Dim::Fixed(5))
    }

    fn tagger_of(permuted: bool, time: Dim) -> Model {
        let mut g = Graph::default();
        let value = |g: &mut Graph, name: &str, dims: Vec<Dim>| {
            let id = g.add_value(name);
            g.value_mut(id).shape = Some(dims);
            g.value_mut(id).dtype = Some(DType::F32);
            id
        };
        let n = || Dim::Named("N".into());
        let x = value(&mut g, "x", vec![n(), time.clone(), Dim::Fixed(8)]);
        g.inputs.push(x);
        let w = value(&mut g, "w", vec![Dim::Fixed(8), Dim::Fixed(12)]);
        g.value_mut(w).constant = Some(TensorRef {
            name: "w".into(),
            dtype: DType::F32,
            dims: vec![8, 12],
            data: TensorData::Absent,
        });
        let y = value(&mut g, "y", vec![n(), time.clone(), Dim::Fixed(12)]);
        let op = |op_type: &str, input: Vec<ValueId>, out, attrs: Vec<(&str, Attr)>| Op {
            op_type: op_type.into(),
            domain: String::new(),
            name: op_type.into(),
            inputs: input.into_iter().map(Some).collect(),
            outputs: vec![out],
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            origin: Default::default(),
        };
        g.ops.push(op("MatMul", vec![x, w], y, vec![]));
        g.value_mut(y).producer = Some(OpId(0));
        let out = if permuted {
            let t = value(&mut g, "t", vec![n(), Dim::Fixed(12), time.clone()]);
            g.ops.push(op(
                "Transpose",
                vec![y],
                t,
                vec![("perm", Attr::Ints(vec![0, 2, 1]))],
            ));
            g.value_mut(t).producer = Some(OpId(1));
            t
        } else {
            y
        };
        g.outputs.push(GraphOutput {
            value: out,
            intent: Intent::Logits,
            intent_source: IntentSource::TrainingSpec,
            name_speaks: false,
        });
        let loss = LossSpec {
            output: Some(0),
            kind: LossKind::SparseCategoricalCrossentropy,
            written: "CrossEntropyLoss".into(),
            from_logits: true,
            axis: None,
            weight: None,
            span: None,
            from_logits_span: None,
            framework: crate::ir::Framework::PyTorch,
        };
        Model {
            path: "train.py".into(),
            format: Format::PythonSource,
            source_name: "train.py".into(),
            source_text: None,
            opset: 13,
            producer: String::new(),
            framework: Default::default(),
            graph: g,
            training: Some(TrainingSpec {
                losses: vec![loss],
                ..TrainingSpec::default()
            }),
            metadata: Default::default(),
            weights: Weights::Absent,
            assumed_widths: vec![],
            not_followed: vec![],
            syntax_errors: vec![],
            imported_sources: vec![],
            submodels: vec![],
            weights_provenance: Default::default(),
            source_map: None,
        }
    }

    fn run(model: &Model) -> Vec<Detection> {
        let probe = ProbeSettings::default();
        check(&RuleContext {
            model,
            probe: &probe,
        })
    }

    #[test]
    fn torch_cross_entropy_on_classes_last_fires_and_the_permuted_twin_does_not() {
        let found = run(&tagger(false));
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("axis 1"), "{}", found[0].message);
        assert!(found[0].check.is_confirmed(), "{:?}", found[0].check);
        assert!(run(&tagger(true)).is_empty());
    }

    /// A sequence of unknown length: the loss still reads its time axis as the classes.
    #[test]
    fn an_unknown_sequence_length_does_not_hide_the_misread_classes() {
        let found = run(&tagger_of(false, Dim::Unknown));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(run(&tagger_of(true, Dim::Unknown)).is_empty());
        assert!(run(&tagger_of(false, Dim::Fixed(1))).is_empty());
    }

    #[test]
    fn lines_walk_every_position_along_an_axis() {
        // [2, 3, 4]: along axis 1 there are 2·4 lines of 3 elements with stride 4.
        let l = lines(&[2, 3, 4], 1);
        assert_eq!(l.len(), 8);
        assert_eq!(l[0], (0, 4));
        assert_eq!(l[4], (12, 4));
        assert_eq!(lines(&[2, 3, 4], 2).len(), 6);
    }

    #[test]
    fn a_softmax_over_time_does_not_sum_to_one_over_the_classes() {
        let shape = [1, 3, 2];
        // Both classes peak at the first step: over time each is 0.99 there, so the first step's
        // "class probabilities" sum to about 2.
        let mut p = vec![5.0, 5.0, 0.0, 0.0, 0.0, 0.0];
        softmax_along(&mut p, &shape, 1);
        let class_sum = p[0] + p[1];
        assert!((class_sum - 1.97).abs() < 0.01, "{class_sum}");
        let time_sum = p[0] + p[2] + p[4];
        assert!((time_sum - 1.0).abs() < 1e-12);
    }
}
