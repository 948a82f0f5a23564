//! Hostile and broken model files (fixtures/malformed/, written by its make.py) and every crash the
//! fuzzers found (fixtures/malformed/regressions/): each one ends in one clear error or in findings
//! whose numerical check says why it could not run, without a panic, quickly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nnlint::engine::{self, Settings};
use nnlint::finding::Check;
use nnlint::ir::WeightsProvenance;

/// Generous for a debug build on a loaded machine; the release binary takes milliseconds (see the
/// table in the hardening note).
const BUDGET: Duration = Duration::from_secs(5);

/// What linting the file must produce.
enum Expect {
    /// A load error containing the text (the CLI exits 2).
    Error(&'static str),
    /// Findings, one of whose numerical checks is unconfirmed with a reason containing the text.
    Unconfirmed(&'static str),
    /// The config loads but the file's weights are not used: the model's `weights_not_used` note
    /// contains the text, and the checks say they ran on seeded weights (the CLI exits 1).
    WeightsNotUsed(&'static str),
}
use Expect::{Error, Unconfirmed, WeightsNotUsed};

mod common;

const CASES: &[(&str, Expect)] = &[
    // Protobuf damage.
    (
        "truncated.onnx",
        Error("failed to decode protobuf (buffer underflow at ModelProto.graph)"),
    ),
    (
        "wrong_wire_type.onnx",
        Error("invalid wire type: Varint (expected LengthDelimited) at ModelProto.graph"),
    ),
    ("length_overflow.onnx", Error("buffer underflow")),
    ("empty.onnx", Error("the file is empty (0 bytes)")),
    ("not_protobuf.onnx", Error("failed to decode protobuf")),
    (
        "nested_subgraphs_10000.onnx",
        Error("messages are nested more than 100 levels deep"),
    ),
    // Tensor declarations: the structural finding stands, its check says why it did not run.
    (
        "unknown_dtype.onnx",
        Unconfirmed("tensor 'W' declares type dtype#99"),
    ),
    (
        "negative_dims.onnx",
        Unconfirmed("declares dims [-4, 1], which do not describe a valid element count"),
    ),
    (
        "huge_dims.onnx",
        Unconfirmed(
            "declares dims [4611686018427387904, 1] (4611686018427387904 elements, more than the limit",
        ),
    ),
    (
        "declared_1e12_elements.onnx",
        Unconfirmed("would have shape [1, 1000000000000] (more than the limit of"),
    ),
    // Graph structure.
    (
        "cycle.onnx",
        Error("is part of a cycle ('first' -> 'second' -> 'first')"),
    ),
    (
        "dangling_input.onnx",
        Error("reads tensor 'ghost', which no node, graph input or initializer provides"),
    ),
    (
        "duplicate_names.onnx",
        Error("tensor 't' in graph 'g' is defined twice"),
    ),
    (
        "missing_producer.onnx",
        Error("output 'y' of graph 'g' is not produced by any node, graph input or initializer"),
    ),
    // Archives.
    (
        "zip_bomb.keras",
        Error("`config.json` declares 100004240 bytes, more than the limit of 67108864"),
    ),
    (
        "zip_bomb_lying_sizes.keras",
        Error("File is larger than its declared uncompressed size"),
    ),
    (
        "not_a_zip.keras",
        Error("not a readable Keras archive: not a zip file"),
    ),
    (
        "config_not_utf8.keras",
        Error("`config.json` is not UTF-8 text"),
    ),
    // Text.
    (
        "alias_bomb.yaml",
        Error("aliases expand to more than 100000 values"),
    ),
    ("deep_nesting.json", Error("nested deeper than 256 levels")),
    ("deep_nesting.yaml", Error("recursion limit exceeded")),
    (
        "nan_units.json",
        Error(
            "layer `head` (Dense): `units` must be an integer, found a number (line 93, column 20)",
        ),
    ),
    (
        "infinite_units.json",
        Error("layer `head` (Dense): `units` must be an integer, found a number"),
    ),
    ("not_utf8.json", Error("not UTF-8 text")),
    ("not_utf8.yaml", Error("not UTF-8 text")),
    ("truncated.json", Error("invalid JSON at line 86, column 9")),
    // HDF5 (damage to a real tf_keras `.h5` model): the config cannot be read, exit 2.
    (
        "h5_truncated.h5",
        Error(
            "a global heap collection at address 2048 (4096 bytes) lies beyond the end of the file (2112 bytes)",
        ),
    ),
    (
        "h5_bad_heap_signature.h5",
        Error("global heap collection at address 2048 lacks its GCOL signature"),
    ),
    (
        "h5_huge_heap_size.h5",
        Error("(1152921504606846976 bytes) lies beyond the end of the file"),
    ),
    (
        "h5_huge_string.h5",
        Error("attribute `model_config` is larger than 67108864 bytes (limit)"),
    ),
    (
        "h5_cyclic_continuation.h5",
        Error("a continuation block at 112 is reached twice (a cycle)"),
    ),
    (
        "h5_bad_superblock.h5",
        Error("superblock version 7 is not one HDF5 defines (0–3)"),
    ),
    (
        "h5_offset_size_3.h5",
        Error("the superblock declares 3-byte offsets (2, 4 or 8 expected)"),
    ),
    ("h5_not_hdf5.h5", Error("not an HDF5 file")),
    // HDF5 damage behind a readable config: the weights are refused, the checks run on seeded ones.
    (
        "h5_cyclic_btree.h5",
        WeightsNotUsed("a group B-tree reaches node 136 twice (a cycle)"),
    ),
    (
        "h5_unknown_filter.h5",
        WeightsNotUsed("kernel:0: filter 32000 (optional) is not one nnlint can undo"),
    ),
    (
        "h5_huge_dataset_dims.h5",
        WeightsNotUsed("in the file is [1099511627776, 1], the config needs [6, 1]"),
    ),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/malformed")
}

/// Lints `path` as the CLI does and checks the time bound; a panic fails the test with the file named.
fn lint(path: &Path) -> engine::FileResult {
    let start = Instant::now();
    let result = std::panic::catch_unwind(|| engine::lint_path(path, &Settings::default()))
        .unwrap_or_else(|_| panic!("{}: panicked", path.display()));
    let took = start.elapsed();
    assert!(took < BUDGET, "{}: took {took:?}", path.display());
    result
}

#[test]
fn every_malformed_input_has_its_expected_message() {
    for (name, expect) in CASES {
        let path = dir().join(name);
        assert!(
            path.exists(),
            "{name} is missing: run fixtures/malformed/make.py"
        );
        let result = lint(&path);
        match (expect, &result.outcome) {
            (Error(text), Err(e)) => {
                assert!(
                    e.message.contains(text),
                    "{name}: got error `{}`",
                    e.message
                );
                assert!(!e.message.contains('\n'), "{name}: one line: {}", e.message);
            }
            (Unconfirmed(text), Ok(linted)) => {
                let reasons: Vec<&str> = linted
                    .findings
                    .iter()
                    .filter_map(|f| match &f.check {
                        Check::Unconfirmed { reason } => Some(reason.as_str()),
                        Check::Confirmed { .. } => None,
                    })
                    .collect();
                assert!(
                    reasons.iter().any(|r| r.contains(text)),
                    "{name}: unconfirmed reasons {reasons:?}"
                );
            }
            (WeightsNotUsed(text), Ok(linted)) => {
                let note = &linted.model.weights_provenance;
                assert!(
                    matches!(note, WeightsProvenance::NotUsed { why } if why.contains(text)),
                    "{name}: {note:?}"
                );
                assert_eq!(linted.model.weights, nnlint::ir::Weights::Absent, "{name}");
                for f in &linted.findings {
                    if let Check::Confirmed { summary, .. } = &f.check {
                        assert!(summary.contains("seeded"), "{name}: {summary}");
                    }
                }
            }
            (Error(_), Ok(l)) => panic!("{name}: loaded, with {} findings", l.findings.len()),
            (Unconfirmed(_) | WeightsNotUsed(_), Err(e)) => {
                panic!("{name}: error `{}`", e.message)
            }
        }
    }
}

/// Every file of the corpus is in the table (a new file needs its expected message).
#[test]
fn the_table_covers_the_corpus() {
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if path.is_file() && !name.ends_with(".py") && !name.ends_with(".md") {
            assert!(
                CASES.iter().any(|(n, _)| *n == name),
                "{name} has no expected message in tests/malformed.rs"
            );
        }
    }
}

/// Through the real CLI: exit 2 for an error (0 for a file that is not a model, 1 for findings), and
/// the one message names the file.
#[test]
fn the_cli_names_the_file_and_the_problem() {
    for (name, expect) in CASES {
        let path = dir().join(name);
        let (code, stdout, stderr) =
            common::nnlint(&["--format", "concise", "--isolated", path.to_str().unwrap()]);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let code = Some(code);
        match expect {
            Error(text) => {
                // A named file that is not a model is skipped with a note (exit 0); any other
                // error is exit 2.
                let skipped = nnlint::load::load(&path).is_err_and(|e| e.not_a_model);
                let want = if skipped { 0 } else { 2 };
                assert_eq!(code, Some(want), "{name}: {stdout}{stderr}");
                let line = stdout
                    .lines()
                    .chain(stderr.lines())
                    .find(|l| l.contains(text))
                    .unwrap_or_else(|| panic!("{name}: no `{text}` in {stdout}{stderr}"));
                assert!(
                    line.contains(name),
                    "{name}: `{line}` does not name the file"
                );
            }
            Unconfirmed(_) | WeightsNotUsed(_) => {
                assert_eq!(code, Some(1), "{name}: {stdout}{stderr}");
                assert!(stdout.contains(name), "{name}: {stdout}");
            }
        }
    }
}

/// A 10 MB file of five million empty nodes (two bytes each) would take gigabytes once decoded: it is
/// refused before prost allocates anything. Written here rather than committed.
#[test]
fn millions_of_empty_nodes_are_refused_before_decoding() {
    let n = 5_000_000usize;
    let graph_len = 2 * n;
    let mut bytes = vec![0x08, 0x08, 0x3a];
    let mut v = graph_len as u64;
    while v >= 0x80 {
        bytes.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    bytes.push(v as u8);
    bytes.extend([0x0a, 0x00].repeat(n));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many_nodes.onnx");
    std::fs::write(&path, bytes).unwrap();
    let e = lint(&path).outcome.err().expect("refused");
    assert!(
        e.message
            .contains("refusing to decode the model: its structure (5000000 nodes"),
        "{}",
        e.message
    );
}

/// Inputs the fuzzers found crashing, hanging or over-allocating (fixed since): each one loads to an
/// error or to findings, in time.
#[test]
fn fuzz_regressions_replay_cleanly() {
    let mut replayed = 0;
    let regressions = dir().join("regressions");
    for entry in std::fs::read_dir(&regressions).into_iter().flatten() {
        let path = entry.unwrap().path();
        if !path.is_file() || !nnlint::load::is_model_path(&path) {
            continue;
        }
        let result = lint(&path);
        if let Err(e) = &result.outcome {
            assert!(!e.message.is_empty(), "{}: empty error", path.display());
        }
        replayed += 1;
    }
    eprintln!("replayed {replayed} fuzz regressions");
    // fixtures/malformed/regressions/ holds one input per crash the fuzzers found (one so far); an
    // unreadable folder or a filter that drops them must not pass as "nothing to replay".
    assert!(
        replayed >= 1,
        "no fuzz regression replayed from {}",
        regressions.display()
    );
}

// ------------------------------------------------------------------ external data through the linter

mod external {
    use super::*;
    use onnx_protobuf as ox;
    use protobuf::{EnumOrUnknown, Message as _, MessageField};

    /// x[1,4] -> MatMul(W[4,1], external) -> Softmax: rule NNL001 fires structurally and its numerical
    /// check decodes W from the external file.
    fn head_model(entries: &[(&str, &str)]) -> Vec<u8> {
        let info = |name: &str, dims: &[i64]| {
            let mut shape = ox::TensorShapeProto::new();
            for &d in dims {
                let mut dim = ox::tensor_shape_proto::Dimension::new();
                dim.value = Some(ox::tensor_shape_proto::dimension::Value::DimValue(d));
                shape.dim.push(dim);
            }
            let mut tensor = ox::type_proto::Tensor::new();
            tensor.elem_type = 1;
            tensor.shape = MessageField::some(shape);
            let mut t = ox::TypeProto::new();
            t.value = Some(ox::type_proto::Value::TensorType(tensor));
            let mut v = ox::ValueInfoProto::new();
            v.name = name.into();
            v.type_ = MessageField::some(t);
            v
        };
        let node = |op: &str, inputs: &[&str], output: &str| {
            let mut n = ox::NodeProto::new();
            n.op_type = op.into();
            n.name = op.to_lowercase();
            n.input = inputs.iter().map(|s| s.to_string()).collect();
            n.output = vec![output.into()];
            n
        };
        let mut w = ox::TensorProto::new();
        w.name = "W".into();
        w.data_type = 1;
        w.dims = vec![4, 1];
        w.data_location = EnumOrUnknown::new(ox::tensor_proto::DataLocation::EXTERNAL);
        for (k, v) in entries {
            let mut e = ox::StringStringEntryProto::new();
            e.key = k.to_string();
            e.value = v.to_string();
            w.external_data.push(e);
        }
        let mut g = ox::GraphProto::new();
        g.name = "g".into();
        g.input.push(info("x", &[1, 4]));
        g.output.push(info("y", &[1, 1]));
        g.initializer.push(w);
        g.node.push(node("MatMul", &["x", "W"], "logits"));
        g.node.push(node("Softmax", &["logits"], "y"));
        let mut m = ox::ModelProto::new();
        m.ir_version = 8;
        let mut o = ox::OperatorSetIdProto::new();
        o.version = 17;
        m.opset_import.push(o);
        m.graph = MessageField::some(g);
        m.write_to_bytes().unwrap()
    }

    /// `root/outside.bin` (which must never be read) next to `root/model/` holding `w.bin` (16 good
    /// bytes), and the links and special files the cases point at.
    fn layout() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let model_dir = root.path().join("model");
        std::fs::create_dir(&model_dir).unwrap();
        let floats = |v: f32| -> Vec<u8> { [v; 4].iter().flat_map(|x| x.to_le_bytes()).collect() };
        std::fs::write(root.path().join("outside.bin"), floats(7.0)).unwrap();
        std::fs::write(model_dir.join("w.bin"), floats(0.5)).unwrap();
        std::os::unix::fs::symlink("../outside.bin", model_dir.join("link.bin")).unwrap();
        std::os::unix::fs::symlink("..", model_dir.join("up")).unwrap();
        std::fs::hard_link(root.path().join("outside.bin"), model_dir.join("hard.bin")).unwrap();
        std::fs::create_dir(model_dir.join("folder")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(model_dir.join("pipe.bin"))
            .status();
        assert!(fifo.is_ok_and(|s| s.success()), "mkfifo");
        (root, model_dir)
    }

    fn lint_with(model_dir: &Path, entries: &[(&str, &str)]) -> engine::FileResult {
        let path = model_dir.join("model.onnx");
        std::fs::write(&path, head_model(entries)).unwrap();
        lint(&path)
    }

    /// The one finding's check: `Ok(summary)` when confirmed, `Err(reason)` when not.
    fn check_of(result: &engine::FileResult) -> Result<String, String> {
        let linted = result.outcome.as_ref().map_err(|e| e.message.clone())?;
        let f = linted
            .findings
            .iter()
            .find(|f| f.code == "NNL001")
            .expect("NNL001 fires structurally");
        match &f.check {
            Check::Confirmed { summary, .. } => Ok(summary.clone()),
            Check::Unconfirmed { reason } => Err(reason.clone()),
        }
    }

    #[test]
    fn a_good_location_is_read_and_confirms() {
        let (_root, dir) = layout();
        let r = lint_with(&dir, &[("location", "w.bin"), ("length", "16")]);
        assert!(check_of(&r).is_ok(), "{:?}", check_of(&r));
        let r = lint_with(&dir, &[("location", "./w.bin"), ("offset", "0")]);
        assert!(check_of(&r).is_ok(), "{:?}", check_of(&r));
    }

    #[test]
    fn every_refusal_leaves_the_check_unconfirmed_with_the_reason() {
        let (root, dir) = layout();
        let outside = root.path().join("outside.bin");
        let absolute = outside.to_str().unwrap().to_string();
        let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
            (vec![("location", &absolute)], "the path is absolute".into()),
            (
                vec![("location", "../outside.bin")],
                "the path contains a '..' component".into(),
            ),
            (
                vec![("location", "a/../../outside.bin")],
                "the path contains a '..' component".into(),
            ),
            (
                vec![("location", "link.bin")],
                "link.bin is a symbolic link".into(),
            ),
            (
                vec![("location", "up/outside.bin")],
                "up is a symbolic link".into(),
            ),
            (vec![("location", "hard.bin")], "it has 2 hard links".into()),
            (
                vec![("location", "pipe.bin")],
                "it is not a regular file".into(),
            ),
            (
                vec![("location", "folder")],
                "it is not a regular file".into(),
            ),
            (
                vec![("location", "w\0.bin")],
                "the path contains a NUL byte".into(),
            ),
            (
                vec![("location", "w.bin"), ("offset", "-4")],
                "its offset -4 is negative".into(),
            ),
            (
                vec![("location", "w.bin"), ("offset", "1.5")],
                "its offset '1.5' is not a decimal integer".into(),
            ),
            (
                vec![("location", "w.bin"), ("length", "sixteen")],
                "its length 'sixteen' is not a decimal integer".into(),
            ),
            (
                vec![("location", "w.bin"), ("offset", "64")],
                "offset 64 lies beyond the end of the file (16 bytes)".into(),
            ),
            (
                vec![("location", "w.bin"), ("offset", "8"), ("length", "16")],
                "offset 8 + length 16 reaches beyond the end of the file (16 bytes)".into(),
            ),
            (
                vec![("location", "w.bin"), ("length", "99999999999999999999")],
                "its length 99999999999999999999 is too large".into(),
            ),
            (
                vec![("location", "w.bin"), ("length", "1000")],
                "declares 1000 bytes of external data, but 4 float32 elements need 16".into(),
            ),
            (
                vec![("location", "missing.bin")],
                "cannot be inspected".into(),
            ),
        ];
        for (entries, expected) in &cases {
            let r = lint_with(&dir, entries);
            match check_of(&r) {
                Ok(summary) => panic!("{entries:?}: confirmed ({summary}) from a refused file"),
                Err(reason) => assert!(
                    reason.contains(expected),
                    "{entries:?}: reason `{reason}`, expected `{expected}`"
                ),
            }
        }
        // Nothing was written, and the file outside is untouched.
        assert_eq!(std::fs::read(&outside).unwrap().len(), 16);
    }

    /// The same refusal through the real CLI: exit 1 (the structural finding), the JSON evidence says
    /// unconfirmed and why.
    #[test]
    fn the_cli_reports_the_refusal() {
        let (_root, dir) = layout();
        let path = dir.join("model.onnx");
        std::fs::write(&path, head_model(&[("location", "../outside.bin")])).unwrap();
        let (code, out, _) =
            common::nnlint(&["--format", "json", "--isolated", path.to_str().unwrap()]);
        assert_eq!(code, 1);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let evidence = &json["files"][0]["findings"][0]["evidence"];
        assert_eq!(evidence["status"], "unconfirmed");
        let reason = evidence["reason"].as_str().unwrap();
        assert!(
            reason.contains("refusing external data file '../outside.bin'"),
            "{reason}"
        );
    }
}

// ------------------------------------------------------------------------------- configurable limits

/// Each evaluator limit, set low in `[limits]`, leaves the check unconfirmed and names the limit.
#[test]
fn limits_from_the_config_file_are_applied_and_reported() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/NNL001/bad_torch_mlp_opset17.onnx");
    let cases = [
        ("max-elements = 4", "more than the limit of 4 elements"),
        (
            "max-total-elements = 10",
            "more than the limit of 10 elements in total",
        ),
        ("check-time-ms = 0", "stopped after 0 ms, the time limit"),
    ];
    for (line, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.onnx");
        std::fs::copy(&fixture, &model).unwrap();
        std::fs::write(
            dir.path().join("nnlint.toml"),
            format!("[limits]\n{line}\n"),
        )
        .unwrap();
        let (_, out, err) = common::nnlint_in(
            model.parent().unwrap(),
            &["--format", "json", model.to_str().unwrap()],
        );
        let json: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{line}: {e}: {err}"));
        let evidence = &json["files"][0]["findings"][0]["evidence"];
        assert_eq!(evidence["status"], "unconfirmed", "{line}: {evidence}");
        let reason = evidence["reason"].as_str().unwrap();
        assert!(reason.contains(expected), "{line}: {reason}");
    }
    // Without a config the same model is confirmed.
    let (_, out, _) =
        common::nnlint(&["--format", "json", "--isolated", fixture.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["files"][0]["findings"][0]["evidence"]["status"],
        "confirmed"
    );
}

#[test]
fn an_unknown_limit_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nnlint.toml"), "[limits]\nmax-bytes = 4\n").unwrap();
    let model = dir.path().join("model.onnx");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/NNL001/bad_torch_mlp_opset17.onnx"),
        &model,
    )
    .unwrap();
    let (code, out, err) = common::nnlint_in(dir.path(), &[model.to_str().unwrap()]);
    assert_eq!(code, 2);
    let text = err + &out;
    assert!(text.contains("max-bytes"), "{text}");
}
