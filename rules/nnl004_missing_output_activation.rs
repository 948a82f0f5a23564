//! Logits reach something that expects probabilities: a probability loss on a linear output, or a logits-trained model shipped without its sigmoid
//!
//! ## What it finds
//! - **A probability loss on logits**: `binary_crossentropy`, `categorical_crossentropy` or
//!   `sparse_categorical_crossentropy` with `from_logits=False` (the default) on an output with no
//!   final activation.
//! - **The missing test-time activation**: a model trained on logits (`from_logits=True`,
//!   `sigmoid_cross_entropy_with_logits`, `BCEWithLogitsLoss`) whose inference output has no final
//!   activation, while the output is declared or named as a probability or mask (`probs`, `mask`,
//!   `confidence`, …) or a metric thresholds it at 0.5 (Keras `"accuracy"` on one unit). In ONNX graphs,
//!   which carry no loss: a linear output declared or named as a probability or mask.
//!
//! ## Why it matters
//! Logits are unbounded. A loss with `from_logits=False` clips them to [1e−7, 1−1e−7] (Keras); every
//! clipped value has zero gradient, so most of the head stops learning. When the sigmoid was only in
//! the loss, the shipped model returns raw logits: a "mask" with values like −7.3 and 12.1, "probabilities"
//! that are negative or above 1, and a 0.5 threshold at logit 0.5 (probability 0.62) instead of at 0.
//!
//! ## Symptom
//! Training with a probability loss on logits: loss stuck near 16.1 × the share of wrongly signed
//! outputs, accuracy that barely moves. Shipped without the sigmoid: masks and scores outside [0, 1],
//! thresholds that select the wrong pixels, metrics that disagree with training.
//!
//! ## Example
//! ```python
//! mask_logits = keras.layers.Conv2D(1, 1, name="mask")(x)            # no activation
//! model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True),
//!               metrics=["accuracy"])                                 # thresholds logits at 0.5
//! ```
//! In PyTorch, a model that ends in `nn.Linear` trained with `nn.BCELoss`, which expects
//! probabilities and raises `RuntimeError: all elements of input should be between 0 and 1` as soon
//! as a batch holds an output outside [0, 1]:
//! ```python
//! model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))  # a logit
//! criterion = nn.BCELoss()
//! loss = criterion(model(x), y)
//! ```
//! or one trained correctly with `nn.BCEWithLogitsLoss` whose evaluation code thresholds the logit
//! at 0.5 (probability 0.62):
//! ```python
//! criterion = nn.BCEWithLogitsLoss()
//! loss = criterion(model(x), y)
//! with torch.no_grad():
//!     preds = model(x_val) > 0.5
//! ```
//! The threshold is read wherever the inference code is: a `predict` or `evaluate` method or
//! function, a `with torch.no_grad():` block, a Lightning `predict_step`. In TF1 graph code, the
//! logits trained with `sigmoid_cross_entropy_with_logits` and fetched for validation:
//! ```python
//! loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=masks, logits=logits))
//! pred = sess.run(logits, feed_dict={images: val_x})
//! mask = (pred > 0.5).astype(np.uint8)                                # a "mask" of logits
//! ```
//!
//! ## Fix
//! Add the activation to the inference graph (`activation="sigmoid"` / `"softmax"`, or a separate
//! output for probabilities), or keep the logits and set `from_logits=True`, applying the activation at
//! test time. For metrics on logits use `keras.metrics.BinaryAccuracy(threshold=0.0)`.
//!
//! In PyTorch, train the logit with `nn.BCEWithLogitsLoss` (it applies the sigmoid itself) and apply
//! `torch.sigmoid` before any threshold, or compare the logit with 0:
//! ```python
//! criterion = nn.BCEWithLogitsLoss()
//! loss = criterion(model(x), y)
//! preds = torch.sigmoid(model(x_val)) > 0.5  # or: model(x_val) > 0
//! ```
//!
//! ## Fix safety
//! Only a probability loss given logits is fixed; the missing test-time activation is not (where
//! to apply it is a choice). A Keras loss whose `from_logits` is written as `False`/`false` gets
//! `True`/`true` (**safe**: the model's outputs stay as they are; a 0.5 threshold on them would then
//! be reported, so the re-lint refuses the fix there). Otherwise a Keras config's
//! `"activation": "linear"` on the output layer becomes `"sigmoid"` (binary cross-entropy) or
//! `"softmax"` (categorical), and a Python `Dense(1)` written without an activation gets
//! `, activation="sigmoid"` (**unsafe**: the model then returns probabilities where code may read
//! logits). In PyTorch `nn.BCELoss` becomes `nn.BCEWithLogitsLoss` and `F.binary_cross_entropy`
//! becomes `F.binary_cross_entropy_with_logits` (**unsafe**: the loss object may be shared; a 0.5
//! threshold on the logits is then reported and the re-lint refuses the fix).
//!
//! ## Formats
//! Keras configs (with the loss) and ONNX graphs (from a declared intent or the output's name).
//! PyTorch source (`.py`, `.ipynb`): the loss the training loop or a Lightning `training_step` calls
//! on the model's output (`nn.BCELoss` or `F.binary_cross_entropy` on a linear output), and a 0.5
//! threshold in evaluation code (`model(x) > 0.5`, `torch.round(model(x))`) on a model trained with
//! `nn.BCEWithLogitsLoss` or `F.binary_cross_entropy_with_logits`.
//!
//! ## References
//! - Keras losses, `from_logits`; `tf.nn.sigmoid_cross_entropy_with_logits`

use crate::advice::{self, Advice, FixKind};
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::fix::Fix;
use crate::intent;
use crate::ir::{
    CLIP_EPSILON, Framework, Intent, IntentSource, LossKind, LossSpec, Part, TrainingSpec, ValueId,
};
use crate::ops;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

/// The output is computed by an affine op (through data movers only) and no activation follows.
fn is_linear_output(ctx: &RuleContext, value: ValueId) -> bool {
    let graph = &ctx.model.graph;
    analysis::output_head(graph, value, ctx.model.opset)
        .activation
        .is_none()
        && ops::source_op(graph, value).is_some_and(|(_, op)| ops::is_affine(op))
}

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let model = ctx.model;
    let graph = &model.graph;
    let mut out = vec![];
    let mut flagged = vec![];
    for (loss, index) in analysis::losses_by_output(model) {
        let value = graph.outputs[index].value;
        if !is_linear_output(ctx, value) || flagged.contains(&index) {
            continue;
        }
        let prob_loss = matches!(
            loss.kind,
            LossKind::BinaryCrossentropy
                | LossKind::CategoricalCrossentropy
                | LossKind::SparseCategoricalCrossentropy
        );
        if prob_loss && !loss.from_logits {
            out.push(probability_loss_on_logits(ctx, loss, value));
            flagged.push(index);
        }
    }
    // The missing test-time activation.
    let trained_on_logits = |index: usize| {
        analysis::losses_by_output(model).into_iter().any(|(l, i)| {
            i == index && (l.from_logits || l.kind == LossKind::SigmoidCrossEntropyWithLogits)
        })
    };
    let thresholds = |index: usize| {
        model.training.as_ref().and_then(|t| {
            t.metrics
                .iter()
                .find(|m| m.threshold == Some(0.5) && m.output.is_none_or(|o| o == index))
        })
    };
    for (index, o) in graph.outputs.iter().enumerate() {
        if flagged.contains(&index) || !is_linear_output(ctx, o.value) {
            continue;
        }
        let probability_like =
            |i: Intent| matches!(i, Intent::Probability | Intent::Mask | Intent::Distribution);
        let declared_prob = probability_like(o.intent)
            && matches!(
                o.intent_source,
                IntentSource::Declared | IntentSource::Name(_)
            );
        // A logits loss makes the output's intent "logits", but a name such as `mask` says what it is
        // used as after training: the missing test-time sigmoid.
        let out_name = &graph.value(o.value).name;
        let named_prob = o.name_speaks
            && trained_on_logits(index)
            && o.intent_source == IntentSource::TrainingSpec
            && intent::from_name_unambiguous(out_name).is_some_and(probability_like);
        let source = if named_prob {
            IntentSource::Name(out_name.clone())
        } else {
            o.intent_source.clone()
        };
        let metric = if trained_on_logits(index) {
            thresholds(index)
        } else {
            None
        };
        if declared_prob || named_prob || metric.is_some() {
            out.push(missing_activation(
                ctx,
                o.value,
                &source,
                metric.and_then(|m| m.span),
                trained_on_logits(index),
            ));
        }
    }
    out
}

/// A probability loss on logits: the loss told to take logits, else the output layer given its
/// activation (the edits, in the loss's framework: [`FixKind::LogitsForProbabilityLoss`]).
pub fn fix(ctx: &RuleContext, d: &Detection) -> Option<Fix> {
    let model = ctx.model;
    let graph = &model.graph;
    if !d.message.contains("expects probabilities but") {
        return None;
    }
    let (loss, index) = analysis::losses_by_output(model)
        .into_iter()
        .find(|(l, i)| {
            d.message.starts_with(&format!("`{}` ", l.written))
                && node_path(ctx, graph.outputs[*i].value) == d.node_path
        })?;
    let output = graph
        .value(graph.outputs[index].value)
        .producer
        .map(|p| graph.op(p));
    advice::fix(
        model,
        FixKind::LogitsForProbabilityLoss { loss, output },
        loss.framework,
    )
}

fn out_label(ctx: &RuleContext, value: ValueId, text: String) -> Option<Label> {
    let p = ctx.model.graph.value(value).producer?;
    Some(Label {
        at: At::op_key(&ctx.model.graph, p, Part::Activation),
        text,
    })
}

fn node_path(ctx: &RuleContext, value: ValueId) -> String {
    let g = &ctx.model.graph;
    g.value(value).producer.map_or_else(
        || g.value(value).name.clone(),
        |p| g.op(p).origin.path.clone(),
    )
}

fn probability_loss_on_logits(ctx: &RuleContext, loss: &LossSpec, value: ValueId) -> Detection {
    let name = ctx.model.graph.value(value).name.clone();
    let mut labels: Vec<Label> = out_label(ctx, value, "no activation: these are logits".into())
        .into_iter()
        .collect();
    if let Some(span) = loss.span {
        labels.push(Label {
            at: At::Span(span),
            text: Advice::ExpectsProbabilitiesLabel.say(loss.framework),
        });
    }
    Detection {
        message: format!(
            "`{}` expects probabilities but `{name}` has no final activation",
            loss.written
        ),
        help: Advice::ProbabilityLossOnLogitsHelp {
            loss: &loss.written,
        }
        .say(loss.framework),
        symptom: Advice::ProbabilityLossOnLogitsSymptom.say(loss.framework),
        labels,
        node_path: node_path(ctx, value),
        check: outside_check(ctx, value, Bound::Clipped),
    }
}

fn missing_activation(
    ctx: &RuleContext,
    value: ValueId,
    source: &IntentSource,
    metric: Option<crate::ir::Span>,
    logits_loss: bool,
) -> Detection {
    let name = ctx.model.graph.value(value).name.clone();
    let why = match source {
        IntentSource::Declared => "is declared a probability".to_string(),
        IntentSource::Name(n) => format!("is named `{n}`"),
        _ => "is thresholded at 0.5 by a metric".to_string(),
    };
    let mut labels: Vec<Label> = out_label(ctx, value, "no sigmoid/softmax here".into())
        .into_iter()
        .collect();
    if let Some(span) = metric {
        labels.push(Label {
            at: At::Span(span),
            text: "thresholds the logits at 0.5".into(),
        });
    }
    Detection {
        message: format!(
            "`{name}` {why} but outputs raw logits{}",
            if logits_loss { " (the model was trained with a logits loss, so the activation lived only in the loss)" } else { "" }
        ),
        // Words for the training that left the activation in the loss (an exported graph's
        // producer does not count here).
        help: Advice::MissingActivationHelp.say(
            ctx.model
                .training
                .as_ref()
                .map_or(Framework::Unknown, TrainingSpec::framework),
        ),
        symptom: "scores and masks outside [0, 1]; a 0.5 threshold on logits selects the wrong examples or pixels".into(),
        labels,
        node_path: node_path(ctx, value),
        check: outside_check(ctx, value, Bound::Unit),
    }
}

/// What the probed outputs are compared with.
#[derive(Clone, Copy)]
enum Bound {
    /// The open interval (ε, 1−ε) Keras clips probabilities to before the log.
    Clipped,
    /// [0, 1], where probabilities and masks live.
    Unit,
}

/// The share of probed outputs outside `bound`; unconfirmed when there are none.
fn outside_check(ctx: &RuleContext, value: ValueId, bound: Bound) -> Check {
    ctx.check_probed(value, |probed| {
        let eps = CLIP_EPSILON as f64;
        let outside = |v: f64| match bound {
            Bound::Clipped => v <= eps || v >= 1.0 - eps,
            Bound::Unit => !(0.0..=1.0).contains(&v),
        };
        let share = probed.values.iter().filter(|&&v| outside(v)).count() as f64
            / probed.values.len().max(1) as f64;
        let min = probed.values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = probed
            .values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let (interval, effect) = match bound {
            Bound::Clipped => (
                "(ε, 1−ε)",
                "fall outside (ε, 1−ε) and are clipped by the loss, so their gradient is 0"
                    .to_string(),
            ),
            Bound::Unit => (
                "[0, 1]",
                format!("lie outside [0, 1] (min {}, max {})", num(min), num(max)),
            ),
        };
        if share == 0.0 {
            return Check::Unconfirmed {
                reason: format!(
                    "every probe output happened to lie {} {interval}",
                    if matches!(bound, Bound::Unit) {
                        "in"
                    } else {
                        "inside"
                    }
                ),
            };
        }
        let mut numbers = vec![("probe rows".to_string(), probed.rows as f64)];
        match bound {
            Bound::Clipped => numbers.push(("share clipped to ε or 1−ε".into(), share)),
            Bound::Unit => numbers.extend([
                ("share outside [0, 1]".to_string(), share),
                ("min".to_string(), min),
                ("max".to_string(), max),
            ]),
        }
        Check::Confirmed {
            summary: format!(
                "on {} seeded probe rows with {}, {:.1} % of the outputs {effect}",
                probed.rows,
                probed.weights,
                100.0 * share
            ),
            numbers,
        }
    })
}
