//! A Hugging Face classification head whose `num_labels` or `problem_type` contradicts the labels
//!
//! ## What it finds
//! A transformers `*ForSequenceClassification` or `*ForTokenClassification` head (from a model
//! folder's `config.json`) built so that it cannot learn the classes it is given:
//! - `num_labels=1` while the config names two or more classes (`label2id` or `id2label` with names
//!   such as `NEGATIVE`/`POSITIVE`), or while the output is scored with accuracy (where the front end
//!   reads the training code): with one label and no `problem_type`, or with
//!   `problem_type="regression"`, the sequence classifier is a regressor trained with MSE;
//! - `problem_type="single_label_classification"` with one label, and a token classifier with one
//!   label: cross-entropy over a single class;
//! - `problem_type="regression"` with several labels that have class names: MSE on the logits of
//!   what is meant to be a classifier.
//!
//! A config with one label, no class names and no `problem_type` (or `"regression"`) is a
//! regression head and is left alone, and so is `problem_type="multi_label_classification"` with
//! one label (a binary head trained with BCE on its logit).
//!
//! ## Why it matters
//! transformers picks the loss from the head's width: `num_labels == 1` means regression, so
//! `AutoModelForSequenceClassification.from_pretrained(name, num_labels=1)` for a "binary"
//! classifier trains one unbounded real number with MSE against the labels 0/1. The output is not a
//! probability, and taking `argmax` over its single column (what `Trainer`'s accuracy and
//! `pipeline("text-classification")` do) answers class 0 for every input. Cross-entropy over one
//! class is worse: `log_softmax` of a single logit is 0, so the loss is 0 whatever the model
//! predicts (and a label 1 is out of range).
//!
//! ## Symptom
//! Accuracy stays at the share of class 0 however long the model trains; predictions are all one
//! class; the loss is an MSE (or exactly 0) instead of a cross-entropy near ln 2 at the start. With
//! `problem_type="single_label_classification"` and one label, training fails with
//! `IndexError: Target 1 is out of bounds` (transformers 5 refuses the config when it is loaded).
//!
//! ## Example
//! ```python
//! model = AutoModelForSequenceClassification.from_pretrained(
//!     "bert-base-uncased", num_labels=1, label2id={"NEGATIVE": 0, "POSITIVE": 1}
//! )
//! ```
//! which saves a `config.json` with `"id2label": {"0": "LABEL_0"}` and
//! `"label2id": {"NEGATIVE": 0, "POSITIVE": 1}`.
//!
//! ## Fix
//! Give a classifier one label per class, and let the labels name them:
//! ```python
//! model = AutoModelForSequenceClassification.from_pretrained(
//!     "bert-base-uncased", num_labels=2,
//!     id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1},
//! )
//! ```
//! and `problem_type="single_label_classification"` (or leave it unset with integer labels). Keep
//! `num_labels=1` only for regression, with float targets.
//!
//! ## Formats
//! Hugging Face `config.json` files (any `.json` whose content is a transformers config). Python
//! source that builds the model (`from_pretrained(..., num_labels=1)`) is checked when the Python
//! front end records the head.
//!
//! ## References
//! - transformers, `loss_utils.ForSequenceClassificationLoss` and `PreTrainedConfig`
//!   (`num_labels`, `id2label`, `problem_type`)
//! - transformers documentation, "Text classification" task guide

use crate::advice::Advice;
use crate::analysis::num;
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{HeadTask, LibraryHead, MetricSpec, OpId, Part, ProblemType, ValueId};
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let model = ctx.model;
    let graph = &model.graph;
    let Some(training) = &model.training else {
        return vec![];
    };
    training
        .library_heads
        .iter()
        .filter_map(|head| {
            let metric = accuracy_on(ctx, head.output);
            let kind = contradiction(head, metric.is_some())?;
            let output = graph.outputs.get(head.output)?.value;
            // The classifier layer that writes the output, to label and to name.
            let op = graph.value(output).producer?;
            Some(finding(ctx, head, kind, op, output, metric))
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Contradiction {
    /// One label, class names, MSE (no problem_type or "regression").
    OneLabelRegression,
    /// Cross-entropy over one class (single_label_classification, or a token head).
    OneClassCrossEntropy,
    /// "regression" on several named classes.
    RegressionOnClasses,
}

/// An accuracy metric on the head's output (a front end that reads the training code records one
/// for `argmax` accuracy): evidence the output is meant to be a class.
fn accuracy_on<'a>(ctx: &'a RuleContext, output: usize) -> Option<&'a MetricSpec> {
    ctx.model.training.as_ref()?.metrics.iter().find(|m| {
        m.output.is_none_or(|o| o == output) && {
            let n: String = m
                .name
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase();
            n.ends_with("accuracy") || n == "acc"
        }
    })
}

/// `accuracy`: an accuracy metric is computed on the output (a class is meant).
fn contradiction(head: &LibraryHead, accuracy: bool) -> Option<Contradiction> {
    let named = head.class_names.len() >= 2;
    match (head.task, head.num_labels, head.problem_type) {
        (HeadTask::TokenClassification, 1, _) => Some(Contradiction::OneClassCrossEntropy),
        (_, 1, Some(ProblemType::SingleLabelClassification)) => {
            Some(Contradiction::OneClassCrossEntropy)
        }
        (_, 1, None | Some(ProblemType::Regression)) if named || accuracy => {
            Some(Contradiction::OneLabelRegression)
        }
        (_, k, Some(ProblemType::Regression)) if k >= 2 && named => {
            Some(Contradiction::RegressionOnClasses)
        }
        _ => None,
    }
}

fn class(head: &LibraryHead) -> String {
    if head.class.is_empty() {
        "the sequence classification head".into()
    } else {
        format!("`{}`", head.class)
    }
}

fn names(head: &LibraryHead) -> String {
    let shown: Vec<String> = head
        .class_names
        .iter()
        .take(4)
        .map(|n| format!("{n:?}"))
        .collect();
    let more = head.class_names.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn finding(
    ctx: &RuleContext,
    head: &LibraryHead,
    kind: Contradiction,
    op: OpId,
    output: ValueId,
    metric: Option<&MetricSpec>,
) -> Detection {
    let graph = &ctx.model.graph;
    let k = head.num_labels;
    let n_names = head.class_names.len();
    let mut labels = vec![Label {
        at: head
            .num_labels_span
            .map_or_else(|| At::op_key(graph, op, Part::Units), At::Span),
        text: format!("{k} label{}", if k == 1 { "" } else { "s" }),
    }];
    if let Some(span) = head.problem_type_span {
        labels.push(Label {
            at: At::Span(span),
            text: match head.problem_type {
                Some(ProblemType::Regression) => "regression: MSE".into(),
                Some(ProblemType::SingleLabelClassification) => "cross-entropy".into(),
                _ => "the loss".into(),
            },
        });
    }
    if n_names >= 2
        && let Some(span) = head.class_names_span
        && Some(span) != head.num_labels_span
    {
        labels.push(Label {
            at: At::Span(span),
            text: format!("{n_names} class names: a classifier"),
        });
    }
    if let Some(span) = metric.and_then(|m| m.span) {
        labels.push(Label {
            at: At::Span(span),
            text: "accuracy: the output is a class".into(),
        });
    }
    let who = class(head);
    let framework = ctx.model.framework;
    let (message, help, symptom) = match kind {
        Contradiction::OneLabelRegression => (
            if n_names >= 2 {
                format!(
                    "{who} has num_labels=1 but {n_names} class names ({}): {}",
                    names(head),
                    Advice::LibraryTrainsRegression.say(framework)
                )
            } else {
                format!(
                    "{who} has num_labels=1 but its output is scored with accuracy: {}",
                    Advice::LibraryTrainsRegression.say(framework)
                )
            },
            format!(
                "give the classifier one label per class: num_labels={} with id2label and \
                 label2id naming them, problem_type=\"single_label_classification\" (or unset, with \
                 integer labels); keep num_labels=1 only for regression on float targets",
                n_names.max(2)
            ),
            "the head outputs one unbounded number, not a probability: argmax over its single \
             column predicts class 0 for every input, so accuracy stays at the share of class 0"
                .to_string(),
        ),
        Contradiction::OneClassCrossEntropy => (
            match head.task {
                HeadTask::TokenClassification => format!(
                    "{who} has num_labels=1: its cross-entropy over a single class is always 0"
                ),
                HeadTask::SequenceClassification => format!(
                    "{who} has problem_type=\"single_label_classification\" with num_labels=1: \
                     cross-entropy over a single class is always 0"
                ),
            },
            "a classifier needs one label per class: num_labels=2 (or more) with id2label naming \
             them; for a single-output regression use problem_type=\"regression\""
                .to_string(),
            Advice::OneClassCrossEntropySymptom {
                sequence: head.task == HeadTask::SequenceClassification,
            }
            .say(framework),
        ),
        Contradiction::RegressionOnClasses => (
            format!(
                "{who} has problem_type=\"regression\" over {k} named classes ({}): MSE on the \
                 logits of a classifier",
                names(head)
            ),
            "train a classifier with cross-entropy: problem_type=\"single_label_classification\" \
             (integer labels) or \"multi_label_classification\" (multi-hot labels)"
                .to_string(),
            "the logits are fitted as real numbers to the label vectors: no probabilities, and \
             integer class labels do not match the output's shape"
                .to_string(),
        ),
    };
    Detection {
        message,
        help,
        symptom,
        labels,
        node_path: graph.op(op).origin.path.clone(),
        check: numerical_check(ctx, output, k, kind),
    }
}

/// `log_softmax` over one row of logits.
fn log_softmax(row: &[f64]) -> Vec<f64> {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    row.iter().map(|v| v - lse).collect()
}

/// Probes the head's logits. MSE heads: the outputs leave [0, 1] (not probabilities) and, with one
/// label, `argmax` answers class 0 on every row. Cross-entropy over one class: `log_softmax` of
/// every row is 0, so the loss on label 0 is 0 whatever the logit.
fn numerical_check(ctx: &RuleContext, output: ValueId, k: u64, kind: Contradiction) -> Check {
    ctx.check_probed(output, |probed| {
        let k = k as usize;
        if k == 0 || probed.shape.last().copied() != Some(k) || probed.values.is_empty() {
            return Check::Unconfirmed {
                reason: format!(
                    "the probe's shape {:?} does not end in {k} units",
                    probed.shape
                ),
            };
        }
        let rows: Vec<&[f64]> = probed.values.chunks_exact(k).collect();
        let n = rows.len();
        let lo = probed.values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = probed
            .values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let outside = probed
            .values
            .iter()
            .filter(|v| !(0.0..=1.0).contains(*v))
            .count();
        match kind {
            Contradiction::OneClassCrossEntropy => {
                let worst = rows
                    .iter()
                    .flat_map(|r| log_softmax(r))
                    .map(f64::abs)
                    .fold(0.0, f64::max);
                if worst > 0.0 {
                    return Check::Unconfirmed {
                        reason: format!("log_softmax over the single class reached {}", num(worst)),
                    };
                }
                Check::Confirmed {
                    summary: format!(
                        "on {n} seeded probe rows with {}, the logit ranges over [{}, {}] but \
                         log_softmax over the single class is 0 on every row: the cross-entropy \
                         of label 0 is 0 whatever the model outputs",
                        probed.weights,
                        num(lo),
                        num(hi)
                    ),
                    numbers: vec![
                        ("probe rows".into(), n as f64),
                        ("smallest logit".into(), lo),
                        ("largest logit".into(), hi),
                        ("largest |log_softmax|".into(), worst),
                    ],
                }
            }
            Contradiction::OneLabelRegression | Contradiction::RegressionOnClasses => {
                if outside == 0 {
                    return Check::Unconfirmed {
                        reason: format!(
                            "every probe output stayed in [0, 1] ([{}, {}])",
                            num(lo),
                            num(hi)
                        ),
                    };
                }
                let class0 = rows
                    .iter()
                    .filter(|r| {
                        let best = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        r.iter().position(|&v| v == best) == Some(0)
                    })
                    .count();
                let mut numbers = vec![
                    ("probe rows".into(), n as f64),
                    ("smallest output".into(), lo),
                    ("largest output".into(), hi),
                    ("outputs outside [0, 1]".into(), outside as f64),
                ];
                let tail = if kind == Contradiction::OneLabelRegression {
                    numbers.push(("rows whose argmax is class 0".into(), class0 as f64));
                    format!("; argmax over its single column is class 0 on {class0} of {n} rows")
                } else {
                    String::new()
                };
                Check::Confirmed {
                    summary: format!(
                        "on {n} seeded probe rows with {}, the MSE head outputs unbounded reals in \
                         [{}, {}] ({outside} of {} values outside [0, 1]), not probabilities{tail}",
                        probed.weights,
                        num(lo),
                        num(hi),
                        probed.values.len()
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

    fn head(k: u64, names: &[&str], problem: Option<ProblemType>, task: HeadTask) -> LibraryHead {
        LibraryHead {
            output: 0,
            class: "BertForSequenceClassification".into(),
            task,
            num_labels: k,
            num_labels_span: None,
            class_names: names.iter().map(|s| s.to_string()).collect(),
            class_names_span: None,
            problem_type: problem,
            problem_type_span: None,
        }
    }

    #[test]
    fn contradictions_and_the_heads_left_alone() {
        use HeadTask::*;
        use ProblemType::*;
        let seq = SequenceClassification;
        assert_eq!(
            contradiction(&head(1, &["NEG", "POS"], None, seq), false),
            Some(Contradiction::OneLabelRegression)
        );
        assert_eq!(
            contradiction(&head(1, &[], Some(SingleLabelClassification), seq), false),
            Some(Contradiction::OneClassCrossEntropy)
        );
        assert_eq!(
            contradiction(&head(1, &[], None, TokenClassification), false),
            Some(Contradiction::OneClassCrossEntropy)
        );
        assert_eq!(
            contradiction(&head(2, &["NEG", "POS"], Some(Regression), seq), false),
            Some(Contradiction::RegressionOnClasses)
        );
        // Regression heads, binary BCE heads, plain classifiers.
        assert_eq!(contradiction(&head(1, &[], None, seq), false), None);
        // A one-label head scored with accuracy is a classifier trained as a regressor.
        assert_eq!(
            contradiction(&head(1, &[], None, seq), true),
            Some(Contradiction::OneLabelRegression)
        );
        assert_eq!(
            contradiction(&head(1, &[], Some(Regression), seq), false),
            None
        );
        assert_eq!(
            contradiction(&head(1, &[], Some(MultiLabelClassification), seq), true),
            None
        );
        assert_eq!(
            contradiction(&head(2, &["NEG", "POS"], None, seq), true),
            None
        );
        assert_eq!(
            contradiction(&head(3, &[], Some(Regression), seq), false),
            None
        );
    }

    #[test]
    fn log_softmax_of_one_logit_is_zero() {
        assert_eq!(log_softmax(&[7.5]), vec![0.0]);
        assert!(log_softmax(&[0.0, 0.0])[0] < -0.69);
    }
}
