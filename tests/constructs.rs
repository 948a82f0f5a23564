//! Construct-level tests of the Python front end: one row per construct the interpreter models,
//! each a short script written the way users write it, the findings it must give (rule code and
//! 1-based line of the primary label), and a fixed twin that must be checked and silent.
//!
//! A row's `source` starts on the line after `r#"`: that is line 1 of the script. A twin is either
//! a set of edits of the row's source (each `old` text occurs exactly once) or a script of its own.
//! A twin must lint to no finding *and* be checked: a "not checked" note on a twin is a failure.

use nnlint::engine::{self, Settings};
use nnlint::finding::At;
use nnlint::load::LoadError;

/// What linting a row's script must give.
enum Expect {
    /// Checked, with exactly these findings: (code, 1-based line of the primary label), in any
    /// order.
    Findings(&'static [(&'static str, usize)]),
    /// Not checked: an info note that names where the interpreter stopped (its message contains
    /// "not checked" and "line").
    NotChecked,
    /// Checked (or nothing to check) and silent: no finding, no note.
    Silent,
}

/// The fixed script, which must be checked and silent.
enum Twin {
    /// The row's source with each `(old, new)` replaced; `old` must occur exactly once.
    Edit(&'static [(&'static str, &'static str)]),
    /// A script of its own.
    Source(&'static str),
    /// The row has no twin (it is silent already).
    Absent,
}

struct Row {
    name: &'static str,
    source: &'static str,
    expect: Expect,
    twin: Twin,
}

/// The script text of a raw-string snippet: the newline right after `r#"` is not part of it.
fn script(snippet: &str) -> &str {
    snippet.strip_prefix('\n').unwrap_or(snippet)
}

fn twin_source(row: &Row) -> Option<String> {
    match row.twin {
        Twin::Edit(edits) => {
            let mut text = script(row.source).to_string();
            for (old, new) in edits {
                assert_ne!(old, new, "{}: twin edit changes nothing", row.name);
                assert_eq!(
                    text.matches(old).count(),
                    1,
                    "{}: twin edit `{old}` must occur exactly once",
                    row.name
                );
                text = text.replacen(old, new, 1);
            }
            Some(text)
        }
        Twin::Source(s) => Some(script(s).to_string()),
        Twin::Absent => None,
    }
}

/// Findings of a checked file as (code, line, label text), sorted; or the load error.
type Outcome = Result<Vec<(&'static str, usize, String)>, LoadError>;

/// Lints `text` as `train.py` in its own temporary directory.
fn lint_script(text: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.py");
    std::fs::write(&path, text).unwrap();
    let linted = engine::lint_path(&path, &Settings::default()).outcome?;
    let source = linted.model.source_text.as_deref().unwrap_or_default();
    let mut found: Vec<(&'static str, usize, String)> = linted
        .findings
        .iter()
        .map(|f| match f.primary() {
            Some(At::Span(span)) => (
                f.code,
                source[..span.offset].matches('\n').count() + 1,
                source[span.offset..span.offset + span.len].to_string(),
            ),
            other => (f.code, 0, format!("primary label is not a span: {other:?}")),
        })
        .collect();
    found.sort();
    Ok(found)
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Ok(found) => format!("findings {found:?}"),
        Err(e) if e.not_checked => format!("note `{}`", e.message),
        Err(e) => format!("error `{}`", e.message),
    }
}

/// Checks one row; returns what went wrong, if anything.
fn check_row(row: &Row) -> Vec<String> {
    let mut problems = vec![];
    let outcome = lint_script(script(row.source));
    let ok = match (&row.expect, &outcome) {
        (Expect::Findings(expected), Ok(found)) => {
            let mut expected = expected.to_vec();
            expected.sort();
            let got: Vec<(&str, usize)> = found.iter().map(|(c, l, _)| (*c, *l)).collect();
            got == expected
        }
        (Expect::NotChecked, Err(e)) => {
            e.not_checked && e.message.contains("not checked") && e.message.contains("line")
        }
        (Expect::Silent, Ok(found)) => found.is_empty(),
        _ => false,
    };
    if !ok {
        let want = match row.expect {
            Expect::Findings(expected) => format!("findings {expected:?}"),
            Expect::NotChecked => "a not-checked note naming a line".to_string(),
            Expect::Silent => "no finding and no note".to_string(),
        };
        problems.push(format!(
            "{}: expected {want}, got {}",
            row.name,
            describe(&outcome)
        ));
    }
    if let Some(text) = twin_source(row) {
        let outcome = lint_script(&text);
        if !matches!(&outcome, Ok(found) if found.is_empty()) {
            problems.push(format!(
                "{} (fixed twin): expected checked and silent, got {}",
                row.name,
                describe(&outcome)
            ));
        }
    }
    problems
}

fn check_table(rows: &[Row]) {
    let problems: Vec<String> = rows.iter().flat_map(check_row).collect();
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn keras_constructs() {
    check_table(KERAS);
}

#[test]
fn pytorch_constructs() {
    check_table(TORCH);
}

#[test]
fn tf1_and_tf2_graph_constructs() {
    check_table(TF);
}

#[test]
fn python_integer_semantics() {
    check_table(INTEGERS);
}

#[test]
fn coverage_notes() {
    check_table(COVERAGE);
}

#[test]
fn configuration_objects() {
    check_table(CONFIG);
}

#[test]
fn labels_and_their_classes() {
    check_table(LABELS);
}

#[test]
fn loss_functions_of_the_file() {
    check_table(LOSS_FUNCTIONS);
}

#[test]
fn row_names_are_unique() {
    let mut names: Vec<&str> = [
        KERAS,
        TORCH,
        TF,
        INTEGERS,
        COVERAGE,
        CONFIG,
        LABELS,
        LOSS_FUNCTIONS,
    ]
    .iter()
    .flat_map(|t| t.iter().map(|r| r.name))
    .collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all, "two rows share a name");
}

const KERAS: &[Row] = &[
    Row {
        name: "keras: a Model subclass overriding train_step, built on a functional graph",
        source: r#"
import keras
import tensorflow as tf
from keras import layers


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        return {"loss": loss}


inputs = keras.Input(shape=(32,))
features = layers.Dense(64, activation="relu")(inputs)
outputs = layers.Dense(1, activation="softmax")(features)
model = CustomModel(inputs, outputs)
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL001", 17)]),
        twin: Twin::Edit(&[(
            "Dense(1, activation=\"softmax\")",
            "Dense(1, activation=\"sigmoid\")",
        )]),
    },
    Row {
        name: "keras: Sequential([...]) list ending Dense(1, softmax) + binary_crossentropy",
        source: r#"
import tensorflow as tf

model = tf.keras.Sequential([
    tf.keras.layers.Dense(64, activation="relu", input_shape=(20,)),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(1, activation="softmax"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(X_train, y_train, epochs=20, validation_split=0.1)
"#,
        expect: Expect::Findings(&[("NNL001", 6)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: model.add, sigmoid head + categorical_crossentropy",
        source: r#"
from keras.models import Sequential
from keras.layers import Dense, Dropout

clf = Sequential()
clf.add(Dense(128, input_dim=30, activation='relu'))
clf.add(Dropout(0.3))
clf.add(Dense(3, activation='sigmoid'))
clf.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['acc'])
clf.fit(X, Y, batch_size=64, epochs=50)
"#,
        expect: Expect::Findings(&[("NNL002", 7)]),
        twin: Twin::Edit(&[("'sigmoid'", "'softmax'")]),
    },
    Row {
        name: "keras: Sequential without an input shape, Dense(1, softmax)",
        source: r#"
from tensorflow import keras

model = keras.Sequential()
model.add(keras.layers.Dense(32, activation="relu"))
model.add(keras.layers.Dense(16, activation="relu"))
model.add(keras.layers.Dense(1, activation="softmax"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=30, batch_size=16)
"#,
        expect: Expect::Findings(&[("NNL001", 6)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: input_shape=X.shape[1:], linear head + binary_crossentropy",
        source: r#"
import pandas as pd
from tensorflow import keras

df = pd.read_csv("churn.csv")
X = df.drop(columns=["churned"]).values
y = df["churned"].values

model = keras.Sequential()
model.add(keras.layers.Dense(16, activation="relu", input_shape=X.shape[1:]))
model.add(keras.layers.Dense(8, activation="relu"))
model.add(keras.layers.Dense(1))
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(X, y, epochs=10, batch_size=32)
"#,
        expect: Expect::Findings(&[("NNL004", 11)]),
        twin: Twin::Edit(&[("Dense(1))", "Dense(1, activation=\"sigmoid\"))")]),
    },
    Row {
        name: "keras: functional API with Input, relu head + sparse CE",
        source: r#"
from tensorflow.keras import Input, Model, layers

inputs = Input(shape=(28, 28, 1))
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.MaxPooling2D()(x)
x = layers.Flatten()(x)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10, activation="relu")(x)
model = Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL006", 8)]),
        twin: Twin::Edit(&[(
            "Dense(10, activation=\"relu\")",
            "Dense(10, activation=\"softmax\")",
        )]),
    },
    Row {
        name: "keras: model built in a method of a plain class (self.model = self.build())",
        source: r#"
from tensorflow import keras


class SpamClassifier:
    def __init__(self, vocab_size, hidden=64):
        self.vocab_size = vocab_size
        self.hidden = hidden
        self.model = self.build()

    def build(self):
        model = keras.Sequential()
        model.add(keras.layers.Dense(self.hidden, activation="relu", input_shape=(self.vocab_size,)))
        model.add(keras.layers.Dense(1, activation="softmax"))
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    def train(self, X, y):
        self.model.fit(X, y, epochs=5, batch_size=32)


clf = SpamClassifier(5000)
clf.train(X_train, y_train)
"#,
        expect: Expect::Findings(&[("NNL001", 13)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: builder function with parameters, never called in the file",
        source: r#"
from keras.models import Sequential
from keras.layers import Dense, Dropout


def create_model(n_features, hidden=256, dropout=0.2):
    model = Sequential()
    model.add(Dense(hidden, activation='relu', input_dim=n_features))
    model.add(Dropout(dropout))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    return model
"#,
        expect: Expect::Findings(&[("NNL007", 10)]),
        twin: Twin::Edit(&[("'categorical_crossentropy'", "'binary_crossentropy'")]),
    },
    Row {
        name: "keras: loop whose count is a parameter before the head",
        source: r#"
import argparse
import tensorflow as tf


def make_mlp(input_dim, n_layers=3, width=128):
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.InputLayer(input_shape=(input_dim,)))
    for _ in range(n_layers):
        model.add(tf.keras.layers.Dense(width, activation="relu"))
    model.add(tf.keras.layers.Dense(1, activation="softmax"))
    return model


parser = argparse.ArgumentParser()
parser.add_argument("--depth", type=int)
args = parser.parse_args()
net = make_mlp(X_train.shape[1], n_layers=args.depth)
net.compile(optimizer="adam", loss="binary_crossentropy")
net.fit(X_train, y_train)
"#,
        expect: Expect::Findings(&[("NNL001", 10)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: model on a module attribute (tf.model = tf.keras.Sequential())",
        source: r#"
import numpy as np
import tensorflow as tf

x_data = np.array([[1, 2, 1, 1], [2, 1, 3, 2], [3, 1, 3, 4]], dtype=np.float32)
y_data = np.array([[0], [1], [1]], dtype=np.float32)

tf.model = tf.keras.Sequential()
tf.model.add(tf.keras.layers.Dense(units=1, input_dim=4))
tf.model.add(tf.keras.layers.Activation('softmax'))
tf.model.compile(loss='binary_crossentropy', optimizer=tf.keras.optimizers.SGD(learning_rate=0.1), metrics=['accuracy'])
tf.model.summary()
tf.model.fit(x_data, y_data, epochs=100)
"#,
        expect: Expect::Findings(&[("NNL001", 9)]),
        twin: Twin::Edit(&[("Activation('softmax')", "Activation('sigmoid')")]),
    },
    Row {
        name: "keras: activation=tf.nn.softmax under tensorflow.compat.v1",
        source: r#"
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()

model = tf.keras.models.Sequential([
    tf.keras.layers.Dense(32, activation=tf.nn.relu, input_shape=(10,)),
    tf.keras.layers.Dense(1, activation=tf.nn.softmax),
])
model.compile(optimizer=tf.train.AdamOptimizer(0.001), loss='binary_crossentropy', metrics=['accuracy'])
"#,
        expect: Expect::Findings(&[("NNL001", 7)]),
        twin: Twin::Edit(&[("activation=tf.nn.softmax", "activation=tf.nn.sigmoid")]),
    },
    Row {
        name: "keras: Model subclass with call() + compile(loss=...)",
        source: r#"
import tensorflow as tf


class SentimentNet(tf.keras.Model):
    def __init__(self, hidden=32):
        super().__init__()
        self.hidden = tf.keras.layers.Dense(hidden, activation="relu")
        self.drop = tf.keras.layers.Dropout(0.5)
        self.out = tf.keras.layers.Dense(1, activation="softmax")

    def call(self, inputs, training=False):
        x = self.hidden(inputs)
        x = self.drop(x, training=training)
        return self.out(x)


model = SentimentNet()
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(train_features, train_labels, epochs=3)
"#,
        expect: Expect::Findings(&[("NNL001", 9)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: buggy classifier and correct regressor in one file",
        source: r#"
from tensorflow import keras
from tensorflow.keras import layers

classifier = keras.Sequential([
    layers.Dense(64, activation="relu", input_shape=(12,)),
    layers.Dense(5, activation="sigmoid"),
])
classifier.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

regressor = keras.Sequential([
    layers.Dense(64, activation="relu", input_shape=(12,)),
    layers.Dense(1),
])
regressor.compile(optimizer="adam", loss="mse")

classifier.fit(X, Y_onehot, epochs=10)
regressor.fit(X, y_price, epochs=10)
"#,
        expect: Expect::Findings(&[("NNL002", 6)]),
        twin: Twin::Edit(&[(
            "Dense(5, activation=\"sigmoid\")",
            "Dense(5, activation=\"softmax\")",
        )]),
    },
    Row {
        name: "keras: from_logits=True loss on a softmax output",
        source: r#"
import tensorflow as tf
from tensorflow.keras import layers

model = tf.keras.Sequential([
    layers.Conv2D(16, 3, activation="relu", input_shape=(32, 32, 3)),
    layers.GlobalAveragePooling2D(),
    layers.Dense(10, activation="softmax"),
])
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
model.fit(train_images, train_labels, epochs=5)
"#,
        expect: Expect::Findings(&[("NNL005", 7)]),
        twin: Twin::Edit(&[("from_logits=True", "from_logits=False")]),
    },
    Row {
        name: "keras: `if` on a module flag picks the relu head",
        source: r#"
from keras.models import Sequential
from keras.layers import Dense

MULTI_LABEL = False
N_CLASSES = 4

model = Sequential()
model.add(Dense(32, activation="relu", input_shape=(16,)))
if MULTI_LABEL:
    model.add(Dense(N_CLASSES, activation="sigmoid"))
    loss = "binary_crossentropy"
else:
    model.add(Dense(N_CLASSES, activation="relu"))
    loss = "categorical_crossentropy"
model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL006", 13)]),
        twin: Twin::Edit(&[(
            "Dense(N_CLASSES, activation=\"relu\")",
            "Dense(N_CLASSES, activation=\"softmax\")",
        )]),
    },
    Row {
        name: "keras: functional two-output model with a dict of losses",
        source: r#"
from tensorflow import keras
from tensorflow.keras import layers

inp = keras.Input(shape=(64,), name="listing")
h = layers.Dense(32, activation="relu")(inp)
kind = layers.Dense(4, activation="softmax", name="kind")(h)
price = layers.Dense(1, name="price")(h)
model = keras.Model(inputs=inp, outputs=[kind, price])
model.compile(
    optimizer="adam",
    loss={"kind": "binary_crossentropy", "price": "mse"},
)
"#,
        expect: Expect::Findings(&[("NNL007", 11)]),
        twin: Twin::Edit(&[(
            "\"kind\": \"binary_crossentropy\"",
            "\"kind\": \"categorical_crossentropy\"",
        )]),
    },
    Row {
        name: "keras: builder taking *layer_sizes and **compile_kwargs, called with a config dict spread",
        source: r#"
from tensorflow import keras


def build(n_features, *layer_sizes, out_activation="sigmoid", **compile_kwargs):
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for units in layer_sizes:
        model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dense(1, activation=out_activation))
    model.compile(optimizer="adam", **compile_kwargs)
    return model


CONFIG = {"out_activation": "softmax", "loss": "binary_crossentropy", "metrics": ["accuracy"]}
model = build(30, 64, 32, **CONFIG)
model.fit(x_train, y_train, epochs=10)
"#,
        expect: Expect::Findings(&[("NNL001", 8)]),
        twin: Twin::Edit(&[(
            "\"out_activation\": \"softmax\"",
            "\"out_activation\": \"sigmoid\"",
        )]),
    },
    Row {
        name: "keras: the builder the settings do not pick (if VERSION == 2 ... else ...) is still checked",
        source: r#"
from tensorflow import keras
from tensorflow.keras import layers

VERSION = 1


def small_net(shape, classes=10):
    inp = keras.Input(shape=shape)
    x = layers.Flatten()(inp)
    out = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, out)


def wide_net(shape, classes=10):
    inp = keras.Input(shape=shape)
    x = layers.Dense(256, activation="relu")(layers.Flatten()(inp))
    out = layers.Dense(1, activation="softmax")(x)
    return keras.Model(inp, out)


if VERSION == 2:
    model = wide_net((28, 28))
else:
    model = small_net((28, 28))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 17)]),
        twin: Twin::Edit(&[(
            "out = layers.Dense(1, activation=\"softmax\")(x)",
            "out = layers.Dense(classes, activation=\"softmax\")(x)",
        )]),
    },
    Row {
        name: "keras: a loss object's axis= is the class axis it reads",
        source: r#"
from tensorflow import keras

model = keras.Sequential([
    keras.Input((32,)),
    keras.layers.Dense(40),
    keras.layers.Reshape((4, 10)),
    keras.layers.Softmax(),
])
model.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(axis=1))
"#,
        expect: Expect::Findings(&[("NNL015", 7)]),
        twin: Twin::Edit(&[(
            "CategoricalCrossentropy(axis=1)",
            "CategoricalCrossentropy()",
        )]),
    },
    Row {
        name: "keras: model built in a function that assigns a `global`, compiled at the top level",
        source: r#"
from tensorflow import keras

model = None


def build(width):
    global model
    model = keras.Sequential([keras.Input((width,)), keras.layers.Dense(10, activation="softmax")])


build(32)
model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True), optimizer="adam")
model.fit(x_train, y_train)
"#,
        expect: Expect::Findings(&[("NNL005", 8)]),
        twin: Twin::Edit(&[("from_logits=True", "from_logits=False")]),
    },
    Row {
        name: "keras: the output activation chosen by a nested function through `nonlocal`",
        source: r#"
from tensorflow import keras


def make(n_features):
    act = "sigmoid"

    def multiclass():
        nonlocal act
        act = "softmax"

    multiclass()
    m = keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(1, activation=act)])
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


model = make(12)
"#,
        expect: Expect::Findings(&[("NNL001", 12)]),
        twin: Twin::Edit(&[("        act = \"softmax\"\n", "        act = \"sigmoid\"\n")]),
    },
    Row {
        name: "keras: head settings held in a namedtuple",
        source: r#"
from collections import namedtuple
from tensorflow import keras

Head = namedtuple("Head", "units activation loss")
HEAD = Head(1, "softmax", "binary_crossentropy")

model = keras.Sequential([
    keras.Input((30,)),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(HEAD.units, activation=HEAD.activation),
])
model.compile(optimizer="adam", loss=HEAD.loss, metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL001", 10)]),
        twin: Twin::Edit(&[("Head(1, \"softmax\"", "Head(1, \"sigmoid\"")]),
    },
    Row {
        name: "keras: functional head on a keras.applications backbone (include_top=False, base.output, base.input)",
        source: r#"
from tensorflow import keras
from tensorflow.keras.applications import MobileNetV2

base = MobileNetV2(input_shape=(224, 224, 3), include_top=False, weights="imagenet")
base.trainable = False
x = keras.layers.GlobalAveragePooling2D()(base.output)
x = keras.layers.Dense(128, activation="relu")(x)
out = keras.layers.Dense(1, activation="softmax")(x)
model = keras.Model(inputs=base.input, outputs=out)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL001", 8)]),
        twin: Twin::Edit(&[(
            "Dense(1, activation=\"softmax\")",
            "Dense(1, activation=\"sigmoid\")",
        )]),
    },
    Row {
        name: "keras: ResNet50(include_top=False, pooling=\"avg\") inside a Sequential, sigmoid head + categorical_crossentropy",
        source: r#"
import tensorflow as tf

base_model = tf.keras.applications.ResNet50(include_top=False, pooling="avg", input_shape=(224, 224, 3))
model = tf.keras.Sequential([
    base_model,
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(5, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL002", 7)]),
        twin: Twin::Edit(&[("activation=\"sigmoid\"", "activation=\"softmax\"")]),
    },
    Row {
        name: "keras: hub.KerasLayer as an opaque trunk, Dense(1, softmax)",
        source: r#"
import tensorflow as tf
import tensorflow_hub as hub

feature_extractor = hub.KerasLayer("https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4", input_shape=(224, 224, 3), trainable=False)
model = tf.keras.Sequential([
    feature_extractor,
    tf.keras.layers.Dense(1, activation="softmax"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL001", 7)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: a pretrained model from load_model as an opaque trunk (base.output, base.input)",
        source: r#"
from tensorflow import keras

base = keras.models.load_model("pretrained_encoder.h5")
base.trainable = False
x = keras.layers.Dense(64, activation="relu")(base.output)
out = keras.layers.Dense(1, activation="softmax")(x)
model = keras.Model(base.input, out)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL001", 6)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: custom Layer subclasses, one whose call is read, one opaque with compute_output_shape",
        source: r#"
import tensorflow as tf
from tensorflow import keras


class Residual(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units, activation="relu")

    def call(self, inputs):
        return inputs + self.dense(inputs)


class Opaque(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 16))

    def call(self, inputs):
        return tf.einsum("bi,ij->bj", inputs, self.w)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 16)


inputs = keras.Input(shape=(32,))
x = Residual(32)(inputs)
x = Opaque()(x)
outputs = keras.layers.Dense(1, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="binary_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 28)]),
        twin: Twin::Edit(&[("activation=\"softmax\")(x)", "activation=\"sigmoid\")(x)")]),
    },
    Row {
        name: "keras: GAN class, build_discriminator() called from __init__",
        source: r#"
from keras.models import Sequential, Model
from keras.layers import Dense, LeakyReLU, Input, Flatten


class GAN:
    def __init__(self):
        self.img_shape = (28, 28, 1)
        self.discriminator = self.build_discriminator()
        self.discriminator.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    def build_discriminator(self):
        model = Sequential()
        model.add(Flatten(input_shape=self.img_shape))
        model.add(Dense(512))
        model.add(LeakyReLU(alpha=0.2))
        model.add(Dense(1, activation="softmax"))
        img = Input(shape=self.img_shape)
        validity = model(img)
        return Model(img, validity)


gan = GAN()
"#,
        expect: Expect::Findings(&[("NNL001", 16)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras: keras_tuner build_model(hp) with hp.Int/hp.Choice/hp.Float, relu head + categorical_crossentropy",
        source: r#"
import keras
import keras_tuner as kt


def build_model(hp):
    model = keras.Sequential()
    model.add(keras.layers.Flatten())
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(keras.layers.Dense(units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32), activation=hp.Choice("activation", ["relu", "tanh"])))
    model.add(keras.layers.Dense(10, activation="relu"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=hp.Float("lr", 1e-4, 1e-2, sampling="log")), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=3)
"#,
        expect: Expect::Findings(&[("NNL006", 10)]),
        twin: Twin::Edit(&[(
            "Dense(10, activation=\"relu\")",
            "Dense(10, activation=\"softmax\")",
        )]),
    },
    Row {
        name: "keras: Input(shape=x_train.shape[1:]), sigmoid head + categorical_crossentropy",
        source: r#"
import tensorflow as tf
from tensorflow import keras

x_train = load_features()
inputs = keras.Input(shape=x_train.shape[1:])
h = keras.layers.Dense(64, activation="relu")(inputs)
out = keras.layers.Dense(3, activation="sigmoid")(h)
model = keras.Model(inputs, out)
model.compile(optimizer="adam", loss="categorical_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL002", 7)]),
        twin: Twin::Edit(&[("activation=\"sigmoid\"", "activation=\"softmax\"")]),
    },
    Row {
        name: "keras: a dict of per-feature Inputs concatenated, Dense(1, softmax)",
        source: r#"
from tensorflow import keras
from tensorflow.keras import layers

feature_names = ["age", "fare", "sibsp", "parch"]
inputs = {name: keras.Input(shape=(1,), name=name) for name in feature_names}
x = layers.Concatenate()(list(inputs.values()))
x = layers.Dense(32, activation="relu")(x)
survived = layers.Dense(1, activation="softmax")(x)
model = keras.Model(inputs=inputs, outputs=survived)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL001", 8)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "keras guard: segmentation Conv2D(n_classes, 1, softmax) over channels + sparse_categorical_crossentropy",
        source: r#"
from tensorflow import keras
from tensorflow.keras import layers

N_CLASSES = 5
inputs = keras.Input(shape=(128, 128, 3))
x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
x = layers.MaxPooling2D()(x)
x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
x = layers.UpSampling2D()(x)
outputs = layers.Conv2D(N_CLASSES, 1, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "keras guard: tf.nn.softmax(q k^T, axis=-1) attention over keys before a softmax classifier",
        source: r#"
import tensorflow as tf
from tensorflow.keras import layers

tokens = tf.keras.Input(shape=(100,), dtype="int32")
x = layers.Embedding(20000, 64)(tokens)
q = layers.Dense(64)(x)
k = layers.Dense(64)(x)
scores = tf.matmul(q, k, transpose_b=True) / 8.0
weights = tf.nn.softmax(scores, axis=-1)
ctx = tf.matmul(weights, x)
pooled = layers.GlobalAveragePooling1D()(ctx)
out = layers.Dense(3, activation="softmax")(pooled)
model = tf.keras.Model(tokens, out)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
];

const TORCH: &[Row] = &[
    Row {
        name: "pytorch: inference code normalises the model's output over the batch (dim=0)",
        source: r#"
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 64)
        self.fc2 = nn.Linear(64, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def predict(model, batch):
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(batch), dim=0)
    return probs.argmax(dim=1)


net = Net()
for x, y in [(torch.randn(8, 20), torch.randint(0, 3, (8,)))]:
    loss = nn.functional.cross_entropy(net(x), y)
print(predict(net, torch.randn(4, 20)))
"#,
        expect: Expect::Findings(&[("NNL003", 18)]),
        twin: Twin::Edit(&[("dim=0)", "dim=1)")]),
    },
    Row {
        name: "pytorch: torch.multinomial samples independent sigmoids as one distribution",
        source: r#"
import torch
from torch import nn


class NextToken(nn.Module):
    def __init__(self, vocab=50, hidden=64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(vocab, hidden), nn.ReLU(), nn.Linear(hidden, vocab))

    def forward(self, x):
        return torch.sigmoid(self.body(x))


model = NextToken()
with torch.no_grad():
    probs = model(torch.randn(1, 50))
    token = torch.multinomial(probs, num_samples=1)
"#,
        expect: Expect::Findings(&[("NNL003", 11)]),
        twin: Twin::Edit(&[(
            "torch.sigmoid(self.body(x))",
            "torch.softmax(self.body(x), dim=-1)",
        )]),
    },
    Row {
        name: "pytorch: a module bound at module level and never called (a models file)",
        source: r#"
import torch
from torch import nn


class TextClassifier(nn.Module):
    def __init__(self, vocab=5000, dim=64, classes=1):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab, dim)
        self.out = nn.Linear(dim, classes)

    def forward(self, tokens, offsets):
        return torch.softmax(self.out(self.bag(tokens, offsets)), dim=1)


model = TextClassifier()
print(model)
"#,
        expect: Expect::Findings(&[("NNL001", 12)]),
        twin: Twin::Edit(&[("classes=1)", "classes=4)")]),
    },
    Row {
        name: "torch: F.max_pool2d/F.relu in forward, softmax into CrossEntropyLoss",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.fc1 = nn.Linear(32 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 32 * 4 * 4)
        x = F.relu(self.fc1(x))
        return F.softmax(self.fc2(x), dim=1)


model = ConvNet()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(10):
    for images, labels in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL005", 19)]),
        twin: Twin::Edit(&[("return F.softmax(self.fc2(x), dim=1)", "return self.fc2(x)")]),
    },
    Row {
        name: "torch: nn.LSTM tuple output, out[:, -1, :], Softmax + CrossEntropyLoss",
        source: r#"
import torch
from torch import nn


class TextRNN(nn.Module):
    def __init__(self, vocab_size, embed_dim=100, hidden_dim=128, num_classes=4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        emb = self.embedding(x)
        out, (h, c) = self.lstm(emb)
        last = out[:, -1, :]
        return self.softmax(self.fc(last))


net = TextRNN(vocab_size=20000)
loss_fn = nn.CrossEntropyLoss()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for batch, target in loader:
    scores = net(batch)
    loss = loss_fn(scores, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
"#,
        expect: Expect::Findings(&[("NNL005", 11)]),
        twin: Twin::Edit(&[
            ("        self.softmax = nn.Softmax(dim=1)\n", ""),
            ("return self.softmax(self.fc(last))", "return self.fc(last)"),
        ]),
    },
    Row {
        name: "torch: forward returns (logits, probs), loss on probs in a loop run twice",
        source: r#"
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 64), nn.ReLU())
        self.head = nn.Linear(64, n_out)

    def forward(self, x):
        logits = self.head(self.body(x))
        probs = torch.softmax(logits, dim=-1)
        return logits, probs


model = Classifier(30, 3)
criterion = nn.CrossEntropyLoss()
optim = torch.optim.Adam(model.parameters())
for epoch in range(2):
    for xb, yb in train_dl:
        logits, probs = model(xb)
        loss = criterion(probs, yb)
        optim.zero_grad()
        loss.backward()
        optim.step()
"#,
        expect: Expect::Findings(&[("NNL005", 13)]),
        twin: Twin::Edit(&[("criterion(probs, yb)", "criterion(logits, yb)")]),
    },
    Row {
        name: "torch: nn.Softmax() without dim on Linear(h, 1)",
        source: r#"
import torch.nn as nn


class ScoreHead(nn.Module):
    def __init__(self, hidden=256):
        super().__init__()
        self.fc = nn.Linear(hidden, 1)
        self.act = nn.Softmax()

    def forward(self, x):
        return self.act(self.fc(x))


model = ScoreHead()
loss_fn = nn.BCELoss()
for x, y in loader:
    loss = loss_fn(model(x), y)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL001", 8)]),
        twin: Twin::Edit(&[("nn.Softmax()", "nn.Sigmoid()")]),
    },
    Row {
        name: "torch: torch.log(torch.softmax(x, 1)) + NLLLoss",
        source: r#"
import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(784, 256)
        self.l2 = nn.Linear(256, 10)

    def forward(self, x):
        h = torch.relu(self.l1(x))
        return torch.log(torch.softmax(self.l2(h), 1))


net = MLP()
crit = nn.NLLLoss()
for x, y in loader:
    loss = crit(net(x), y)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL008", 13)]),
        twin: Twin::Edit(&[(
            "torch.log(torch.softmax(self.l2(h), 1))",
            "torch.log_softmax(self.l2(h), 1)",
        )]),
    },
    Row {
        name: "torch: F.nll_loss on F.softmax",
        source: r#"
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 6)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        return F.softmax(self.fc2(x), dim=1)


model = Net()
for data, target in train_loader:
    output = model(data)
    loss = F.nll_loss(output, target)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL011", 13)]),
        twin: Twin::Edit(&[("F.softmax(", "F.log_softmax(")]),
    },
    Row {
        name: "torch: training loss on logits, evaluation loss on softmax",
        source: r#"
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5))
criterion = nn.CrossEntropyLoss()
opt = torch.optim.Adam(model.parameters())

for x, y in train_loader:
    loss = criterion(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()

model.eval()
with torch.no_grad():
    for x, y in val_loader:
        probs = torch.softmax(model(x), dim=1)
        val_loss = criterion(probs, y)
        acc = (probs.argmax(1) == y).float().mean()
"#,
        expect: Expect::Findings(&[("NNL005", 17)]),
        twin: Twin::Edit(&[("criterion(probs, y)", "criterion(model(x), y)")]),
    },
    Row {
        name: "torch: nn.ModuleList loop, F.softmax on one unit",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F


class DeepMLP(nn.Module):
    def __init__(self, sizes=(32, 64, 64), n_out=1):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.out = nn.Linear(sizes[-1], n_out)

    def forward(self, x):
        for layer in self.hidden:
            x = F.relu(layer(x))
        return F.softmax(self.out(x), dim=1)


model = DeepMLP()
criterion = nn.BCELoss()
opt = torch.optim.Adam(model.parameters())
for xb, yb in loader:
    loss = criterion(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
"#,
        expect: Expect::Findings(&[("NNL001", 15)]),
        twin: Twin::Edit(&[(
            "F.softmax(self.out(x), dim=1)",
            "torch.sigmoid(self.out(x))",
        )]),
    },
    Row {
        name: "torch: LightningModule, nn.Softmax in nn.Sequential + F.cross_entropy",
        source: r#"
import torch
import pytorch_lightning as pl
import torch.nn.functional as F
from torch import nn


class LitClassifier(pl.LightningModule):
    def __init__(self, n_in=20, n_classes=3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, 64),
            nn.ReLU(),
            nn.Linear(64, n_classes),
            nn.Softmax(dim=1),
        )

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)
"#,
        expect: Expect::Findings(&[("NNL005", 14)]),
        twin: Twin::Edit(&[("            nn.Softmax(dim=1),\n", "")]),
    },
    Row {
        name: "torch: x.view(x.size(0), -1), sigmoid into BCEWithLogitsLoss",
        source: r#"
import torch
import torch.nn as nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(8 * 16 * 16, 1)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return torch.sigmoid(self.classifier(x))


model = SmallCNN()
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for inputs, targets in dataloader:
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = criterion(outputs, targets.float())
    loss.backward()
    optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL005", 18)]),
        twin: Twin::Edit(&[(
            "return torch.sigmoid(self.classifier(x))",
            "return self.classifier(x)",
        )]),
    },
    Row {
        name: "torchvision: models.get_model(\"densenet121\", weights=...) by name, classifier replaced, softmax then CrossEntropyLoss",
        source: r#"
import torch
from torch import nn
import torchvision

ARCH = "densenet121"
net = torchvision.models.get_model(ARCH, weights="DEFAULT")
net.classifier = nn.Sequential(nn.Linear(net.classifier.in_features, 7), nn.Softmax(dim=1))
loss_fn = nn.CrossEntropyLoss()
opt = torch.optim.AdamW(net.parameters(), lr=3e-4)
for imgs, targets in loader:
    opt.zero_grad()
    loss_fn(net(imgs), targets).backward()
    opt.step()
"#,
        expect: Expect::Findings(&[("NNL005", 7)]),
        twin: Twin::Edit(&[(", nn.Softmax(dim=1))", ")")]),
    },
    Row {
        name: "lightning: get_torchvision_model(name) from lightning's model helpers, fc replaced by a head ending in softmax, F.cross_entropy",
        source: r#"
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.model_helpers import get_torchvision_model


class FlowerClassifier(LightningModule):
    def __init__(self, arch: str = "resnet50", n_classes: int = 102):
        super().__init__()
        self.backbone = get_torchvision_model(arch, weights="DEFAULT")
        self.backbone.fc = torch.nn.Sequential(
            torch.nn.Dropout(0.2),
            torch.nn.Linear(self.backbone.fc.in_features, n_classes),
            torch.nn.Softmax(dim=-1),
        )

    def forward(self, x):
        return self.backbone(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss
"#,
        expect: Expect::Findings(&[("NNL005", 14)]),
        twin: Twin::Edit(&[("            torch.nn.Softmax(dim=-1),\n", "")]),
    },
    Row {
        name: "torchvision: resnet18(weights=...), model.fc = nn.Linear(model.fc.in_features, 1), F.softmax",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import models

model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT)
for p in model.parameters():
    p.requires_grad = False
model.fc = nn.Linear(model.fc.in_features, 1)
model = model.to(device)

criterion = nn.BCELoss()
optimizer = torch.optim.Adam(model.fc.parameters(), lr=1e-3)
for epoch in range(5):
    for images, labels in train_loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        probs = F.softmax(model(images), dim=1)
        loss = criterion(probs.squeeze(1), labels.float())
        loss.backward()
        optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL001", 18)]),
        twin: Twin::Edit(&[(
            "probs = F.softmax(model(images), dim=1)",
            "probs = torch.sigmoid(model(images))",
        )]),
    },
    Row {
        name: "torchvision: vgg16(pretrained=True), classifier[6] = Sequential(Linear, Softmax) + CrossEntropyLoss",
        source: r#"
import torch
import torch.nn as nn
import torchvision

model = torchvision.models.vgg16(pretrained=True)
for param in model.features.parameters():
    param.requires_grad = False
num_ftrs = model.classifier[6].in_features
model.classifier[6] = nn.Sequential(nn.Linear(num_ftrs, 10), nn.Softmax(dim=1))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.classifier.parameters(), lr=0.001, momentum=0.9)

model.train()
for inputs, labels in dataloaders["train"]:
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL005", 9)]),
        twin: Twin::Edit(&[(
            "nn.Sequential(nn.Linear(num_ftrs, 10), nn.Softmax(dim=1))",
            "nn.Linear(num_ftrs, 10)",
        )]),
    },
    Row {
        name: "torchvision: vit_b_16 in a module, self.backbone.heads.head = nn.Linear(.., 1), softmax",
        source: r#"
import torch
from torch import nn
from torchvision.models import vit_b_16, ViT_B_16_Weights


class Classifier(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.backbone = vit_b_16(weights=ViT_B_16_Weights.IMAGENET1K_V1)
        self.backbone.heads.head = nn.Linear(self.backbone.heads.head.in_features, n_classes)

    def forward(self, x):
        return torch.softmax(self.backbone(x), dim=-1)


net = Classifier(1)
loss_fn = nn.BCELoss()
opt = torch.optim.AdamW(net.parameters(), lr=3e-4)
for x, y in loader:
    loss = loss_fn(net(x).squeeze(1), y.float())
    opt.zero_grad()
    loss.backward()
    opt.step()
"#,
        expect: Expect::Findings(&[("NNL001", 13)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self.backbone(x), dim=-1)",
            "torch.sigmoid(self.backbone(x))",
        )]),
    },
    Row {
        name: "torchvision: efficientnet_b0 classifier[-1], BCEWithLogitsLoss, logits > 0.5 under no_grad",
        source: r#"
import torch
import torch.nn as nn
from torchvision import models

model = models.efficientnet_b0(weights="IMAGENET1K_V1")
model.classifier[-1] = nn.Linear(1280, 1)
model = model.cuda()
criterion = nn.BCEWithLogitsLoss()
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
for epoch in range(3):
    model.train()
    for imgs, targets in train_loader:
        logits = model(imgs.cuda()).squeeze(1)
        loss = criterion(logits, targets.float().cuda())
        opt.zero_grad()
        loss.backward()
        opt.step()

model.eval()
correct = 0
with torch.no_grad():
    for imgs, targets in val_loader:
        logits = model(imgs.cuda()).squeeze(1)
        preds = (logits > 0.5).long()
        correct += (preds.cpu() == targets).sum().item()
"#,
        expect: Expect::Findings(&[("NNL004", 6)]),
        twin: Twin::Edit(&[(
            "preds = (logits > 0.5).long()",
            "preds = (torch.sigmoid(logits) > 0.5).long()",
        )]),
    },
    Row {
        name: "timm: create_model(..., num_classes=1) + CrossEntropyLoss",
        source: r#"
import timm
import torch
import torch.nn as nn

model = timm.create_model("resnet50", pretrained=True, num_classes=1)
model.to(device)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
for images, labels in train_loader:
    images, labels = images.to(device), labels.to(device)
    output = model(images)
    loss = criterion(output, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL007", 7)]),
        twin: Twin::Edit(&[("num_classes=1)", "num_classes=2)")]),
    },
    Row {
        name: "transformers: AutoModelForSequenceClassification(num_labels=3), softmax(outputs.logits) into CrossEntropyLoss",
        source: r#"
import torch
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification, AutoTokenizer

checkpoint = "distilbert-base-uncased"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=3)
model.to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
loss_fn = torch.nn.CrossEntropyLoss()

for epoch in range(3):
    model.train()
    for batch in train_dataloader:
        batch = {k: v.to(device) for k, v in batch.items()}
        outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        probs = torch.softmax(outputs.logits, dim=-1)
        loss = loss_fn(probs, batch["labels"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
"#,
        expect: Expect::Findings(&[("NNL005", 17)]),
        twin: Twin::Edit(&[(
            "loss = loss_fn(probs, batch[\"labels\"])",
            "loss = loss_fn(outputs.logits, batch[\"labels\"])",
        )]),
    },
    Row {
        name: "transformers: BertForSequenceClassification(num_labels=1), softmax over model(**batch).logits",
        source: r#"
import torch
import torch.nn.functional as F
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=1)
optim = torch.optim.AdamW(model.parameters(), lr=2e-5)
model.train()
for batch in loader:
    out = model(**batch)
    probs = F.softmax(out.logits, dim=1)
    loss = F.binary_cross_entropy(probs.squeeze(-1), batch["labels"].float())
    loss.backward()
    optim.step()
    optim.zero_grad()
"#,
        expect: Expect::Findings(&[("NNL001", 10)]),
        twin: Twin::Edit(&[(
            "probs = F.softmax(out.logits, dim=1)",
            "probs = torch.sigmoid(out.logits)",
        )]),
    },
    Row {
        name: "torch: nn.GRU and nn.MultiheadAttention tuples, torch.cat, F.softmax into CrossEntropyLoss",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F


class GRUTagger(nn.Module):
    def __init__(self, vocab, emb=128, hid=256, n_cls=5):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.gru = nn.GRU(emb, hid, num_layers=2, batch_first=True, bidirectional=True)
        self.attn = nn.MultiheadAttention(2 * hid, num_heads=4, batch_first=True)
        self.out = nn.Linear(2 * hid, n_cls)

    def forward(self, tokens):
        x = self.emb(tokens)
        seq, h_n = self.gru(x)
        ctx, _ = self.attn(seq, seq, seq)
        pooled = torch.cat([ctx.mean(1), seq[:, -1]], dim=-1)
        return F.softmax(self.out(ctx.mean(dim=1)), dim=-1)


model = GRUTagger(30000)
crit = nn.CrossEntropyLoss()
for tokens, y in loader:
    loss = crit(model(tokens), y)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL005", 19)]),
        twin: Twin::Edit(&[(
            "return F.softmax(self.out(ctx.mean(dim=1)), dim=-1)",
            "return self.out(ctx.mean(dim=1))",
        )]),
    },
    Row {
        name: "torch: nn.TransformerEncoder + nn.RNN, h[:, 0], softmax on one unit, .max(dim=1) tuple",
        source: r#"
import torch
from torch import nn


class TextTransformer(nn.Module):
    def __init__(self, vocab_size, d_model=256, n_classes=1):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead=8, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=4)
        self.rnn = nn.RNN(d_model, d_model, batch_first=True)
        self.cls = nn.Linear(d_model, n_classes)

    def forward(self, ids):
        h = self.encoder(self.embed(ids))
        h, _ = self.rnn(h)
        logits = self.cls(h[:, 0])
        return torch.softmax(logits, dim=1)


model = TextTransformer(50000)
criterion = nn.BCELoss()
for ids, labels in loader:
    loss = criterion(model(ids).squeeze(-1), labels.float())
    loss.backward()
    values, idx = model(ids).max(dim=1)
    best = torch.stack([values, idx.float()], dim=1)
"#,
        expect: Expect::Findings(&[("NNL001", 18)]),
        twin: Twin::Edit(&[(
            "return torch.softmax(logits, dim=1)",
            "return torch.sigmoid(logits)",
        )]),
    },
    Row {
        name: "torch: inference helper nothing calls, its model parameter standing for the file's one module",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F

device = "cuda" if torch.cuda.is_available() else "cpu"


class TabularNet(nn.Module):
    def __init__(self, n_features=12, n_classes=5):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(32, n_classes))

    def forward(self, x):
        return self.body(x)


def class_probabilities(net, features):
    net.eval()
    with torch.no_grad():
        return F.softmax(net(features.to(device)), dim=0)


model = TabularNet().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(10):
    for features, target in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(features.to(device)), target.to(device))
        loss.backward()
        optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL003", 20)]),
        twin: Twin::Edit(&[("dim=0)", "dim=1)")]),
    },
    Row {
        name: "torch: a helper nothing calls is not given a module when the file binds two (a GAN's G and D)",
        source: r#"
import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, z_dim=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 64), nn.ReLU(), nn.Linear(64, 784), nn.Tanh())

    def forward(self, z):
        return self.net(z)


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 64), nn.LeakyReLU(0.2), nn.Linear(64, 4))

    def forward(self, x):
        return self.net(x)


def critic_scores(net, x):
    with torch.no_grad():
        return torch.softmax(net(x), dim=0)


G = Generator()
D = Critic()
for real, _ in loader:
    fake = G(torch.randn(real.size(0), 16))
    loss = D(fake).mean() - D(real.view(real.size(0), -1)).mean()
    loss.backward()
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch: predict method nothing calls, self(x) > 0.5 on a BCEWithLogitsLoss model",
        source: r#"
import torch
import torch.nn as nn


class ChurnNet(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x):
        return self.body(x)

    @torch.no_grad()
    def predict(self, x):
        self.eval()
        return (self(x) > 0.5).long()


model = ChurnNet(12)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for xb, yb in train_loader:
    optimizer.zero_grad()
    loss = criterion(model(xb), yb)
    loss.backward()
    optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL004", 8)]),
        twin: Twin::Edit(&[(
            "return (self(x) > 0.5).long()",
            "return (torch.sigmoid(self(x)) > 0.5).long()",
        )]),
    },
    Row {
        name: "torch: Lightning predict_step rounds the logits of a BCEWithLogitsLoss model",
        source: r#"
import torch
import torch.nn as nn
import pytorch_lightning as pl


class LitBinary(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 1))
        self.loss_fn = nn.BCEWithLogitsLoss()

    def forward(self, x):
        return self.net(x).squeeze(-1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y.float())
        self.log("train_loss", loss)
        return loss

    def predict_step(self, batch, batch_idx):
        x, _ = batch
        return self(x).round()

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


trainer = pl.Trainer(max_epochs=5)
model = LitBinary()
trainer.fit(model, train_dl)
preds = trainer.predict(model, test_dl)
"#,
        expect: Expect::Findings(&[("NNL004", 9)]),
        twin: Twin::Edit(&[(
            "return self(x).round()",
            "return torch.sigmoid(self(x)).round()",
        )]),
    },
    Row {
        name: "torch: evaluate() helper, model(xb) >= 0.5 under torch.no_grad()",
        source: r#"
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
loss_fn = nn.BCEWithLogitsLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.1)


def train(loader):
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()


def evaluate(loader):
    model.eval()
    hits = 0
    with torch.no_grad():
        for xb, yb in loader:
            pred = model(xb) >= 0.5
            hits += (pred.float() == yb).sum().item()
    return hits
"#,
        expect: Expect::Findings(&[("NNL004", 4)]),
        twin: Twin::Edit(&[(
            "pred = model(xb) >= 0.5",
            "pred = torch.sigmoid(model(xb)) >= 0.5",
        )]),
    },
    Row {
        name: "torch: LSTM state tuple, last step out[:, -1, :], Linear(h, 1), softmax(dim=1)",
        source: r#"
import torch
import torch.nn as nn


class Sentiment(nn.Module):
    def __init__(self, vocab, emb=100, hidden=128):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True, dropout=0.3)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, (h_n, c_n) = self.lstm(self.emb(x))
        last = out[:, -1, :]
        return torch.softmax(self.head(last), dim=1)


net = Sentiment(20000)
loss_fn = nn.BCELoss()
opt = torch.optim.Adam(net.parameters())
for xb, yb in train_dl:
    opt.zero_grad()
    loss_fn(net(xb).view(-1), yb.float()).backward()
    opt.step()
"#,
        expect: Expect::Findings(&[("NNL001", 15)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self.head(last), dim=1)",
            "torch.sigmoid(self.head(last))",
        )]),
    },
    Row {
        name: "torch: attention pooling, softmax(dim=1) over [N, T, 1] scores of a bidirectional GRU, bmm",
        source: r#"
import torch
from torch import nn
import torch.nn.functional as F


class AttnPool(nn.Module):
    def __init__(self, n_tokens, n_classes, dim=64):
        super().__init__()
        self.tok = nn.Embedding(n_tokens, dim)
        self.gru = nn.GRU(dim, dim, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * dim, 1)
        self.fc = nn.Linear(2 * dim, n_classes)

    def forward(self, tokens):
        states, _ = self.gru(self.tok(tokens))
        alpha = F.softmax(self.score(states), dim=1)
        pooled = torch.bmm(alpha.transpose(1, 2), states).squeeze(1)
        return self.fc(pooled)


clf = AttnPool(5000, 3)
criterion = nn.CrossEntropyLoss()
for tokens, y in batches:
    criterion(clf(tokens), y).backward()
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch: mean over time of an encoder's output, Linear(d, 1), nn.Softmax(dim=1)",
        source: r#"
import torch.nn as nn


class Detector(nn.Module):
    def __init__(self, d=96):
        super().__init__()
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, batch_first=True), 2)
        self.out = nn.Sequential(nn.Linear(d, 1), nn.Softmax(dim=1))

    def forward(self, frames):
        z = self.enc(frames).mean(dim=1)
        return self.out(z)


det = Detector()
bce = nn.BCELoss()
for frames, target in loader:
    bce(det(frames).squeeze(1), target).backward()
"#,
        expect: Expect::Findings(&[("NNL001", 8)]),
        twin: Twin::Edit(&[("nn.Softmax(dim=1)", "nn.Sigmoid()")]),
    },
    Row {
        name: "lightning: model class from a registry dict filled by item assignment, **kwargs forwarded twice, raise on unknown names",
        source: r#"
import torch
from torch import nn
import torch.nn.functional as F
import lightning as L

MODELS = {}


class TinyCNN(nn.Module):
    def __init__(self, num_classes=10, c_hidden=16):
        super().__init__()
        self.conv = nn.Conv2d(3, c_hidden, 3, padding=1)
        self.fc = nn.Linear(c_hidden, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1).flatten(1)
        return F.softmax(self.fc(x), dim=-1)


MODELS["tiny"] = TinyCNN


def create_model(name, hparams):
    if name not in MODELS:
        raise KeyError(f"unknown model {name}")
    return MODELS[name](**hparams)


class Classifier(L.LightningModule):
    def __init__(self, model_name, model_hparams, lr=1e-3):
        super().__init__()
        self.net = create_model(model_name, model_hparams)
        self.loss = nn.CrossEntropyLoss()

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss(self.net(x), y)


def train(model_name, **kwargs):
    module = Classifier(model_name=model_name, **kwargs)
    L.Trainer(max_epochs=5).fit(module, train_loader)
    return module


tiny = train("tiny", model_hparams={"num_classes": 10, "c_hidden": 32}, lr=3e-4)
"#,
        expect: Expect::Findings(&[("NNL005", 17)]),
        twin: Twin::Edit(&[("return F.softmax(self.fc(x), dim=-1)", "return self.fc(x)")]),
    },
    Row {
        name: "lightning: registry lookup whose if returns and whose else asserts False (every path ends in the if)",
        source: r#"
import torch.nn as nn
import pytorch_lightning as pl

ARCHS = dict()


def build_backbone(arch, cfg):
    if arch in ARCHS:
        return ARCHS[arch](**cfg)
    else:
        assert False, f"no architecture called {arch!r}"


class DigitMLP(nn.Module):
    def __init__(self, n_out=10, width=128):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, width),
            nn.GELU(),
            nn.Linear(width, n_out),
            nn.Softmax(dim=1),
        )

    def forward(self, x):
        return self.layers(x)


ARCHS["mlp"] = DigitMLP


class LitDigits(pl.LightningModule):
    def __init__(self, arch, cfg):
        super().__init__()
        self.save_hyperparameters()
        self.backbone = build_backbone(arch, cfg)
        self.criterion = nn.CrossEntropyLoss()

    def training_step(self, batch, batch_idx):
        images, targets = batch
        logits = self.backbone(images)
        loss = self.criterion(logits, targets)
        self.log("train_loss", loss)
        return loss


lit = LitDigits("mlp", {"n_out": 10, "width": 256})
pl.Trainer(max_epochs=2).fit(lit, train_dataloaders=loader)
"#,
        expect: Expect::Findings(&[("NNL005", 22)]),
        twin: Twin::Edit(&[("            nn.Softmax(dim=1),\n", "")]),
    },
    Row {
        name: "lightning: self.save_hyperparameters(ignore=...) with **kwargs flattened, widths read from self.hparams",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F
import pytorch_lightning as pl


class NodeClassifier(pl.LightningModule):
    def __init__(self, encoder=None, **model_kwargs):
        super().__init__()
        self.save_hyperparameters(ignore=["encoder"])
        self.encoder = encoder
        self.mlp = nn.Sequential(
            nn.Linear(self.hparams.c_in, self.hparams.c_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(self.hparams.dp_rate),
            nn.Linear(self.hparams.c_hidden, self.hparams.c_out),
        )

    def forward(self, x):
        return F.softmax(self.mlp(x), dim=1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.binary_cross_entropy(self(x).squeeze(dim=-1), y.float())
        self.log("train_loss", loss)
        return loss


model = NodeClassifier(c_in=7, c_hidden=32, c_out=1, dp_rate=0.1)
pl.Trainer(max_epochs=200).fit(model, train_loader)
"#,
        expect: Expect::Findings(&[("NNL001", 20)]),
        twin: Twin::Edit(&[(
            "F.softmax(self.mlp(x), dim=1)",
            "torch.sigmoid(self.mlp(x))",
        )]),
    },
    Row {
        name: "lightning: the module the file trains, not the one a helper nothing calls builds from unknown arguments",
        source: r#"
import torch
from torch import nn
import lightning as L


class SentimentHead(L.LightningModule):
    def __init__(self, emb_dim, n_labels):
        super().__init__()
        self.proj = nn.Linear(emb_dim, n_labels)
        self.out = nn.Softmax(dim=1) if n_labels > 1 else nn.Sigmoid()
        self.criterion = nn.NLLLoss()

    def training_step(self, batch, batch_idx):
        emb, label = batch
        scores = torch.log(self.out(self.proj(emb)))
        return self.criterion(scores, label)


def sweep(emb_dim, labels_list):
    for n in labels_list:
        L.Trainer(max_epochs=1).fit(SentimentHead(emb_dim, n), loader)


head = SentimentHead(emb_dim=300, n_labels=3)
L.Trainer(max_epochs=3).fit(head, loader)
"#,
        expect: Expect::Findings(&[("NNL008", 15)]),
        twin: Twin::Edit(&[(
            "torch.log(self.out(self.proj(emb)))",
            "torch.log_softmax(self.proj(emb), dim=1)",
        )]),
    },
    Row {
        name: "torch: model handed through fabric.setup / DDP / torch.compile before the training loop",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
import lightning as L


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        return torch.log(F.softmax(self.fc2(x), dim=1))


fabric = L.Fabric(accelerator="auto", devices=2)
fabric.launch()
model = Net()
optimizer = torch.optim.Adam(model.parameters())
model, optimizer = fabric.setup(model, optimizer)
model = torch.compile(DDP(model))
for data, target in fabric.setup_dataloaders(loader):
    optimizer.zero_grad()
    loss = F.nll_loss(model(data), target)
    fabric.backward(loss)
    optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL008", 16)]),
        twin: Twin::Edit(&[(
            "torch.log(F.softmax(self.fc2(x), dim=1))",
            "F.log_softmax(self.fc2(x), dim=1)",
        )]),
    },
    Row {
        name: "torch: the output activation is a @property of the module",
        source: r#"
import torch
from torch import nn


class Scorer(nn.Module):
    def __init__(self, n_in=20):
        super().__init__()
        self.body = nn.Linear(n_in, 16)
        self.head = nn.Linear(16, 1)

    @property
    def squash(self):
        return nn.Softmax(dim=1)

    def forward(self, x):
        return self.squash(self.head(torch.relu(self.body(x))))


scorer = Scorer()
bce = nn.BCELoss()
for xb, yb in loader:
    bce(scorer(xb), yb).backward()
"#,
        expect: Expect::Findings(&[("NNL001", 13)]),
        twin: Twin::Edit(&[("return nn.Softmax(dim=1)", "return nn.Sigmoid()")]),
    },
    Row {
        name: "torch: span scores Linear(h, 1).squeeze(-1) trained with CrossEntropyLoss over positions",
        source: r#"
import torch
from torch import nn


class SpanHead(nn.Module):
    def __init__(self, hidden=768):
        super().__init__()
        self.start = nn.Linear(hidden, 1)

    def forward(self, h):
        return self.start(h).squeeze(-1)


head = SpanHead()
ce = nn.CrossEntropyLoss()
for h, start_positions in loader:
    ce(head(h), start_positions).backward()
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch: super().__init__(num_classes=1) sets the head width in the base class, whose forward is inherited",
        source: r#"
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x):
        return torch.softmax(self.head(self.body(x)), dim=1)


class SpamNet(Classifier):
    def __init__(self, vocab=5000):
        super().__init__(num_classes=1)
        self.body = nn.Sequential(nn.Linear(vocab, 64), nn.ReLU())
        self.head = nn.Linear(64, self.num_classes)


net = SpamNet()
loss_fn = nn.BCELoss()
for xb, yb in loader:
    loss_fn(net(xb), yb).backward()
"#,
        expect: Expect::Findings(&[("NNL001", 11)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self.head(self.body(x)), dim=1)",
            "torch.sigmoid(self.head(self.body(x)))",
        )]),
    },
    Row {
        name: "torch: super(Tagger, self).__init__(n_in, 64, n_tags) builds the layers, super(Tagger, self).forward(x) in an override",
        source: r#"
import torch.nn as nn
import torch.nn.functional as F


class Backbone(nn.Module):
    def __init__(self, n_in, width, n_out):
        super(Backbone, self).__init__()
        self.fc = nn.Linear(n_in, width)
        self.out = nn.Linear(width, n_out)

    def forward(self, x):
        return F.relu(self.fc(x))


class Tagger(Backbone):
    def __init__(self, n_in=32, n_tags=1):
        super(Tagger, self).__init__(n_in, 64, n_tags)

    def forward(self, x):
        h = super(Tagger, self).forward(x)
        return F.softmax(self.out(h), dim=-1)


model = Tagger()
criterion = nn.BCELoss()
for xb, yb in loader:
    criterion(model(xb), yb).backward()
"#,
        expect: Expect::Findings(&[("NNL001", 21)]),
        twin: Twin::Edit(&[(
            "return F.softmax(self.out(h), dim=-1)",
            "return self.out(h).sigmoid()",
        )]),
    },
    Row {
        name: "torch: a base class's forward reads layers only its subclass sets; only the subclass is built",
        source: r#"
import torch
from torch import nn


class Base(nn.Module):
    def forward(self, x):
        return torch.softmax(self.head(self.body(x)), dim=1)


class Net(Base):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.head = nn.Linear(32, 1)


model = Net()
probs = model(torch.randn(4, 16))
"#,
        expect: Expect::Findings(&[("NNL001", 7)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self.head(self.body(x)), dim=1)",
            "torch.sigmoid(self.head(self.body(x)))",
        )]),
    },
    Row {
        name: "torch: F.pad/avg_pool2d/interpolate/dropout/adaptive_avg_pool2d/normalize, torch.flatten in forward, softmax on one unit",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 1)

    def forward(self, x):
        x = F.pad(x, (1, 1, 1, 1))
        x = F.avg_pool2d(F.relu(self.conv1(x)), 2)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.dropout(F.relu(self.conv2(x)), p=0.2, training=self.training)
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        x = F.normalize(x, dim=1)
        return F.softmax(self.fc(x), dim=1)


model = Net()
criterion = nn.BCELoss()
for images, targets in loader:
    loss = criterion(model(images), targets)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL001", 21)]),
        twin: Twin::Edit(&[(
            "return F.softmax(self.fc(x), dim=1)",
            "return torch.sigmoid(self.fc(x))",
        )]),
    },
    Row {
        name: "torch: F.layer_norm, mean/torch.sum/torch.amax over time, torch.stack, flatten, squeeze/unsqueeze, softmax on one unit",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F


class Pool(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.proj = nn.Linear(d, d)
        self.out = nn.Linear(3 * d, 1)

    def forward(self, x):
        h = F.layer_norm(self.proj(x), (64,))
        avg = h.mean(dim=1)
        tot = torch.sum(h, dim=1)
        top = torch.amax(h, dim=1)
        feats = torch.stack([avg, tot, top], dim=1)
        feats = feats.flatten(1)
        return self.out(feats).squeeze(-1).unsqueeze(1).softmax(dim=1)


model = Pool()
loss_fn = nn.BCELoss()
for x, y in loader:
    loss = loss_fn(model(x), y)
"#,
        expect: Expect::Findings(&[("NNL001", 19)]),
        twin: Twin::Edit(&[(".softmax(dim=1)", ".sigmoid()")]),
    },
    Row {
        name: "torch: topk and torch.max(dim) tuples, forward returning a tuple unpacked by the caller",
        source: r#"
import torch
import torch.nn as nn


class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(20, 50)
        self.head = nn.Linear(5, 1)

    def forward(self, x):
        h = torch.relu(self.body(x))
        vals, idx = h.topk(5, dim=1)
        best, _ = torch.max(h, dim=1)
        return torch.softmax(self.head(vals), dim=1), best


net = Scorer()
criterion = nn.BCELoss()
for xb, yb in loader:
    probs, _ = net(xb)
    loss = criterion(probs, yb)
"#,
        expect: Expect::Findings(&[("NNL001", 15)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self.head(vals), dim=1)",
            "torch.sigmoid(self.head(vals))",
        )]),
    },
    Row {
        name: "torch: nn.Embedding, 2-layer bidirectional batch_first LSTM, (h, c), torch.cat([h[-2], h[-1]])",
        source: r#"
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self, vocab, emb=100, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 1)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.embed(tokens))
        last = torch.cat([h[-2], h[-1]], dim=1)
        return torch.softmax(self.fc(last), dim=-1)


model = Tagger(5000)
criterion = nn.BCELoss()
for tokens, labels in train_loader:
    loss = criterion(model(tokens), labels.float())
"#,
        expect: Expect::Findings(&[("NNL001", 15)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self.fc(last), dim=-1)",
            "torch.sigmoid(self.fc(last))",
        )]),
    },
    Row {
        name: "torch: nn.GRU(num_layers=2) output indexed out[-1], [..., None] and [:, 0]",
        source: r#"
import torch
import torch.nn as nn


class Ranker(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(16, 32, num_layers=2)
        self.score = nn.Linear(32, 1)

    def forward(self, seq):
        out, h = self.gru(seq)
        last = out[-1]
        s = self.score(last)[..., None]
        return torch.softmax(s[:, 0], dim=1)


model = Ranker()
loss_fn = nn.BCELoss()
for seq, clicked in loader:
    loss = loss_fn(model(seq), clicked)
"#,
        expect: Expect::Findings(&[("NNL001", 15)]),
        twin: Twin::Edit(&[("torch.softmax(s[:, 0], dim=1)", "torch.sigmoid(s[:, 0])")]),
    },
    Row {
        name: "torch: forward returning a dict read by key in nested loops",
        source: r#"
import torch
import torch.nn as nn


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(32, 64), nn.ReLU())
        self.cls = nn.Linear(64, 1)
        self.reg = nn.Linear(64, 1)

    def forward(self, x):
        h = self.trunk(x)
        return {"logits": torch.softmax(self.cls(h), dim=1), "value": self.reg(h)}


model = MultiTask()
bce = nn.BCELoss()
mse = nn.MSELoss()
for epoch in range(10):
    for x, y, v in loader:
        out = model(x)
        loss = bce(out["logits"], y) + mse(out["value"], v)
        loss.backward()
"#,
        expect: Expect::Findings(&[("NNL001", 14)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self.cls(h), dim=1)",
            "torch.sigmoid(self.cls(h))",
        )]),
    },
    Row {
        name: "torch: hand-written -(x * torch.log(p + 1e-8)).sum(1).mean() on sigmoid reconstructions",
        source: r#"
import torch
import torch.nn as nn


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 32))
        self.dec = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x))


ae = AutoEncoder()
opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
for x, _ in loader:
    x = x.view(-1, 784)
    p = ae(x)
    loss = -(x * torch.log(p + 1e-8)).sum(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"#,
        expect: Expect::Findings(&[("NNL002", 9)]),
        twin: Twin::Edit(&[(
            "loss = -(x * torch.log(p + 1e-8)).sum(1).mean()",
            "loss = -(x * torch.log(p + 1e-8) + (1 - x) * torch.log(1 - p + 1e-8)).sum(1).mean()",
        )]),
    },
    Row {
        name: "torch: hand-written torch.mean(-torch.sum(y * torch.log(torch.softmax(...)), dim=1)) is NNL008 at the log",
        source: r#"
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for images, onehot in train_loader:
    probs = torch.softmax(model(images.view(-1, 784)), dim=1)
    loss = torch.mean(-torch.sum(onehot * torch.log(probs), dim=1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL008", 8)]),
        twin: Twin::Edit(&[(
            "torch.log(probs)",
            "torch.log_softmax(model(images.view(-1, 784)), dim=1)",
        )]),
    },
    Row {
        name: "torch: with torch.no_grad(): torch.multinomial(torch.sigmoid(model(x)), 1) samples independent sigmoids",
        source: r#"
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 6))
criterion = nn.BCEWithLogitsLoss()
for x, y in train_loader:
    loss = criterion(model(x), y)
    loss.backward()

model.eval()
with torch.no_grad():
    probs = torch.sigmoid(model(x_test))
    picks = torch.multinomial(probs, 1)
"#,
        expect: Expect::Findings(&[("NNL003", 12)]),
        twin: Twin::Edit(&[("torch.multinomial(probs, 1)", "torch.bernoulli(probs)")]),
    },
    Row {
        name: "torch: a sample() method nothing calls normalises self(x) over the batch (dim=0)",
        source: r#"
import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self, n_chars=65, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(n_chars, 32)
        self.rnn = nn.LSTM(32, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_chars)

    def forward(self, x):
        y, _ = self.rnn(self.embed(x))
        return self.out(y[:, -1, :])

    def sample(self, start, steps=200):
        x = start
        for _ in range(steps):
            probs = torch.softmax(self(x), dim=0)
            x = torch.multinomial(probs, 1)
        return x


model = CharRNN()
criterion = nn.CrossEntropyLoss()
for xb, yb in loader:
    loss = criterion(model(xb), yb)
"#,
        expect: Expect::Findings(&[("NNL003", 19)]),
        twin: Twin::Edit(&[(
            "torch.softmax(self(x), dim=0)",
            "torch.softmax(self(x), dim=-1)",
        )]),
    },
    Row {
        name: "torch: a decode() function with softmax(model(x), dim=0) under torch.no_grad()",
        source: r#"
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 30))
criterion = nn.CrossEntropyLoss()
for feats, tags in loader:
    loss = criterion(model(feats), tags)


def decode(feats):
    with torch.no_grad():
        probs = torch.softmax(model(feats), dim=0)
    return probs.argmax(-1)
"#,
        expect: Expect::Findings(&[("NNL003", 12)]),
        twin: Twin::Edit(&[("dim=0)", "dim=-1)")]),
    },
    Row {
        name: "torchvision: densenet121() without weights, classifier replaced by Linear(in_features, 1) + CrossEntropyLoss",
        source: r#"
import torch
import torch.nn as nn
from torchvision import models

model = models.densenet121()
model.classifier = nn.Linear(model.classifier.in_features, 1)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
for images, labels in train_loader:
    loss = criterion(model(images), labels)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL007", 7)]),
        twin: Twin::Edit(&[(
            "model.classifier.in_features, 1)",
            "model.classifier.in_features, 2)",
        )]),
    },
    Row {
        name: "torch: head width len(classes) of a one-item list + CrossEntropyLoss",
        source: r#"
import torch
import torch.nn as nn

classes = ["cat"]
model = nn.Sequential(nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, len(classes)))
criterion = nn.CrossEntropyLoss()
for feats, labels in loader:
    loss = criterion(model(feats), labels)
"#,
        expect: Expect::Findings(&[("NNL007", 6)]),
        twin: Twin::Edit(&[("classes = [\"cat\"]", "classes = [\"cat\", \"dog\"]")]),
    },
    Row {
        name: "torch: BCEWithLogitsLoss on a 10-way head with CIFAR-10's integer class labels",
        source: r#"
import torch
import torch.nn as nn
from torchvision import datasets, transforms

train = datasets.CIFAR10("data", train=True, download=True, transform=transforms.ToTensor())
loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True)
model = nn.Sequential(nn.Flatten(), nn.Linear(3072, 256), nn.ReLU(), nn.Linear(256, 10))
criterion = nn.BCEWithLogitsLoss()
for images, labels in loader:
    loss = criterion(model(images), labels)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL016", 8)]),
        twin: Twin::Edit(&[("nn.BCEWithLogitsLoss()", "nn.CrossEntropyLoss()")]),
    },
    Row {
        name: "torch guard: attention softmax over the keys (dim=-1) before a classifier",
        source: r#"
import math
import torch
import torch.nn as nn


class SelfAttention(nn.Module):
    def __init__(self, d=64, n_classes=5):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.head = nn.Linear(d, n_classes)

    def forward(self, x):
        scores = self.q(x) @ self.k(x).transpose(-2, -1) / math.sqrt(x.size(-1))
        weights = torch.softmax(scores, dim=-1)
        ctx = weights @ self.v(x)
        return self.head(ctx.mean(dim=1))


model = SelfAttention()
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    loss = criterion(model(x), y)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch guard: F.log_softmax + nn.NLLLoss",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.view(-1, 784)))
        return F.log_softmax(self.fc2(x), dim=1)


model = Net()
criterion = nn.NLLLoss()
for data, target in train_loader:
    loss = criterion(model(data), target)
    loss.backward()
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch guard: multi-label BCEWithLogitsLoss, sigmoid > 0.5 at inference",
        source: r#"
import torch
import torch.nn as nn

N_TAGS = 20
model = nn.Sequential(nn.Linear(300, 128), nn.ReLU(), nn.Linear(128, N_TAGS))
criterion = nn.BCEWithLogitsLoss()
for docs, tags in loader:
    loss = criterion(model(docs), tags.float())
    loss.backward()

model.eval()
with torch.no_grad():
    probs = torch.sigmoid(model(docs))
    predicted = (probs > 0.5).int()
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch guard: a regression head with MSELoss",
        source: r#"
import torch
import torch.nn as nn


class PriceNet(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


model = PriceNet(13)
criterion = nn.MSELoss()
for xb, yb in loader:
    loss = criterion(model(xb), yb)
    loss.backward()
with torch.no_grad():
    preds = model(x_test)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch guard: segmentation logits into CrossEntropyLoss, softmax over channels (dim=1) at inference",
        source: r#"
import torch
import torch.nn as nn
import torch.nn.functional as F


class SegNet(nn.Module):
    def __init__(self, n_classes=4):
        super().__init__()
        self.enc = nn.Conv2d(3, 32, 3, padding=1)
        self.cls = nn.Conv2d(32, n_classes, 1)

    def forward(self, x):
        return self.cls(F.relu(self.enc(x)))


model = SegNet()
criterion = nn.CrossEntropyLoss()
for img, mask in loader:
    loss = criterion(model(img), mask)
model.eval()
with torch.no_grad():
    probs = F.softmax(model(img), dim=1)
    pred = probs.argmax(dim=1)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "torch: torch.softmax(model(x_test), dim=1) under torch.no_grad() on a one-logit BCEWithLogitsLoss model",
        source: r#"
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1))
criterion = nn.BCEWithLogitsLoss()
for x, y in loader:
    loss = criterion(model(x), y)
model.eval()
with torch.no_grad():
    probs = torch.softmax(model(x_test), dim=1)
"#,
        expect: Expect::Findings(&[("NNL001", 10)]),
        twin: Twin::Edit(&[(
            "torch.softmax(model(x_test), dim=1)",
            "torch.sigmoid(model(x_test))",
        )]),
    },
    Row {
        name: "torch: predict(model, batch) returns torch.softmax(model(batch), dim=0).argmax(dim=1)",
        source: r#"
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 7))
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    loss = criterion(model(x), y)


def predict(model, batch):
    with torch.no_grad():
        return torch.softmax(model(batch), dim=0).argmax(dim=1)


labels = predict(model, test_batch)
"#,
        expect: Expect::Findings(&[("NNL003", 12)]),
        twin: Twin::Edit(&[("dim=0)", "dim=1)")]),
    },
    Row {
        name: "torch: hand-written -(y * probs.log()).sum(dim=1).mean() on F.softmax, the log as a method",
        source: r#"
import torch
from torch import nn
import torch.nn.functional as F

net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 6))
opt = torch.optim.Adam(net.parameters())
for feats, target in loader:
    probs = F.softmax(net(feats), dim=-1)
    y = F.one_hot(target, 6).float()
    loss = -(y * probs.log()).sum(dim=1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"#,
        expect: Expect::Findings(&[("NNL008", 10)]),
        twin: Twin::Edit(&[(
            "(y * probs.log())",
            "(y * F.log_softmax(net(feats), dim=-1))",
        )]),
    },
];

const TF: &[Row] = &[
    Row {
        name: "tf1: tf.contrib.layers.fully_connected with activation_fn=tf.nn.softmax into a logits loss",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 784])
y = tf.placeholder(tf.float32, [None, 10])
net = tf.contrib.layers.fully_connected(x, 256)
logits = tf.contrib.layers.fully_connected(net, 10, activation_fn=tf.nn.softmax)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
"#,
        expect: Expect::Findings(&[("NNL005", 6)]),
        twin: Twin::Edit(&[("activation_fn=tf.nn.softmax", "activation_fn=None")]),
    },
    Row {
        name: "tf1: weights/biases dicts, tf.add(tf.matmul(...)), helper, softmax into softmax_cross_entropy_with_logits",
        source: r#"
import tensorflow as tf

n_input, n_hidden, n_classes = 784, 300, 10
x = tf.placeholder(tf.float32, [None, n_input])
y = tf.placeholder(tf.float32, [None, n_classes])

W = {
    'h1': tf.Variable(tf.random_normal([n_input, n_hidden])),
    'out': tf.Variable(tf.random_normal([n_hidden, n_classes])),
}
b = {
    'b1': tf.Variable(tf.random_normal([n_hidden])),
    'out': tf.Variable(tf.random_normal([n_classes])),
}


def mlp(inputs, weights, biases):
    hidden = tf.nn.relu(tf.add(tf.matmul(inputs, weights['h1']), biases['b1']))
    return tf.add(tf.matmul(hidden, weights['out']), biases['out'])


logits = mlp(x, W, b)
pred = tf.nn.softmax(logits)
cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=pred, labels=y))
train_op = tf.train.AdamOptimizer(learning_rate=0.001).minimize(cost)
correct = tf.equal(tf.argmax(pred, 1), tf.argmax(y, 1))
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
"#,
        expect: Expect::Findings(&[("NNL005", 23)]),
        twin: Twin::Edit(&[("logits=pred, labels=y", "logits=logits, labels=y")]),
    },
    Row {
        name: "tf1: tf.layers.dense(x, 1, activation=tf.nn.softmax) + tf.losses.log_loss",
        source: r#"
import tensorflow as tf

features = tf.placeholder(tf.float32, shape=[None, 12], name="features")
labels = tf.placeholder(tf.float32, shape=[None, 1], name="labels")
hidden = tf.layers.dense(features, 32, activation=tf.nn.relu)
prob = tf.layers.dense(hidden, 1, activation=tf.nn.softmax)
loss = tf.losses.log_loss(labels=labels, predictions=prob)
train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL001", 6)]),
        twin: Twin::Edit(&[("activation=tf.nn.softmax", "activation=tf.nn.sigmoid")]),
    },
    Row {
        name: "tf1: sigmoid_cross_entropy_with_logits, logits > 0.5 evaluated via sess.run",
        source: r#"
import tensorflow as tf

X = tf.placeholder(tf.float32, [None, 8])
Y = tf.placeholder(tf.float32, [None, 1])
W = tf.Variable(tf.random_normal([8, 1]))
b = tf.Variable(tf.random_normal([1]))
logits = tf.matmul(X, W) + b
cost = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=Y))
train = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
predicted = tf.cast(logits > 0.5, dtype=tf.float32)
accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, Y), dtype=tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(1001):
        sess.run(train, feed_dict={X: x_data, Y: y_data})
    acc = sess.run(accuracy, feed_dict={X: x_data, Y: y_data})
"#,
        expect: Expect::Findings(&[("NNL004", 7)]),
        twin: Twin::Edit(&[("tf.cast(logits > 0.5", "tf.cast(tf.sigmoid(logits) > 0.5")]),
    },
    Row {
        name: "tf1: tf.nn.bias_add, sigmoid into sigmoid_cross_entropy_with_logits",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 40])
y = tf.placeholder(tf.float32, [None, 6])
W1 = tf.Variable(tf.truncated_normal([40, 64], stddev=0.1))
b1 = tf.Variable(tf.constant(0.1, shape=[64]))
W2 = tf.Variable(tf.truncated_normal([64, 6], stddev=0.1))
b2 = tf.Variable(tf.constant(0.1, shape=[6]))
h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, W1), b1))
logits = tf.nn.bias_add(tf.matmul(h, W2), b2)
tags = tf.nn.sigmoid(logits)
loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=tags))
train_op = tf.train.AdamOptimizer().minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL005", 11)]),
        twin: Twin::Edit(&[("labels=y, logits=tags", "labels=y, logits=logits")]),
    },
    Row {
        name: "tf2: Model subclass with softmax when not training, loss helper in a GradientTape step",
        source: r#"
import tensorflow as tf


class Classifier(tf.keras.Model):
    def __init__(self, num_classes=10):
        super().__init__()
        self.flatten = tf.keras.layers.Flatten()
        self.d1 = tf.keras.layers.Dense(128, activation="relu")
        self.d2 = tf.keras.layers.Dense(num_classes)

    def call(self, x, training=False):
        x = self.d2(self.d1(self.flatten(x)))
        if not training:
            x = tf.nn.softmax(x)
        return x


def compute_loss(labels, logits):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


model = Classifier()
optimizer = tf.keras.optimizers.Adam()


@tf.function
def train_step(images, labels):
    with tf.GradientTape() as tape:
        preds = model(images)
        loss = compute_loss(labels, preds)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


for images, labels in train_ds:
    train_step(images, labels)
"#,
        expect: Expect::Findings(&[("NNL005", 14)]),
        twin: Twin::Edit(&[("model(images)", "model(images, training=True)")]),
    },
    Row {
        name: "tf1: hand-written -tf.reduce_sum(y * tf.log(tf.nn.softmax(z)), reduction_indices=[1]) is NNL008 at the log",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 784])
y = tf.placeholder(tf.float32, [None, 10])
W = tf.Variable(tf.zeros([784, 10]))
b = tf.Variable(tf.zeros([10]))
z = tf.matmul(x, W) + b
cross_entropy = -tf.reduce_sum(y * tf.log(tf.nn.softmax(z)), reduction_indices=[1])
loss = tf.reduce_mean(cross_entropy)
train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL008", 8)]),
        twin: Twin::Edit(&[("tf.log(tf.nn.softmax(z))", "tf.nn.log_softmax(z)")]),
    },
    Row {
        name: "tf1: tf.nn.conv2d/max_pool/avg_pool with weight variables, reshape by get_shape().as_list(), tf.nn.dropout, hand-written loss on a softmax",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 28, 28, 1])
y_ = tf.placeholder(tf.float32, [None, 10])
keep_prob = tf.placeholder(tf.float32)

W_conv1 = tf.Variable(tf.truncated_normal([5, 5, 1, 32], stddev=0.1))
b_conv1 = tf.Variable(tf.constant(0.1, shape=[32]))
h_conv1 = tf.nn.relu(tf.nn.conv2d(x, W_conv1, strides=[1, 1, 1, 1], padding="SAME") + b_conv1)
h_pool1 = tf.nn.max_pool(h_conv1, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
h_pool2 = tf.nn.avg_pool(h_pool1, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

shape = h_pool2.get_shape().as_list()
flat = tf.reshape(h_pool2, [-1, shape[1] * shape[2] * shape[3]])
W_fc1 = tf.Variable(tf.truncated_normal([7 * 7 * 32, 1024], stddev=0.1))
b_fc1 = tf.Variable(tf.constant(0.1, shape=[1024]))
h_fc1 = tf.nn.relu(tf.matmul(flat, W_fc1) + b_fc1)
h_drop = tf.nn.dropout(h_fc1, keep_prob)
W_fc2 = tf.Variable(tf.truncated_normal([1024, 10], stddev=0.1))
b_fc2 = tf.Variable(tf.constant(0.1, shape=[10]))
y_conv = tf.nn.softmax(tf.matmul(h_drop, W_fc2) + b_fc2)
cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y_conv), reduction_indices=[1]))
train_step = tf.train.AdamOptimizer(1e-4).minimize(cross_entropy)
"#,
        expect: Expect::Findings(&[("NNL008", 22)]),
        twin: Twin::Edit(&[
            (
                "y_conv = tf.nn.softmax(tf.matmul(h_drop, W_fc2) + b_fc2)",
                "y_conv = tf.matmul(h_drop, W_fc2) + b_fc2",
            ),
            ("tf.log(y_conv)", "tf.nn.log_softmax(y_conv)"),
        ]),
    },
    Row {
        name: "tf1: binary hand-written loss y * tf.log(p) + (1 - y) * tf.log(1 - p) on an unguarded sigmoid",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 30])
y = tf.placeholder(tf.float32, [None, 1])
w = tf.Variable(tf.zeros([30, 1]))
b = tf.Variable(tf.zeros([1]))
hypothesis = tf.sigmoid(tf.matmul(x, w) + b)
cost = -tf.reduce_mean(y * tf.log(hypothesis) + (1 - y) * tf.log(1 - hypothesis))
train = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
predicted = tf.cast(hypothesis > 0.5, dtype=tf.float32)
"#,
        expect: Expect::Findings(&[("NNL008", 8)]),
        twin: Twin::Edit(&[
            (
                "y * tf.log(hypothesis)",
                "y * tf.log(tf.clip_by_value(hypothesis, 1e-7, 1.0))",
            ),
            (
                "tf.log(1 - hypothesis)",
                "tf.log(tf.clip_by_value(1 - hypothesis, 1e-7, 1.0))",
            ),
        ]),
    },
    Row {
        name: "tf1: tf.log(tf.clip_by_value(p, 1e-10, 1.0)) in a hand-written categorical loss (axis=1) on sigmoids",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 784])
y = tf.placeholder(tf.float32, [None, 10])
W = tf.Variable(tf.zeros([784, 10]))
b = tf.Variable(tf.zeros([10]))
p = tf.nn.sigmoid(tf.matmul(x, W) + b)
cross_entropy = tf.reduce_mean(-tf.reduce_sum(y * tf.log(tf.clip_by_value(p, 1e-10, 1.0)), axis=1))
train = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
"#,
        expect: Expect::Findings(&[("NNL002", 7)]),
        twin: Twin::Edit(&[("p = tf.nn.sigmoid(", "p = tf.nn.softmax(")]),
    },
    Row {
        name: "tf1: tf.Variable(np.random.randn(...)), tf.get_variable(shape=...), tf.nn.xw_plus_b, tf.subtract/multiply/divide, softmax_cross_entropy_with_logits_v2",
        source: r#"
import numpy as np
import tensorflow as tf

X = tf.placeholder(tf.float32, [None, 13])
Y = tf.placeholder(tf.float32, [None, 3])
W1 = tf.Variable(np.random.randn(13, 20).astype(np.float32))
b1 = tf.Variable(np.zeros(20, dtype=np.float32))
W2 = tf.get_variable("W2", shape=[20, 3], initializer=tf.contrib.layers.xavier_initializer())
b2 = tf.get_variable("b2", shape=[3], initializer=tf.zeros_initializer())
hidden = tf.nn.tanh(tf.nn.xw_plus_b(X, W1, b1))
scores = tf.subtract(tf.multiply(tf.nn.xw_plus_b(hidden, W2, b2), 2.0), 0.5)
probs = tf.nn.softmax(tf.divide(scores, 1.5))
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=Y, logits=probs))
train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL005", 12)]),
        twin: Twin::Edit(&[("logits=probs", "logits=scores")]),
    },
    Row {
        name: "tf1: batch from make_one_shot_iterator().get_next(), tf.losses.softmax_cross_entropy on sigmoids",
        source: r#"
import tensorflow as tf

dataset = tf.data.Dataset.from_tensor_slices((features, labels)).shuffle(1000).batch(64).repeat()
iterator = dataset.make_one_shot_iterator()
batch_x, batch_y = iterator.get_next()

net = tf.layers.dense(batch_x, 128, activation=tf.nn.relu)
net = tf.layers.dense(net, 5, activation=tf.nn.sigmoid)
loss = tf.losses.softmax_cross_entropy(onehot_labels=batch_y, logits=net)
train_op = tf.train.AdamOptimizer(0.001).minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL005", 8)]),
        twin: Twin::Edit(&[(
            "tf.layers.dense(net, 5, activation=tf.nn.sigmoid)",
            "tf.layers.dense(net, 5)",
        )]),
    },
    Row {
        name: "tf1: tf.compat.v1.data.make_initializable_iterator, tf.compat.v1.layers, tf.compat.v1.losses.sparse_softmax_cross_entropy on a softmax",
        source: r#"
import tensorflow as tf

dataset = tf.data.TFRecordDataset(files).map(parse_fn).batch(32)
iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
images, labels = iterator.get_next()

net = tf.compat.v1.layers.conv2d(images, 32, 3, activation=tf.nn.relu)
net = tf.compat.v1.layers.flatten(net)
logits = tf.compat.v1.layers.dense(net, 10, activation=tf.nn.softmax)
loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL005", 9)]),
        twin: Twin::Edit(&[(
            "tf.compat.v1.layers.dense(net, 10, activation=tf.nn.softmax)",
            "tf.compat.v1.layers.dense(net, 10)",
        )]),
    },
    Row {
        name: "tf1: graph built in methods of a class into self.* (embedding_lookup, expand_dims, conv2d, reshape, get_variable, xw_plus_b)",
        source: r#"
import tensorflow as tf


class TextCNN(object):
    def __init__(self, seq_len, n_classes, vocab, emb=128):
        self.input_x = tf.placeholder(tf.int32, [None, seq_len], name="input_x")
        self.input_y = tf.placeholder(tf.float32, [None, n_classes], name="input_y")
        self.dropout_keep_prob = tf.placeholder(tf.float32)
        self.W_emb = tf.Variable(tf.random_uniform([vocab, emb], -1.0, 1.0))
        self.embedded = tf.expand_dims(tf.nn.embedding_lookup(self.W_emb, self.input_x), -1)
        self.build(seq_len, n_classes, emb)

    def build(self, seq_len, n_classes, emb):
        W = tf.Variable(tf.truncated_normal([3, emb, 1, 64], stddev=0.1))
        conv = tf.nn.conv2d(self.embedded, W, strides=[1, 1, 1, 1], padding="VALID")
        pooled = tf.nn.max_pool(tf.nn.relu(conv), ksize=[1, seq_len - 2, 1, 1], strides=[1, 1, 1, 1], padding="VALID")
        self.h_flat = tf.reshape(pooled, [-1, 64])
        self.h_drop = tf.nn.dropout(self.h_flat, self.dropout_keep_prob)
        self.W_out = tf.get_variable("W_out", shape=[64, n_classes])
        self.b_out = tf.Variable(tf.constant(0.1, shape=[n_classes]))
        self.scores = tf.nn.softmax(tf.nn.xw_plus_b(self.h_drop, self.W_out, self.b_out))
        self.loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=self.scores, labels=self.input_y))


cnn = TextCNN(56, 2, 20000)
"#,
        expect: Expect::Findings(&[("NNL005", 21)]),
        twin: Twin::Edit(&[(
            "self.scores = tf.nn.softmax(tf.nn.xw_plus_b(self.h_drop, self.W_out, self.b_out))",
            "self.scores = tf.nn.xw_plus_b(self.h_drop, self.W_out, self.b_out)",
        )]),
    },
    Row {
        name: "tf1: tf.transpose/squeeze/expand_dims/reduce_*/concat, tf.keras.layers.Dense on TF1 tensors, weighted_cross_entropy_with_logits on a sigmoid",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 28, 28])
y = tf.placeholder(tf.float32, [None, 1])
seq = tf.transpose(x, [1, 0, 2])
last = tf.squeeze(tf.reduce_mean(tf.expand_dims(seq, 0), axis=0))
feats = tf.concat([tf.reduce_max(x, axis=1), tf.reduce_sum(x, axis=1)], axis=1)
h = tf.keras.layers.Dense(32, activation="relu")(feats)
logits = tf.contrib.layers.fully_connected(h, 1, activation_fn=None)
loss = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(labels=y, logits=tf.nn.sigmoid(logits), pos_weight=3.0))
train_op = tf.train.AdamOptimizer().minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL005", 10)]),
        twin: Twin::Edit(&[("logits=tf.nn.sigmoid(logits)", "logits=logits")]),
    },
    Row {
        name: "tf1: tf.contrib.layers.conv2d/max_pool2d, tf.reshape(net, [-1, int(a * b * c)]) of get_shape() dims, tf.losses.sparse_softmax_cross_entropy",
        source: r#"
import tensorflow as tf

images = tf.placeholder(tf.float32, [None, 32, 32, 3])
labels = tf.placeholder(tf.int64, [None])
net = tf.contrib.layers.conv2d(images, 32, [3, 3])
net = tf.contrib.layers.max_pool2d(net, [2, 2])
dim = int(net.get_shape()[1] * net.get_shape()[2] * net.get_shape()[3])
net = tf.reshape(net, [-1, dim])
net = tf.contrib.layers.fully_connected(net, 10, activation_fn=tf.nn.softmax)
loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=net)
"#,
        expect: Expect::Findings(&[("NNL005", 9)]),
        twin: Twin::Edit(&[("activation_fn=tf.nn.softmax", "activation_fn=None")]),
    },
    Row {
        name: "tf1: reshape size from x.get_shape()[i].value products, one-unit softmax into tf.losses.log_loss",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 8, 8, 16])
y = tf.placeholder(tf.float32, [None, 1])
n = x.get_shape()[1].value * x.get_shape()[2].value * x.get_shape()[3].value
flat = tf.reshape(x, [-1, n])
W = tf.Variable(tf.random_normal([n, 1]))
b = tf.Variable(tf.zeros([1]))
pred = tf.nn.softmax(tf.matmul(flat, W) + b)
loss = tf.losses.log_loss(labels=y, predictions=pred)
"#,
        expect: Expect::Findings(&[("NNL001", 9)]),
        twin: Twin::Edit(&[("pred = tf.nn.softmax(", "pred = tf.nn.sigmoid(")]),
    },
    Row {
        name: "tf1: tf.greater(logits, 0.5).eval(...) at test time on a sigmoid_cross_entropy_with_logits model",
        source: r#"
import tensorflow as tf

X = tf.placeholder(tf.float32, [None, 4])
Y = tf.placeholder(tf.float32, [None, 1])
W = tf.Variable(tf.random_normal([4, 1]))
b = tf.Variable(tf.random_normal([1]))
hypothesis = tf.matmul(X, W) + b
cost = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=hypothesis, labels=Y))
train = tf.train.GradientDescentOptimizer(0.01).minimize(cost)

sess = tf.InteractiveSession()
sess.run(tf.global_variables_initializer())
for step in range(2001):
    sess.run(train, feed_dict={X: x_data, Y: y_data})
predicted = tf.greater(hypothesis, 0.5).eval(feed_dict={X: x_test})
"#,
        expect: Expect::Findings(&[("NNL004", 7)]),
        twin: Twin::Edit(&[(
            "tf.greater(hypothesis, 0.5)",
            "tf.greater(tf.sigmoid(hypothesis), 0.5)",
        )]),
    },
    Row {
        name: "tf1: logits fetched with t.eval(...) then compared with > 0.5",
        source: r#"
import tensorflow as tf

X = tf.placeholder(tf.float32, [None, 4])
Y = tf.placeholder(tf.float32, [None, 1])
W = tf.Variable(tf.random_normal([4, 1]))
b = tf.Variable(tf.random_normal([1]))
hypothesis = tf.matmul(X, W) + b
cost = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=hypothesis, labels=Y))
train = tf.train.GradientDescentOptimizer(0.01).minimize(cost)

sess = tf.InteractiveSession()
sess.run(tf.global_variables_initializer())
for step in range(2001):
    sess.run(train, feed_dict={X: x_data, Y: y_data})
scores = hypothesis.eval(feed_dict={X: x_test})
predicted = scores > 0.5
"#,
        expect: Expect::Findings(&[("NNL004", 7)]),
        twin: Twin::Edit(&[(
            "scores = hypothesis.eval(",
            "scores = tf.sigmoid(hypothesis).eval(",
        )]),
    },
    Row {
        name: "tf1: return out if is_training else tf.nn.sigmoid(out), graph built with is_training = False",
        source: r#"
import tensorflow as tf


def classifier(x, is_training):
    net = tf.layers.dense(x, 64, activation=tf.nn.relu)
    net = tf.layers.dropout(net, rate=0.3, training=is_training)
    out = tf.layers.dense(net, 1)
    return out if is_training else tf.nn.sigmoid(out)


inputs = tf.placeholder(tf.float32, [None, 16])
targets = tf.placeholder(tf.float32, [None, 1])
is_training = False
scores = classifier(inputs, is_training)
loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=scores))
train_op = tf.train.AdamOptimizer().minimize(loss)
"#,
        expect: Expect::Findings(&[("NNL005", 8)]),
        twin: Twin::Edit(&[("is_training = False", "is_training = True")]),
    },
    Row {
        name: "tf1: an IS_TRAINING flag returns the logits, tf.round on them",
        source: r#"
import tensorflow as tf

IS_TRAINING = True


def classifier(x):
    net = tf.layers.dense(x, 64, activation=tf.nn.relu)
    net = tf.layers.dropout(net, rate=0.3, training=IS_TRAINING)
    out = tf.layers.dense(net, 1)
    if IS_TRAINING:
        return out
    return tf.nn.sigmoid(out)


inputs = tf.placeholder(tf.float32, [None, 16])
targets = tf.placeholder(tf.float32, [None, 1])
scores = classifier(inputs)
loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=scores))
train_op = tf.train.AdamOptimizer().minimize(loss)
predicted = tf.round(scores)
"#,
        expect: Expect::Findings(&[("NNL004", 9)]),
        twin: Twin::Edit(&[("tf.round(scores)", "tf.round(tf.nn.sigmoid(scores))")]),
    },
    Row {
        name: "tf1: tf.compat.v1.losses.mean_squared_error on a softmax scored by tf.equal(tf.argmax(...), tf.argmax(y, 1))",
        source: r#"
import tensorflow as tf

tf.compat.v1.disable_v2_behavior()
x = tf.compat.v1.placeholder(tf.float32, [None, 20])
y = tf.compat.v1.placeholder(tf.float32, [None, 5])
h = tf.compat.v1.layers.dense(x, 32, activation=tf.nn.relu)
probs = tf.compat.v1.layers.dense(h, 5, activation=tf.nn.softmax)
loss = tf.compat.v1.losses.mean_squared_error(labels=y, predictions=probs)
correct = tf.equal(tf.argmax(probs, 1), tf.argmax(y, 1))
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
"#,
        expect: Expect::Findings(&[("NNL012", 8)]),
        twin: Twin::Edit(&[
            ("activation=tf.nn.softmax", "activation=None"),
            (
                "tf.compat.v1.losses.mean_squared_error(labels=y, predictions=probs)",
                "tf.compat.v1.losses.softmax_cross_entropy(onehot_labels=y, logits=probs)",
            ),
        ]),
    },
    Row {
        name: "tf1 guard: a linear regression head with tf.losses.mean_squared_error",
        source: r#"
import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 13])
y = tf.placeholder(tf.float32, [None, 1])
W = tf.Variable(tf.random_normal([13, 1]))
b = tf.Variable(tf.zeros([1]))
pred = tf.matmul(x, W) + b
loss = tf.losses.mean_squared_error(labels=y, predictions=pred)
train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
];

const INTEGERS: &[Row] = &[
    Row {
        name: "ints: width 7 // -2 + 5 is 1 (floor division)",
        source: r#"
from tensorflow import keras

n_features = 4
units = 7 // -2 + 5

model = keras.Sequential([
    keras.layers.Dense(8, activation="relu", input_shape=(n_features,)),
    keras.layers.Dense(units, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 8), ("NNL007", 10)]),
        twin: Twin::Edit(&[("7 // -2 + 5", "7 // -2 + 7")]),
    },
    Row {
        name: "ints: width -7 % 3 - 1 is 1 (modulo)",
        source: r#"
from tensorflow import keras

n_classes = -7 % 3 - 1

model = keras.Sequential()
model.add(keras.layers.Dense(16, activation="relu", input_dim=10))
model.add(keras.layers.Dense(n_classes, activation="softmax"))
model.compile(optimizer="sgd", loss="categorical_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 7), ("NNL007", 8)]),
        twin: Twin::Edit(&[("-7 % 3 - 1", "-7 % 3 + 1")]),
    },
    Row {
        name: "ints: (-2**63) // -1 as an argument does not panic",
        source: r#"
from tensorflow import keras

SEED = (-2**63) // -1

model = keras.Sequential([
    keras.layers.Dense(32, activation="relu", input_shape=(6,)),
    keras.layers.Dropout(0.25, seed=SEED),
    keras.layers.Dense(1, activation="softmax"),
])
model.compile(optimizer="adam", loss="binary_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 8)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
];

const COVERAGE: &[Row] = &[
    Row {
        name: "coverage: layers made by getattr(nn, name)(*args) in a loop",
        source: r#"
import torch
from torch import nn

spec = [("Linear", (16, 32)), ("ReLU", ()), ("Linear", (32, 4))]
layers = []
for name, args in spec:
    layers.append(getattr(nn, name)(*args))
model = nn.Sequential(*layers)
criterion = nn.CrossEntropyLoss()
opt = torch.optim.Adam(model.parameters())
for x, y in loader:
    loss = criterion(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
"#,
        expect: Expect::NotChecked,
        twin: Twin::Source(
            r#"
import torch
from torch import nn

layers = [nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)]
model = nn.Sequential(*layers)
criterion = nn.CrossEntropyLoss()
opt = torch.optim.Adam(model.parameters())
for x, y in loader:
    loss = criterion(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
"#,
        ),
    },
    Row {
        name: "coverage: torch imported, only a tensor helper",
        source: r#"
import torch


def standardize(t, eps=1e-8):
    mean = t.mean(dim=0, keepdim=True)
    std = t.std(dim=0, keepdim=True)
    return (t - mean) / (std + eps)


def to_tensor(rows):
    return torch.tensor(rows, dtype=torch.float32)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
];

/// Sizes held in configuration objects: argparse defaults (the run with no options), dataclass
/// fields, `SimpleNamespace`, class attributes.
const CONFIG: &[Row] = &[
    Row {
        name: "config: argparse default sizes the head",
        source: r#"
import argparse

import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser(description="tabular classifier")
parser.add_argument("--hidden", type=int, default=64)
parser.add_argument("--num-classes", type=int, default=1)
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()


class Net(nn.Module):
    def __init__(self, hidden, n_out):
        super().__init__()
        self.body = nn.Linear(12, hidden)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x):
        return F.softmax(self.head(F.relu(self.body(x))), dim=1)


model = Net(args.hidden, args.num_classes)
for epoch in range(args.epochs):
    for x, y in loader:
        loss = F.binary_cross_entropy(model(x), y)
"#,
        expect: Expect::Findings(&[("NNL001", 20)]),
        twin: Twin::Edit(&[
            (
                "return F.softmax(self.head(F.relu(self.body(x))), dim=1)",
                "return torch.sigmoid(self.head(F.relu(self.body(x))))",
            ),
            (
                "import torch.nn as nn",
                "import torch\nimport torch.nn as nn",
            ),
        ]),
    },
    Row {
        name: "config: dataclass field and SimpleNamespace",
        source: r#"
from dataclasses import dataclass
from types import SimpleNamespace

from tensorflow import keras


@dataclass
class TrainConfig:
    hidden: int = 32
    n_classes: int = 1


cfg = TrainConfig()
opts = SimpleNamespace(dropout=0.3, features=16)
model = keras.Sequential([
    keras.layers.Dense(cfg.hidden, activation="relu", input_shape=(opts.features,)),
    keras.layers.Dropout(opts.dropout),
    keras.layers.Dense(cfg.n_classes, activation="softmax"),
])
model.compile(optimizer="adam", loss="binary_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 18)]),
        twin: Twin::Edit(&[("n_classes: int = 1", "n_classes: int = 2")]),
    },
    Row {
        name: "config: dataclass built with a keyword argument",
        source: r#"
from dataclasses import dataclass

from tensorflow import keras


@dataclass
class HeadConfig:
    units: int = 10
    activation: str = "softmax"


head = HeadConfig(units=1)
model = keras.Sequential([
    keras.layers.Dense(16, activation="relu", input_shape=(8,)),
    keras.layers.Dense(head.units, activation=head.activation),
])
model.compile(optimizer="adam", loss="binary_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 15)]),
        twin: Twin::Edit(&[(
            "HeadConfig(units=1)",
            "HeadConfig(units=1, activation=\"sigmoid\")",
        )]),
    },
    Row {
        name: "config: class attribute read on the class",
        source: r#"
from tensorflow import keras


class Settings:
    UNITS = 1
    FEATURES = 4


model = keras.Sequential([
    keras.layers.Dense(Settings.UNITS, activation="softmax", input_shape=(Settings.FEATURES,)),
])
model.compile(optimizer="sgd", loss="binary_crossentropy")
"#,
        expect: Expect::Findings(&[("NNL001", 10)]),
        twin: Twin::Edit(&[("activation=\"softmax\"", "activation=\"sigmoid\"")]),
    },
    Row {
        name: "config: a nested helper sees its builder's parameters (closure)",
        source: r#"
from tensorflow import keras
from tensorflow.keras import layers


def build_model(n_features, n_classes):
    def block(x, units):
        return layers.Dense(units, activation="relu")(x)

    def head(x):
        return layers.Dense(n_classes, activation="softmax")(x)

    inputs = keras.Input(shape=(n_features,))
    outputs = head(block(inputs, 64))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


model = build_model(20, 1)
"#,
        expect: Expect::Findings(&[("NNL001", 10)]),
        twin: Twin::Edit(&[
            ("build_model(20, 1)", "build_model(20, 2)"),
            ("binary_crossentropy", "categorical_crossentropy"),
        ]),
    },
];

/// Labels whose classes the file states, followed to the call that trains on them (NNL016), and
/// what ends the trail (a comparison, a mask, labels the code makes itself).
const LABELS: &[Row] = &[
    Row {
        name: "labels: to_categorical without a width keeps the dataset's ten classes",
        source: r#"
from tensorflow import keras
from tensorflow.keras.utils import to_categorical

(x_train, y_train), _ = keras.datasets.cifar10.load_data()
y_train = to_categorical(y_train)
model = keras.Sequential([
    keras.Input(shape=(32, 32, 3)),
    keras.layers.Flatten(),
    keras.layers.Dense(5, activation="softmax"),
])
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=1)
"#,
        expect: Expect::Findings(&[("NNL016", 9)]),
        twin: Twin::Edit(&[("Dense(5,", "Dense(10,")]),
    },
    Row {
        name: "labels: tf.one_hot(y, depth=3) given to fit(x=..., y=...)",
        source: r#"
import numpy as np
import tensorflow as tf

labels = np.random.randint(0, 3, size=(256,))
targets = tf.one_hot(labels, depth=3)
model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(4, activation="softmax")])
model.compile("adam", "categorical_crossentropy")
model.fit(x=np.random.rand(256, 8), y=targets, epochs=2)
"#,
        expect: Expect::Findings(&[("NNL016", 6)]),
        twin: Twin::Edit(&[("Dense(4,", "Dense(3,")]),
    },
    Row {
        name: "labels: cifar100 with label_mode=\"coarse\" names 20 superclasses",
        source: r#"
import keras

(x, y), (xt, yt) = keras.datasets.cifar100.load_data(label_mode="coarse")
model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(100, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=1)
"#,
        expect: Expect::Findings(&[("NNL016", 4)]),
        twin: Twin::Edit(&[("label_mode=\"coarse\"", "label_mode=\"fine\"")]),
    },
    Row {
        name: "labels: one batch taken with next(iter(loader))",
        source: r#"
import torch
from torch import nn
from torchvision import datasets, transforms

data = datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor())
loader = torch.utils.data.DataLoader(data, batch_size=16)
images, labels = next(iter(loader))
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 8))
loss = nn.CrossEntropyLoss()(model(images), labels)
"#,
        expect: Expect::Findings(&[("NNL016", 8)]),
        twin: Twin::Edit(&[("nn.Linear(784, 8)", "nn.Linear(784, 10)")]),
    },
    Row {
        name: "labels: one batch taken with Python 2's dataiter.next() on iter(loader)",
        source: r#"
import torch
from torch import nn, optim
from torchvision import datasets, transforms

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
trainset = datasets.FashionMNIST("~/.pytorch/F_MNIST_data/", download=True, train=True, transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=64, shuffle=True)

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 9), nn.LogSoftmax(dim=1))
criterion = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.003)

dataiter = iter(trainloader)
images, labels = dataiter.next()
images = images.view(images.shape[0], -1)
optimizer.zero_grad()
loss = criterion(model(images), labels)
loss.backward()
optimizer.step()
"#,
        expect: Expect::Findings(&[("NNL016", 9)]),
        twin: Twin::Edit(&[("nn.Linear(128, 9)", "nn.Linear(128, 10)")]),
    },
    Row {
        name: "labels: random_split, enumerate(tqdm(loader)) and labels.to(device)",
        source: r#"
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, random_split
from torchvision.datasets import SVHN
from tqdm import tqdm

full = SVHN("data", split="train", download=True)
train_set, val_set = random_split(full, [60000, 13257])
loader = DataLoader(train_set, batch_size=128, shuffle=True)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 256), torch.nn.ReLU(), torch.nn.Linear(256, 9))
device = torch.device("cpu")
for step, (x, y) in enumerate(tqdm(loader)):
    x, y = x.to(device), y.to(device)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
"#,
        expect: Expect::Findings(&[("NNL016", 10)]),
        twin: Twin::Edit(&[("torch.nn.Linear(256, 9)", "torch.nn.Linear(256, 10)")]),
    },
    Row {
        name: "labels: a tf.data pipeline of (x, y) given to fit",
        source: r#"
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(32)
model = tf.keras.Sequential([tf.keras.Input((28, 28)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(), metrics=["accuracy"])
model.fit(train_ds, epochs=5)
"#,
        expect: Expect::Findings(&[("NNL016", 6)]),
        twin: Twin::Edit(&[
            (
                "Dense(1, activation=\"sigmoid\")",
                "Dense(10, activation=\"softmax\")",
            ),
            ("BinaryCrossentropy()", "SparseCategoricalCrossentropy()"),
        ]),
    },
    Row {
        name: "labels: ImageDataGenerator.flow(x, y) given to fit_generator",
        source: r#"
import keras
from keras.datasets import cifar10
from keras.preprocessing.image import ImageDataGenerator

num_classes = 10
(x_train, y_train), (x_test, y_test) = cifar10.load_data()
y_train = keras.utils.to_categorical(y_train, num_classes)
model = keras.models.Sequential()
model.add(keras.layers.Flatten(input_shape=(32, 32, 3)))
model.add(keras.layers.Dense(num_classes - 1, activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam")
datagen = ImageDataGenerator(horizontal_flip=True)
model.fit_generator(datagen.flow(x_train, y_train, batch_size=32), steps_per_epoch=100, epochs=3)
"#,
        expect: Expect::Findings(&[("NNL016", 10)]),
        twin: Twin::Edit(&[("Dense(num_classes - 1,", "Dense(num_classes,")]),
    },
    Row {
        name: "labels: TensorDataset of one-hot targets in a DataLoader",
        source: r#"
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

x = torch.randn(512, 20)
y = F.one_hot(torch.randint(0, 4, (512,)), num_classes=4).float()
loader = DataLoader(TensorDataset(x, y), batch_size=64)
model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
for xb, yb in loader:
    loss = F.cross_entropy(model(xb), yb)
"#,
        expect: Expect::Findings(&[("NNL016", 8)]),
        twin: Twin::Edit(&[("torch.nn.Linear(32, 3)", "torch.nn.Linear(32, 4)")]),
    },
    Row {
        name: "labels: num_classes = np.max(y_train) + 1 sizes the one-hot labels",
        source: r#"
import numpy as np
from keras.datasets import reuters
from keras.models import Sequential
from keras.layers import Dense, Activation
from keras.utils import to_categorical

(x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=1000)
num_classes = np.max(y_train) + 1
y_train = to_categorical(y_train, num_classes)
model = Sequential()
model.add(Dense(512, input_shape=(1000,), activation="relu"))
model.add(Dense(num_classes - 6))
model.add(Activation("softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(np.zeros((len(y_train), 1000)), y_train, epochs=1)
"#,
        expect: Expect::Findings(&[("NNL016", 12)]),
        twin: Twin::Edit(&[("Dense(num_classes - 6)", "Dense(num_classes)")]),
    },
    Row {
        name: "labels: len(np.unique(y_train)) classes, a binary loss on their one-hot rows",
        source: r#"
import numpy as np
import keras
from keras.datasets import cifar10

(x_train, y_train), (x_test, y_test) = cifar10.load_data()
num_classes = len(np.unique(y_train))
y_train = keras.utils.to_categorical(y_train, num_classes)
model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(8, activation="sigmoid")])
model.compile(loss="binary_crossentropy", optimizer="rmsprop")
model.fit(x_train, y_train, batch_size=32)
"#,
        expect: Expect::Findings(&[("NNL016", 8)]),
        twin: Twin::Edit(&[("Dense(8, ", "Dense(num_classes, ")]),
    },
    Row {
        name: "labels: a boolean mask may keep only some classes, so it ends the trail",
        source: r#"
from tensorflow import keras

(x_train, y_train), _ = keras.datasets.mnist.load_data()
keep = y_train < 2
x01, y01 = x_train[keep], y_train[keep]
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x01, y01, epochs=1)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "labels: arithmetic on the labels (y % 2, odd or even) ends the trail",
        source: r#"
import torch
from torch import nn
from torchvision import datasets, transforms

train = datasets.MNIST("data", download=True, transform=transforms.ToTensor())
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
criterion = nn.BCEWithLogitsLoss()
for x, y in torch.utils.data.DataLoader(train, batch_size=32):
    odd = (y % 2).float().unsqueeze(1)
    loss = criterion(model(x), odd)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
    Row {
        name: "labels: a GAN discriminator on MNIST trains on real/fake targets it makes itself",
        source: r#"
import numpy as np
from tensorflow import keras

(x_train, y_train), _ = keras.datasets.mnist.load_data()
disc = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
disc.compile(optimizer="adam", loss="binary_crossentropy")
real = x_train[np.random.randint(0, len(x_train), 64)]
disc.train_on_batch(real, np.ones((64, 1)))
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
];

/// Loss functions a file defines and gives to `compile`: read by what they compute from `y_pred`.
const LOSS_FUNCTIONS: &[Row] = &[
    Row {
        name: "loss function: -K.sum(y_true * K.log(y_pred), axis=-1) on independent sigmoids",
        source: r#"
import keras
from keras import backend as K


def my_crossentropy(y_true, y_pred):
    y_pred = K.clip(y_pred, K.epsilon(), 1.0 - K.epsilon())
    return -K.sum(y_true * K.log(y_pred), axis=-1)


model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(8, activation="sigmoid")])
model.compile(optimizer="adam", loss=my_crossentropy, metrics=["accuracy"])
"#,
        expect: Expect::Findings(&[("NNL002", 10)]),
        twin: Twin::Edit(&[(
            "Dense(8, activation=\"sigmoid\")",
            "Dense(8, activation=\"softmax\")",
        )]),
    },
    Row {
        name: "loss function: tf.reduce_mean over -tf.reduce_sum(y * tf.math.log(p)) with keras.ops",
        source: r#"
import keras
import tensorflow as tf


def cce(y_true, y_pred):
    per_example = -keras.ops.sum(y_true * keras.ops.log(y_pred + 1e-7), axis=-1)
    return tf.reduce_mean(per_example)


inputs = keras.Input((32,))
outputs = keras.layers.Dense(5, activation="sigmoid")(inputs)
model = keras.Model(inputs, outputs)
model.compile("adam", loss=cce)
"#,
        expect: Expect::Findings(&[("NNL002", 11)]),
        twin: Twin::Edit(&[("activation=\"sigmoid\"", "activation=\"softmax\"")]),
    },
    Row {
        name: "loss function: K.categorical_crossentropy(..., from_logits=True) on a softmax",
        source: r#"
import tensorflow as tf
from tensorflow.keras import backend as K


def smoothed(y_true, y_pred):
    y_true = y_true * 0.9 + 0.01
    return K.categorical_crossentropy(y_true, y_pred, from_logits=True)


model = tf.keras.Sequential([tf.keras.Input((16,)), tf.keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="sgd", loss=smoothed)
"#,
        expect: Expect::Findings(&[("NNL005", 10)]),
        twin: Twin::Edit(&[("from_logits=True", "from_logits=False")]),
    },
    Row {
        name: "loss function: a squared error on sigmoid pixels is no cross-entropy",
        source: r#"
import keras
from keras import backend as K


def reconstruction(y_true, y_pred):
    return K.mean(K.square(y_pred - y_true), axis=-1)


encoder_decoder = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(784, activation="sigmoid")])
encoder_decoder.compile(optimizer="adam", loss=reconstruction)
"#,
        expect: Expect::Silent,
        twin: Twin::Absent,
    },
];
