//! The loss does not fit the output's unit count or activation, so training optimises nothing useful
//!
//! ## What it finds
//! - **Categorical or sparse categorical cross-entropy on one unit**: with a single output unit, the
//!   normalised prediction is always 1, so the loss is identically 0 and no gradient flows.
//! - **Binary cross-entropy on a softmax over K > 2 classes**: the loss treats the K outputs as K
//!   independent yes/no questions, and Keras's string metric `"accuracy"` turns into binary accuracy,
//!   averaged over all K outputs.
//! - **Sparse categorical cross-entropy on several sigmoid units**: the loss needs one distribution over
//!   the classes, but independent sigmoids do not sum to 1. (Dense-label `categorical_crossentropy` on
//!   non-softmax outputs is NNL002.)
//!
//! ## Why it matters
//! With categorical cross-entropy on one unit, nothing learns: the loss is 0 from the first step. With
//! binary cross-entropy on a K-way softmax, the loss and the metric look fine while the model is
//! useless: predicting 0 for every class is right on K − 1 of the K binary questions, so binary
//! accuracy reads (K − 1)/K (0.9 for ten classes) on day one.
//!
//! ## Symptom
//! Loss exactly `0.0000` and unchanged weights (categorical CE on one unit). Or "accuracy" stuck at 0.90
//! for 10 classes (0.8 for 5) from the first epoch, while real top-1 accuracy is at chance (binary CE on
//! a softmax).
//!
//! ## Example
//! ```python
//! model.add(keras.layers.Dense(10, activation="softmax"))
//! model.compile(loss="binary_crossentropy", metrics=["accuracy"])
//! ```
//! In PyTorch, `nn.CrossEntropyLoss` on a one-output head:
//! ```python
//! model = nn.Sequential(nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, 1))  # one logit
//! criterion = nn.CrossEntropyLoss()
//! loss = criterion(model(x), y)  # y: class indices 0 and 1
//! ```
//! The log-softmax over one logit is 0, so the loss is exactly 0 for target 0, and PyTorch stops
//! with `IndexError: Target 1 is out of bounds` on the first batch that holds a 1.
//!
//! ## Fix
//! Match the loss to the head: one sigmoid unit with `binary_crossentropy`; K softmax units with
//! `categorical_crossentropy` (one-hot labels) or `sparse_categorical_crossentropy` (integer labels);
//! independent sigmoids (multi-label) with `binary_crossentropy`.
//!
//! In PyTorch, give `nn.CrossEntropyLoss` one logit per class, or keep one logit and train it with
//! `nn.BCEWithLogitsLoss` on float targets of shape `[batch, 1]`:
//! ```python
//! model = nn.Sequential(nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, 2))  # two classes
//! criterion = nn.CrossEntropyLoss()
//! loss = criterion(model(x), y)
//! ```
//!
//! ## Formats
//! Keras configs with a compile config (JSON, YAML, `.keras`). ONNX graphs carry no loss. PyTorch
//! source (`.py`, `.ipynb`), with the loss the training loop or a Lightning `training_step` calls on
//! the output: `nn.CrossEntropyLoss` or `F.cross_entropy` on one unit, and `nn.BCELoss` or
//! `F.binary_cross_entropy` on a softmax over more than two classes. The sparse case on sigmoids
//! does not arise there: PyTorch's cross-entropy takes logits, and a sigmoid before it is NNL005.
//!
//! ## References
//! - Keras losses and the `"accuracy"` metric resolution (binary accuracy for one unit or binary loss)

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Framework, LossKind, LossSpec, OpId, Part, ValueId};
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

enum Mismatch {
    CategoricalOnOneUnit,
    BinaryOnSoftmax(u64),
    SparseOnSigmoids(u64),
}

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let model = ctx.model;
    let graph = &model.graph;
    let mut out = vec![];
    for (loss, index) in analysis::losses_by_output(model) {
        // A library head's loss follows from its config: NNL017 reports it in the library's words.
        let library_head = model
            .training
            .as_ref()
            .is_some_and(|t| t.library_heads.iter().any(|h| h.output == index));
        if library_head {
            continue;
        }
        if loss.from_logits {
            // Logit losses normalise themselves; NNL005 covers activations before them.
            if !matches!(
                loss.kind,
                LossKind::CategoricalCrossentropy | LossKind::SparseCategoricalCrossentropy
            ) {
                continue;
            }
        }
        let value = graph.outputs[index].value;
        let head = analysis::output_head(graph, value, model.opset);
        let units = head.units.or_else(|| {
            graph
                .value(value)
                .shape
                .as_ref()
                .and_then(|s| s.last())
                .and_then(|d| d.fixed())
        });
        let act = head.activation.as_deref();
        // The loss reads the output as given: after a `Squeeze` of the unit axis (`dense(h)
        // .squeeze(-1)`, scores over sequence positions) it is no longer one unit.
        let one_unit_given = graph
            .value(value)
            .shape
            .as_ref()
            .is_none_or(|s| s.len() >= 2 && s.last().and_then(|d| d.fixed()) == Some(1));
        let mismatch = match (&loss.kind, units, act) {
            (
                LossKind::CategoricalCrossentropy | LossKind::SparseCategoricalCrossentropy,
                Some(1),
                _,
            ) if one_unit_given => Mismatch::CategoricalOnOneUnit,
            (LossKind::BinaryCrossentropy, Some(k), Some("Softmax")) if k > 2 => {
                Mismatch::BinaryOnSoftmax(k)
            }
            (LossKind::SparseCategoricalCrossentropy, Some(k), Some("Sigmoid"))
                if k > 1 && !loss.from_logits =>
            {
                Mismatch::SparseOnSigmoids(k)
            }
            _ => continue,
        };
        out.push(finding(ctx, loss, value, head.activation_op, mismatch));
    }
    out
}

fn finding(
    ctx: &RuleContext,
    loss: &LossSpec,
    value: ValueId,
    act: Option<OpId>,
    m: Mismatch,
) -> Detection {
    let graph = &ctx.model.graph;
    let out_name = graph.value(value).name.clone();
    let primary = graph.value(value).producer;
    let mut labels = vec![];
    if let Some(span) = loss.span {
        labels.push(Label {
            at: At::Span(span),
            text: format!("`{}` here", loss.written),
        });
    }
    if let Some(op) = act.or(primary) {
        labels.push(Label {
            at: At::op_key(graph, op, Part::Units),
            text: match &m {
                Mismatch::CategoricalOnOneUnit => "one unit".into(),
                Mismatch::BinaryOnSoftmax(k) => format!("softmax over {k} classes"),
                Mismatch::SparseOnSigmoids(k) => format!("{k} independent sigmoids"),
            },
        });
    }
    let node_path = act
        .or(primary)
        .map_or(out_name.clone(), |o| graph.op(o).origin.path.clone());
    let (message, help, symptom) = match &m {
        Mismatch::CategoricalOnOneUnit => (
            format!(
                "`{}` on the one-unit output `{out_name}`: the loss is constant and nothing learns",
                loss.written
            ),
            Advice::CategoricalOnOneUnitHelp.say(loss.framework),
            Advice::CategoricalOnOneUnitSymptom.say(loss.framework),
        ),
        Mismatch::BinaryOnSoftmax(k) => (
            format!(
                "`{}` on a softmax over {k} classes (`{out_name}`): each class is scored as an independent yes/no",
                loss.written
            ),
            Advice::BinaryOnSoftmaxHelp.say(loss.framework),
            format!(
                "\"accuracy\" becomes binary accuracy and reads {} for a model that predicts 0 everywhere; real top-1 accuracy stays near {}",
                num((*k as f64 - 1.0) / *k as f64),
                num(1.0 / *k as f64)
            ),
        ),
        Mismatch::SparseOnSigmoids(k) => (
            format!(
                "`{}` on {k} independent sigmoids (`{out_name}`): the loss needs one distribution over the classes",
                loss.written
            ),
            Advice::SparseOnSigmoidsHelp.say(loss.framework),
            Advice::SparseOnSigmoidsSymptom.say(loss.framework),
        ),
    };
    Detection {
        message,
        help,
        symptom,
        labels,
        node_path,
        check: numerical_check(ctx, value, &m, loss.framework),
    }
}

fn numerical_check(ctx: &RuleContext, value: ValueId, m: &Mismatch, framework: Framework) -> Check {
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.probe.seed ^ 0x4e4e_4c30_3037);
    match m {
        Mismatch::BinaryOnSoftmax(k) => {
            let k = *k as usize;
            ctx.check_probed(value, |p| {
                // Binary accuracy (threshold 0.5) against seeded one-hot labels: of the constant-zero
                // predictor, and of the untrained head's own outputs.
                let (mut zero_hits, mut hits, mut total) = (0usize, 0usize, 0usize);
                for row in p.values.chunks(k) {
                    let hot = rng.random_range(0..k);
                    for (j, &v) in row.iter().enumerate() {
                        zero_hits += usize::from(j != hot);
                        hits += usize::from((v > 0.5) == (j == hot));
                        total += 1;
                    }
                }
                let total = total.max(1) as f64;
                let (zero_acc, probe_acc) = (zero_hits as f64 / total, hits as f64 / total);
                if probe_acc <= 0.5 {
                    return Check::Unconfirmed {
                        reason: format!(
                            "the untrained head's binary accuracy on the probes is only {}",
                            num(probe_acc)
                        ),
                    };
                }
                Check::Confirmed {
                    summary: format!(
                        "on {} seeded probe rows with one-hot labels over {k} classes, predicting 0 for every class scores a binary accuracy of {}; the untrained head itself ({}) already scores {}",
                        p.rows,
                        num(zero_acc),
                        p.weights,
                        num(probe_acc)
                    ),
                    numbers: vec![
                        ("classes".to_string(), k as f64),
                        ("binary accuracy of predicting 0 everywhere".to_string(), zero_acc),
                        ("binary accuracy of the untrained head".into(), probe_acc),
                    ],
                }
            })
        }
        Mismatch::CategoricalOnOneUnit | Mismatch::SparseOnSigmoids(_) => {
            ctx.check_probed(value, |probed| {
                let width = probed.shape.last().copied().unwrap_or(1).max(1);
                let rows: Vec<Vec<f32>> = probed.values.chunks(width).map(|r| r.iter().map(|&v| v as f32).collect()).collect();
                let mut worst: f32 = 0.0;
                let mut least = f32::INFINITY;
                let mut scale_gap: f32 = 0.0;
                for row in &rows {
                    let mut labels = vec![0.0f32; width];
                    labels[rng.random_range(0..width)] = 1.0;
                    let loss = analysis::renormalised_cce(&labels, row);
                    let halved: Vec<f32> = row.iter().map(|v| v * 0.5).collect();
                    worst = worst.max(loss.abs());
                    least = least.min(loss.abs());
                    scale_gap = scale_gap.max((loss - analysis::renormalised_cce(&labels, &halved)).abs());
                }
                match m {
                    Mismatch::CategoricalOnOneUnit => {
                        if worst > 1e-6 || worst != least {
                            return Check::Unconfirmed { reason: format!("the probe loss varied up to {}", num(worst as f64)) };
                        }
                        Check::Confirmed {
                            summary: format!(
                                "with {} on {} seeded probe rows ({}), the loss is the same {} for every row (one unit divided by its own sum is 1, clipped to 1−ε), so its gradient is 0",
                                Advice::CategoricalLossName.say(framework), probed.rows, probed.weights, num(worst as f64)
                            ),
                            numbers: vec![("probe rows".into(), probed.rows as f64), ("largest |loss|".into(), worst as f64)],
                        }
                    }
                    _ => Check::Confirmed {
                        summary: format!(
                            "on {} seeded probe rows ({}), the loss for ŷ and for 0.5·ŷ differs by at most {}: the sigmoids' scale is invisible to the loss",
                            probed.rows,
                            probed.weights,
                            num(scale_gap as f64)
                        ),
                        numbers: vec![
                            ("probe rows".into(), probed.rows as f64),
                            ("max |loss(ŷ) - loss(0.5·ŷ)|".into(), scale_gap as f64),
                        ],
                    },
                }
            })
        }
    }
}
