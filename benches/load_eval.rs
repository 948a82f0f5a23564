//! Criterion benches: decode + lower of ONNX files, and one numerical check's head evaluation.
//!
//! `cargo bench --bench load_eval`. The ResNet-50 benches run when `bench/generate.py` has written
//! `target/bench-data/resnet50/resnet50.onnx`, and are skipped otherwise.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use nnlint::engine::ProbeSettings;
use nnlint::ir::Model;

const FIXTURE: &str = "fixtures/NNL001/bad_torch_cnn_opset18.onnx";
const RESNET50: &str = "target/bench-data/resnet50/resnet50.onnx";

fn path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn load(path: &Path) -> Model {
    nnlint::load::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn models() -> Vec<(&'static str, PathBuf)> {
    let mut out = vec![("bad_torch_cnn_opset18", path(FIXTURE))];
    let resnet = path(RESNET50);
    if resnet.exists() {
        out.push(("resnet50", resnet));
    } else {
        eprintln!(
            "{RESNET50} is missing (run bench/generate.py resnet50): its benches are skipped"
        );
    }
    out
}

fn decode_lower(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_lower");
    for (name, path) in models() {
        group.bench_function(name, |b| b.iter(|| load(black_box(&path))));
    }
    group.finish();
}

/// The numerical check of a single-output classifier: the head slice of graph output 0, seeded probes
/// at the last linear layer's input, and the evaluation.
fn head_eval(c: &mut Criterion) {
    let settings = ProbeSettings::default();
    let mut group = c.benchmark_group("head_eval");
    for (name, path) in models() {
        let model = load(&path);
        let target = model.graph.outputs[0].value;
        let head = nnlint::eval::head(&model.graph, target);
        group.bench_function(format!("{name}/head"), |b| {
            b.iter(|| nnlint::eval::head(black_box(&model.graph), target))
        });
        group.bench_function(format!("{name}/probes"), |b| {
            b.iter(|| {
                nnlint::eval::probes(&model.graph, &head, settings.count, settings.seed).unwrap()
            })
        });
        group.bench_function(format!("{name}/run"), |b| {
            b.iter_batched(
                || {
                    nnlint::eval::probes(&model.graph, &head, settings.count, settings.seed)
                        .unwrap()
                },
                |feeds| nnlint::eval::run(&model, &head, feeds, &settings.limits).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
        group.bench_function(format!("{name}/total"), |b| {
            b.iter(|| {
                let head = nnlint::eval::head(&model.graph, target);
                let feeds =
                    nnlint::eval::probes(&model.graph, &head, settings.count, settings.seed)
                        .unwrap();
                nnlint::eval::run(&model, &head, feeds, &settings.limits).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode_lower, head_eval);
criterion_main!(benches);
