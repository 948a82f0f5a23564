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
use crate::suppress;

/// Everything that decides how one file is linted: its config file, then command-line overrides.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Rules to run (codes, names or "ALL"); `None` means every rule.
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
    /// Declared output intents by output name.
    pub intents: BTreeMap<String, Intent>,
    pub probe: ProbeSettings,
    pub fail_on: Severity,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            select: None,
            extend_select: vec![],
            ignore: vec![],
            severity: BTreeMap::new(),
            intents: BTreeMap::new(),
            probe: ProbeSettings::default(),
            fail_on: Severity::Warning,
        }
    }
}

/// Command-line flags; each one set wins over the config file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
    pub fail_on: Option<Severity>,
    pub seed: Option<u64>,
    pub count: Option<usize>,
    pub intents: Vec<(String, Intent)>,
    /// Use this config file for every file instead of discovering one.
    pub config: Option<PathBuf>,
    /// Ignore config files altogether.
    pub isolated: bool,
}

impl Settings {
    /// Settings from a config file (if any) with the overrides applied; `path` is the linted file.
    pub fn resolve(file: Option<&config::Loaded>, overrides: &Overrides, path: &Path) -> Settings {
        let mut s = Settings::default();
        if let Some(loaded) = file {
            let c = &loaded.config;
            s.select = c.select.clone();
            s.extend_select = c.extend_select.clone();
            s.ignore = c.ignore.clone();
            s.ignore.extend(loaded.per_file_ignores(path));
            s.severity = c
                .severity
                .iter()
                .map(|(k, v)| (canonical_code(k), Severity::from(*v)))
                .collect();
            s.intents = c
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), Intent::from(*v)))
                .collect();
            if let Some(f) = c.fail_on {
                s.fail_on = f.into();
            }
            if let Some(seed) = c.probe.seed {
                s.probe.seed = seed;
            }
            if let Some(count) = c.probe.count {
                s.probe.count = count;
            }
            let limits = &mut s.probe.limits;
            if let Some(n) = c.limits.max_elements {
                limits.max_elements = n;
            }
            if let Some(n) = c.limits.max_total_elements {
                limits.max_total_elements = n;
            }
            if let Some(ms) = c.limits.check_time_ms {
                limits.max_time = std::time::Duration::from_millis(ms);
            }
        }
        if let Some(sel) = &overrides.select {
            s.select = Some(sel.clone());
        }
        s.extend_select
            .extend(overrides.extend_select.iter().cloned());
        s.ignore.extend(overrides.ignore.iter().cloned());
        if let Some(f) = overrides.fail_on {
            s.fail_on = f;
        }
        if let Some(seed) = overrides.seed {
            s.probe.seed = seed;
        }
        if let Some(count) = overrides.count {
            s.probe.count = count;
        }
        for (name, intent) in &overrides.intents {
            s.intents.insert(name.clone(), *intent);
        }
        s
    }
}

fn canonical_code(key: &str) -> String {
    registry::find(key).map_or_else(|| key.to_string(), |r| r.code.to_string())
}

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
        .flat_map(|r| (r.check)(&ctx).into_iter().map(|d| Finding::new(r, d)))
        .collect();
    for f in &mut findings {
        if let Some(sev) = settings.severity.get(f.code) {
            f.severity = *sev;
        }
    }
    findings.sort_by(|a, b| {
        sort_key(model, a)
            .cmp(&sort_key(model, b))
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    let model_level = model
        .metadata
        .get(suppress::METADATA_KEY)
        .map(|v| suppress::parse_list(v))
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
        let hit = |codes: &[String]| codes.iter().any(|c| suppress::matches(c, f.code, f.name));
        if hit(&model_level) {
            suppressed.push((f, format!("metadata_props `{}`", suppress::METADATA_KEY)));
        } else if hit(&op_level) {
            suppressed.push((f, "a suppression comment on the node or layer".to_string()));
        } else {
            active.push(f);
        }
    }
    (active, suppressed)
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
    let outcome = load::load(path).map(|mut model| {
        apply_intents(&mut model, &settings.intents);
        intent::infer(&mut model);
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

/// Lints every target with the settings of its closest config file, in parallel, and returns the
/// results in target order; discovered files that turn out not to be models are dropped. A broken
/// config file stops the run before anything is linted.
pub fn lint_targets(
    targets: &[Target],
    overrides: &Overrides,
    progress: &(dyn Fn(&Path) + Sync),
) -> Result<Vec<FileResult>, config::ConfigError> {
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
    let results: Vec<FileResult> = targets
        .par_iter()
        .zip(settings.par_iter())
        .map(|(t, s)| {
            let r = lint_path(&t.path, s);
            progress(&t.path);
            r
        })
        .collect();
    Ok(targets
        .iter()
        .zip(results)
        .filter(|(t, r)| t.explicit || !matches!(&r.outcome, Err(e) if e.not_a_model))
        .map(|(_, r)| r)
        .collect())
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

/// Exit code policy: 2 when any file could not be read, else 1 when a finding is at or above its
/// file's `fail-on` level, else 0.
pub fn exit_code(results: &[FileResult]) -> i32 {
    if results.iter().any(|r| r.outcome.is_err()) {
        2
    } else if results
        .iter()
        .any(|r| r.findings().iter().any(|f| f.severity >= r.fail_on))
    {
        1
    } else {
        0
    }
}
