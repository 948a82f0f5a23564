//! The Python source front end: which code fires, where its primary label points, that the check
//! confirms it, and that hostile or odd input (syntax errors, Python 2, latin-1, absurd nesting,
//! notebooks with magics, a 5 MB file) gives findings or one clear diagnostic, never a crash.

use std::path::Path;
use std::time::{Duration, Instant};

use nnlint::engine::{self, Linted, Settings};
use nnlint::finding::{At, Finding};

mod common;
use common::{assert_silent, lint, write};

const FOUNDING: &str = "\
from keras.models import Sequential
from keras.layers import Dense

model = Sequential()
model.add(Dense(12, input_dim=8, activation='relu'))
model.add(Dense(1, activation='softmax'))
model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
";

/// 1-based line and column (in characters) of the finding's primary label.
fn primary_line_col(linted: &Linted, f: &Finding) -> (usize, usize, String) {
    let text = linted.model.source_text.as_deref().unwrap();
    let Some(At::Span(span)) = f.primary() else {
        panic!("{}: primary label is not a text span", f.code);
    };
    let before = &text[..span.offset];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (
        line,
        col,
        text[span.offset..span.offset + span.len].to_string(),
    )
}

fn codes(l: &Linted) -> Vec<&'static str> {
    common::codes(&l.findings)
}

#[test]
fn the_founding_story_points_at_the_activation_argument() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "train.py", FOUNDING.as_bytes());
    let linted = lint(&path);
    assert_eq!(codes(&linted), ["NNL001"]);
    let f = &linted.findings[0];
    assert!(f.check.is_confirmed(), "{:?}", f.check);
    assert_eq!(
        primary_line_col(&linted, f),
        (6, 20, "activation='softmax'".to_string())
    );
    // The other labels: the unit count and the loss string on the compile line.
    let texts: Vec<String> = f
        .labels
        .iter()
        .filter_map(|l| match l.at {
            At::Span(s) => Some(FOUNDING[s.offset..s.offset + s.len].to_string()),
            At::Op(_) => None,
        })
        .collect();
    assert!(texts.contains(&"1".to_string()), "{texts:?}");
    assert!(
        texts.contains(&"'binary_crossentropy'".to_string()),
        "{texts:?}"
    );
}

#[test]
fn every_style_of_the_founding_story_fires_and_its_twin_is_silent() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/NNL001");
    let cases = [
        ("bad_py_keras2_seq_add.py", 12, "activation='softmax'"),
        ("bad_py_tfkeras_seq_list.py", 8, "activation=\"softmax\""),
        ("bad_py_functional_alias.py", 12, "activation=\"softmax\""),
        ("bad_py_keras1_spelling.py", 9, "'softmax'"),
        ("bad_py_keras3_input_star.py", 10, "activation=\"softmax\""),
    ];
    for (name, line, text) in cases {
        let linted = lint(&fixtures.join(name));
        let hits: Vec<&Finding> = linted
            .findings
            .iter()
            .filter(|f| f.code == "NNL001")
            .collect();
        assert_eq!(hits.len(), 1, "{name}: {:?}", codes(&linted));
        assert!(hits[0].check.is_confirmed(), "{name}");
        let (l, _, t) = primary_line_col(&linted, hits[0]);
        assert_eq!((l, t.as_str()), (line, text), "{name}");
        let twin = fixtures.join(name.replace("bad_", "good_"));
        assert_eq!(
            codes(&lint(&twin)),
            Vec::<&str>::new(),
            "{}",
            twin.display()
        );
    }
}

#[test]
fn loss_findings_point_at_the_loss_and_layer_lines() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    // (fixture, code, text one label must cover exactly, text another label must contain)
    let cases = [
        (
            "NNL002/bad_py_autoencoder_sigmoid_cce.py",
            "NNL002",
            "activation='sigmoid'",
            "categorical_crossentropy",
        ),
        (
            "NNL002/bad_py_tf1_autoencoder_handwritten_ce.py",
            "NNL002",
            "tf.nn.sigmoid",
            "tf.log(decoded + 1e-10)",
        ),
        (
            "NNL004/bad_py_linear_bce_object.py",
            "NNL004",
            "layers.Dense",
            "BinaryCrossentropy",
        ),
        (
            "NNL004/bad_py_tf1_logits_thresholded.py",
            "NNL004",
            "tf.layers.dense",
            "tf.round(logits)",
        ),
        (
            "NNL005/bad_py_softmax_from_logits.py",
            "NNL005",
            "activation='softmax'",
            "from_logits=True",
        ),
        (
            "NNL006/bad_py_relu_output_bce.py",
            "NNL006",
            "activation='relu'",
            "relu",
        ),
        (
            "NNL006/bad_py_tf1_relu_probability.py",
            "NNL006",
            "activation=tf.nn.relu",
            "relu",
        ),
        (
            "NNL007/bad_py_sparse_cce_one_unit.py",
            "NNL007",
            "\"sparse_categorical_crossentropy\"",
            "sparse",
        ),
    ];
    for (name, code, exact, contains) in cases {
        let linted = lint(&fixtures.join(name));
        let f = linted
            .findings
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("{name}: {:?}", codes(&linted)));
        assert!(f.check.is_confirmed(), "{name}");
        let text = linted.model.source_text.as_deref().unwrap();
        let labelled: Vec<&str> = f
            .labels
            .iter()
            .filter_map(|l| match l.at {
                At::Span(s) => Some(&text[s.offset..s.offset + s.len]),
                At::Op(_) => None,
            })
            .collect();
        assert!(labelled.contains(&exact), "{name}: {labelled:?}");
        assert!(
            labelled.iter().any(|t| t.contains(contains)),
            "{name}: {labelled:?}"
        );
    }
}

#[test]
fn suppression_comments_on_the_layer_or_compile_line() {
    let dir = tempfile::tempdir().unwrap();
    let ignore = FOUNDING.replace(
        "activation='softmax'))",
        "activation='softmax'))  # nnlint: ignore[NNL001]",
    );
    let noqa = FOUNDING.replace(
        "activation='softmax'))",
        "activation='softmax'))  # noqa: NNL001",
    );
    let other = FOUNDING.replace(
        "activation='softmax'))",
        "activation='softmax'))  # noqa: E501",
    );
    for (name, text, suppressed) in [
        ("ignore.py", ignore, true),
        ("noqa.py", noqa, true),
        ("other.py", other, false),
    ] {
        let linted = lint(&write(dir.path(), name, text.as_bytes()));
        assert_eq!(linted.findings.is_empty(), suppressed, "{name}");
        assert_eq!(linted.suppressed.len(), usize::from(suppressed), "{name}");
    }
    // A loss finding silenced on the compile line.
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/NNL007/bad_py_sparse_cce_one_unit.py"),
    )
    .unwrap()
    .replace(
        "metrics=[\"accuracy\"])",
        "metrics=[\"accuracy\"])  # noqa: NNL007",
    );
    let linted = lint(&write(dir.path(), "compile.py", src.as_bytes()));
    assert!(!codes(&linted).contains(&"NNL007"), "{:?}", codes(&linted));
    assert!(linted.suppressed.iter().any(|(f, _)| f.code == "NNL007"));
}

#[test]
fn a_syntax_error_keeps_the_findings_of_what_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{FOUNDING}\ndef broken(:\n    pass\n");
    let linted = lint(&write(dir.path(), "broken.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    let errors = &linted.model.syntax_errors;
    assert!(!errors.is_empty() && errors[0].line == 9, "{errors:?}");
    assert!(errors[0].place().contains("line 9"), "{errors:?}");
}

#[test]
fn python2_source_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{FOUNDING}print model.summary()\nprint 'done'\n");
    let path = write(dir.path(), "old.py", text.as_bytes());
    let e = engine::lint_path(&path, &Settings::default())
        .outcome
        .err()
        .expect("an error");
    assert!(!e.not_a_model);
    assert!(
        e.message.starts_with("Python 2 source is not supported"),
        "{}",
        e.message
    );
    assert!(e.message.contains("line 8"), "{}", e.message);
}

#[test]
fn latin1_source_is_decoded_and_columns_count_characters() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"# -*- coding: latin-1 -*-\n# mod\xe8le binaire\n".to_vec();
    bytes.extend(
        FOUNDING
            .replace("model.add(Dense(1,", "model.add(Dense(1, name='t\u{e9}te',")
            .replace('\u{e9}', "\u{0}")
            .as_bytes()
            .iter()
            .map(|&b| if b == 0 { 0xe9 } else { b }),
    );
    let linted = lint(&write(dir.path(), "latin.py", &bytes));
    assert_eq!(codes(&linted), ["NNL001"]);
    let (line, col, text) = primary_line_col(&linted, &linted.findings[0]);
    assert_eq!((line, col, text.as_str()), (8, 33, "activation='softmax'"));
    assert!(
        linted
            .model
            .source_text
            .as_deref()
            .unwrap()
            .contains("modèle")
    );
}

#[test]
fn absurd_nesting_never_crashes() {
    let dir = tempfile::tempdir().unwrap();
    // 50,000 terms: overflows a 2 MiB stack if the tree is visited or dropped recursively.
    let mut text = String::from(FOUNDING);
    text.push_str("a = 1\nb = ");
    text.push_str(&vec!["a"; 50_000].join(" + "));
    text.push('\n');
    let linted = lint(&write(dir.path(), "chain.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    assert!(linted.model.metadata.contains_key("python_too_deep"));
    // Brackets nested 100,000 deep are refused before parsing, with one error.
    let deep = format!(
        "import keras\nx = {}1{}\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let e = engine::lint_path(
        &write(dir.path(), "deep.py", deep.as_bytes()),
        &Settings::default(),
    )
    .outcome
    .err()
    .expect("an error");
    assert!(
        e.message.contains("nested more than 1000 deep"),
        "{}",
        e.message
    );
}

#[test]
fn a_5mb_generated_file_is_linted_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(FOUNDING);
    let mut i = 0;
    while text.len() < 5 << 20 {
        text.push_str(&format!(
            "\ndef helper_{i}(x, y=({i}, 2)):\n    z = [v * 2 for v in range(x)]\n    \
             return {{'k': z, 'y': y, 's': \"text {i}\"}}\n"
        ));
        i += 1;
    }
    let path = write(dir.path(), "big.py", text.as_bytes());
    let start = Instant::now();
    let linted = lint(&path);
    let took = start.elapsed();
    assert_eq!(codes(&linted), ["NNL001"]);
    // Debug build on a shared machine: generous, but it would catch a quadratic pass.
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn files_without_deep_learning_code_are_not_models() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "util.py",
        b"import numpy as np\n\ndef f(x):\n    return np.exp(x)\n",
    );
    let e = engine::lint_path(&path, &Settings::default())
        .outcome
        .err()
        .expect("an error");
    assert!(e.not_a_model);
    assert!(
        e.message.contains("no deep-learning code found"),
        "{}",
        e.message
    );
    // A script that mentions keras only in a comment is not a model either.
    let path = write(dir.path(), "notes.py", b"# keras is great\nx = 1\n");
    assert!(
        engine::lint_path(&path, &Settings::default())
            .outcome
            .err()
            .expect("an error")
            .not_a_model
    );
    // In a directory scan both are skipped and the script with the bug is linted.
    write(dir.path(), "train.py", FOUNDING.as_bytes());
    let (code, stdout, _) = common::nnlint(&[
        "--format",
        "concise",
        "--isolated",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("train.py:6:20: NNL001"), "{stdout}");
    assert!(!stdout.contains("util.py"), "{stdout}");
}

#[test]
fn unresolved_shapes_and_arguments_stay_silent() {
    let dir = tempfile::tempdir().unwrap();
    // `X.shape[1:]` is unknown, but a head rule needs only the head: the first Dense is probed
    // at a stated representative width, and the one-unit softmax after it is found.
    let text = FOUNDING.replace("input_dim=8", "input_shape=X.shape[1:]");
    let linted = lint(&write(dir.path(), "shape.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    // When the flagged layer itself reads the unknown width, the evidence says what was probed.
    let text = "from keras.models import Sequential\nfrom keras.layers import Dense\n\
                model = Sequential([Dense(1, activation='softmax')])\n\
                model.compile(loss='binary_crossentropy')\n";
    let linted = lint(&write(dir.path(), "one_layer.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    match &linted.findings[0].check {
        nnlint::finding::Check::Confirmed { summary, .. } => {
            assert!(summary.contains("probed at width 64"), "{summary}");
        }
        other => panic!("expected a confirmed check, got {other:?}"),
    }
    // An activation nnlint cannot resolve is never read as "linear".
    let text = "import keras\nfrom keras.layers import Dense\n\
                def act(x):\n    return keras.activations.sigmoid(x)\n\
                m = keras.Sequential([Dense(4, input_shape=(3,), activation='relu'), Dense(1, activation=act)])\n\
                m.compile(loss='binary_crossentropy')\n";
    assert_silent(&write(dir.path(), "act.py", text.as_bytes()));
    // A container changed after it was built in a way not followed is not trusted
    // (`HP["units"] = 3`, `stack.insert`).
    let text = FOUNDING
        .replace(
            "model = Sequential()",
            "HP = {'units': 1}\nHP['units'] = 3\nmodel = Sequential()",
        )
        .replace(
            "Dense(1, activation='softmax')",
            "Dense(HP['units'], activation='softmax')",
        )
        .replace("'binary_crossentropy'", "'categorical_crossentropy'");
    assert_silent(&write(dir.path(), "dict.py", text.as_bytes()));
    let text = "from keras.models import Sequential\nfrom keras.layers import Dense\n\
                stack = [Dense(8, input_dim=4), Dense(1, activation='softmax')]\n\
                stack.insert(1, Dense(3, activation='softmax'))\n\
                model = Sequential(stack)\nmodel.compile(loss='categorical_crossentropy')\n";
    assert_silent(&write(dir.path(), "list.py", text.as_bytes()));
    // `append` is followed: the one-unit softmax it adds is the head.
    let text = "from keras.models import Sequential\nfrom keras.layers import Dense\n\
                stack = [Dense(8, input_dim=4, activation='relu')]\n\
                stack.append(Dense(1, activation='softmax'))\n\
                model = Sequential(stack)\nmodel.compile(loss='binary_crossentropy')\n";
    let linted = lint(&write(dir.path(), "append.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    // A layer changed after the model was built.
    let text = format!("{FOUNDING}model.layers[-1].activation = keras.activations.sigmoid\n");
    assert_silent(&write(dir.path(), "patched.py", text.as_bytes()));
    let text = format!("{FOUNDING}model.trainable = False\n");
    let linted = lint(&write(dir.path(), "frozen.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    // Unchanged, the same dict is a constant and the finding stands.
    let text = FOUNDING
        .replace(
            "model = Sequential()",
            "HP = {'units': 1}\nmodel = Sequential()",
        )
        .replace(
            "Dense(1, activation='softmax')",
            "Dense(HP['units'], activation='softmax')",
        );
    let linted = lint(&write(dir.path(), "const.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    // `**kwargs` hides the arguments: the layer is unknown.
    let text = FOUNDING.replace("Dense(1, activation='softmax')", "Dense(1, **head_args)");
    assert_silent(&write(dir.path(), "kwargs.py", text.as_bytes()));
}

fn notebook(cells: &[(&str, &str)]) -> String {
    let cells: Vec<serde_json::Value> = cells
        .iter()
        .map(|(kind, src)| {
            let lines: Vec<String> = src.split_inclusive('\n').map(str::to_string).collect();
            serde_json::json!({"cell_type": kind, "metadata": {}, "source": lines,
                               "outputs": [], "execution_count": null})
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5
    }))
    .unwrap()
}

#[test]
fn notebooks_with_magics_point_into_the_json_text() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&[
        ("markdown", "# A \"binary\" classifier\n"),
        (
            "code",
            "%matplotlib inline\n!pip install keras\nimport keras\nfrom keras import layers\n",
        ),
        ("code", "%%bash\necho this is not python\n"),
        (
            "code",
            "model = keras.Sequential([\n    layers.Input(shape=(4,)),\n    \
             layers.Dense(1, activation=\"softmax\"),\n])\n",
        ),
        (
            "code",
            "model.compile(loss=\"binary_crossentropy\", metrics=[\"accuracy\"])\nmodel.summary(",
        ),
    ]);
    let path = write(dir.path(), "nb.ipynb", nb.as_bytes());
    let linted = lint(&path);
    assert_eq!(codes(&linted), ["NNL001"]);
    let f = &linted.findings[0];
    assert!(f.check.is_confirmed());
    let (line, col, text) = primary_line_col(&linted, f);
    // The label covers the argument as the JSON file spells it (escaped quotes).
    assert_eq!(text, "activation=\\\"softmax\\\"");
    let json_line = nb.lines().nth(line - 1).unwrap();
    assert!(
        json_line.contains("layers.Dense(1, activation"),
        "{json_line}"
    );
    assert_eq!(
        &json_line.chars().skip(col - 1).take(10).collect::<String>(),
        "activation"
    );
    assert!(!linted.model.syntax_errors.is_empty());
    // Human output names the cell and the line inside it, as Jupyter numbers them.
    let Some(At::Span(s)) = f.primary() else {
        unreachable!()
    };
    assert_eq!(
        (linted.model.source_map.as_ref()).and_then(|m| m.position(&nb, s.offset)),
        Some((4, 3))
    );
    let (_, human, _) = common::nnlint(&["--isolated", path.to_str().unwrap()]);
    assert!(
        human.contains("nb.ipynb (cell 4, line 3): softmax"),
        "{human}"
    );
    // SARIF says the same line and column.
    let (_, out, _) = common::nnlint(&["--format", "sarif", "--isolated", path.to_str().unwrap()]);
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    let region = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], line as u64, "{region}");
    assert_eq!(region["startColumn"], col as u64, "{region}");
}

#[test]
fn helper_functions_are_inlined_and_uncalled_builders_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let called = "import tensorflow as tf\n\
                  def head(n):\n    return tf.keras.layers.Dense(n, activation='softmax')\n\
                  def build(n_in, n_out=1):\n    m = tf.keras.Sequential()\n    \
                  m.add(tf.keras.layers.Dense(8, input_shape=(n_in,), activation='relu'))\n    m.add(head(n_out))\n    \
                  m.compile(loss='binary_crossentropy')\n    return m\n\
                  model = build(4)\n";
    let linted = lint(&write(dir.path(), "called.py", called.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    // Passed to a wrapper, never called in the file: read once with unknown arguments.
    let uncalled = "from keras.models import Sequential\nfrom keras.layers import Dense\n\
                    def create_model(optimizer='adam'):\n    model = Sequential()\n    \
                    model.add(Dense(8, input_dim=4, activation='relu'))\n    model.add(Dense(1, activation='softmax'))\n    \
                    model.compile(loss='binary_crossentropy', optimizer=optimizer)\n    return model\n\
                    clf = KerasClassifier(build_fn=create_model)\n";
    let linted = lint(&write(dir.path(), "uncalled.py", uncalled.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
}

/// Every Python fixture, truncated and with bytes swapped (deterministic, ~1,500 variants), loads to
/// a model or one error and lints without a panic: what the fuzz targets do, in `cargo test`.
#[test]
fn mutated_fixtures_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = vec![];
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "py" || e == "ipynb")
                && p.file_name().unwrap().to_string_lossy().contains("_py_")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 30, "{files:?}");
    let mut settings = Settings::default();
    settings.probe.count = 8;
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let junk: &[&[u8]] = &[
        b"(",
        b")",
        b"\"",
        b"'''",
        b"\n",
        b"\xff\xfe",
        b"0",
        b" ",
        b":",
        b"\\",
        b"[",
        b"{",
    ];
    let mut variants = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let notebook = path.extension().is_some_and(|e| e == "ipynb");
        let run = |data: &[u8]| {
            let loaded = if notebook {
                nnlint::load::python::notebook_from_bytes(path, data, &Default::default())
            } else {
                nnlint::load::python::python_from_bytes(path, data, &Default::default())
            };
            if let Ok(mut model) = loaded {
                nnlint::intent::infer(&mut model);
                let _ = engine::lint_model(&model, &settings);
            }
        };
        for k in 1..20 {
            run(&bytes[..bytes.len() * k / 20]);
            variants += 1;
        }
        for _ in 0..30 {
            let mut m = bytes.clone();
            let at = next() % m.len();
            let j = junk[next() % junk.len()];
            if next() % 2 == 0 {
                m.splice(at..at, j.iter().copied());
            } else {
                let end = (at + 1 + next() % 8).min(m.len());
                m.splice(at..end, j.iter().copied());
            }
            run(&m);
            variants += 1;
        }
    }
    assert!(variants > 1_000, "{variants}");
}

fn cli(args: &[&str]) -> (i32, String) {
    let (code, out, _) = common::nnlint(&[&["--isolated"], args].concat());
    (code, out)
}

/// The whole human report for a script and a notebook, as a user sees it (after the behaviour
/// above is asserted, the snapshot guards the wording and the layout).
#[test]
fn human_output_snapshots() {
    let (code, out) = cli(&["fixtures/NNL001/bad_py_keras2_seq_add.py"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("python_human_founding_story", out);
    let (code, out) = cli(&["fixtures/NNL004/bad_py_tf1_logits_thresholded.py"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("python_human_tf1_missing_sigmoid", out);
    let (code, out) = cli(&["fixtures/NNL001/bad_py_notebook_magics.ipynb"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("python_human_notebook", out);
}

/// Loops over known sequences run once per item (`nn.ModuleList`, `range`, `zip` of slices,
/// `enumerate`), lists grow by `append`/`+=`, `OrderedDict`/`nn.ModuleDict` hold named modules,
/// `x + f(x)` is a residual and `permute(0, 2, 3, 1)` moves channels last: the head behind them is
/// found, on its own line.
#[test]
fn pytorch_loops_and_containers_reach_the_head() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for (file, code, line, col, text) in [
        (
            "NNL001/bad_pt_modulelist_loop.py",
            "NNL001",
            15,
            23,
            "nn.Softmax",
        ),
        (
            "NNL001/bad_pt_ordereddict_sequential.py",
            "NNL001",
            14,
            22,
            "nn.Softmax",
        ),
        (
            "NNL001/bad_pt_residual_blocks.py",
            "NNL001",
            27,
            16,
            "torch.softmax",
        ),
        (
            "NNL005/bad_pt_sequential_from_list.py",
            "NNL005",
            15,
            36,
            "nn.Sigmoid",
        ),
        (
            "NNL005/bad_pt_modulelist_enumerate.py",
            "NNL005",
            20,
            16,
            "F.softmax",
        ),
        (
            "NNL005/bad_pt_moduledict_heads.py",
            "NNL005",
            18,
            16,
            "self.heads[\"species\"](h).softmax",
        ),
    ] {
        let linted = lint(&root.join(file));
        assert_eq!(codes(&linted), [code], "{file}");
        let f = &linted.findings[0];
        assert!(f.check.is_confirmed(), "{file}: {:?}", f.check);
        let (l, c, spanned) = primary_line_col(&linted, f);
        assert_eq!((l, c), (line, col), "{file}: points at `{spanned}`");
        assert!(spanned.starts_with(text), "{file}: points at `{spanned}`");
    }
    // `permute(0, 2, 3, 1)` before a softmax over the channels: found, and confirmed although the
    // image size is not in the source (the head is probed at a stated spatial size).
    let linted = lint(&root.join("NNL005/bad_pt_segmentation_permute.py"));
    assert_eq!(codes(&linted), ["NNL005"]);
    let f = &linted.findings[0];
    assert_eq!(primary_line_col(&linted, f).0, 19);
    assert!(f.check.is_confirmed(), "{:?}", f.check);
    let linted = lint(&root.join("NNL005/good_pt_segmentation_permute.py"));
    assert!(linted.findings.is_empty(), "{:?}", codes(&linted));
    // The twins are traced to the same depth (their heads are seen), not silent for lack of a model.
    // (The enumerate twin also prints a softmax of the model's output: that inference head is
    // checked as a model of its own.)
    for (file, output) in [
        ("NNL001/good_pt_modulelist_loop.py", &["squash"][..]),
        ("NNL001/good_pt_ordereddict_sequential.py", &["prob"]),
        (
            "NNL005/good_pt_modulelist_enumerate.py",
            &["fcs.2", "softmax"],
        ),
        ("NNL005/good_pt_moduledict_heads.py", &["heads.species"]),
    ] {
        let linted = lint(&root.join(file));
        assert!(linted.findings.is_empty(), "{file}: {:?}", codes(&linted));
        let outs: Vec<&str> = linted
            .model
            .graph
            .outputs
            .iter()
            .map(|o| linted.model.graph.value(o.value).name.as_str())
            .collect();
        assert_eq!(outs, output, "{file}");
    }
}

/// What the interpreter cannot follow exactly stays unknown: a loop of unknown length, a loop with
/// `break`, a module attribute rebound under a test it cannot decide. A test it can decide picks
/// its branch.
#[test]
fn loops_and_tests_it_cannot_decide_stay_silent() {
    let dir = tempfile::tempdir().unwrap();
    let model = |prelude: &str, head: &str| {
        format!(
            "import torch.nn as nn\n{prelude}\n\
             class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        \
             self.fc = nn.Linear(8, 1)\n{head}\n    def forward(self, x):\n        \
             return self.act(self.fc(x))\n\
             net = Net()\ncrit = nn.BCELoss()\nfor x, y in loader:\n    loss = crit(net(x), y)\n"
        )
    };
    let softmax = "        self.act = nn.Softmax(dim=1)";
    let linted = lint(&write(
        dir.path(),
        "plain.py",
        model("", softmax).as_bytes(),
    ));
    assert_eq!(codes(&linted), ["NNL001"]);
    // Decided: `USE_SIGMOID = False` picks the softmax branch.
    let branch = "        if USE_SIGMOID:\n            self.act = nn.Sigmoid()\n        else:\n\
                  \x20           self.act = nn.Softmax(dim=1)";
    let linted = lint(&write(
        dir.path(),
        "decided.py",
        model("USE_SIGMOID = False", branch).as_bytes(),
    ));
    assert_eq!(codes(&linted), ["NNL001"]);
    // Undecided: either branch may run, so the activation is unknown.
    assert_silent(&write(
        dir.path(),
        "undecided.py",
        model("import sys\nUSE_SIGMOID = len(sys.argv) > 1", branch).as_bytes(),
    ));
    // A list built by a loop of unknown length, or by a loop that may stop early, is unknown,
    // but the head written after it is not: `Linear(8, 1)` + `Softmax(dim=1)` is found whatever
    // the unknown layers before it compute.
    for (name, bound, body_end) in [
        ("unknown_len.py", "int(sys.argv[1])", ""),
        (
            "with_break.py",
            "3",
            "\n    if len(layers) > 4:\n        break",
        ),
    ] {
        let text = format!(
            "import sys\nimport torch.nn as nn\nlayers = []\nfor _ in range({bound}):\n    \
             layers.append(nn.Linear(8, 8)){body_end}\n\
             net = nn.Sequential(*layers, nn.Linear(8, 1), nn.Softmax(dim=1))\n\
             crit = nn.BCELoss()\nfor x, y in loader:\n    loss = crit(net(x), y)\n"
        );
        let linted = lint(&write(dir.path(), name, text.as_bytes()));
        assert_eq!(codes(&linted), ["NNL001"], "{name}");
        // With the head inside the list too, nothing is known about it: silent.
        let text = text.replace(", nn.Linear(8, 1), nn.Softmax(dim=1)", "");
        assert_silent(&write(dir.path(), name, text.as_bytes()));
    }
}

/// Loops the interpreter unrolls cannot blow up: doubling lists and tuples stop at a size cap, and
/// nested loops and comprehensions spend one step budget; the file says where it stopped.
#[test]
fn unrolled_loops_have_a_budget() {
    let dir = tempfile::tempdir().unwrap();
    let text = "import torch.nn as nn\nxs = [1]\nfor _ in range(64):\n    xs = xs + xs\n\
                ys = [1]\nfor _ in range(64):\n    ys = [*ys, *ys]\nts = (1,)\nfor _ in range(64):\n    ts += ts\n\
                net = nn.Sequential(nn.Linear(4, 1), nn.Softmax(dim=1))\n\
                crit = nn.BCELoss()\nfor x, y in loader:\n    loss = crit(net(x), y)\n";
    let linted = lint(&write(dir.path(), "doubling.py", text.as_bytes()));
    assert_eq!(codes(&linted), ["NNL001"]);
    assert!(!linted.model.metadata.contains_key("python_steps"));
    let mut nested = String::from("import torch.nn as nn\nzs = []\n");
    for depth in 0..6 {
        nested.push_str(&format!(
            "{}for i{depth} in range(64):\n",
            "    ".repeat(depth)
        ));
    }
    nested.push_str(&format!("{}zs.append(i0)\n", "    ".repeat(6)));
    nested.push_str("w = [[[[a for a in range(64)] for b in range(64)] for c in range(64)] for d in range(64)]\n");
    // The budget ran out before anything was built: the file says it was not checked.
    let note = assert_silent(&write(dir.path(), "nested.py", nested.as_bytes()));
    assert!(
        note.as_deref()
            .is_some_and(|n| n.contains("not checked") && n.contains("budget")),
        "{note:?}"
    );
}

/// A file that builds two models names each in `inspect`, with the outputs that are its (issue 21:
/// every model of a file, named as the file names it).
#[test]
fn inspect_names_each_model_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
from tensorflow import keras
from tensorflow.keras import layers


def make(n, out, act):
    m = keras.Sequential([layers.Dense(16, activation="relu", input_shape=(n,)), layers.Dense(out, activation=act)])
    return m


classifier = make(20, 3, "softmax")
classifier.compile(optimizer="adam", loss="categorical_crossentropy")
regressor = make(8, 1, None)
regressor.compile(optimizer="adam", loss="mse")
"#;
    let path = common::write(dir.path(), "two.py", script.as_bytes());
    let linted = lint(&path);
    let names: Vec<(Option<&str>, &str, std::ops::Range<usize>)> = linted
        .model
        .submodels
        .iter()
        .map(|m| (m.name.as_deref(), m.kind.as_str(), m.outputs.clone()))
        .collect();
    assert_eq!(
        names,
        [
            (Some("classifier"), "keras Sequential", 0..1),
            (Some("regressor"), "keras Sequential", 1..2)
        ]
    );
    let (code, out, _) = common::nnlint(&["inspect", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("models:\n  `classifier` (keras Sequential) at line 7:"),
        "{out}"
    );
    assert!(
        out.contains("`regressor` (keras Sequential) at line 7:"),
        "{out}"
    );
}

/// A file that builds several models says, on each finding, which model it is about (the name the
/// file binds it to, what it is, where it is built): in human output, JSON and SARIF. A file of
/// one model says nothing more than before.
#[test]
fn findings_name_their_model_when_a_file_builds_several() {
    let dir = tempfile::tempdir().unwrap();
    let two = write(
        dir.path(),
        "two_models.py",
        b"from tensorflow import keras\n\
\n\
clf = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation=\"softmax\")])\n\
clf.compile(loss=\"binary_crossentropy\")\n\
reg = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation=\"relu\"), keras.layers.Dense(1, activation=\"softmax\")])\n\
reg.compile(loss=\"binary_crossentropy\")\n",
    );
    let one = write(dir.path(), "one_model.py", FOUNDING.as_bytes());
    let two = two.to_str().unwrap();
    let (_, json, _) = common::nnlint_in(dir.path(), &["--isolated", "--format", "json", two]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let models: Vec<(String, i64)> = doc["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let m = &f["model"];
            assert_eq!(m["kind"], "keras Sequential");
            (
                m["name"].as_str().unwrap().to_string(),
                m["line"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(models, [("clf".to_string(), 3), ("reg".to_string(), 5)]);
    let (_, human, _) = common::nnlint_in(dir.path(), &["--isolated", two]);
    assert!(
        human.contains("model: `clf` (keras Sequential, line 3)"),
        "{human}"
    );
    assert!(
        human.contains("model: `reg` (keras Sequential, line 5)"),
        "{human}"
    );
    let (_, sarif, _) = common::nnlint_in(dir.path(), &["--isolated", "--format", "sarif", two]);
    assert!(
        sarif.contains("model `reg` (keras Sequential, line 5)"),
        "{sarif}"
    );
    let (_, json, _) = common::nnlint_in(
        dir.path(),
        &["--isolated", "--format", "json", one.to_str().unwrap()],
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let findings = doc["files"][0]["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f.get("model").is_none()), "{json}");
}
