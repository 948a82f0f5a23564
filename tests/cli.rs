//! The `nnlint` binary end to end: exit codes, bad input, subcommands; verdicts are asserted first,
//! then the rendered output is snapshotted (review with `cargo insta review`).

use assert_cmd::Command;
use serde_json::Value;

mod common;
use common::{nnlint, nnlint_stdin};

const BAD: &str = "fixtures/NNL001/bad_torch_mlp_opset17.onnx";
const GOOD: &str = "fixtures/NNL001/good_torch_mlp_sigmoid_opset17.onnx";
const GARBAGE: &str = "tests/data/garbage.onnx";

#[test]
fn bad_model_exits_1_with_the_node_evidence_and_symptom() {
    let (code, out, _) = nnlint(&[BAD]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NNL001"), "{out}");
    assert!(
        out.contains("softmax over a single unit always outputs 1.0"),
        "{out}"
    );
    assert!(out.contains("confirmed: evaluated the head"), "{out}");
    assert!(out.contains("symptom: every prediction is 1.0"), "{out}");
    insta::assert_snapshot!("human_bad", out);
}

#[test]
fn good_model_exits_0() {
    let (code, out, _) = nnlint(&[GOOD]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 findings in 1 file"), "{out}");
}

#[test]
fn garbage_file_is_one_error_line_exit_2_and_the_other_file_is_still_linted() {
    let (code, out, err) = nnlint(&[GARBAGE, BAD]);
    assert_eq!(code, 2, "{out}");
    // Human-format errors go to standard error, as ruff's do; the report keeps the findings.
    assert!(!out.contains("error: "), "{out}");
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(error_lines.len(), 1, "{err}");
    assert!(error_lines[0].contains("tests/data/garbage.onnx"), "{err}");
    assert!(
        out.contains("1 finding in 1 file; 1 file could not be read"),
        "{out}"
    );
    assert!(
        out.contains("NNL001"),
        "the good file was not linted: {out}"
    );
}

#[test]
fn truncated_model_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/",
        "fixtures/NNL001/bad_torch_mlp_opset17.onnx"
    ))
    .unwrap();
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, out, err) = nnlint(&[cut.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("cut.onnx"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn json_output_is_versioned_and_carries_the_evidence() {
    let (code, out, _) = nnlint(&["--format", "json", BAD]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let finding = &doc["files"][0]["findings"][0];
    assert_eq!(finding["code"], "NNL001");
    assert_eq!(finding["evidence"]["status"], "confirmed");
    let numbers = finding["evidence"]["numbers"].as_array().unwrap();
    let get = |name: &str| {
        numbers
            .iter()
            .find(|n| n["name"] == name)
            .and_then(|n| n["value"].as_f64())
            .unwrap()
    };
    assert_eq!(get("outputs exactly 1.0"), get("outputs in total"));
    assert_eq!(get("max |d output / d logit|"), 0.0);
    insta::assert_snapshot!("json_bad", out);
}

#[test]
fn sarif_has_what_code_scanning_requires() {
    let (code, out, _) = nnlint(&["--format", "sarif", BAD, GARBAGE]);
    assert_eq!(code, 2);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif"));
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "nnlint");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().all(|r| {
        r["id"].is_string()
            && r["shortDescription"]["text"].is_string()
            && r["fullDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty() && t.len() <= 1024)
            && r["help"]["text"].is_string()
    }));
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "NNL001");
    let loc = &result["locations"][0];
    assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], BAD);
    assert_eq!(loc["physicalLocation"]["region"]["startLine"], 1);
    let node = loc["logicalLocations"][0]["fullyQualifiedName"]
        .as_str()
        .unwrap();
    assert!(result["message"]["text"].as_str().unwrap().contains(node));
    assert!(result["partialFingerprints"]["primaryLocationLineHash"].is_string());
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("garbage.onnx")
    );
    // Rule descriptors are asserted above and generated from the rule docs; the snapshot leaves them
    // out so adding a rule does not churn it.
    let mut doc = doc.clone();
    doc["runs"][0]["tool"]["driver"]["rules"] = Value::String("(asserted above)".into());
    insta::assert_snapshot!("sarif_bad", serde_json::to_string_pretty(&doc).unwrap());
}

#[test]
fn output_is_byte_for_byte_deterministic() {
    let a = nnlint(&["--format", "json", "fixtures"]);
    let b = nnlint(&["--format", "json", "fixtures"]);
    assert_eq!(a, b);
}

#[test]
fn ignore_and_select_change_the_verdict() {
    assert_eq!(nnlint(&["--ignore", "NNL001", BAD]).0, 0);
    assert_eq!(nnlint(&["--select", "single-unit-softmax", BAD]).0, 1);
    let (code, _, err) = nnlint(&["--select", "NNL999", BAD]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown rule `NNL999`"));
}

#[test]
fn rules_and_explain() {
    let (code, out, _) = nnlint(&["rules"]);
    assert_eq!(code, 0);
    assert!(out.contains("NNL001  single-unit-softmax"), "{out}");
    let (code, out, _) = nnlint(&["explain", "NNL001"]);
    assert_eq!(code, 0);
    assert!(out.contains("# NNL001 single-unit-softmax"));
    assert!(out.contains("## Why it matters"));
    assert_eq!(nnlint(&["explain", "single-unit-softmax"]).1, out);
    assert_eq!(nnlint(&["explain", "NNL999"]).0, 2);
}

#[test]
fn check_subcommand_is_the_explicit_form() {
    assert_eq!(nnlint(&["check", BAD]), nnlint(&[BAD]));
}

#[test]
fn inspect_names_the_logits_tensor_before_every_final_activation() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/NNL001");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "onnx") {
            continue;
        }
        let (code, out, err) = nnlint(&["inspect", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("final activation: "), "{out}");
        if out.contains("final activation: Softmax") || out.contains("final activation: Sigmoid") {
            assert!(out.contains("logits (the output before the "), "{out}");
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} fixtures had a final activation"
    );
    let (_, out, _) = nnlint(&["inspect", "--format", "json", BAD]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["outputs"][0]["head"]["activation"], "Softmax");
    assert_eq!(doc["outputs"][0]["head"]["logits"], "linear_2");
    assert_eq!(doc["outputs"][0]["head"]["units"], 1);
}

#[test]
fn inspect_shows_the_intents_check_uses() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("seg.onnx");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/NNL004/good_torch_segmentation_named_logits_opset17.onnx"),
        &model,
    )
    .unwrap();
    let m = model.to_str().unwrap();
    let (code, out, err) = nnlint(&["inspect", m]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("intent: logits (from the name `mask_logits`)"),
        "{out}"
    );
    std::fs::write(
        dir.path().join("nnlint.toml"),
        "[outputs]\nmask_logits = \"mask\"\n",
    )
    .unwrap();
    let (code, out, err) = nnlint(&["inspect", m]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("intent: mask (declared)"), "{out}");
    // and `check` acts on the same declaration: a linear output declared a mask is NNL004's
    let (code, out, _) = nnlint(&["--format", "concise", m]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NNL004"), "{out}");
    let (_, out, _) = nnlint(&["inspect", "--isolated", m]);
    assert!(out.contains("intent: logits (from the name"), "{out}");
    let (_, out, _) = nnlint(&[
        "inspect",
        "--isolated",
        "--output-intent",
        "mask_logits=probability",
        m,
    ]);
    assert!(out.contains("intent: probability (declared)"), "{out}");
}

#[test]
fn sarif_help_uri_comes_from_docs_url() {
    let (_, out, _) = nnlint(&[
        "--format",
        "sarif",
        "--docs-url",
        "https://example.org/nnlint/docs/rules/",
        BAD,
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let rule = &doc["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(
        rule["helpUri"],
        "https://example.org/nnlint/docs/rules/NNL001.md"
    );
    let (_, out, _) = nnlint(&["--format", "sarif", BAD]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(
        doc["runs"][0]["tool"]["driver"]["rules"][0]
            .get("helpUri")
            .is_none()
    );
}

// ------------------------------------------------------------------ ruff-style command-line habits

#[test]
fn every_long_option_of_check_has_an_example_in_help() {
    let (code, out, _) = nnlint(&["check", "--help"]);
    assert_eq!(code, 0);
    let mut seen = 0;
    let mut missing = vec![];
    // Each option starts a line indented by at most six spaces with `-`; its help runs to the next.
    let mut blocks: Vec<String> = vec![];
    for line in out.lines() {
        let indent = line.len() - line.trim_start().len();
        if (2..=6).contains(&indent) && line.trim_start().starts_with('-') {
            blocks.push(String::new());
        }
        if let Some(b) = blocks.last_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    for block in &blocks {
        let name = block
            .split_whitespace()
            .find(|w| w.starts_with("--"))
            .unwrap_or("");
        if name == "--help" || name == "--version" || name.is_empty() {
            continue;
        }
        seen += 1;
        if !block.contains("e.g.") {
            missing.push(name.to_string());
        }
    }
    assert!(seen >= 20, "only {seen} options found in:\n{out}");
    assert!(
        missing.is_empty(),
        "options without an example: {missing:?}"
    );
}

#[test]
fn output_format_is_an_alias_of_format() {
    let (a, out_a, _) = nnlint(&["--format", "json", BAD]);
    let (b, out_b, _) = nnlint(&["--output-format", "json", BAD]);
    assert_eq!((a, b), (1, 1));
    assert_eq!(out_a, out_b);
}

#[test]
fn statistics_count_findings_per_rule() {
    let dir = "fixtures/NNL001";
    let (code, concise, _) = nnlint(&["--format", "concise", dir]);
    assert_eq!(code, 1);
    let expected = concise.lines().filter(|l| l.contains(": NNL001 [")).count();
    let (code, out, _) = nnlint(&["--statistics", dir]);
    assert_eq!(code, 1, "statistics keep the exit code");
    let first = out.lines().next().unwrap();
    assert_eq!(
        first.split_whitespace().collect::<Vec<_>>(),
        [
            expected.to_string().as_str(),
            "NNL001",
            "single-unit-softmax"
        ],
        "{out}"
    );
    let (_, out, _) = nnlint(&["--statistics", "--format", "json", dir]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["statistics"][0]["code"], "NNL001");
    assert_eq!(doc["statistics"][0]["count"], expected);
}

#[test]
fn quiet_drops_the_summary_and_verbose_names_the_files() {
    let (_, out, _) = nnlint(&["--color", "never", BAD]);
    assert!(out.contains("1 finding in 1 file"), "{out}");
    let (code, quiet, _) = nnlint(&["-q", BAD]);
    assert_eq!(code, 1);
    assert!(
        quiet.contains("NNL001") && !quiet.contains("finding in"),
        "{quiet}"
    );
    let (_, _, err) = nnlint(&["-v", BAD]);
    assert!(err.contains(&format!("linted {BAD}")), "{err}");
}

#[test]
fn select_takes_code_prefixes() {
    let (code, out, _) = nnlint(&["--select", "NNL00", "--format", "concise", BAD]);
    assert_eq!(code, 1);
    assert!(out.contains("NNL001"), "{out}");
    let (code, out, _) = nnlint(&["--select", "NNL002,NNL003", "--format", "concise", BAD]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, _, err) = nnlint(&["--select", "NNL9", BAD]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown rule `NNL9`"), "{err}");
}

#[test]
fn exit_zero_reports_without_failing_but_not_for_unreadable_files() {
    let (code, out, _) = nnlint(&["--exit-zero", "--format", "concise", BAD]);
    assert_eq!(code, 0);
    assert!(out.contains("NNL001"));
    let (code, _, _) = nnlint(&["--exit-zero", BAD, "tests/data/garbage.onnx"]);
    assert_eq!(code, 2);
}

#[test]
fn one_model_is_read_from_stdin_under_its_given_name() {
    for file in [
        "fixtures/NNL001/bad_keras3_seq_dense_softmax1_bce.json",
        "fixtures/NNL001/bad_keras3_seq_dense_softmax1_bce.yaml",
        "fixtures/NNL001/bad_keras3_seq_dense_softmax1_bce.keras",
        "fixtures/NNL001/bad_keras2_h5_cnn_softmax1_bce.h5",
        "fixtures/NNL001/bad_py_keras2_seq_add.py",
        BAD,
    ] {
        let (_, from_file, _) = nnlint(&["--format", "concise", file]);
        let bytes =
            std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        let (code, from_stdin, err) = nnlint_stdin(
            &["-", "--stdin-filename", file, "--format", "concise"],
            &bytes,
        );
        assert_eq!(code, 1, "{file}: {err}");
        assert_eq!(from_stdin, from_file, "{file}");
    }
    let (code, _, err) = nnlint_stdin(&["-"], b"{}");
    assert_eq!(code, 2);
    assert!(err.contains("--stdin-filename"), "{err}");
    let (code, out, _) = nnlint_stdin(
        &["-", "--stdin-filename", "m.txt", "--format", "concise"],
        b"x",
    );
    assert_eq!(code, 2);
    assert!(out.contains("not a supported model file"), "{out}");
}

#[test]
fn version_names_the_build() {
    let (code, out, _) = nnlint(&["--version"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("nnlint {} (", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains(" build)"), "{out}");
}

#[test]
fn color_is_chosen_by_flag() {
    let (_, always, _) = nnlint(&["--color", "always", BAD]);
    assert!(
        always.contains("\u{1b}["),
        "no escape codes with --color always"
    );
    let (_, never, _) = nnlint(&["--color", "never", BAD]);
    assert!(!never.contains('\u{1b}'), "escape codes with --color never");
}

#[test]
fn human_output_fits_the_terminal_width() {
    for file in [BAD, "fixtures/NNL001/bad_keras_mlp_opset13.onnx"] {
        let out = Command::cargo_bin("nnlint")
            .unwrap()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "80")
            .arg(file)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("NNL001") && text.contains("confirmed:"),
            "{text}"
        );
        let wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(wide.is_empty(), "{file}: lines over 80 columns: {wide:#?}");
    }
    // Without a terminal or COLUMNS the output keeps its full lines (machine-stable).
    let (_, text, _) = nnlint(&["fixtures/NNL001/bad_keras_mlp_opset13.onnx"]);
    assert!(text.lines().any(|l| l.chars().count() > 100));
}

#[test]
fn a_subclassed_model_is_noted_once_as_not_checked_in_every_format_and_exits_0() {
    let dir = "fixtures/not_checked";
    let (code, out, _) = nnlint(&["--format", "concise", dir]);
    assert_eq!(code, 0, "{out}");
    let notes: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(": note: not checked: the architecture is not recorded"))
        .collect();
    assert_eq!(notes.len(), 2, "{out}");
    assert!(out.contains("lint the Python source or an ONNX export"));
    let (code, out, _) = nnlint(&["--format", "json", dir]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["summary"]["not_checked"], 2);
    assert_eq!(doc["summary"]["unreadable"], 0);
    assert_eq!(doc["files"][0]["status"], "not-checked");
    let (_, out, _) = nnlint(&["--format", "github", dir]);
    assert_eq!(out.matches("::notice file=").count(), 2, "{out}");
    let (code, out, _) = nnlint(&["--format", "sarif", dir]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let inv = &doc["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    let levels: Vec<&str> = inv["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["note", "note"]);
    // Beside a real finding the exit code is the finding's.
    let (code, _, _) = nnlint(&[dir, BAD]);
    assert_eq!(code, 1);
}

/// Python source is shown as it is written: source lines and the code's names, none of the ONNX
/// vocabulary it is lowered into (opset, op counts, nnlint's own `tf_graph` model name).
#[test]
fn python_files_are_named_by_their_source_in_inspect_sarif_and_github() {
    let py = "fixtures/NNL001/bad_pt_linear1_softmax.py";
    let (code, out, err) = nnlint(&["inspect", py]);
    assert_eq!(code, 0, "{err}");
    for internal in ["opset", " ops,", "tf_graph", "producer:"] {
        assert!(!out.contains(internal), "`{internal}` in:\n{out}");
    }
    for line in [
        "  0: classifier.1 (the output of line 15: `nn.Softmax(dim=1)`)  float32 [batch, 1]  intent: probability (from the loss)",
        "    final activation: Softmax over axis 1 (1 unit) at line 15: `nn.Softmax(dim=1)`",
        "    logits (the output before the softmax): the output of line 14: `nn.Linear(64, 1)`  float32 [batch, 1]",
        "  loss BCELoss (from_logits=false) at line 28: `nn.BCELoss`",
        "  metric BinaryAccuracy at line 41: `model(embeddings) > 0.5`",
    ] {
        assert_eq!(
            out.lines().filter(|l| *l == line).count(),
            1,
            "{line}\n{out}"
        );
    }
    // A Keras layer with a fused activation computes its logits inside the same call.
    let (_, out, _) = nnlint(&["inspect", "fixtures/NNL001/bad_py_two_heads_dict_loss.py"]);
    assert!(out.contains(
        "logits (the output before the softmax): inside line 9: `layers.Dense(1, activation=\"softmax\", name=\"churn\")`, before its activation"
    ), "{out}");
    assert!(out.contains("  metric accuracy on output 1 (segment) at line 16: `\"accuracy\"`"));
    // Notebooks: the cell and its line, as Jupyter numbers them.
    let (_, out, _) = nnlint(&[
        "inspect",
        "fixtures/NNL004/bad_pt_notebook_bceloss_on_linear.ipynb",
    ]);
    assert!(
        out.contains("  0: out (the output of cell 6, line 6: `nn.Linear(16, 1)`)"),
        "{out}"
    );
    // ONNX keeps its graph vocabulary.
    let (_, out, _) = nnlint(&["inspect", BAD]);
    assert!(
        out.contains("opset 17") && out.contains("at main_graph/node_softmax"),
        "{out}"
    );

    let (_, out, _) = nnlint(&["--format", "github", py]);
    assert!(out.ends_with("(at classifier.1)\n"), "{out}");
    let (_, out, _) = nnlint(&["--format", "sarif", py]);
    assert!(!out.contains("tf_graph"), "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(
        result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "classifier.1"
    );
    assert!(
        result["message"]["text"]
            .as_str()
            .unwrap()
            .contains("(at classifier.1)")
    );
}

#[test]
fn statistics_give_each_reason_once_in_words() {
    let (code, out, _) = nnlint(&["--statistics", "fixtures/not_checked"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("    2  not checked: the architecture is not recorded in the file"),
        "{out}"
    );
    assert!(!out.contains("not checked: not checked"), "{out}");
}
