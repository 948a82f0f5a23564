//! Configuration files, per-file-ignores, severity overrides, fail-on and in-model suppressions. Each
//! test flips a verdict, so it fails if the setting were ignored.

use std::path::{Path, PathBuf};

use protobuf::Message;

mod common;
use common::{fixture, nnlint_in as run_in};

const BAD: &str = "fixtures/NNL001/bad_torch_mlp_opset17.onnx";

fn project_with_bad_model(at: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join(at);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(fixture(BAD), dest).unwrap();
    dir
}

#[test]
fn without_config_the_bad_model_fails() {
    let dir = project_with_bad_model("models/m.onnx");
    assert_eq!(run_in(dir.path(), &["models/m.onnx"]).0, 1);
}

#[test]
fn nnlint_toml_ignore_is_applied_from_a_parent_folder() {
    let dir = project_with_bad_model("models/deep/m.onnx");
    std::fs::write(dir.path().join("nnlint.toml"), "ignore = [\"NNL001\"]\n").unwrap();
    assert_eq!(run_in(dir.path(), &["models/deep/m.onnx"]).0, 0);
    // --isolated skips the file.
    assert_eq!(
        run_in(dir.path(), &["--isolated", "models/deep/m.onnx"]).0,
        1
    );
}

#[test]
fn pyproject_tool_nnlint_section_is_read() {
    let dir = project_with_bad_model("m.onnx");
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n\n[tool.nnlint]\nignore = [\"single-unit-softmax\"]\n",
    )
    .unwrap();
    assert_eq!(run_in(dir.path(), &["m.onnx"]).0, 0);
}

#[test]
fn the_closest_config_wins() {
    let dir = project_with_bad_model("sub/m.onnx");
    std::fs::write(dir.path().join("nnlint.toml"), "ignore = [\"NNL001\"]\n").unwrap();
    std::fs::write(dir.path().join("sub/nnlint.toml"), "ignore = []\n").unwrap();
    assert_eq!(run_in(dir.path(), &["sub/m.onnx"]).0, 1);
}

#[test]
fn per_file_ignores_only_cover_matching_files() {
    let dir = project_with_bad_model("legacy/old.onnx");
    std::fs::create_dir_all(dir.path().join("new")).unwrap();
    std::fs::copy(fixture(BAD), dir.path().join("new/m.onnx")).unwrap();
    std::fs::write(
        dir.path().join("nnlint.toml"),
        "[per-file-ignores]\n\"legacy/*.onnx\" = [\"NNL001\"]\n",
    )
    .unwrap();
    assert_eq!(run_in(dir.path(), &["legacy/old.onnx"]).0, 0);
    assert_eq!(run_in(dir.path(), &["new/m.onnx"]).0, 1);
    let (code, out, _) = run_in(dir.path(), &["--format", "concise", "."]);
    assert_eq!(code, 1);
    assert!(
        out.contains("new/m.onnx") && !out.contains("legacy/old.onnx"),
        "{out}"
    );
}

#[test]
fn severity_override_and_fail_on_decide_the_exit_code() {
    let dir = project_with_bad_model("m.onnx");
    std::fs::write(
        dir.path().join("nnlint.toml"),
        "fail-on = \"error\"\n[severity]\nNNL001 = \"warning\"\n",
    )
    .unwrap();
    let (code, out, _) = run_in(dir.path(), &["--format", "concise", "m.onnx"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("NNL001 [warning]"), "{out}");
    // The command line overrides the file.
    assert_eq!(run_in(dir.path(), &["--fail-on", "warning", "m.onnx"]).0, 1);
}

#[test]
fn unknown_config_keys_are_named() {
    let dir = project_with_bad_model("m.onnx");
    std::fs::write(dir.path().join("nnlint.toml"), "ignroe = [\"NNL001\"]\n").unwrap();
    let (code, _, err) = run_in(dir.path(), &["m.onnx"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("ignroe") && err.contains("nnlint.toml"),
        "{err}"
    );
}

#[test]
fn explicit_config_flag_is_used_for_every_file() {
    let dir = project_with_bad_model("m.onnx");
    std::fs::write(dir.path().join("strict.toml"), "ignore = [\"NNL001\"]\n").unwrap();
    assert_eq!(
        run_in(dir.path(), &["--config", "strict.toml", "m.onnx"]).0,
        0
    );
}

fn rewrite_model(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut onnx_protobuf::ModelProto),
) -> PathBuf {
    let bytes = std::fs::read(fixture(BAD)).unwrap();
    let mut model = onnx_protobuf::ModelProto::parse_from_bytes(&bytes).unwrap();
    edit(&mut model);
    let path = dir.join(name);
    std::fs::write(&path, model.write_to_bytes().unwrap()).unwrap();
    path
}

#[test]
fn model_level_metadata_suppression_and_show_suppressed() {
    let dir = tempfile::tempdir().unwrap();
    rewrite_model(dir.path(), "m.onnx", |m| {
        let mut entry = onnx_protobuf::StringStringEntryProto::new();
        entry.key = "nnlint:ignore".into();
        entry.value = "NNL001".into();
        m.metadata_props.push(entry);
    });
    let (code, out, _) = run_in(dir.path(), &["m.onnx"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("NNL001"), "{out}");
    let (code, out, _) = run_in(dir.path(), &["--show-suppressed", "m.onnx"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("suppressed by metadata_props `nnlint:ignore`"),
        "{out}"
    );
    let (_, json, _) = run_in(dir.path(), &["--format", "json", "m.onnx"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["files"][0]["suppressed"][0]["code"], "NNL001");
}

#[test]
fn node_doc_string_suppression_covers_only_that_node() {
    let dir = tempfile::tempdir().unwrap();
    rewrite_model(dir.path(), "on_softmax.onnx", |m| {
        let node = m
            .graph
            .mut_or_insert_default()
            .node
            .iter_mut()
            .find(|n| n.op_type == "Softmax")
            .unwrap();
        node.doc_string = "binary head, nnlint: ignore[single-unit-softmax]".into();
    });
    rewrite_model(dir.path(), "on_gemm.onnx", |m| {
        let node = m
            .graph
            .mut_or_insert_default()
            .node
            .iter_mut()
            .find(|n| n.op_type == "Gemm")
            .unwrap();
        node.doc_string = "nnlint: ignore[NNL001]".into();
    });
    assert_eq!(run_in(dir.path(), &["on_softmax.onnx"]).0, 0);
    assert_eq!(run_in(dir.path(), &["on_gemm.onnx"]).0, 1);
}

#[test]
fn github_format_writes_workflow_commands() {
    let (code, out, _) = run_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["--format", "github", BAD],
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with("::error file=fixtures/NNL001/bad_torch_mlp_opset17.onnx,line=1,title=NNL001 single-unit-softmax::"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn declared_output_intents_drive_the_rules() {
    // A linear segmentation head honestly named `mask_logits`: silent on its own...
    let model = "fixtures/NNL004/good_torch_segmentation_named_logits_opset17.onnx";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(run_in(root, &["--isolated", model]).0, 0);
    // ...but declared a mask on the command line, it is missing its sigmoid.
    let (code, out, _) = run_in(
        root,
        &[
            "--isolated",
            "--format",
            "concise",
            "--output-intent",
            "mask_logits=mask",
            model,
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NNL004"), "{out}");
    // The same declaration from a config file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root.join(model), dir.path().join("seg.onnx")).unwrap();
    std::fs::write(
        dir.path().join("nnlint.toml"),
        "[outputs]\nmask_logits = \"mask\"\n",
    )
    .unwrap();
    let (code, out, _) = run_in(dir.path(), &["--format", "concise", "seg.onnx"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NNL004"), "{out}");
}

#[test]
fn independent_sigmoids_declared_a_distribution_fire_nnl003() {
    // Five sigmoid labels compiled with binary cross-entropy: a correct multi-label head...
    let model = "fixtures/NNL002/good_keras3_multilabel_sigmoid_bce.json";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(run_in(root, &["--isolated", model]).0, 0);
    // ...that someone reads as one distribution over the classes.
    let (code, out, _) = run_in(
        root,
        &[
            "--isolated",
            "--format",
            "concise",
            "--output-intent",
            "labels=distribution",
            model,
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("NNL003") && out.contains("independent sigmoids"),
        "{out}"
    );
}
