//! Runs the rules over loaded models and applies the run's settings. Knows nothing about output formats.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config;
use crate::finding::{At, Finding, Severity};
use crate::intent;
use crate::ir::{Intent, IntentSource, Model};
use crate::load::{self, LoadError};
use crate::registry;
pub use crate::rule::ProbeSettings;
use crate::rule::RuleContext;
pub use crate::settings::{Overrides, Settings};
use crate::suppress;

/// The outcome for one file.
pub struct FileResult {
    pub path: PathBuf,
    pub outcome: Result<Linted, LoadError>,
    pub fail_on: Severity,
}

pub struct Linted {
    pub model: Model,
    pub findings: Vec<Finding>,
    /// Findings silenced in the model itself, with what silenced them.
    pub suppressed: Vec<(Finding, String)>,
}

impl FileResult {
    /// The file could not be read: exit code 2.
    pub fn unreadable(&self) -> Option<&LoadError> {
        self.outcome
            .as_ref()
            .err()
            .filter(|e| !e.not_checked && !e.not_a_model)
    }

    /// A file named on the command line that is not a model (a `utils.py` without deep-learning code,
    /// a `package.json`): skipped with a note; the exit code ignores it.
    pub fn skipped(&self) -> Option<&LoadError> {
        self.outcome
            .as_ref()
            .err()
            .filter(|e| e.not_a_model && !e.not_checked)
    }

    /// A readable model nnlint has nothing to check in (a note in every format).
    pub fn not_checked(&self) -> Option<&LoadError> {
        self.outcome.as_ref().err().filter(|e| e.not_checked)
    }

    /// A model that was read, with places nnlint could not follow (a layer applied to data it lost,
    /// a loss it could not pair): what it reports holds, but something may be missing.
    pub fn partly_checked(&self) -> Option<&[crate::ir::NotFollowed]> {
        match &self.outcome {
            Ok(l) if !l.model.not_followed.is_empty() => Some(&l.model.not_followed),
            _ => None,
        }
    }

    /// Syntax errors in a Python file or notebook, whether its model was read or not.
    pub fn syntax_errors(&self) -> &[crate::ir::SyntaxErrorAt] {
        match &self.outcome {
            Ok(l) => &l.model.syntax_errors,
            Err(e) => &e.syntax_errors,
        }
    }

    pub fn findings(&self) -> &[Finding] {
        match &self.outcome {
            Ok(l) => &l.findings,
            Err(_) => &[],
        }
    }
}

/// Whether `settings` run `rule` (select, extend-select, ignore).
pub fn enabled(settings: &Settings, rule: &registry::Rule) -> bool {
    let matches = |key: &String| registry::selects(key, rule);
    let selected = settings
        .select
        .as_ref()
        .is_none_or(|s| s.iter().any(matches))
        || settings.extend_select.iter().any(matches);
    selected && !settings.ignore.iter().any(matches)
}

/// Sets the intents the user declared on the outputs they name.
pub fn apply_intents(model: &mut Model, intents: &BTreeMap<String, Intent>) {
    let graph = &mut model.graph;
    for out in &mut graph.outputs {
        if let Some(intent) = intents.get(&graph.values[out.value.0 as usize].name) {
            out.intent = *intent;
            out.intent_source = IntentSource::Declared;
        }
    }
}

/// Runs every enabled rule on one model; findings come back in a stable order, suppressed ones apart.
pub fn lint_model(model: &Model, settings: &Settings) -> (Vec<Finding>, Vec<(Finding, String)>) {
    let ctx = RuleContext {
        model,
        probe: &settings.probe,
    };
    let mut findings: Vec<Finding> = registry::all()
        .iter()
        .filter(|r| enabled(settings, r))
        .flat_map(|r| (r.check)(&ctx).into_iter().map(|d| r.stamp(&ctx, d)))
        .collect();
    for f in &mut findings {
        if let Some(sev) = settings.severity.get(f.code) {
            f.severity = *sev;
        }
        f.model = submodel_of(model, f);
    }
    findings.sort_by(|a, b| {
        sort_key(model, a)
            .cmp(&sort_key(model, b))
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    // The same code built twice (a builder called for two models): one finding per place in the
    // text, not one per model.
    findings.dedup_by(|b, a| {
        a.code == b.code
            && a.message == b.message
            && matches!((a.primary(), b.primary()), (Some(At::Span(x)), Some(At::Span(y))) if x == y)
    });
    let model_level = model
        .metadata
        .get(suppress::METADATA_KEY)
        .map(|v| suppress::parse_list(v))
        .unwrap_or_default();
    let file_level = model
        .source_text
        .as_deref()
        .map(|text| suppress::file_level(model.format, text))
        .unwrap_or_default();
    let (mut active, mut suppressed) = (vec![], vec![]);
    for f in findings {
        // The primary op's suppressions; for config findings (span labels) the op is the one whose
        // path the finding names (the layer).
        let op_level: Vec<String> = match f.primary() {
            Some(At::Op(op)) => model.graph.op(op).origin.suppress.clone(),
            Some(At::Span(_)) | None => model
                .graph
                .ops
                .iter()
                .filter(|o| o.origin.path == f.node_path)
                .flat_map(|o| o.origin.suppress.iter().cloned())
                .collect(),
        };
        // A comment on any line the finding labels (the loss line, a secondary label), in the
        // file the line is in (an imported module is Python source).
        let line_level: Vec<String> = f
            .labels
            .iter()
            .filter_map(|l| match l.at {
                At::Span(s) => model.locate(s),
                At::Op(_) => None,
            })
            .flat_map(|at| {
                let format = if at.path.is_some() {
                    crate::ir::Format::PythonSource
                } else {
                    model.format
                };
                suppress::on_lines(format, at.text, std::iter::once(at.span))
            })
            .collect();
        let hit = |codes: &[String]| codes.iter().any(|c| suppress::matches(c, f.code, f.name));
        if hit(&model_level) {
            suppressed.push((f, format!("metadata_props `{}`", suppress::METADATA_KEY)));
        } else if hit(&file_level) {
            suppressed.push((f, "a file-level `# nnlint: noqa` comment".to_string()));
        } else if hit(&op_level) {
            suppressed.push((f, "a suppression comment on the node or layer".to_string()));
        } else if hit(&line_level) {
            suppressed.push((
                f,
                "a suppression comment on a line it points at".to_string(),
            ));
        } else {
            active.push(f);
        }
    }
    (active, suppressed)
}

/// The model of a file that builds several which finding `f` is about: the one holding its
/// primary op (for a finding labelled by text, the op its path names).
fn submodel_of(model: &Model, f: &Finding) -> Option<usize> {
    if model.submodels.len() < 2 {
        return None;
    }
    let op = match f.primary() {
        Some(At::Op(op)) => op.0 as usize,
        _ => model
            .graph
            .ops
            .iter()
            .position(|o| o.origin.path == f.node_path)?,
    };
    model.submodels.iter().position(|m| m.ops.contains(&op))
}

/// Text position for configs, source order of the op for graphs.
fn sort_key(model: &Model, f: &Finding) -> (usize, usize) {
    match f.primary() {
        Some(At::Span(s)) => (s.offset, 0),
        Some(At::Op(op)) => (model.graph.op(op).origin.index, 0),
        None => (usize::MAX, 0),
    }
}

/// The front half of the pipeline every command shares: load, apply the declared intents, infer the
/// others. `check` lints what this returns and `inspect` shows it.
pub fn prepare(path: &Path, settings: &Settings) -> Result<Model, LoadError> {
    prepared(load::load_with(path, &settings.load), settings)
}

fn prepared(loaded: Result<Model, LoadError>, settings: &Settings) -> Result<Model, LoadError> {
    let mut model = loaded?;
    apply_intents(&mut model, &settings.intents);
    intent::infer(&mut model);
    Ok(model)
}

pub fn lint_path(path: &Path, settings: &Settings) -> FileResult {
    lint_loaded(path, load::load_with(path, &settings.load), settings)
}

/// Lints a model read from standard input, named `path` (its format, its config file, its reports).
pub fn lint_bytes(path: &Path, bytes: Vec<u8>, settings: &Settings) -> FileResult {
    lint_loaded(
        path,
        load::load_bytes(path, bytes, &settings.load),
        settings,
    )
}

fn lint_loaded(path: &Path, loaded: Result<Model, LoadError>, settings: &Settings) -> FileResult {
    let outcome = prepared(loaded, settings).map(|model| {
        let (findings, suppressed) = lint_model(&model, settings);
        Linted {
            model,
            findings,
            suppressed,
        }
    });
    FileResult {
        path: path.to_path_buf(),
        outcome,
        fail_on: settings.fail_on,
    }
}

pub use crate::discover::{Target, collect_paths};

/// The settings of each target: its closest config file (found once per folder), or the one given,
/// then the overrides. A `--src` folder that does not exist is an error, as a broken config is.
pub fn settings_for(
    targets: &[Target],
    overrides: &Overrides,
) -> Result<Vec<Settings>, config::ConfigError> {
    for folder in overrides.src.iter().flatten() {
        config::source_folder(Path::new(""), folder).map_err(|message| config::ConfigError {
            path: "--src".into(),
            message,
        })?;
    }
    let fixed = match &overrides.config {
        Some(path) => Some(config::read(path)?.ok_or_else(|| config::ConfigError {
            path: path.display().to_string(),
            message: "has no [tool.nnlint] section".into(),
        })?),
        None => None,
    };
    let mut by_dir: HashMap<PathBuf, Option<config::Loaded>> = HashMap::new();
    let mut settings = Vec::with_capacity(targets.len());
    for t in targets {
        let loaded = if overrides.isolated {
            None
        } else if fixed.is_some() {
            fixed.clone()
        } else {
            let dir = t.path.parent().map(Path::to_path_buf).unwrap_or_default();
            match by_dir.get(&dir) {
                Some(c) => c.clone(),
                None => {
                    let c = config::discover(&dir)?;
                    by_dir.insert(dir, c.clone());
                    c
                }
            }
        };
        settings.push(Settings::resolve(loaded.as_ref(), overrides, &t.path));
    }
    Ok(settings)
}

/// Lints every target with the settings of its closest config file, in parallel, and returns the
/// results in target order; discovered files that turn out not to be models are dropped. A broken
/// config file stops the run before anything is linted.
pub fn lint_targets(
    targets: &[Target],
    overrides: &Overrides,
    progress: &(dyn Fn(&Path) + Sync),
) -> Result<Vec<FileResult>, config::ConfigError> {
    lint_run(targets, overrides, progress).map(|run| run.results)
}

/// What one run found.
pub struct Run {
    /// One per target in target order, except discovered files that are not models.
    pub results: Vec<FileResult>,
    /// The discovered files that turned out not to be models, with the reason (for `-v`).
    pub not_models: Vec<(PathBuf, LoadError)>,
}

/// [`lint_targets`], keeping the discovered files that were not models apart.
pub fn lint_run(
    targets: &[Target],
    overrides: &Overrides,
    progress: &(dyn Fn(&Path) + Sync),
) -> Result<Run, config::ConfigError> {
    let settings = settings_for(targets, overrides)?;
    let results: Vec<FileResult> = targets
        .par_iter()
        .zip(settings.par_iter())
        .map(|(t, s)| {
            let r = lint_path(&t.path, s);
            progress(&t.path);
            r
        })
        .collect();
    let mut run = Run {
        results: vec![],
        not_models: vec![],
    };
    for (t, r) in targets.iter().zip(results) {
        match r.outcome {
            Err(e) if !t.explicit && e.not_a_model && !e.not_checked => {
                run.not_models.push((r.path, e))
            }
            _ => run.results.push(r),
        }
    }
    report_once(&mut run.results);
    Ok(run)
}

/// A finding whose primary location is in a module another linted file imports (the head in
/// `models.py` found through `train.py`) is reported once per run: by that module's own result
/// when it finds it there, else by the first file (in target order) that found it. `lint_run` does
/// this; a caller that lints some files again (`--fix`) does it again.
pub fn report_once(results: &mut [FileResult]) {
    // Where a finding's primary span is: whether it is in an imported module, the file
    // (canonical) and the offset in that file.
    fn place(own: &Path, model: &Model, f: &Finding) -> Option<(bool, PathBuf, usize)> {
        let Some(At::Span(s)) = f.primary() else {
            return None;
        };
        let at = model.locate(s)?;
        let file = at.path.unwrap_or(own);
        let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        Some((at.path.is_some(), file, at.span.offset))
    }
    let mut seen: std::collections::HashSet<(&'static str, PathBuf, usize)> = Default::default();
    // A file's own findings first, so a module linted in the run keeps what it finds itself.
    for r in results.iter() {
        if let Ok(l) = &r.outcome {
            for f in &l.findings {
                if let Some((false, file, offset)) = place(&r.path, &l.model, f) {
                    seen.insert((f.code, file, offset));
                }
            }
        }
    }
    for r in results.iter_mut() {
        let Ok(l) = &mut r.outcome else { continue };
        let model = &l.model;
        let own = &r.path;
        l.findings.retain(|f| match place(own, model, f) {
            Some((true, file, offset)) => seen.insert((f.code, file, offset)),
            _ => true,
        });
    }
}

/// Exit code policy: 2 when any file could not be read, else 1 when a finding is at or above its
/// file's `fail-on` level, else 0.
pub fn exit_code(results: &[FileResult]) -> i32 {
    if results.iter().any(|r| r.unreadable().is_some()) {
        2
    } else if results.iter().any(|r| {
        !r.syntax_errors().is_empty() || r.findings().iter().any(|f| f.severity >= r.fail_on)
    }) {
        // A syntax error fails the run as ruff's do, whatever `fail-on` says.
        1
    } else {
        0
    }
}
