//! A softmax or sigmoid output is normalised twice: stacked activations, or probabilities fed to a from_logits loss
//!
//! ## What it finds
//! - Stacked normalisations in a graph: `Softmax → Softmax`, `Sigmoid → Softmax` and `Softmax → Sigmoid`
//!   (directly or through ops that only move data), e.g. a `Softmax` layer after
//!   `Dense(10, activation="softmax")`, or `nn.Softmax` after a model that already ends in one.
//! - A loss with `from_logits=True` (or a loss that always takes logits, such as
//!   `sigmoid_cross_entropy_with_logits`) attached to an output that already ends in a softmax or
//!   sigmoid.
//!
//! ## Why it matters
//! The second activation reads probabilities as if they were logits. Probabilities lie in [0, 1], so a
//! softmax over them can barely tell classes apart: over K classes its largest output is at most
//! e/(e + K − 1), which is 0.232 for K = 10, however confident the model is. A from_logits loss on
//! probabilities does the same inside the loss: it can never reach zero, and its gradient is squashed
//! by the extra activation, so training is slow and calibration is wrong.
//!
//! ## Symptom
//! Predicted probabilities are flat (all close to 1/K) even for easy examples; thresholds such as 0.5
//! are never reached; training loss plateaus at a floor well above zero (log(1 + (K − 1)/e) ≈ 1.46 for
//! K = 10 with categorical cross-entropy) while accuracy may still look reasonable, because the arg-max
//! is preserved.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([..., keras.layers.Dense(10, activation="softmax")])
//! model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
//! ```
//! In PyTorch, a `forward` that ends in a softmax, trained with `nn.CrossEntropyLoss`, which applies
//! `log_softmax` itself:
//! ```python
//! class Net(nn.Module):
//!     def forward(self, x):
//!         return F.softmax(self.fc(x), dim=1)
//!
//! criterion = nn.CrossEntropyLoss()
//! loss = criterion(model(x), y)
//! ```
//! The same happens with `nn.Sigmoid()` before `nn.BCEWithLogitsLoss`, and with
//! `F.cross_entropy(torch.softmax(logits, dim=1), y)` in the training loop.
//!
//! ## Fix
//! Keep exactly one activation: either drop the final activation and keep `from_logits=True`
//! (applying softmax/sigmoid at inference), or keep the activation and set `from_logits=False`:
//! ```python
//! model = keras.Sequential([..., keras.layers.Dense(10)])
//! model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
//! ```
//! In PyTorch, return the logits and let the loss normalise them; take the softmax (or sigmoid, for
//! `nn.BCEWithLogitsLoss`) only where probabilities are needed:
//! ```python
//! class Net(nn.Module):
//!     def forward(self, x):
//!         return self.fc(x)  # logits
//!
//! criterion = nn.CrossEntropyLoss()
//! loss = criterion(model(x), y)
//! probs = F.softmax(model(x), dim=1)  # at inference
//! ```
//!
//! ## Fix safety
//! For a Keras loss with `from_logits=True` on a softmax or sigmoid output, `--fix` sets
//! `from_logits=False` (`True` → `False` in Python, `true` → `false` in JSON and YAML configs, only
//! that word changes). This fix is **safe**: the model's outputs stay exactly what they were, only
//! the loss stops applying a second activation; it is offered only when every output the loss
//! trains ends in a softmax or sigmoid.
//!
//! For a PyTorch loss that takes logits (`nn.CrossEntropyLoss`, `nn.BCEWithLogitsLoss`) or a TF1
//! `*_with_logits` function, `--fix --unsafe-fixes` drops the final activation: `return F.softmax(x,
//! dim=1)` becomes `return x`, `return tf.nn.softmax(out_layer)` becomes `return out_layer`, and a
//! line `x = F.softmax(x, dim=1)` or an `nn.Softmax(dim=1)` alone on its line of an `nn.Sequential`
//! is removed (a block left empty is a syntax error, so that fix is refused). This fix is **unsafe**:
//! the model then returns logits, so code that reads its output as probabilities elsewhere (a
//! confidence print, a threshold at inference) must apply the activation itself. Written inside the
//! loss call (`F.cross_entropy(torch.softmax(z, dim=1), y)`,
//! `softmax_cross_entropy_with_logits(logits=tf.nn.softmax(z), labels=y)`), the activation's result
//! has no name and nothing else reads it, so there dropping it is **safe** (`--fix` alone).
//!
//! A softmax applied to a softmax is not fixed (which one to keep is a choice), nor is an activation
//! written as a layer's argument (`Dense(10, activation="softmax")`).
//!
//! ## Formats
//! Stacked activations: ONNX graphs, Keras configs and PyTorch source (`.py`, `.ipynb`). The
//! from_logits case needs a loss, so it is found in Keras configs with a compile config and in
//! PyTorch source, from the loss call in the training loop or a Lightning `training_step`:
//! `nn.CrossEntropyLoss`, `F.cross_entropy`, `nn.BCEWithLogitsLoss` and
//! `F.binary_cross_entropy_with_logits` always take logits. ONNX carries no loss.
//!
//! ## References
//! - Keras losses, `from_logits`
//! - max softmax over K inputs in [0, 1]: e¹ / (e¹ + (K − 1)·e⁰)

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::fix::{self, Edit, Fix};
use crate::ir::{Graph, LossKind, LossSpec, OpId, Part};
use crate::ops::{self, Act};
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    let mut out = vec![];
    for id in graph.op_ids() {
        let op = graph.op(id);
        // The second activation is a standalone op; the first may be fused into a layer.
        let Some(second) =
            ops::activation(op).filter(|a| a.is_normaliser() && op.is_default_domain())
        else {
            continue;
        };
        if let Some((first, first_act)) = op
            .input(0)
            .and_then(|v| ops::activation_feeding(graph, v, Act::is_normaliser))
            && (second == Act::Softmax || first_act == Act::Softmax)
        {
            out.push(stacked(ctx, (first, first_act), (id, second)));
        }
    }
    if let Some(training) = &ctx.model.training {
        for loss in &training.losses {
            let takes_logits =
                loss.from_logits || loss.kind == LossKind::SigmoidCrossEntropyWithLogits;
            if !takes_logits {
                continue;
            }
            for (index, output) in graph.outputs.iter().enumerate() {
                if loss.output.is_some_and(|o| o != index) {
                    continue;
                }
                let head = analysis::output_head(graph, output.value, ctx.model.opset);
                if let (Some(act), Some(op)) = (head.act, head.activation_op)
                    && act.is_normaliser()
                {
                    out.push(logits_loss(ctx, (op, act), loss, head.units));
                }
            }
        }
    }
    out
}

/// A logits loss on an activated output: the loss's logits flag turned off where its framework has
/// one (safe), else the final activation dropped (unsafe; safe when it is written inside the loss
/// call). Stacked activations get no fix.
pub fn fix(ctx: &RuleContext, d: &Detection) -> Option<Fix> {
    let model = ctx.model;
    let graph = &model.graph;
    let training = model.training.as_ref()?;
    // The loss this detection labels second.
    let loss_at = d.labels.get(1)?.at;
    let loss = training
        .losses
        .iter()
        .find(|l| l.from_logits_span.or(l.span).map(At::Span) == Some(loss_at))?;
    let primary = d.labels.first()?.at;
    let act = graph.op_ids().find(|&id| {
        let op = graph.op(id);
        ops::activation(op).is_some_and(Act::is_normaliser)
            && op.is_default_domain()
            && At::op_key(graph, id, Part::Activation) == primary
            && d.node_path == op.origin.path
    })?;
    // A loss that says it takes logits by a flag: turn it off. A loss that takes logits by its name
    // (or a TF1 `*_with_logits` function, `logits=p`: no flag to change): drop the activation.
    let flag = loss
        .from_logits_span
        .filter(|_| loss.from_logits && loss.framework.logits_by_flag())
        .and_then(|span| {
            let text = fix::span_text(model, span)?.trim_end();
            let word = ["True", "true"].into_iter().find(|w| text.ends_with(w))?;
            Some((span, text, word))
        });
    if let Some((span, text, word)) = flag {
        // Every output this loss trains ends in a softmax or sigmoid.
        let all_normalised = graph.outputs.iter().enumerate().all(|(i, o)| {
            loss.output.is_some_and(|x| x != i)
                || analysis::output_head(graph, o.value, model.opset)
                    .act
                    .is_some_and(Act::is_normaliser)
        });
        if !all_normalised {
            return None;
        }
        let at = span.offset + text.len() - word.len();
        let new = if word == "True" { "False" } else { "false" };
        return Some(Fix::safe(
            Advice::LogitsFlagOffFix { value: new }.say(loss.framework),
            vec![Edit::replace(
                crate::ir::Span {
                    offset: at,
                    len: word.len(),
                },
                new,
            )],
        ));
    }
    let op = graph.op(act);
    let entry = *op.origin.spans.get(&Part::Entry)?;
    let name = *op.origin.spans.get(&Part::Class)?;
    // Only an activation that is its own call, never one written as a layer's argument: the edit
    // removes the whole call.
    let written = fix::span_text(model, name)?.to_ascii_lowercase();
    if op.origin.spans.get(&Part::Activation) != Some(&name)
        || !(written.ends_with("softmax") || written.ends_with("sigmoid"))
    {
        return None;
    }
    let edits = fix::drop_activation(model, entry, name)?;
    let kind = ops::activation(op)?.name().to_lowercase();
    // Written inline as the loss's own argument, the activation's result has no name, so nothing
    // else reads it: dropping it is safe. Anywhere else the model's output changes from
    // probabilities to logits.
    if fix::is_loss_argument(model, entry)? {
        return Some(Fix::safe(
            format!(
                "drop the {kind} inside the loss call: `{}` applies it itself",
                loss.written
            ),
            edits,
        ));
    }
    Some(Fix::unsafe_(
        format!(
            "drop the final {kind}: `{}` applies it itself (the model then returns logits)",
            loss.written
        ),
        edits,
    ))
}

fn describe(graph: &Graph, op: OpId) -> String {
    analysis::describe_op(graph.op(op))
}

fn stacked(ctx: &RuleContext, (first, a): (OpId, Act), (second, b): (OpId, Act)) -> Detection {
    let graph = &ctx.model.graph;
    let (a, b) = (a.name(), b.name());
    let classes = analysis::softmax_axis(graph, graph.op(second), ctx.model.opset)
        .and_then(|ax| ax.group_size)
        .filter(|_| b == "Softmax");
    let check = numerical_check(ctx, graph.op(second).outputs[0], classes, None);
    Detection {
        message: format!(
            "{} applied to a {} output: {} normalises probabilities that {} already produced",
            b.to_lowercase(),
            a.to_lowercase(),
            describe(graph, second),
            describe(graph, first)
        ),
        help: format!(
            "remove one of the two activations (keep the {} only once)",
            a.to_lowercase()
        ),
        symptom: flat_symptom(classes),
        labels: vec![
            Label {
                at: At::op_key(graph, second, Part::Activation),
                text: format!("second activation ({b})"),
            },
            Label {
                at: At::op_key(graph, first, Part::Activation),
                text: format!("first activation ({a})"),
            },
        ],
        node_path: graph.op(second).origin.path.clone(),
        check,
    }
}

fn logits_loss(
    ctx: &RuleContext,
    (act, activation): (OpId, Act),
    loss: &LossSpec,
    units: Option<u64>,
) -> Detection {
    let graph = &ctx.model.graph;
    let kind = activation.name().to_lowercase();
    let classes = units.filter(|_| kind == "softmax");
    let mut labels = vec![Label {
        at: At::op_key(graph, act, Part::Activation),
        text: format!("the output is already a {kind}"),
    }];
    if let Some(span) = loss.from_logits_span.or(loss.span) {
        labels.push(Label {
            at: At::Span(span),
            text: "this loss applies its own activation to the output".into(),
        });
    }
    Detection {
        message: format!(
            "loss `{}` takes logits, but {} already applies a {kind}",
            loss.written,
            describe(graph, act)
        ),
        help: Advice::LogitsLossOnActivationHelp {
            activation: &kind,
            loss: &loss.written,
            sigmoid_loss: loss.kind == LossKind::SigmoidCrossEntropyWithLogits,
        }
        .say(loss.framework),
        symptom: flat_symptom(classes),
        labels,
        node_path: graph.op(act).origin.path.clone(),
        check: numerical_check(ctx, graph.op(act).outputs[0], classes, Some(&kind)),
    }
}

fn flat_symptom(classes: Option<u64>) -> String {
    match classes {
        Some(k) if k >= 2 => format!(
            "predicted probabilities are flat: no class can exceed {} over {k} classes, so a 0.5 \
             threshold is never reached and the loss plateaus at {} or more",
            num(max_double_softmax(k)),
            num((1.0 + (k as f64 - 1.0) / std::f64::consts::E).ln())
        ),
        _ => "the loss can never reach zero and its gradient is squashed by the extra activation: \
              training is slow and the predicted probabilities are badly calibrated"
            .into(),
    }
}

/// Largest output of a softmax over `k` inputs that lie in [0, 1].
fn max_double_softmax(k: u64) -> f64 {
    let e = std::f64::consts::E;
    e / (e + k as f64 - 1.0)
}

/// Probes the (second) activation's output; for a softmax over K classes compares its largest value
/// with the bound e/(e+K−1). For a from_logits loss computes the loss floor on probabilities.
fn numerical_check(
    ctx: &RuleContext,
    value: crate::ir::ValueId,
    classes: Option<u64>,
    loss_on: Option<&str>,
) -> Check {
    ctx.check_probed(value, |probed| {
        let max = probed.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = probed.values.iter().copied().fold(f64::INFINITY, f64::min);
        let mut numbers = vec![
            ("probe rows".to_string(), probed.rows as f64),
            ("largest probe output".to_string(), max),
            ("smallest probe output".to_string(), min),
        ];
        match (loss_on, classes) {
            (None, Some(k)) => {
                let bound = max_double_softmax(k);
                if max > bound + 1e-6 {
                    return Check::Unconfirmed {
                        reason: format!("a probe output reached {} above the bound {}", num(max), num(bound)),
                    };
                }
                numbers.push(("classes".into(), k as f64));
                numbers.push(("largest reachable probability".into(), bound));
                Check::Confirmed {
                    summary: format!(
                        "on {} seeded probe rows with {}, the largest output is {} (bound e/(e+K−1) = {} for K = {k})",
                        probed.rows,
                        probed.weights,
                        num(max),
                        num(bound)
                    ),
                    numbers,
                }
            }
            (Some(kind), _) => {
                if min < 0.0 || max > 1.0 {
                    return Check::Unconfirmed {
                        reason: format!("probe outputs span [{}, {}], not [0, 1]", num(min), num(max)),
                    };
                }
                // The loss reads values in [0, 1] as logits: its floor for a correct one-hot / positive label.
                let floor = match (kind, classes) {
                    ("softmax", Some(k)) => (1.0 + (k as f64 - 1.0) / std::f64::consts::E).ln(),
                    // Sigmoid CE with logits: label 1 needs logit → ∞, but it is at most 1.
                    _ => (1.0 + (-1.0f64).exp()).ln(),
                };
                numbers.push(("loss floor with a perfect prediction".into(), floor));
                Check::Confirmed {
                    summary: format!(
                        "the output is a {kind}, so every value the loss sees as a logit lies in [{}, {}]; even a \
                         perfect prediction leaves a loss of {}",
                        num(min),
                        num(max),
                        num(floor)
                    ),
                    numbers,
                }
            }
            (None, None) => {
                // A sigmoid over probabilities: every output lies in [sigmoid(0), sigmoid(1)].
                let (lo, hi) = (0.5, 1.0 / (1.0 + (-1.0f64).exp()));
                if min < lo - 1e-6 || max > hi + 1e-6 {
                    return Check::Unconfirmed {
                        reason: format!("probe outputs span [{}, {}], outside [0.5, 0.731]", num(min), num(max)),
                    };
                }
                Check::Confirmed {
                    summary: format!(
                        "on {} seeded probe rows with {}, every output lies in [{}, {}] ⊂ [0.5, 0.731]: a 0.5 \
                         threshold calls every example positive",
                        probed.rows,
                        probed.weights,
                        num(min),
                        num(max)
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
    fn the_double_softmax_bound_matches_the_docs() {
        assert!((max_double_softmax(10) - 0.232).abs() < 1e-3);
        assert!((max_double_softmax(2) - 0.731).abs() < 1e-3);
    }
}
