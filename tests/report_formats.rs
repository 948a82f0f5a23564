//! The report formats for CI systems other than GitHub: GitLab Code Quality (`--format gitlab`) and
//! JUnit XML (`--format junit`). What each consumer needs is asserted first, then the output is
//! snapshotted.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const BAD_ONNX: &str = "fixtures/NNL001/bad_torch_mlp_opset17.onnx";
const GOOD_ONNX: &str = "fixtures/NNL001/good_torch_mlp_sigmoid_opset17.onnx";
const BAD_PY: &str = "fixtures/NNL002/bad_py_autoencoder_sigmoid_cce.py";
const NOT_CHECKED: &str = "fixtures/not_checked/keras3_subclassed_model.json";
const GARBAGE: &str = "tests/data/garbage.onnx";

fn nnlint_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("nnlint")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn nnlint(args: &[&str]) -> (i32, String) {
    nnlint_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn issues(out: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(out)
        .unwrap_or_else(|e| panic!("{e}: {out}"))
        .as_array()
        .expect("a JSON array")
        .clone()
}

#[test]
fn gitlab_code_quality_has_what_the_merge_request_widget_reads() {
    let args = [
        "--format",
        "gitlab",
        BAD_ONNX,
        GOOD_ONNX,
        BAD_PY,
        NOT_CHECKED,
        GARBAGE,
    ];
    let (code, out) = nnlint(&args);
    assert_eq!(code, 2, "an unreadable file still exits 2: {out}");
    let all = issues(&out);
    let summary: Vec<(&str, &str, &str, i64)> = all
        .iter()
        .map(|i| {
            (
                i["check_name"].as_str().unwrap(),
                i["severity"].as_str().unwrap(),
                i["location"]["path"].as_str().unwrap(),
                i["location"]["lines"]["begin"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("NNL001", "critical", BAD_ONNX, 1),
            ("NNL002", "critical", BAD_PY, 9),
            ("nnlint/not-checked", "info", NOT_CHECKED, 1),
            ("nnlint/unreadable", "blocker", GARBAGE, 1),
        ]
    );
    for i in &all {
        assert_eq!(i["type"], "issue");
        assert!(!i["description"].as_str().unwrap().is_empty());
        let fp = i["fingerprint"].as_str().unwrap();
        assert!(fp.len() >= 32 && fp.chars().all(|c| c.is_ascii_hexdigit()));
    }
    assert!(
        all[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("NNL001 single-unit-softmax: softmax over a single unit")
    );
    assert!(
        all[0]["content"]["body"]
            .as_str()
            .unwrap()
            .contains("**confirmed**: evaluated the head")
    );
    // Severity overrides reach GitLab's scale.
    let (_, warn) = nnlint(&["--format", "gitlab", "--fail-on", "info", BAD_ONNX]);
    assert_eq!(issues(&warn)[0]["severity"], "critical");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nnlint.toml"),
        "[severity]\nNNL001 = \"warning\"\n",
    )
    .unwrap();
    std::fs::copy(fixture(BAD_ONNX), dir.path().join("m.onnx")).unwrap();
    let (_, warn) = nnlint_in(dir.path(), &["--format", "gitlab", "m.onnx"]);
    assert_eq!(issues(&warn)[0]["severity"], "major");

    // Deterministic: no timestamps, sorted input, hashed fingerprints.
    assert_eq!(nnlint(&args).1, out);
    insta::assert_snapshot!("gitlab", out);
}

#[test]
fn gitlab_fingerprints_survive_edits_above_a_finding_and_stay_unique() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = std::fs::read_to_string(fixture(BAD_PY)).unwrap();
    std::fs::write(d.join("train.py"), &source).unwrap();
    std::fs::copy(fixture(BAD_ONNX), d.join("a.onnx")).unwrap();
    std::fs::copy(fixture(BAD_ONNX), d.join("b.onnx")).unwrap();
    let before = issues(&nnlint_in(d, &["--format", "gitlab", "."]).1);
    std::fs::write(
        d.join("train.py"),
        format!("# a comment added above\n\n{source}"),
    )
    .unwrap();
    let after = issues(&nnlint_in(d, &["--format", "gitlab", "."]).1);
    assert_eq!(before.len(), 3);
    let py = |list: &[Value]| {
        list.iter()
            .find(|i| i["location"]["path"] == "train.py")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        py(&after)["location"]["lines"]["begin"].as_i64().unwrap(),
        py(&before)["location"]["lines"]["begin"].as_i64().unwrap() + 2
    );
    assert_eq!(py(&after)["fingerprint"], py(&before)["fingerprint"]);
    // Two copies of one model: the same finding in two files, two fingerprints.
    let mut fps: Vec<&str> = before
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    fps.sort_unstable();
    fps.dedup();
    assert_eq!(fps.len(), 3);
    // Paths are relative to --root, with forward slashes.
    let (_, rooted) = nnlint(&[
        "--format",
        "gitlab",
        "--root",
        "fixtures",
        &fixture(BAD_ONNX).display().to_string(),
    ]);
    assert_eq!(
        issues(&rooted)[0]["location"]["path"],
        "NNL001/bad_torch_mlp_opset17.onnx"
    );
}

/// Well-formedness where it can break: every `&` starts an entity, attribute values hold no `<` or
/// `"`, and elements nest.
fn assert_well_formed(xml: &str) {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let entity = regex::Regex::new(r"^&(amp|lt|gt|quot|apos|#[0-9]+);").unwrap();
    for (i, _) in xml.match_indices('&') {
        assert!(entity.is_match(&xml[i..]), "a bare & at {i}: {xml}");
    }
    let attr = regex::Regex::new(r#"\s[a-z]+="([^"]*)""#).unwrap();
    let tag = regex::Regex::new(r"<(/?)([a-z-]+)([^<>]*?)(/?)>").unwrap();
    let mut open: Vec<String> = vec![];
    for cap in tag.captures_iter(xml) {
        for a in attr.captures_iter(&cap[3]) {
            assert!(!a[1].contains('<'), "{}", &a[1]);
        }
        match (&cap[1], &cap[4]) {
            ("/", _) => assert_eq!(open.pop().as_deref(), Some(&cap[2]), "{xml}"),
            (_, "/") => {}
            _ => open.push(cap[2].to_string()),
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
}

#[test]
fn junit_has_one_test_case_per_file_and_one_failure_per_finding() {
    let (code, out) = nnlint(&[
        "--format",
        "junit",
        BAD_ONNX,
        GOOD_ONNX,
        BAD_PY,
        NOT_CHECKED,
        GARBAGE,
    ]);
    assert_eq!(code, 2);
    assert_well_formed(&out);
    assert!(out.contains(
        "<testsuite name=\"nnlint\" tests=\"5\" failures=\"2\" errors=\"1\" skipped=\"1\">"
    ));
    assert_eq!(out.matches("<testcase ").count(), 5);
    assert_eq!(out.matches("<failure ").count(), 2);
    assert!(out.contains(&format!(
        "<testcase classname=\"nnlint\" name=\"{GOOD_ONNX}\" file=\"{GOOD_ONNX}\"/>"
    )));
    assert!(out.contains(&format!(
        "<failure type=\"NNL002\" message=\"{BAD_PY}:9:29: NNL002 "
    )));
    assert!(out.contains("<skipped message=\"not checked: "));
    assert!(out.contains("<error type=\"unreadable\" message=\"tests/data/garbage.onnx: "));
    // Backticks, quotes in help texts and arrows survive; markup is escaped.
    assert!(out.contains("help: use `Dense(1, activation=\"sigmoid\")`"));
    assert!(
        !out.contains("time="),
        "no timings: the output is deterministic"
    );
    insta::assert_snapshot!("junit", out);
}

#[test]
fn junit_escapes_what_file_names_and_messages_carry() {
    let dir = tempfile::tempdir().unwrap();
    let name = "a&b <c> \"d\".onnx";
    std::fs::copy(fixture(BAD_ONNX), dir.path().join(name)).unwrap();
    let (code, out) = nnlint_in(dir.path(), &["--format", "junit", name]);
    assert_eq!(code, 1, "{out}");
    assert_well_formed(&out);
    assert!(
        out.contains("name=\"a&amp;b &lt;c&gt; &quot;d&quot;.onnx\""),
        "{out}"
    );
    // Two findings in one file are two failures of one test case.
    std::fs::write(dir.path().join("two.py"), TWO_FINDINGS).unwrap();
    let (code, out) = nnlint_in(dir.path(), &["--format", "junit", "two.py"]);
    assert_eq!(code, 1);
    assert_well_formed(&out);
    assert_eq!(out.matches("<testcase ").count(), 1);
    assert_eq!(out.matches("<failure ").count(), 2, "{out}");
    assert!(out.contains("<failure type=\"NNL001\" message=\"two.py:7:"));
    assert!(out.contains("<failure type=\"NNL007\" message=\"two.py:9:"));
}

/// A Keras script with two bugs: a one-unit softmax (NNL001) and categorical cross-entropy on it
/// (NNL007).
const TWO_FINDINGS: &str = r#"from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(20,)),
    layers.Dense(64, activation="relu"),
    layers.Dense(1, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy")
"#;
