//! Configuration: `nnlint.toml`, or `[tool.nnlint]` in `pyproject.toml`, discovered upward from each
//! linted file (the closest file wins, as in ruff) and else from the working directory. Command-line
//! flags override whatever a file says. Unknown keys are errors that name the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::finding::Severity;
use crate::ir::Intent;
use crate::registry;

/// The keys of a config file (all optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// Rules to run (codes, names or "ALL"); replaces the default of every rule.
    pub select: Option<Vec<String>>,
    /// Rules added to `select`.
    #[serde(default)]
    pub extend_select: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Severity overrides: `NNL003 = "error"`.
    #[serde(default)]
    pub severity: BTreeMap<String, SeverityName>,
    /// Glob (relative to the config file's folder) → codes ignored in matching files.
    #[serde(default)]
    pub per_file_ignores: BTreeMap<String, Vec<String>>,
    pub fail_on: Option<SeverityName>,
    /// Declared output intents: `probs = "probability"`.
    #[serde(default)]
    pub outputs: BTreeMap<String, IntentName>,
    #[serde(default)]
    pub probe: ProbeConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Files and folders a directory walk leaves out (globs; a bare name matches that name at any
    /// depth, a path is relative to this file's folder); replaces the default list.
    pub exclude: Option<Vec<String>>,
    /// Added to `exclude` (or to the default list).
    #[serde(default)]
    pub extend_exclude: Vec<String>,
    /// Whether walks skip what `.gitignore` and `.ignore` files list (default: true).
    pub respect_gitignore: Option<bool>,
    /// Folders (relative to this file's folder) first-party Python imports are resolved from,
    /// after the linted file's own folder; replaces the default (the project root and its `src/`),
    /// as ruff's `src` does.
    pub src: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    pub seed: Option<u64>,
    pub count: Option<usize>,
}

/// Caps on the numerical checks (see `eval::Limits`); a check that hits one is unconfirmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsConfig {
    /// Elements in any one tensor.
    pub max_elements: Option<u64>,
    /// Elements in all tensors of one evaluation.
    pub max_total_elements: Option<u64>,
    /// Wall time of one evaluation, in milliseconds.
    pub check_time_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SeverityName {
    Error,
    Warning,
    Info,
}

impl From<SeverityName> for Severity {
    fn from(s: SeverityName) -> Severity {
        match s {
            SeverityName::Error => Severity::Error,
            SeverityName::Warning => Severity::Warning,
            SeverityName::Info => Severity::Info,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IntentName {
    Probability,
    Distribution,
    Logits,
    Mask,
}

impl From<IntentName> for Intent {
    fn from(i: IntentName) -> Intent {
        match i {
            IntentName::Probability => Intent::Probability,
            IntentName::Distribution => Intent::Distribution,
            IntentName::Logits => Intent::Logits,
            IntentName::Mask => Intent::Mask,
        }
    }
}

/// A config file as loaded, with the folder its globs are relative to.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub config: FileConfig,
    /// `src`, each folder made canonical (it exists: checked when the file is read).
    pub src: Option<Vec<PathBuf>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

/// Reads one config file; `Ok(None)` for a `pyproject.toml` without `[tool.nnlint]`.
pub fn read(path: &Path) -> Result<Option<Loaded>, ConfigError> {
    let err = |message: String| ConfigError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let config: FileConfig = if is_pyproject {
        let doc: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let Some(section) = doc.get("tool").and_then(|t| t.get("nnlint")).cloned() else {
            return Ok(None);
        };
        section
            .try_into()
            .map_err(|e: toml::de::Error| err(format!("[tool.nnlint]: {}", e.message())))?
    } else {
        toml::from_str(&text).map_err(|e| err(e.message().to_string()))?
    };
    validate(&config).map_err(err)?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let src = match &config.src {
        Some(folders) => Some(
            folders
                .iter()
                .map(|f| source_folder(&dir, Path::new(f)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("src: {e}")))?,
        ),
        None => None,
    };
    Ok(Some(Loaded {
        path: path.to_path_buf(),
        dir,
        config,
        src,
    }))
}

/// A `src` folder (config `src`, `--src`), relative to `base` unless absolute, made canonical;
/// the error says what is wrong with it.
pub fn source_folder(base: &Path, folder: &Path) -> Result<PathBuf, String> {
    let shown = folder.display();
    if folder.to_string_lossy().contains(['*', '?', '[']) {
        return Err(format!(
            "`{shown}`: globs are not supported here; name each folder"
        ));
    }
    let full = if base.as_os_str().is_empty() {
        folder.to_path_buf()
    } else {
        base.join(folder)
    };
    match std::fs::canonicalize(&full) {
        Ok(c) if c.is_dir() => Ok(c),
        Ok(_) => Err(format!("`{shown}` is not a folder ({})", full.display())),
        Err(_) => Err(format!(
            "`{shown}` does not exist (no folder {})",
            full.display()
        )),
    }
}

fn validate(c: &FileConfig) -> Result<(), String> {
    let codes = c
        .select
        .iter()
        .flatten()
        .chain(&c.extend_select)
        .chain(&c.ignore)
        .chain(c.severity.keys())
        .chain(c.per_file_ignores.values().flatten());
    for code in codes {
        check_rule_key(code)?;
    }
    for glob in c.per_file_ignores.keys() {
        globset::Glob::new(glob)
            .map_err(|e| format!("per-file-ignores: bad glob `{glob}`: {e}"))?;
    }
    for glob in c.exclude.iter().flatten().chain(&c.extend_exclude) {
        globset::Glob::new(glob).map_err(|e| format!("exclude: bad glob `{glob}`: {e}"))?;
    }
    if c.probe.count == Some(0) {
        return Err("probe.count must be at least 1".into());
    }
    Ok(())
}

/// A rule code, a rule name, or "ALL".
pub fn check_rule_key(key: &str) -> Result<(), String> {
    if registry::all().iter().any(|r| registry::selects(key, r)) {
        Ok(())
    } else {
        Err(format!("unknown rule `{key}` (see `nnlint rules`)"))
    }
}

/// The closest `nnlint.toml` or `pyproject.toml` with `[tool.nnlint]` at or above `dir`.
pub fn discover(dir: &Path) -> Result<Option<Loaded>, ConfigError> {
    let start = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    };
    for folder in start.ancestors() {
        if let Some(loaded) = in_dir(folder)? {
            return Ok(Some(loaded));
        }
    }
    Ok(None)
}

/// The config file in `dir` itself (`nnlint.toml` first, then `pyproject.toml` with `[tool.nnlint]`).
pub fn in_dir(dir: &Path) -> Result<Option<Loaded>, ConfigError> {
    for name in ["nnlint.toml", "pyproject.toml"] {
        let candidate = dir.join(name);
        if candidate.is_file()
            && let Some(loaded) = read(&candidate)?
        {
            return Ok(Some(loaded));
        }
    }
    Ok(None)
}

impl Loaded {
    /// Codes ignored for `file` by `per-file-ignores`.
    pub fn per_file_ignores(&self, file: &Path) -> Vec<String> {
        let abs = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir()
                    .map(|c| c.join(p))
                    .unwrap_or_else(|_| p.to_path_buf())
            }
        };
        let (file, dir) = (abs(file), abs(&self.dir));
        let rel = file.strip_prefix(&dir).unwrap_or(&file);
        let rel = rel.to_string_lossy().replace('\\', "/");
        let mut out = vec![];
        for (glob, codes) in &self.config.per_file_ignores {
            if let Ok(g) = globset::Glob::new(glob) {
                let m = g.compile_matcher();
                let name = Path::new(&rel)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                if m.is_match(&rel) || (!glob.contains('/') && name.is_some_and(|n| m.is_match(n)))
                {
                    out.extend(codes.iter().cloned());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nnlint.toml");
        std::fs::write(&path, "ignore = [\"NNL001\"]\nignores = []\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("ignores"), "{e}");
    }

    #[test]
    fn unknown_rule_codes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nnlint.toml");
        std::fs::write(&path, "select = [\"NNL999\"]\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("unknown rule `NNL999`"), "{e}");
    }

    #[test]
    fn pyproject_without_section_is_not_a_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        std::fs::write(&path, "[project]\nname = \"x\"\n").unwrap();
        assert!(read(&path).unwrap().is_none());
        std::fs::write(&path, "[tool.nnlint]\nignore = [\"single-unit-softmax\"]\n").unwrap();
        assert_eq!(
            read(&path).unwrap().unwrap().config.ignore,
            ["single-unit-softmax"]
        );
    }

    #[test]
    fn src_folders_are_relative_to_the_config_file_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib/pkg")).unwrap();
        let path = dir.path().join("nnlint.toml");
        std::fs::write(&path, "src = [\"lib\", \".\"]\n").unwrap();
        let loaded = read(&path).unwrap().unwrap();
        let canon = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(loaded.src, Some(vec![canon.join("lib"), canon.clone()]));
        std::fs::write(&path, "src = [\"libs\"]\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("src: `libs` does not exist"), "{e}");
        std::fs::write(&path, "src = [\"lib/*\"]\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("globs are not supported"), "{e}");
        std::fs::write(&path, "src = [\"nnlint.toml\"]\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("is not a folder"), "{e}");
    }

    #[test]
    fn per_file_ignores_match_relative_to_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nnlint.toml");
        std::fs::write(
            &path,
            "[per-file-ignores]\n\"legacy/*.onnx\" = [\"NNL001\"]\n\"*.json\" = [\"NNL001\"]\n",
        )
        .unwrap();
        let loaded = read(&path).unwrap().unwrap();
        assert_eq!(
            loaded.per_file_ignores(&dir.path().join("legacy/a.onnx")),
            ["NNL001"]
        );
        assert!(
            loaded
                .per_file_ignores(&dir.path().join("new/a.onnx"))
                .is_empty()
        );
        assert_eq!(
            loaded.per_file_ignores(&dir.path().join("deep/x/m.json")),
            ["NNL001"]
        );
    }
}
