//! NLLLoss is given probabilities or raw logits instead of log-probabilities, so the loss is not a cross-entropy
//!
//! ## What it finds
//! A PyTorch `nn.NLLLoss` or `F.nll_loss` whose input does not end in a log-softmax: the model's
//! output (or what the training loop passes on) ends in a softmax or a sigmoid (probabilities), or in
//! a linear layer (raw logits). A `log_softmax` (`F.log_softmax`, `nn.LogSoftmax`) or a log of a
//! softmax (that one is NNL008) is what the loss expects and is not reported.
//!
//! ## Why it matters
//! `NLLLoss` takes no log itself: it returns minus the input at the target class, averaged over the
//! batch. On log-probabilities that is the cross-entropy. On probabilities it is −p(target), which is
//! bounded in [−1, 0] and pushes every example equally hard, confident or not (its gradient is −1,
//! where the cross-entropy's is −1/p), so wrong, confident predictions are barely corrected. On logits
//! it is −logit(target), which has no minimum at all: the model lowers it by inflating the target
//! logit without bound.
//!
//! ## Symptom
//! A negative training loss. On probabilities it creeps towards −1 and accuracy stays well below what
//! the same network reaches with a cross-entropy; on logits the loss falls without bound (−10, −100,
//! …) until the weights overflow to nan, while accuracy stalls.
//!
//! ## Example
//! ```python
//! class Net(nn.Module):
//!     def forward(self, x):
//!         return F.softmax(self.fc(x), dim=1)
//!
//! criterion = nn.NLLLoss()
//! loss = criterion(model(x), y)
//! ```
//!
//! ## Fix
//! End the model in a log-softmax, or keep the logits and use `nn.CrossEntropyLoss`, which applies
//! `log_softmax` itself:
//! ```python
//! class Net(nn.Module):
//!     def forward(self, x):
//!         return F.log_softmax(self.fc(x), dim=1)
//!
//! criterion = nn.NLLLoss()  # or: nn.CrossEntropyLoss() on self.fc(x)
//! ```
//!
//! ## Fix safety
//! `--fix --unsafe-fixes` edits the call that is wrong. On softmax probabilities it renames the
//! softmax to the log-softmax of the same library, keeping its arguments: `F.softmax(x, dim=1)` →
//! `F.log_softmax(x, dim=1)`, `nn.Softmax(dim=1)` → `nn.LogSoftmax(dim=1)`. On raw logits it renames
//! the loss to the cross-entropy that applies the log-softmax itself: `nn.NLLLoss(...)` →
//! `nn.CrossEntropyLoss(...)`, `F.nll_loss(...)` → `F.cross_entropy(...)` (same arguments). Both fixes
//! are **unsafe**: the first changes what the model returns (log-probabilities instead of
//! probabilities; code that reads them as probabilities must take `.exp()`), the second changes a
//! loss object that other code may share. Sigmoid outputs are not fixed.
//!
//! ## Formats
//! PyTorch source (`.py`, `.ipynb`): the loss lives in the training code, which no exported graph
//! carries.
//!
//! ## References
//! - PyTorch `torch.nn.NLLLoss`: ℓ = −x[target] (weighted mean over the batch); `CrossEntropyLoss`
//!   = `log_softmax` + `NLLLoss`

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::fix::{self, Edit, Fix};
use crate::ir::{Framework, LossKind, LossSpec, OpId, Part, ValueId};
use crate::ops::{self, Act};
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

/// What reaches the loss instead of log-probabilities.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    Probabilities(Act),
    Logits,
}

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    let Some(training) = &ctx.model.training else {
        return vec![];
    };
    let mut out = vec![];
    for loss in &training.losses {
        if loss.kind != LossKind::NegativeLogLikelihood {
            continue;
        }
        for (index, output) in graph.outputs.iter().enumerate() {
            if loss.output.is_some_and(|o| o != index) {
                continue;
            }
            let head = analysis::output_head(graph, output.value, ctx.model.opset);
            let walk = ops::walk_back(graph, output.value);
            let Some((last_id, last)) = ops::source_op(graph, walk.value) else {
                continue;
            };
            let input = match (head.act, head.activation_op) {
                (Some(act @ (Act::Softmax | Act::Sigmoid)), Some(op)) => {
                    (Input::Probabilities(act), op)
                }
                (Some(_), _) => continue,
                // No activation: logits when the output is computed by a linear layer (a `Log` or
                // an op nnlint does not know is left alone).
                (None, _) if ops::is_linear(last) || ops::is_affine(last) => {
                    (Input::Logits, last_id)
                }
                (None, _) => continue,
            };
            out.push(finding(ctx, input, output.value, loss));
        }
    }
    out
}

/// Probabilities: the softmax renamed to its log-softmax; logits: the loss renamed to the
/// cross-entropy. Both unsafe.
pub fn fix(ctx: &RuleContext, d: &Detection) -> Option<Fix> {
    let model = ctx.model;
    let graph = &model.graph;
    let primary = d.labels.first()?.at;
    let loss_at = d.labels.get(1)?.at;
    let loss = model.training.as_ref()?.losses.iter().find(|l| {
        l.kind == LossKind::NegativeLogLikelihood && l.span.map(At::Span) == Some(loss_at)
    })?;
    let softmax = graph.op_ids().find(|&id| {
        let op = graph.op(id);
        ops::activation(op) == Some(Act::Softmax)
            && At::op_key(graph, id, Part::Activation) == primary
            && d.node_path == op.origin.path
    });
    if let Some(id) = softmax {
        let name = *graph.op(id).origin.spans.get(&Part::Class)?;
        let written = fix::span_text(model, name)?;
        let fused = fix::fused_log_name(written)?;
        return Some(Fix::unsafe_(
            format!(
                "replace `{written}` with `{fused}`: `{}` takes log-probabilities",
                loss.written
            ),
            vec![Edit::replace(name, fused)],
        ));
    }
    // Logits: the loss becomes the cross-entropy, which applies the log-softmax itself.
    let span = loss.span?;
    let written = fix::span_text(model, span)?;
    let (old, new) = fix::cross_entropy_for_nll(written)?;
    let at = span.offset + written.len() - old.len();
    Some(Fix::unsafe_(
        format!("replace `{old}` with `{new}`, which applies the log-softmax to the logits itself"),
        vec![Edit::replace(
            crate::ir::Span {
                offset: at,
                len: old.len(),
            },
            new,
        )],
    ))
}

fn finding(
    ctx: &RuleContext,
    (input, op): (Input, OpId),
    output: ValueId,
    loss: &LossSpec,
) -> Detection {
    let graph = &ctx.model.graph;
    let what = analysis::describe_op(graph.op(op));
    let (gets, label) = match input {
        Input::Probabilities(act) => (
            format!("{} probabilities", act.name().to_lowercase()),
            format!(
                "{} here: probabilities, not log-probabilities",
                act.name().to_lowercase()
            ),
        ),
        Input::Logits => (
            "raw logits".to_string(),
            "no log_softmax after this layer: raw logits".to_string(),
        ),
    };
    let mut labels = vec![Label {
        at: match input {
            Input::Probabilities(_) => At::op_key(graph, op, Part::Activation),
            Input::Logits => At::op_key(graph, op, Part::Entry),
        },
        text: label,
    }];
    if let Some(span) = loss.span {
        labels.push(Label {
            at: At::Span(span),
            text: Advice::NllLossLabel.say(loss.framework),
        });
    }
    let symptom = match input {
        Input::Probabilities(_) => "the training loss is negative and creeps towards −1; every example \
             gets the same push whatever its prediction, so confident mistakes are barely corrected and \
             accuracy stays below what a cross-entropy reaches"
            .to_string(),
        Input::Logits => "the training loss is negative and falls without bound as the model inflates \
             the target logit; training diverges (nan) while accuracy stalls"
            .to_string(),
    };
    Detection {
        message: format!(
            "`{}` is given {gets} from {what}: the loss is minus the input at the target, not a \
             cross-entropy",
            loss.written
        ),
        help: match input {
            Input::Probabilities(_) => Advice::NllOnProbabilitiesHelp,
            Input::Logits => Advice::NllOnLogitsHelp,
        }
        .say(loss.framework),
        symptom,
        labels,
        node_path: graph.op(op).origin.path.clone(),
        check: numerical_check(ctx, output, input, loss.framework),
    }
}

/// Probes the output and computes, for every probe row and every possible target class, the loss
/// PyTorch computes (−x[target]) and the cross-entropy of the same prediction (−log p[target] for
/// probabilities, −log_softmax(x)[target] for logits). A real NLL of log-probabilities is never
/// negative; the check confirms when the probes give a negative loss.
fn numerical_check(
    ctx: &RuleContext,
    output: ValueId,
    input: Input,
    framework: Framework,
) -> Check {
    let nll = Advice::NllLossName.say(framework);
    ctx.check_probed(output, |probed| {
        let width = probed.shape.last().copied().unwrap_or(1).max(1);
        let mut nll_losses = vec![];
        let mut ce = vec![];
        for row in probed.values.chunks(width) {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            for &x in row {
                nll_losses.push(-x);
                ce.push(match input {
                    Input::Probabilities(_) => -x.max(1e-12).ln(),
                    Input::Logits => log_sum - x,
                });
            }
        }
        let negative = nll_losses.iter().filter(|&&l| l < 0.0).count();
        if nll_losses.is_empty() || negative == 0 {
            return Check::Unconfirmed {
                reason: "every probe output was ≤ 0, so the loss happened to look like a negative \
                         log-likelihood on the probes"
                    .into(),
            };
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let min = nll_losses.iter().copied().fold(f64::INFINITY, f64::min);
        let share = negative as f64 / nll_losses.len() as f64;
        let floor = match input {
            Input::Probabilities(_) => {
                "its floor is −1, reached by any prediction of 1.0".to_string()
            }
            Input::Logits => format!(
                "doubling the logits doubles it (to {}): it has no minimum",
                num(2.0 * min)
            ),
        };
        Check::Confirmed {
            summary: format!(
                "on {} seeded probe rows with {}, {nll} over every possible target is negative for \
                 {:.1} % of them (as low as {}, mean {}), while the cross-entropy of the same \
                 predictions is {} on average; {floor}",
                probed.rows,
                probed.weights,
                share * 100.0,
                num(min),
                num(mean(&nll_losses)),
                num(mean(&ce)),
            ),
            numbers: vec![
                ("probe rows".into(), probed.rows as f64),
                ("share of (row, target) losses below 0".into(), share),
                (format!("lowest {nll}"), min),
                (format!("mean {nll} over targets"), mean(&nll_losses)),
                (
                    "mean cross-entropy of the same predictions".into(),
                    mean(&ce),
                ),
            ],
        }
    })
}
