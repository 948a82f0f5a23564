//! Log applied to a softmax or sigmoid underflows to −inf in float32; use the fused log-softmax
//!
//! ## What it finds
//! An ONNX `Log` node whose input is a `Softmax` or `Sigmoid` output (directly, or through ops that only
//! move data: Identity, Dropout, Cast, Reshape, Transpose, Squeeze, Unsqueeze, Flatten). This is what
//! `torch.log(torch.softmax(x, 1))`, `tf.math.log(tf.nn.softmax(x))` or `keras.ops.log(sigmoid(x))`
//! export to.
//!
//! ## Why it matters
//! Softmax computes exp(xᵢ − max x) / Σ exp(xⱼ − max x). When a logit is more than about 104 below the
//! largest one, its exponential underflows to 0 in float32, and log(0) is −inf. A fused log-softmax
//! computes (xᵢ − max x) − log Σ exp(xⱼ − max x) instead, which stays finite. The same holds for
//! log(sigmoid(x)) against log-sigmoid, for x below about −104. Once a −inf appears, a negative
//! log-likelihood loss becomes inf and the gradients become NaN.
//!
//! ## Symptom
//! Training runs normally until the model becomes confident, then the loss jumps to `inf` or `nan` and
//! the weights are destroyed, often many epochs in and seemingly at random. At inference, log-probabilities
//! of unlikely classes come out as `-inf`, which breaks beam search, calibration and any sum of
//! log-probabilities.
//!
//! ## Example
//! ```python
//! log_probs = torch.log(torch.softmax(logits, dim=1))  # -inf once logits spread by ~104
//! loss = F.nll_loss(log_probs, target)
//! ```
//! nnlint reads this in PyTorch source, written in the training loop as above or in a module's
//! `forward`:
//! ```python
//! class Net(nn.Module):
//!     def forward(self, x):
//!         return torch.log(torch.softmax(self.fc(x), dim=1))
//!
//! criterion = nn.NLLLoss()
//! loss = criterion(model(x), y)
//! ```
//! In TF1 graph code the log usually sits inside a cross-entropy written by hand, the form most
//! tutorials of that era used:
//! ```python
//! z = tf.matmul(x, W) + b
//! cross_entropy = -tf.reduce_sum(y * tf.log(tf.nn.softmax(z)), reduction_indices=[1])
//! cost = tf.reduce_mean(cross_entropy)
//! ```
//! PyTorch code ported from those tutorials keeps the same form:
//! ```python
//! probs = torch.softmax(model(x), dim=1)
//! loss = torch.mean(-torch.sum(y_onehot * torch.log(probs), dim=1))
//! ```
//!
//! ## Fix
//! ```python
//! log_probs = torch.log_softmax(logits, dim=1)   # or F.cross_entropy(logits, target)
//! log_p = F.logsigmoid(x)                        # instead of torch.log(torch.sigmoid(x))
//! ```
//! In a module, return the fused form from `forward` (or return the logits and train with
//! `nn.CrossEntropyLoss`):
//! ```python
//! class Net(nn.Module):
//!     def forward(self, x):
//!         return F.log_softmax(self.fc(x), dim=1)
//!
//! criterion = nn.NLLLoss()
//! loss = criterion(model(x), y)
//! ```
//! In TF1, give the logits to the fused loss, or guard the log:
//! ```python
//! logits = tf.matmul(x, W) + b
//! cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
//! # or: -tf.reduce_sum(y * tf.nn.log_softmax(logits), axis=1)
//! # or: tf.log(tf.clip_by_value(pred, 1e-10, 1.0))
//! ```
//! In Keras use `activation="log_softmax"` or a loss with `from_logits=True`.
//!
//! ## Fix safety
//! `--fix` rewrites a log written directly around a softmax or sigmoid call into the fused function,
//! keeping the arguments as they are: `torch.log(torch.softmax(x, dim=1))` becomes
//! `torch.log_softmax(x, dim=1)` (also `F.`, `torch.nn.functional.`), `tf.log(tf.nn.softmax(z))`
//! becomes `tf.nn.log_softmax(z)`, `keras.ops.log(keras.ops.softmax(x))` becomes
//! `keras.ops.log_softmax(x)`; `torch.log(torch.sigmoid(x))` becomes
//! `torch.nn.functional.logsigmoid(x)` and `tf.math.log(tf.sigmoid(x))` becomes
//! `tf.math.log_sigmoid(x)`. The fix is **safe**: the inner call's result has no name, so nothing else
//! reads it, and the fused function computes the same values wherever the unfused one is finite.
//! A softmax assigned to a variable first, a method chain (`x.softmax(1).log()`), a Keras backend
//! `K.log(K.softmax(x))` (the backend has no fused log-softmax) and ONNX graphs are not fixed.
//!
//! ## Formats
//! ONNX graphs, and PyTorch source (`.py`, `.ipynb`): `torch.log` or `.log()` of `torch.softmax`,
//! `F.softmax` or `torch.sigmoid` in `forward`, and in the training loop when the result is passed
//! to a PyTorch loss such as `F.nll_loss` or is a term of a hand-written cross-entropy
//! (`-(y * torch.log(p)).sum(1).mean()`; `torch.log(p + 1e-8)` is guarded). TF1 source: `tf.log` of `tf.nn.softmax` or
//! `tf.nn.sigmoid` inside a hand-written cross-entropy (`-tf.reduce_sum(y * tf.log(p))`, the binary
//! form `y * tf.log(p) + (1 - y) * tf.log(1 - p)`); a log of `tf.clip_by_value(p, ...)` or of
//! `p + 1e-10` is guarded and not reported. Keras configs only show
//! this construct inside Lambda layers (which nnlint cannot see into; NNL009 reports those) or as
//! separate operation layers, which lower to the same `Log` op and are checked the same way.
//!
//! ## References
//! - ONNX operator docs, `LogSoftmax` and `Softmax`
//! - IEEE 754 binary32: the smallest positive subnormal is 2⁻¹⁴⁹ ≈ 1.4e−45, so exp(x) is 0 for x < −103.97

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::eval::{self, Tensor};
use crate::finding::{At, Check, Label, Severity};
use crate::fix::{self, Edit, Fix};
use crate::ir::{Model, Op, OpId, Part, Span};
use crate::ops::{self, Act};
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    ops::of_type(graph, &["Log"])
        .filter_map(|(id, op)| {
            // The check re-evaluates the activation op on its own, so it must be a standalone one.
            let (act, _) = ops::activation_feeding(graph, op.input(0)?, Act::is_normaliser)?;
            if !graph.op(act).is_default_domain() {
                return None;
            }
            Some(finding(ctx, id, act))
        })
        .collect()
}

/// `log(softmax(x, ...))` written as one expression → `log_softmax(x, ...)`, by deleting the log's
/// name and its parentheses and renaming the inner function: the arguments are left as written.
pub fn fix(ctx: &RuleContext, d: &Detection) -> Option<Fix> {
    let model = ctx.model;
    let graph = &model.graph;
    let primary = d.labels.first()?.at;
    let (_, log) = ops::of_type(graph, &["Log"])
        .find(|(id, _)| At::op_key(graph, *id, Part::Class) == primary)?;
    let (act_id, _) = ops::activation_feeding(graph, log.input(0)?, Act::is_normaliser)?;
    let act = graph.op(act_id);
    let part = |op: &Op, p: Part| op.origin.spans.get(&p).copied();
    let (log_entry, log_name) = (part(log, Part::Entry)?, part(log, Part::Class)?);
    let (act_entry, act_name) = (part(act, Part::Entry)?, part(act, Part::Class)?);
    let end = |s: Span| s.offset + s.len;
    // `log(` right before the inner call and `)` right after it: the inner call is the log's only
    // argument, written inside it.
    if log_name.offset != log_entry.offset || act_name.offset != act_entry.offset {
        return None;
    }
    let opening = fix::between(end(log_name), act_entry.offset)?;
    let closing = fix::between(end(act_entry), end(log_entry))?;
    if fix::span_text(model, opening)?.trim() != "("
        || fix::span_text(model, closing)?.trim() != ")"
    {
        return None;
    }
    let log_text = fix::span_text(model, log_name)?;
    if !fix::LOG_CALLS.contains(&log_text) {
        return None;
    }
    let name = fix::span_text(model, act_name)?;
    let fused = fix::fused_log_name(name).filter(|f| !f.ends_with("LogSoftmax"))?;
    Some(Fix::safe(
        format!("replace `{log_text}({name}(…))` with `{fused}(…)`"),
        vec![
            Edit::delete(fix::between(log_entry.offset, act_entry.offset)?),
            Edit::replace(act_name, fused),
            Edit::delete(closing),
        ],
    ))
}

fn finding(ctx: &RuleContext, log_id: OpId, act_id: OpId) -> Detection {
    let model = ctx.model;
    let graph = &model.graph;
    let act = graph.op(act_id);
    let softmax = act.op_type == "Softmax";
    let (what, fused) = if softmax {
        ("softmax", "LogSoftmax")
    } else {
        ("sigmoid", "log-sigmoid")
    };
    let log = graph.op(log_id);
    Detection {
        message: format!(
            "log of a {what}: {} takes the log of {}, which underflows to -inf in float32",
            analysis::describe_op(log),
            analysis::describe_op(act)
        ),
        help: Advice::LogOfActivationHelp { softmax }.say(model.framework),
        symptom:
            "once the model grows confident the loss jumps to inf or nan and training diverges; \
                  log-probabilities of unlikely classes come out as -inf"
                .into(),
        labels: vec![
            Label {
                at: At::op_key(&model.graph, log_id, Part::Class),
                text: format!("log of the {what} output: use {fused}"),
            },
            Label {
                at: At::op_key(&model.graph, act_id, Part::Activation),
                text: format!("{what} computed here"),
            },
        ],
        node_path: log.origin.path.clone(),
        check: numerical_check(ctx, model, act, log, softmax),
    }
}

/// Finds, with the evaluator's own Softmax/Sigmoid and Log on float32, the smallest logit spread at
/// which log(activation) becomes -inf, and shows the fused form is finite there.
fn numerical_check(ctx: &RuleContext, model: &Model, act: &Op, log: &Op, softmax: bool) -> Check {
    let limits = &ctx.probe.limits;
    let (rank, axis, classes) = if softmax {
        let Some(ax) = analysis::softmax_axis(&model.graph, act, model.opset) else {
            return Check::Unconfirmed {
                reason: "the softmax input's rank is unknown, so nnlint cannot build a probe of the right shape".into(),
            };
        };
        let rank = act
            .input(0)
            .and_then(|v| model.graph.value(v).shape.as_ref())
            .map_or(2, Vec::len);
        (
            rank,
            ax.axis_index,
            ax.group_size.unwrap_or(2).clamp(2, 4096) as usize,
        )
    } else {
        (1, 0, 1)
    };
    // One probe row: the first logit at 0, the others at -spread.
    let eval_at = |spread: f32| -> Result<(f32, f32), String> {
        let mut shape = vec![1usize; rank.max(1)];
        shape[axis] = classes;
        limits
            .check(&shape, "the probe row")
            .map_err(|e| e.to_string())?;
        let mut values = vec![-spread; classes];
        values[0] = if softmax { 0.0 } else { -spread };
        let input = Tensor::from_f32(&shape, values.clone()).map_err(|e| e.to_string())?;
        let activated =
            eval::eval_op(act, &[Some(&input)], model.opset, limits).map_err(|e| e.to_string())?;
        let logged = eval::eval_op(log, &[activated.first()], model.opset, limits)
            .map_err(|e| e.to_string())?;
        let got = logged.first().map(Tensor::to_f64_vec).unwrap_or_default();
        let min = got.iter().copied().fold(f64::INFINITY, f64::min) as f32;
        // The fused form, in float64 from the same logits (exact enough to show it is finite).
        let fused = if softmax {
            let m = 0.0f64;
            let lse = values
                .iter()
                .map(|&v| (v as f64 - m).exp())
                .sum::<f64>()
                .ln();
            (-(spread as f64) - m - lse) as f32
        } else {
            let x = -(spread as f64);
            (-(1.0 + (-x).exp()).ln()) as f32
        };
        Ok((min, fused))
    };
    let broken = |s: f32| eval_at(s).map(|(v, _)| v == f32::NEG_INFINITY);
    match broken(200.0) {
        Err(reason) => return Check::Unconfirmed { reason },
        Ok(false) => {
            return Check::Unconfirmed {
                reason:
                    "the evaluator's float32 log(softmax) stayed finite at a logit spread of 200"
                        .into(),
            };
        }
        Ok(true) => {}
    }
    let (mut lo, mut hi) = (0.0f32, 200.0f32);
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        match broken(mid) {
            Ok(true) => hi = mid,
            Ok(false) => lo = mid,
            Err(reason) => return Check::Unconfirmed { reason },
        }
    }
    let (at_break, fused) = match eval_at(hi) {
        Ok(v) => v,
        Err(reason) => return Check::Unconfirmed { reason },
    };
    let mut numbers = vec![];
    if softmax {
        numbers.push(("classes".to_string(), classes as f64));
    }
    numbers.push(("smallest logit spread giving -inf".to_string(), hi as f64));
    numbers.push((
        format!("log({}) there", if softmax { "softmax" } else { "sigmoid" }),
        at_break as f64,
    ));
    numbers.push(("fused log-softmax there".to_string(), fused as f64));
    Check::Confirmed {
        summary: format!(
            "evaluated the node's own {} and Log in float32: once {} the log is -inf, while the fused \
             form gives {}",
            act.op_type,
            if softmax {
                format!("one logit is {} below the largest", num(hi as f64))
            } else {
                format!("the input is below -{}", num(hi as f64))
            },
            num(fused as f64)
        ),
        numbers,
    }
}
