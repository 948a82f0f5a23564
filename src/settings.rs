//! What decides how one file is linted: its closest config file, then command-line overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config;
use crate::finding::Severity;
use crate::ir::Intent;
use crate::load::LoadOptions;
use crate::registry;
use crate::rule::ProbeSettings;

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
    /// The config file these settings come from (`None`: the defaults, or `--isolated`).
    pub config_file: Option<PathBuf>,
    /// What the front ends are told: the `src` folders of first-party imports.
    pub load: LoadOptions,
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
            config_file: None,
            load: LoadOptions::default(),
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
    /// `--src DIR` (repeatable): replaces the config's `src`. Relative to the working directory;
    /// [`crate::engine::settings_for`] refuses folders that do not exist.
    pub src: Option<Vec<PathBuf>>,
}

impl Settings {
    /// Settings from a config file (if any) with the overrides applied; `path` is the linted file.
    pub fn resolve(file: Option<&config::Loaded>, overrides: &Overrides, path: &Path) -> Settings {
        let mut s = Settings::default();
        if let Some(loaded) = file {
            s.config_file = Some(loaded.path.clone());
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
            if let Some(src) = &loaded.src {
                s.load.src = Some(src.as_slice().into());
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
        if let Some(src) = &overrides.src {
            let folders: Vec<PathBuf> = src
                .iter()
                .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
                .collect();
            s.load.src = Some(folders.into());
        }
        s
    }
}

fn canonical_code(key: &str) -> String {
    registry::find(key).map_or_else(|| key.to_string(), |r| r.code.to_string())
}
