//! `--fix`, `--unsafe-fixes`, `--diff`, `--fix-only`, `--show-fixes` (issue 25): every fixable bad
//! fixture fixes to the committed file under `fixtures/fixed/<CODE>/`, which lints clean for that
//! code; every other fixture (good ones, bad ones nnlint cannot fix) stays byte for byte; a second
//! run changes nothing; `--diff` is a patch `git apply` takes; overlapping fixes and fixes the re-lint
//! refuses leave the file alone and say why; a notebook keeps its JSON layout and outputs.

mod common;

use std::path::{Path, PathBuf};

use common::{ROOT, fixture, nnlint_in, write};
use nnlint::cmd::fix::{Options, fix_all};
use nnlint::engine::{self, Settings};
use nnlint::fix::{Edit, Fix};
use nnlint::ir::Span;

/// Text fixtures (the formats `--fix` edits) of one rule folder: (name, bytes).
fn text_fixtures(code: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture(&format!("fixtures/{code}")))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    ["py", "ipynb", "json", "yaml", "yml"].contains(&e.to_str().unwrap())
                })
        })
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn rule_codes() -> Vec<String> {
    let mut codes: Vec<String> = nnlint::registry::all()
        .iter()
        .map(|r| r.code.to_string())
        .collect();
    codes.sort();
    codes
}

/// The committed result of fixing `fixtures/<code>/<name>`, if there is one.
fn expected(code: &str, name: &str) -> Option<Vec<u8>> {
    std::fs::read(fixture(&format!("fixtures/fixed/{code}/{name}"))).ok()
}

/// Copies a rule's text fixtures into a fresh folder.
fn copy_of(code: &str) -> (tempfile::TempDir, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let files = text_fixtures(code);
    for (name, bytes) in &files {
        write(dir.path(), name, bytes);
    }
    (dir, files)
}

#[test]
fn fixable_fixtures_fix_to_the_committed_files_and_the_rest_stay_as_they_are() {
    let mut fixed = 0;
    for code in rule_codes() {
        let (dir, files) = copy_of(&code);
        let (status, _, err) = nnlint_in(
            dir.path(),
            &["--fix", "--unsafe-fixes", "--isolated", "--exit-zero", "."],
        );
        assert_eq!(status, 0, "{code}: {err}");
        for (name, before) in &files {
            let after = std::fs::read(dir.path().join(name)).unwrap();
            match expected(&code, name) {
                Some(want) => {
                    assert!(
                        name.starts_with("bad_"),
                        "{code}/{name}: only bad fixtures change"
                    );
                    assert!(
                        after == want,
                        "{code}/{name}: --fix gave\n{}",
                        String::from_utf8_lossy(&after)
                    );
                    let linted = engine::lint_path(&dir.path().join(name), &Settings::default());
                    let left: Vec<_> = linted.findings().iter().map(|f| f.code).collect();
                    assert!(
                        !left.contains(&code.as_str()),
                        "{code}/{name} still fires: {left:?}"
                    );
                    fixed += 1;
                }
                None => assert!(
                    &after == before,
                    "{code}/{name}: changed by --fix without a committed fixtures/fixed/{code}/{name}"
                ),
            }
        }
        // A second run finds nothing left to fix.
        let (_, out, err) = nnlint_in(dir.path(), &["--diff", "--unsafe-fixes", "--isolated", "."]);
        assert_eq!(out, "", "{code}: a second run would change:\n{out}\n{err}");
    }
    // Every committed expected file belongs to a fixture that exists.
    let mut committed = 0;
    for code in std::fs::read_dir(fixture("fixtures/fixed"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(code.path()).unwrap().flatten() {
            let original = Path::new(ROOT)
                .join("fixtures")
                .join(code.file_name())
                .join(f.file_name());
            assert!(original.exists(), "{} has no fixture", f.path().display());
            committed += 1;
        }
    }
    assert_eq!(fixed, committed);
    assert!(fixed >= 25, "only {fixed} fixtures fixed");
}

#[test]
fn unsafe_fixes_need_the_flag() {
    let (dir, _) = copy_of("NNL005");
    let name = "bad_pt_crossentropy_on_softmax.py";
    let before = std::fs::read(dir.path().join(name)).unwrap();
    let (status, _, err) = nnlint_in(dir.path(), &["--fix", "--isolated", name]);
    assert_eq!(status, 1, "the finding is left: {err}");
    assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), before);
    assert!(
        err.contains("fixed 0 findings in 0 files; 1 more fix with --unsafe-fixes"),
        "{err}"
    );
    // Over the whole folder, --fix alone makes exactly the safe fixes.
    let (dir, files) = copy_of("NNL005");
    let (_, _, err) = nnlint_in(dir.path(), &["--fix", "--isolated", "."]);
    let changed: Vec<&str> = files
        .iter()
        .filter(|(name, before)| &std::fs::read(dir.path().join(name)).unwrap() != before)
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        changed,
        [
            "bad_keras3_softmax_with_from_logits_loss.json",
            "bad_keras3_softmax_with_from_logits_loss.yaml",
            "bad_pt_f_cross_entropy_softmax_in_loop.py",
            "bad_py_notebook_functional.ipynb",
            "bad_py_softmax_from_logits.py",
        ],
        "{err}"
    );
    assert!(
        err.contains("fixed 5 findings in 5 files; 8 more fixes with --unsafe-fixes"),
        "{err}"
    );
    // A safe fix needs no flag, and --fix-only exits 0 whatever is left.
    let (dir, _) = copy_of("NNL008");
    let name = "bad_pt_log_of_softmax.py";
    let (status, out, err) = nnlint_in(
        dir.path(),
        &["--fix-only", "--show-fixes", "--isolated", name],
    );
    assert_eq!((status, out.as_str()), (0, ""), "{err}");
    assert!(
        err.contains(&format!("- {name}:\n    1 × NNL008 (log-of-softmax)\n")),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join(name)).unwrap(),
        expected("NNL008", name).unwrap()
    );
}

#[test]
fn fix_reports_what_is_left_after_the_edits() {
    let (dir, _) = copy_of("NNL008");
    let name = "bad_pt_log_of_softmax.py";
    let (status, out, err) = nnlint_in(
        dir.path(),
        &["--fix", "--isolated", "--format", "concise", name],
    );
    assert_eq!((status, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("nnlint: fixed 1 finding in 1 file"), "{err}");
}

#[test]
fn the_diff_is_a_patch_git_applies() {
    let dir = tempfile::tempdir().unwrap();
    let picks = [
        ("NNL001", "bad_keras3_seq_dense_softmax1_bce.yaml"),
        ("NNL001", "bad_keras3_seq_dense_softmax1_bce.json"),
        ("NNL001", "bad_py_notebook_magics.ipynb"),
        ("NNL005", "bad_pt_torchvision_vgg_classifier_softmax.py"),
        ("NNL008", "bad_pt_log_of_softmax.py"),
        ("NNL011", "bad_pt_nllloss_on_logits.py"),
    ];
    for (code, name) in picks {
        let bytes = std::fs::read(fixture(&format!("fixtures/{code}/{name}"))).unwrap();
        write(dir.path(), name, &bytes);
    }
    write(
        dir.path(),
        "good_unchanged.py",
        &std::fs::read(fixture("fixtures/NNL008/good_pt_log_of_softmax.py")).unwrap(),
    );
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "."]);
    let (status, diff, err) =
        nnlint_in(dir.path(), &["--diff", "--unsafe-fixes", "--isolated", "."]);
    assert_eq!(status, 1, "a diff exits 1: {err}");
    assert_eq!(diff.matches("\n+++ b/").count(), 6, "{diff}");
    assert!(diff.starts_with("--- a/bad_"), "{diff}");
    assert!(!diff.contains("good_unchanged"));
    for (code, name) in picks {
        let now = std::fs::read(dir.path().join(name)).unwrap();
        let original = std::fs::read(fixture(&format!("fixtures/{code}/{name}"))).unwrap();
        assert_eq!(now, original, "--diff wrote {name}");
    }
    write(dir.path(), "fixes.patch", diff.as_bytes());
    git(&["apply", "--check", "fixes.patch"]);
    git(&["apply", "fixes.patch"]);
    for (code, name) in picks {
        let now = std::fs::read(dir.path().join(name)).unwrap();
        assert!(
            now == expected(code, name).unwrap(),
            "{name} after git apply"
        );
    }
    let (status, diff, _) = nnlint_in(dir.path(), &["--diff", "--unsafe-fixes", "--isolated", "."]);
    assert_eq!(
        (status, diff.as_str()),
        (0, ""),
        "nothing left to diff exits 0"
    );
}

#[test]
fn a_fix_the_relint_refuses_is_not_applied_and_said() {
    let (dir, _) = copy_of("NNL005");
    let name = "bad_pt_bcewithlogits_on_sigmoid.py";
    let before = std::fs::read(dir.path().join(name)).unwrap();
    let (status, _, err) = nnlint_in(dir.path(), &["--fix", "--unsafe-fixes", "--isolated", name]);
    assert_eq!(status, 1);
    assert!(
        err.contains(&format!(
            "nnlint: {name}: fix not applied: NNL005 (drop the final sigmoid"
        )) && err.contains("the edit would add a finding (NNL004:"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), before);
}

/// Overlapping fixes in one file: none is applied. The second fix is a copy of the real one moved
/// to overlap it (two rules proposing different edits of the same call).
#[test]
fn overlapping_fixes_leave_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "m.py",
        &std::fs::read(fixture("fixtures/NNL008/bad_pt_log_of_softmax.py")).unwrap(),
    );
    let settings = Settings::default();
    let run = |extra: Option<fn(&Fix) -> Fix>| {
        let mut r = engine::lint_path(&path, &settings);
        if let (Some(extra), Ok(l)) = (extra, &mut r.outcome) {
            let mut other = l.findings[0].clone();
            other.code = "NNL999";
            other.fix = Some(extra(other.fix.as_ref().unwrap()));
            l.findings.push(other);
        }
        fix_all(vec![r], std::slice::from_ref(&settings), Options::default())
    };
    // Alone, the fix applies.
    let (_, done) = run(None);
    assert_eq!(done[0].applied.len(), 1);
    // A second fix whose edit touches the same bytes: nothing applied, both named.
    let (results, done) = run(Some(|f: &Fix| {
        let first = &f.edits[0];
        Fix::safe(
            "another edit of the same call",
            vec![Edit::replace(
                Span {
                    offset: first.span.offset + 2,
                    len: 3,
                },
                "x",
            )],
        )
    }));
    assert!(done[0].applied.is_empty() && done[0].change.is_none());
    assert_eq!(done[0].not_applied.len(), 2, "{:?}", done[0].not_applied);
    assert!(done[0].not_applied[0].contains("the fixes of NNL008 and NNL999 overlap"));
    assert_eq!(results[0].findings().len(), 2, "the findings stay");
    // The same edits from two findings are one fix, applied once.
    let (_, done) = run(Some(|f: &Fix| f.clone()));
    assert_eq!(done[0].applied.len(), 2);
    assert!(done[0].not_applied.is_empty());
}

#[test]
fn a_notebook_keeps_its_json_layout_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let notebook = r##"{
 "cells": [
  {
   "cell_type": "markdown",
   "metadata": {},
   "source": ["# Churn model\n"]
  },
  {
   "cell_type": "code",
   "execution_count": 3,
   "metadata": {"tags": ["model"]},
   "outputs": [
    {
     "name": "stdout",
     "output_type": "stream",
     "text": ["Model: \"sequential\"\n", "Total params: 417\n"]
    }
   ],
   "source": [
    "from tensorflow import keras\n",
    "model = keras.Sequential([\n",
    "    keras.Input(shape=(12,)),\n",
    "    keras.layers.Dense(32, activation=\"relu\"),\n",
    "    keras.layers.Dense(1, activation=\"softmax\"),  # \"churn\" probability\n",
    "])\n",
    "model.compile(optimizer=\"adam\", loss=\"binary_crossentropy\", metrics=[\"accuracy\"])\n",
    "model.summary()"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 4,
   "metadata": {},
   "outputs": [
    {
     "data": {"text/plain": ["0.5"]},
     "execution_count": 4,
     "metadata": {},
     "output_type": "execute_result"
    }
   ],
   "source": ["0.5"]
  }
 ],
 "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
 "nbformat": 4,
 "nbformat_minor": 5
}
"##;
    let path = write(dir.path(), "churn.ipynb", notebook.as_bytes());
    let (status, _, err) = nnlint_in(dir.path(), &["--fix", "--isolated", "churn.ipynb"]);
    assert_eq!(status, 0, "{err}");
    let after = std::fs::read_to_string(&path).unwrap();
    // Only the activation's word changed, byte for byte everywhere else.
    assert_eq!(
        after,
        notebook.replacen(r#"activation=\"softmax\""#, r#"activation=\"sigmoid\""#, 1)
    );
    let (before, after): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(notebook).unwrap(),
        serde_json::from_str(&after).expect("still JSON"),
    );
    for i in 0..3 {
        assert_eq!(before["cells"][i]["outputs"], after["cells"][i]["outputs"]);
    }
}

#[test]
fn edits_in_imported_modules_and_binary_models_are_named_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let project = fixture("fixtures/projects/torch_flat_bad");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&project)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in &names {
        write(
            dir.path(),
            p.file_name().unwrap().to_str().unwrap(),
            &std::fs::read(p).unwrap(),
        );
    }
    let (status, _, err) = nnlint_in(
        dir.path(),
        &["--fix", "--unsafe-fixes", "--isolated", "train.py"],
    );
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("its edit is in models.py, a module this file imports"),
        "{err}"
    );
    for p in &names {
        let now = std::fs::read(dir.path().join(p.file_name().unwrap())).unwrap();
        assert_eq!(now, std::fs::read(p).unwrap(), "{} changed", p.display());
    }
    // A `.keras` archive: its finding has no fix, stays, and the file is not touched.
    let keras = fixture("fixtures/NNL001/bad_keras3_seq_dense_softmax1_bce.keras");
    let copy = write(dir.path(), "m.keras", &std::fs::read(&keras).unwrap());
    let (status, out, err) = nnlint_in(
        dir.path(),
        &["--fix", "--isolated", "--format", "concise", "m.keras"],
    );
    assert_eq!(status, 1);
    assert!(out.contains("NNL001"), "{out}");
    assert!(
        err.contains("nnlint: fixed 0 findings in 0 files\n"),
        "{err}"
    );
    assert!(!err.contains("fix not applied"), "{err}");
    assert_eq!(std::fs::read(copy).unwrap(), std::fs::read(keras).unwrap());
}

#[test]
fn fixing_standard_input_is_refused() {
    let (status, _, err) = common::nnlint_stdin(
        &["--fix", "-", "--stdin-filename", "m.py"],
        b"import torch\n",
    );
    assert_eq!(status, 2);
    assert!(err.contains("cannot read standard input"), "{err}");
}

/// `--format json` carries each fix as ruff does; applying its edits by line and column to the
/// original gives the committed fixed file.
#[test]
fn json_output_carries_the_fix_and_its_edits_reproduce_the_fixed_file() {
    for (code, name, applicability) in [
        ("NNL008", "bad_pt_log_of_softmax.py", "safe"),
        ("NNL001", "bad_py_notebook_magics.ipynb", "safe"),
        ("NNL001", "bad_keras3_seq_dense_softmax1_bce.yaml", "safe"),
        ("NNL005", "bad_pt_crossentropy_on_softmax.py", "unsafe"),
    ] {
        let rel = format!("fixtures/{code}/{name}");
        let (_, out, err) = common::nnlint(&["--format", "json", "--isolated", &rel]);
        let doc: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
        let findings = doc["files"][0]["findings"].as_array().unwrap();
        let with_fix: Vec<_> = findings.iter().filter(|f| f.get("fix").is_some()).collect();
        assert_eq!(with_fix.len(), 1, "{rel}: {out}");
        let fix = &with_fix[0]["fix"];
        assert_eq!(with_fix[0]["code"], code);
        assert_eq!(fix["applicability"], applicability, "{rel}");
        let text = std::fs::read_to_string(fixture(&rel)).unwrap();
        // Byte offset of a 1-based (line, column in characters).
        let offset = |at: &serde_json::Value| {
            let (line, column) = (
                at["line"].as_u64().unwrap() as usize,
                at["column"].as_u64().unwrap() as usize,
            );
            let start: usize = text
                .split_inclusive('\n')
                .take(line - 1)
                .map(str::len)
                .sum();
            start
                + text[start..]
                    .chars()
                    .take(column - 1)
                    .map(char::len_utf8)
                    .sum::<usize>()
        };
        let mut fixed = text.clone();
        for e in fix["edits"].as_array().unwrap().iter().rev() {
            let (a, b) = (offset(&e["location"]), offset(&e["end_location"]));
            fixed.replace_range(a..b, e["content"].as_str().unwrap());
        }
        assert!(
            fixed.as_bytes() == expected(code, name).unwrap(),
            "{rel}: the JSON edits give\n{fixed}"
        );
    }
    // A finding without a fix has no `fix` key.
    let (_, out, _) = common::nnlint(&[
        "--format",
        "json",
        "fixtures/NNL001/bad_keras_mlp_opset13.onnx",
    ]);
    assert!(!out.contains("\"fix\""), "{out}");
}
