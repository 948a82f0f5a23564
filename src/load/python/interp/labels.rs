//! Labels whose classes the file states: a known dataset (`keras.datasets.mnist.load_data()`,
//! `torchvision.datasets.CIFAR10(...)`), a one-hot encoding of a stated width
//! (`to_categorical(y, 10)`, `F.one_hot(y, 5)`, `tf.one_hot(y, depth=3)`), and what carries them
//! unchanged to the loss: tuple unpacking, slices, `DataLoader`s, `for x, y in loader`,
//! `next(iter(loader))` and `dataiter.next()`, `enumerate`, `tqdm`, `y.to(device)`,
//! `np.asarray(y)`. A model trained on them (`model.fit(x, y)`, `criterion(model(x), y)`)
//! records how many classes they name ([`crate::ir::ClassLabels`]).
//!
//! Anything else done to labels (a comparison, arithmetic, a boolean mask, a function nnlint does
//! not know) makes them an unknown value: `y == 3` names two classes, not ten, and a mask may
//! keep only some classes.

use super::shaping::arg;
use super::{KwValue, SValue, Value, World};
use crate::ir::Span;
use crate::load::python::syntax::Expr;
use std::sync::Arc;

/// What the file states about some labels.
#[derive(Debug)]
pub struct LabelFact {
    pub classes: u64,
    pub one_hot: bool,
    /// Where the classes are stated.
    pub span: Span,
    /// How, as written (`keras.datasets.mnist`, `to_categorical(…, 10)`).
    pub source: String,
}

/// How a value holds labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataForm {
    /// The labels themselves (`y_train`, a batch's targets).
    Labels,
    /// A method of the labels that gives them back unchanged (`y.to`, `y.astype`), not yet called.
    LabelsMethod,
    /// Yields `(input, labels)` pairs: a dataset, its `DataLoader`, a `tf.data.Dataset` of
    /// `(x, y)`, `ImageDataGenerator.flow(x, y)`.
    Pairs,
    /// A method of such a source that gives the same pairs (`ds.shuffle(1000)`, `ds.batch(32)`).
    PairsMethod,
    /// Yields `(index, (input, labels))`: `enumerate` of the above.
    Enumerated,
    /// The `next` method of an iterator over `Pairs` (`it.next()`, Python 2's spelling of
    /// `next(it)`, still in tutorials; `it.__next__()`), not yet called.
    PairsNext,
    /// The same over `Enumerated`.
    EnumeratedNext,
}

/// Keras datasets: `(x_train, y_train), (x_test, y_test) = <name>.load_data()`.
fn keras_dataset(name: &str, kwargs: &[KwValue]) -> Option<u64> {
    Some(match name {
        "mnist" | "fashion_mnist" | "cifar10" => 10,
        "cifar100" => {
            let coarse = kwargs.iter().any(|k| {
                k.name == "label_mode" && matches!(&k.value.value, Value::Str(s) if s == "coarse")
            });
            if coarse { 20 } else { 100 }
        }
        "imdb" => 2,
        "reuters" => 46,
        _ => return None,
    })
}

/// torchvision datasets yielding `(image, class index)`.
fn torchvision_dataset(name: &str) -> Option<u64> {
    Some(match name {
        "MNIST" | "FashionMNIST" | "KMNIST" | "QMNIST" | "CIFAR10" | "SVHN" | "STL10" => 10,
        "CIFAR100" => 100,
        _ => return None,
    })
}

/// Class indices listed one by one (`np.unique(y)`) up to this many classes.
const MAX_LISTED: u64 = 1000;

/// Methods of a source of `(x, y)` pairs that give the same pairs (`tf.data`).
const PAIRS_METHODS: &[&str] = &[
    "shuffle", "batch", "repeat", "prefetch", "cache", "take", "skip", "unbatch",
];

/// Methods of labels that give them back with the same classes.
const KEEP_METHODS: &[&str] = &[
    "to",
    "cuda",
    "cpu",
    "long",
    "int",
    "float",
    "double",
    "type",
    "astype",
    "numpy",
    "detach",
    "clone",
    "copy",
    "squeeze",
    "flatten",
    "ravel",
    "view",
    "reshape",
    "unsqueeze",
    "contiguous",
];

/// Functions that give their first argument's labels back unchanged (last part of the path).
const KEEP_FUNCTIONS: &[&str] = &[
    "array",
    "asarray",
    "squeeze",
    "ravel",
    "tensor",
    "as_tensor",
    "from_numpy",
    "LongTensor",
    "cast",
    "convert_to_tensor",
];

impl World {
    /// A call that makes, carries or unpacks labels; `None` for every other call.
    pub(super) fn labels_call(
        &mut self,
        callee: &Value,
        func: &Expr,
        args: &[SValue],
        kwargs: &[KwValue],
        span: Span,
    ) -> Option<Value> {
        let first = || args.first().map(|a| &a.value);
        let labels = |f: &Arc<LabelFact>, form| Value::Data(f.clone(), form);
        match callee {
            // `y.to(device)`, `y.astype("int64")`.
            Value::Data(f, DataForm::LabelsMethod) => Some(labels(f, DataForm::Labels)),
            Value::Data(f, DataForm::PairsMethod) => Some(labels(f, DataForm::Pairs)),
            // `dataiter.next()`: one element, as `next(dataiter)`.
            Value::Data(f, DataForm::PairsNext) => {
                self.element_of(&labels(f, DataForm::Pairs), span)
            }
            Value::Data(f, DataForm::EnumeratedNext) => {
                self.element_of(&labels(f, DataForm::Enumerated), span)
            }
            Value::Path(p) => {
                let mut parts = p.rsplit('.');
                let last = parts.next().unwrap_or("");
                let before = parts.next().unwrap_or("");
                let datasets = parts.next().unwrap_or("");
                if last == "load_data"
                    && datasets == "datasets"
                    && (p.starts_with("keras.") || p.starts_with("tensorflow."))
                    && let Some(classes) = keras_dataset(before, kwargs)
                {
                    let fact = Arc::new(LabelFact {
                        classes,
                        one_hot: false,
                        span,
                        source: format!("keras.datasets.{before}"),
                    });
                    let split = |v: Value| {
                        let item = |value| SValue { value, span };
                        item(Value::Tuple(vec![item(Value::Unknown), item(v)]))
                    };
                    return Some(Value::Tuple(vec![
                        split(labels(&fact, DataForm::Labels)),
                        split(labels(&fact, DataForm::Labels)),
                    ]));
                }
                if p.starts_with("torchvision.datasets.")
                    && let Some(classes) = torchvision_dataset(last)
                {
                    let fact = Arc::new(LabelFact {
                        classes,
                        one_hot: false,
                        span,
                        source: format!("torchvision.datasets.{last}"),
                    });
                    return Some(labels(&fact, DataForm::Pairs));
                }
                let stated = |pos: usize, key: &str| match arg(args, kwargs, pos, &[key]) {
                    Some(Value::Int(k)) if *k > 0 => Some(*k as u64),
                    _ => None,
                };
                let one_hot = match last {
                    "to_categorical" => Some(stated(1, "num_classes")),
                    "one_hot" if p.starts_with("torch.") => Some(stated(1, "num_classes")),
                    "one_hot" if p.starts_with("tensorflow.") => Some(stated(1, "depth")),
                    _ => None,
                };
                if let Some(width) = one_hot {
                    let of = match first() {
                        Some(Value::Data(f, DataForm::Labels)) => Some(f.clone()),
                        _ => None,
                    };
                    let classes = width.or(of.as_ref().map(|f| f.classes))?;
                    // Labels that name more classes than the encoding holds do not encode.
                    if of.as_ref().is_some_and(|f| f.classes > classes) {
                        return Some(Value::Unknown);
                    }
                    let written = match width {
                        Some(k) => format!("{last}(…, {k})"),
                        None => format!(
                            "{last}(…) of {}",
                            of.as_ref().map_or("", |f| f.source.as_str())
                        ),
                    };
                    return Some(Value::Data(
                        Arc::new(LabelFact {
                            classes,
                            one_hot: true,
                            span,
                            source: written,
                        }),
                        DataForm::Labels,
                    ));
                }
                let numpy = p.starts_with("numpy.");
                match (last, first()) {
                    // `np.max(y_train) + 1`: the classes of a dataset all occur, so its largest
                    // label is one less than their count.
                    ("max" | "amax", Some(Value::Data(f, DataForm::Labels)))
                        if numpy && !f.one_hot =>
                    {
                        Some(Value::Int(f.classes as i64 - 1))
                    }
                    // `len(np.unique(y_train))`: the class indices, each once.
                    ("unique", Some(Value::Data(f, DataForm::Labels)))
                        if numpy && !f.one_hot && f.classes <= MAX_LISTED =>
                    {
                        Some(Value::List(
                            (0..f.classes as i64)
                                .map(|k| SValue {
                                    value: Value::Int(k),
                                    span,
                                })
                                .collect(),
                        ))
                    }
                    // `tf.data.Dataset.from_tensor_slices((x_train, y_train))`.
                    ("from_tensor_slices", v) if p.starts_with("tensorflow.") => {
                        pair_labels(v).map(|f| labels(&f, DataForm::Pairs))
                    }
                    // `TensorDataset(x, y)`.
                    ("TensorDataset", _) if args.len() == 2 => {
                        fact_of(&args[1].value).map(|f| labels(&f, DataForm::Pairs))
                    }
                    ("DataLoader" | "Subset", _) => match arg(args, kwargs, 0, &["dataset"]) {
                        Some(Value::Data(f, DataForm::Pairs)) => Some(labels(f, DataForm::Pairs)),
                        _ => None,
                    },
                    ("random_split", Some(Value::Data(f, DataForm::Pairs))) => {
                        let n = match args.get(1).map(|a| &a.value) {
                            Some(Value::List(l) | Value::Tuple(l)) => l.len(),
                            _ => return None,
                        };
                        Some(Value::List(
                            (0..n)
                                .map(|_| SValue {
                                    value: labels(f, DataForm::Pairs),
                                    span,
                                })
                                .collect(),
                        ))
                    }
                    // `tqdm(loader)`: the same batches, with a progress bar.
                    ("tqdm", Some(Value::Data(f, form))) => Some(labels(f, *form)),
                    (name, Some(Value::Data(f, DataForm::Labels)))
                        if KEEP_FUNCTIONS.contains(&name) =>
                    {
                        Some(labels(f, DataForm::Labels))
                    }
                    _ => None,
                }
            }
            // `datagen.flow(x_train, y_train, batch_size=32)`: augmented `(x, y)` batches.
            _ if matches!(func, Expr::Attribute { attr, .. } if attr == "flow") => {
                let y = arg(args, kwargs, 1, &["y"]).and_then(fact_of)?;
                Some(Value::Data(y, DataForm::Pairs))
            }
            // Builtins on a data source: `enumerate(loader)`, `iter(loader)`, `next(it)`.
            Value::Unknown => {
                let Expr::Name { id, .. } = func else {
                    return None;
                };
                match (id.as_str(), first()) {
                    ("enumerate", Some(Value::Data(f, DataForm::Pairs))) => {
                        Some(labels(f, DataForm::Enumerated))
                    }
                    ("iter", Some(v @ Value::Data(..))) => Some(v.clone()),
                    ("next", Some(v @ Value::Data(..))) => self.element_of(v, span),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// What one step of iterating `v` gives, when `v` is a source of labelled data.
    pub(super) fn element_of(&self, v: &Value, span: Span) -> Option<Value> {
        let item = |value| SValue { value, span };
        let pair = |f: &Arc<LabelFact>| {
            Value::Tuple(vec![
                item(Value::Unknown),
                item(Value::Data(f.clone(), DataForm::Labels)),
            ])
        };
        match v {
            Value::Data(f, DataForm::Pairs) => Some(pair(f)),
            Value::Data(f, DataForm::Enumerated) => {
                Some(Value::Tuple(vec![item(Value::Unknown), item(pair(f))]))
            }
            _ => None,
        }
    }
}

/// `y.<attr>` of labels: a method that keeps them, else unknown.
pub(super) fn attribute(f: &Arc<LabelFact>, form: DataForm, attr: &str) -> Value {
    match form {
        DataForm::Labels if KEEP_METHODS.contains(&attr) => {
            Value::Data(f.clone(), DataForm::LabelsMethod)
        }
        DataForm::Pairs if PAIRS_METHODS.contains(&attr) => {
            Value::Data(f.clone(), DataForm::PairsMethod)
        }
        DataForm::Pairs if matches!(attr, "next" | "__next__") => {
            Value::Data(f.clone(), DataForm::PairsNext)
        }
        DataForm::Enumerated if matches!(attr, "next" | "__next__") => {
            Value::Data(f.clone(), DataForm::EnumeratedNext)
        }
        _ => Value::Unknown,
    }
}

/// The labels of a value given to a loss, when it holds them.
pub(super) fn fact_of(v: &Value) -> Option<Arc<LabelFact>> {
    match v {
        Value::Data(f, DataForm::Labels) => Some(f.clone()),
        _ => None,
    }
}

/// The labels a training call reads from its `x` and `y` (`fit(x, y)`, `fit(dataset)`).
pub(super) fn trained_on(x: Option<&Value>, y: Option<&Value>) -> Option<Arc<LabelFact>> {
    match (x, y) {
        (_, Some(Value::Data(f, DataForm::Labels))) => Some(f.clone()),
        (Some(Value::Data(f, DataForm::Pairs)), None | Some(Value::None)) => Some(f.clone()),
        _ => None,
    }
}

/// The labels of the pair `(x, y)` (a tuple of the features and the labels).
fn pair_labels(v: Option<&Value>) -> Option<Arc<LabelFact>> {
    match v {
        Some(Value::Tuple(items)) if items.len() == 2 => fact_of(&items[1].value),
        _ => None,
    }
}
