//! The labels name a different number of classes than the head or its loss can represent
//!
//! ## What it finds
//! A head trained on labels whose classes the file states: a known dataset (the Keras datasets
//! `mnist`, `fashion_mnist`, `cifar10`, `cifar100`, `imdb`, `reuters`; the torchvision datasets
//! `MNIST`, `FashionMNIST`, `KMNIST`, `QMNIST`, `CIFAR10`, `CIFAR100`, `SVHN`, `STL10`) or a one-hot
//! encoding of a stated width (`to_categorical(y, 10)`, `one_hot(y, 10)`), followed from where they
//! are loaded to the call that trains on them (`fit(x, y)`, the loss's target, a `for x, y in
//! loader` loop):
//! - **a binary loss on labels of more than two classes**: binary cross-entropy (on one sigmoid unit
//!   or on logits) given class indices up to 9;
//! - **fewer outputs than classes**: a 5-way head trained on 10 classes;
//! - **more outputs than classes**: a 10-way head trained on a two-class dataset.
//!
//! Labels the code changes on the way (`y == 3`, `y[y < 2]`, `y % 2`, a function nnlint does not
//! know) are not followed: they may name other classes.
//!
//! ## Why it matters
//! Binary cross-entropy is −[y·log p + (1 − y)·log(1 − p)]. For a label y > 1 the second term
//! changes sign, so the loss has no lower bound: it rewards pushing p to 1 harder the larger the
//! class index. The model learns "1 for every class but 0", and the loss goes negative.
//! A head with fewer outputs than classes has no score for the labels past its width: the
//! cross-entropy indexes outside the row. A head with more outputs than classes trains, but part
//! of its probability always goes to classes that never occur, and top-k or per-class readings
//! count them.
//!
//! ## Symptom
//! Binary loss: the loss turns negative and keeps falling while accuracy stays at the share of
//! classes 0 and 1 (≈ 0.2 on ten balanced classes). Too few outputs: training stops at the first
//! batch holding a label past the head's width ("Target 9 is out of bounds", "Received a label
//! value of 9 which is outside the valid range"), or the loss is NaN where the framework does not
//! check. Too many outputs: no error; the untrained head spreads most of its probability over
//! classes that cannot occur.
//!
//! ## Example
//! ```python
//! (x_train, y_train), _ = keras.datasets.mnist.load_data()
//! model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(),
//!                           layers.Dense(1, activation="sigmoid")])
//! model.compile(loss="binary_crossentropy", metrics=["accuracy"])
//! model.fit(x_train, y_train)
//! ```
//! In PyTorch, a head narrower than the dataset's classes:
//! ```python
//! train = torchvision.datasets.CIFAR10("data", train=True, transform=ToTensor())
//! model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 5))
//! for x, y in DataLoader(train, batch_size=64):
//!     loss = nn.functional.cross_entropy(model(x), y)
//! ```
//!
//! ## Fix
//! Give the head one output per class the labels name, trained with a categorical cross-entropy
//! (`Dense(10, activation="softmax")` with `sparse_categorical_crossentropy`; `nn.Linear(h, 10)`
//! with `CrossEntropyLoss`). To train a yes/no question on a multi-class dataset, turn the labels
//! into it first (`y_train == 7`) and keep one sigmoid unit with binary cross-entropy.
//!
//! ## Formats
//! Python source (`.py`, `.ipynb`): Keras and tf.keras models trained with `fit`/`train_on_batch`,
//! PyTorch and TF1 losses called on the labels. Model files carry no labels.
//!
//! ## References
//! - Keras datasets and torchvision datasets documentation (the number of classes of each)
//! - The binary cross-entropy formula: Goodfellow, Bengio, Courville, *Deep Learning*, 6.2.2

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{ClassLabels, Graph, LossKind, LossSpec, OpId, Part, ValueId};
use crate::rule::{Detection, Probed, RuleContext};

pub const SEVERITY: Severity = Severity::Error;

/// Where Keras clips probabilities before the log: the largest prediction a loss sees.
const CLIP: f64 = 1e-7;

enum Misfit {
    /// A binary loss on class indices up to `classes − 1`.
    BinaryOnClasses { classes: u64 },
    /// A `units`-way head on labels of more classes.
    TooFewOutputs { units: u64, classes: u64 },
    /// A `units`-way head on labels of fewer classes.
    TooManyOutputs { units: u64, classes: u64 },
}

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let model = ctx.model;
    let Some(training) = &model.training else {
        return vec![];
    };
    let mut out = vec![];
    for (loss, index) in analysis::losses_by_output(model) {
        let Some(labels) = training.labels.iter().find(|l| l.output == index) else {
            continue;
        };
        let value = model.graph.outputs[index].value;
        let shape = model.graph.value(value).shape.as_ref();
        // Class labels of one example each: a [batch, classes] output (or one of unknown shape).
        if shape.is_some_and(|s| s.len() != 2) {
            continue;
        }
        let head = analysis::output_head(&model.graph, value, model.opset);
        let units = head
            .units
            .or_else(|| shape.and_then(|s| s.last()).and_then(|d| d.fixed()));
        let classes = labels.classes;
        // A width the file does not state (read through a layer nnlint could not follow, or
        // set to a representative width) says nothing about the head.
        let stated_by = units_stated(&model.graph, value, head.activation_op);
        let units = units.filter(|_| stated_by.is_some());
        let binary = matches!(
            loss.kind,
            LossKind::BinaryCrossentropy | LossKind::SigmoidCrossEntropyWithLogits
        );
        let categorical = matches!(
            loss.kind,
            LossKind::CategoricalCrossentropy
                | LossKind::SparseCategoricalCrossentropy
                | LossKind::NegativeLogLikelihood
        );
        // Each output compared with its own column of the labels: a categorical loss, or a
        // binary one on one-hot rows.
        let per_class = categorical || binary && labels.one_hot;
        let misfit = match units {
            _ if binary && !labels.one_hot && classes > 2 => Misfit::BinaryOnClasses { classes },
            // One unit under a categorical loss is NNL007's.
            Some(units) if per_class && units >= 2 && units < classes => {
                Misfit::TooFewOutputs { units, classes }
            }
            Some(units) if per_class && units > classes => {
                Misfit::TooManyOutputs { units, classes }
            }
            _ => continue,
        };
        let probabilities = head.activation.as_deref() == Some("Softmax")
            || head.activation.as_deref() == Some("Sigmoid") && !loss.from_logits;
        out.push(finding(
            ctx,
            loss,
            labels,
            value,
            stated_by.or(head.activation_op),
            probabilities,
            misfit,
        ));
    }
    out
}

fn finding(
    ctx: &RuleContext,
    loss: &LossSpec,
    labels: &ClassLabels,
    value: ValueId,
    act: Option<OpId>,
    probabilities: bool,
    m: Misfit,
) -> Detection {
    let graph = &ctx.model.graph;
    let out_name = graph.value(value).name.clone();
    let head_op = graph.value(value).producer;
    let stated = Label {
        at: At::Span(labels.span.unwrap_or(crate::ir::Span { offset: 0, len: 0 })),
        text: format!(
            "{} classes{}: {}",
            labels.classes,
            if labels.one_hot { ", one-hot" } else { "" },
            labels.source
        ),
    };
    let loss_label = loss.span.map(|span| Label {
        at: At::Span(span),
        text: format!("`{}` here", loss.written),
    });
    let units_label = |text: String| {
        act.or(head_op).map(|op| Label {
            at: At::op_key(graph, op, Part::Units),
            text,
        })
    };
    let mut out_labels: Vec<Label> = vec![];
    let (message, help, symptom) = match &m {
        Misfit::BinaryOnClasses { classes } => {
            out_labels.extend(loss_label);
            out_labels.extend(units_label("a yes/no output".into()));
            (
                format!(
                    "`{}` is a yes/no loss, but the labels of `{out_name}` name {classes} classes ({})",
                    loss.written, labels.source
                ),
                Advice::BinaryLossOnClassesHelp { classes: *classes }.say(loss.framework),
                format!(
                    "labels above 1 make the loss unbounded below: it turns negative and keeps falling while accuracy stays near the share of classes 0 and 1 (≈ {} on {classes} balanced classes)",
                    num(2.0 / *classes as f64)
                ),
            )
        }
        Misfit::TooFewOutputs { units, classes } => {
            out_labels.extend(units_label(format!("{units} outputs")));
            out_labels.extend(loss_label);
            (
                format!(
                    "the head `{out_name}` has {units} outputs but its labels name {classes} classes ({})",
                    labels.source
                ),
                Advice::HeadWidthHelp { classes: *classes }.say(loss.framework),
                Advice::LabelsPastHeadSymptom {
                    units: *units,
                    classes: *classes,
                }
                .say(loss.framework),
            )
        }
        Misfit::TooManyOutputs { units, classes } => {
            out_labels.extend(units_label(format!("{units} outputs")));
            out_labels.extend(loss_label);
            (
                format!(
                    "the head `{out_name}` has {units} outputs but its labels name only {classes} classes ({}): {} of them never occur",
                    labels.source,
                    units - classes
                ),
                Advice::HeadWidthHelp { classes: *classes }.say(loss.framework),
                format!(
                    "no error: the model trains, but part of its probability always goes to {} classes that never occur, and top-k or per-class readings count them",
                    units - classes
                ),
            )
        }
    };
    out_labels.push(stated);
    let node_path = act
        .or(head_op)
        .map_or(out_name, |o| graph.op(o).origin.path.clone());
    Detection {
        message,
        help,
        symptom,
        labels: out_labels,
        node_path,
        check: numerical_check(ctx, value, probabilities, &m),
    }
}

/// The op whose unit count, as the file writes it (`Dense(10)`, `nn.Linear(h, 5)`), is the
/// output's width, reached from the output through its activation and bias.
fn units_stated(graph: &Graph, value: ValueId, activation: Option<OpId>) -> Option<OpId> {
    let mut op = activation.or(graph.value(value).producer);
    for _ in 0..4 {
        let id = op?;
        let o = graph.op(id);
        if o.origin.spans.contains_key(&Part::Units) {
            return Some(id);
        }
        // An activation or a bias add: one input computed by the model, the rest constants.
        let computed: Vec<ValueId> = o
            .inputs
            .iter()
            .flatten()
            .copied()
            .filter(|v| graph.value(*v).producer.is_some())
            .collect();
        match computed.as_slice() {
            [v] => op = graph.value(*v).producer,
            _ => return None,
        }
    }
    None
}

/// The head's probabilities on the probes: its values when they are probabilities, else a sigmoid
/// (one unit) or softmax (a row) of them.
fn probabilities_of(p: &Probed, probabilities: bool) -> Vec<Vec<f64>> {
    let width = p.shape.last().copied().unwrap_or(1).max(1);
    p.values
        .chunks(width)
        .map(|row| {
            if probabilities {
                row.to_vec()
            } else if width == 1 {
                vec![1.0 / (1.0 + (-row[0]).exp())]
            } else {
                let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = row.iter().map(|v| (v - top).exp()).collect();
                let sum: f64 = e.iter().sum();
                e.iter().map(|v| v / sum).collect()
            }
        })
        .collect()
}

/// Binary cross-entropy of a prediction `p` for a label `y`, with `p` kept in [CLIP, 1 − CLIP].
fn bce(y: f64, p: f64) -> f64 {
    let p = p.clamp(CLIP, 1.0 - CLIP);
    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
}

fn numerical_check(ctx: &RuleContext, value: ValueId, probabilities: bool, m: &Misfit) -> Check {
    ctx.check_probed(value, |p| {
        let rows = probabilities_of(&p, probabilities);
        let width = p.shape.last().copied().unwrap_or(1).max(1) as u64;
        match *m {
            Misfit::BinaryOnClasses { classes } => {
                let y = (classes - 1) as f64;
                // The first output of each row is the yes/no probability the loss reads.
                let at_probes: f64 =
                    rows.iter().map(|r| bce(y, r[0])).sum::<f64>() / rows.len().max(1) as f64;
                let at_one = bce(y, 1.0);
                if at_one >= 0.0 || at_one >= at_probes {
                    return Check::Unconfirmed {
                        reason: format!(
                            "the loss on label {y} is not lower at a prediction of 1 ({})",
                            num(at_one)
                        ),
                    };
                }
                Check::Confirmed {
                    summary: format!(
                        "on {} seeded probe rows ({}), binary cross-entropy against label {} averages {}; predicting 1 − 1e-7 instead makes it {}: the loss has no floor at 0 and keeps rewarding larger predictions",
                        p.rows,
                        p.weights,
                        classes - 1,
                        num(at_probes),
                        num(at_one)
                    ),
                    numbers: vec![
                        ("label".into(), y),
                        ("loss at the probes".into(), at_probes),
                        ("loss at a prediction of 1 − 1e-7".into(), at_one),
                    ],
                }
            }
            Misfit::TooFewOutputs { units, classes } => {
                if width != units {
                    return Check::Unconfirmed {
                        reason: format!("the evaluated head gives {width} scores per row, not {units}"),
                    };
                }
                let share = (classes - units) as f64 / classes as f64;
                Check::Confirmed {
                    summary: format!(
                        "the head evaluated on {} seeded probe rows ({}) gives {units} scores per row; labels {units} to {} ({} of a balanced dataset) have no score to be compared with",
                        p.rows,
                        p.weights,
                        classes - 1,
                        num(share)
                    ),
                    numbers: vec![
                        ("scores per row".into(), units as f64),
                        ("classes".into(), classes as f64),
                        ("share of labels out of range".into(), share),
                    ],
                }
            }
            Misfit::TooManyOutputs { units, classes } => {
                if width != units {
                    return Check::Unconfirmed {
                        reason: format!("the evaluated head gives {width} scores per row, not {units}"),
                    };
                }
                let wasted: f64 = rows
                    .iter()
                    .map(|r| r.iter().skip(classes as usize).sum::<f64>())
                    .sum::<f64>()
                    / rows.len().max(1) as f64;
                if wasted <= 0.0 {
                    return Check::Unconfirmed {
                        reason: "the untrained head puts no probability on the extra classes".into(),
                    };
                }
                Check::Confirmed {
                    summary: format!(
                        "on {} seeded probe rows ({}), the untrained head puts {} of its probability on the {} classes no label names",
                        p.rows,
                        p.weights,
                        num(wasted),
                        units - classes
                    ),
                    numbers: vec![
                        ("classes named by the labels".into(), classes as f64),
                        ("outputs".into(), units as f64),
                        ("probability on classes that never occur".into(), wasted),
                    ],
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_cross_entropy_on_a_label_above_one_has_no_floor() {
        // Label 9: the loss at 0.5 is ln 2 and falls below 0 as the prediction nears 1.
        assert!((bce(9.0, 0.5) - std::f64::consts::LN_2).abs() < 1e-9);
        assert!(bce(9.0, 0.9) < 0.0);
        assert!(bce(9.0, 1.0) < bce(9.0, 0.9));
        // Labels 0 and 1 keep it at or above 0.
        assert!(bce(1.0, 1.0) >= 0.0 && bce(0.0, 0.0) >= 0.0);
    }
}
