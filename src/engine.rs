//! Runs the rules over loaded models and applies the run's settings. Knows nothing about output formats.

use std::path::{Path, PathBuf};

use crate::eval::Limits;
use crate::finding::{At, Finding, Severity};
use crate::ir::Model;
use crate::load::{self, LoadError};
use crate::registry;

/// How numerical checks draw their probes.
#[derive(Clone, Debug)]
pub struct ProbeSettings {
    pub seed: u64,
    /// Rows per probe batch.
    pub count: usize,
    pub limits: Limits,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            seed: 0x6e6e_6c69_6e74,
            count: 256,
            limits: Limits::default(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Codes to run; empty means every rule.
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub probe: ProbeSettings,
}

/// What a rule sees.
pub struct RuleContext<'a> {
    pub model: &'a Model,
    pub probe: &'a ProbeSettings,
}

/// The outcome for one file.
pub struct FileResult {
    pub path: PathBuf,
    pub outcome: Result<Linted, LoadError>,
}

pub struct Linted {
    pub model: Model,
    pub findings: Vec<Finding>,
}

impl FileResult {
    pub fn findings(&self) -> &[Finding] {
        match &self.outcome {
            Ok(l) => &l.findings,
            Err(_) => &[],
        }
    }
}

fn enabled(settings: &Settings, rule: &registry::Rule) -> bool {
    let matches = |key: &String| {
        key.eq_ignore_ascii_case(rule.code) || key == rule.name || key.eq_ignore_ascii_case("ALL")
    };
    (settings.select.is_empty() || settings.select.iter().any(matches))
        && !settings.ignore.iter().any(matches)
}

/// Runs every enabled rule on one model; findings come back in a stable order.
pub fn lint_model(model: &Model, settings: &Settings) -> Vec<Finding> {
    let ctx = RuleContext {
        model,
        probe: &settings.probe,
    };
    let mut findings: Vec<Finding> = registry::all()
        .iter()
        .filter(|r| enabled(settings, r))
        .flat_map(|r| (r.check)(&ctx))
        .collect();
    findings.sort_by(|a, b| {
        sort_key(model, a)
            .cmp(&sort_key(model, b))
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    findings
}

/// Text position for configs, source order of the op for graphs.
fn sort_key(model: &Model, f: &Finding) -> (usize, usize) {
    match f.primary() {
        Some(At::Span(s)) => (s.offset, 0),
        Some(At::Op(op)) => (model.graph.op(op).origin.index, 0),
        None => (usize::MAX, 0),
    }
}

pub fn lint_path(path: &Path, settings: &Settings) -> FileResult {
    let outcome = load::load(path).map(|model| {
        let findings = lint_model(&model, settings);
        Linted { model, findings }
    });
    FileResult {
        path: path.to_path_buf(),
        outcome,
    }
}

/// A file to lint, and whether the user named it (a named file that is not a model is an error; a
/// discovered one is skipped).
pub struct Target {
    pub path: PathBuf,
    pub explicit: bool,
}

/// Expands directories (recursively, by extension, sorted) and keeps explicitly named files as given.
pub fn collect_paths(paths: &[PathBuf]) -> Vec<Target> {
    let mut out = vec![];
    for p in paths {
        if p.is_dir() {
            let mut found = vec![];
            walk(p, &mut found);
            out.extend(found.into_iter().map(|path| Target {
                path,
                explicit: false,
            }));
        } else {
            out.push(Target {
                path: p.clone(),
                explicit: true,
            });
        }
    }
    out
}

/// Lints every target in order; discovered files that turn out not to be models are dropped.
pub fn lint_targets(targets: &[Target], settings: &Settings) -> Vec<FileResult> {
    targets
        .iter()
        .map(|t| (t, lint_path(&t.path, settings)))
        .filter(|(t, r)| t.explicit || !matches!(&r.outcome, Err(e) if e.not_a_model))
        .map(|(_, r)| r)
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') || n == "target");
            if !hidden {
                walk(&p, out);
            }
        } else if meta.is_file() && load::is_model_path(&p) {
            out.push(p);
        }
    }
}

/// Exit code policy: 2 when any file could not be read, else 1 when a finding is at or above `fail_on`.
pub fn exit_code(results: &[FileResult], fail_on: Severity) -> i32 {
    if results.iter().any(|r| r.outcome.is_err()) {
        2
    } else if results
        .iter()
        .flat_map(|r| r.findings())
        .any(|f| f.severity >= fail_on)
    {
        1
    } else {
        0
    }
}
