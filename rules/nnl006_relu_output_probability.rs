//! A ReLU (or other unbounded non-negative activation) ends an output that is used as a probability
//!
//! ## What it finds
//! A graph output whose final activation is `Relu`, `Softplus` or `ThresholdedRelu` (through ops that
//! only move data), when that output is meant to be a probability, a class distribution or a mask: the
//! user declared it so (`[outputs]` in the config, `--output-intent`), a loss or metric consumes it as
//! probabilities (binary or categorical cross-entropy with `from_logits=False`), a consumer in the
//! graph reads it as one (ZipMap, a comparison with 0.5), or its name says so (`probs`, `mask`,
//! `confidence`, `scores`, … as whole tokens).
//!
//! ## Why it matters
//! ReLU outputs are unbounded above and exactly zero for every negative pre-activation. As
//! "probabilities" they exceed 1, do not sum to 1, and a large share are exactly 0. A cross-entropy
//! on them takes log(0), which frameworks clip (Keras to 1e−7), so those units receive no gradient and
//! stay dead for good.
//!
//! ## Symptom
//! Training stalls with many outputs stuck at exactly 0 (dead units) and the loss pinned near the
//! clipping floor; at inference "probabilities" above 1 or rows summing far from 1, thresholds at
//! 0.5 that fire unpredictably, and calibration metrics that make no sense.
//!
//! ## Example
//! ```python
//! outputs = keras.layers.Dense(3, activation="relu", name="class_probs")(x)
//! model.compile(loss="categorical_crossentropy")
//! ```
//! In PyTorch, a ReLU head trained with `nn.BCELoss`:
//! ```python
//! model = nn.Sequential(
//!     nn.Linear(8, 1),
//!     nn.ReLU(),  # 0 below zero, unbounded above
//! )
//! criterion = nn.BCELoss()
//! loss = criterion(model(x), y)
//! ```
//! `BCELoss` raises `RuntimeError: all elements of input should be between 0 and 1` as soon as a
//! batch holds an output above 1; outputs stuck at 0 cost 100 for a positive label (log 0 is clamped
//! to −100) and get no gradient through the ReLU.
//!
//! ## Fix
//! Use the activation that matches the meaning: softmax for one class out of K, sigmoid for independent
//! yes/no outputs or masks:
//! ```python
//! outputs = keras.layers.Dense(3, activation="softmax", name="class_probs")(x)
//! ```
//! In PyTorch, end in `nn.Sigmoid()` instead of the ReLU and keep `nn.BCELoss`, or, more stably,
//! return the logit and train with `nn.BCEWithLogitsLoss`, which applies the sigmoid itself:
//! ```python
//! model = nn.Sequential(nn.Linear(8, 1))  # one logit
//! criterion = nn.BCEWithLogitsLoss()
//! loss = criterion(model(x), y)
//! ```
//!
//! ## Formats
//! ONNX graphs (intent from a declaration, a consumer or the output's name) and Keras configs (also
//! from the compiled loss). PyTorch source (`.py`, `.ipynb`): the head ends in `nn.ReLU`, `F.relu`,
//! `nn.Softplus` or `F.softplus`, and the intent comes from a probability loss that the training
//! loop or a Lightning `training_step` calls on the output (`nn.BCELoss`, `F.binary_cross_entropy`)
//! or from a declaration. A 0.5 threshold in evaluation code does not make the output a probability
//! there, and losses that take logits (`nn.CrossEntropyLoss`, `nn.BCEWithLogitsLoss`) are not
//! probability losses.
//!
//! ## References
//! - Keras `categorical_crossentropy` / `binary_crossentropy` (ε = 1e−7 clipping)

use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Intent, IntentSource, OpId, Part, ValueId};
use crate::ops::Act;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    graph
        .outputs
        .iter()
        .filter(|o| {
            matches!(
                o.intent,
                Intent::Probability | Intent::Distribution | Intent::Mask
            )
        })
        .filter_map(|o| {
            let head = analysis::output_head(graph, o.value, ctx.model.opset);
            let (op, act) = (head.activation_op?, head.act?);
            act.is_unbounded_non_negative()
                .then(|| finding(ctx, (op, act), o.value, o.intent, &o.intent_source))
        })
        .collect()
}

fn finding(
    ctx: &RuleContext,
    (act, activation): (OpId, Act),
    output: ValueId,
    intent: Intent,
    source: &IntentSource,
) -> Detection {
    let graph = &ctx.model.graph;
    let op = graph.op(act);
    let out_name = &graph.value(output).name;
    let meaning = match intent {
        Intent::Distribution => "a class distribution",
        Intent::Mask => "a mask",
        _ => "a probability",
    };
    let because = match source {
        IntentSource::Declared => "as declared in the configuration".to_string(),
        IntentSource::TrainingSpec => "by its loss".to_string(),
        IntentSource::Consumer => "by a consumer in the graph".to_string(),
        IntentSource::Name(n) => format!("by its name `{n}`"),
        IntentSource::None => String::new(),
    };
    let what = analysis::describe_op(op);
    Detection {
        message: format!(
            "{} output used as {meaning}: `{out_name}` (read as {meaning} {because}) ends in {what}",
            activation.name().to_lowercase()
        ),
        help: match intent {
            Intent::Distribution => "end the head in a softmax over the class axis".into(),
            _ => "end the head in a sigmoid (independent probabilities, masks) or a softmax (one class out of K)".into(),
        },
        symptom: "outputs stuck at exactly 0 get no gradient through a clipped log and stay dead; the rest \
                  exceed 1 or do not sum to 1, so thresholds and calibration are meaningless"
            .into(),
        labels: vec![Label {
            at: At::op_key(graph, act, Part::Activation),
            text: format!(
                "{} is unbounded above and exactly 0 below zero",
                activation.name()
            ),
        }],
        node_path: op.origin.path.clone(),
        check: numerical_check(ctx, output),
    }
}

fn numerical_check(ctx: &RuleContext, output: ValueId) -> Check {
    ctx.check_probed(output, |probed| {
        let total = probed.values.len().max(1) as f64;
        let zeros = probed.values.iter().filter(|&&v| v == 0.0).count() as f64;
        let above = probed.values.iter().filter(|&&v| v > 1.0).count() as f64;
        let max = probed.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Row sums over the last axis.
        let width = probed.shape.last().copied().unwrap_or(1).max(1);
        let sums: Vec<f64> = probed.values.chunks(width).map(|r| r.iter().sum()).collect();
        let max_dev = sums.iter().map(|s| (s - 1.0).abs()).fold(0.0, f64::max);
        if zeros == 0.0 && above == 0.0 && (width == 1 || max_dev < 1e-3) {
            return Check::Unconfirmed {
                reason: "on the probes every output happened to lie in (0, 1]".into(),
            };
        }
        Check::Confirmed {
            summary: format!(
                "on {} seeded probe rows with {}: {} of outputs are exactly 0, {} exceed 1 (max {}){}",
                probed.rows,
                probed.weights,
                pct(zeros / total),
                pct(above / total),
                num(max),
                if width > 1 {
                    format!(", and row sums are off from 1 by up to {}", num(max_dev))
                } else {
                    String::new()
                }
            ),
            numbers: vec![
                ("probe rows".into(), probed.rows as f64),
                ("share exactly 0".into(), zeros / total),
                ("share above 1".into(), above / total),
                ("largest output".into(), max),
                ("max |row sum - 1|".into(), max_dev),
            ],
        }
    })
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}
