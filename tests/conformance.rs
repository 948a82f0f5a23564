//! ONNX's operator conformance cases run through nnlint's evaluator.
//!
//! The cases come from the onnx wheel (`fixtures/conformance/generate_cases.py`, see the README
//! there) into the folder named by `NNLINT_ONNX_NODE_CASES`:
//!
//! ```text
//! fixtures/gen/.venv/bin/python fixtures/conformance/generate_cases.py target/onnx-node-cases
//! NNLINT_ONNX_NODE_CASES=target/onnx-node-cases cargo test --test conformance -- --nocapture
//! ```
//!
//! **Supported** means the evaluator runs the case: every value is a tensor of an element type it
//! carries, and evaluation does not stop with [`EvalError::Unsupported`] (an op it does not have, or
//! a mode of an op it does not implement, such as `Resize` with antialiasing). Every other outcome —
//! a load error, any other evaluation error, a panic, a wrong shape, type or value — is a failure,
//! and any failure fails the test.
//!
//! Tolerance per element, `want` being ONNX's numpy reference: float32/float64 `|got - want| ≤
//! 1e-5 + 1e-5·|want|`; float16/bfloat16 within 2 units in the last place of that type (the
//! evaluator rounds after every op as a runtime storing the type does, the numpy reference rounds
//! at other points; measured worst: 2 ulps, in the expanded Attention graphs); integers and
//! booleans exactly; NaN matches NaN, infinities the same infinity. Every case also carries ONNX's
//! own runner tolerance (rtol 1e-3, atol 1e-7, the same for all cases, kept in `case.json`); it is
//! used only for the cases in [`OWN_TOLERANCE`], whose references are not exact.
//!
//! It also checks that every ONNX op a model under `fixtures/` uses (and the light zoo's, with
//! `NNLINT_ZOO_DIR` set) appears in a passing case.
//!
//! The cases are generated with Python, so `cargo test` lists this test as ignored; `.ci/run` generates
//! them and runs it with `--ignored`. Run without `NNLINT_ONNX_NODE_CASES`, it fails and says why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use nnlint::cmd::tensor_file::{self, NamedTensor};
use nnlint::eval::{self, EvalError, Head, Limits, Tensor};
use nnlint::ir::DType;
use rayon::prelude::*;

/// Supported cases with onnx 1.23.2. Fewer means the evaluator lost ground (or the case set
/// changed): raise it when support grows, never lower it to hide a regression.
const MIN_SUPPORTED: usize = 1125;

/// Cases compared with their own tolerance (ONNX's runner's rtol 1e-3, atol 1e-7) instead of ours,
/// and why.
const OWN_TOLERANCE: &[(&str, &str)] = &[(
    "test_averagepool_2d_ceil_last_window_starts_on_pad",
    "the reference output is typed in to 4 decimals in onnx's averagepool.py (0.1511 for 0.151056)",
)];

enum Outcome {
    Pass,
    Fail(String),
    Unsupported(String),
}

#[test]
#[ignore = "needs NNLINT_ONNX_NODE_CASES (fixtures/conformance/generate_cases.py); .ci/run runs it"]
fn onnx_node_conformance() {
    let Some(dir) = std::env::var_os("NNLINT_ONNX_NODE_CASES") else {
        panic!(
            "NNLINT_ONNX_NODE_CASES is not set: generate the cases with \
             fixtures/conformance/generate_cases.py and point it at their folder"
        );
    };
    let dir = PathBuf::from(dir);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("model.onnx").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());

    let start = Instant::now();
    let outcomes: Vec<(String, Outcome)> = cases
        .par_iter()
        .map(|case| {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            let outcome = std::panic::catch_unwind(|| run_case(case))
                .unwrap_or_else(|_| Outcome::Fail("panicked".into()));
            (name, outcome)
        })
        .collect();
    let elapsed = start.elapsed();

    let (mut passed, mut failed) = (0, Vec::new());
    let mut unsupported: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut covered = BTreeSet::new();
    for (name, outcome) in outcomes {
        match outcome {
            Outcome::Pass => {
                passed += 1;
                covered.extend(case_ops(&dir.join(&name)));
            }
            Outcome::Fail(why) => failed.push(format!("{name}: {why}")),
            Outcome::Unsupported(why) => unsupported.entry(why).or_default().push(name),
        }
    }
    let skipped: usize = unsupported.values().map(Vec::len).sum();
    let supported = passed + failed.len();

    let mut by_count: Vec<_> = unsupported.iter().collect();
    by_count.sort_by_key(|(why, names)| (std::cmp::Reverse(names.len()), *why));
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (why, names) in &by_count {
        let kind = by_kind.entry(reason_kind(why)).or_default();
        kind.0 += names.len();
        kind.1 += 1;
    }
    eprintln!("unsupported cases by kind of reason:");
    for (kind, (cases, reasons)) in &by_kind {
        eprintln!("  {cases:4}  {kind} ({reasons} different)");
    }
    eprintln!("unsupported cases by reason:");
    for (why, names) in by_count {
        eprintln!("  {:4}  {why}", names.len());
    }
    for f in &failed {
        eprintln!("FAIL {f}");
    }
    println!(
        "conformance: {} cases, {supported} supported, {passed} passed, {} failed, {skipped} unsupported ({:.1} s)",
        cases.len(),
        failed.len(),
        elapsed.as_secs_f64()
    );
    println!("conformance: {passed} passed, {} failed", failed.len());
    assert!(
        failed.is_empty(),
        "{} supported conformance cases failed",
        failed.len()
    );
    let (used, foreign) = model_ops();
    let uncovered: Vec<&String> = used.iter().filter(|op| !covered.contains(*op)).collect();
    assert!(
        uncovered.is_empty(),
        "ONNX ops used by fixtures or zoo models without a passing conformance case: {uncovered:?}"
    );
    println!(
        "conformance: all {} ONNX op types of the fixtures{} have passing cases \
         (not ONNX ops, outside the evaluator: {foreign:?})",
        used.len(),
        if std::env::var_os("NNLINT_ZOO_DIR").is_some() {
            " and the light zoo"
        } else {
            ""
        }
    );
    assert!(
        supported >= MIN_SUPPORTED,
        "only {supported} cases are supported, expected at least {MIN_SUPPORTED}"
    );
}

/// Op types a case's graph uses, as `case.json` lists them.
fn case_ops(case: &Path) -> Vec<String> {
    std::fs::read(case.join("case.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|m| m["ops"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Op types of every model under `fixtures/` and, when `NNLINT_ZOO_DIR` is set, of the light zoo:
/// ONNX (default domain) ops, and the other domains' (front-end placeholders such as `keras.LSTM` or `nnlint.OpaqueCode`).
fn model_ops() -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let hidden = p
                .file_name()
                // fixtures/malformed/ holds broken files on purpose (tests/malformed.rs).
                .is_some_and(|n| n.to_string_lossy().starts_with('.') || n == "malformed");
            if hidden {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else if nnlint::load::is_model_path(&p) {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut files,
    );
    if let Some(zoo) = std::env::var_os("NNLINT_ZOO_DIR") {
        walk(Path::new(&zoo), &mut files);
    }
    let (mut onnx, mut foreign) = (BTreeSet::new(), BTreeSet::new());
    for file in files {
        // Files that are not models (or not loadable) have no ops to cover.
        let Ok(model) = nnlint::load::load(&file) else {
            continue;
        };
        for op in &model.graph.ops {
            if op.is_default_domain() {
                onnx.insert(op.op_type.clone());
            } else {
                foreign.insert(format!("{}.{}", op.domain, op.op_type));
            }
        }
    }
    (onnx, foreign)
}

fn reason_kind(why: &str) -> &'static str {
    if why.starts_with("element type") {
        "element types the evaluator has no carrier for"
    } else if why.contains("values (") {
        "sequence or optional values"
    } else if why.contains(' ') {
        "modes of supported ops"
    } else {
        "ops the evaluator does not have"
    }
}

fn run_case(case: &Path) -> Outcome {
    match try_case(case) {
        Ok(()) => Outcome::Pass,
        Err(o) => o,
    }
}

/// Element types the evaluator carries (every float and integer type up to 64 bits, and bool).
fn carried(code: i64) -> bool {
    matches!(code, 1..=7 | 9..=13 | 16)
}

fn fail(why: impl Into<String>) -> Outcome {
    Outcome::Fail(why.into())
}

fn try_case(case: &Path) -> Result<(), Outcome> {
    let meta: serde_json::Value = std::fs::read(case.join("case.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| fail("case.json is missing or not JSON"))?;
    let values = |side: &str| meta[side].as_array().cloned().unwrap_or_default();
    for v in values("inputs").iter().chain(&values("outputs")) {
        let kind = v["kind"].as_str().unwrap_or("?");
        if kind != "tensor" {
            return Err(Outcome::Unsupported(format!(
                "{kind} values (the evaluator computes tensors only)"
            )));
        }
        let code = v["dtype"].as_i64().unwrap_or(0);
        if !carried(code) {
            let name = match code {
                17 => "float8e4m3fn".into(),
                18 => "float8e4m3fnuz".into(),
                19 => "float8e5m2".into(),
                20 => "float8e5m2fnuz".into(),
                21 => "uint4".into(),
                22 => "int4".into(),
                23 => "float4e2m1".into(),
                24 => "float8e8m0".into(),
                25 => "uint2".into(),
                26 => "int2".into(),
                _ => DType::from_onnx(code as i32).map_or("undefined".into(), |d| d.name()),
            };
            return Err(Outcome::Unsupported(format!("element type {name}")));
        }
    }

    let name = case.file_name().unwrap_or_default().to_string_lossy();
    let tolerance = OWN_TOLERANCE.iter().any(|(n, _)| *n == name).then(|| {
        (
            meta["rtol"].as_f64().unwrap_or(1e-3),
            meta["atol"].as_f64().unwrap_or(1e-7),
        )
    });
    let model =
        nnlint::load::load(&case.join("model.onnx")).map_err(|e| fail(format!("load: {e}")))?;
    let g = &model.graph;
    let limits = Limits::default();
    let mut feeds = std::collections::HashMap::new();
    for (i, &id) in g.inputs.iter().enumerate() {
        let t = read(&case.join(format!("input_{i}.pb")), &limits)?;
        feeds.insert(id, t.tensor);
    }
    let all = Head {
        ops: g.op_ids().collect(),
        probes: g.inputs.clone(),
    };
    let got = match eval::run(&model, &all, feeds, &limits) {
        Ok(v) => v,
        Err(EvalError::Unsupported { op }) => return Err(Outcome::Unsupported(op)),
        Err(e) => return Err(fail(format!("evaluation error: {e}"))),
    };
    for (j, out) in g.outputs.iter().enumerate() {
        let want = read(&case.join(format!("output_{j}.pb")), &limits)?;
        let got = got
            .get(&out.value)
            .ok_or_else(|| fail(format!("output {j} was not computed")))?;
        compare(j, got, &want, tolerance).map_err(fail)?;
    }
    Ok(())
}

fn read(path: &Path, limits: &Limits) -> Result<NamedTensor, Outcome> {
    let bytes = std::fs::read(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    tensor_file::decode_tensor_proto(&bytes, limits)
        .map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// `tolerance`: the case's own (rtol, atol), for the cases in [`OWN_TOLERANCE`].
fn compare(
    j: usize,
    got: &Tensor,
    want: &NamedTensor,
    tolerance: Option<(f64, f64)>,
) -> Result<(), String> {
    if got.shape() != want.tensor.shape() {
        return Err(format!(
            "output {j} has shape {:?}, expected {:?}",
            got.shape(),
            want.tensor.shape()
        ));
    }
    if got.dtype() != want.tensor.dtype() {
        return Err(format!(
            "output {j} is {}, expected {} (carried as {})",
            got.dtype_name(),
            want.dtype.name(),
            want.tensor.dtype_name()
        ));
    }
    let exact = !want.tensor.is_float();
    let mantissa = match want.dtype {
        DType::F16 => Some(10),
        DType::BF16 => Some(7),
        _ => None,
    };
    let close = |a: f64, b: f64| {
        if a == b || (a.is_nan() && b.is_nan()) {
            return true;
        }
        if exact || !b.is_finite() {
            return false;
        }
        let allowed = match (tolerance, mantissa) {
            (Some((rtol, atol)), _) => atol + rtol * b.abs(),
            (None, Some(bits)) => {
                let exponent = (b.abs().log2().floor() as i32).max(-14);
                2.0 * 2f64.powi(exponent - bits)
            }
            (None, None) => 1e-5 + 1e-5 * b.abs(),
        };
        (a - b).abs() <= allowed
    };
    let (g, w) = (got.to_f64_vec(), want.tensor.to_f64_vec());
    if let Some(k) = (0..g.len()).find(|&k| !close(g[k], w[k])) {
        let bad = (0..g.len()).filter(|&k| !close(g[k], w[k])).count();
        return Err(format!(
            "output {j} ({}) element {k}: {}, expected {} ({bad} of {} elements differ)",
            want.dtype.name(),
            g[k],
            w[k],
            g.len()
        ));
    }
    Ok(())
}
