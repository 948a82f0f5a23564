//! First-party imports in the interpreter: `import models`, `from .nets import Net`, `from pkg
//! import *`. What a module binds is a [`Value::Module`]; its classes and functions run with its
//! own globals, whoever calls them. Finding the file and parsing it once per run is `project.rs`'s
//! business.
//!
//! A module's body runs once per run, in a world of its own ([`summary_of`]), and what that run
//! gives ([`Ready`]: the names, the classes, the module instances, the gaps, the frameworks) is
//! shared by every file and thread that imports it. A cycle of modules runs once, from its first
//! module by path. A module whose body builds layers, models or tensors when imported is not
//! shared (those records belong to the importing file's models): it runs inside each importing
//! world, as Python would run it there.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::thread::ThreadId;

use super::torch::{InstanceRec, Instances, TorchClass};
use super::{Env, Frame, Gap, ModuleVal, Value, World};
use crate::ir::Span;
use crate::load::python::project::{self, Found, ModuleSource, Project};
use crate::load::python::syntax::{Alias, FunctionDef};

/// A first-party import the interpreter did not read: a limit was reached, or the file could not
/// be read as UTF-8 Python. What its names stood for is unknown.
pub const IMPORT_NOT_READ: &str = "a first-party import nnlint did not read";

impl World {
    /// `import a.b` / `import a.b as m` of a first-party module: the value bound (the top package,
    /// or with `as` the module itself); `None` when `a` is not first-party.
    pub(super) fn import_first_party(
        &mut self,
        dotted: &str,
        aliased: bool,
        span: Span,
    ) -> Option<Value> {
        let project = self.project.as_ref()?;
        let top = dotted.split('.').next().unwrap_or(dotted);
        let found_top = project.find(top)?;
        let top_module = self.import_module(top, &found_top, span);
        if !aliased {
            return Some(top_module.map_or(Value::Unknown, Value::Module));
        }
        let mut m = top_module?;
        for part in dotted.split('.').skip(1) {
            match self.module_attr(&m, part, span) {
                Value::Module(sub) => m = sub,
                _ => return Some(Value::Unknown),
            }
        }
        Some(Value::Module(m))
    }

    /// The module of `from <level dots><module> import ...`, when it is first-party.
    pub(super) fn import_from(
        &mut self,
        module: Option<&str>,
        level: u32,
        span: Span,
    ) -> Option<Arc<ModuleVal>> {
        let project = self.project.as_ref()?;
        let found = if level == 0 {
            project.find(module?)?
        } else {
            let from = self.files.last()?;
            project.find_relative(from, level, module.unwrap_or(""))?
        };
        let name = module.unwrap_or("__init__").to_string();
        self.import_module(&name, &found, span)
    }

    /// Binds the names of `from m import a, b as c, *`.
    pub(super) fn bind_from(
        &mut self,
        m: &Arc<ModuleVal>,
        names: &[Alias],
        frame: &mut Frame,
        span: Span,
    ) {
        for a in names {
            if a.name == "*" {
                let mut public: Vec<(&String, &Value)> =
                    m.env.iter().filter(|(k, _)| !k.starts_with('_')).collect();
                public.sort_by(|x, y| x.0.cmp(y.0));
                for (k, v) in public {
                    frame.locals.insert(k.clone(), v.clone());
                }
                continue;
            }
            let v = self.module_attr(m, &a.name, span);
            let n = a.asname.as_ref().unwrap_or(&a.name);
            frame.locals.insert(n.clone(), v);
        }
    }

    /// `m.attr`: a name the module's body bound, else its submodule `attr`.
    pub(super) fn module_attr(&mut self, m: &Arc<ModuleVal>, attr: &str, span: Span) -> Value {
        if let Some(v) = m.env.get(attr) {
            return v.clone();
        }
        let found = match (&m.dir, &self.project) {
            (Some(dir), Some(p)) => p.submodule(dir, attr),
            _ => None,
        };
        match found {
            Some(f) => self
                .import_module(attr, &f, span)
                .map_or(Value::Unknown, Value::Module),
            None => Value::Unknown,
        }
    }

    /// The module at `found`: read from its run-wide summary when its body builds nothing
    /// ([`summary_of`]), else its body run in this world the first time it is imported. An import
    /// cycle sees `None` for the module being imported, like Python's partly run module.
    fn import_module(&mut self, name: &str, found: &Found, span: Span) -> Option<Arc<ModuleVal>> {
        let key = match found {
            Found::File(p) | Found::Folder(p) => p.clone(),
        };
        // Inside an imported module, only imports that can matter to a model are followed: modules
        // that reach deep-learning code, and leaves (a config module of constants). A utility
        // module's own utility imports stay unknown, so a file reads a bounded part of a big tree.
        // Decided by the module alone (before what this world read), so output never depends on
        // the order files are linted in.
        let mentions = crate::load::python::mentions_framework;
        if let Found::File(path) = found
            && self.in_imported_module()
            && let Some(project) = &self.project
            && !project.deep_learning(path, mentions)
            && !project.is_leaf(path, mentions)
        {
            return None;
        }
        if let Some(state) = self.modules.get(&key) {
            return state.clone();
        }
        let dir = found.package_dir();
        let Found::File(path) = found else {
            let m = Arc::new(ModuleVal {
                dir,
                env: Arc::new(Env::new()),
            });
            self.modules.insert(key, Some(m.clone()));
            return Some(m);
        };
        // A module whose imports reach past the bounds is not read at all: the same for every
        // importer, and a file reads a bounded part of a big tree.
        if self
            .project
            .as_ref()
            .is_some_and(|p| !p.import_fits(path, mentions))
        {
            self.modules.insert(key, None);
            self.gap(span, IMPORT_NOT_READ);
            self.unread_deep_learning |= self
                .project
                .as_ref()
                .is_some_and(|p| p.deep_learning(path, mentions));
            return None;
        }
        // A module on an import cycle with the module importing it runs inside this world: what
        // it sees of the other depends on where the cycle was entered, as in Python. Entered from
        // outside the cycle, its run-wide summary holds the cycle as run from it. The linted file
        // runs as `__main__`, a module of its own even when the cycle imports it back by name.
        let importer = self.files.last().filter(|_| self.in_imported_module());
        let shared = self.project.as_ref().filter(|p| {
            importer.is_none_or(|from| from == path || !p.same_cycle(path, from, mentions))
        });
        if let Some(ready) = shared.and_then(|p| summary_of(path, p)) {
            self.thaw(&ready);
            self.modules.insert(key, Some(ready.module.clone()));
            return Some(ready.module.clone());
        }
        self.modules.insert(key.clone(), None);
        // Modules run inside one world are bounded like an import (a chain of them is too: each
        // is one of them).
        if self.inline_modules >= project::MAX_MODULES {
            self.gap(span, IMPORT_NOT_READ);
            return None;
        }
        let Some(source) = project::load(path) else {
            self.gap(span, IMPORT_NOT_READ);
            return None;
        };
        if self.import_bytes + source.text.len() > project::MAX_IMPORT_BYTES {
            self.gap(span, IMPORT_NOT_READ);
            return None;
        }
        self.import_bytes += source.text.len();
        self.inline_modules += 1;
        let env = self.run_module_body(name, &source);
        let m = Arc::new(ModuleVal { dir, env });
        self.modules.insert(key, Some(m.clone()));
        Some(m)
    }

    /// Runs an imported module's body in this world (its main guard does not run) and returns the
    /// names it bound; its functions and classes keep them as their home.
    fn run_module_body(&mut self, name: &str, source: &Arc<ModuleSource>) -> Arc<Env> {
        count_run(&source.path);
        if !self.imported.iter().any(|s| Arc::ptr_eq(s, source)) {
            self.imported.push(source.clone());
        }
        let mut frame = Frame::new(Env::new());
        // Not the main module: its `if __name__ == "__main__":` block does not run.
        frame
            .locals
            .insert("__name__".into(), Value::Str(name.to_string()));
        self.files.push(source.path.clone());
        let saved = (self.call_depth, self.block_depth);
        (self.call_depth, self.block_depth) = (0, 0);
        self.exec_block(&source.body, &mut frame, None);
        (self.call_depth, self.block_depth) = saved;
        self.files.pop();
        let env = Arc::new(frame.locals);
        for v in env.values() {
            let at = match v {
                Value::Function(f) => Arc::as_ptr(f) as *const (),
                Value::Class(c) => Arc::as_ptr(&c.def) as *const (),
                _ => continue,
            };
            // A name the module imported from another keeps that one's home.
            self.home.entry(at).or_insert_with(|| env.clone());
        }
        env
    }

    /// Adds what a module's run told its world to this one, as running it here would have
    /// (each item once: two modules importing a third both carry that one's).
    fn thaw(&mut self, r: &Ready) {
        for c in &r.classes {
            if !self.torch_classes.iter().any(|k| Arc::ptr_eq(k, c)) {
                self.torch_classes.push(c.clone());
            }
        }
        for g in &r.gaps {
            if !self.gaps.contains(g) {
                self.gap(g.span, g.reason);
            }
        }
        for f in &r.frameworks {
            if !self.frameworks.contains(f) {
                self.frameworks.push(f.clone());
            }
        }
        for f in &r.star_imports {
            if !self.star_imports.contains(f) {
                self.star_imports.push(f.clone());
            }
        }
        for s in &r.imported {
            if !self.imported.iter().any(|k| Arc::ptr_eq(k, s)) {
                self.imported.push(s.clone());
            }
        }
        for (at, env) in &r.home {
            self.home
                .entry(*at as *const ())
                .or_insert_with(|| env.clone());
        }
        for (at, env) in &r.closures {
            self.closures
                .entry(*at as *const FunctionDef)
                .or_insert_with(|| env.clone());
        }
        self.ran
            .extend(r.ran.iter().map(|&at| at as *const FunctionDef));
        for (i, rec) in &r.instances {
            if self.instances.adopt(*i, rec, self.clock + 1) {
                self.clock += 1;
            }
        }
        for (i, b) in &r.bound_instances {
            self.bound_instances.entry(*i).or_insert_with(|| b.clone());
        }
        self.trains |= r.trains;
        self.unread_deep_learning |= r.unread_deep_learning;
        self.class_scoring = self.class_scoring.or(r.class_scoring);
    }

    /// Whether statements of an imported module (not the linted file) run now.
    pub(super) fn in_imported_module(&self) -> bool {
        self.as_module || self.files.len() > 1
    }

    /// The module globals a class defined in an imported module runs with.
    pub(super) fn home_of(&self, at: *const ()) -> Option<Arc<Env>> {
        self.home.get(&at).cloned()
    }
}

/// What running a module's body once in a world of its own gave, for every world that imports it.
#[derive(Clone)]
pub(super) struct Ready {
    module: Arc<ModuleVal>,
    classes: Vec<Arc<TorchClass>>,
    gaps: Vec<Gap>,
    frameworks: Vec<String>,
    star_imports: Vec<String>,
    /// The module's source, then those of the modules it read, in the order read.
    imported: Vec<Arc<ModuleSource>>,
    /// Addresses of functions and classes (parsed once per run, so the same in every world), with
    /// the globals they run with; nested functions with the names they close over; methods run.
    home: Vec<(usize, Arc<Env>)>,
    closures: Vec<(usize, Arc<Env>)>,
    ran: Vec<usize>,
    /// The instances its body made (and those of the modules it read), at their indices, and the
    /// names it bound them to.
    instances: Vec<(usize, InstanceRec)>,
    bound_instances: Vec<(usize, (String, bool))>,
    trains: bool,
    unread_deep_learning: bool,
    class_scoring: Option<Span>,
}

/// A module's run-wide summary is keyed by its parse (one per path and content) and the `src`
/// folders its imports were looked up in.
type Key = (usize, Option<Arc<[PathBuf]>>);
/// The same module by file and `src` folders (the file is read once per run).
type PathKey = (PathBuf, Option<Arc<[PathBuf]>>);

enum Slot {
    Computing(ThreadId),
    /// `None`: the module runs in each importing world.
    Done(Option<Arc<Ready>>),
}

#[derive(Default)]
struct Table {
    slots: HashMap<Key, Slot>,
    /// The module each thread waits for another thread to finish.
    waiting: HashMap<ThreadId, Key>,
    /// Module bodies run in this run, by file: what a test counts.
    runs: HashMap<PathBuf, usize>,
    /// The summaries done, by file and `src` setting.
    by_path: HashMap<PathKey, Option<Arc<Ready>>>,
}

static TABLE: LazyLock<(Mutex<Table>, Condvar)> = LazyLock::new(Default::default);

thread_local! {
    /// Summaries being computed by this thread, outermost first, and whether each reached an
    /// import cycle.
    static STACK: RefCell<Vec<(Key, bool)>> = const { RefCell::new(vec![]) };
}

/// Summaries computed inside one another on one thread before the next is run in its importer.
const MAX_NESTED: usize = 16;

/// Marks the summaries this thread computes from `from` on as reaching a cycle.
fn mark_cyclic(from: usize) {
    STACK.with(|s| {
        for e in s.borrow_mut().iter_mut().skip(from) {
            e.1 = true;
        }
    });
}

/// The run-wide summary of the module file `path` imported in `project`, computed the first time
/// any thread asks; `None` when its body must run in the importing world (it builds something,
/// reaches an import cycle, or cannot be read).
fn summary_of(path: &Path, project: &Project) -> Option<Arc<Ready>> {
    let by_path = (path.to_path_buf(), project.src_key());
    if let Some(done) = TABLE.0.lock().ok()?.by_path.get(&by_path) {
        // Read once in this run: the file is not read again.
        return done.clone();
    }
    // A cycle of modules runs once, from its first module (by path), whichever of them is
    // imported first: each module of it is read from that run.
    let cycle = project.cycle_of(path, crate::load::python::mentions_framework);
    if let Some(entry) = cycle.first().filter(|e| e.as_path() != path) {
        summary_of(entry, project);
        if let Some(done) = TABLE.0.lock().ok()?.by_path.get(&by_path) {
            return done.clone();
        }
    }
    let source = project::load(path)?;
    let key: Key = (Arc::as_ptr(&source) as usize, project.src_key());
    let (at, depth) = STACK.with(|s| {
        let s = s.borrow();
        (s.iter().position(|(k, _)| *k == key), s.len())
    });
    if let Some(at) = at {
        // A cycle on this thread: the modules from this one up reach it.
        mark_cyclic(at);
        return None;
    }
    if depth >= MAX_NESTED {
        mark_cyclic(0);
        return None;
    }
    let me = std::thread::current().id();
    let (lock, changed) = &*TABLE;
    {
        let mut t = lock.lock().ok()?;
        loop {
            match t.slots.get(&key) {
                Some(Slot::Done(r)) => return r.clone(),
                Some(Slot::Computing(owner)) => {
                    if waits_on(&t, *owner, me) {
                        // Another thread computes this module and waits (through others) for one
                        // this thread computes: a cycle across threads.
                        mark_cyclic(0);
                        return None;
                    }
                    t.waiting.insert(me, key.clone());
                    t = changed.wait(t).ok()?;
                    t.waiting.remove(&me);
                }
                None => {
                    t.slots.insert(key.clone(), Slot::Computing(me));
                    break;
                }
            }
        }
    }
    let mut guard = Computing {
        key,
        path: by_path,
        done: None,
    };
    STACK.with(|s| s.borrow_mut().push((guard.key.clone(), false)));
    let (done, others) = compute(&source, project, &cycle);
    // What the guard stores when dropped: nothing for a run that reached a cycle on this thread.
    let cyclic = STACK.with(|s| s.borrow().last().is_some_and(|(_, c)| *c));
    let result = done.filter(|_| !cyclic);
    guard.done = Some(result.clone());
    if result.is_some()
        && let Ok(mut t) = TABLE.0.lock()
    {
        for (member, ready) in others {
            let k = (member, project.src_key());
            t.by_path.entry(k).or_insert(Some(ready));
        }
    }
    drop(guard);
    result
}

/// Whether `owner` waits, through the threads it waits for, on `me`.
fn waits_on(t: &Table, mut owner: ThreadId, me: ThreadId) -> bool {
    for _ in 0..=t.waiting.len() {
        if owner == me {
            return true;
        }
        let Some(k) = t.waiting.get(&owner) else {
            return false;
        };
        match t.slots.get(k) {
            Some(Slot::Computing(o)) => owner = *o,
            _ => return false,
        }
    }
    false
}

/// A summary this thread computes: when dropped (also by a panic), its slot is filled, waiting
/// threads are woken and the thread's stack entry is removed.
struct Computing {
    key: Key,
    path: PathKey,
    done: Option<Option<Arc<Ready>>>,
}

impl Drop for Computing {
    fn drop(&mut self) {
        let cyclic = STACK.with(|s| s.borrow_mut().pop().is_none_or(|(_, c)| c));
        let result = match self.done.take() {
            Some(r) if !cyclic => r,
            _ => None,
        };
        let (lock, changed) = &*TABLE;
        if let Ok(mut t) = lock.lock() {
            t.by_path.insert(self.path.clone(), result.clone());
            t.slots.insert(self.key.clone(), Slot::Done(result));
        }
        changed.notify_all();
    }
}

/// A module of a cycle that ran in the cycle's world, and what it gives.
type Member = (PathBuf, Arc<Ready>);

/// Runs the module's body in a world of its own; `None` when the run must be repeated in each
/// importing world. With it, what the modules of `cycle` that ran in that world give.
fn compute(
    source: &Arc<ModuleSource>,
    project: &Project,
    cycle: &[PathBuf],
) -> (Option<Arc<Ready>>, Vec<Member>) {
    let mut w = World {
        project: project.for_module(&source.path),
        as_module: true,
        instances: Instances::based(source.base),
        ..World::default()
    };
    let path = &source.path;
    let name = match path.file_stem().and_then(|s| s.to_str()) {
        Some("__init__") => path.parent().and_then(|d| d.file_name()),
        _ => path.file_stem(),
    }
    .and_then(|s| s.to_str())
    .unwrap_or("module")
    .to_string();
    // The cycle back to it sees nothing of it (Python's partly run module).
    w.modules.insert(path.clone(), None);
    let env = w.run_module_body(&name, source);
    if w.out_of_budget() || !w.built_nothing() {
        return (None, vec![]);
    }
    let members: Vec<(PathBuf, Arc<ModuleVal>)> = cycle
        .iter()
        .filter(|m| *m != path)
        .filter_map(|m| Some((m.clone(), w.modules.get(m)?.clone()?)))
        .collect();
    let dir = Found::File(path.clone()).package_dir();
    let ready = Ready {
        module: Arc::new(ModuleVal { dir, env }),
        classes: w.torch_classes,
        gaps: w.gaps,
        frameworks: w.frameworks,
        star_imports: w.star_imports,
        imported: w.imported,
        home: w.home.into_iter().map(|(k, v)| (k as usize, v)).collect(),
        closures: w
            .closures
            .into_iter()
            .map(|(k, v)| (k as usize, v))
            .collect(),
        ran: w.ran.into_iter().map(|k| k as usize).collect(),
        instances: w.instances.all(),
        bound_instances: w.bound_instances.into_iter().collect(),
        trains: w.trains,
        unread_deep_learning: w.unread_deep_learning,
        class_scoring: w.class_scoring,
    };
    let others = members
        .into_iter()
        .map(|(m, module)| {
            let r = Ready {
                module,
                ..ready.clone()
            };
            (m, Arc::new(r))
        })
        .collect();
    (Some(Arc::new(ready)), others)
}

fn count_run(path: &Path) {
    if let Ok(mut t) = TABLE.0.lock() {
        *t.runs.entry(path.to_path_buf()).or_default() += 1;
    }
}

/// How many times each module file's body ran for an import in this run.
pub fn module_run_counts() -> Vec<(PathBuf, usize)> {
    let Ok(t) = TABLE.0.lock() else {
        return vec![];
    };
    let mut out: Vec<(PathBuf, usize)> = t.runs.iter().map(|(p, n)| (p.clone(), *n)).collect();
    out.sort();
    out
}
