//! `nnlint eval` end to end: every fixture golden recorded from onnxruntime is reproduced by the
//! binary within 1e-5, and a model declaring a 10^12-element tensor is refused quickly, with one
//! clear error line, without allocating it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nnlint::cmd::eval::output_file_name;
use nnlint::cmd::tensor_file::{NamedTensor, decode_tensor_proto};
use nnlint::load::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_shape_proto, type_proto,
};
use prost::Message;

mod common;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn nnlint(args: &[&str]) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let (code, out, err) = common::nnlint(args);
    (code, out, err, start.elapsed())
}

fn read(path: &Path) -> NamedTensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode_tensor_proto(&bytes, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `fixtures/<CODE>/goldens/<stem>/` folders, sorted.
fn golden_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for code in std::fs::read_dir(Path::new(ROOT).join("fixtures"))
        .unwrap()
        .flatten()
    {
        let Ok(stems) = std::fs::read_dir(code.path().join("goldens")) else {
            continue;
        };
        dirs.extend(stems.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    dirs.sort();
    dirs
}

/// `<dir>/<prefix>_0.pb`, `<prefix>_1.pb`... while they exist.
fn numbered(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    (0..)
        .map(|i| dir.join(format!("{prefix}_{i}.pb")))
        .take_while(|p| p.is_file())
        .collect()
}

#[test]
fn eval_matches_the_onnxruntime_goldens_of_every_onnx_fixture() {
    let out_root = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for golden in golden_dirs() {
        let stem = golden.file_name().unwrap().to_string_lossy().into_owned();
        let code_dir = golden.parent().unwrap().parent().unwrap();
        let model = code_dir.join(format!("{stem}.onnx"));
        assert!(
            model.is_file(),
            "{} has no ONNX model {}",
            golden.display(),
            model.display()
        );
        let inputs = numbered(&golden, "input");
        let outputs = numbered(&golden, "output");
        assert!(
            !inputs.is_empty() && !outputs.is_empty(),
            "{} needs input_N.pb and output_N.pb",
            golden.display()
        );
        let loaded = nnlint::load::load(&model).unwrap();
        let out_dir = out_root.path().join(&stem);
        let mut args = vec![
            "eval".to_string(),
            model.display().to_string(),
            "--output-dir".into(),
            out_dir.display().to_string(),
        ];
        for input in &inputs {
            let name = read(input).name;
            args.push("--input".into());
            args.push(format!("{name}={}", input.display()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr, _) = nnlint(&args);
        assert_eq!(code, 0, "{stem}: {stderr}");

        for (j, expected) in outputs.iter().enumerate() {
            let want = read(expected);
            let name = if want.name.is_empty() {
                let id = loaded.graph.outputs[j].value;
                loaded.graph.value(id).name.clone()
            } else {
                want.name.clone()
            };
            let written = out_dir.join(output_file_name(&name));
            let got = read(&written);
            assert_eq!(got.name, name, "{stem}: TensorProto name");
            assert_eq!(got.dtype, want.dtype, "{stem}: output '{name}' type");
            assert_eq!(
                got.tensor.shape(),
                want.tensor.shape(),
                "{stem}: output '{name}' shape"
            );
            let (g, w) = (got.tensor.to_f64_vec(), want.tensor.to_f64_vec());
            let mut worst = 0f64;
            for (k, (a, b)) in g.iter().zip(&w).enumerate() {
                let err = (a - b).abs();
                assert!(
                    err <= 1e-5 + 1e-5 * b.abs(),
                    "{stem}: output '{name}' element {k} is {a}, onnxruntime gives {b}"
                );
                worst = worst.max(err);
            }
            assert!(
                stdout.contains(&format!("{name}: ")),
                "{stem}: no summary for '{name}' in {stdout}"
            );
            eprintln!("{stem}: '{name}' matches, worst absolute difference {worst:.2e}");
        }
        checked += 1;
    }
    assert!(checked >= 16, "only {checked} goldens found");
    eprintln!("{checked} fixtures match their onnxruntime goldens");
}

#[test]
fn eval_writes_named_outputs_and_a_summary_for_a_head() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let model = "fixtures/NNL001/bad_torch_mlp_opset17.onnx";
    let (code, stdout, stderr, _) = nnlint(&[
        "eval",
        model,
        "--head",
        "probs",
        "--seed",
        "3",
        "--output-dir",
        &out,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("head of 'probs': "), "{stdout}");
    assert!(stdout.contains("(seed 3)"), "{stdout}");
    assert!(stdout.contains("row sums over the last axis"), "{stdout}");
    let probs = read(&dir.path().join("probs.pb"));
    assert_eq!(probs.name, "probs");
    // A single-unit softmax: every value is exactly 1.
    assert!(probs.tensor.to_f64_vec().iter().all(|&v| v == 1.0));

    let (code, again, _, _) = nnlint(&[
        "eval",
        model,
        "--head",
        "probs",
        "--seed",
        "3",
        "--output-dir",
        &out,
    ]);
    assert_eq!((code, again), (0, stdout), "same seed, same output");
}

#[test]
fn eval_errors_are_one_line_with_exit_code_2() {
    let model = "fixtures/NNL001/bad_torch_mlp_opset17.onnx";
    let golden = "fixtures/NNL001/goldens/bad_torch_mlp_opset17/input_0.pb";
    let (nope, not_a_tensor) = (format!("nope={golden}"), format!("features={model}"));
    let cases: &[(&[&str], &str)] = &[
        (&["eval", model], "no value for input 'features'"),
        (&["eval", model, "--head", "nope"], "no output named 'nope'"),
        (&["eval", model, "--input", &nope], "no input named 'nope'"),
        (
            &["eval", model, "--input", "features=missing.pb"],
            "cannot read missing.pb",
        ),
        (
            &["eval", model, "--input", &not_a_tensor],
            "not a valid ONNX TensorProto",
        ),
        (
            &["eval", "tests/data/garbage.onnx"],
            "not a valid ONNX model",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr, _) = nnlint(args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
}

// ---- a model that declares a 10^12-element tensor ----

const HUGE: [i64; 2] = [1_000_000, 1_000_000];

fn tensor_type(dims: &[i64], elem: i32) -> TypeProto {
    TypeProto {
        value: Some(type_proto::Value::TensorType(type_proto::Tensor {
            elem_type: elem,
            shape: Some(TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|&d| tensor_shape_proto::Dimension {
                        value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                        ..Default::default()
                    })
                    .collect(),
            }),
        })),
        ..Default::default()
    }
}

fn info(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(tensor_type(dims, 1)),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!("{op}_node"),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn write_model(dir: &Path, name: &str, graph: GraphProto) -> String {
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(graph),
        ..Default::default()
    };
    let path = dir.join(name);
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path.display().to_string()
}

/// Runs `nnlint eval` under a 512 MB address-space limit (where `sh` has `ulimit -v`): a 10^12-element
/// float tensor needs 4 TB, and even the evaluator's own default limit (2^28 elements, 1 GB) would
/// not fit, so a clean refusal proves nothing of that size was allocated.
fn nnlint_capped(args: &[&str]) -> (i32, String, String, Duration) {
    let bin = assert_cmd::cargo::cargo_bin("nnlint");
    let start = Instant::now();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 524288 2>/dev/null; exec \"$@\"")
        .arg("sh")
        .arg(bin)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

#[test]
fn a_declared_10_to_the_12_element_tensor_is_refused_quickly_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // An initializer whose dims claim 10^12 floats, stored as 8 bytes of raw data.
    let weight = TensorProto {
        name: "w".into(),
        data_type: 1,
        dims: HUGE.to_vec(),
        raw_data: Some(vec![0u8; 8].into()),
        ..Default::default()
    };
    let initializer = write_model(
        d,
        "initializer.onnx",
        GraphProto {
            name: "g".into(),
            node: vec![node("Add", &["x", "w"], "y")],
            initializer: vec![weight],
            input: vec![info("x", &[1])],
            output: vec![info("y", &HUGE)],
            ..Default::default()
        },
    );
    let x = d.join("x.pb");
    let x_proto = TensorProto {
        name: "x".into(),
        data_type: 1,
        dims: vec![1],
        raw_data: Some(1f32.to_le_bytes().to_vec().into()),
        ..Default::default()
    };
    std::fs::write(&x, x_proto.encode_to_vec()).unwrap();

    // A graph input declared with 10^12 elements, probed by --head.
    let input = write_model(
        d,
        "input.onnx",
        GraphProto {
            name: "g".into(),
            node: vec![node("Relu", &["big"], "y")],
            input: vec![info("big", &HUGE)],
            output: vec![info("y", &HUGE)],
            ..Default::default()
        },
    );

    // ConstantOfShape asked for 10^12 elements at run time.
    let shape = TensorProto {
        name: "shape".into(),
        data_type: 7,
        dims: vec![2],
        int64_data: HUGE.to_vec(),
        ..Default::default()
    };
    let mut fill = node("ConstantOfShape", &["shape"], "y");
    fill.attribute.push(AttributeProto {
        name: "value".into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(Box::new(TensorProto {
            data_type: 1,
            dims: vec![1],
            float_data: vec![1.0],
            ..Default::default()
        })),
        ..Default::default()
    });
    let constant_of_shape = write_model(
        d,
        "constant_of_shape.onnx",
        GraphProto {
            name: "g".into(),
            node: vec![fill],
            initializer: vec![shape],
            output: vec![info("y", &HUGE)],
            ..Default::default()
        },
    );

    // An input file whose dims claim 10^12 elements.
    let huge_pb = d.join("huge.pb");
    let huge_proto = TensorProto {
        name: "x".into(),
        data_type: 1,
        dims: HUGE.to_vec(),
        raw_data: Some(vec![0u8; 4].into()),
        ..Default::default()
    };
    std::fs::write(&huge_pb, huge_proto.encode_to_vec()).unwrap();

    let out = d.join("out").display().to_string();
    let x_arg = format!("x={}", x.display());
    let huge_arg = format!("x={}", huge_pb.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "eval",
                &initializer,
                "--input",
                &x_arg,
                "--output-dir",
                &out,
            ],
            "tensor 'w' declares dims [1000000, 1000000] (1000000000000 elements, more than the limit",
        ),
        (
            vec!["eval", &input, "--head", "y", "--output-dir", &out],
            "probe 'big' would have shape [1000000, 1000000] (more than the limit",
        ),
        (
            vec!["eval", &constant_of_shape, "--output-dir", &out],
            "would have shape [1000000, 1000000] (more than the limit",
        ),
        (
            vec![
                "eval",
                &initializer,
                "--input",
                &huge_arg,
                "--output-dir",
                &out,
            ],
            "declares dims [1000000, 1000000] (1000000000000 elements, more than the limit",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr, took) = nnlint_capped(&args);
        eprintln!("{took:?}: {}", stderr.trim_end());
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected `{expected}` in {stderr}"
        );
        // Process start included; the refusal itself takes microseconds.
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }
    assert!(!d.join("out").join("y.pb").exists());
}
