//! Every `fixtures/<CODE>/bad_*` fires that code with a confirmed numerical check; every `good_*` and
//! every real model of the ONNX light zoo fires nothing. Verdicts are asserted; output is snapshotted in
//! tests/cli.rs.

use std::path::{Path, PathBuf};

use nnlint::engine::{self, Settings};
use nnlint::finding::Check;
use nnlint::load;

mod common;
use common::codes;

fn fixture_files() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = vec![];
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        let code = dir.file_name().to_string_lossy().into_owned();
        if !(code.starts_with("NNL") && dir.path().is_dir()) {
            continue;
        }
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let path = file.path();
            if path.is_file() && load::is_model_path(&path) {
                out.push((code.clone(), path));
            }
        }
    }
    out.sort();
    assert!(
        !out.is_empty(),
        "no fixtures found under {}",
        root.display()
    );
    out
}

#[test]
fn bad_fixtures_fire_their_code_and_the_check_confirms_it() {
    let settings = Settings::default();
    let mut seen = 0;
    for (code, path) in fixture_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("bad_") {
            continue;
        }
        seen += 1;
        let result = engine::lint_path(&path, &settings);
        let linted = result
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{name}: failed to load: {e}"));
        let hits: Vec<_> = linted.findings.iter().filter(|f| f.code == code).collect();
        assert!(
            !hits.is_empty() && hits.len() == linted.findings.len(),
            "{name}: expected exactly {code}, got {:?}",
            codes(&linted.findings)
        );
        for f in hits {
            assert!(
                f.check.is_confirmed(),
                "{name}: {code} not confirmed: {:?}",
                f.check
            );
        }
    }
    assert!(seen > 0);
}

/// With a limit no evaluation can meet, every finding still stands but none says "confirmed": a
/// numerical check that did not run is never reported as confirmation. (NNL009's check reads the
/// Lambda's payload rather than evaluating anything, so it is the one exception.)
#[test]
fn checks_that_cannot_run_are_unconfirmed() {
    let mut settings = Settings::default();
    settings.probe.limits.max_elements = 0;
    let mut findings = 0;
    for (code, path) in fixture_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("bad_") || code == "NNL009" {
            continue;
        }
        let result = engine::lint_path(&path, &settings);
        let linted = result.outcome.as_ref().unwrap();
        assert!(
            !linted.findings.is_empty(),
            "{name}: the finding must not depend on the check"
        );
        for f in &linted.findings {
            findings += 1;
            assert!(
                matches!(&f.check, Check::Unconfirmed { reason } if !reason.is_empty()),
                "{name}: {} says {:?} although nothing could be evaluated",
                f.code,
                f.check
            );
        }
    }
    assert!(findings > 50, "only {findings} findings");
}

#[test]
fn good_fixtures_are_silent() {
    let settings = Settings::default();
    for (_, path) in fixture_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("good_") {
            continue;
        }
        let result = engine::lint_path(&path, &settings);
        // A guard nnlint cannot trace says so ("not checked: ..."): silent, and honest about it.
        if let Err(e) = &result.outcome
            && e.not_checked
            && path.extension().is_some_and(|e| e == "py" || e == "ipynb")
        {
            assert!(
                name.contains("untraceable") || name.contains("unknown"),
                "{name}: not checked: {e}"
            );
            continue;
        }
        let linted = result
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{name}: failed to load: {e}"));
        assert!(
            linted.findings.is_empty(),
            "{name}: unexpected {:?}",
            codes(&linted.findings)
        );
    }
}

/// The nine ONNX "light" zoo models (AlexNet … ZFNet-512) from the onnx wheel; `.ci/run` fetches them
/// with `fixtures/fetch_zoo.sh` and sets NNLINT_ZOO_DIR.
#[test]
#[ignore = "needs NNLINT_ZOO_DIR (fixtures/fetch_zoo.sh DIR); .ci/run runs it"]
fn light_zoo_models_are_silent() {
    let Some(dir) = std::env::var_os("NNLINT_ZOO_DIR") else {
        panic!("NNLINT_ZOO_DIR is not set: fill a folder with fixtures/fetch_zoo.sh DIR");
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        9,
        "expected the nine light zoo models in {dir:?}"
    );
    for path in files {
        let result = engine::lint_path(&path, &Settings::default());
        let linted = result
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: failed to load: {e}", path.display()));
        assert!(
            linted.findings.is_empty(),
            "{}: unexpected {:?}",
            path.display(),
            codes(&linted.findings)
        );
    }
}

#[test]
fn probes_are_deterministic_and_seeded() {
    // A check whose numbers depend on the probes (the class-axis sums of a softmax over time), so the
    // seed must show in them; a single-unit softmax gives 1.0 for any seed and could not tell.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/NNL003/bad_torch_seq_softmax_over_time_opset17.onnx");
    let summary = |seed: u64| {
        let mut settings = Settings::default();
        settings.probe.seed = seed;
        let r = engine::lint_path(&path, &settings);
        match &r.findings()[0].check {
            Check::Confirmed { summary, numbers } => format!("{summary} {numbers:?}"),
            Check::Unconfirmed { reason } => panic!("unconfirmed: {reason}"),
        }
    };
    assert_eq!(summary(7), summary(7));
    assert_ne!(summary(7), summary(8), "the seed does not reach the probes");
    let default = |_| {
        let r = engine::lint_path(&path, &Settings::default());
        format!("{:?}", r.findings()[0].check)
    };
    assert_eq!(default(()), default(()));
}

/// Real architectures (fixtures/corpus: torch.onnx exports of ResNet-18, MobileNetV2, VGG-11-BN and
/// keras.applications configs) load and produce no finding.
#[test]
fn corpus_of_real_architectures_is_silent() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if load::is_model_path(&p) {
                out.push(p);
            }
        }
    }
    let mut files = vec![];
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corpus"),
        &mut files,
    );
    files.sort();
    let onnx = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .count();
    assert!(onnx >= 3 && files.len() >= 6, "corpus too small: {files:?}");
    for path in files {
        let result = engine::lint_path(&path, &Settings::default());
        let linted = result
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: failed to load: {e}", path.display()));
        assert!(
            linted.findings.is_empty(),
            "{}: unexpected {:?}",
            path.display(),
            codes(&linted.findings)
        );
    }
}
