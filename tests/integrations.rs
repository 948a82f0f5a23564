//! The files other tools read: the GitHub Action (`action.yml`) and the pre-commit hooks
//! (`.pre-commit-hooks.yaml`) have the shape those tools require, and the hooks cover every format
//! nnlint reads. (`.ci/run` proves the hooks end to end with the real `pre-commit try-repo`.)

use std::path::Path;

use nnlint::load::keras::tree::Node;
use nnlint::load::keras::yaml;

fn read(file: &str) -> (String, Node) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let node = yaml::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    (text, node)
}

fn str_of<'a>(node: &'a Node, key: &str) -> &'a str {
    node.get(key)
        .and_then(Node::as_str)
        .unwrap_or_else(|| panic!("missing string `{key}`"))
}

#[test]
fn the_action_is_a_composite_that_lints_to_sarif_and_uploads_it() {
    let (text, action) = read("action.yml");
    for key in ["name", "description"] {
        assert!(!str_of(&action, key).is_empty());
    }
    let runs = action.get("runs").expect("runs");
    assert_eq!(str_of(runs, "using"), "composite");
    let steps = runs.get("steps").and_then(Node::as_list).expect("steps");
    let mut ids = vec![];
    for step in steps {
        let uses = step.get("uses").and_then(Node::as_str);
        let run = step.get("run").and_then(Node::as_str);
        assert!(
            uses.is_some() != run.is_some(),
            "a step has exactly one of `uses` and `run`"
        );
        if run.is_some() {
            // Composite run steps must name their shell.
            assert!(
                step.get("shell").and_then(Node::as_str).is_some(),
                "run step without shell"
            );
        }
        if let Some(id) = step.get("id").and_then(Node::as_str) {
            ids.push(id.to_string());
        }
    }
    let runs_of = |needle: &str| {
        steps.iter().any(|s| {
            s.get("run")
                .and_then(Node::as_str)
                .is_some_and(|r| r.contains(needle))
        })
    };
    assert!(runs_of(" install "), "the wheel is installed with pip");
    assert!(runs_of("--format sarif --output"), "nnlint writes SARIF");
    let upload = steps
        .iter()
        .find(|s| {
            s.get("uses")
                .and_then(Node::as_str)
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("an upload-sarif step");
    assert!(
        upload
            .get("with")
            .and_then(|w| w.get("sarif_file"))
            .is_some()
    );
    // Every `inputs.X` the steps use is declared; every `steps.X` names a step id.
    let inputs = action
        .get("inputs")
        .and_then(Node::entries)
        .expect("inputs");
    let declared: Vec<&str> = inputs.iter().map(|e| e.key.as_str()).collect();
    for (prefix, known) in [
        ("inputs.", declared.clone()),
        ("steps.", ids.iter().map(String::as_str).collect()),
    ] {
        for at in text.match_indices(prefix).map(|(i, _)| i + prefix.len()) {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            assert!(
                known.contains(&name.as_str()),
                "`{prefix}{name}` is not declared"
            );
        }
    }
}

/// The action's promises to the job that uses it (docs/integrations.md, "GitHub Actions"): no input is
/// ever part of a script's text, the job's Python stays as it was, a refused upload fails nothing,
/// and the wheel is built once per version of the action's source.
#[test]
fn the_action_keeps_inputs_out_of_scripts_and_the_jobs_python_alone() {
    let (_, action) = read("action.yml");
    let steps = action
        .get("runs")
        .and_then(|r| r.get("steps"))
        .and_then(Node::as_list)
        .expect("steps");
    let uses = |prefix: &str| {
        steps
            .iter()
            .find(|s| {
                s.get("uses")
                    .and_then(Node::as_str)
                    .is_some_and(|u| u.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("no step uses {prefix}"))
    };
    let with = |step: &Node, key: &str| -> Node {
        step.get("with")
            .and_then(|w| w.get(key))
            .cloned()
            .unwrap_or_else(|| panic!("no `with.{key}`"))
    };
    let scripts: Vec<&str> = steps
        .iter()
        .filter_map(|s| s.get("run").and_then(Node::as_str))
        .collect();
    assert!(scripts.len() >= 3, "{scripts:?}");

    // 1. Nothing is interpolated into a script: inputs (and every other expression) arrive in `env:`.
    for script in &scripts {
        assert!(
            !script.contains("${{"),
            "an expression is pasted into a script:\n{script}"
        );
    }
    let env_of = |step: &Node| -> Vec<String> {
        step.get("env")
            .and_then(Node::entries)
            .map(|e| {
                e.iter()
                    .filter_map(|e| e.value.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let envs: Vec<String> = steps.iter().flat_map(env_of).collect();
    for input in [
        "inputs.paths",
        "inputs.args",
        "inputs.package",
        "inputs.sarif-file",
    ] {
        assert!(
            envs.iter().any(|v| v.contains(input)),
            "{input} reaches no step's env"
        );
    }

    // 2. The job's Python is untouched: setup-python does not update the environment, nnlint goes
    // into a virtualenv of its own, and no script calls the job's `python` or `pip`.
    let python = uses("actions/setup-python@");
    assert_eq!(with(python, "update-environment").as_bool(), Some(false));
    let python_id = python.get("id").and_then(Node::as_str).expect("an id");
    assert!(
        envs.iter()
            .any(|v| v.contains(&format!("steps.{python_id}.outputs.python-path"))),
        "the interpreter setup-python installed is used by its path"
    );
    assert!(scripts.iter().any(|s| s.contains("-m venv")));
    // `python` or `pip` where a command starts (a line, after `;`, `|`, `&`, `$(`, then/do/else).
    let bare =
        regex::Regex::new(r"(?m)(^\s*|[;|&]\s*|\$\(\s*|\b(then|do|else)\s+)(python3?|pip3?)(\s|$)")
            .unwrap();
    for script in &scripts {
        assert!(
            !bare.is_match(script),
            "a script runs the job's python or pip:\n{script}"
        );
    }

    // 3. The upload is skipped for pull requests from forks and never fails the job.
    let upload = uses("github/codeql-action/upload-sarif@");
    assert_eq!(
        upload.get("continue-on-error").and_then(Node::as_bool),
        Some(true)
    );
    let condition = upload.get("if").and_then(Node::as_str).expect("an `if`");
    assert!(
        condition.contains("github.event.pull_request.head.repo.fork"),
        "{condition}"
    );

    // 4. The wheel is cached under a key made from the action's own files, in the folder the
    // install step builds into.
    let cache = uses("actions/cache@");
    let key = with(cache, "key");
    let key = key.as_str().expect("a key");
    let key_step = key
        .strip_prefix("${{ steps.")
        .and_then(|k| k.split_once('.'))
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("the key comes from a step: {key}"));
    let key_script = steps
        .iter()
        .find(|s| s.get("id").and_then(Node::as_str) == Some(key_step))
        .and_then(|s| s.get("run").and_then(Node::as_str))
        .expect("the key step runs a script");
    for part in ["ACTION_PATH", "Cargo.lock", "src", "rules", "sha256sum"] {
        assert!(key_script.contains(part), "the key misses {part}");
    }
    let path = with(cache, "path");
    let folder = path
        .as_str()
        .and_then(|p| p.strip_prefix("${{ runner.temp }}/"))
        .expect("the cache holds a folder of the runner's temp");
    let built_into = regex::Regex::new(&format!(
        r#"(\w+)="\$RUNNER_TEMP/{}""#,
        regex::escape(folder)
    ))
    .unwrap();
    assert!(
        scripts.iter().any(|s| built_into
            .captures(s)
            .is_some_and(|c| s.contains(&format!("--wheel-dir \"${}\"", &c[1])))),
        "the wheel is built into the cached folder {folder}"
    );

    // 5. LFS is named where users read the inputs.
    let paths_help = action
        .get("inputs")
        .and_then(|i| i.get("paths"))
        .map(|p| str_of(p, "description"))
        .unwrap();
    assert!(paths_help.contains("lfs: true"), "{paths_help}");
}

#[test]
fn both_hooks_run_the_same_command_on_every_format_nnlint_reads() {
    let (_, hooks) = read(".pre-commit-hooks.yaml");
    let hooks = hooks.as_list().expect("a list of hooks");
    let ids: Vec<&str> = hooks.iter().map(|h| str_of(h, "id")).collect();
    assert_eq!(ids, ["nnlint", "nnlint-py"]);
    let languages: Vec<&str> = hooks.iter().map(|h| str_of(h, "language")).collect();
    assert_eq!(languages, ["rust", "python"]);
    let names: Vec<&str> = hooks.iter().map(|h| str_of(h, "name")).collect();
    assert_eq!(names, ["nnlint (cargo build)", "nnlint"], "distinct names");
    for hook in hooks {
        assert!(
            hook.get("language_version").is_none(),
            "it would try to install a toolchain"
        );
        assert_eq!(
            str_of(hook, "entry"),
            "nnlint --ignore-non-models --force-exclude"
        );
        // One line per finding and no summary per batch, as a hook user expects.
        let args: Vec<&str> = hook
            .get("args")
            .and_then(Node::as_list)
            .expect("args")
            .iter()
            .filter_map(Node::as_str)
            .collect();
        assert_eq!(args, ["--format", "concise"]);
        let description = str_of(hook, "description");
        for word in ["PyTorch", "notebooks", "ONNX", "Keras"] {
            assert!(description.contains(word), "{description}");
        }
        let files = regex::Regex::new(str_of(hook, "files")).expect("files is a regex");
        for front_end in nnlint::load::FRONT_ENDS {
            for ext in front_end.extensions {
                let name = format!("models/net.{ext}");
                assert!(
                    files.is_match(&name),
                    "{}: `files` misses {name}",
                    str_of(hook, "id")
                );
            }
        }
        assert!(!files.is_match("README.md") && !files.is_match("src/main.rs"));
    }
}

/// The first build is part of a newcomer's first minute (docs/contributing.md, "Keeping the first
/// build short"): two dependency trees that cost a third of it and give nnlint nothing stay out.
#[test]
fn the_lock_file_keeps_the_heavy_dependency_trees_out_of_the_first_build() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let packages: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    assert!(
        packages.contains(&"miette"),
        "Cargo.lock does not list miette: {packages:?}"
    );
    for heavy in ["backtrace", "icu_segmenter"] {
        assert!(
            !packages.contains(&heavy),
            "{heavy} is back in Cargo.lock; see docs/contributing.md, \"Keeping the first build short\""
        );
    }
}

/// `rust-version` in Cargo.toml is true: no crate of the lock file asks for a newer Rust (the pinned
/// ruff parser crates need 1.95). Reads each locked crate's own `rust-version` through
/// `cargo metadata --locked --offline` (the crates are already on disk when the tests build).
#[test]
fn rust_version_is_at_least_what_every_locked_crate_needs() {
    let version = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let ours = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \"")?.strip_suffix('"'))
        .expect("Cargo.toml has no rust-version");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = doc["packages"].as_array().unwrap();
    assert!(packages.len() > 50, "only {} packages", packages.len());
    let mut needs: Vec<(Vec<u64>, String)> = packages
        .iter()
        .filter(|p| p["name"] != "nnlint")
        .filter_map(|p| {
            let v = p["rust_version"].as_str()?;
            let (name, at) = (p["name"].as_str()?, p["version"].as_str()?);
            Some((version(v), format!("{name} {at} needs {v}")))
        })
        .collect();
    needs.sort();
    let (newest, who) = needs.last().expect("no locked crate states a rust-version");
    assert!(
        version(ours) >= *newest,
        "Cargo.toml says rust-version = {ours}, but {who}"
    );
    assert!(
        needs
            .iter()
            .any(|(_, w)| w.starts_with("ruff_python_parser ")),
        "the ruff parser is not among the crates read: {needs:?}"
    );
}
