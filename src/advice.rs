//! What a rule says that depends on the framework, in one table.
//!
//! A rule never spells a framework's API (`nn.BCEWithLogitsLoss`, `from_logits=True`, `Dense(`)
//! or branches on a framework: it names the *kind* of thing it has to say, an [`Advice`] (a help,
//! a symptom, a label, a name in its evidence) or a [`FixKind`], and the framework the words are
//! for ([`Framework`]: a loss's, or the model's). [`Advice::say`] and [`fix`] render it.
//!
//! Frameworks that share their words share a column: [`words`] maps each framework to one
//! (Lightning and Hugging Face models are trained with PyTorch's losses; TF1, `tf.keras` and a
//! model nothing says about get Keras's words). Adding a framework is a row in [`words`]; giving
//! it words of its own is a new column and its arms in the table, never a branch in a rule.
//! Numerical conventions (Keras clips a binary cross-entropy at 1e−7, PyTorch at log 0 = −100)
//! are methods of [`Framework`], not words.

use crate::fix::{self, Edit, Fix};
use crate::ir::{Framework, LossKind, LossSpec, Model, Op, Part, Span};

/// The columns of the table: whose words a framework gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Words {
    /// `keras.layers.Dense`, `from_logits=True`, `loss="binary_crossentropy"`.
    Keras,
    /// `nn.Linear`, `nn.BCEWithLogitsLoss`, `forward`.
    Torch,
}

/// Which words each framework gets.
fn words(framework: Framework) -> Words {
    match framework {
        Framework::Keras => Words::Keras,
        Framework::TfKeras => Words::Keras,
        Framework::Tf1 => Words::Keras,
        Framework::Unknown => Words::Keras,
        Framework::PyTorch => Words::Torch,
        Framework::Lightning => Words::Torch,
        Framework::HuggingFace => Words::Torch,
    }
}

/// A kind of help, symptom, label or evidence name a rule gives, with the facts its words need.
#[derive(Clone, Copy, Debug)]
pub enum Advice<'a> {
    /// NNL001: help for a softmax over one unit.
    OneUnitSoftmaxHelp,
    /// NNL001: the symptom of a softmax over one unit (`trained`: with a binary cross-entropy).
    OneUnitSoftmaxSymptom { trained: bool },
    /// NNL001: the evidence's name for the binary cross-entropy of a certain wrong answer.
    CertainMissCostName,
    /// NNL001: help for a one-unit softmax a graph simplifier folded into a constant.
    FoldedSoftmaxHelp,
    /// NNL002: help for a categorical loss on independent outputs (`sigmoid`: they are sigmoids).
    IndependentOutputsHelp { sigmoid: bool },
    /// NNL002: what a renormalising categorical loss does to independent outputs.
    IndependentOutputsSymptom,
    /// NNL002: the evidence's name for the renormalised categorical cross-entropy.
    RenormalisedLossName,
    /// NNL002: the evidence's name for the change of that loss when the outputs are halved.
    RenormalisedGapName,
    /// NNL003: help for a softmax over another axis than the classes'.
    SoftmaxAxisHelp { class_axis: usize, last: bool },
    /// NNL004: the label on a probability loss given logits.
    ExpectsProbabilitiesLabel,
    /// NNL004: help for a probability loss given logits (`loss`: as written).
    ProbabilityLossOnLogitsHelp { loss: &'a str },
    /// NNL004: the symptom of a probability loss given logits.
    ProbabilityLossOnLogitsSymptom,
    /// NNL004: help for an output used as a probability that outputs logits.
    MissingActivationHelp,
    /// NNL004: the message of the fix that turns a loss's logits flag on (`value`: as written).
    LogitsFlagOnFix { value: &'a str },
    /// NNL005: the message of the fix that turns a loss's logits flag off (`value`: as written).
    LogitsFlagOffFix { value: &'a str },
    /// NNL005: help for a loss that takes logits on an output that applies its activation
    /// (`activation`: `softmax` or `sigmoid`; `sigmoid_loss`: the loss applies a sigmoid).
    LogitsLossOnActivationHelp {
        activation: &'a str,
        loss: &'a str,
        sigmoid_loss: bool,
    },
    /// NNL007: help for a categorical loss on one unit.
    CategoricalOnOneUnitHelp,
    /// NNL007: the symptom of a categorical loss on one unit.
    CategoricalOnOneUnitSymptom,
    /// NNL007: the evidence's name for the categorical cross-entropy it computes.
    CategoricalLossName,
    /// NNL007: help for a binary cross-entropy on a softmax over several classes.
    BinaryOnSoftmaxHelp,
    /// NNL007: help for a sparse categorical loss on independent sigmoids.
    SparseOnSigmoidsHelp,
    /// NNL007: the symptom of a sparse categorical loss on independent sigmoids.
    SparseOnSigmoidsSymptom,
    /// NNL008: help for the log of a softmax (else of a sigmoid).
    LogOfActivationHelp { softmax: bool },
    /// NNL009: the symptom of a layer that carries Python bytecode.
    LambdaBytecodeSymptom,
    /// NNL009: why a payload that does not decode is not confirmed as bytecode.
    NotBytecodeReason,
    /// NNL010: help for two linear layers with no activation between them.
    StackedLinearHelp { hidden: u64, d_in: u64, d_out: u64 },
    /// NNL011: the name of the negative log-likelihood loss in the label, help and evidence.
    NllLossName,
    /// NNL011: the label on a negative log-likelihood loss.
    NllLossLabel,
    /// NNL011: help for a negative log-likelihood of probabilities.
    NllOnProbabilitiesHelp,
    /// NNL011: help for a negative log-likelihood of logits.
    NllOnLogitsHelp,
    /// NNL012: help for a regression loss on a classifier (`softmax`: else a one-unit sigmoid).
    RegressionOnClassifierHelp { softmax: bool },
    /// NNL013: help for a squashing activation on the logits of a softmax (`activation` in lower
    /// case; `by_loss`: the loss applies the softmax).
    ActivationBeforeSoftmaxHelp { activation: &'a str, by_loss: bool },
    /// NNL014: help for a softmax used as a hidden activation.
    SoftmaxHiddenHelp,
    /// NNL015: help for a cross-entropy that reads the classes on another axis than the output's.
    /// `normalised`: the output is a softmax (else logits); `explicit`: the loss states an axis
    /// other than the last; `found_axis`: the softmax's axis or where the logits' classes are.
    CrossEntropyAxisHelp {
        normalised: bool,
        explicit: bool,
        loss: &'a str,
        loss_axis: usize,
        found_axis: usize,
        rank: usize,
    },
    /// NNL017: what the library makes of a one-label head scored as a classifier.
    LibraryTrainsRegression,
    /// NNL017: the symptom of a cross-entropy over one class (`sequence`: a sequence
    /// classification head, which the library refuses to load).
    OneClassCrossEntropySymptom { sequence: bool },
    /// NNL016: help for a binary loss on labels of `classes` > 2 classes.
    BinaryLossOnClassesHelp { classes: u64 },
    /// NNL016: help for a head whose width is not the labels' `classes`.
    HeadWidthHelp { classes: u64 },
    /// NNL016: the symptom of labels past the head's `units` outputs (up to `classes` − 1).
    LabelsPastHeadSymptom { units: u64, classes: u64 },
}

impl Advice<'_> {
    /// The words for `framework`. The one table: each arm is one kind, by column where the
    /// columns differ.
    pub fn say(self, framework: Framework) -> String {
        let w = words(framework);
        match self {
            Advice::OneUnitSoftmaxHelp => match w {
                Words::Torch => "drop the softmax after the one-output layer, return the logit and \
                                 train with `nn.BCEWithLogitsLoss`; apply `torch.sigmoid` where a \
                                 probability is needed"
                    .into(),
                Words::Keras => "use `Dense(1, activation=\"sigmoid\")` with binary cross-entropy, or \
                                 `Dense(2, activation=\"softmax\")` with (sparse) categorical \
                                 cross-entropy; in PyTorch drop the softmax and train with \
                                 BCEWithLogitsLoss"
                    .into(),
            },
            Advice::OneUnitSoftmaxSymptom { trained } => {
                let negative_cost = framework.bce(0.0, 1.0) as f64;
                match (trained, w) {
                    (true, Words::Torch) => format!(
                        "every prediction is 1.0: accuracy equals the share of positive labels (≈0.50 \
                         on balanced data) in every epoch, and `BCELoss` sits at {:.0} × the share \
                         of negative labels (PyTorch clamps each log at −100; ≈{:.0} at 50 %), with \
                         no gradient reaching the layers below",
                        negative_cost,
                        negative_cost / 2.0
                    ),
                    (true, Words::Keras) => format!(
                        "every prediction is 1.0: accuracy equals the share of positive labels (≈0.50 \
                         on balanced data) in every epoch, and binary cross-entropy sits at ≈{:.2} × \
                         the share of negative labels (≈{:.2} at 50 %) on JAX/torch; Keras on \
                         TensorFlow computes the loss from the pre-softmax logit, so there the loss \
                         moves while accuracy stays at the positive share",
                        negative_cost,
                        negative_cost / 2.0
                    ),
                    (false, _) => format!(
                        "every prediction is 1.0 whatever the input, and no gradient flows back \
                         through the softmax; trained with binary cross-entropy, accuracy equals the \
                         share of positive labels (≈0.50 on balanced data) and the loss sits at \
                         ≈{:.2} × the share of negative labels (Keras, float32; −log 1e−7 ≈ 16.12 in \
                         exact arithmetic)",
                        negative_cost
                    ),
                }
            }
            Advice::CertainMissCostName => match w {
                Words::Torch => {
                    "binary cross-entropy per negative label (PyTorch BCELoss, logs clamped at −100)"
                        .into()
                }
                Words::Keras => "binary cross-entropy per negative label (Keras, float32)".into(),
            },
            Advice::FoldedSoftmaxHelp => "fix the model before simplifying it: a one-unit sigmoid \
                                          (`nn.Linear(h, 1)` + `torch.sigmoid`, `Dense(1, \
                                          activation=\"sigmoid\")`) or a two-unit softmax; the \
                                          simplifier folded the softmax because its output never \
                                          depends on the input"
                .into(),
            Advice::IndependentOutputsHelp { sigmoid: true } => {
                "use binary_crossentropy (or MSE for reconstructions); for one class out of K use a \
                 softmax"
                    .into()
            }
            Advice::IndependentOutputsHelp { sigmoid: false } => {
                "use a softmax output for one class out of K, or a loss that fits independent \
                 outputs (binary_crossentropy, MSE)"
                    .into()
            }
            Advice::IndependentOutputsSymptom => {
                "the loss cannot see the outputs' scale (Keras renormalises each row), so \
                 reconstructions come out washed out and multi-label scores cannot be thresholded; \
                 without renormalisation, predicting 1 everywhere would score a perfect 0"
                    .into()
            }
            Advice::RenormalisedLossName => "Keras's renormalised loss".into(),
            Advice::RenormalisedGapName => "max |keras loss(ŷ) - keras loss(0.5·ŷ)|".into(),
            Advice::SoftmaxAxisHelp {
                class_axis,
                last: true,
            } => format!(
                "normalise over the class axis {class_axis}, the last one: `Softmax(axis=-1)` in \
                 Keras, `dim=-1` in torch (before opset 13, move the classes last first)"
            ),
            Advice::SoftmaxAxisHelp {
                class_axis,
                last: false,
            } => format!(
                "normalise over the class axis {class_axis} (`dim={class_axis}` in torch; opset 13+ \
                 `axis={class_axis}`)"
            ),
            Advice::ExpectsProbabilitiesLabel => "expects probabilities (from_logits=False)".into(),
            Advice::ProbabilityLossOnLogitsHelp { loss } => match w {
                Words::Torch => format!(
                    "return the logit and train with `nn.BCEWithLogitsLoss` (stable, and it applies \
                     the sigmoid itself), or end `forward` in `torch.sigmoid` if `{loss}` must stay"
                ),
                Words::Keras => "set from_logits=True on the loss (and apply the sigmoid/softmax at \
                                 inference), or add the activation to the output layer"
                    .into(),
            },
            Advice::ProbabilityLossOnLogitsSymptom => match w {
                Words::Torch => "PyTorch stops with `RuntimeError: all elements of input should be \
                                 between 0 and 1` as soon as a logit leaves [0, 1]; where inputs are \
                                 clamped to make it run, those logits get no gradient and the loss \
                                 stalls"
                    .into(),
                Words::Keras => "logits outside [1e-7, 1-1e-7] are clipped and get no gradient: the \
                                 loss stalls and accuracy barely moves"
                    .into(),
            },
            Advice::MissingActivationHelp => match w {
                Words::Torch => "apply the activation before thresholding: \
                                 `torch.sigmoid(model(x)) > 0.5` (or compare the logit with 0)"
                    .into(),
                Words::Keras => "add the sigmoid (or softmax) to the inference output, or \
                                 rename/declare the output as logits and apply the activation \
                                 downstream"
                    .into(),
            },
            Advice::LogitsFlagOnFix { value } => {
                format!("set `from_logits={value}`: the output is logits")
            }
            Advice::LogitsFlagOffFix { value } => {
                format!("set `from_logits={value}`: the output already applies its activation")
            }
            Advice::LogitsLossOnActivationHelp {
                activation,
                loss,
                sigmoid_loss,
            } => match w {
                Words::Torch => format!(
                    "return the logits from `forward` (drop the final {activation}): `{loss}` \
                     applies {} itself; apply the {activation} only at inference",
                    if sigmoid_loss {
                        "the sigmoid"
                    } else {
                        "log_softmax"
                    }
                ),
                Words::Keras => format!(
                    "drop the final {activation} and keep from_logits=True (apply the {activation} \
                     at inference), or keep the {activation} and set from_logits=False"
                ),
            },
            Advice::CategoricalOnOneUnitHelp => match w {
                Words::Torch => "give the head two units (`nn.Linear(h, 2)`) for CrossEntropyLoss, \
                                 or keep one unit and train with `nn.BCEWithLogitsLoss`"
                    .into(),
                Words::Keras => "use one sigmoid unit with binary_crossentropy, or K ≥ 2 softmax \
                                 units with (sparse) categorical cross-entropy"
                    .into(),
            },
            Advice::CategoricalOnOneUnitSymptom => match w {
                Words::Torch => "the loss is exactly 0 for target 0 and nothing learns; a target of \
                                 1 stops training with `IndexError: Target 1 is out of bounds`"
                    .into(),
                Words::Keras => "the loss shows 0.0000 (1.2e-7, the clipping floor) from the first \
                                 step and the weights never change"
                    .into(),
            },
            Advice::CategoricalLossName => "Keras's categorical cross-entropy".into(),
            Advice::BinaryOnSoftmaxHelp => "use categorical_crossentropy (one-hot labels) or \
                                            sparse_categorical_crossentropy (integer labels) with \
                                            a softmax"
                .into(),
            Advice::SparseOnSigmoidsHelp => "use a softmax with sparse_categorical_crossentropy, or \
                                             binary_crossentropy for multi-label sigmoids"
                .into(),
            Advice::SparseOnSigmoidsSymptom => "the loss only sees the sigmoids' ratios (Keras \
                                                renormalises them), so their scale is never \
                                                trained and they are not probabilities"
                .into(),
            Advice::LogOfActivationHelp { softmax: true } => {
                "replace Log(Softmax(x)) with LogSoftmax(x) (torch.log_softmax, \
                 tf.nn.log_softmax), or pass the logits to a cross-entropy loss that takes logits"
                    .into()
            }
            Advice::LogOfActivationHelp { softmax: false } => {
                "replace Log(Sigmoid(x)) with log-sigmoid (F.logsigmoid, tf.math.log_sigmoid), or \
                 pass the logits to a loss with from_logits=True"
                    .into()
            }
            Advice::LambdaBytecodeSymptom => "Keras 3 refuses to load the model unless \
                                              `safe_mode=False`, which (like Keras 2) runs the code \
                                              in the file; under another Python version loading \
                                              fails with `bad marshal data`; rules see nothing of \
                                              what the lambda computes"
                .into(),
            Advice::NotBytecodeReason => "the payload is not valid base64, so it is not bytecode \
                                          Keras could load; the layer is still opaque"
                .into(),
            Advice::StackedLinearHelp {
                hidden,
                d_in,
                d_out,
            } => format!(
                "add the missing activation to the first layer (`Dense({hidden}, \
                 activation=\"relu\")`, or `nn.ReLU()` between the two `nn.Linear`), or drop it: \
                 one layer {d_in}→{d_out} computes the same function"
            ),
            Advice::NllLossName => "NLLLoss".into(),
            Advice::NllLossLabel => "NLLLoss takes log-probabilities and applies no log itself".into(),
            Advice::NllOnProbabilitiesHelp => "replace the softmax with `F.log_softmax(x, dim=1)` \
                                               (or `nn.LogSoftmax(dim=1)`), or return the logits \
                                               and use `nn.CrossEntropyLoss`"
                .into(),
            Advice::NllOnLogitsHelp => "apply `F.log_softmax(logits, dim=1)` before the loss, or \
                                        use `nn.CrossEntropyLoss`, which does it for you"
                .into(),
            Advice::RegressionOnClassifierHelp { softmax } => match (w, softmax) {
                (Words::Keras, true) => "train the classifier with cross-entropy: \
                                         loss=\"categorical_crossentropy\" for one-hot labels, \
                                         \"sparse_categorical_crossentropy\" for integer labels"
                    .into(),
                (Words::Keras, false) => {
                    "train the one-unit sigmoid with loss=\"binary_crossentropy\"".into()
                }
                (Words::Torch, true) => "return the logits (drop the softmax) and train with \
                                         `nn.CrossEntropyLoss` on integer labels"
                    .into(),
                (Words::Torch, false) => {
                    "return the logit (drop the sigmoid) and train with `nn.BCEWithLogitsLoss`".into()
                }
            },
            Advice::ActivationBeforeSoftmaxHelp {
                activation,
                by_loss,
            } => match (w, by_loss) {
                (Words::Torch, _) => format!(
                    "drop the {activation} after the last `nn.Linear`: return its raw output (the \
                     logits) and let the softmax or `nn.CrossEntropyLoss` normalise them"
                ),
                (Words::Keras, true) => format!(
                    "drop the {activation} on the last layer and give the loss its linear output \
                     (Keras: `Dense(K)` with from_logits=True; TF1: `logits=tf.matmul(h, w) + b`)"
                ),
                (Words::Keras, false) => format!(
                    "drop the {activation} on the last layer: give the softmax the linear output \
                     (`Dense(K)` then `Softmax`, or `Dense(K, activation=\"softmax\")`)"
                ),
            },
            Advice::SoftmaxHiddenHelp => match w {
                Words::Torch => "use `nn.ReLU()` (or `nn.GELU()`) between the hidden `nn.Linear` \
                                 layers; keep the softmax for the output (or leave it to \
                                 `nn.CrossEntropyLoss`)"
                    .into(),
                Words::Keras => "use a hidden activation such as \"relu\" or \"gelu\" on this \
                                 layer; keep the softmax for the output layer"
                    .into(),
            },
            Advice::CrossEntropyAxisHelp {
                normalised,
                explicit,
                loss,
                loss_axis,
                found_axis,
                rank,
            } => match (normalised, w) {
                (true, Words::Keras) if explicit => format!(
                    "make the loss and the softmax agree on the class axis: drop `axis=` from \
                     `{loss}` (the default is the last axis{}), or normalise over axis {loss_axis} \
                     with `Softmax(axis={loss_axis})` if the classes are there",
                    if found_axis + 1 == rank {
                        ", where this softmax normalises"
                    } else {
                        ""
                    }
                ),
                (true, Words::Keras) => format!(
                    "normalise over the axis the loss reads as classes, the last one: \
                     `Softmax(axis=-1)` (axis {loss_axis} of this rank-{rank} output), or \
                     `activation=\"softmax\"`"
                ),
                (true, Words::Torch) => format!(
                    "normalise over the axis the loss reads as classes (dim 1), or move the classes \
                     to dim 1 before the loss: `x.permute(0, {found_axis}, …)`"
                ),
                (false, _) => format!(
                    "move the classes to dim 1 before the loss (`logits.permute(0, {found_axis}, 1)` \
                     for a rank-3 output), or flatten the positions: \
                     `criterion(logits.reshape(-1, n_classes), target.reshape(-1))`"
                ),
            },
            Advice::BinaryLossOnClassesHelp { classes } => match w {
                Words::Keras => format!(
                    "give the head one unit per class, `Dense({classes}, activation=\"softmax\")`, \
                     with `sparse_categorical_crossentropy` (or `categorical_crossentropy` on \
                     one-hot labels); for a yes/no question, turn the labels into it first \
                     (`y == k`)"
                ),
                Words::Torch => format!(
                    "give the head one output per class, `nn.Linear(h, {classes})`, trained with \
                     `nn.CrossEntropyLoss` on the class indices; for a yes/no question, turn the \
                     labels into it first (`(y == k).float()`)"
                ),
            },
            Advice::HeadWidthHelp { classes } => match w {
                Words::Keras => format!("give the last `Dense` {classes} units, one per class"),
                Words::Torch => format!("give the last `nn.Linear` {classes} outputs, one per class"),
            },
            Advice::LabelsPastHeadSymptom { units, classes } => {
                let last = classes - 1;
                match w {
                    Words::Keras => format!(
                        "training stops at the first batch holding a label from {units} to {last} \
                         (\"Received a label value of {last} which is outside the valid range\" on \
                         CPU, a shape error for one-hot labels); on GPU the loss can turn NaN instead"
                    ),
                    Words::Torch => format!(
                        "training stops at the first batch holding a label from {units} to {last} \
                         (`IndexError: Target {last} is out of bounds`; a device-side assert on GPU)"
                    ),
                }
            }
            Advice::LibraryTrainsRegression => "transformers trains it as a regression with MSE".into(),
            Advice::OneClassCrossEntropySymptom { sequence } => format!(
                "the loss is 0 from the first step and nothing is learned; a label other than 0 \
                 stops training with `IndexError: Target 1 is out of bounds`{}",
                if sequence {
                    " (transformers 5 refuses the config when it is loaded)"
                } else {
                    ""
                }
            ),
        }
    }
}

/// A kind of fix whose edits are written in the framework's API.
#[derive(Clone, Copy, Debug)]
pub enum FixKind<'a> {
    /// NNL001: a softmax over one unit, trained with a binary cross-entropy of probabilities,
    /// becomes a sigmoid.
    SigmoidForSoftmax { softmax: &'a Op },
    /// NNL004: a probability loss given logits: the loss takes logits (its flag, or its logits
    /// form), else the output layer (`output`) gets the loss's activation.
    LogitsForProbabilityLoss {
        loss: &'a LossSpec,
        output: Option<&'a Op>,
    },
}

/// The fix of `kind`, written for `framework`; `None` when the source is not written in a way the
/// fix knows.
pub fn fix(model: &Model, kind: FixKind, framework: Framework) -> Option<Fix> {
    match (kind, words(framework)) {
        (FixKind::SigmoidForSoftmax { softmax }, Words::Keras) => {
            sigmoid_activation(model, softmax)
        }
        (FixKind::SigmoidForSoftmax { softmax }, Words::Torch) => sigmoid_module(model, softmax),
        (FixKind::LogitsForProbabilityLoss { loss, .. }, Words::Torch) => {
            with_logits_loss(model, loss)
        }
        (FixKind::LogitsForProbabilityLoss { loss, output }, Words::Keras) => {
            logits_flag_or_activation(model, loss, output)
        }
    }
}

/// Keras: `"softmax"` → `"sigmoid"` in the activation's value (`Dense(1, activation="softmax")`,
/// `Activation("softmax")`, `"activation": "softmax"`).
fn sigmoid_activation(model: &Model, op: &Op) -> Option<Fix> {
    let span = *op.origin.spans.get(&Part::Activation)?;
    let text = fix::span_text(model, span)?;
    let at = text.rfind("softmax")?;
    // The value ends the span (quotes aside): not `'softmax' if wide else 'relu'`.
    if !text[at + "softmax".len()..]
        .chars()
        .all(|c| matches!(c, '"' | '\'' | '\\'))
    {
        return None;
    }
    let value = Span {
        offset: span.offset + at,
        len: "softmax".len(),
    };
    Some(Fix::safe(
        "use a sigmoid: replace `softmax` with `sigmoid` in the activation",
        vec![Edit::replace(value, "sigmoid")],
    ))
}

/// PyTorch, trained with `nn.BCELoss` / `F.binary_cross_entropy` (probabilities): the softmax
/// becomes a sigmoid, so the output stays a probability for the loss and for whatever reads it
/// (`nn.Softmax(dim=1)` → `nn.Sigmoid()`, `torch.softmax(h, dim=1)` → `torch.sigmoid(h)`).
fn sigmoid_module(model: &Model, op: &Op) -> Option<Fix> {
    let entry = *op.origin.spans.get(&Part::Entry)?;
    let name = *op.origin.spans.get(&Part::Class)?;
    let written = fix::span_text(model, name)?;
    let message = "use a sigmoid: `BCELoss` takes one probability per example";
    if let Some(prefix) = written.strip_suffix("Softmax") {
        // The module, given only its axis: `nn.Softmax(dim=1)`.
        let call = fix::span_text(model, entry)?;
        let args = call.strip_prefix(written)?.trim();
        let axis = args.strip_prefix('(')?.strip_suffix(')')?.trim();
        let axis = axis
            .strip_prefix("dim")
            .map_or(axis, |v| v.trim_start().trim_start_matches('=').trim());
        let number = axis.strip_prefix('-').unwrap_or(axis);
        if !["nn.", "torch.nn."].contains(&prefix)
            || number.is_empty()
            || !number.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        return Some(Fix::safe(
            message,
            vec![Edit::replace(entry, format!("{prefix}Sigmoid()"))],
        ));
    }
    if written != "torch.softmax" {
        return None;
    }
    let edits = fix::unwrap_call(model, entry, name)?;
    Some(Fix::safe(
        message,
        vec![
            Edit::replace(edits[0].span, "torch.sigmoid("),
            Edit::replace(edits[1].span, ")"),
        ],
    ))
}

/// PyTorch: the loss renamed to its logits form (`BCELoss` → `BCEWithLogitsLoss`,
/// `binary_cross_entropy` → `binary_cross_entropy_with_logits`).
fn with_logits_loss(model: &Model, loss: &LossSpec) -> Option<Fix> {
    let span = loss.span?;
    let written = fix::span_text(model, span)?;
    let (old, new) = [
        ("BCELoss", "BCEWithLogitsLoss"),
        ("binary_cross_entropy", "binary_cross_entropy_with_logits"),
    ]
    .into_iter()
    .find(|(old, _)| written.ends_with(old))?;
    let at = span.offset + written.len() - old.len();
    Some(Fix::unsafe_(
        format!("replace `{old}` with `{new}`, which applies the sigmoid to the logits itself"),
        vec![Edit::replace(
            Span {
                offset: at,
                len: old.len(),
            },
            new,
        )],
    ))
}

/// Keras: `from_logits=False` → `True` where it is written; else the output layer's activation
/// (`"linear"` → the loss's, or `Dense(1)` in Python given `activation="sigmoid"`).
fn logits_flag_or_activation(model: &Model, loss: &LossSpec, output: Option<&Op>) -> Option<Fix> {
    if let Some(span) = loss.from_logits_span {
        let text = fix::span_text(model, span)?.trim_end();
        let word = ["False", "false"].into_iter().find(|w| text.ends_with(w))?;
        let new = if word == "False" { "True" } else { "true" };
        return Some(Fix::safe(
            Advice::LogitsFlagOnFix { value: new }.say(loss.framework),
            vec![Edit::replace(
                Span {
                    offset: span.offset + text.len() - word.len(),
                    len: word.len(),
                },
                new,
            )],
        ));
    }
    let activation = match loss.kind {
        LossKind::BinaryCrossentropy => "sigmoid",
        LossKind::CategoricalCrossentropy | LossKind::SparseCategoricalCrossentropy => "softmax",
        _ => return None,
    };
    let producer = output?;
    let message = format!(
        "add `activation=\"{activation}\"` to the output layer (it then returns probabilities)"
    );
    let written = |p: &Part| {
        let span = *producer.origin.spans.get(p)?;
        Some((span, fix::span_text(model, span)?))
    };
    if let Some((span, text)) = written(&Part::Activation).filter(|(_, t)| t.contains("linear")) {
        let at = text.rfind("linear")?;
        if !text[at + "linear".len()..]
            .chars()
            .all(|c| matches!(c, '"' | '\''))
        {
            return None;
        }
        return Some(Fix::unsafe_(
            message,
            vec![Edit::replace(
                Span {
                    offset: span.offset + at,
                    len: "linear".len(),
                },
                activation,
            )],
        ));
    }
    // Python `Dense(1)` with no activation written: add it before the closing parenthesis.
    let entry = *producer.origin.spans.get(&Part::Entry)?;
    let call = fix::span_text(model, entry)?;
    let class = fix::span_text(model, *producer.origin.spans.get(&Part::Class)?)?;
    if activation != "sigmoid"
        || !class.ends_with("Dense")
        || !call.ends_with(')')
        || call.contains("activation")
        || call.contains('\n')
        || call.contains("**")
    {
        return None;
    }
    let close = entry.offset + entry.len - 1;
    Some(Fix::unsafe_(
        message,
        vec![Edit::replace(
            Span {
                offset: close,
                len: 0,
            },
            format!(", activation=\"{activation}\""),
        )],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind, with facts that exercise each arm.
    fn every_kind() -> Vec<Advice<'static>> {
        vec![
            Advice::OneUnitSoftmaxHelp,
            Advice::OneUnitSoftmaxSymptom { trained: true },
            Advice::OneUnitSoftmaxSymptom { trained: false },
            Advice::CertainMissCostName,
            Advice::FoldedSoftmaxHelp,
            Advice::IndependentOutputsHelp { sigmoid: true },
            Advice::IndependentOutputsHelp { sigmoid: false },
            Advice::IndependentOutputsSymptom,
            Advice::RenormalisedLossName,
            Advice::RenormalisedGapName,
            Advice::SoftmaxAxisHelp {
                class_axis: 2,
                last: true,
            },
            Advice::SoftmaxAxisHelp {
                class_axis: 1,
                last: false,
            },
            Advice::ExpectsProbabilitiesLabel,
            Advice::ProbabilityLossOnLogitsHelp { loss: "BCELoss" },
            Advice::ProbabilityLossOnLogitsSymptom,
            Advice::MissingActivationHelp,
            Advice::LogitsFlagOnFix { value: "True" },
            Advice::LogitsFlagOffFix { value: "false" },
            Advice::LogitsLossOnActivationHelp {
                activation: "softmax",
                loss: "CrossEntropyLoss",
                sigmoid_loss: false,
            },
            Advice::CategoricalOnOneUnitHelp,
            Advice::CategoricalOnOneUnitSymptom,
            Advice::CategoricalLossName,
            Advice::BinaryOnSoftmaxHelp,
            Advice::SparseOnSigmoidsHelp,
            Advice::SparseOnSigmoidsSymptom,
            Advice::LogOfActivationHelp { softmax: true },
            Advice::LogOfActivationHelp { softmax: false },
            Advice::LambdaBytecodeSymptom,
            Advice::NotBytecodeReason,
            Advice::StackedLinearHelp {
                hidden: 64,
                d_in: 32,
                d_out: 10,
            },
            Advice::NllLossName,
            Advice::NllLossLabel,
            Advice::NllOnProbabilitiesHelp,
            Advice::NllOnLogitsHelp,
            Advice::RegressionOnClassifierHelp { softmax: true },
            Advice::RegressionOnClassifierHelp { softmax: false },
            Advice::ActivationBeforeSoftmaxHelp {
                activation: "relu",
                by_loss: true,
            },
            Advice::ActivationBeforeSoftmaxHelp {
                activation: "tanh",
                by_loss: false,
            },
            Advice::SoftmaxHiddenHelp,
            Advice::CrossEntropyAxisHelp {
                normalised: true,
                explicit: true,
                loss: "CategoricalCrossentropy",
                loss_axis: 1,
                found_axis: 2,
                rank: 3,
            },
            Advice::CrossEntropyAxisHelp {
                normalised: false,
                explicit: false,
                loss: "CrossEntropyLoss",
                loss_axis: 1,
                found_axis: 2,
                rank: 3,
            },
            Advice::LibraryTrainsRegression,
            Advice::OneClassCrossEntropySymptom { sequence: true },
        ]
    }

    #[test]
    fn every_kind_has_words_for_every_framework() {
        for advice in every_kind() {
            for fw in Framework::ALL {
                let said = advice.say(fw);
                assert!(!said.is_empty(), "{advice:?} for {fw:?}");
                assert!(!said.contains("  "), "{advice:?} for {fw:?}: {said:?}");
                assert!(!said.contains('\n'), "{advice:?} for {fw:?}: {said:?}");
            }
        }
    }

    #[test]
    fn frameworks_of_one_column_get_the_same_words() {
        for advice in every_kind() {
            for a in Framework::ALL {
                for b in Framework::ALL {
                    if words(a) == words(b) {
                        assert_eq!(advice.say(a), advice.say(b), "{advice:?}: {a:?} / {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn torch_models_get_torch_words_and_keras_models_keras_words() {
        let help = Advice::OneUnitSoftmaxHelp;
        for fw in [
            Framework::PyTorch,
            Framework::Lightning,
            Framework::HuggingFace,
        ] {
            assert!(help.say(fw).contains("nn.BCEWithLogitsLoss"), "{fw:?}");
            assert!(!help.say(fw).contains("Dense("), "{fw:?}");
        }
        for fw in [
            Framework::Keras,
            Framework::TfKeras,
            Framework::Tf1,
            Framework::Unknown,
        ] {
            assert!(help.say(fw).starts_with("use `Dense(1"), "{fw:?}");
        }
        let help = Advice::ProbabilityLossOnLogitsHelp {
            loss: "F.binary_cross_entropy",
        };
        assert!(
            help.say(Framework::PyTorch)
                .ends_with("if `F.binary_cross_entropy` must stay")
        );
        assert!(
            help.say(Framework::Keras)
                .starts_with("set from_logits=True")
        );
    }

    #[test]
    fn the_symptom_states_each_frameworks_binary_cross_entropy_floor() {
        let torch = Advice::OneUnitSoftmaxSymptom { trained: true }.say(Framework::PyTorch);
        assert!(
            torch.contains("sits at 100 ×") && torch.contains("≈50 at 50 %"),
            "{torch}"
        );
        let keras = Advice::OneUnitSoftmaxSymptom { trained: true }.say(Framework::Keras);
        assert!(keras.contains("sits at ≈15.94 ×"), "{keras}");
        assert!(keras.contains("(≈7.97 at 50 %)"), "{keras}");
        let untrained = Advice::OneUnitSoftmaxSymptom { trained: false }.say(Framework::Unknown);
        assert!(untrained.contains("≈15.94 ×"), "{untrained}");
    }

    #[test]
    fn the_cross_entropy_axis_help_names_the_softmax_axis_only_when_it_is_the_last() {
        let say = |found_axis| {
            Advice::CrossEntropyAxisHelp {
                normalised: true,
                explicit: true,
                loss: "CategoricalCrossentropy",
                loss_axis: 1,
                found_axis,
                rank: 3,
            }
            .say(Framework::Keras)
        };
        assert!(say(2).contains("the last axis, where this softmax normalises)"));
        assert!(say(0).contains("the last axis), or normalise over axis 1"));
    }
}
