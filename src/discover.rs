//! Which files a run lints, the way ruff decides: every path named on the command line, and the model
//! files under each named folder (walked in sorted order), minus what is excluded: ruff's default
//! list of tool, cache and environment folders (plus `build`, `env`, `target` and `__pycache__`) or the
//! config's `exclude`, `extend-exclude`, hidden folders, and what `.gitignore` / `.ignore` files list.
//! A named file is linted even when a pattern matches it, unless `--force-exclude` is given (as
//! pre-commit passes every changed file by name).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::{self, ConfigError, Loaded};
use crate::load;

/// Folder and file names left out of every walk unless the config's `exclude` replaces the list:
/// ruff's defaults, plus `build`, `env`, `target` and `__pycache__` (build output, a virtualenv's
/// other usual name, Rust's build folder and Python's bytecode cache).
pub const DEFAULT_EXCLUDES: &[&str] = &[
    ".bzr",
    ".direnv",
    ".eggs",
    ".env",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pycache__",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "env",
    "node_modules",
    "site-packages",
    "target",
    "venv",
];

/// A file to lint, and whether the user named it (a named file that turns out not to be a model is
/// reported as skipped; a discovered one is dropped).
#[derive(Clone, Debug)]
pub struct Target {
    pub path: PathBuf,
    pub explicit: bool,
}

/// How paths are expanded; the command line's `--exclude` etc.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--exclude`: replaces the config's `exclude` and the default list.
    pub exclude: Option<Vec<String>>,
    /// `--extend-exclude`: added to whatever `exclude` is.
    pub extend_exclude: Vec<String>,
    /// Apply the exclusions to paths named on the command line too.
    pub force_exclude: bool,
    /// `--no-respect-gitignore` sets `Some(false)`; `None` leaves it to the config (default true).
    pub respect_gitignore: Option<bool>,
    /// `--config FILE`: this file's `exclude` settings everywhere.
    pub config: Option<PathBuf>,
    /// `--isolated`: no config file.
    pub isolated: bool,
}

/// A path an exclusion left out: a pruned folder is listed once, not each file in it.
#[derive(Clone, Debug)]
pub struct Excluded {
    pub path: PathBuf,
    /// The pattern and where it came from, e.g. "`venv` (default exclude)".
    pub why: String,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub targets: Vec<Target>,
    pub excluded: Vec<Excluded>,
}

/// Expands `paths` into the files to lint, in command-line order (a folder's files sorted). A broken
/// config file met on the way is an error.
pub fn discover(paths: &[PathBuf], options: &Options) -> Result<Discovered, ConfigError> {
    let excluder = Arc::new(Excluder::new(options)?);
    let mut out = Discovered::default();
    for p in paths {
        let abs = absolute(p);
        if options.force_exclude
            && let Some(why) = excluder.named_path_excluded(&abs)?
        {
            out.excluded.push(Excluded {
                path: p.clone(),
                why,
            });
            continue;
        }
        if !p.is_dir() {
            out.targets.push(Target {
                path: p.clone(),
                explicit: true,
            });
            continue;
        }
        let respect = match options.respect_gitignore {
            Some(r) => r,
            None => excluder
                .config_for_dir(&abs)?
                .and_then(|c| c.config.respect_gitignore)
                .unwrap_or(true),
        };
        let mut builder = ignore::WalkBuilder::new(p);
        builder
            .standard_filters(respect)
            .hidden(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b));
        let pruned: Arc<Mutex<Vec<Excluded>>> = Arc::default();
        let (ex, record) = (Arc::clone(&excluder), Arc::clone(&pruned));
        builder.filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let name = entry.file_name().to_string_lossy();
            if is_dir && name.starts_with('.') && name.len() > 1 {
                return false;
            }
            if !is_dir && !load::is_model_path(entry.path()) {
                return true;
            }
            match ex.excluded(&absolute(entry.path())) {
                Some(why) => {
                    if let Ok(mut r) = record.lock() {
                        r.push(Excluded {
                            path: tidy(entry.path()),
                            why,
                        });
                    }
                    false
                }
                None => true,
            }
        });
        for entry in builder.build().flatten() {
            if entry.file_type().is_some_and(|t| t.is_file()) && load::is_model_path(entry.path()) {
                out.targets.push(Target {
                    path: tidy(entry.path()),
                    explicit: false,
                });
            }
        }
        excluder.take_error()?;
        if let Ok(mut r) = pruned.lock() {
            out.excluded.append(&mut r);
        }
    }
    Ok(out)
}

/// A walked path without the `./` a walk of `.` puts in front.
fn tidy(path: &Path) -> PathBuf {
    match path.strip_prefix(".") {
        Ok(rest) if !rest.as_os_str().is_empty() => rest.to_path_buf(),
        _ => path.to_path_buf(),
    }
}

/// `path` made absolute against the working directory, with `.` and `..` components resolved
/// lexically (no symlinks are followed).
pub fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// One compiled exclusion list. Each pattern is matched against a path's file name and, anchored at
/// its base folder, against the whole path (as ruff does).
struct Matcher {
    set: GlobSet,
    /// For each glob in `set`, the pattern as written and where it came from.
    why: Vec<String>,
}

impl Matcher {
    fn build(lists: &[(&[String], Option<&Path>, &str)]) -> Result<Matcher, String> {
        let mut builder = GlobSetBuilder::new();
        let mut why = vec![];
        for (patterns, base, origin) in lists {
            for pattern in patterns.iter() {
                let trimmed = pattern.trim_end_matches('/');
                let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
                let glob = Glob::new(trimmed).map_err(|e| format!("bad glob `{pattern}`: {e}"))?;
                builder.add(glob);
                why.push(format!("`{pattern}` ({origin})"));
                if let Some(base) = base
                    && !trimmed.is_empty()
                {
                    let anchored = if Path::new(trimmed).is_absolute() {
                        trimmed.to_string()
                    } else {
                        format!(
                            "{}/{trimmed}",
                            globset::escape(&slashes(base)).trim_end_matches('/')
                        )
                    };
                    let glob =
                        Glob::new(&anchored).map_err(|e| format!("bad glob `{pattern}`: {e}"))?;
                    builder.add(glob);
                    why.push(format!("`{pattern}` ({origin})"));
                }
            }
        }
        let set = builder.build().map_err(|e| e.to_string())?;
        Ok(Matcher { set, why })
    }

    fn matches(&self, abs: &Path) -> Option<String> {
        let full = slashes(abs);
        let name = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hit = self
            .set
            .matches(&full)
            .into_iter()
            .chain(self.set.matches(&name))
            .min()?;
        Some(self.why[hit].clone())
    }
}

fn slashes(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// The exclusions in force in each folder: those of the folder's closest config file (cached per
/// folder), or of `--config`, or the defaults; the command line's on top.
struct Excluder {
    cli_exclude: Option<Vec<String>>,
    cli_extend: Vec<String>,
    cwd: PathBuf,
    /// `Some` when one config (or none) applies everywhere: `--config` / `--isolated`.
    fixed: Option<Option<Arc<Loaded>>>,
    by_dir: Mutex<HashMap<PathBuf, Option<Arc<Loaded>>>>,
    matchers: Mutex<HashMap<Option<PathBuf>, Arc<Matcher>>>,
    error: Mutex<Option<ConfigError>>,
}

impl Excluder {
    fn new(options: &Options) -> Result<Excluder, ConfigError> {
        let fixed = if options.isolated {
            Some(None)
        } else if let Some(path) = &options.config {
            let loaded = config::read(path)?.ok_or_else(|| ConfigError {
                path: path.display().to_string(),
                message: "has no [tool.nnlint] section".into(),
            })?;
            Some(Some(Arc::new(loaded)))
        } else {
            None
        };
        let excluder = Excluder {
            cli_exclude: options.exclude.clone(),
            cli_extend: options.extend_exclude.clone(),
            cwd: absolute(Path::new(".")),
            fixed,
            by_dir: Mutex::default(),
            matchers: Mutex::default(),
            error: Mutex::default(),
        };
        // Bad command-line globs are reported before anything is walked.
        excluder.matcher(None)?;
        Ok(excluder)
    }

    /// The config file that governs `dir` (absolute): its own, else its parent's.
    fn config_for_dir(&self, dir: &Path) -> Result<Option<Arc<Loaded>>, ConfigError> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        if let Some(c) = self.by_dir.lock().ok().and_then(|m| m.get(dir).cloned()) {
            return Ok(c);
        }
        let found = match config::in_dir(dir)? {
            Some(loaded) => Some(Arc::new(loaded)),
            None => match dir.parent() {
                Some(parent) => self.config_for_dir(parent)?,
                None => None,
            },
        };
        if let Ok(mut m) = self.by_dir.lock() {
            m.insert(dir.to_path_buf(), found.clone());
        }
        Ok(found)
    }

    fn matcher(&self, config: Option<&Loaded>) -> Result<Arc<Matcher>, ConfigError> {
        let key = config.map(|c| c.path.clone());
        if let Some(m) = self.matchers.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(m);
        }
        let defaults: Vec<String> = DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect();
        let config_dir = config.map(|c| absolute(&c.dir));
        let none = vec![];
        let config_name = config.map_or(String::new(), |c| c.path.display().to_string());
        let config_origin = format!("exclude in {config_name}");
        let config_extend_origin = format!("extend-exclude in {config_name}");
        let mut lists: Vec<(&[String], Option<&Path>, &str)> = vec![];
        match (
            &self.cli_exclude,
            config.and_then(|c| c.config.exclude.as_ref()),
        ) {
            (Some(cli), _) => lists.push((cli, Some(&self.cwd), "--exclude")),
            (None, Some(file)) => lists.push((file, config_dir.as_deref(), &config_origin)),
            (None, None) => lists.push((&defaults, None, "default exclude")),
        }
        lists.push((
            config.map_or(&none, |c| &c.config.extend_exclude),
            config_dir.as_deref(),
            &config_extend_origin,
        ));
        lists.push((&self.cli_extend, Some(&self.cwd), "--extend-exclude"));
        let matcher = Matcher::build(&lists).map_err(|message| ConfigError {
            path: if config.is_some() {
                config_name.clone()
            } else {
                "the command line".into()
            },
            message,
        })?;
        let matcher = Arc::new(matcher);
        if let Ok(mut m) = self.matchers.lock() {
            m.insert(key, Arc::clone(&matcher));
        }
        Ok(matcher)
    }

    /// Why a walked path (absolute) is excluded, if it is; a config error is kept for later.
    fn excluded(&self, abs: &Path) -> Option<String> {
        let dir = abs.parent().unwrap_or(abs);
        let result = self
            .config_for_dir(dir)
            .and_then(|c| self.matcher(c.as_deref()))
            .map(|m| m.matches(abs));
        match result {
            Ok(why) => why,
            Err(e) => {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(e);
                }
                Some("a broken config file".into())
            }
        }
    }

    fn take_error(&self) -> Result<(), ConfigError> {
        match self.error.lock().ok().and_then(|mut e| e.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `--force-exclude` on a named path: the path itself or one of its folders below the working
    /// directory (or, outside it, below the governing config file's folder) is excluded.
    fn named_path_excluded(&self, abs: &Path) -> Result<Option<String>, ConfigError> {
        let dir = abs.parent().unwrap_or(abs);
        if abs == self.cwd {
            return Ok(None);
        }
        let stop = if abs.starts_with(&self.cwd) {
            Some(self.cwd.clone())
        } else {
            self.config_for_dir(dir)?.map(|c| absolute(&c.dir))
        };
        for candidate in abs.ancestors() {
            if stop.as_ref().is_none_or(|s| candidate == s.as_path()) && candidate != abs {
                break;
            }
            if let Some(why) = self.excluded(candidate) {
                self.take_error()?;
                return Ok(Some(why));
            }
        }
        self.take_error()?;
        Ok(None)
    }
}

/// For `--show-settings`: the walk's settings that govern `path` (its folder's closest config file,
/// then the command line), in the config file's key names, and whether a walk leaves `path` out.
pub fn exclusions_for(
    path: &Path,
    options: &Options,
) -> Result<Vec<(String, String)>, ConfigError> {
    let excluder = Excluder::new(options)?;
    let abs = absolute(path);
    let dir = if abs.is_dir() {
        abs.clone()
    } else {
        abs.parent().map_or(abs.clone(), Path::to_path_buf)
    };
    let config = excluder.config_for_dir(&dir)?;
    let file = config.as_deref().map(|c| &c.config);
    let name = config
        .as_deref()
        .map_or(String::new(), |c| c.path.display().to_string());
    let list = |items: &[String]| format!("[{}]", items.join(", "));
    let exclude = match (&options.exclude, file.and_then(|c| c.exclude.as_ref())) {
        (Some(cli), _) => format!("{} (--exclude)", list(cli)),
        (None, Some(own)) => format!("{} ({name})", list(own)),
        (None, None) => format!(
            "the default list ({})",
            DEFAULT_EXCLUDES.to_vec().join(", ")
        ),
    };
    let mut extend: Vec<String> = file.map_or(vec![], |c| c.extend_exclude.clone());
    extend.extend(options.extend_exclude.iter().cloned());
    let respect = match options.respect_gitignore {
        Some(r) => format!("{r} (--no-respect-gitignore)"),
        None => file
            .and_then(|c| c.respect_gitignore)
            .map_or("true (default)".to_string(), |r| format!("{r} ({name})")),
    };
    let excluded = match excluder.named_path_excluded(&abs)? {
        Some(why) => {
            format!("yes, by {why} (walks skip it; named, it is linted without --force-exclude)")
        }
        None => "no".to_string(),
    };
    Ok(vec![
        ("exclude".into(), exclude),
        ("extend-exclude".into(), list(&extend)),
        ("respect-gitignore".into(), respect),
        ("excluded".into(), excluded),
    ])
}

/// Every named path as it is, folders expanded with the default exclusions and the config files
/// found on the way (errors in them are left for linting to report).
pub fn collect_paths(paths: &[PathBuf]) -> Vec<Target> {
    match discover(paths, &Options::default()) {
        Ok(d) => d.targets,
        Err(_) => discover(
            paths,
            &Options {
                isolated: true,
                ..Options::default()
            },
        )
        .map(|d| d.targets)
        .unwrap_or_default(),
    }
}
