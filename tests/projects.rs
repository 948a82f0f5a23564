//! Projects, not files (issue 23): a model defined in one module and trained in another is checked
//! as one. Each fixture project under fixtures/projects/ has a bad and a good twin; the bad one's
//! finding must be reported once, at the line that must change, with the other file as a related
//! location, whether the folder is linted or only the training script (what pre-commit passes).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

struct Case {
    project: &'static str,
    /// The script that imports the model (what pre-commit names when only it changed).
    script: &'static str,
    code: &'static str,
    /// Where the finding is: the file (relative to the project) and the line.
    file: &'static str,
    line: u64,
    /// The script's line the finding also points at, when the module alone does not show the bug.
    related_line: Option<u64>,
}

const CASES: &[Case] = &[
    // A softmax in `forward` of `models.py`; `CrossEntropyLoss` in train.py.
    Case {
        project: "torch_flat",
        script: "train.py",
        code: "NNL005",
        file: "models.py",
        line: 19,
        related_line: Some(25),
    },
    // `Dense(1, softmax)` in src/churn/architecture.py, re-exported by the package's
    // `__init__`, compiled with binary cross-entropy in scripts/train.py.
    Case {
        project: "keras_src",
        script: "scripts/train.py",
        code: "NNL001",
        file: "src/churn/architecture.py",
        line: 12,
        related_line: Some(13),
    },
    // The head's width comes from train.py (`num_outputs=1`); the softmax is in model/.
    Case {
        project: "lightning",
        script: "train.py",
        code: "NNL001",
        file: "model/classifier.py",
        line: 25,
        related_line: None,
    },
    // Unit count and activation are constants of config.py, read by model.py.
    Case {
        project: "keras_config",
        script: "train.py",
        code: "NNL001",
        file: "model.py",
        line: 12,
        related_line: Some(11),
    },
    // A TF1 graph class in a library package returns probabilities; the example feeds them to
    // `softmax_cross_entropy_with_logits`.
    Case {
        project: "tf1_lib",
        script: "examples/train_mnist.py",
        code: "NNL005",
        file: "graphlib/mlp.py",
        line: 27,
        related_line: Some(9),
    },
    // A class hierarchy across files: BaseClassifier (models/base.py) ends its forward in a
    // softmax; CrackCNN (models/cnn.py) sets its one-unit head through
    // `super().__init__(num_classes=1)`; train.py trains it with BCELoss. The inherited forward
    // runs with base.py's own imports (`torch`, which cnn.py does not import).
    Case {
        project: "torch_hier",
        script: "train.py",
        code: "NNL001",
        file: "models/base.py",
        line: 16,
        related_line: Some(13),
    },
    // A Keras builder class: ModelBuilder.build (builders/base.py, its own `from tensorflow.keras
    // import ...` names) calls `self.build_head`, overridden by ChurnBuilder in builders/churn.py
    // with `Dense(1, softmax)`; the package re-exports ChurnBuilder; train.py compiles with binary
    // cross-entropy.
    Case {
        project: "keras_hier",
        script: "train.py",
        code: "NNL001",
        file: "builders/churn.py",
        line: 12,
        related_line: Some(10),
    },
];

fn project(name: &str, twin: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/projects")
        .join(format!("{name}_{twin}"))
}

/// `nnlint --format json ARGS` run in `dir`: the report and the exit code.
fn json_in(dir: &Path, args: &[&str]) -> (Value, i32) {
    let out = Command::cargo_bin("nnlint")
        .unwrap()
        .current_dir(dir)
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (report, out.status.code().unwrap())
}

/// Every finding of a report with the file it is in (its own `file`, else the linted file's path).
fn findings(report: &Value) -> Vec<(String, Value)> {
    let mut out = vec![];
    for f in report["files"].as_array().unwrap() {
        for finding in f["findings"].as_array().unwrap() {
            let file = finding
                .get("file")
                .and_then(Value::as_str)
                .unwrap_or_else(|| f["path"].as_str().unwrap());
            out.push((file.to_string(), finding.clone()));
        }
    }
    out
}

#[test]
fn naming_only_the_script_finds_the_bug_in_the_module() {
    for case in CASES {
        let dir = project(case.project, "bad");
        let (report, code) = json_in(&dir, &[case.script]);
        let found = findings(&report);
        assert_eq!(found.len(), 1, "{}: {found:?}", case.project);
        let (file, f) = &found[0];
        assert_eq!(code, 1, "{}", case.project);
        assert_eq!(f["code"], case.code, "{}", case.project);
        assert_eq!(file, case.file, "{}: {f}", case.project);
        assert_eq!(f["region"]["line"], case.line, "{}: {f}", case.project);
        // The script is the related location when the bug needs it to be seen.
        let related: Vec<(String, u64)> = f
            .get("related")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .map(|l| {
                        (
                            l["file"].as_str().unwrap().to_string(),
                            l["region"]["line"].as_u64().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        match case.related_line {
            Some(line) => assert_eq!(
                related,
                vec![(case.script.to_string(), line)],
                "{}: {f}",
                case.project
            ),
            None => assert!(related.is_empty(), "{}: {f}", case.project),
        }
    }
}

#[test]
fn linting_the_folder_reports_each_bug_once() {
    for case in CASES {
        let dir = project(case.project, "bad");
        let (report, code) = json_in(&dir, &["."]);
        let found = findings(&report);
        assert_eq!(code, 1, "{}", case.project);
        assert_eq!(found.len(), 1, "{}: {found:?}", case.project);
        assert_eq!(found[0].0, case.file, "{}", case.project);
        assert_eq!(found[0].1["region"]["line"], case.line, "{}", case.project);
        // Naming both files gives the same single finding.
        let (both, _) = json_in(&dir, &[case.script, case.file]);
        assert_eq!(findings(&both).len(), 1, "{}: {both}", case.project);
    }
}

#[test]
fn good_twins_are_silent() {
    for case in CASES {
        let dir = project(case.project, "good");
        for target in [".", case.script] {
            let (report, code) = json_in(&dir, &[target]);
            assert!(
                findings(&report).is_empty(),
                "{} {target}: {report}",
                case.project
            );
            assert_eq!(code, 0, "{} {target}", case.project);
        }
        // The script is checked, not skipped: its model came from the module.
        let (report, _) = json_in(&dir, &[case.script]);
        assert_eq!(report["files"][0]["status"], "ok", "{}", case.project);
    }
}

#[test]
fn sarif_points_at_the_module_with_the_script_as_related_location() {
    let dir = project("torch_flat", "bad");
    let out = Command::cargo_bin("nnlint")
        .unwrap()
        .current_dir(&dir)
        .args(["--format", "sarif", "train.py"])
        .output()
        .unwrap();
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    let primary = &r["locations"][0]["physicalLocation"];
    assert_eq!(primary["artifactLocation"]["uri"], "models.py");
    assert_eq!(primary["region"]["startLine"], 19);
    let related = &r["relatedLocations"][0]["physicalLocation"];
    assert_eq!(related["artifactLocation"]["uri"], "train.py");
    assert_eq!(related["region"]["startLine"], 25);
}

#[test]
fn sarif_of_each_case_points_at_the_module_line() {
    for case in CASES {
        let dir = project(case.project, "bad");
        let out = Command::cargo_bin("nnlint")
            .unwrap()
            .current_dir(&dir)
            .args(["--format", "sarif", case.script])
            .output()
            .unwrap();
        let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{}", case.project);
        let r = &results[0];
        assert_eq!(r["ruleId"], case.code, "{}", case.project);
        let primary = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            primary["artifactLocation"]["uri"], case.file,
            "{}",
            case.project
        );
        assert_eq!(
            primary["region"]["startLine"], case.line,
            "{}",
            case.project
        );
        if let Some(line) = case.related_line {
            let related = &r["relatedLocations"][0]["physicalLocation"];
            assert_eq!(
                related["artifactLocation"]["uri"], case.script,
                "{}",
                case.project
            );
            assert_eq!(related["region"]["startLine"], line, "{}", case.project);
        }
    }
}

#[test]
fn human_output_shows_both_files() {
    let dir = project("torch_flat", "bad");
    let out = Command::cargo_bin("nnlint")
        .unwrap()
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .args(["train.py"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("models.py:19:16: loss `CrossEntropyLoss`"),
        "{text}"
    );
    assert!(text.contains("train.py:25:"), "{text}");
    assert!(
        text.contains("return F.softmax(self.fc2(x), dim=1)"),
        "{text}"
    );
    assert!(
        text.contains("loss = criterion(model(images), labels)"),
        "{text}"
    );
    assert!(text.contains("1 finding in 1 file"), "{text}");
}

#[test]
fn a_suppression_on_the_module_line_silences_the_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let from = project("torch_flat", "bad");
    for name in ["models.py", "train.py"] {
        std::fs::copy(from.join(name), tmp.path().join(name)).unwrap();
    }
    let models = std::fs::read_to_string(tmp.path().join("models.py")).unwrap();
    let marked = models.replace(
        "return F.softmax(self.fc2(x), dim=1)",
        "return F.softmax(self.fc2(x), dim=1)  # noqa: NNL005",
    );
    assert_ne!(marked, models);
    std::fs::write(tmp.path().join("models.py"), marked).unwrap();
    let (report, code) = json_in(tmp.path(), &["train.py"]);
    assert!(findings(&report).is_empty(), "{report}");
    assert_eq!(
        report["files"][0]["suppressed"].as_array().unwrap().len(),
        1
    );
    assert_eq!(code, 0);
}

#[test]
fn third_party_and_missing_modules_are_not_read() {
    // `utils` is not in the project, `torch` is never looked up on disk even when a folder of that
    // name sits beside the script: the model is still read from the script itself.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("torch")).unwrap();
    std::fs::write(d.join("torch/__init__.py"), "raise SystemExit\n").unwrap();
    std::fs::write(
        d.join("train.py"),
        "import torch\nfrom torch import nn\nfrom utils import load_data\n\n\
         net = nn.Sequential(nn.Linear(8, 1), nn.Softmax(dim=1))\n\
         loss_fn = nn.BCELoss()\nx, y = load_data()\nloss = loss_fn(net(x), y)\n",
    )
    .unwrap();
    let (report, code) = json_in(d, &["train.py"]);
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, "train.py");
    assert_eq!(found[0].1["code"], "NNL001");
    assert_eq!(code, 1);
}

#[test]
fn import_cycles_end() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("a.py"),
        "import torch.nn as nn\nfrom b import make\n\n\nclass Head(nn.Module):\n    \
         def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 1)\n\n    \
         def forward(self, x):\n        return self.fc(x).softmax(dim=1)\n",
    )
    .unwrap();
    std::fs::write(
        d.join("b.py"),
        "from a import Head\n\n\ndef make():\n    return Head()\n",
    )
    .unwrap();
    std::fs::write(
        d.join("train.py"),
        "import torch\nfrom b import make\n\nnet = make()\nout = net(torch.randn(2, 4))\n",
    )
    .unwrap();
    let (report, _) = json_in(d, &["train.py", "a.py", "b.py"]);
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, "a.py");
    assert_eq!(found[0].1["code"], "NNL001");
}

#[test]
fn each_module_is_parsed_once_per_run() {
    // Two scripts import the same package; the folder is linted twice in one process.
    let dir = project("keras_src", "bad");
    let targets = vec![
        nnlint::discover::Target {
            path: dir.join("scripts/train.py"),
            explicit: true,
        },
        nnlint::discover::Target {
            path: dir.join("src/churn/__init__.py"),
            explicit: true,
        },
    ];
    let overrides = nnlint::settings::Overrides::default();
    for _ in 0..2 {
        nnlint::engine::lint_targets(&targets, &overrides, &|_| {}).unwrap();
    }
    let counts = nnlint::load::python::import_parse_counts();
    let ours: Vec<_> = counts
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("keras_src_bad"))
        .collect();
    assert!(ours.len() >= 3, "{counts:?}");
    for (path, n) in ours {
        assert_eq!(*n, 1, "{} parsed {n} times", path.display());
    }
}

#[test]
fn a_notebook_reads_the_modules_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let from = project("torch_flat", "bad");
    std::fs::copy(from.join("models.py"), tmp.path().join("models.py")).unwrap();
    // The notebook names no framework itself: its model and its loss come from the modules.
    std::fs::write(
        tmp.path().join("losses.py"),
        "from torch import nn\n\ncriterion = nn.CrossEntropyLoss()\n",
    )
    .unwrap();
    let cells = [
        "from models import ConvNet\nfrom losses import criterion\n",
        "net = ConvNet(num_classes=10)\n",
        "for images, labels in batches:\n    loss = criterion(net(images), labels)\n",
    ];
    let notebook = serde_json::json!({
        "cells": cells.iter().map(|c| serde_json::json!({
            "cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null,
            "source": c.split_inclusive('\n').collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    });
    std::fs::write(
        tmp.path().join("explore.ipynb"),
        serde_json::to_string_pretty(&notebook).unwrap(),
    )
    .unwrap();
    let (report, code) = json_in(tmp.path(), &["explore.ipynb"]);
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, "models.py");
    assert_eq!(found[0].1["code"], "NNL005");
    assert_eq!(found[0].1["region"]["line"], 19);
    assert_eq!(code, 1);
}

/// `nnlint ARGS` run in `dir`, any format: stdout, stderr and the exit code.
fn run_in(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::cargo_bin("nnlint")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap(),
    )
}

/// Copies a fixture project into a fresh temporary folder (no root marker above it).
fn copy_project(name: &str, twin: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(&project(name, twin), tmp.path());
    tmp
}

/// The (file, line) of each related location of a JSON finding.
fn related(f: &Value) -> Vec<(String, u64)> {
    f.get("related")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .map(|l| {
                    (
                        l["file"].as_str().unwrap().to_string(),
                        l["region"]["line"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_package_no_marker_points_at_is_read_from_the_src_folders() {
    // torch_lib: the package is lib/reviews/, imported by scripts/train.py as `reviews.models`
    // (the scripts run with PYTHONPATH=lib); setup.cfg marks the project root, which has no
    // `reviews` and no src/.
    let dir = project("torch_lib", "bad");
    // Without `src`, `reviews` is not a module of the project: nothing is read from lib/, the
    // model cannot be resolved, and the script is not checked (a note, exit 0), honestly.
    let (report, code) = json_in(&dir, &["scripts/train.py"]);
    assert!(findings(&report).is_empty(), "{report}");
    assert_eq!(report["files"][0]["status"], "not-checked", "{report}");
    assert_eq!(code, 0);
    // With `--src lib`, the sigmoid in lib/reviews/models.py is found, with the loss line of the
    // script as the related location; the same, once, for the whole folder.
    for targets in [&["scripts/train.py"][..], &["."]] {
        let mut args = vec!["--src", "lib"];
        args.extend(targets);
        let (report, code) = json_in(&dir, &args);
        let found = findings(&report);
        assert_eq!(found.len(), 1, "{targets:?}: {report}");
        let (file, f) = &found[0];
        assert_eq!(code, 1);
        assert_eq!(f["code"], "NNL005");
        assert_eq!(file, "lib/reviews/models.py");
        assert_eq!(f["region"]["line"], 16, "{f}");
        assert_eq!(related(f), vec![("scripts/train.py".to_string(), 27)]);
    }
    // The good twin returns logits: silent, and checked (its model came from lib/).
    let (report, code) = json_in(
        &project("torch_lib", "good"),
        &["--src", "lib", "scripts/train.py"],
    );
    assert!(findings(&report).is_empty(), "{report}");
    assert_eq!(report["files"][0]["status"], "ok", "{report}");
    assert_eq!(code, 0);
}

#[test]
fn src_folders_reach_sarif_and_human_output() {
    let dir = project("torch_lib", "bad");
    let (out, _, code) = run_in(
        &dir,
        &["--src", "lib", "--format", "sarif", "scripts/train.py"],
    );
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{out}");
    let primary = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(primary["artifactLocation"]["uri"], "lib/reviews/models.py");
    assert_eq!(primary["region"]["startLine"], 16);
    let rel = &results[0]["relatedLocations"][0]["physicalLocation"];
    assert_eq!(rel["artifactLocation"]["uri"], "scripts/train.py");
    assert_eq!(rel["region"]["startLine"], 27);
    let (text, _, code) = run_in(&dir, &["--src", "lib", "scripts/train.py"]);
    assert_eq!(code, 1);
    assert!(text.contains("lib/reviews/models.py:16:16:"), "{text}");
    assert!(text.contains("return torch.sigmoid(self.out(h))"), "{text}");
    assert!(text.contains("scripts/train.py:27:"), "{text}");
    assert!(text.contains("1 finding in 1 file"), "{text}");
}

#[test]
fn config_src_is_relative_to_the_config_file_and_the_command_line_wins() {
    let tmp = copy_project("torch_lib", "bad");
    let d = tmp.path();
    std::fs::write(
        d.join("pyproject.toml"),
        "[project]\nname = \"reviews\"\n\n[tool.nnlint]\nsrc = [\"lib\"]\n",
    )
    .unwrap();
    // From the project folder and from the script's own folder: `lib` is the config's.
    for (cwd, target, shown) in [
        (d.to_path_buf(), "scripts/train.py", "lib/reviews/models.py"),
        (d.join("scripts"), "train.py", "../lib/reviews/models.py"),
    ] {
        let (report, code) = json_in(&cwd, &[target]);
        let found = findings(&report);
        assert_eq!(found.len(), 1, "{}: {report}", cwd.display());
        assert_eq!(code, 1);
        assert!(
            found[0].0.ends_with("lib/reviews/models.py"),
            "{shown}: {}",
            found[0].0
        );
        assert_eq!(found[0].1["region"]["line"], 16);
    }
    // `--show-settings` says where imports are read from.
    let (out, _, code) = run_in(d, &["--show-settings", "scripts/train.py"]);
    assert_eq!(code, 0);
    assert!(out.contains("src = [lib]"), "{out}");
    // `--src` replaces the config's list: with only scripts/, lib/ is not read.
    let (report, code) = json_in(d, &["--src", "scripts", "scripts/train.py"]);
    assert!(findings(&report).is_empty(), "{report}");
    assert_eq!(report["files"][0]["status"], "not-checked", "{report}");
    assert_eq!(code, 0);
    // `--isolated` drops the config, and with it its `src`.
    let (report, _) = json_in(d, &["--isolated", "scripts/train.py"]);
    assert!(findings(&report).is_empty(), "{report}");
}

#[test]
fn a_src_folder_that_does_not_exist_is_one_clear_error() {
    let tmp = copy_project("torch_lib", "bad");
    let d = tmp.path();
    let (out, err, code) = run_in(d, &["--src", "libs", "scripts/train.py"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(err.contains("--src: `libs` does not exist"), "{err}");
    std::fs::write(d.join("nnlint.toml"), "src = [\"lib\", \"vendor\"]\n").unwrap();
    let (out, err, code) = run_in(d, &["scripts/train.py"]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(
        err.contains("nnlint.toml: src: `vendor` does not exist"),
        "{err}"
    );
}

#[test]
fn two_configs_in_one_run_resolve_the_same_module_their_own_way() {
    // a/ and b/ train the same shared/models.py, whose head width is `UNITS` of shared/config.py.
    // config.py imports `helpers`, which only a/'s `src` reaches (extra/): for a/, config.py is a
    // utility module importing another, which an imported module does not follow (the width stays
    // unknown, no finding); for b/, it is a leaf of constants, read, and the softmax over one unit
    // is found. The import graph is memoised per `src` setting: linting a/ first must not make b/
    // see config.py as a/ does.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for sub in ["shared", "extra", "a", "b"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(
        d.join("shared/models.py"),
        "import torch.nn as nn\nfrom config import UNITS\n\n\ndef build():\n    \
         return nn.Sequential(nn.Linear(8, UNITS), nn.Softmax(dim=1))\n",
    )
    .unwrap();
    std::fs::write(
        d.join("shared/config.py"),
        "from helpers import describe\n\nUNITS = 1\n",
    )
    .unwrap();
    std::fs::write(
        d.join("extra/helpers.py"),
        "def describe(n):\n    return f\"{n} units\"\n",
    )
    .unwrap();
    for (sub, src) in [
        ("a", "[\"../shared\", \"../extra\"]"),
        ("b", "[\"../shared\"]"),
    ] {
        std::fs::write(
            d.join(sub).join("train.py"),
            "import torch\nfrom models import build\n\nnet = build()\nout = net(torch.randn(2, 8))\n",
        )
        .unwrap();
        std::fs::write(d.join(sub).join("nnlint.toml"), format!("src = {src}\n")).unwrap();
    }
    let overrides = nnlint::settings::Overrides::default();
    let codes = |file: &str| -> Vec<&'static str> {
        let targets = vec![nnlint::discover::Target {
            path: d.join(file),
            explicit: true,
        }];
        let r = nnlint::engine::lint_targets(&targets, &overrides, &|_| {})
            .unwrap()
            .remove(0);
        r.findings().iter().map(|f| f.code).collect()
    };
    for _ in 0..2 {
        assert!(!codes("a/train.py").contains(&"NNL001"));
        assert_eq!(codes("b/train.py"), ["NNL001"]);
    }
}

#[test]
fn each_module_body_runs_once_per_run() {
    // Every fixture project, bad and good twins, linted twice in one process: the folder, then
    // each training script alone (the pre-commit case). A module that only defines classes,
    // functions and constants runs once for the whole run, whoever imports it.
    let overrides = nnlint::settings::Overrides::default();
    let mut dirs = vec![];
    for case in CASES {
        for twin in ["bad", "good"] {
            let dir = project(case.project, twin);
            let targets = vec![
                nnlint::discover::Target {
                    path: dir.clone(),
                    explicit: true,
                },
                nnlint::discover::Target {
                    path: dir.join(case.script),
                    explicit: true,
                },
            ];
            for _ in 0..2 {
                nnlint::engine::lint_targets(&targets, &overrides, &|_| {}).unwrap();
            }
            dirs.push(format!("{}_{twin}", case.project));
        }
    }
    let counts = nnlint::load::python::import_run_counts();
    let ours: Vec<_> = counts
        .iter()
        .filter(|(p, _)| {
            let p = p.to_string_lossy();
            p.contains("fixtures/projects/") && dirs.iter().any(|d| p.contains(d.as_str()))
        })
        .collect();
    // Each project has at least one imported module.
    assert!(ours.len() >= CASES.len() * 2, "{counts:?}");
    for (path, n) in ours {
        assert_eq!(*n, 1, "{} ran {n} times", path.display());
    }
}

/// Writes `files` (path, text) under a new temporary folder.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = tmp.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    tmp
}

const SOFTMAX_NET: &str = "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(16, 4)\n\n    def forward(self, x):\n        return torch.softmax(self.fc(x), dim=1)\n";

const TRAIN_NET: &str = "import torch\nfrom torch import nn\nfrom pkg import Net\n\nnet = Net()\ncriterion = nn.CrossEntropyLoss()\nfor x, y in loader:\n    loss = criterion(net(x), y)\n";

#[test]
fn a_module_on_an_import_cycle_is_read_from_each_importer() {
    // pkg/__init__.py re-exports Net from pkg/models.py, which imports the package back for its
    // settings: a cycle. Each entry point reads it as Python would from there.
    let tmp = tree(&[
        ("pyproject.toml", ""),
        (
            "pkg/__init__.py",
            "from pkg.models import Net\nWIDTH = 16\n",
        ),
        (
            "pkg/models.py",
            &format!(
                "import pkg\n{}",
                SOFTMAX_NET.replacen("import torch\n", "import torch\n\n", 1)
            ),
        ),
        ("train.py", TRAIN_NET),
        ("train2.py", TRAIN_NET),
    ]);
    let (report, code) = json_in(tmp.path(), &["."]);
    assert_eq!(code, 1, "{report}");
    let found = findings(&report);
    // The one bug (a softmax before CrossEntropyLoss, in pkg/models.py) is reported once.
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1["code"], "NNL005");
    assert!(found[0].0.ends_with("models.py"), "{found:?}");
}

#[test]
fn module_level_objects_of_a_module_belong_to_each_importer() {
    // config.py builds an argument parser and a config object when imported; two scripts read
    // their defaults. The module runs once; each importing file gets its own copy of those
    // objects, and the one-unit head they size is found from both.
    let config = "import argparse\n\nparser = argparse.ArgumentParser()\nparser.add_argument(\"--classes\", type=int, default=1)\nargs = parser.parse_args()\n\n\nclass Settings:\n    activation = \"softmax\"\n\n\nsettings = Settings()\n";
    let script = "from tensorflow import keras\nfrom config import args, settings\n\nmodel = keras.Sequential([\n    keras.Input(shape=(8,)),\n    keras.layers.Dense(args.classes, activation=settings.activation),\n])\nmodel.compile(loss=\"binary_crossentropy\", optimizer=\"adam\")\n";
    let tmp = tree(&[
        ("config.py", config),
        ("train_a.py", script),
        ("train_b.py", script),
    ]);
    let (report, code) = json_in(tmp.path(), &["."]);
    assert_eq!(code, 1, "{report}");
    let found = findings(&report);
    assert_eq!(found.len(), 2, "{found:?}");
    for (file, f) in &found {
        assert_eq!(f["code"], "NNL001", "{found:?}");
        assert!(file.starts_with("train_"), "{found:?}");
    }
}

#[test]
fn modules_with_objects_and_cycles_also_run_once() {
    // A cycle (pkg/__init__.py <-> pkg/models.py) and a module that builds an argument parser
    // and a config object when imported, imported by three scripts linted in one run.
    let tmp = tree(&[
        ("pyproject.toml", ""),
        (
            "pkg/__init__.py",
            "from pkg.models import Net\nWIDTH = 16\n",
        ),
        ("pkg/models.py", &format!("import pkg\n{SOFTMAX_NET}")),
        (
            "settings.py",
            "import argparse\n\nparser = argparse.ArgumentParser()\nparser.add_argument(\"--lr\", type=float, default=0.1)\nargs = parser.parse_args()\n",
        ),
        (
            "train.py",
            &format!("from settings import args\n{TRAIN_NET}"),
        ),
        (
            "train2.py",
            &format!("from settings import args\n{TRAIN_NET}"),
        ),
        (
            "eval.py",
            "import torch\nfrom pkg.models import Net\nfrom settings import args\n\nnet = Net()\n",
        ),
    ]);
    let root = tmp.path().canonicalize().unwrap();
    let targets: Vec<_> = ["train.py", "train2.py", "eval.py"]
        .iter()
        .map(|f| nnlint::discover::Target {
            path: root.join(f),
            explicit: true,
        })
        .collect();
    let overrides = nnlint::settings::Overrides::default();
    nnlint::engine::lint_targets(&targets, &overrides, &|_| {}).unwrap();
    let counts = nnlint::load::python::import_run_counts();
    let ours: Vec<_> = counts
        .iter()
        .filter(|(p, _)| p.starts_with(&root))
        .collect();
    let names: Vec<String> = ours
        .iter()
        .map(|(p, _)| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        ["pkg/__init__.py", "pkg/models.py", "settings.py"],
        "{counts:?}"
    );
    for (path, n) in ours {
        assert_eq!(*n, 1, "{} ran {n} times", path.display());
    }
}

#[test]
fn an_imported_modules_objects_do_not_shift_the_files_own_modules() {
    // settings.py builds an argument parser when imported: its instance is copied into the
    // serving script's world before the script's own module. The helper nothing calls
    // (`predict_proba(model, images)`) must still run with the script's one module for `model`,
    // so its softmax over the batch axis is found.
    let settings = "import argparse\n\nparser = argparse.ArgumentParser()\nparser.add_argument(\"--lr\", type=float, default=1e-3)\nargs = parser.parse_args()\n";
    let serve = "import torch\nfrom torch import nn\nfrom settings import args\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(16, 10)\n\n    def forward(self, x):\n        return self.fc(x)\n\n\ndef predict_proba(model, x):\n    with torch.no_grad():\n        scores = model(x)\n    return torch.softmax(scores, dim=0)\n\n\nmodel = Net()\nopt = torch.optim.SGD(model.parameters(), lr=args.lr)\nloss_fn = nn.CrossEntropyLoss()\nfor x, y in loader:\n    loss = loss_fn(model(x), y)\n";
    let tmp = tree(&[("settings.py", settings), ("serve.py", serve)]);
    let (report, code) = json_in(tmp.path(), &["serve.py"]);
    assert_eq!(code, 1, "{report}");
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1["code"], "NNL003");
    assert_eq!(found[0].1["region"]["line"], 18, "{found:?}");
}
