//! First-party imports: `from models import Net` in `train.py` reads `models.py` from the same
//! project, so a model defined in one file and trained in another is checked as one.
//!
//! A linted file's project root is the nearest folder above it holding `pyproject.toml`,
//! `setup.py`, `setup.cfg` or `.git` (else the file's own folder). Absolute imports are looked up,
//! in order, in the file's folder (Python puts a script's folder first on `sys.path`), the root and
//! `root/src` (the src layout); relative imports from the importing module's package. The run's
//! settings may name the folders instead (config `src`, `--src`: [`LoadOptions::src`]); they then
//! replace the root and its `src/`, as ruff's `src` does. Only files inside those folders are read:
//! third-party packages are the library table's business, never read from disk, and a framework's
//! name (`torch`, `keras`) is never looked up.
//!
//! The run-wide memo tables are keyed by what decides their answer: a lookup by the folder it
//! searched, the import graph's answers by the module and the `src` folders (two config files in one
//! run that name different folders never share an answer).
//!
//! Each module file is read and parsed once per run, whatever the number of files importing it
//! and the threads linting them ([`load`] keeps one parse per path and content hash). Its spans
//! live in a range of their own, `base..base + len` with `base` derived from the path, so a
//! finding in an imported module is located in that module's text ([`crate::ir::Model::locate`]).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use super::syntax::{self, Comment, Stmt};
use crate::load::LoadOptions;

/// Files that mark a project's root folder.
const ROOT_MARKERS: &[&str] = &["pyproject.toml", "setup.py", "setup.cfg", ".git"];
/// Modules one linted file may read through its imports (transitively).
pub const MAX_MODULES: usize = 32;
/// Bytes of imported source one linted file may read.
pub const MAX_IMPORT_BYTES: usize = 4 << 20;
/// A module file larger than this is not read for an import.
const MAX_MODULE_BYTES: u64 = 4 << 20;
/// Folders between a file and its project root that are searched for a root marker.
const MAX_ROOT_SEARCH: usize = 16;

/// One imported module, parsed: spans in `body` and `comments` start at `base`.
pub struct ModuleSource {
    pub path: PathBuf,
    pub text: Arc<str>,
    pub body: Vec<Stmt>,
    pub comments: Vec<Comment>,
    pub base: usize,
}

/// Where one linted file finds its first-party imports.
#[derive(Debug, Clone)]
pub struct Project {
    /// Searched in order for `import a.b`.
    search: Vec<PathBuf>,
    /// The folders a relative import may resolve inside.
    within: Vec<PathBuf>,
    /// The options it was made with: modules it imports find theirs the same way.
    options: LoadOptions,
}

/// What an import names on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// `a/b.py` or `a/b/__init__.py`.
    File(PathBuf),
    /// A folder without `__init__.py` (a namespace package): it has submodules and no body.
    Folder(PathBuf),
}

impl Found {
    /// The folder its submodules are in: the package's folder, none for a plain module.
    pub fn package_dir(&self) -> Option<PathBuf> {
        match self {
            Found::Folder(d) => Some(d.clone()),
            Found::File(f) if f.file_name().is_some_and(|n| n == "__init__.py") => {
                f.parent().map(Path::to_path_buf)
            }
            Found::File(_) => None,
        }
    }
}

impl Project {
    /// The project of a linted file: its folder, then the `src` folders of `options` or else the
    /// root its markers give and that root's `src/`. `None` when the file is not on disk (bytes
    /// named by a path).
    pub fn for_file(file: &Path, options: &LoadOptions) -> Option<Project> {
        if !file.is_file() {
            return None;
        }
        let file = canonical(file)?;
        let dir = file.parent()?.to_path_buf();
        let key = (dir.clone(), options.src.clone());
        if let Some(p) = PROJECTS.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Some(p);
        }
        let folders = match &options.src {
            Some(src) => src.to_vec(),
            None => {
                let root = root_of(&dir);
                vec![root.clone(), root.join("src")]
            }
        };
        let mut search = vec![dir];
        for d in folders {
            if !search.contains(&d) && d.is_dir() {
                search.push(d);
            }
        }
        let project = Project {
            within: search.clone(),
            search,
            options: options.clone(),
        };
        if let Ok(mut m) = PROJECTS.lock() {
            m.insert(key, project.clone());
        }
        Some(project)
    }

    /// The project a module file imported by this one's files sees as its own (a module's
    /// imports are resolved the same whoever imports it): as a script's, for a module in a folder
    /// of scripts (`train.py` beside `models.py` beside `utils.py`, the folder Python puts first
    /// on the path); without its folder for a module of a package (a package's folder is not on
    /// the path: `from typing import Any` in `pkg/config.py` is the standard library, never
    /// `pkg/typing.py`).
    pub fn for_module(&self, module: &Path) -> Option<Project> {
        let mut p = Project::for_file(module, &self.options)?;
        let dir = module.parent()?;
        if dir.join("__init__.py").is_file() {
            p.search.retain(|d| d != dir);
        }
        Some(p)
    }

    /// What keys run-wide answers about this project's modules: the `src` setting.
    pub fn src_key(&self) -> Option<Arc<[PathBuf]>> {
        self.options.src.clone()
    }

    /// The module `dotted` (`models`, `pkg.models`), searched in the project's folders.
    pub fn find(&self, dotted: &str) -> Option<Found> {
        if super::interp::is_framework(dotted) {
            return None;
        }
        self.search.iter().find_map(|d| find_in(d, dotted))
    }

    /// `from ..a.b import c` in the module `from` (`level` dots; `dotted` may be empty).
    pub fn find_relative(&self, from: &Path, level: u32, dotted: &str) -> Option<Found> {
        let mut dir = from.parent()?.to_path_buf();
        for _ in 1..level {
            dir = dir.parent()?.to_path_buf();
        }
        if !self.within.iter().any(|s| dir.starts_with(s)) {
            return None;
        }
        if dotted.is_empty() {
            return Some(package(&dir));
        }
        find_in(&dir, dotted)
    }

    /// The submodule `name` of a package whose folder is `dir`.
    pub fn submodule(&self, dir: &Path, name: &str) -> Option<Found> {
        find_in(dir, name)
    }
}

/// The project of the files of a folder, per `src` setting (made once per folder and run).
static PROJECTS: Memo<FolderKey, Project> = LazyLock::new(Default::default);
/// A folder and the `src` setting.
type FolderKey = (PathBuf, Option<Arc<[PathBuf]>>);

/// The project root of the files in `dir` (looked up once per folder and run: [`PROJECTS`]).
fn root_of(dir: &Path) -> PathBuf {
    dir.ancestors()
        .take(MAX_ROOT_SEARCH)
        .find(|d| ROOT_MARKERS.iter().any(|m| d.join(m).exists()))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.to_path_buf())
}

fn package(dir: &Path) -> Found {
    let init = dir.join("__init__.py");
    if init.is_file() {
        Found::File(init)
    } else {
        Found::Folder(dir.to_path_buf())
    }
}

static CANONICAL_DIRS: Memo<PathBuf, Option<PathBuf>> = LazyLock::new(Default::default);

/// `file` with its folder made canonical (absolute, no symbolic links), the folder looked up once
/// per run: what keys every cache here.
pub fn canonical(file: &Path) -> Option<PathBuf> {
    let name = file.file_name()?;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let known = CANONICAL_DIRS
        .lock()
        .ok()
        .and_then(|c| c.get(&dir).cloned());
    let canon = match known {
        Some(c) => c,
        None => {
            let c = std::fs::canonicalize(&dir).ok();
            if let Ok(mut cache) = CANONICAL_DIRS.lock() {
                cache.insert(dir, c.clone());
            }
            c
        }
    };
    Some(canon?.join(name))
}

static FOUND: Memo<(PathBuf, String), Option<Found>> = LazyLock::new(Default::default);

/// [`lookup`] of `dotted` in `dir`, once per run.
fn find_in(dir: &Path, dotted: &str) -> Option<Found> {
    let key = (dir.to_path_buf(), dotted.to_string());
    if let Some(found) = FOUND.lock().ok().and_then(|f| f.get(&key).cloned()) {
        return found;
    }
    let found = lookup(dir, dotted);
    if let Ok(mut cache) = FOUND.lock() {
        cache.insert(key, found.clone());
    }
    found
}

fn lookup(dir: &Path, dotted: &str) -> Option<Found> {
    let mut path = dir.to_path_buf();
    let parts: Vec<&str> = dotted.split('.').collect();
    if parts.iter().any(|p| !is_identifier(p)) {
        return None;
    }
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let file = path.join(format!("{part}.py"));
        let folder = path.join(part);
        if last && file.is_file() {
            return Some(Found::File(file));
        }
        if !folder.is_dir() {
            return None;
        }
        path = folder;
    }
    Some(package(&path))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

type Slot = Arc<OnceLock<Option<Arc<ModuleSource>>>>;
/// A run-wide memo shared by the threads.
type Memo<K, V> = LazyLock<Mutex<HashMap<K, V>>>;

struct Cache {
    /// By canonical path and content hash.
    parsed: HashMap<(PathBuf, u64), Slot>,
    /// Bases given out, and to which path: two paths never share one.
    bases: HashMap<usize, PathBuf>,
    /// Parses per path in this run (what a test checks: never more than one per content).
    parses: HashMap<PathBuf, usize>,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| {
    Mutex::new(Cache {
        parsed: HashMap::new(),
        bases: HashMap::new(),
        parses: HashMap::new(),
    })
});

/// The module file at `path`, read and parsed once per run and shared by every importer. `None`
/// when it cannot be read, is too large, or is not UTF-8 Python.
pub fn load(path: &Path) -> Option<Arc<ModuleSource>> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_MODULE_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    let key = (path.to_path_buf(), h.finish());
    let slot: Slot = {
        let mut cache = CACHE.lock().ok()?;
        cache.parsed.entry(key).or_default().clone()
    };
    slot.get_or_init(|| parse_module(path, bytes)).clone()
}

fn parse_module(path: &Path, bytes: Vec<u8>) -> Option<Arc<ModuleSource>> {
    let text = String::from_utf8(bytes).ok()?;
    let base = {
        let mut cache = CACHE.lock().ok()?;
        *cache.parses.entry(path.to_path_buf()).or_default() += 1;
        let base = base_for(path, &cache.bases)?;
        cache.bases.insert(base, path.to_path_buf());
        base
    };
    let parsed = syntax::parse(&text, false, &|o| base + o);
    Some(Arc::new(ModuleSource {
        path: path.to_path_buf(),
        text: Arc::from(text),
        body: parsed.body,
        comments: parsed.comments,
        base,
    }))
}

/// Where a module's spans start: a slot of 4 GiB chosen by the path (the same in every run), the
/// next free one if another path holds it. `None` on targets whose offsets cannot hold it.
fn base_for(path: &Path, taken: &HashMap<usize, PathBuf>) -> Option<usize> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    let mut slot = (h.finish() % ((1 << 30) - 1)) as usize + 1;
    loop {
        let base = slot.checked_shl(32).filter(|b| b >> 32 == slot)?;
        match taken.get(&base) {
            Some(p) if p != path => slot += 1,
            _ => return Some(base),
        }
    }
}

/// How many times each module file was parsed for an import in this run.
pub fn parse_counts() -> Vec<(PathBuf, usize)> {
    let Ok(cache) = CACHE.lock() else {
        return vec![];
    };
    let mut out: Vec<(PathBuf, usize)> =
        cache.parses.iter().map(|(p, n)| (p.clone(), *n)).collect();
    out.sort();
    out
}

/// What the import graph says about one module file, read from its text once per run.
#[derive(Clone)]
struct Node {
    /// The text names a framework (`keras`, `tensorflow`, `torch`).
    mentions: bool,
    /// The file's size in bytes.
    bytes: u64,
    /// The first-party module files its import lines name.
    imports: Vec<PathBuf>,
}

/// A run-wide memo of the import graph, per `src` setting ([`LoadOptions::src`]) and module file:
/// the same module may import different files under two settings.
type GraphMemo<V> = LazyLock<Mutex<HashMap<Option<Arc<[PathBuf]>>, HashMap<PathBuf, V>>>>;

static NODES: GraphMemo<Option<Node>> = LazyLock::new(Default::default);
/// Whether an import of a module reads at most [`MAX_MODULES`] modules and [`MAX_IMPORT_BYTES`]
/// (memo of [`Project::import_fits`]).
static FITS: GraphMemo<bool> = LazyLock::new(Default::default);
/// The modules a module reaches (memo of [`Project::reached`]).
static REACHED: GraphMemo<Arc<HashSet<PathBuf>>> = LazyLock::new(Default::default);
/// Whether a module reaches deep-learning code through its imports (memo of
/// [`Project::deep_learning`]).
static REACHES: GraphMemo<bool> = LazyLock::new(Default::default);

fn memo_get<V: Clone>(memo: &GraphMemo<V>, options: &LoadOptions, path: &Path) -> Option<V> {
    memo.lock().ok().and_then(|m| {
        m.get(&options.src)
            .and_then(|by_path| by_path.get(path).cloned())
    })
}

fn memo_put<V>(
    memo: &GraphMemo<V>,
    options: &LoadOptions,
    entries: impl Iterator<Item = (PathBuf, V)>,
) {
    if let Ok(mut m) = memo.lock() {
        m.entry(options.src.clone()).or_default().extend(entries);
    }
}

/// The first-party files `text`'s import lines name, `file` being where the text is: as the
/// linted file resolves them, or (`as_module`) as the module would when imported ([`Project::for_module`]).
fn resolved_imports(
    file: &Path,
    text: &str,
    options: &LoadOptions,
    as_module: bool,
) -> Vec<PathBuf> {
    let project = Project::for_file(file, options);
    let project = match as_module {
        true => project.and_then(|p| p.for_module(file)),
        false => project,
    };
    let Some(project) = project else {
        return vec![];
    };
    let mut out = vec![];
    for (level, dotted, names) in import_lines(text) {
        let found = if level == 0 {
            project.find(&dotted)
        } else {
            project.find_relative(file, level, &dotted)
        };
        // `from pkg import sub`: the names of a package may be its submodules.
        let dir = found.as_ref().and_then(Found::package_dir);
        if let Some(Found::File(p)) = found
            && !out.contains(&p)
        {
            out.push(p);
        }
        if let Some(dir) = &dir {
            for name in &names {
                if let Some(Found::File(p)) = project.submodule(dir, name)
                    && !out.contains(&p)
                {
                    out.push(p);
                }
            }
        }
    }
    out
}

fn node(path: &Path, mentions: fn(&str) -> bool, options: &LoadOptions) -> Option<Node> {
    if let Some(n) = memo_get(&NODES, options, path) {
        return n;
    }
    let node = std::fs::metadata(path)
        .ok()
        .filter(|m| m.len() <= MAX_MODULE_BYTES)
        .and_then(|_| std::fs::read_to_string(path).ok())
        .map(|text| Node {
            mentions: mentions(&text),
            bytes: text.len() as u64,
            imports: resolved_imports(path, &text, options, true),
        });
    memo_put(
        &NODES,
        options,
        std::iter::once((path.to_path_buf(), node.clone())),
    );
    node
}

/// Modules [`Project::deep_learning`] visits from one start before it gives up (and memoises
/// nothing).
const MAX_REACH: usize = 20_000;

impl Project {
    /// Whether the module file `path` names a framework or imports (at any depth) a first-party
    /// module that does. The whole import graph below `path` is searched, so the answer never
    /// depends on which module was asked first: a `true` is memoised for the module asked, a
    /// `false` for every module the search saw (none of them reaches one either).
    pub fn deep_learning(&self, path: &Path, mentions: fn(&str) -> bool) -> bool {
        deep_learning(path, mentions, &self.options)
    }

    /// Whether the module file `path` imports no first-party module (a config module of
    /// constants).
    pub fn is_leaf(&self, path: &Path, mentions: fn(&str) -> bool) -> bool {
        node(path, mentions, &self.options).is_some_and(|n| n.imports.is_empty())
    }

    /// The modules the module file `path` reaches through the imports a module follows (those of
    /// modules that reach deep-learning code, read from its import lines; a leaf imports nothing,
    /// so no cycle passes through one); `path` itself only when it is on an import cycle. Call on
    /// a module whose import fits ([`Project::import_fits`]): the search stays inside its bounded
    /// closure.
    fn reached(&self, path: &Path, mentions: fn(&str) -> bool) -> Arc<HashSet<PathBuf>> {
        if let Some(k) = memo_get(&REACHED, &self.options, path) {
            return k;
        }
        let mut seen: HashSet<PathBuf> = Default::default();
        let mut todo = vec![path.to_path_buf()];
        while let Some(p) = todo.pop() {
            let Some(n) = node(&p, mentions, &self.options) else {
                continue;
            };
            for i in n.imports {
                if seen.len() <= MAX_REACH
                    && !seen.contains(&i)
                    && (i == path || self.deep_learning(&i, mentions))
                {
                    seen.insert(i.clone());
                    if i != path {
                        todo.push(i);
                    }
                }
            }
        }
        let seen = Arc::new(seen);
        memo_put(
            &REACHED,
            &self.options,
            std::iter::once((path.to_path_buf(), seen.clone())),
        );
        seen
    }

    /// The modules on an import cycle with the module file `path`, itself included, sorted by
    /// path; empty when it is on none.
    pub fn cycle_of(&self, path: &Path, mentions: fn(&str) -> bool) -> Vec<PathBuf> {
        let reached = self.reached(path, mentions);
        if !reached.contains(path) {
            return vec![];
        }
        let mut out: Vec<PathBuf> = reached
            .iter()
            .filter(|m| m.as_path() == path || self.reached(m, mentions).contains(path))
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// Whether the module files `a` and `b` are on one import cycle (each reaches the other):
    /// an import between them runs the imported module inside the importing world, as Python
    /// does, wherever the cycle was entered.
    pub fn same_cycle(&self, a: &Path, b: &Path, mentions: fn(&str) -> bool) -> bool {
        self.reached(a, mentions).contains(b) && self.reached(b, mentions).contains(a)
    }

    /// Whether importing the module file `path` reads at most [`MAX_MODULES`] modules and
    /// [`MAX_IMPORT_BYTES`] bytes: the module and, through its import lines, every module it
    /// follows (inside an imported module, those that reach deep-learning code or import nothing
    /// themselves). A property of the module alone, so the same whoever imports it; a module past
    /// the bounds is not read at all (a big framework's internals), never read in part.
    pub fn import_fits(&self, path: &Path, mentions: fn(&str) -> bool) -> bool {
        if let Some(k) = memo_get(&FITS, &self.options, path) {
            return k;
        }
        let mut seen: HashSet<PathBuf> = [path.to_path_buf()].into();
        let mut todo = vec![path.to_path_buf()];
        let mut bytes = 0u64;
        let mut fits = true;
        while let Some(p) = todo.pop() {
            let Some(n) = node(&p, mentions, &self.options) else {
                continue;
            };
            bytes += n.bytes;
            if bytes > MAX_IMPORT_BYTES as u64 {
                fits = false;
                break;
            }
            for i in n.imports {
                if !seen.contains(&i)
                    && (self.deep_learning(&i, mentions) || self.is_leaf(&i, mentions))
                {
                    seen.insert(i.clone());
                    todo.push(i);
                }
            }
            if seen.len() > MAX_MODULES {
                fits = false;
                break;
            }
        }
        memo_put(
            &FITS,
            &self.options,
            std::iter::once((path.to_path_buf(), fits)),
        );
        fits
    }
}

fn deep_learning(path: &Path, mentions: fn(&str) -> bool, options: &LoadOptions) -> bool {
    let known = |p: &Path| memo_get(&REACHES, options, p);
    if let Some(k) = known(path) {
        return k;
    }
    let mut seen: std::collections::HashSet<PathBuf> = [path.to_path_buf()].into();
    let mut todo: Vec<PathBuf> = vec![path.to_path_buf()];
    let mut found = false;
    while let Some(p) = todo.pop() {
        match known(&p) {
            Some(true) => {
                found = true;
                break;
            }
            // Nothing below it reaches one.
            Some(false) => continue,
            None => {}
        }
        let Some(node) = node(&p, mentions, options) else {
            continue;
        };
        if node.mentions {
            found = true;
            break;
        }
        for i in node.imports {
            if seen.insert(i.clone()) {
                todo.push(i);
            }
        }
        if seen.len() > MAX_REACH {
            return false;
        }
    }
    if found {
        memo_put(
            &REACHES,
            options,
            std::iter::once((path.to_path_buf(), true)),
        );
    } else {
        memo_put(&REACHES, options, seen.into_iter().map(|p| (p, false)));
    }
    found
}

/// Whether a file that names no framework itself imports a first-party module that reaches one
/// ([`Project::deep_learning`]): `train.py` doing `from models import build_model`. Reads import
/// lines as text; nothing is parsed. `mentions` is the framework test the file failed.
pub fn imports_deep_learning(
    file: &Path,
    text: &str,
    mentions: fn(&str) -> bool,
    options: &LoadOptions,
) -> bool {
    let Some(file) = canonical(file) else {
        return false;
    };
    resolved_imports(&file, text, options, false)
        .iter()
        .any(|m| *m != file && deep_learning(m, mentions, options))
}

/// The modules a file's import statements name, as (dots, dotted name, the names imported from
/// it), read line by line: `import a.b as c, d`, `from .x import y`, `from . import y` (the
/// package), names in parentheses over several lines. A notebook's lines are JSON strings: the
/// quote before them is skipped, names end at the first character that cannot be in one.
fn import_lines(text: &str) -> Vec<(u32, String, Vec<String>)> {
    let clean = |w: &str| -> String {
        w.chars()
            .take_while(|&c| c.is_alphanumeric() || c == '_' || c == '.')
            .collect()
    };
    let mut out = vec![];
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start().trim_start_matches('"');
        if let Some(rest) = line.strip_prefix("import ") {
            for part in rest.split(',') {
                let name = clean(part.trim_start());
                if !name.is_empty() {
                    out.push((0, name, vec![]));
                }
            }
        } else if let Some(rest) = line.strip_prefix("from ") {
            let mut words = rest.split_whitespace();
            let module = words.next().unwrap_or("");
            if words.next() != Some("import") {
                continue;
            }
            let level = module.chars().take_while(|&c| c == '.').count() as u32;
            let dotted = clean(module.trim_start_matches('.'));
            let mut names = words.collect::<Vec<_>>().join(" ");
            // `from m import (\n    a,\n    b,\n)`: the names up to the closing parenthesis.
            if names.starts_with('(') && !names.contains(')') {
                for more in lines.by_ref().take(256) {
                    let more = more.trim().trim_start_matches('"');
                    names.push(',');
                    names.push_str(more);
                    if more.contains(')') {
                        break;
                    }
                }
            }
            let names: Vec<String> = names
                .split(',')
                .map(|n| clean(n.trim().trim_start_matches('(').trim_start()))
                .filter(|n| !n.is_empty())
                .collect();
            if dotted.is_empty() && level == 0 {
                continue;
            }
            out.push((level, dotted, names));
        }
    }
    out
}
