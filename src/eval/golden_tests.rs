//! The evaluator against onnxruntime: every generated fixture with a golden input/output pair is run
//! whole and compared, and the head of every output is run on probes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use onnx_protobuf::{Message, TensorProto};

use super::constant::decode;
use super::{Head, Limits, Tensor, head, probes, run};
use crate::ir::{DType, OpId, TensorData, TensorRef};

fn read_tensor(path: &Path) -> Tensor {
    let bytes = std::fs::read(path).unwrap();
    let p = TensorProto::parse_from_bytes(&bytes).unwrap();
    let dtype = DType::from_onnx(p.data_type).unwrap();
    let data = if !p.raw_data.is_empty() {
        TensorData::Raw(Bytes::from(p.raw_data.clone()))
    } else if !p.float_data.is_empty() {
        TensorData::Floats(p.float_data.clone().into())
    } else if !p.int64_data.is_empty() {
        TensorData::Int64s(p.int64_data.clone().into())
    } else {
        TensorData::Doubles(p.double_data.clone().into())
    };
    let t = TensorRef {
        name: p.name.clone(),
        dtype,
        dims: p.dims.clone(),
        data,
    };
    decode(&t, None, None, &Limits::default()).unwrap()
}

fn fixtures() -> Vec<(PathBuf, Option<PathBuf>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/NNL001");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "onnx") {
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            let golden = dir.join("goldens").join(&stem);
            out.push((path, golden.is_dir().then_some(golden)));
        }
    }
    out.sort();
    out
}

#[test]
fn whole_models_match_onnxruntime_goldens() {
    let mut checked = 0;
    for (path, golden) in fixtures() {
        let Some(golden) = golden else { continue };
        let model = crate::load::load(&path).unwrap();
        let g = &model.graph;
        let input = read_tensor(&golden.join("input_0.pb"));
        let want = read_tensor(&golden.join("output_0.pb"));
        let all = Head {
            ops: g.op_ids().collect::<Vec<OpId>>(),
            probes: g.inputs.clone(),
        };
        let feeds = HashMap::from([(g.inputs[0], input)]);
        let values = run(&model, &all, feeds, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let got = &values[&g.outputs[0].value];
        assert_eq!(got.shape(), want.shape(), "{}", path.display());
        let (got, want) = (got.to_f64_vec(), want.to_f64_vec());
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-4,
            "{}: worst relative error {worst}",
            path.display()
        );
        checked += 1;
    }
    eprintln!("{checked} fixtures matched their goldens");
}

#[test]
fn every_output_head_runs_on_probes() {
    for (path, _) in fixtures() {
        let model = crate::load::load(&path).unwrap();
        let g = &model.graph;
        for out in &g.outputs {
            let h = head(g, out.value);
            let feeds =
                probes(g, &h, 256, 42).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let values = run(&model, &h, feeds, &Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let y = &values[&out.value];
            assert!(
                y.to_f64_vec().iter().all(|v| v.is_finite()),
                "{}",
                path.display()
            );
        }
    }
}

/// The nine light model-zoo graphs (`fixtures/fetch_zoo.sh DEST`, then `NNLINT_ZOO_DIR=DEST`): every
/// output head runs on probes and gives finite values of the output's shape, summing to 1 per row
/// where the head ends in a softmax; the whole network, run from its inputs with seeded weights, either
/// gives finite values or stops at a limit (elements, time) with a `Limit` error, never another one.
#[test]
#[ignore = "needs NNLINT_ZOO_DIR (fixtures/fetch_zoo.sh DIR); .ci/run runs it"]
fn zoo_models_run() {
    let Ok(dir) = std::env::var("NNLINT_ZOO_DIR") else {
        panic!(
            "NNLINT_ZOO_DIR is not set: fill a folder with fixtures/fetch_zoo.sh DIR and point it there"
        );
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
        .collect();
    paths.sort();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for zoo in [
        "alexnet",
        "densenet121",
        "inception_v1",
        "inception_v2",
        "resnet50",
        "shufflenet",
        "squeezenet",
        "vgg19",
        "zfnet512",
    ] {
        assert!(
            names.iter().any(|n| n.contains(zoo)),
            "{zoo} missing from {dir}: {names:?}"
        );
    }
    let mut heads = 0;
    for (path, name) in paths.iter().zip(&names) {
        let model = crate::load::load(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let g = &model.graph;
        assert!(!g.outputs.is_empty(), "{name}: no outputs");
        for out in &g.outputs {
            let h = head(g, out.value);
            let v = probes(g, &h, 256, 42)
                .and_then(|f| run(&model, &h, f, &Limits::default()))
                .unwrap_or_else(|e| panic!("{name}: head of {}: {e}", g.value(out.value).name));
            let t = &v[&out.value];
            let y = t.to_f64_vec();
            let want: usize = t.shape().iter().product();
            assert!(
                want > 0 && y.len() == want,
                "{name}: {} values of {:?}",
                y.len(),
                t.shape()
            );
            assert!(
                y.iter().all(|x| x.is_finite()),
                "{name}: non-finite head output"
            );
            let softmax = g
                .value(out.value)
                .producer
                .map(|p| g.op(p).op_type.as_str())
                == Some("Softmax");
            if softmax {
                // Every zoo softmax normalises everything after the batch axis (axis 1, opset < 13).
                let row = y.len() / t.shape()[0];
                for r in y.chunks(row) {
                    let sum: f64 = r.iter().sum();
                    assert!(
                        (sum - 1.0).abs() < 1e-4,
                        "{name}: softmax row sums to {sum}"
                    );
                }
            }
            heads += 1;
        }
        let all = Head {
            ops: g.op_ids().collect(),
            probes: g.inputs.clone(),
        };
        match probes(g, &all, 1, 42).and_then(|f| run(&model, &all, f, &Limits::default())) {
            Ok(v) => {
                let y = v[&g.outputs[0].value].to_f64_vec();
                assert!(
                    !y.is_empty() && y.iter().all(|x| x.is_finite()),
                    "{name}: whole network gave {} values, not all finite",
                    y.len()
                );
            }
            Err(e) => assert!(
                matches!(e, super::EvalError::Limit(_)),
                "{name}: whole network failed other than at a limit: {e}"
            ),
        }
    }
    assert!(heads >= 9, "only {heads} heads run");
}
