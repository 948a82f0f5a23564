//! Categorical cross-entropy on outputs that are not a softmax distribution (sigmoid reconstructions, multi-label sigmoids, ReLU)
//!
//! ## What it finds
//! `categorical_crossentropy` (with `from_logits=False`) on an output whose final activation is not a
//! softmax but an activation that squashes each unit on its own: sigmoid (autoencoder
//! reconstructions, multi-label heads), hard sigmoid or tanh. To keep one finding per bug, linear
//! outputs under a probability loss are NNL004, ReLU-like outputs are NNL006, and integer-label
//! `sparse_categorical_crossentropy` on sigmoids is NNL007.
//!
//! ## Why it matters
//! Categorical cross-entropy −Σ y·log ŷ assumes ŷ is one distribution over the classes. On independent
//! outputs, the raw formula rewards predicting 1 everywhere: the constant all-ones output has loss 0,
//! lower than a perfect reconstruction's. Keras hides this by dividing ŷ by its row sum before the log,
//! but then the loss is identical for ŷ and c·ŷ: the outputs' scale is never learned. Only their
//! ratios are.
//!
//! ## Symptom
//! An autoencoder whose reconstructions come out washed out or uniformly bright while the loss keeps
//! falling. Multi-label outputs whose magnitudes drift and cannot be thresholded at 0.5. Sigmoid
//! "probabilities" that do not match label frequencies.
//!
//! ## Example
//! ```python
//! decoded = keras.layers.Dense(784, activation="sigmoid")(code)
//! autoencoder.compile(loss="categorical_crossentropy")
//! ```
//! The same loss written by hand, in a loss function of the file or in TF1 graph code:
//! ```python
//! def my_crossentropy(y_true, y_pred):
//!     return -K.sum(y_true * K.log(y_pred), axis=-1)
//!
//! tags = keras.layers.Dense(8, activation="sigmoid")(h)
//! model.compile(optimizer="adam", loss=my_crossentropy)
//!
//! # TF1
//! cost = tf.reduce_mean(-tf.reduce_sum(y * tf.log(tf.nn.sigmoid(logits)), reduction_indices=[1]))
//! ```
//! PyTorch code writes it by hand too, on an autoencoder ending in `nn.Sigmoid()`:
//! ```python
//! p = autoencoder(x)
//! loss = -(x * torch.log(p + 1e-8)).sum(1).mean()
//! ```
//!
//! ## Fix
//! Reconstructions and multi-label outputs: `binary_crossentropy` (or MSE for reconstructions).
//! Single-label classes: a softmax output with categorical cross-entropy.
//! ```python
//! autoencoder.compile(loss="binary_crossentropy")
//! ```
//!
//! ## Formats
//! Keras configs with a compile config (JSON, YAML, `.keras`); Python source, where a loss function
//! the file defines is read by what it computes (`-K.sum(y_true * K.log(y_pred), axis=-1)`,
//! `K.categorical_crossentropy(...)`) and TF1 and PyTorch hand-written cross-entropy by its terms
//! (`y * tf.log(p)`, `y * torch.log(p)`, summed or averaged). ONNX graphs carry no loss. PyTorch's
//! own losses do not arise: PyTorch has no categorical cross-entropy that takes probabilities
//! (`nn.CrossEntropyLoss` and `F.cross_entropy` take logits and apply `log_softmax` themselves), so a
//! `CrossEntropyLoss` on sigmoid outputs is reported as NNL005, an activation before a loss that
//! takes logits.
//!
//! ## References
//! - Keras `categorical_crossentropy` (divides `y_pred` by its sum, clips to [1e−7, 1−1e−7])

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::advice::Advice;
use crate::analysis::{self, num, renormalised_cce};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Framework, LossKind, LossSpec, OpId, Part, ValueId};
use crate::ops::Act;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let model = ctx.model;
    let graph = &model.graph;
    let mut out = vec![];
    for (loss, index) in analysis::losses_by_output(model) {
        if loss.kind != LossKind::CategoricalCrossentropy || loss.from_logits {
            continue;
        }
        let value = graph.outputs[index].value;
        let head = analysis::output_head(graph, value, model.opset);
        let (Some(act), Some(op)) = (head.act, head.activation_op) else {
            continue;
        };
        // Only activations that squash each unit on its own: ReLU-like outputs under a probability
        // loss are NNL006's finding, and one unit is NNL007's (the loss is constant there).
        if !act.is_independent_squash() || head.units.is_some_and(|u| u < 2) {
            continue;
        }
        out.push(finding(ctx, loss, value, (op, act)));
    }
    out
}

fn finding(
    ctx: &RuleContext,
    loss: &LossSpec,
    value: ValueId,
    (act, activation): (OpId, Act),
) -> Detection {
    let graph = &ctx.model.graph;
    let op = graph.op(act);
    let kind = activation.name().to_lowercase();
    let what = analysis::describe_op(op);
    let mut labels = vec![Label {
        at: At::op_key(graph, act, Part::Activation),
        text: format!("{kind}: each unit on its own, not one distribution"),
    }];
    if let Some(span) = loss.span {
        labels.push(Label {
            at: At::Span(span),
            text: "categorical cross-entropy assumes a distribution".into(),
        });
    }
    Detection {
        message: format!(
            "`{}` on independent {kind} outputs: {what} produces `{}`, which is not a softmax distribution",
            loss.written,
            graph.value(value).name
        ),
        help: Advice::IndependentOutputsHelp {
            sigmoid: kind == "sigmoid",
        }
        .say(loss.framework),
        symptom: Advice::IndependentOutputsSymptom.say(loss.framework),
        labels,
        node_path: op.origin.path.clone(),
        check: numerical_check(ctx, value, loss.framework),
    }
}

/// Shows, on probed outputs with seeded targets, that the raw loss prefers the all-ones prediction
/// to a perfect one and that Keras's loss cannot tell ŷ from 0.5·ŷ.
fn numerical_check(ctx: &RuleContext, value: ValueId, framework: Framework) -> Check {
    ctx.check_probed(value, |probed| {
        let width = probed.shape.last().copied().unwrap_or(1).max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.probe.seed ^ 0x4e4e_4c30_3032);
        let raw = |y: &[f32], p: &[f32]| -> f32 {
            y.iter().zip(p).map(|(&y, &p)| -y * p.clamp(1e-7, 1.0).ln()).sum()
        };
        let (mut raw_perfect, mut raw_ones, mut renormalised_gap, mut rows) = (0.0f64, 0.0f64, 0.0f32, 0usize);
        for row in probed.values.chunks(width) {
            let pred: Vec<f32> = row.iter().map(|&v| v as f32).collect();
            // Targets in [0, 1] like pixels or multi-hot labels; the perfect prediction is the target.
            let target: Vec<f32> = (0..width).map(|_| rng.random::<f32>()).collect();
            raw_perfect += raw(&target, &target) as f64;
            raw_ones += raw(&target, &vec![1.0; width]) as f64;
            if pred.iter().sum::<f32>() > 0.0 {
                let halved: Vec<f32> = pred.iter().map(|v| v * 0.5).collect();
                renormalised_gap = renormalised_gap.max((renormalised_cce(&target, &pred) - renormalised_cce(&target, &halved)).abs());
            }
            rows += 1;
        }
        let n = rows.max(1) as f64;
        let (raw_perfect, raw_ones) = (raw_perfect / n, raw_ones / n);
        if raw_ones >= raw_perfect || renormalised_gap > 1e-4 {
            return Check::Unconfirmed {
                reason: "the probes did not show the scale blindness (outputs may be degenerate)".into(),
            };
        }
        Check::Confirmed {
            summary: format!(
                "on {rows} seeded rows of targets in [0, 1]: raw −Σ y·log ŷ is {} for a perfect reconstruction but {} for \
                 predicting 1 everywhere; {} on the probed outputs ({}) changes by at most {} when \
                 they are halved",
                num(raw_perfect),
                num(raw_ones),
                Advice::RenormalisedLossName.say(framework),
                probed.weights,
                num(renormalised_gap as f64)
            ),
            numbers: vec![
                ("rows".into(), rows as f64),
                ("raw loss, perfect prediction".into(), raw_perfect),
                ("raw loss, all ones".into(), raw_ones),
                (Advice::RenormalisedGapName.say(framework), renormalised_gap as f64),
            ],
        }
    })
}
