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
