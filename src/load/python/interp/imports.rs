//! First-party imports in the interpreter: `import models`, `from .nets import Net`, `from pkg
//! import *`. The module's body runs once per linted file in the importing world (its classes and
//! functions then run with its own globals, whoever calls them); what it binds is a
//! [`Value::Module`]. Finding the file and parsing it once per run is `project.rs`'s business.

use std::rc::Rc;
use std::sync::Arc;

use super::{Env, Frame, ModuleVal, Value, World};
use crate::ir::Span;
use crate::load::python::project::{self, Found};
use crate::load::python::syntax::Alias;

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
    ) -> Option<Rc<ModuleVal>> {
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
        m: &Rc<ModuleVal>,
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
    pub(super) fn module_attr(&mut self, m: &Rc<ModuleVal>, attr: &str, span: Span) -> Value {
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

    /// The module at `found`, its body run in this world the first time it is imported. An import
    /// cycle sees `None` for the module being imported, like Python's partly run module.
    fn import_module(&mut self, name: &str, found: &Found, span: Span) -> Option<Rc<ModuleVal>> {
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
            let m = Rc::new(ModuleVal {
                dir,
                env: Rc::new(Env::new()),
            });
            self.modules.insert(key, Some(m.clone()));
            return Some(m);
        };
        self.modules.insert(key.clone(), None);
        if self.imported.len() >= project::MAX_MODULES
            || self.files.len() >= project::MAX_IMPORT_DEPTH
        {
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
        self.imported.push(source.clone());
        let mut frame = Frame::new(Env::new());
        // Not the main module: its `if __name__ == "__main__":` block does not run.
        frame
            .locals
            .insert("__name__".into(), Value::Str(name.to_string()));
        self.files.push(path.clone());
        let saved = (self.call_depth, self.block_depth);
        (self.call_depth, self.block_depth) = (0, 0);
        self.exec_block(&source.body, &mut frame, None);
        (self.call_depth, self.block_depth) = saved;
        self.files.pop();
        let env = Rc::new(frame.locals);
        for v in env.values() {
            let at = match v {
                Value::Function(f) => Arc::as_ptr(f) as *const (),
                Value::Class(c) => Arc::as_ptr(&c.def) as *const (),
                _ => continue,
            };
            // A name the module imported from another keeps that one's home.
            self.home.entry(at).or_insert_with(|| env.clone());
        }
        let m = Rc::new(ModuleVal { dir, env });
        self.modules.insert(key, Some(m.clone()));
        Some(m)
    }

    /// Whether statements of an imported module (not the linted file) run now.
    pub(super) fn in_imported_module(&self) -> bool {
        self.files.len() > 1
    }

    /// The module globals a class defined in an imported module runs with.
    pub(super) fn home_of(&self, at: *const ()) -> Option<Rc<Env>> {
        self.home.get(&at).cloned()
    }
}
