//! Daily use in a real repository layout (issue 27): what a walk picks up (default excludes,
//! .gitignore/.ignore, `exclude`/`extend-exclude`, `--force-exclude`), each file's status (linted,
//! skipped, unreadable: a Git LFS pointer, an empty model, a missing path) in every format, the exit
//! codes, and ruff's command-line spellings.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{fixture, nnlint_in as run};

const BAD_ONNX: &str = "fixtures/NNL001/bad_torch_mlp_opset17.onnx";
const GOOD_ONNX: &str = "fixtures/NNL001/good_torch_mlp_sigmoid_opset17.onnx";
const BAD_PY: &str = "fixtures/NNL001/bad_py_keras2_seq_add.py";
const LFS_POINTER: &str = "version https://git-lfs.github.com/spec/v1\n\
     oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 98304\n";

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn copy(root: &Path, rel: &str, from: &str) {
    put(root, rel, &std::fs::read(fixture(from)).unwrap());
}

/// A PyTorch script with an unclosed `(` inside `nn.Sequential(`.
const BROKEN_PY: &str = "import torch.nn as nn

model = nn.Sequential(
    nn.Linear(10, 1),
    nn.Softmax(dim=1),

criterion = nn.BCELoss()
";

/// A repository as a user has it: its own models, and buggy models in the places a walk must not go.
fn scratch_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(d)
        .status()
        .expect("git is needed to test .gitignore");
    assert!(git.success());
    // The repository's own files.
    copy(d, "models/bad.onnx", BAD_ONNX);
    copy(d, "models/good.onnx", GOOD_ONNX);
    copy(d, "train.py", BAD_PY);
    put(
        d,
        "utils.py",
        b"import os\n\n\ndef helper():\n    return os.sep\n",
    );
    put(d, "package.json", br#"{"name": "web", "version": "1.0.0"}"#);
    put(d, "lfs/weights.onnx", LFS_POINTER.as_bytes());
    // A script whose model has an unclosed `(`: a syntax error at its line, nothing guessed.
    put(d, "broken.py", BROKEN_PY.as_bytes());
    // Third-party code, build output, caches: every one holds a buggy model.
    for place in [
        "venv/lib/python3.12/site-packages/pkg",
        "node_modules/pkg",
        "build/lib",
        "dist",
        ".venv",
        ".git/lfs",
        "__pycache__",
        "exports",
        "scratch",
    ] {
        copy(d, &format!("{place}/bad.onnx"), BAD_ONNX);
    }
    copy(d, "venv/bad_model.py", BAD_PY);
    put(d, ".gitignore", b"exports/\n");
    put(d, ".ignore", b"scratch/\n");
    dir
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// (path, status) of every file in a JSON report.
fn statuses(doc: &Value) -> Vec<(String, String)> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_walk_reports_only_the_repositorys_own_models_and_names_the_lfs_pointer() {
    let repo = scratch_repo();
    let d = repo.path();
    let (code, out, err) = run(d, &["--format", "json"]);
    assert_eq!(code, 2, "the LFS pointer is unreadable: {out}{err}");
    let doc = json(&out);
    assert_eq!(
        statuses(&doc),
        pairs(&[
            ("broken.py", "not-checked"),
            ("lfs/weights.onnx", "error"),
            ("models/bad.onnx", "ok"),
            ("models/good.onnx", "ok"),
            ("train.py", "ok"),
        ]),
        "{out}"
    );
    // The syntax error is named at its line; nothing is guessed about the model around it.
    assert_eq!(
        doc["files"][0]["syntax_errors"],
        serde_json::json!([{"line": 8, "column": 1, "message": "unexpected EOF while parsing"}])
    );
    let lfs = doc["files"][1]["error"].as_str().unwrap();
    for needle in ["Git LFS pointer", "git lfs pull", "lfs: true"] {
        assert!(lfs.contains(needle), "{lfs}");
    }
    assert_eq!(doc["summary"]["findings"], 2, "{out}");
    // `nnlint` alone lints `.`, and gives the same report.
    assert_eq!(run(d, &["--format", "json", "."]).1, out);

    // Human: findings on stdout, the LFS error on stderr, a summary with every status.
    let (code, out, err) = run(d, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: lfs/weights.onnx: a Git LFS pointer"),
        "{err}"
    );
    assert!(!out.lines().any(|l| l.starts_with("error:")), "{out}");
    assert!(out.starts_with("broken.py:8:1: syntax error: unexpected EOF while parsing\n"));
    assert!(out.contains("models/bad.onnx: softmax over a single unit"));
    assert!(out.contains("train.py:12:20: softmax over a single unit"));
    assert!(
        out.ends_with(
            "2 findings in 3 files; 1 fixable with `nnlint --fix`; 1 file could not be read; 1 \
             file with syntax errors; 1 file not checked\n"
        ),
        "{out}"
    );

    // SARIF: results only for the repository's files, the pointer a failed-execution notification.
    let (code, out, _) = run(d, &["--format", "sarif"]);
    assert_eq!(code, 2);
    let doc = json(&out);
    let run0 = &doc["runs"][0];
    let uris: Vec<&str> = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(uris, ["models/bad.onnx", "train.py"]);
    let notes = run0["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    let texts: Vec<&str> = notes
        .iter()
        .map(|n| n["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert_eq!(
        texts[0],
        "broken.py: syntax error: unexpected EOF while parsing"
    );
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 8, "startColumn": 1})
    );
    assert!(texts[1].starts_with("broken.py: not checked"), "{texts:?}");
    assert!(texts[2].contains("Git LFS pointer"), "{texts:?}");
    assert_eq!(notes[2]["level"], "error");
    assert_eq!(run0["invocations"][0]["executionSuccessful"], false);

    // Without the pointer the findings decide: exit 1.
    let (code, out, _) = run(d, &["--extend-exclude", "lfs", "--format", "concise"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains(" NNL001 ")).count(),
        2,
        "{out}"
    );
    // The syntax error alone fails the run, as ruff's do; --exit-zero does not.
    let (code, out, _) = run(d, &["--format", "concise", "broken.py"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        "broken.py:8:1: syntax error: unexpected EOF while parsing\n\
         broken.py:1:1: note: not checked: no model or loss could be resolved\n"
    );
    assert_eq!(run(d, &["--exit-zero", "broken.py"]).0, 0);
}

#[test]
fn excludes_come_from_the_config_and_the_command_line() {
    let repo = scratch_repo();
    let d = repo.path();
    let linted = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let (_, out, err) = run(d, &all);
        let doc = json(&format!("{out}{err}"));
        statuses(&doc).into_iter().map(|(p, _)| p).collect()
    };
    // `--exclude` replaces the defaults: venv, build etc. are walked again (not .venv: hidden).
    let replaced = linted(&["--exclude", "lfs"]);
    for walked in [
        "build/lib/bad.onnx",
        "dist/bad.onnx",
        "node_modules/pkg/bad.onnx",
        "venv/bad_model.py",
        "venv/lib/python3.12/site-packages/pkg/bad.onnx",
        "__pycache__/bad.onnx",
    ] {
        assert!(
            replaced.iter().any(|p| p == walked),
            "{walked}: {replaced:?}"
        );
    }
    assert!(!replaced.iter().any(|p| p.starts_with(".venv")));
    assert!(!replaced.iter().any(|p| p.starts_with("lfs")));
    // `--extend-exclude` adds globs, anchored at the working directory or matched by name.
    assert_eq!(
        linted(&["--extend-exclude", "lfs,models/*.onnx"]),
        ["broken.py", "train.py"]
    );
    assert_eq!(
        linted(&["--extend-exclude", "*.onnx"]),
        ["broken.py", "train.py"],
        "a name glob matches at any depth"
    );
    // .gitignore and .ignore are honoured unless told otherwise.
    let all = linted(&["--no-respect-gitignore", "--extend-exclude", "lfs"]);
    assert!(all.contains(&"exports/bad.onnx".to_string()), "{all:?}");
    assert!(all.contains(&"scratch/bad.onnx".to_string()), "{all:?}");
    // nnlint.toml: `extend-exclude` relative to its folder.
    put(
        d,
        "nnlint.toml",
        b"extend-exclude = [\"lfs\", \"models/good.onnx\"]\n",
    );
    assert_eq!(linted(&[]), ["broken.py", "models/bad.onnx", "train.py"]);
    let (code, _, _) = run(d, &[]);
    assert_eq!(code, 1);
    // ... and `exclude` there replaces the defaults; a pyproject's [tool.nnlint] works alike.
    std::fs::remove_file(d.join("nnlint.toml")).unwrap();
    put(
        d,
        "pyproject.toml",
        b"[project]\nname = \"x\"\n\n[tool.nnlint]\nexclude = [\"lfs\", \"venv\", \"build\", \"dist\", \"__pycache__\"]\n",
    );
    let walked = linted(&[]);
    assert!(walked.contains(&"node_modules/pkg/bad.onnx".to_string()));
    assert!(!walked.iter().any(|p| p.starts_with("venv")), "{walked:?}");
    // A bad glob in the config is a config error.
    put(
        d,
        "pyproject.toml",
        b"[tool.nnlint]\nextend-exclude = [\"[\"]\n",
    );
    let (code, _, err) = run(d, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("pyproject.toml") && err.contains("bad glob"),
        "{err}"
    );
    // An unknown key is still named.
    put(d, "pyproject.toml", b"[tool.nnlint]\nexcludes = [\"x\"]\n");
    let (code, _, err) = run(d, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("excludes"), "{err}");
}

#[test]
fn named_files_are_linted_unless_force_exclude_and_non_models_are_skipped_with_a_note() {
    let repo = scratch_repo();
    let d = repo.path();
    // Named explicitly, an excluded file is linted (as ruff does) ...
    let (code, out, _) = run(d, &["--format", "concise", "build/lib/bad.onnx"]);
    assert_eq!(code, 1, "{out}");
    // ... unless --force-exclude, as pre-commit passes every file by name.
    let (code, out, err) = run(
        d,
        &[
            "--force-exclude",
            "-v",
            "--format",
            "json",
            "build/lib/bad.onnx",
            "venv/lib/python3.12/site-packages/pkg/bad.onnx",
            "models/good.onnx",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(statuses(&json(&out)), pairs(&[("models/good.onnx", "ok")]));
    assert!(
        err.contains("excluded build/lib/bad.onnx by `build` (default exclude)"),
        "{err}"
    );
    // A named file that is not a model is skipped with a note, not an error.
    let (code, out, err) = run(d, &["utils.py", "package.json", "models/bad.onnx"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("note: utils.py: skipped: no deep-learning code"),
        "{out}"
    );
    assert!(out.contains("note: package.json: skipped: not a Keras or Hugging Face model config"));
    assert!(
        out.ends_with("1 finding in 1 file; 2 files skipped, not models: utils.py, package.json\n"),
        "{out}"
    );
    let (code, out, _) = run(d, &["utils.py"]);
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = run(d, &["--format", "json", "utils.py"]);
    let doc = json(&out);
    assert_eq!(statuses(&doc), pairs(&[("utils.py", "skipped")]));
    assert_eq!(doc["summary"]["skipped"], 1);
    // The same status in the other formats: a note, never an error.
    let (code, out, _) = run(d, &["--format", "sarif", "utils.py"]);
    assert_eq!(code, 0);
    let doc = json(&out);
    let inv = &doc["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    assert_eq!(inv["toolExecutionNotifications"][0]["level"], "note");
    assert!(
        inv["toolExecutionNotifications"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("utils.py: skipped: ")
    );
    let (_, out, _) = run(d, &["--format", "github", "utils.py"]);
    assert!(
        out.starts_with("::notice file=utils.py,line=1,title=nnlint%3A skipped"),
        "{out}"
    );
    let (_, out, _) = run(d, &["--format", "concise", "utils.py"]);
    assert!(out.starts_with("utils.py:1:1: note: skipped: "), "{out}");
    // --ignore-non-models: no note per file, the summary still names them.
    let (code, out, _) = run(d, &["--ignore-non-models", "utils.py", "package.json"]);
    assert_eq!(code, 0);
    assert!(!out.contains("note:"), "{out}");
    assert_eq!(
        out,
        "0 findings in 0 files; 2 files skipped, not models: utils.py, package.json\n"
    );
    let (_, out, _) = run(
        d,
        &["--ignore-non-models", "--format", "concise", "utils.py"],
    );
    assert_eq!(out, "");
}

#[test]
fn verbose_lists_what_was_excluded_skipped_and_linted() {
    let repo = scratch_repo();
    let d = repo.path();
    let (_, _, err) = run(d, &["-v", "--extend-exclude", "lfs"]);
    for line in [
        "nnlint: excluded venv by `venv` (default exclude)",
        "nnlint: excluded node_modules by `node_modules` (default exclude)",
        "nnlint: excluded lfs by `lfs` (--extend-exclude)",
        "nnlint: skipped utils.py (not a model: no deep-learning code",
        "nnlint: linted models/bad.onnx",
        "nnlint: linted train.py",
        "nnlint: 3 files linted, 2 findings, 6 paths excluded, 2 files skipped as not models;",
    ] {
        assert!(err.contains(line), "no `{line}` in:\n{err}");
    }
    assert!(!err.contains("linted utils.py"), "{err}");
    assert!(!err.contains("exports"), "git-ignored: {err}");
}

#[test]
fn unreadable_files_say_what_is_wrong_and_statistics_name_them() {
    let repo = scratch_repo();
    let d = repo.path();
    put(d, "empty.onnx", b"");
    let (code, _, err) = run(d, &["empty.onnx", "missing.onnx"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: empty.onnx: the file is empty (0 bytes)"),
        "{err}"
    );
    assert!(err.contains("error: missing.onnx: does not exist"), "{err}");
    let (code, out, err) = run(d, &["missing"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("`missing` is neither a file or folder nor a subcommand"),
        "{err}"
    );
    put(d, "model.h5", LFS_POINTER.as_bytes());
    put(d, "model.keras", LFS_POINTER.as_bytes());
    put(d, "config.json", LFS_POINTER.as_bytes());
    let (code, out, _) = run(
        d,
        &[
            "--statistics",
            "empty.onnx",
            "model.h5",
            "model.keras",
            "config.json",
            "lfs/weights.onnx",
            "models/bad.onnx",
            "missing.onnx",
        ],
    );
    assert_eq!(code, 2);
    assert!(out.contains("NNL001  single-unit-softmax"), "{out}");
    assert!(
        out.contains(
            "    6  files could not be read: empty.onnx, model.h5, model.keras, config.json, \
             lfs/weights.onnx and 1 more\n"
        ),
        "{out}"
    );
    let (_, out, _) = run(
        d,
        &[
            "--format",
            "concise",
            "model.h5",
            "model.keras",
            "config.json",
        ],
    );
    assert_eq!(out.matches("a Git LFS pointer").count(), 3, "{out}");
    let (_, out, _) = run(
        d,
        &[
            "--statistics",
            "--format",
            "json",
            "empty.onnx",
            "models/bad.onnx",
        ],
    );
    let doc = json(&out);
    assert_eq!(doc["unreadable_files"], 1);
    assert_eq!(doc["unreadable"][0], "empty.onnx");
    assert_eq!(doc["not_checked"].as_array().unwrap().len(), 0);
}

#[test]
fn file_level_noqa_silences_a_python_file_or_some_rules() {
    let repo = scratch_repo();
    let d = repo.path();
    let source = std::fs::read_to_string(fixture(BAD_PY)).unwrap();
    put(d, "all.py", format!("# nnlint: noqa\n{source}").as_bytes());
    put(
        d,
        "other.py",
        format!("{source}\n# nnlint: noqa: NNL004\n").as_bytes(),
    );
    put(
        d,
        "named.py",
        format!("{source}\n# nnlint: noqa: single-unit-softmax\n").as_bytes(),
    );
    let (code, out, _) = run(d, &["--format", "concise", "all.py", "named.py"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, _) = run(d, &["--format", "concise", "other.py"]);
    assert_eq!(code, 1);
    assert!(out.contains("NNL001"), "{out}");
    let (_, out, _) = run(d, &["--format", "json", "all.py"]);
    let doc = json(&out);
    assert_eq!(
        doc["files"][0]["suppressed"][0]["suppressed_by"],
        "a file-level `# nnlint: noqa` comment"
    );
}

/// A PyTorch script whose softmax output goes into `NLLLoss` (NNL011): the finding's primary label is
/// the softmax (line 8), its secondary label the loss (line 10).
const NLL_OF_SOFTMAX: &str = "import torch
import torch.nn as nn

model = nn.Sequential(
    nn.Linear(20, 64),
    nn.ReLU(),
    nn.Linear(64, 10),
    nn.Softmax(dim=1),
)
criterion = nn.NLLLoss()

x = torch.randn(8, 20)
y = torch.randint(0, 10, (8,))
loss = criterion(model(x), y)
";

/// A notebook whose code cells are `source`, each a list of lines as Jupyter writes them.
fn notebook(cells: &[&str]) -> String {
    let cells: Vec<Value> = cells
        .iter()
        .map(|src| {
            let lines: Vec<String> = src.split_inclusive('\n').map(str::to_string).collect();
            serde_json::json!({"cell_type": "code", "execution_count": null, "metadata": {},
                               "outputs": [], "source": lines})
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5
    }))
    .unwrap()
}

#[test]
fn a_suppression_on_any_line_a_finding_labels_silences_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let on_loss = |comment: &str| {
        NLL_OF_SOFTMAX.replace(
            "criterion = nn.NLLLoss()\n",
            &format!("criterion = nn.NLLLoss()  {comment}\n"),
        )
    };
    put(d, "plain.py", NLL_OF_SOFTMAX.as_bytes());
    put(
        d,
        "ignore.py",
        on_loss("# nnlint: ignore[NNL011]").as_bytes(),
    );
    put(
        d,
        "noqa.py",
        on_loss("# noqa: nll-loss-without-log-softmax").as_bytes(),
    );
    put(d, "other.py", on_loss("# noqa: NNL001").as_bytes());
    put(d, "bare.py", on_loss("# noqa").as_bytes());
    // The line after the loss is not labelled: a comment there does nothing.
    put(
        d,
        "below.py",
        NLL_OF_SOFTMAX
            .replace("\nx = torch.randn", "# noqa: NNL011\nx = torch.randn")
            .as_bytes(),
    );
    let (cells_a, cells_b) = NLL_OF_SOFTMAX.split_at(NLL_OF_SOFTMAX.find("\nx =").unwrap() + 1);
    put(d, "plain.ipynb", notebook(&[cells_a, cells_b]).as_bytes());
    let suppressed_a = on_loss("# noqa: NNL011");
    let (sa, sb) = suppressed_a.split_at(suppressed_a.find("\nx =").unwrap() + 1);
    put(d, "noqa.ipynb", notebook(&[sa, sb]).as_bytes());

    let (code, out, _) = run(
        d,
        &[
            "--format",
            "concise",
            "plain.py",
            "other.py",
            "bare.py",
            "below.py",
            "plain.ipynb",
        ],
    );
    assert_eq!(code, 1);
    let firing: Vec<&str> = out.lines().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(
        firing,
        ["plain.py", "other.py", "bare.py", "below.py", "plain.ipynb"],
        "{out}"
    );
    assert!(out.lines().all(|l| l.contains(" NNL011 ")), "{out}");
    let (code, out, _) = run(
        d,
        &["--format", "concise", "ignore.py", "noqa.py", "noqa.ipynb"],
    );
    assert_eq!((code, out.as_str()), (0, ""));
    let (_, out, _) = run(d, &["--format", "json", "ignore.py"]);
    let doc = json(&out);
    assert_eq!(
        doc["files"][0]["suppressed"][0]["suppressed_by"],
        "a suppression comment on a line it points at"
    );
    assert_eq!(doc["files"][0]["suppressed"][0]["region"]["line"], 8);
}

/// A Keras script with two findings on two lines: a one-unit softmax (NNL001, line 7) and
/// categorical cross-entropy on it (NNL007, line 9).
const TWO_FINDINGS: &str = r#"from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(20,)),
    layers.Dense(64, activation="relu"),
    layers.Dense(1, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy")
"#;

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

#[test]
fn add_noqa_suppresses_each_finding_on_its_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "two.py", TWO_FINDINGS.as_bytes());
    // An nnlint noqa comment already on the line is extended, another comment is kept; CRLF stays.
    let merged = NLL_OF_SOFTMAX.replace(
        "    nn.Softmax(dim=1),\n",
        "    nn.Softmax(dim=1),  # nnlint: noqa: NNL004 (reviewed)\n",
    );
    put(d, "merge.py", merged.replace('\n', "\r\n").as_bytes());
    let commented = NLL_OF_SOFTMAX.replace(
        "    nn.Softmax(dim=1),\n",
        "    nn.Softmax(dim=1),  # probs\n",
    );
    put(d, "commented.py", commented.as_bytes());
    // ruff's own noqa comment stays ruff's; nnlint's goes after it.
    let ruff = NLL_OF_SOFTMAX.replace(
        "    nn.Softmax(dim=1),\n",
        "    nn.Softmax(dim=1),  # noqa: E501\n",
    );
    put(d, "ruff.py", ruff.as_bytes());
    let (a, b) = NLL_OF_SOFTMAX.split_at(NLL_OF_SOFTMAX.find("\nx =").unwrap() + 1);
    let nb = notebook(&[a, b]);
    put(d, "nb.ipynb", nb.as_bytes());
    copy(d, "model.onnx", BAD_ONNX);
    let clean = TWO_FINDINGS
        .replace("\"softmax\"", "\"sigmoid\"")
        .replace("categorical_crossentropy", "binary_crossentropy");
    put(d, "clean.py", clean.as_bytes());

    let (code, out, err) = run(d, &["--add-noqa", "."]);
    assert_eq!(code, 1, "the ONNX finding is left: {err}");
    assert_eq!(out, "", "--add-noqa writes no report");
    assert!(
        err.contains(
            "nnlint: model.onnx: 1 finding not suppressed: ONNX files have no comments; use \
             per-file-ignores in the config file"
        ),
        "{err}"
    );
    assert!(
        err.ends_with("nnlint: added 6 suppressions on 6 lines in 5 files; 1 finding left\n"),
        "{err}"
    );
    assert_eq!(
        read(d, "two.py"),
        TWO_FINDINGS
            .replace(
                "activation=\"softmax\"),\n",
                "activation=\"softmax\"),  # nnlint: noqa: NNL001\n"
            )
            .replace(
                "\"categorical_crossentropy\")\n",
                "\"categorical_crossentropy\")  # nnlint: noqa: NNL007\n"
            )
    );
    assert_eq!(
        read(d, "merge.py"),
        merged
            .replace("NNL004 (reviewed)", "NNL004, NNL011 (reviewed)")
            .replace('\n', "\r\n")
    );
    assert_eq!(
        read(d, "ruff.py"),
        ruff.replace("# noqa: E501\n", "# noqa: E501  # nnlint: noqa: NNL011\n")
    );
    assert_eq!(
        read(d, "commented.py"),
        commented.replace("# probs\n", "# probs  # nnlint: noqa: NNL011\n")
    );
    // The notebook: one line of one cell's source changes, the JSON stays valid and laid out as
    // it was.
    let edited = read(d, "nb.ipynb");
    let changed: Vec<(&str, &str)> = nb
        .lines()
        .zip(edited.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed,
        [(
            "        \"    nn.Softmax(dim=1),\\n\",",
            "        \"    nn.Softmax(dim=1),  # nnlint: noqa: NNL011\\n\","
        )]
    );
    assert_eq!(nb.lines().count(), edited.lines().count());
    serde_json::from_str::<Value>(&edited).expect("still JSON");
    assert_eq!(read(d, "clean.py"), clean);

    // Everything suppressed is suppressed; a second run adds nothing and changes no byte.
    let (code, out, _) = run(
        d,
        &["--format", "concise", "--extend-exclude", "*.onnx", "."],
    );
    assert_eq!((code, out.as_str()), (0, ""));
    let before: Vec<String> = ["two.py", "merge.py", "commented.py", "ruff.py", "nb.ipynb"]
        .iter()
        .map(|f| read(d, f))
        .collect();
    let (code, _, err) = run(d, &["--add-noqa", "--extend-exclude", "*.onnx", "."]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "nnlint: added no suppression\n");
    let after: Vec<String> = ["two.py", "merge.py", "commented.py", "ruff.py", "nb.ipynb"]
        .iter()
        .map(|f| read(d, f))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn add_noqa_leaves_a_line_alone_where_a_comment_cannot_go() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The finding's line continues with a backslash: a comment there would end the statement.
    let continued = TWO_FINDINGS.replace(
        "    layers.Dense(1, activation=\"softmax\"),\n",
        "    layers.Dense(1, activation=\"softmax\") \\\n    ,\n",
    );
    put(d, "continued.py", continued.as_bytes());
    let (code, out, _) = run(d, &["--format", "concise", "continued.py"]);
    assert_eq!(code, 1);
    assert!(out.contains("continued.py:7:"), "{out}");
    let (code, _, err) = run(d, &["--add-noqa", "continued.py"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("not suppressed: NNL001: its line continues with a backslash"),
        "{err}"
    );
    assert!(
        err.ends_with("added 1 suppression on 1 line in 1 file; 1 finding left\n"),
        "{err}"
    );
    assert_eq!(
        read(d, "continued.py"),
        continued.replace(
            "\"categorical_crossentropy\")\n",
            "\"categorical_crossentropy\")  # nnlint: noqa: NNL007\n"
        )
    );
    // Standard input cannot be edited.
    let (code, _, err) = run(d, &["--add-noqa", "-", "--stdin-filename", "x.py"]);
    assert_eq!(code, 2);
    assert!(err.contains("--add-noqa edits files"), "{err}");
}

#[test]
fn show_settings_names_the_config_file_and_what_it_sets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(
        d,
        "pyproject.toml",
        b"[tool.nnlint]\nignore = [\"NNL009\"]\nfail-on = \"error\"\nextend-exclude = [\"legacy\"]\n\
          [tool.nnlint.severity]\nNNL001 = \"warning\"\n\
          [tool.nnlint.per-file-ignores]\n\"models/*.onnx\" = [\"NNL003\"]\n",
    );
    put(d, "models/other/nnlint.toml", b"select = [\"NNL001\"]\n");
    copy(d, "models/net.onnx", BAD_ONNX);
    copy(d, "models/other/net.onnx", BAD_ONNX);
    let (code, out, _) = run(d, &["--show-settings", "models/net.onnx"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "settings for models/net.onnx");
    assert_eq!(lines[1], "config file: pyproject.toml");
    // Every rule but the two ignored, from the registry (rules are added over time).
    let all: Vec<&str> = nnlint::registry::all().iter().map(|r| r.code).collect();
    let on: Vec<&str> = all
        .iter()
        .copied()
        .filter(|c| !["NNL003", "NNL009"].contains(c))
        .collect();
    let rules_line = format!(
        "rules = [{}] ({} of {})",
        on.join(", "),
        on.len(),
        all.len()
    );
    for line in [
        rules_line.as_str(),
        "ignore = [NNL009, NNL003] (with per-file-ignores that match this file)",
        "fail-on = error",
        "severity = [NNL001 = warning]",
        "extend-exclude = [legacy]",
        "excluded = no",
    ] {
        assert!(lines.contains(&line), "{line}\n{out}");
    }
    // The closest config file wins; --isolated and --config say so.
    let (_, out, _) = run(d, &["--show-settings", "models/other/net.onnx"]);
    assert!(
        out.contains("config file: models/other/nnlint.toml\n"),
        "{out}"
    );
    let one = format!("rules = [NNL001] (1 of {})\n", all.len());
    assert!(out.contains(&one), "{out}");
    let (_, out, _) = run(d, &["--show-settings", "--isolated", "models/net.onnx"]);
    assert!(
        out.contains("config file: none (--isolated): the defaults\n"),
        "{out}"
    );
    let (_, out, _) = run(
        d,
        &[
            "--show-settings",
            "--config",
            "pyproject.toml",
            "models/other/net.onnx",
        ],
    );
    assert!(
        out.contains("config file: pyproject.toml (given with --config)\n"),
        "{out}"
    );
    let (_, out, _) = run(d, &["--show-settings", "legacy/old.onnx"]);
    assert!(
        out.contains("excluded = yes, by `legacy` (extend-exclude in"),
        "{out}"
    );
    // Nothing is linted: a bad model's findings are not printed.
    assert!(!out.contains("NNL001 ["));
    // -v says which config file applies to the files it linted.
    let (_, _, err) = run(d, &["-v", "models"]);
    assert!(
        err.contains("nnlint: config file for 1 file: pyproject.toml\n")
            && err.contains("nnlint: config file for 1 file: models/other/nnlint.toml\n"),
        "{err}"
    );
}

#[test]
fn a_syntax_error_is_reported_at_its_line_and_what_parsed_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The model parses; a helper further down does not.
    put(
        d,
        "partial.py",
        format!("{NLL_OF_SOFTMAX}\ndef broken(:\n    pass\n").as_bytes(),
    );
    let (code, out, _) = run(d, &["--format", "concise", "partial.py"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("partial.py:16:12: syntax error: "),
        "{out}"
    );
    assert!(
        lines[1].starts_with("partial.py:16:13: syntax error: "),
        "{out}"
    );
    assert!(lines[2].starts_with("partial.py:8:5: NNL011 "), "{out}");
    // A notebook's syntax error is named by cell and line in human output.
    let (a, b) = BROKEN_PY.split_at(BROKEN_PY.find("model =").unwrap());
    put(d, "broken.ipynb", notebook(&[a, b]).as_bytes());
    let (code, out, _) = run(d, &["broken.ipynb"]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with(
            "broken.ipynb (cell 2, line 6): syntax error: unexpected EOF while parsing\n"
        ),
        "{out}"
    );
    // Every machine format carries it.
    let (_, out, _) = run(d, &["--format", "github", "partial.py"]);
    assert!(
        out.starts_with("::error file=partial.py,line=16,col=12,title=nnlint%3A syntax error::"),
        "{out}"
    );
    let (_, out, _) = run(d, &["--format", "gitlab", "broken.ipynb"]);
    let issues = json(&out);
    assert_eq!(issues[0]["check_name"], "nnlint/syntax-error");
    assert_eq!(issues[0]["severity"], "critical");
    let (_, out, _) = run(d, &["--format", "junit", "broken.ipynb"]);
    assert!(
        out.contains("<failure type=\"syntax-error\" message=\"broken.ipynb:"),
        "{out}"
    );
    assert!(
        out.contains("failures=\"1\" errors=\"0\" skipped=\"0\""),
        "{out}"
    );
    let (_, out, _) = run(d, &["--statistics", "partial.py", "broken.ipynb"]);
    assert!(
        out.contains("    2  files with syntax errors: partial.py, broken.ipynb\n"),
        "{out}"
    );
}

/// A model defined in `model.py` and trained in `train.py`: the finding is in the module, in every
/// format, and so are the comments that suppress it.
#[test]
fn a_finding_in_an_imported_module_is_placed_and_suppressed_there() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["config.py", "model.py", "train.py"] {
        copy(d, f, &format!("fixtures/projects/keras_config_bad/{f}"));
    }
    let (_, out, _) = run(d, &["--format", "gitlab", "train.py"]);
    let issues = json(&out);
    assert_eq!(issues[0]["location"]["path"], "model.py", "{out}");
    assert_eq!(issues[0]["location"]["lines"]["begin"], 12, "{out}");
    let (_, out, _) = run(d, &["--format", "junit", "train.py"]);
    assert!(
        out.contains("<failure type=\"NNL001\" message=\"model.py:12:48: NNL001 "),
        "{out}"
    );
    let (_, out, _) = run(d, &["inspect", "train.py"]);
    assert!(
        out.contains(" at model.py line 12: `layers.Dense("),
        "{out}"
    );
    // --add-noqa does not write into the module; it says where the comment goes.
    let before = read(d, "model.py");
    let (code, _, err) = run(d, &["--add-noqa", "train.py"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("NNL001: its line is in model.py, a module this file imports"),
        "{err}"
    );
    assert_eq!(read(d, "model.py"), before);
    assert_eq!(
        read(d, "train.py"),
        read(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/keras_config_bad"),
            "train.py"
        )
    );
    // The comment there silences it.
    let line12 = before.lines().nth(11).unwrap();
    put(
        d,
        "model.py",
        before
            .replacen(line12, &format!("{line12}  # noqa: NNL001"), 1)
            .as_bytes(),
    );
    let (code, out, _) = run(d, &["--format", "concise", "train.py"]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn ruffs_spellings_and_mistyped_subcommands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (_, human, _) = run(root, &[BAD_ONNX]);
    let (code, full, _) = run(root, &["--output-format", "full", BAD_ONNX]);
    assert_eq!((code, &full), (1, &human));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let (code, out, _) = run(
        root,
        &[
            "--format",
            "json",
            "--output-file",
            file.to_str().unwrap(),
            BAD_ONNX,
        ],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        json(&std::fs::read_to_string(&file).unwrap())["summary"]["findings"],
        1
    );
    assert_eq!(
        run(root, &["rule", "NNL001"]),
        run(root, &["explain", "NNL001"])
    );
    let (code, _, err) = run(root, &["chek", BAD_ONNX]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `nnlint check`?"), "{err}");
    let (code, out, _) = run(root, &["rules", "--format", "json"]);
    assert_eq!(code, 0);
    let rules = json(&out);
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), nnlint::registry::all().len());
    assert_eq!(rules[0]["code"], "NNL001");
    assert_eq!(rules[0]["name"], "single-unit-softmax");
    assert!(
        rules
            .iter()
            .all(|r| r["severity"].is_string() && r["summary"].is_string())
    );
}

#[test]
fn eval_writes_files_only_with_an_output_dir() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture(BAD_ONNX);
    let (code, out, err) = run(
        dir.path(),
        &["eval", model.to_str().unwrap(), "--head", "probs"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("probs: float32 [256, 1]\n"), "{out}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a file was written"
    );
    let (code, out, _) = run(
        dir.path(),
        &[
            "eval",
            model.to_str().unwrap(),
            "--head",
            "probs",
            "--output-dir",
            "out",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("-> out/probs.pb"), "{out}");
    assert!(dir.path().join("out/probs.pb").is_file());
}
