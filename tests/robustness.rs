//! Real models never break the linter: every ONNX operator conformance case (≈1,884 models, folder
//! `NNLINT_ONNX_NODE_CASES`, written by fixtures/conformance/generate_cases.py) and every light zoo
//! model (`NNLINT_ZOO_DIR`, fixtures/fetch_zoo.sh) decodes, lowers and runs all rules with no load
//! error and no panic, each within a time bound.
//!
//! The tests need data fetched with Python, so `cargo test` lists them as ignored; `.ci/run` fetches the
//! data and runs them with `--ignored`. Run without their variable, they fail and say how to get it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nnlint::engine::{self, Settings};

/// Per model, for a debug build on a shared machine.
const BUDGET: Duration = Duration::from_secs(20);

fn folder(var: &str, how: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(dir) => PathBuf::from(dir),
        None => panic!("{var} is not set: {how}"),
    }
}

fn onnx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            onnx_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "onnx") {
            out.push(p);
        }
    }
}

/// Lints every model in parallel; returns the failures (load errors, panics, slow files).
fn lint_all(files: &[PathBuf]) -> Vec<String> {
    use rayon::prelude::*;
    let settings = Settings::default();
    files
        .par_iter()
        .filter_map(|path| {
            let start = Instant::now();
            let result = std::panic::catch_unwind(|| engine::lint_path(path, &settings));
            let took = start.elapsed();
            match result {
                Err(_) => Some(format!("{}: panicked", path.display())),
                Ok(r) => match r.outcome {
                    Err(e) => Some(format!("{}: {}", path.display(), e.message)),
                    Ok(_) if took > BUDGET => Some(format!("{}: took {took:?}", path.display())),
                    Ok(_) => None,
                },
            }
        })
        .collect()
}

fn check(var: &str, how: &str, at_least: usize) {
    let dir = folder(var, how);
    let mut files = vec![];
    onnx_files(&dir, &mut files);
    files.sort();
    assert!(
        files.len() >= at_least,
        "{var}={}: only {} models",
        dir.display(),
        files.len()
    );
    let failures = lint_all(&files);
    eprintln!(
        "{var}: {} models linted, {} failures",
        files.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "needs data fetched by .ci/run (see the module docs)"]
fn every_onnx_operator_case_lints_cleanly() {
    check(
        "NNLINT_ONNX_NODE_CASES",
        "generate the cases with `python fixtures/conformance/generate_cases.py target/onnx-node-cases`",
        1_000,
    );
}

#[test]
#[ignore = "needs data fetched by .ci/run (see the module docs)"]
fn every_light_zoo_model_lints_cleanly() {
    check(
        "NNLINT_ZOO_DIR",
        "fetch the models with `bash fixtures/fetch_zoo.sh target/zoo`",
        9,
    );
}
