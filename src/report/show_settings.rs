//! `--show-settings FILE`: the settings nnlint lints FILE with, and the config file they come from.

use std::fmt::Write;

use crate::engine::{self, Settings};
use crate::registry;
use crate::settings::Overrides;

/// Where a file's settings come from, in words: the config file, or why there is none.
pub fn source(settings: &Settings, overrides: &Overrides) -> String {
    let shown = |path: &std::path::Path| super::display_path(path, std::path::Path::new("."));
    match &settings.config_file {
        Some(path) if overrides.config.is_some() => {
            format!("{} (given with --config)", shown(path))
        }
        Some(path) => shown(path),
        None if overrides.isolated => "none (--isolated): the defaults".to_string(),
        None => "none found (no nnlint.toml or pyproject.toml with [tool.nnlint] in the file's \
                 folder or above): the defaults"
            .to_string(),
    }
}

/// The resolved settings, one `key = value` line each, in the config file's own key names.
/// `exclusions` are the walk's settings of the file's folder (exclude list, respect-gitignore).
pub fn render(
    path: &str,
    settings: &Settings,
    overrides: &Overrides,
    exclusions: &[(String, String)],
) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "[]".to_string()
        } else {
            format!("[{}]", items.join(", "))
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "settings for {path}");
    let _ = writeln!(out, "config file: {}", source(settings, overrides));
    let enabled: Vec<String> = registry::all()
        .iter()
        .filter(|r| engine::enabled(settings, r))
        .map(|r| r.code.to_string())
        .collect();
    let _ = writeln!(
        out,
        "rules = {} ({} of {})",
        list(&enabled),
        enabled.len(),
        registry::all().len()
    );
    let _ = writeln!(
        out,
        "select = {}",
        settings
            .select
            .as_deref()
            .map_or("ALL (default)".to_string(), list)
    );
    let _ = writeln!(out, "extend-select = {}", list(&settings.extend_select));
    let _ = writeln!(
        out,
        "ignore = {} (with per-file-ignores that match this file)",
        list(&settings.ignore)
    );
    let _ = writeln!(out, "fail-on = {}", settings.fail_on.as_str());
    let severity: Vec<String> = settings
        .severity
        .iter()
        .map(|(code, s)| format!("{code} = {}", s.as_str()))
        .collect();
    let _ = writeln!(out, "severity = {}", list(&severity));
    let intents: Vec<String> = settings
        .intents
        .iter()
        .map(|(name, i)| format!("{name} = {}", format!("{i:?}").to_lowercase()))
        .collect();
    let _ = writeln!(out, "outputs = {}", list(&intents));
    let p = &settings.probe;
    let _ = writeln!(out, "probe.seed = {}", p.seed);
    let _ = writeln!(out, "probe.count = {}", p.count);
    let _ = writeln!(out, "limits.max-elements = {}", p.limits.max_elements);
    let _ = writeln!(
        out,
        "limits.max-total-elements = {}",
        p.limits.max_total_elements
    );
    let _ = writeln!(
        out,
        "limits.check-time-ms = {}",
        p.limits.max_time.as_millis()
    );
    let src = match &settings.load.src {
        Some(folders) => {
            let shown: Vec<String> = folders
                .iter()
                .map(|f| super::display_path(f, std::path::Path::new(".")))
                .collect();
            format!(
                "{} (first-party imports: the file's folder, then these)",
                list(&shown)
            )
        }
        None => "(default) the file's folder, then its project root (the nearest folder with \
                 pyproject.toml, setup.py, setup.cfg or .git) and the root's src/"
            .to_string(),
    };
    let _ = writeln!(out, "src = {src}");
    for (key, value) in exclusions {
        let _ = writeln!(out, "{key} = {value}");
    }
    out
}
