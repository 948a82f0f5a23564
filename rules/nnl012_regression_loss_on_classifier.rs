//! A regression loss (MSE, MAE, Huber) trains a softmax or sigmoid classifier
//!
//! ## What it finds
//! A mean squared error, mean absolute error or Huber loss attached to an output that ends in a
//! softmax over K ≥ 2 classes or in a one-unit sigmoid, when the output is meant to be a class: an
//! accuracy metric is computed on it (`"accuracy"`, `"acc"`, `categorical_accuracy`,
//! `sparse_categorical_accuracy`, `binary_accuracy`), or its name says it holds class
//! probabilities. In a model with several outputs, an accuracy metric counts only when no other
//! output is trained with a cross-entropy (the metric may be that classifier's).
//!
//! ## Why it matters
//! A regression loss measures the distance between the probabilities and the labels, and its gradient
//! passes through the softmax or sigmoid on the way to the logits. There it is multiplied by
//! p·(1 − p), which vanishes exactly where the model is confidently wrong: a sigmoid at 0.99 on a
//! negative example passes on 2 · 0.99 · 0.99 · 0.01 ≈ 0.02 of the error, where cross-entropy passes on
//! 0.99. The worse the mistake, the less the model learns from it.
//!
//! ## Symptom
//! Training is slow and stalls: confidently wrong examples stop moving, accuracy plateaus below what the
//! network can reach, and the loss looks small (MSE over K classes is at most 2/K per example) even
//! while many predictions are wrong. Probabilities are poorly calibrated.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([..., keras.layers.Dense(10, activation="softmax")])
//! model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
//! ```
//! In PyTorch, `nn.MSELoss()(torch.softmax(model(x), 1), F.one_hot(y, 10).float())`.
//! In TF1, `tf.losses.mean_squared_error(labels, tf.nn.softmax(logits))`.
//!
//! ## Fix
//! Train a classifier with cross-entropy:
//! ```python
//! model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
//! # integer labels: "sparse_categorical_crossentropy"; one sigmoid unit: "binary_crossentropy"
//! ```
//! In PyTorch, return the logits and use `nn.CrossEntropyLoss` (integer labels) or
//! `nn.BCEWithLogitsLoss` (one unit); in TF1, `tf.nn.softmax_cross_entropy_with_logits` on the logits.
//!
//! ## Formats
//! Keras configs with a compile config (loss and metrics) and Python source (Keras, TF1; PyTorch
//! when an accuracy metric or the output's name shows the intent). ONNX carries no loss.
//! Autoencoders with sigmoid pixels and MSE (many sigmoid units), regression heads (linear or ReLU
//! outputs) and distillation on soft targets (no accuracy metric) are left alone.
//!
//! ## References
//! - Golik, Doetsch, Ney, "Cross-entropy vs. squared error training: a theoretical and experimental
//!   comparison", Interspeech 2013
//! - AUTOTRAINER (Zhang et al., ICSE 2021), "improper loss function"

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Intent, IntentSource, LossKind, LossSpec, MetricSpec, OpId, Part, ValueId};
use crate::ops::Act;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let model = ctx.model;
    let graph = &model.graph;
    let mut out = vec![];
    for (loss, index) in analysis::losses_by_output(model) {
        let Some(kind) = regression(loss) else {
            continue;
        };
        let output = &graph.outputs[index];
        let head = analysis::output_head(graph, output.value, model.opset);
        let (Some(act), Some(op), Some(units)) = (head.act, head.activation_op, head.units) else {
            continue;
        };
        let fits = match act {
            Act::Softmax => units >= 2,
            Act::Sigmoid => units == 1,
            _ => false,
        };
        if !fits {
            continue;
        }
        // An accuracy metric is evidence only when no other output is a cross-entropy classifier it may
        // belong to: front ends cannot always tell which output a list of metrics is for.
        // (The training spec's own list: a front end may know a loss for an output it did not lower.)
        let other_classifier = model.training.as_ref().is_some_and(|t| {
            t.losses
                .iter()
                .any(|l| l.output.is_some_and(|o| o != index) && is_cross_entropy(&l.kind))
        });
        let metric = model.training.as_ref().and_then(|t| {
            t.metrics.iter().find(|m| {
                m.output.is_none_or(|o| o == index) && is_accuracy(&m.name) && !other_classifier
            })
        });
        let named = matches!(output.intent_source, IntentSource::Name(_))
            && matches!(output.intent, Intent::Probability | Intent::Distribution);
        if metric.is_none() && !named {
            continue;
        }
        out.push(finding(ctx, (op, act), units, loss, kind, metric));
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Regression {
    Squared,
    Absolute,
    Huber,
}

fn regression(loss: &LossSpec) -> Option<Regression> {
    match &loss.kind {
        LossKind::MeanSquaredError => Some(Regression::Squared),
        LossKind::MeanAbsoluteError => Some(Regression::Absolute),
        LossKind::Other(name) => {
            let n: String = name
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase();
            (n.contains("huber") || n.contains("smoothl1")).then_some(Regression::Huber)
        }
        _ => None,
    }
}

fn is_cross_entropy(kind: &LossKind) -> bool {
    matches!(
        kind,
        LossKind::BinaryCrossentropy
            | LossKind::CategoricalCrossentropy
            | LossKind::SparseCategoricalCrossentropy
            | LossKind::SigmoidCrossEntropyWithLogits
            | LossKind::NegativeLogLikelihood
    )
}

fn is_accuracy(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        n.as_str(),
        "accuracy"
            | "acc"
            | "categoricalaccuracy"
            | "sparsecategoricalaccuracy"
            | "binaryaccuracy"
            | "topkcategoricalaccuracy"
            | "sparsetopkcategoricalaccuracy"
    )
}

fn finding(
    ctx: &RuleContext,
    (op, act): (OpId, Act),
    units: u64,
    loss: &LossSpec,
    kind: Regression,
    metric: Option<&MetricSpec>,
) -> Detection {
    let graph = &ctx.model.graph;
    let what = analysis::describe_op(graph.op(op));
    let head = if act == Act::Softmax {
        format!("a softmax over {units} classes")
    } else {
        "a one-unit sigmoid".to_string()
    };
    let mut labels = vec![];
    if let Some(span) = loss.span {
        labels.push(Label {
            at: At::Span(span),
            text: "a regression loss".into(),
        });
    }
    labels.push(Label {
        at: At::op_key(graph, op, Part::Activation),
        text: format!("{head}: a classifier"),
    });
    if let Some(span) = metric.and_then(|m| m.span) {
        labels.push(Label {
            at: At::Span(span),
            text: "accuracy: the output is a class".into(),
        });
    }
    let help = Advice::RegressionOnClassifierHelp {
        softmax: act == Act::Softmax,
    }
    .say(loss.framework);
    Detection {
        message: format!(
            "regression loss `{}` on a classifier: {what} ends in {head}",
            loss.written
        ),
        help,
        symptom: "confidently wrong examples get almost no gradient through the activation: training \
                  stalls, accuracy plateaus below what the network can reach, and the loss looks small \
                  while predictions are wrong"
            .into(),
        labels,
        node_path: graph.op(op).origin.path.clone(),
        check: numerical_check(ctx, graph.op(op).outputs[0], act, units, kind),
    }
}

/// Confidence the probes are scaled to, on a wrong class.
const CONFIDENCE: f64 = 0.99;

/// Gradient of the loss with respect to the logits for one example, per unit (Keras reduces over the
/// last axis with a mean; Huber with δ = 1, where |p − y| ≤ 1 makes it quadratic).
fn regression_grad(kind: Regression, p: &[f64], y: &[f64], softmax: bool) -> Vec<f64> {
    let k = p.len() as f64;
    let d: Vec<f64> = p
        .iter()
        .zip(y)
        .map(|(&p, &y)| match kind {
            Regression::Squared => 2.0 * (p - y) / k,
            Regression::Absolute => (p - y).signum() / k,
            Regression::Huber => (p - y) / k,
        })
        .collect();
    if softmax {
        let dot: f64 = p.iter().zip(&d).map(|(p, d)| p * d).sum();
        p.iter().zip(&d).map(|(p, d)| p * (d - dot)).collect()
    } else {
        p.iter().zip(&d).map(|(p, d)| p * (1.0 - p) * d).collect()
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// One probe row made confidently wrong: its logits scaled until the top class holds
/// [`CONFIDENCE`], the label on its least likely class. Returns (p, y).
fn confidently_wrong(probs: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let z: Vec<f64> = probs.iter().map(|&p| p.max(1e-30).ln()).collect();
    let mean = z.iter().sum::<f64>() / z.len() as f64;
    let centred: Vec<f64> = z.iter().map(|v| v - mean).collect();
    if norm(&centred) < 1e-12 {
        return None;
    }
    let top = |s: f64| {
        softmax(&centred.iter().map(|v| v * s).collect::<Vec<_>>())
            .into_iter()
            .fold(0.0, f64::max)
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while top(hi) < CONFIDENCE && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if top(mid) < CONFIDENCE {
            lo = mid
        } else {
            hi = mid
        }
    }
    let p = softmax(&centred.iter().map(|v| v * hi).collect::<Vec<_>>());
    let wrong = (0..p.len()).min_by(|&a, &b| p[a].total_cmp(&p[b]))?;
    let mut y = vec![0.0; p.len()];
    y[wrong] = 1.0;
    Some((p, y))
}

/// Probes the output, makes each probe row confidently wrong (top probability 0.99 on a class that
/// is not the label) and compares the gradient reaching the logits under the regression loss with the
/// cross-entropy's (p − y).
fn numerical_check(
    ctx: &RuleContext,
    value: ValueId,
    act: Act,
    units: u64,
    kind: Regression,
) -> Check {
    ctx.check_probed(value, |probed| {
        let k = units as usize;
        let softmax_head = act == Act::Softmax;
        if probed.shape.last().copied() != Some(k) || probed.values.is_empty() {
            return Check::Unconfirmed {
                reason: format!("the probe's shape {:?} does not end in {k} units", probed.shape),
            };
        }
        let mut ratios = vec![];
        let (mut reg_sum, mut ce_sum) = (0.0, 0.0);
        for row in probed.values.chunks_exact(k) {
            let (p, y) = if softmax_head {
                match confidently_wrong(row) {
                    Some(case) => case,
                    None => continue,
                }
            } else {
                // One sigmoid unit: confident on the side the probe leans to, the label on the other.
                let positive = row[0] >= 0.5;
                let p = if positive { CONFIDENCE } else { 1.0 - CONFIDENCE };
                (vec![p], vec![if positive { 0.0 } else { 1.0 }])
            };
            let reg = norm(&regression_grad(kind, &p, &y, softmax_head));
            let ce: Vec<f64> = p.iter().zip(&y).map(|(p, y)| p - y).collect();
            let ce = norm(&ce);
            reg_sum += reg;
            ce_sum += ce;
            ratios.push(reg / ce);
        }
        if ratios.is_empty() {
            return Check::Unconfirmed {
                reason: "every probe row was uniform, so no confident prediction could be made".into(),
            };
        }
        let n = ratios.len() as f64;
        let ratio = ratios.iter().sum::<f64>() / n;
        let worst = ratios.iter().copied().fold(0.0, f64::max);
        if worst >= 0.25 {
            return Check::Unconfirmed {
                reason: format!(
                    "on a confidently wrong probe the regression gradient reached {} of cross-entropy's",
                    num(worst)
                ),
            };
        }
        let numbers = vec![
            ("probe rows".to_string(), probed.rows as f64),
            ("confidence on the wrong class".to_string(), CONFIDENCE),
            ("mean |gradient at the logits|, regression loss".to_string(), reg_sum / n),
            ("mean |gradient at the logits|, cross-entropy".to_string(), ce_sum / n),
            ("mean ratio".to_string(), ratio),
        ];
        Check::Confirmed {
            summary: format!(
                "on {} seeded probe rows with {}, each made confidently wrong (probability {CONFIDENCE} on a \
                 wrong answer), the gradient reaching the logits is {} on average with the regression loss \
                 against {} with cross-entropy: {} of it (at most {})",
                ratios.len(),
                probed.weights,
                num(reg_sum / n),
                num(ce_sum / n),
                num(ratio),
                num(worst)
            ),
            numbers,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confident_wrong_sigmoid_passes_on_two_percent_of_the_error() {
        let g = regression_grad(Regression::Squared, &[0.99], &[0.0], false);
        assert!((g[0] - 2.0 * 0.99 * 0.99 * 0.01).abs() < 1e-12);
    }

    #[test]
    fn confident_wrong_rows_hold_the_confidence_off_the_label() {
        let (p, y) = confidently_wrong(&[0.2, 0.5, 0.3]).unwrap();
        assert!((p[1] - CONFIDENCE).abs() < 1e-9);
        assert_eq!(y, vec![1.0, 0.0, 0.0]);
        let g = norm(&regression_grad(Regression::Squared, &p, &y, true));
        let ce = norm(&p.iter().zip(&y).map(|(p, y)| p - y).collect::<Vec<_>>());
        assert!(g / ce < 0.05, "{}", g / ce);
    }
}
