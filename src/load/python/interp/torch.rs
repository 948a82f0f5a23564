//! PyTorch source, interpreted into the same layer and tensor records as Keras code: `nn.Module` and
//! `LightningModule` subclasses (layers assigned in `__init__`, dataflow in `forward`),
//! `nn.Sequential`, the `F.*` / `torch.*` / tensor-method activations and reshapes, the losses where
//! they are called (`criterion(model(x), y)`, `F.cross_entropy(...)`, in a loop or a
//! `training_step`), and 0.5 thresholds in evaluation code. Each module becomes the Keras layer with
//! the same computation (`nn.Linear` a `Dense`, `nn.Conv2d` a channels-first `Conv2D`, ...), so the
//! Keras lowering, every rule and every numerical check apply unchanged.
//!
//! A model is called on data the interpreter cannot see: its first call on something that is not a
//! tensor gets a fresh input, and every later call returns the same output tensor, so the training
//! loop, the loss and the evaluation code all refer to one graph.

use std::collections::HashMap;
use std::sync::Arc;

use super::shaping::Shaping;
use super::{
    Call, ClassDef, Env, Expr, Frame, FunctionDef, KwValue, LayerRec, ObjectRec, SValue, Stmt,
    TensorRec, TfLoss, UNRESOLVED_LAYER, Value, World,
};
use crate::ir::Span;

#[path = "torch_models.rs"]
mod torch_models;

/// Method calls (`__init__`, `forward`, `training_step`) nested deeper than this return unknown.
const MAX_METHOD_DEPTH: usize = 8;
/// Module forwards nested deeper than this (a forward calling itself) return unknown.
const MAX_FORWARD_DEPTH: usize = 16;

/// A module class defined in the file.
#[derive(Debug)]
pub struct TorchClass {
    pub def: Arc<ClassDef>,
    /// The class, then the classes of this file it derives from (nearest first).
    mro: Vec<Arc<ClassDef>>,
    /// Derives from `LightningModule`: its `*_step` methods hold the losses.
    lightning: bool,
    /// An `nn.Module` (calling an instance runs `forward`); otherwise a plain class (a trainer or
    /// config class: calling an instance runs `__call__`).
    module: bool,
    /// The method calling an instance runs: `forward` (PyTorch), `call` (a Keras `Model` or
    /// `Layer` subclass), `__call__` (a `tf.Module` or a plain class).
    forward: &'static str,
    /// A Keras `Model` subclass: `compile` makes it a model with that training config.
    keras_model: bool,
    /// The classes of this file it derives from, nearest first (for class attributes).
    bases: Vec<Arc<TorchClass>>,
    /// Names the class body binds to values (`num_classes = 10`, a dataclass field's default), in
    /// order: what instances read when they have no attribute of their own.
    class_attrs: Vec<(String, Value)>,
    /// Defined in a first-party module the file imports: built only where the file builds it.
    imported: bool,
}

impl TorchClass {
    /// A class attribute, here or in a base class of the file.
    pub(super) fn class_attr(&self, name: &str) -> Option<Value> {
        std::iter::once(self)
            .chain(self.bases.iter().map(Arc::as_ref))
            .find_map(|c| c.class_attrs.iter().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
    }

    /// A module class (PyTorch, Keras, `tf.Module`) this file defines (not one it imports): the
    /// file builds a model even when nothing in it instantiates the class.
    pub(super) fn defines_module(&self) -> bool {
        self.module && !self.imported
    }

    fn method(&self, name: &str) -> Option<Arc<FunctionDef>> {
        self.mro.iter().find_map(|c| {
            c.body.iter().find_map(|s| match s {
                Stmt::FunctionDef(f) if f.name == name => Some(f.clone()),
                _ => None,
            })
        })
    }
}

/// The module instances of a world, by index. A linted file's world numbers its own from 0; an
/// imported module's world from its source's span base, so the instances its body made keep the
/// same index in every world that reads the module (they are copied in at those indices:
/// `foreign`), and the values naming them need no renumbering.
#[derive(Debug, Default)]
pub struct Instances {
    base: usize,
    local: Vec<InstanceRec>,
    foreign: std::collections::BTreeMap<usize, InstanceRec>,
}

impl Instances {
    /// An empty set numbering its own from `base`.
    pub(super) fn based(base: usize) -> Instances {
        Instances {
            base,
            ..Instances::default()
        }
    }

    fn push(&mut self, rec: InstanceRec) -> usize {
        self.local.push(rec);
        self.base + self.local.len() - 1
    }

    /// How many instances this world made (what its budget counts).
    pub fn made_here(&self) -> usize {
        self.local.len()
    }

    /// Every instance with its index: those of imported modules first, then this world's, each
    /// in the order made.
    pub fn enumerate(&self) -> impl DoubleEndedIterator<Item = (usize, &InstanceRec)> {
        self.foreign.iter().map(|(i, r)| (*i, r)).chain(
            self.local
                .iter()
                .enumerate()
                .map(|(i, r)| (self.base + i, r)),
        )
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &InstanceRec> {
        self.enumerate().map(|(_, r)| r)
    }

    /// [`Instances::rposition`] among the imported modules' instances and the first `made` this
    /// world made.
    pub(super) fn rposition_among(
        &self,
        made: usize,
        keep: impl Fn(&InstanceRec) -> bool,
    ) -> Option<usize> {
        let end = self.base.saturating_add(made);
        self.enumerate()
            .rev()
            .filter(|(i, _)| *i < end || self.foreign.contains_key(i))
            .find(|(_, r)| keep(r))
            .map(|(i, _)| i)
    }

    /// The index of the last instance `keep` selects.
    pub(super) fn rposition(&self, keep: impl Fn(&InstanceRec) -> bool) -> Option<usize> {
        self.enumerate()
            .rev()
            .find(|(_, r)| keep(r))
            .map(|(i, _)| i)
    }

    /// Copies of every instance with its index (for a module's summary).
    pub(super) fn all(&self) -> Vec<(usize, InstanceRec)> {
        self.enumerate().map(|(i, r)| (i, r.clone())).collect()
    }

    /// Adds an imported module's instance at its index, unless it is here already.
    pub(super) fn adopt(&mut self, i: usize, rec: &InstanceRec, created: usize) -> bool {
        if self.foreign.contains_key(&i) || (i >= self.base && i - self.base < self.local.len()) {
            return false;
        }
        let mut rec = rec.clone();
        rec.created = created;
        self.foreign.insert(i, rec);
        true
    }
}

impl std::ops::Index<usize> for Instances {
    type Output = InstanceRec;
    fn index(&self, i: usize) -> &InstanceRec {
        match i.checked_sub(self.base) {
            Some(k) if k < self.local.len() => &self.local[k],
            _ => &self.foreign[&i],
        }
    }
}

impl std::ops::IndexMut<usize> for Instances {
    fn index_mut(&mut self, i: usize) -> &mut InstanceRec {
        match i.checked_sub(self.base) {
            Some(k) if k < self.local.len() => &mut self.local[k],
            _ => self
                .foreign
                .get_mut(&i)
                .expect("an instance index names an instance of this world"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct InstanceRec {
    class: Option<Arc<TorchClass>>,
    /// `nn.Sequential(...)`: the modules, applied in order.
    seq: Option<Vec<SValue>>,
    /// `nn.Sequential(OrderedDict(...))`: the names of the modules in `seq`.
    seq_keys: Vec<String>,
    /// Nesting of maybe/loop blocks where the module was made: a later change of an attribute inside
    /// a deeper block may not happen as read.
    pub depth: usize,
    pub attrs: HashMap<String, Value>,
    /// The module's names when it was built, for its methods.
    globals: Arc<Env>,
    /// The input made for the first call on data the interpreter cannot see, and the output.
    /// The input made for the first call on unseen data, and what the forward returned (a
    /// tensor, or a tuple/list/dict of them).
    cached: Option<(usize, Value)>,
    created: usize,
    /// A Keras `Model` subclass instance once compiled: its model record.
    model: Option<usize>,
    /// What its last forward returned (a tensor): the model of a module only ever called on tensors
    /// (a loss module, a module called inside another's forward).
    last_out: Option<usize>,
    /// A Keras layer's `build` has run.
    built: bool,
    /// A pretrained model of a library (`torchvision.models.resnet18(...)`).
    library: Option<Library>,
    /// An `argparse.ArgumentParser`: `add_argument(..., default=v)` records `v` under its name, and
    /// `parse_args()` gives a namespace of the defaults.
    parser: bool,
}

impl InstanceRec {
    /// A module or a model (not a parser, a namespace or a plain record): a PyTorch module of the
    /// file, an `nn.Sequential`, a library model.
    pub(super) fn is_module(&self) -> bool {
        self.seq.is_some()
            || self.library.is_some()
            || self.class.as_ref().is_some_and(|c| c.module)
    }

    /// The tensor its forward last returned, when that was one tensor.
    pub(super) fn returned(&self) -> Option<usize> {
        match &self.cached {
            Some((_, Value::Tensor(t))) => Some(*t),
            _ => self.last_out,
        }
    }
}

/// A pretrained model built by a library: an opaque trunk, then the head held by one attribute.
#[derive(Debug, Clone)]
pub(super) struct Library {
    /// The trunk: an opaque layer, then (when the width is known) a reshape to `[batch, width]`.
    trunk: usize,
    width: Option<usize>,
    /// The trunk's output width, when known.
    inputs: Option<i64>,
    /// The attribute holding the head (`fc`, `classifier`, `heads`).
    head: &'static str,
    /// `transformers`: the forward returns an output object (`outputs.logits`).
    hf: bool,
    /// An assignment into the model that nnlint could not apply: what it computes is unknown.
    changed: bool,
}

/// Whether the body of class `d` defines the function `f` (a method, by address).
fn defines(d: &ClassDef, f: *const FunctionDef) -> bool {
    d.body
        .iter()
        .any(|s| matches!(s, Stmt::FunctionDef(g) if std::ptr::eq(Arc::as_ptr(g), f)))
}

/// Attributes whose assignment changes weights or flags, not what a module computes.
fn harmless_attr(name: &str) -> bool {
    matches!(
        name,
        "weight" | "bias" | "data" | "requires_grad" | "training" | "trainable" | "name"
    )
}

/// Methods of `nn.Module` that return the module itself.
fn returns_self(name: &str) -> bool {
    matches!(
        name,
        "to" | "cuda"
            | "cpu"
            | "eval"
            | "train"
            | "float"
            | "double"
            | "requires_grad_"
            | "share_memory"
    )
}

/// Tensor methods and functions that keep the values a rule looks at (device, dtype, a unit dim).
/// Tensor methods whose result is not a tensor (a size, a Python number, an array).
pub(super) fn non_tensor_method(name: &str) -> bool {
    matches!(
        name,
        "size"
            | "dim"
            | "ndim"
            | "ndimension"
            | "numel"
            | "nelement"
            | "item"
            | "tolist"
            | "get_shape"
            | "shape"
            | "as_list"
            | "data_ptr"
            | "element_size"
            | "is_contiguous"
            | "type"
            | "backward"
            | "register_hook"
            | "requires_grad_"
            | "zero_"
            | "copy_"
            | "fill_"
    )
}

fn keeps_values(name: &str) -> bool {
    matches!(
        name,
        "to" | "float"
            // The values of the tensor, as an array: thresholds on them read the tensor.
            | "numpy"
            | "eval"
            | "double"
            | "cpu"
            | "cuda"
            | "contiguous"
            | "detach"
            | "clone"
            | "squeeze"
            | "dropout"
            | "dropout2d"
    )
}

/// The PyTorch loss a class (`nn.X`) or function (`F.x`) name is, with a static lifetime.
pub fn loss_name(name: &str) -> Option<&'static str> {
    crate::ir::TORCH_LOSS_NAMES
        .iter()
        .find(|n| **n == name)
        .copied()
}

/// Losses that apply their own log-softmax or sigmoid to what they are given.
fn takes_logits(name: &str) -> bool {
    matches!(
        name,
        "CrossEntropyLoss"
            | "cross_entropy"
            | "BCEWithLogitsLoss"
            | "binary_cross_entropy_with_logits"
    )
}

/// Element-wise activations: PyTorch name (module class lowered) → Keras activation name.
fn activation_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "relu" | "ReLU" => "relu",
        "sigmoid" | "Sigmoid" => "sigmoid",
        "tanh" | "Tanh" => "tanh",
        "gelu" | "GELU" => "gelu",
        "elu" | "ELU" => "elu",
        "selu" | "SELU" => "selu",
        "softplus" | "Softplus" => "softplus",
        "relu6" | "ReLU6" => "relu6",
        "silu" | "SiLU" => "silu",
        "leaky_relu" | "LeakyReLU" => "leaky_relu",
        "Identity" => "linear",
        _ => return None,
    })
}

fn kw(name: &str, span: Span, value: Value) -> KwValue {
    KwValue {
        name: name.into(),
        span,
        value: SValue { value, span },
    }
}

/// Positional-or-keyword argument `name` at `pos`.
fn arg(args: &[SValue], kwargs: &[KwValue], pos: usize, name: &str) -> Option<SValue> {
    kwargs
        .iter()
        .find(|k| k.name == name)
        .map(|k| SValue {
            value: k.value.value.clone(),
            span: k.span,
        })
        .or_else(|| args.get(pos).cloned())
}

fn int_of(v: &Option<SValue>) -> Option<i64> {
    match v.as_ref().map(|v| &v.value) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

/// The `axis` of a softmax written without `dim`: PyTorch then picks dim 0 for inputs of rank 0, 1
/// or 3 and dim 1 otherwise (`torch.nn.functional._get_softmax_dim`, with a deprecation warning).
/// The Keras lowering decides it once the rank is known ([`crate::load::keras::TORCH_IMPLICIT_DIM`]).
fn implicit_dim(span: Span) -> SValue {
    SValue {
        value: Value::Str(crate::load::keras::TORCH_IMPLICIT_DIM.into()),
        span,
    }
}

/// `3` or `(3, 3)` with every entry an integer.
fn size_of(v: &SValue) -> Option<Vec<i64>> {
    match &v.value {
        Value::Int(i) => Some(vec![*i]),
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match i.value {
                Value::Int(x) => Some(x),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `nn.X` of `torch.nn.X` (also `torch.nn.modules.*.X`), `None` for other paths.
fn nn_class(tail: &str) -> Option<&str> {
    let rest = tail.strip_prefix("nn.")?;
    if rest.starts_with("functional.") || rest.starts_with("init.") {
        return None;
    }
    let last = rest.rsplit('.').next()?;
    last.chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase())
        .then_some(last)
}

impl World {
    /// A `class` statement: a module class when a base is `nn.Module`, a `LightningModule` or a module
    /// class of this file; anything else stays unknown.
    pub(super) fn define_class(
        &mut self,
        c: &Arc<ClassDef>,
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Value {
        let mut mro = vec![c.clone()];
        let mut module = false;
        let mut lightning = false;
        let mut forward = "__call__";
        let mut keras_model = false;
        let mut bases: Vec<Arc<TorchClass>> = vec![];
        for b in &c.bases {
            match self.eval(b, frame, globals).value {
                Value::Path(p) => {
                    let top = p.split('.').next().unwrap_or("");
                    let keras = super::keras_tail(&p);
                    if matches!(top, "lightning" | "pytorch_lightning")
                        && p.ends_with(".LightningModule")
                    {
                        module = true;
                        lightning = true;
                        forward = "forward";
                    } else if p == "torch.nn.Module" || p == "torch.nn.modules.module.Module" {
                        module = true;
                        forward = "forward";
                    } else if let Some(tail) = keras {
                        // `keras.Model`, `keras.models.Model`, `keras.layers.Layer` subclasses.
                        let last = tail.rsplit('.').next().unwrap_or(tail);
                        if matches!(last, "Model" | "Layer" | "Sequential") {
                            module = true;
                            forward = "call";
                            keras_model |= last != "Layer";
                        }
                    } else if p == "tensorflow.Module" {
                        module = true;
                    }
                }
                Value::Class(base) => {
                    bases.push(base.clone());
                    module |= base.module;
                    if base.module {
                        forward = base.forward;
                    }
                    keras_model |= base.keras_model;
                    lightning |= base.lightning;
                    mro.extend(base.mro.iter().cloned());
                }
                _ => {}
            }
        }
        // Class attributes: the body's plain assignments, evaluated where the class is defined.
        let mut class_attrs: Vec<(String, Value)> = vec![];
        for s in &c.body {
            if let Stmt::Assign { targets, value } = s
                && let [Expr::Name { id, .. }] = targets.as_slice()
            {
                let v = self.eval(value, frame, globals).value;
                class_attrs.retain(|(k, _)| k != id);
                class_attrs.push((id.clone(), v));
            }
        }
        let class = Arc::new(TorchClass {
            def: c.clone(),
            mro,
            lightning,
            module,
            forward,
            keras_model,
            class_attrs,
            bases,
            imported: self.in_imported_module(),
        });
        self.torch_classes.push(class.clone());
        Value::Class(class)
    }

    fn new_instance(
        &mut self,
        class: Option<Arc<TorchClass>>,
        seq: Option<Vec<SValue>>,
        globals: Arc<Env>,
    ) -> usize {
        self.clock += 1;
        self.instances.push(InstanceRec {
            class,
            seq,
            seq_keys: vec![],
            depth: self.block_depth,
            attrs: HashMap::new(),
            globals,
            cached: None,
            created: self.clock,
            model: None,
            last_out: None,
            built: false,
            library: None,
            parser: false,
        })
    }

    /// `Net(...)`: a new instance, with `__init__` run on it.
    pub(super) fn instantiate(
        &mut self,
        class: Arc<TorchClass>,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
        frame: &Frame,
        globals: Option<&Env>,
    ) -> Value {
        // A Keras `Model` subclass that overrides only training (`train_step`) and is built on a
        // functional graph, `CustomModel(inputs, outputs)`: the functional model itself.
        if class.keras_model && class.method("call").is_none() && class.method("__init__").is_none()
        {
            let functional = self.functional(c, args, kwargs);
            if matches!(functional, Value::Model(_)) {
                return functional;
            }
        }
        let module_globals = match self.home_of(Arc::as_ptr(&class.def) as *const ()) {
            Some(home) => home,
            None => Arc::new(globals.cloned().unwrap_or_else(|| frame.locals.clone())),
        };
        Value::Instance(self.instantiate_with(class, c.span, args, kwargs, module_globals))
    }

    fn instantiate_with(
        &mut self,
        class: Arc<TorchClass>,
        span: Span,
        args: &[SValue],
        kwargs: &[KwValue],
        globals: Arc<Env>,
    ) -> usize {
        let i = self.new_instance(Some(class.clone()), None, globals);
        if let Some(init) = class.method("__init__") {
            let mut all = vec![SValue {
                value: Value::Instance(i),
                span,
            }];
            all.extend(args.iter().cloned());
            self.run_method(i, &init, &all, kwargs);
        } else if !class.module {
            // A dataclass (or a plain record class): arguments set the fields, in body order.
            let fields: Vec<String> = class.class_attrs.iter().map(|(k, _)| k.clone()).collect();
            for (a, f) in args.iter().zip(&fields) {
                self.instances[i].attrs.insert(f.clone(), a.value.clone());
            }
            for k in kwargs {
                self.instances[i]
                    .attrs
                    .insert(k.name.clone(), k.value.value.clone());
            }
        }
        i
    }

    pub(super) fn run_method(
        &mut self,
        i: usize,
        f: &FunctionDef,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        if self.call_depth >= MAX_METHOD_DEPTH {
            return Value::Unknown;
        }
        self.ran.insert(f as *const FunctionDef);
        // A method runs with the globals of the module its class is defined in: a base class
        // imported from another module reads that module's names, not its subclass's.
        let globals = self
            .defining_class(i, f)
            .and_then(|d| self.home_of(Arc::as_ptr(&d) as *const ()))
            .unwrap_or_else(|| self.instances[i].globals.clone());
        let mut frame = Frame::new(Env::new());
        self.methods.push((i, f as *const FunctionDef));
        let out = self.call_function(f, args, kwargs, &mut frame, Some(&globals));
        self.methods.pop();
        out
    }

    /// The class of instance `i`'s MRO whose body defines method `f`.
    fn defining_class(&self, i: usize, f: *const FunctionDef) -> Option<Arc<ClassDef>> {
        let class = self.instances[i].class.as_ref()?;
        class.mro.iter().find(|d| defines(d, f)).cloned()
    }

    /// `super().name(...)` in a method (or `super(Class, self).name(...)`): the method `name` of
    /// the next class of the instance's MRO after the one whose body holds the running method (or
    /// after `Class`), run on the same instance. `None` when no class of the file or its imports
    /// defines it there (`nn.Module.__init__`): the call is read as before, its result unknown.
    pub(super) fn super_call(
        &mut self,
        target: &Expr,
        name: &str,
        c: &Call,
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Option<Value> {
        let Expr::Call(sup) = target else {
            return None;
        };
        let Expr::Name { id, .. } = &sup.func else {
            return None;
        };
        if id != "super"
            || frame.locals.contains_key(id)
            || globals.is_some_and(|g| g.contains_key(id))
        {
            return None;
        }
        let (i, after) = match sup.args.as_slice() {
            [] => {
                let &(i, running) = self.methods.last()?;
                (i, self.defining_class(i, running)?)
            }
            [class, this] => {
                let Value::Class(class) = self.eval(class, frame, globals).value else {
                    return None;
                };
                let Value::Instance(i) = self.eval(this, frame, globals).value else {
                    return None;
                };
                (i, class.def.clone())
            }
            _ => return None,
        };
        let mro = &self.instances[i].class.as_ref()?.mro;
        let start = mro.iter().position(|d| Arc::ptr_eq(d, &after))? + 1;
        let f = mro[start..].iter().find_map(|d| {
            d.body.iter().find_map(|s| match s {
                Stmt::FunctionDef(f) if f.name == name => Some(f.clone()),
                _ => None,
            })
        })?;
        let (args, _) = self.eval_spread(&c.args, frame, globals);
        // Keywords nnlint cannot list (`**kwargs` of an unknown dict): the parameters take their
        // defaults, as when a class is called.
        let kwargs = self.kwargs(c, frame, globals).unwrap_or_default();
        let mut all = vec![SValue {
            value: Value::Instance(i),
            span: c.span,
        }];
        all.extend(args);
        Some(self.run_method(i, &f, &all, &kwargs))
    }

    /// `self.fc2 = nn.Linear(...)`: the layer is named `fc2` (the items of an `nn.Sequential`
    /// `features.0`, `features.1`, ...), as PyTorch names its parameters.
    pub(super) fn name_module(&mut self, v: &Value, attr: &str) {
        let mut seen = vec![];
        self.name_under(v, attr, &mut seen);
    }

    /// Names `v` (a layer, or every layer inside a module) under the dotted path `prefix`.
    fn name_under(&mut self, v: &Value, prefix: &str, seen: &mut Vec<usize>) {
        match v {
            Value::Layer(l) => self.set_name(*l, prefix.to_string()),
            Value::Instance(i) if !seen.contains(i) => {
                seen.push(*i);
                let items = self.instances[*i].seq.clone().unwrap_or_default();
                let keys = self.instances[*i].seq_keys.clone();
                for (n, item) in items.iter().enumerate() {
                    let key = keys.get(n).cloned().unwrap_or_else(|| n.to_string());
                    self.name_item(&item.value, &format!("{prefix}.{key}"), seen);
                }
                let mut attrs: Vec<(String, Value)> = self.instances[*i]
                    .attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                attrs.sort_by(|a, b| a.0.cmp(&b.0));
                // Named inside the submodule's `__init__` (`l1`): now `u1.l1`.
                for (k, v) in attrs {
                    self.name_item(&v, &format!("{prefix}.{k}"), seen);
                }
            }
            // `nn.ModuleList([...])`, `nn.ModuleDict({...})`: `blocks.0`, `heads.cls`.
            Value::List(items) | Value::Tuple(items) => {
                for (n, item) in items.iter().enumerate() {
                    self.name_item(&item.value, &format!("{prefix}.{n}"), seen);
                }
            }
            Value::Dict(items) => {
                for (k, item) in items {
                    self.name_item(&item.value, &format!("{prefix}.{k}"), seen);
                }
            }
            _ => {}
        }
    }

    /// Names a module held inside another under `path`, replacing the name it had.
    fn name_item(&mut self, v: &Value, path: &str, seen: &mut Vec<usize>) {
        match v {
            Value::Layer(l) => self.rename(*l, path.to_string()),
            other => self.name_under(other, path, seen),
        }
    }

    /// The modules iterating an instance yields: those of an `nn.Sequential`.
    pub(super) fn instance_items(&self, i: usize) -> Option<Vec<SValue>> {
        self.instances[i].seq.clone()
    }

    /// Gives a layer its path inside the module that holds it.
    fn rename(&mut self, l: usize, name: String) {
        let rec = &mut self.layers[l];
        rec.kwargs.retain(|k| k.name != "name");
        let span = rec.callee_span;
        rec.kwargs.push(kw("name", span, Value::Str(name)));
    }

    /// Names a layer unless its source already did.
    fn set_name(&mut self, l: usize, name: String) {
        let rec = &mut self.layers[l];
        if !rec.kwargs.iter().any(|k| k.name == "name") {
            let span = rec.callee_span;
            rec.kwargs.push(kw("name", span, Value::Str(name)));
        }
    }

    /// The `@property` method `attr` of instance `i`'s class, unless an attribute of the same
    /// name was set on the instance.
    pub(super) fn property(&self, i: usize, attr: &str) -> Option<Arc<FunctionDef>> {
        let rec = &self.instances[i];
        if rec.attrs.contains_key(attr) {
            return None;
        }
        rec.class.as_ref()?.method(attr).filter(|f| f.property)
    }

    /// `self.fc`, `model.to`: an attribute set in `__init__`, or a method.
    pub(super) fn instance_attr(&self, i: usize, attr: &str) -> Value {
        let rec = &self.instances[i];
        if let Some(v) = rec.attrs.get(attr) {
            return v.clone();
        }
        if let Some(v) = rec.class.as_ref().and_then(|c| c.class_attr(attr)) {
            return v;
        }
        if rec.parser {
            return Value::Bound(i, attr.to_string());
        }
        // `model.heads.head`: a module of an `nn.Sequential(OrderedDict(...))` by its key.
        if let Some(item) = rec
            .seq_keys
            .iter()
            .position(|k| k == attr)
            .and_then(|pos| rec.seq.as_ref()?.get(pos))
        {
            return item.value.clone();
        }
        if rec.library.is_some() && matches!(attr, "reset_classifier" | "get_classifier") {
            return Value::Bound(i, attr.to_string());
        }
        let method = rec.class.as_ref().is_some_and(|c| {
            c.method(attr).is_some() || (c.keras_model && matches!(attr, "compile" | "fit"))
        });
        if method || returns_self(attr) || attr == "forward" {
            return Value::Bound(i, attr.to_string());
        }
        Value::Unknown
    }

    /// `model(x)`: the forward on `x`, or on a fresh input when `x` is data nnlint cannot see.
    pub(super) fn call_instance(
        &mut self,
        i: usize,
        span: Span,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        if let Some(SValue {
            value: Value::Tensor(t),
            ..
        }) = args.first()
        {
            let t = *t;
            return self.forward(i, t, span, &args[1..], kwargs);
        }
        // Calls with keyword flags (`training=True`) may take other paths: not shared. A library
        // model's keywords (`attention_mask=...`) do not change what it computes.
        let shared = kwargs.is_empty() || self.instances[i].library.is_some();
        if let Some((_, out)) = self.instances[i].cached.as_ref().filter(|_| shared) {
            return out.clone();
        }
        let input = self.torch_input(span);
        let rest = args.get(1..).unwrap_or(&[]);
        let out = self.forward(i, input, span, rest, kwargs);
        if self.forward_tensor(&out).is_some() && (shared || self.instances[i].cached.is_none()) {
            self.instances[i].cached = Some((input, out.clone()));
        }
        out
    }

    fn forward(
        &mut self,
        i: usize,
        input: usize,
        span: Span,
        rest: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        if self.forward_depth >= MAX_FORWARD_DEPTH {
            return Value::Unknown;
        }
        self.forward_depth += 1;
        let x = SValue {
            value: Value::Tensor(input),
            span,
        };
        let out = if let Some(lib) = self.instances[i].library.clone() {
            self.library_forward(i, &lib, input, span)
        } else if let Some(seq) = self.instances[i].seq.clone() {
            let mut v = x;
            for m in &seq {
                let next = self.apply_module(&m.value, &v, span);
                if matches!(next, Value::Unknown) && matches!(v.value, Value::Tensor(_)) {
                    self.gap(m.span, super::UNRESOLVED_MODULE);
                }
                v = SValue { value: next, span };
            }
            v.value
        } else if let Some(f) = self.instances[i]
            .class
            .as_ref()
            .and_then(|c| c.method(c.forward).or_else(|| c.method("__call__")))
        {
            // Keras calls a layer's `build` before its first `call` (sublayers made there).
            if let Some(build) = self.instances[i]
                .class
                .as_ref()
                .filter(|c| c.forward == "call")
                .and_then(|c| c.method("build"))
                && !std::mem::replace(&mut self.instances[i].built, true)
            {
                let this = SValue {
                    value: Value::Instance(i),
                    span,
                };
                self.run_method(i, &build, &[this], &[]);
            }
            let mut all = vec![
                SValue {
                    value: Value::Instance(i),
                    span,
                },
                x,
            ];
            all.extend(rest.iter().cloned());
            self.run_method(i, &f, &all, kwargs)
        } else {
            Value::Unknown
        };
        self.forward_depth -= 1;
        if let Some(t) = self.forward_tensor(&out) {
            self.instances[i].last_out = Some(t);
        }
        out
    }

    /// One module of an `nn.Sequential` applied to `x`.
    fn apply_module(&mut self, m: &Value, x: &SValue, span: Span) -> Value {
        match m {
            Value::Layer(l) => self.call_layer(*l, std::slice::from_ref(x)),
            Value::Instance(j) => self.call_instance(*j, span, std::slice::from_ref(x), &[]),
            _ => Value::Unknown,
        }
    }

    /// An input layer for data the interpreter cannot see; its shape comes from the layer that
    /// reads it, at the end (`finish_torch`).
    pub(super) fn torch_input(&mut self, span: Span) -> usize {
        self.layers.push(LayerRec {
            class: "InputLayer".into(),
            callee_span: span,
            call_span: span,
            args: vec![],
            kwargs: vec![],
            calls: vec![],
            is_input: true,
        });
        let layer = self.layers.len() - 1;
        self.tensors.push(TensorRec { layer, node: 0 });
        self.torch_inputs.push(self.tensors.len() - 1);
        self.tensors.len() - 1
    }

    /// A record object: an `argparse.ArgumentParser` (`parser`) or a namespace with these attributes
    /// (`SimpleNamespace(lr=0.1)`, `argparse.Namespace`).
    pub(super) fn record_object(&mut self, parser: bool, kwargs: &[KwValue]) -> Value {
        let i = self.new_instance(None, None, Arc::new(Env::new()));
        self.instances[i].parser = parser;
        for k in kwargs {
            self.instances[i]
                .attrs
                .insert(k.name.clone(), k.value.value.clone());
        }
        Value::Instance(i)
    }

    /// `self.save_hyperparameters()` in a Lightning module's `__init__`: `self.hparams` becomes a
    /// namespace of the running method's arguments as the call sees them (defaults included, the
    /// items of its `**kwargs` flattened in, as Lightning does), or of the names given
    /// (`save_hyperparameters("lr", "hidden")`), minus `ignore=[...]`; so `self.hparams.hidden`
    /// reads the width the module was built with. `None` when `c` is not that call.
    pub(super) fn save_hyperparameters(
        &mut self,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
        frame: &Frame,
    ) -> Option<Value> {
        let Expr::Attribute { value, attr, .. } = &c.func else {
            return None;
        };
        let Expr::Name { id, .. } = value.as_ref() else {
            return None;
        };
        let Some(&Value::Instance(i)) = frame.locals.get(id) else {
            return None;
        };
        let lightning = self.instances[i]
            .class
            .as_ref()
            .is_some_and(|c| c.lightning);
        if attr != "save_hyperparameters" || !lightning {
            return None;
        }
        // The method running on this instance: the `__init__` the call is in.
        let &(j, f) = self.methods.last()?;
        let class = self.defining_class(j, f).filter(|_| j == i)?;
        let method = class.body.iter().find_map(|s| match s {
            Stmt::FunctionDef(g) if std::ptr::eq(Arc::as_ptr(g), f) => Some(g.clone()),
            _ => None,
        })?;
        let names: Option<Vec<String>> = args
            .iter()
            .map(|a| match &a.value {
                Value::Str(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let ignored: Vec<String> = match arg(&[], kwargs, usize::MAX, "ignore").map(|v| v.value) {
            Some(Value::Str(n)) => vec![n],
            Some(Value::List(l) | Value::Tuple(l)) => l
                .iter()
                .filter_map(|v| match &v.value {
                    Value::Str(n) => Some(n.clone()),
                    _ => None,
                })
                .collect(),
            _ => vec![],
        };
        let mut items: Vec<(String, Value)> = method
            .params
            .iter()
            .skip(1)
            .map(|p| {
                let v = frame.locals.get(&p.name).cloned().unwrap_or(Value::Unknown);
                (p.name.clone(), v)
            })
            .collect();
        if let Some(Value::Dict(extra)) = method.kwarg.as_ref().and_then(|k| frame.locals.get(k)) {
            items.extend(extra.iter().map(|(k, v)| (k.clone(), v.value.clone())));
        }
        let fields: Vec<KwValue> = items
            .into_iter()
            .filter(|(k, _)| names.as_ref().is_none_or(|n| n.is_empty() || n.contains(k)))
            .filter(|(k, _)| !ignored.contains(k))
            .map(|(k, v)| kw(&k, c.span, v))
            .collect();
        let hparams = self.record_object(false, &fields);
        self.instances[i].attrs.insert("hparams".into(), hparams);
        Some(Value::None)
    }

    /// A method of an `argparse.ArgumentParser`: arguments and their defaults (the values the
    /// script runs with when given no options), groups (the same parser), `parse_args`.
    fn parser_call(&mut self, i: usize, name: &str, args: &[SValue], kwargs: &[KwValue]) -> Value {
        match name {
            "add_argument" => {
                let dest = super::str_kwarg(kwargs, "dest").or_else(|| {
                    // The first long option (`--num-classes`), else the positional name.
                    let names: Vec<&str> = args
                        .iter()
                        .filter_map(|a| match &a.value {
                            Value::Str(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect();
                    names
                        .iter()
                        .find(|n| n.starts_with("--"))
                        .or(names.first())
                        .map(|n| n.trim_start_matches('-').replace('-', "_"))
                });
                let action = kwargs.iter().find(|k| k.name == "action");
                let default = kwargs
                    .iter()
                    .find(|k| k.name == "default")
                    .map(|k| k.value.value.clone());
                let value = match (default, action.map(|a| &a.value.value)) {
                    (Some(v), _) => v,
                    (None, Some(Value::Str(a))) if a == "store_true" => Value::Bool(false),
                    (None, Some(Value::Str(a))) if a == "store_false" => Value::Bool(true),
                    _ => Value::None,
                };
                if let Some(dest) = dest {
                    self.instances[i].attrs.insert(dest, value);
                }
                Value::Unknown
            }
            "set_defaults" => {
                for k in kwargs {
                    self.instances[i]
                        .attrs
                        .insert(k.name.clone(), k.value.value.clone());
                }
                Value::Unknown
            }
            "add_argument_group" | "add_mutually_exclusive_group" => Value::Instance(i),
            "parse_args" | "parse_known_args" => {
                let attrs: Vec<KwValue> = {
                    let mut a: Vec<(&String, &Value)> = self.instances[i].attrs.iter().collect();
                    a.sort_by(|x, y| x.0.cmp(y.0));
                    a.into_iter()
                        .map(|(k, v)| kw(k, Span { offset: 0, len: 0 }, v.clone()))
                        .collect()
                };
                let ns = self.record_object(false, &attrs);
                if name == "parse_known_args" {
                    let span = Span { offset: 0, len: 0 };
                    Value::Tuple(vec![
                        SValue { value: ns, span },
                        SValue {
                            value: Value::Unknown,
                            span,
                        },
                    ])
                } else {
                    ns
                }
            }
            _ => Value::Unknown,
        }
    }

    /// The model record of a Keras `Model` subclass instance: its forward on a fresh input (made
    /// once, shared with every later call on unseen data).
    fn instance_model(&mut self, i: usize, span: Span) -> Option<usize> {
        if let Some(m) = self.instances[i].model {
            return Some(m);
        }
        if self.instances[i].cached.is_none() {
            self.call_instance(i, span, &[], &[]);
        }
        let (input, out) = self.instances[i].cached.as_ref()?;
        let (input, output) = (*input, self.forward_tensor(out)?);
        self.clock += 1;
        self.models.push(super::ModelRec {
            kind: super::ModelKind::Functional {
                inputs: vec![input],
                outputs: vec![output],
            },
            span,
            name: None,
            unresolved: false,
            depth: self.block_depth,
            compile: None,
            compile_unknown: false,
            compiled_at: None,
            labels: None,
            sampled: None,
        });
        let m = self.models.len() - 1;
        self.instances[i].model = Some(m);
        Some(m)
    }

    /// `model.to(device)`, `self.forward(x)`, `model.training_step(...)`.
    pub(super) fn call_bound(
        &mut self,
        i: usize,
        name: &str,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        if self.instances[i].parser {
            return self.parser_call(i, name, args, kwargs);
        }
        let method = self.instances[i]
            .class
            .as_ref()
            .and_then(|cl| cl.method(name));
        if name == "forward" && method.is_some() {
            return self.call_instance(i, c.span, args, kwargs);
        }
        // `model.compile(...)` on a Keras `Model` subclass: the forward on unseen data, as a
        // functional model with that training config.
        let keras_model = self.instances[i]
            .class
            .as_ref()
            .is_some_and(|cl| cl.keras_model);
        if keras_model && method.is_none() && name == "compile" {
            if let Some(m) = self.instance_model(i, c.span) {
                self.method(m, name, c, args, kwargs);
            }
            return Value::Unknown;
        }
        if let Some(f) = method {
            let mut all = vec![SValue {
                value: Value::Instance(i),
                span: c.span,
            }];
            all.extend(args.iter().cloned());
            return self.run_method(i, &f, &all, kwargs);
        }
        if returns_self(name) {
            return Value::Instance(i);
        }
        if let Some(lib) = self.instances[i].library.clone() {
            match name {
                "get_classifier" => {
                    return self.instances[i]
                        .attrs
                        .get(lib.head)
                        .cloned()
                        .unwrap_or(Value::Unknown);
                }
                // timm: a new classifier with `num_classes` outputs.
                "reset_classifier" => {
                    let k = arg(args, kwargs, 0, "num_classes").unwrap_or(SValue {
                        value: Value::Unknown,
                        span: c.span,
                    });
                    let spec = torch_models::Spec {
                        attr: lib.head,
                        width: lib.inputs,
                        seq: None,
                        keys: &[],
                    };
                    let head = self.library_head(c, &spec, &k);
                    let in_block = self.block_depth > self.instances[i].depth;
                    self.instances[i].attrs.insert(
                        lib.head.to_string(),
                        if in_block { Value::Unknown } else { head },
                    );
                    return Value::None;
                }
                _ => {}
            }
        }
        Value::Unknown
    }

    /// A call of a `torch.*` path; `None` when the path is not PyTorch's.
    pub(super) fn torch_call(
        &mut self,
        path: &str,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Option<Value> {
        if let Some(v) = self.library_model(path, c, args, kwargs) {
            return Some(v);
        }
        let tail = path.strip_prefix("torch.")?;
        // `nn.DataParallel(model)`, `torch.compile(model)`: the module itself, as it computes.
        if matches!(
            tail,
            "nn.DataParallel" | "nn.parallel.DistributedDataParallel" | "compile"
        ) && let Some(m @ Value::Instance(_)) = arg(args, kwargs, 0, "module")
            .or_else(|| arg(args, kwargs, 0, "model"))
            .map(|a| a.value)
        {
            return Some(m);
        }
        if tail == "nn.Sequential" {
            let globals = Arc::new(Env::new());
            // `nn.Sequential(OrderedDict([("fc", ...), ...]))`: the modules, named by their keys.
            if let [
                SValue {
                    value: Value::Dict(d),
                    ..
                },
            ] = args
            {
                let modules = d.iter().map(|(_, v)| v.clone()).collect();
                let i = self.new_instance(None, Some(modules), globals);
                self.instances[i].seq_keys = d.iter().map(|(k, _)| k.clone()).collect();
                for (k, v) in d {
                    if let Value::Layer(l) = v.value {
                        self.set_name(l, k.clone());
                    }
                }
                return Some(Value::Instance(i));
            }
            let i = self.new_instance(None, Some(args.to_vec()), globals);
            return Some(Value::Instance(i));
        }
        // Containers of modules: a list and a dict, which `forward` indexes or loops over.
        if tail == "nn.ModuleList" || tail == "nn.ModuleDict" {
            let empty = if tail == "nn.ModuleList" {
                Value::List(vec![])
            } else {
                Value::Dict(vec![])
            };
            return Some(match args.first().map(|a| &a.value) {
                None => empty,
                Some(v @ Value::Dict(_)) if tail == "nn.ModuleDict" => v.clone(),
                Some(Value::List(items) | Value::Tuple(items)) if tail == "nn.ModuleList" => {
                    Value::List(items.clone())
                }
                _ => Value::Unknown,
            });
        }
        if let Some(class) = nn_class(tail) {
            if loss_name(class).is_some() {
                return Some(Value::Object(Arc::new(ObjectRec {
                    class: class.to_string(),
                    callee_span: c.func.span(),
                    call_span: c.span,
                    args: args.to_vec(),
                    kwargs: kwargs.to_vec(),
                })));
            }
            return Some(self.torch_module(class, c, args, kwargs));
        }
        let name = tail
            .strip_prefix("nn.functional.")
            .or_else(|| tail.strip_prefix("special."))
            .unwrap_or(tail);
        if let Some(loss) = loss_name(name) {
            return Some(self.torch_loss(loss, c.func.span(), c, args, kwargs));
        }
        let input = arg(args, kwargs, 0, "input");
        let t = match &input {
            Some(SValue {
                value: Value::Tensor(t),
                ..
            }) => *t,
            // An activation of data nnlint cannot see (`F.softmax(features)`): an input.
            Some(SValue {
                value: Value::Unknown,
                ..
            }) if activation_name(name).is_some() || matches!(name, "softmax" | "log_softmax") => {
                match self.tensor_or_input(input.as_ref()) {
                    Some(t) => t,
                    None => return Some(Value::Unknown),
                }
            }
            _ => return Some(Value::Unknown),
        };
        let rest = args.get(1..).unwrap_or(&[]);
        let kwargs: Vec<KwValue> = kwargs
            .iter()
            .filter(|k| k.name != "input")
            .cloned()
            .collect();
        Some(self.tensor_fn(t, name, c, rest, &kwargs))
    }

    /// A PyTorch function of one tensor `t` (its other arguments in `args`/`kwargs`), written as a
    /// function (`torch.softmax(t, 1)`, `F.relu(t)`) or a method (`t.softmax(1)`, `x.view(...)`).
    pub(super) fn tensor_fn(
        &mut self,
        t: usize,
        name: &str,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        let before = self.layers.len();
        let out = self.tensor_fn_inner(t, name, c, args, kwargs);
        // A layer made here is named after the function (`softmax`, `log`, `sigmoid`).
        if self.layers.len() == before + 1 {
            self.set_name(before, name.to_string());
        }
        out
    }

    fn tensor_fn_inner(
        &mut self,
        t: usize,
        name: &str,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        let x = SValue {
            value: Value::Tensor(t),
            span: c.span,
        };
        // `x.squeeze(-1)` keeps the values (a loss or a threshold on it reads the model's output),
        // but a class axis of one unit is gone: remembered for the categorical losses.
        if name == "squeeze" {
            self.squeezed.insert(t);
        }
        if keeps_values(name) {
            return Value::Tensor(t);
        }
        if let Some(act) = activation_name(name) {
            let layer = self.new_layer(
                "Activation",
                c,
                vec![SValue {
                    value: Value::Str(act.into()),
                    span: c.func.span(),
                }],
                vec![],
            );
            return self.call_layer(layer, &[x]);
        }
        match name {
            "softmax" | "log_softmax" => {
                // Without `dim`, PyTorch picks an axis from the rank (legacy implicit dim): unknown.
                let dim = match arg(args, kwargs, 0, "dim") {
                    Some(d) if matches!(d.value, Value::Int(_)) => d,
                    // `F.softmax(x)`: PyTorch's implicit dim, decided from the rank when lowered.
                    None if name == "softmax" => implicit_dim(c.span),
                    _ => return Value::Unknown,
                };
                let layer = self.norm_layer(name == "log_softmax", c, dim);
                self.call_layer(layer, &[x])
            }
            "log" => {
                let layer = self.new_layer(
                    "TFOpLambda",
                    c,
                    vec![],
                    vec![kw("function", c.func.span(), Value::Str("math.log".into()))],
                );
                let log = self.call_layer(layer, &[x]);
                if let Value::Tensor(l) = log
                    && super::guarded_log_arg(c)
                {
                    self.guarded_logs.insert(l);
                }
                log
            }
            "flatten" => {
                let start = int_of(&arg(args, kwargs, 0, "start_dim"));
                let end = int_of(&arg(args, kwargs, 1, "end_dim")).unwrap_or(-1);
                if start == Some(1) && end == -1 {
                    let layer = self.new_layer("Flatten", c, vec![], vec![]);
                    return self.call_layer(layer, &[x]);
                }
                Value::Unknown
            }
            "view" | "reshape" => self.view(t, c, args),
            "permute" => self.permute(t, c, args, kwargs),
            "round" => {
                self.thresholds.push((t, c.span));
                Value::Unknown
            }
            _ => Value::Unknown,
        }
    }

    /// `x.view(x.size(0), -1)` is a flatten, `x.view(-1, k)` a reshape to `k` features, `x.view(-1)`
    /// keeps the values; any other view is unknown.
    fn view(&mut self, t: usize, c: &Call, args: &[SValue]) -> Value {
        let x = SValue {
            value: Value::Tensor(t),
            span: c.span,
        };
        let dims: Vec<&Value> = match args {
            [one] => match &one.value {
                Value::Tuple(items) | Value::List(items) => {
                    items.iter().map(|i| &i.value).collect()
                }
                v => vec![v],
            },
            many => many.iter().map(|a| &a.value).collect(),
        };
        match dims.as_slice() {
            [Value::Int(-1)] => Value::Tensor(t),
            [Value::Int(-1), Value::Int(k)] if *k > 0 => {
                let span = args.last().map_or(c.span, |a| a.span);
                let layer = self.new_layer(
                    "Reshape",
                    c,
                    vec![],
                    vec![kw(
                        "target_shape",
                        span,
                        Value::List(vec![SValue {
                            value: Value::Int(*k),
                            span,
                        }]),
                    )],
                );
                self.call_layer(layer, &[x])
            }
            [first, Value::Int(-1)] if !matches!(first, Value::Int(_)) => {
                let layer = self.new_layer("Flatten", c, vec![], vec![]);
                self.call_layer(layer, &[x])
            }
            _ => Value::Unknown,
        }
    }

    /// `x.permute(0, 2, 3, 1)` / `torch.permute(x, (0, 2, 3, 1))`: a Keras `Permute` of the non-batch
    /// axes (`(2, 3, 1)`). A permutation that moves the batch axis, or is not one, is unknown.
    fn permute(&mut self, t: usize, c: &Call, args: &[SValue], kwargs: &[KwValue]) -> Value {
        let given: Vec<SValue> = match (args, kwargs.iter().find(|k| k.name == "dims")) {
            ([], Some(k)) => vec![k.value.clone()],
            (args, None) => args.to_vec(),
            _ => return Value::Unknown,
        };
        let items = match given.as_slice() {
            [one] => match &one.value {
                Value::Tuple(items) | Value::List(items) => items.clone(),
                _ => given.clone(),
            },
            _ => given.clone(),
        };
        let dims: Option<Vec<i64>> = items
            .iter()
            .map(|i| match i.value {
                Value::Int(d) => Some(d),
                _ => None,
            })
            .collect();
        let Some(dims) = dims else {
            return Value::Unknown;
        };
        let n = dims.len() as i64;
        let mut normal: Vec<i64> = dims
            .iter()
            .map(|&d| if d < 0 { d + n } else { d })
            .collect();
        let mut sorted = normal.clone();
        sorted.sort_unstable();
        if n < 2 || normal[0] != 0 || sorted != (0..n).collect::<Vec<_>>() {
            return Value::Unknown;
        }
        normal.remove(0);
        let span = given.first().map_or(c.span, |g| g.span);
        let keras_dims = normal
            .into_iter()
            .map(|d| SValue {
                value: Value::Int(d),
                span,
            })
            .collect();
        let layer = self.new_layer(
            "Permute",
            c,
            vec![],
            vec![kw("dims", span, Value::Tuple(keras_dims))],
        );
        let x = SValue {
            value: Value::Tensor(t),
            span: c.span,
        };
        self.call_layer(layer, &[x])
    }

    /// A softmax (as Keras `Softmax`) or log-softmax (as the op layer) over `dim`.
    fn norm_layer(&mut self, log: bool, c: &Call, dim: SValue) -> usize {
        let axis = KwValue {
            name: "axis".into(),
            span: dim.span,
            value: dim,
        };
        let layer = if log {
            self.new_layer(
                "TFOpLambda",
                c,
                vec![],
                vec![
                    kw(
                        "function",
                        c.func.span(),
                        Value::Str("nn.log_softmax".into()),
                    ),
                    axis,
                ],
            )
        } else {
            self.new_layer("Softmax", c, vec![], vec![axis])
        };
        // The label of the activation is the call itself (`F.softmax`, `nn.Softmax`).
        self.layers[layer].callee_span = c.func.span();
        layer
    }

    /// `nn.X(...)`: the Keras layer computing the same thing; a module nnlint does not model is an
    /// opaque layer (unknown shape after it, nothing guessed).
    fn torch_module(
        &mut self,
        class: &str,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        let a = |pos: usize, name: &str| arg(args, kwargs, pos, name);
        let channels_first =
            |span: Span| kw("data_format", span, Value::Str("channels_first".into()));
        let mut out: Vec<KwValue> = vec![];
        let keras = match class {
            "Linear" | "LazyLinear" => {
                let (units, inf) = if class == "Linear" {
                    (a(1, "out_features"), a(0, "in_features"))
                } else {
                    (a(0, "out_features"), None)
                };
                let Some(units) = units else {
                    return self.opaque(c);
                };
                out.push(kw("units", units.span, units.value));
                if let Some(k) = inf.filter(|k| matches!(k.value, Value::Int(_))) {
                    out.push(kw("in_features", k.span, k.value));
                }
                if let Some(b) = a(2, "bias") {
                    out.push(kw("use_bias", b.span, b.value));
                }
                "Dense"
            }
            "Conv1d" | "Conv2d" | "Conv3d" => {
                let n = match class {
                    "Conv1d" => 1,
                    "Conv2d" => 2,
                    _ => 3,
                };
                let (Some(filters), Some(k)) = (a(1, "out_channels"), a(2, "kernel_size")) else {
                    return self.opaque(c);
                };
                let groups = int_of(&a(6, "groups")).unwrap_or(1);
                let stride = a(3, "stride");
                let kernel = size_of(&k);
                let strides = stride.as_ref().map_or(Some(vec![1]), size_of);
                let padding = match a(4, "padding") {
                    None => Some("valid"),
                    Some(p) => match &p.value {
                        Value::Str(s) if s == "same" || s == "valid" => {
                            Some(if s == "same" { "same" } else { "valid" })
                        }
                        _ => match (size_of(&p), &kernel, &strides) {
                            (Some(p), _, _) if p.iter().all(|&x| x == 0) => Some("valid"),
                            // `padding=k//2` with stride 1 and an odd kernel keeps the size: "same".
                            (Some(p), Some(k), Some(s))
                                if s.iter().all(|&x| x == 1)
                                    && (p.len() == k.len() || p.len() == 1)
                                    && k.iter().all(|&kk| kk % 2 == 1)
                                    && k.iter().enumerate().all(|(i, &kk)| {
                                        p.get(i).or(p.first()) == Some(&(kk / 2))
                                    }) =>
                            {
                                Some("same")
                            }
                            _ => None,
                        },
                    },
                };
                let dilation = a(5, "dilation");
                let (Some(padding), true, Some(_)) = (padding, groups == 1, kernel) else {
                    return self.opaque(c);
                };
                if dilation.is_some_and(|d| size_of(&d).is_none_or(|d| d.iter().any(|&x| x != 1))) {
                    return self.opaque(c);
                }
                out.push(kw("filters", filters.span, filters.value));
                out.push(kw("kernel_size", k.span, k.value));
                if let Some(s) = stride {
                    out.push(kw("strides", s.span, s.value));
                }
                out.push(kw("padding", c.span, Value::Str(padding.into())));
                if let Some(b) = a(7, "bias") {
                    out.push(kw("use_bias", b.span, b.value));
                }
                if let Some(ch) = a(0, "in_channels").filter(|v| matches!(v.value, Value::Int(_))) {
                    out.push(kw("in_channels", ch.span, ch.value));
                }
                out.push(channels_first(c.span));
                match n {
                    1 => "Conv1D",
                    2 => "Conv2D",
                    _ => "Conv3D",
                }
            }
            "MaxPool1d" | "MaxPool2d" | "AvgPool1d" | "AvgPool2d" => {
                let Some(k) = a(0, "kernel_size") else {
                    return self.opaque(c);
                };
                let stride = a(1, "stride").filter(|s| !matches!(s.value, Value::None));
                let padding_zero = a(2, "padding")
                    .is_none_or(|p| size_of(&p).is_some_and(|p| p.iter().all(|&x| x == 0)));
                if !padding_zero || size_of(&k).is_none() {
                    return self.opaque(c);
                }
                out.push(kw("pool_size", k.span, k.value.clone()));
                let strides = stride.unwrap_or(k);
                out.push(kw("strides", strides.span, strides.value));
                out.push(kw("padding", c.span, Value::Str("valid".into())));
                out.push(channels_first(c.span));
                match class {
                    "MaxPool1d" => "MaxPooling1D",
                    "MaxPool2d" => "MaxPooling2D",
                    "AvgPool1d" => "AveragePooling1D",
                    _ => "AveragePooling2D",
                }
            }
            "AdaptiveAvgPool2d" | "AdaptiveMaxPool2d" => {
                let one = a(0, "output_size")
                    .and_then(|s| size_of(&s))
                    .is_some_and(|s| s.iter().all(|&x| x == 1));
                if !one {
                    return self.opaque(c);
                }
                out.push(channels_first(c.span));
                out.push(kw("keepdims", c.span, Value::Bool(true)));
                if class == "AdaptiveAvgPool2d" {
                    "GlobalAveragePooling2D"
                } else {
                    "GlobalMaxPooling2D"
                }
            }
            "Flatten" => {
                let start = int_of(&a(0, "start_dim")).unwrap_or(1);
                let end = int_of(&a(1, "end_dim")).unwrap_or(-1);
                if (start, end) != (1, -1) {
                    return self.opaque(c);
                }
                "Flatten"
            }
            "Dropout" | "Dropout1d" | "Dropout2d" | "AlphaDropout" => {
                if let Some(p) = a(0, "p") {
                    out.push(kw("rate", p.span, p.value));
                }
                "Dropout"
            }
            "BatchNorm1d" | "BatchNorm2d" | "BatchNorm3d" => {
                out.push(kw("axis", c.span, Value::Int(1)));
                "BatchNormalization"
            }
            "LayerNorm" => {
                out.push(kw("axis", c.span, Value::Int(-1)));
                "LayerNormalization"
            }
            "Softmax" | "LogSoftmax" => {
                let dim = match a(0, "dim") {
                    Some(d) if matches!(d.value, Value::Int(_)) => d,
                    // `nn.Softmax()`: PyTorch's implicit dim, decided from the rank when lowered.
                    None if class == "Softmax" => implicit_dim(c.span),
                    _ => return self.opaque(c),
                };
                return Value::Layer(self.norm_layer(class == "LogSoftmax", c, dim));
            }
            // Recurrent layers: `out, h = self.gru(x)`, `out, (h, c) = self.lstm(x)`. The output
            // is `(T, N, D·hidden)` or `(N, T, D·hidden)` and each state `(D·layers, N, hidden)`:
            // rank 3 either way (unbatched 2-D input aside).
            "RNN" | "GRU" | "LSTM" => {
                let hidden = int_of(&a(1, "hidden_size")).filter(|&h| h > 0);
                let two = match a(7, "bidirectional").map(|b| b.value) {
                    None | Some(Value::Bool(false)) => Some(false),
                    Some(Value::Bool(true)) => Some(true),
                    _ => None,
                };
                let projected = a(9, "proj_size").is_some();
                let width = match (hidden, two, projected) {
                    (Some(h), Some(two), false) => Some(if two { 2 * h } else { h }),
                    _ => None,
                };
                let states = if class == "LSTM" { 2 } else { 1 };
                let mut kwargs = Shaping::Fixed(vec![None, None, width]).kwargs(c.span);
                kwargs.push(kw("returns_states", c.span, Value::Int(states)));
                return Value::Layer(self.new_layer(UNRESOLVED_LAYER, c, vec![], kwargs));
            }
            // Encoders keep their input's shape (`(N, T, d_model)` in, the same out).
            "TransformerEncoder"
            | "TransformerEncoderLayer"
            | "TransformerDecoder"
            | "TransformerDecoderLayer" => {
                let kwargs = Shaping::Same.kwargs(c.span);
                return Value::Layer(self.new_layer(UNRESOLVED_LAYER, c, vec![], kwargs));
            }
            "LeakyReLU" => {
                if let Some(s) = a(0, "negative_slope") {
                    out.push(kw("negative_slope", s.span, s.value));
                }
                "LeakyReLU"
            }
            other => match activation_name(other) {
                Some(act) => {
                    return Value::Layer(self.new_layer(
                        "Activation",
                        c,
                        vec![SValue {
                            value: Value::Str(act.into()),
                            span: c.func.span(),
                        }],
                        vec![],
                    ));
                }
                None => return self.opaque(c),
            },
        };
        Value::Layer(self.new_layer(keras, c, vec![], out))
    }

    fn opaque(&mut self, c: &Call) -> Value {
        Value::Layer(self.new_layer(UNRESOLVED_LAYER, c, vec![], vec![]))
    }

    /// A loss called on a prediction: `criterion(out, y)`, `F.nll_loss(out, y)`.
    pub(super) fn torch_loss(
        &mut self,
        name: &'static str,
        callee_span: Span,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Value {
        self.trains = true;
        let input = arg(args, kwargs, 0, "input");
        let Some(SValue {
            value: Value::Tensor(t),
            span,
        }) = input
        else {
            if let Some(a) = input {
                self.gap(a.span, super::LOST_LOSS_INPUT);
            }
            return Value::Unknown;
        };
        // `CrossEntropyLoss()(dense(h).squeeze(-1), positions)`: the classes are the axis left
        // after the unit one was squeezed (span scores over positions), a shape nnlint does not
        // follow. Not paired, rather than read as a one-unit head.
        if matches!(
            name,
            "CrossEntropyLoss" | "cross_entropy" | "NLLLoss" | "nll_loss"
        ) && self.squeezed.contains(&t)
        {
            self.gap(span, super::LOST_LOSS_INPUT);
            return Value::Unknown;
        }
        self.tf_losses.push(TfLoss {
            class: name,
            tensor: t,
            callee_span,
            call_span: c.span,
            logits_span: takes_logits(name).then_some(span),
            also: None,
            labels: arg(args, kwargs, 1, "target").and_then(|y| super::labels::fact_of(&y.value)),
        });
        Value::Unknown
    }

    /// After the module ran: module classes never instantiated are built with unknown arguments
    /// (and a Lightning module's steps run), so a file that only defines a model is still read;
    /// then each input made for a model gets the shape its first layer states.
    pub(super) fn finish_torch(&mut self, globals: &Env) {
        // A base class is built with each instance of a subclass (`Net(Base)` instantiated,
        // `Base` not): its methods ran there, on the attributes the subclass set.
        let built: Vec<*const ClassDef> = self
            .instances
            .iter()
            .filter_map(|i| i.class.as_ref())
            .flat_map(|c| c.mro.iter().map(Arc::as_ptr))
            .collect();
        let globals = Arc::new(globals.clone());
        for class in self.torch_classes.clone() {
            if built.contains(&Arc::as_ptr(&class.def)) || class.imported {
                continue;
            }
            let span = class.def.span;
            let i = self.instantiate_with(class.clone(), span, &[], &[], globals.clone());
            self.lightning_steps(i, span);
            if class.module && self.instances[i].cached.is_none() {
                self.call_instance(i, span, &[], &[]);
            }
        }
        // Methods of plain classes nothing in the file calls (a trainer's `build_model`, a GAN's
        // `build_discriminator`): run once on the last instance, with unknown arguments.
        self.run_uncalled_methods(false);
        // A Lightning module built in the file is trained by `Trainer.fit`: its steps run once, on
        // the last instance of each class.
        let last = self.last_instances(|c| c.lightning && built.contains(&Arc::as_ptr(&c.def)));
        for (i, span) in last {
            self.lightning_steps(i, span);
        }
        // A module the file builds and binds to a module-level name but never calls (`model =
        // Net()` then `print(model)`, a models file): its forward runs once on unknown inputs, as
        // for a class never built. The last instance of each class, in the order built; a module
        // held by another (`self.pool = Pooling(...)`) runs only in its owner's forward.
        let uncalled = self.last_instances(|c| c.module && !c.lightning && !c.imported);
        for (i, span) in uncalled {
            let rec = &self.instances[i];
            if self.bound_at_top(i) && rec.cached.is_none() && rec.last_out.is_none() {
                self.call_instance(i, span, &[], &[]);
            }
        }
        // Methods of PyTorch modules nothing in the file calls (`predict`, `evaluate`, `sample`):
        // run once the training code has, so they read the same forward.
        self.run_uncalled_methods(true);
        for tensor in self.torch_inputs.clone() {
            self.set_input_shape(tensor);
        }
    }

    /// The last instance built of `class`: by the file's own run when it built one, else by a
    /// helper nothing calls (run with unknown arguments).
    fn last_instance_of(&self, class: &TorchClass) -> Option<usize> {
        let of_class = |r: &InstanceRec| {
            r.class
                .as_ref()
                .is_some_and(|rc| Arc::ptr_eq(&rc.def, &class.def))
        };
        let own = self.own_instances.unwrap_or(usize::MAX);
        self.instances
            .rposition_among(own, of_class)
            .or_else(|| self.instances.rposition(of_class))
    }

    /// The last instance of each class of the file that `keep` selects, with the class's span, in
    /// the order they were built.
    fn last_instances(&self, keep: impl Fn(&TorchClass) -> bool) -> Vec<(usize, Span)> {
        let mut out: Vec<(usize, Span)> = self
            .torch_classes
            .iter()
            .filter(|c| keep(c))
            .filter_map(|c| Some((self.last_instance_of(c)?, c.def.span)))
            .collect();
        out.sort_by_key(|&(i, _)| i);
        out
    }

    /// Runs, once on the last instance of each class and with unknown arguments, the methods nothing
    /// ran: of plain classes, or (`modules`) of PyTorch module classes.
    fn run_uncalled_methods(&mut self, modules: bool) {
        for class in self.torch_classes.clone() {
            let torch_module = class.module && class.forward == "forward";
            if class.module != modules || (modules && !torch_module) {
                continue;
            }
            let Some(i) = self.last_instance_of(&class) else {
                continue;
            };
            let span = class.def.span;
            for s in &class.def.body {
                let Stmt::FunctionDef(f) = s else { continue };
                if self.ran.contains(&Arc::as_ptr(f)) || f.name.starts_with("__") {
                    continue;
                }
                let this = SValue {
                    value: Value::Instance(i),
                    span,
                };
                self.run_method(i, f, &[this], &[]);
            }
        }
    }

    /// Runs the `*_step` methods of a Lightning module with unknown batches.
    fn lightning_steps(&mut self, i: usize, span: Span) {
        let Some(class) = self.instances[i].class.clone().filter(|c| c.lightning) else {
            return;
        };
        for step in [
            "training_step",
            "validation_step",
            "test_step",
            "predict_step",
        ] {
            if let Some(f) = class.method(step) {
                let self_arg = SValue {
                    value: Value::Instance(i),
                    span,
                };
                self.run_method(i, &f, &[self_arg], &[]);
            }
        }
    }

    /// `[None, in_features]` before an `nn.Linear`, `[None, C, None, None]` before an `nn.Conv2d`.
    fn set_input_shape(&mut self, tensor: usize) {
        let input_layer = self.tensors[tensor].layer;
        let Some(first) = self
            .layers
            .iter()
            .find(|l| l.calls.iter().any(|ins| ins.first() == Some(&tensor)))
        else {
            return;
        };
        let find = |key: &str| first.kwargs.iter().find(|k| k.name == key);
        let unknown = |span| SValue {
            value: Value::None,
            span,
        };
        let (dims, span) = match first.class.as_str() {
            "Dense" => match find("in_features") {
                Some(k) => (vec![unknown(k.span), k.value.clone()], k.span),
                None => return,
            },
            c @ ("Conv1D" | "Conv2D" | "Conv3D") => match find("in_channels") {
                Some(k) => {
                    let spatial = match c {
                        "Conv1D" => 1,
                        "Conv2D" => 2,
                        _ => 3,
                    };
                    let mut d = vec![unknown(k.span), k.value.clone()];
                    d.extend((0..spatial).map(|_| unknown(k.span)));
                    (d, k.span)
                }
                None => return,
            },
            _ => return,
        };
        self.layers[input_layer]
            .kwargs
            .push(kw("batch_shape", span, Value::List(dims)));
    }

    /// Without a loss: the PyTorch model called last on unseen data (or built last), its output
    /// thresholded at 0.5 read as a metric.
    /// The model reads an input made for a PyTorch module (its layers are modules).
    /// Instances that are modules or models (not parsers, namespaces or plain records).
    pub(super) fn modules_built(&self) -> bool {
        self.instances.iter().any(InstanceRec::is_module)
    }

    /// The module instance (newest first) whose forward returned tensor `t`, and its class name.
    pub(super) fn instance_giving(&self, t: usize) -> Option<(usize, String)> {
        self.instances.enumerate().rev().find_map(|(i, rec)| {
            let cached = rec
                .cached
                .as_ref()
                .and_then(|(_, out)| self.forward_tensor(out));
            let gives = cached == Some(t) || rec.last_out == Some(t);
            let class = rec.class.as_ref()?;
            gives.then(|| (i, class.def.name.clone()))
        })
    }

    pub fn is_torch_model(&self, m: usize) -> bool {
        match &self.models[m].kind {
            super::ModelKind::Functional { inputs, .. } => {
                inputs.iter().any(|t| self.torch_inputs.contains(t))
            }
            super::ModelKind::Sequential(_) => false,
        }
    }

    pub fn torch_model(&mut self) -> Option<usize> {
        // The module called last on unseen data; else the one whose forward ran last on tensors.
        let cached = self
            .instances
            .iter()
            .filter_map(|i| {
                let (input, out) = i.cached.as_ref()?;
                let out = self.forward_tensor(out)?;
                Some((i.created, (vec![*input], out)))
            })
            .max_by_key(|(created, _)| *created)
            .map(|(_, c)| c);
        let (inputs, output) = match cached {
            Some(c) => c,
            None => {
                let out = self
                    .instances
                    .iter()
                    .filter_map(|i| Some((i.created, i.last_out?)))
                    .max_by_key(|(created, _)| *created)
                    .map(|(_, o)| o)?;
                let inputs = self.inputs_of(&[out]);
                if inputs.is_empty() {
                    return None;
                }
                (inputs, out)
            }
        };
        let span = self.layers[self.tensors[output].layer].call_span;
        self.clock += 1;
        let compile = self
            .threshold_metrics(output, span)
            .map(|metrics| super::Compile {
                span,
                loss: None,
                metrics: Some(metrics),
                loss_weights: None,
            });
        self.models.push(super::ModelRec {
            kind: super::ModelKind::Functional {
                inputs,
                outputs: vec![output],
            },
            span,
            name: Some("torch_module".into()),
            unresolved: false,
            depth: 0,
            compile_unknown: false,
            compiled_at: compile.as_ref().map(|_| self.clock),
            labels: None,
            sampled: self
                .sampled
                .iter()
                .find(|(t, _)| *t == output)
                .map(|&(_, at)| at),
            compile,
        });
        Some(self.models.len() - 1)
    }
}

/// The gap recorded where a pretrained model's trunk runs.
const PRETRAINED_TRUNK: &str =
    "a pretrained model's trunk (opaque: only the head after it is read)";

impl World {
    /// `torchvision.models.resnet18(weights=...)`, `torch.hub.load("pytorch/vision", "vgg16")`,
    /// `torchvision.models.get_model("vgg16")` (and Lightning's `get_torchvision_model`),
    /// `timm.create_model(name, num_classes=k)`,
    /// `AutoModelForSequenceClassification.from_pretrained(name, num_labels=k)`: a model with an
    /// opaque trunk and the head the library puts on it; `None` for other paths.
    fn library_model(
        &mut self,
        path: &str,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Option<Value> {
        let str_arg = |pos: usize, name: &str| match arg(args, kwargs, pos, name).map(|a| a.value) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        };
        // `num_classes=k`, or the library's default.
        let classes = |name: &str, default: Option<i64>| {
            arg(&[], kwargs, usize::MAX, name).unwrap_or(SValue {
                value: default.map_or(Value::Unknown, Value::Int),
                span: c.span,
            })
        };
        // Builders that take the architecture by name: torchvision's `models.get_model("resnet18",
        // weights=...)` and Lightning's `get_torchvision_model(name, ...)`, which calls it.
        let by_name = path == "torchvision.models.get_model"
            || ["lightning.pytorch.", "pytorch_lightning."]
                .iter()
                .any(|p| {
                    path.strip_prefix(p) == Some("utilities.model_helpers.get_torchvision_model")
                });
        if by_name {
            let name = str_arg(0, "name")?;
            let spec = torch_models::torchvision(&name)?;
            let k = classes("num_classes", Some(1000));
            return Some(self.library_instance(&name, c, spec, k, false));
        }
        if let Some(rest) = path.strip_prefix("torchvision.models.") {
            let name = rest.rsplit('.').next().unwrap_or(rest);
            let spec = torch_models::torchvision(name)?;
            let k = classes("num_classes", Some(1000));
            return Some(self.library_instance(name, c, spec, k, false));
        }
        if path == "torch.hub.load" {
            let repo = str_arg(0, "repo_or_dir")?;
            let name = str_arg(1, "model")?;
            if !repo.starts_with("pytorch/vision") {
                return None;
            }
            let spec = torch_models::torchvision(&name)?;
            let k = classes("num_classes", Some(1000));
            return Some(self.library_instance(&name, c, spec, k, false));
        }
        if path == "timm.create_model" {
            let name = str_arg(0, "model_name");
            let base = name.as_deref().unwrap_or("timm_model");
            // timm's classifier attribute by family; any other: none the file can name.
            let attr = match base {
                b if ["resnet", "resnext", "seresnext", "wide_resnet", "regnet"]
                    .iter()
                    .any(|p| b.starts_with(p)) =>
                {
                    "fc"
                }
                b if ["vit_", "deit_", "swin_", "beit_"]
                    .iter()
                    .any(|p| b.starts_with(p)) =>
                {
                    "head"
                }
                b if ["efficientnet", "tf_efficientnet", "mobilenet", "densenet"]
                    .iter()
                    .any(|p| b.starts_with(p)) =>
                {
                    "classifier"
                }
                _ => "(classifier)",
            };
            let spec = torch_models::Spec {
                attr,
                width: name.as_deref().and_then(torch_models::timm_width),
                seq: None,
                keys: &[],
            };
            let k = classes("num_classes", Some(1000));
            return Some(self.library_instance(base, c, spec, k, false));
        }
        let hf_class = path
            .strip_prefix("transformers.")?
            .strip_suffix(".from_pretrained")?;
        let name = str_arg(0, "pretrained_model_name_or_path");
        self.hf_head(hf_class, name.as_deref(), c, args, kwargs);
        if !hf_class.ends_with("ForSequenceClassification") {
            return None;
        }
        let spec = torch_models::Spec {
            attr: "classifier",
            width: name.as_deref().and_then(torch_models::hf_width),
            seq: None,
            keys: &[],
        };
        // Without `num_labels` the count comes from the checkpoint's config: unknown.
        let k = classes("num_labels", None);
        let short = hf_class.rsplit('.').next().unwrap_or(hf_class);
        Some(self.library_instance(short, c, spec, k, true))
    }

    /// `XForSequenceClassification.from_pretrained(name, num_labels=1, id2label=...)`: the head
    /// as the config it saves describes it, for rule NNL017 (`load::hf` reads it, as it reads a
    /// `config.json`). Recorded only when every head argument given is known.
    fn hf_head(
        &mut self,
        class: &str,
        checkpoint: Option<&str>,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) {
        let short = class.rsplit('.').next().unwrap_or(class);
        let head = short.ends_with("ForSequenceClassification")
            || short.ends_with("ForTokenClassification");
        // A file-level config object passed as `config=` decides the head: not read here.
        if !head || kwargs.iter().any(|k| k.name == "config") {
            return;
        }
        let mut given: Vec<(&str, Span, &SValue)> = vec![];
        for key in ["num_labels", "id2label", "label2id", "problem_type"] {
            if let Some(k) = kwargs.iter().find(|k| k.name == key) {
                given.push((key, k.span, &k.value));
            }
        }
        // The width of the hidden state, for the common checkpoints.
        let hidden = checkpoint.and_then(torch_models::hf_width).map(|w| SValue {
            value: Value::Int(w),
            span: args.first().map_or(c.span, |a| a.span),
        });
        if let Some(h) = &hidden {
            given.push(("hidden_size", h.span, h));
        }
        let Some(root) = super::super::synth::hf_config(short, c.func.span(), &given, self) else {
            return;
        };
        if let Ok(Some(head)) = crate::load::hf::read_head(&root) {
            self.hf_heads.push(head);
        }
    }

    /// The model instance: the trunk layers, the head (a `Linear`, or an `nn.Sequential` of the
    /// table's parts) under its attribute.
    fn library_instance(
        &mut self,
        name: &str,
        c: &Call,
        spec: torch_models::Spec,
        classes: SValue,
        hf: bool,
    ) -> Value {
        let trunk = self.new_layer(UNRESOLVED_LAYER, c, vec![], vec![]);
        self.set_name(trunk, name.to_string());
        let width = spec.width.map(|w| {
            let dims = Value::List(vec![SValue {
                value: Value::Int(w),
                span: c.span,
            }]);
            let l = self.new_layer("Reshape", c, vec![], vec![kw("target_shape", c.span, dims)]);
            self.set_name(l, format!("{name}.pooled"));
            l
        });
        let head = self.library_head(c, &spec, &classes);
        let i = self.new_instance(None, None, Arc::new(Env::new()));
        let label = spec.attr.trim_matches(|ch| ch == '(' || ch == ')');
        self.name_module(&head, label);
        self.instances[i].attrs.insert(spec.attr.to_string(), head);
        self.instances[i].library = Some(Library {
            trunk,
            width,
            inputs: spec.width,
            head: spec.attr,
            hf,
            changed: false,
        });
        Value::Instance(i)
    }

    /// The head of `spec` with `classes` outputs.
    fn library_head(&mut self, c: &Call, spec: &torch_models::Spec, classes: &SValue) -> Value {
        // timm's `num_classes=0`: no classifier, the pooled features.
        if matches!(classes.value, Value::Int(0)) {
            return Value::Layer(self.new_layer(
                "Activation",
                c,
                vec![SValue {
                    value: Value::Str("linear".into()),
                    span: classes.span,
                }],
                vec![],
            ));
        }
        let Some(parts) = spec.seq else {
            return Value::Layer(self.library_linear(c, spec.width, None, classes));
        };
        let items = parts
            .iter()
            .map(|p| {
                use torch_models::Part;
                let act = |name: &str| {
                    vec![SValue {
                        value: Value::Str(name.into()),
                        span: c.span,
                    }]
                };
                let l = match *p {
                    Part::Linear { inputs, out } => {
                        self.library_linear(c, Some(inputs), out, classes)
                    }
                    Part::Relu => self.new_layer("Activation", c, act("relu"), vec![]),
                    Part::Hardswish => self.new_layer("Activation", c, act("hard_swish"), vec![]),
                    Part::Dropout => self.new_layer("Dropout", c, vec![], vec![]),
                    Part::Flatten => self.new_layer("Flatten", c, vec![], vec![]),
                    Part::LayerNorm => self.new_layer(
                        "LayerNormalization",
                        c,
                        vec![],
                        vec![kw("axis", c.span, Value::Int(-1))],
                    ),
                };
                SValue {
                    value: Value::Layer(l),
                    span: c.span,
                }
            })
            .collect();
        let j = self.new_instance(None, Some(items), Arc::new(Env::new()));
        self.instances[j].seq_keys = spec.keys.iter().map(|k| k.to_string()).collect();
        Value::Instance(j)
    }

    /// `nn.Linear(inputs, out)` as the library builds it; `out: None` is the class count.
    fn library_linear(
        &mut self,
        c: &Call,
        inputs: Option<i64>,
        out: Option<i64>,
        classes: &SValue,
    ) -> usize {
        let units = match out {
            Some(n) => SValue {
                value: Value::Int(n),
                span: c.span,
            },
            None => classes.clone(),
        };
        let mut kwargs = vec![kw("units", units.span, units.value)];
        if let Some(w) = inputs {
            kwargs.push(kw("in_features", c.span, Value::Int(w)));
        }
        self.new_layer("Dense", c, vec![], kwargs)
    }

    /// The forward of a library model on `input`: the trunk, then whatever the head attribute
    /// holds now (the library's head, or the one the file put there). A model changed in a way
    /// nnlint does not follow gives an opaque output.
    fn library_forward(&mut self, i: usize, lib: &Library, input: usize, span: Span) -> Value {
        let trunk_span = self.layers[lib.trunk].call_span;
        let trunk_callee = self.layers[lib.trunk].callee_span;
        self.gap(trunk_span, PRETRAINED_TRUNK);
        let x = SValue {
            value: Value::Tensor(input),
            span,
        };
        let mut h = self.call_layer(lib.trunk, &[x]);
        if let Some(w) = lib.width {
            h = self.call_layer(w, &[SValue { value: h, span }]);
        }
        let Value::Tensor(features) = h else {
            return Value::Unknown;
        };
        let rec = &self.instances[i];
        let unexpected = rec.attrs.keys().any(|k| k != lib.head && !harmless_attr(k));
        let head = rec.attrs.get(lib.head).cloned().unwrap_or(Value::Unknown);
        let out = if lib.changed || unexpected {
            Value::Unknown
        } else {
            let f = SValue {
                value: Value::Tensor(features),
                span,
            };
            self.apply_module(&head, &f, span)
        };
        let out = match out {
            Value::Unknown => {
                self.gap(
                    span,
                    "a pretrained model changed in a way nnlint does not follow",
                );
                self.opaque_tensor(features, trunk_callee, trunk_span)
            }
            other => other,
        };
        if !lib.hf {
            return out;
        }
        // `outputs.logits`.
        let o = self.new_instance(None, None, Arc::new(Env::new()));
        self.instances[o].attrs.insert("logits".into(), out);
        Value::Instance(o)
    }

    /// The tensor a forward's result stands for: a tensor (or the first of a tuple/dict of them),
    /// or the `logits` of a `transformers` output object.
    pub(super) fn forward_tensor(&self, v: &Value) -> Option<usize> {
        if let Value::Instance(o) = v {
            let rec = &self.instances[*o];
            return match rec.attrs.get("logits") {
                Some(&Value::Tensor(t)) if rec.class.is_none() && rec.seq.is_none() => Some(t),
                _ => None,
            };
        }
        super::tensor_in(v)
    }

    /// Where an expression assigned into leads, read without running anything: a local name, an
    /// attribute of a module, an item of an `nn.Sequential` or a list. The library models met on
    /// the way are added to `through`.
    fn held(&self, e: &Expr, frame: &Frame, through: &mut Vec<usize>) -> Option<Value> {
        let v = match e {
            Expr::Name { id, .. } => frame.locals.get(id).cloned()?,
            Expr::Attribute { value, attr, .. } => match self.held(value, frame, through)? {
                Value::Instance(i) => self.instance_attr(i, attr),
                _ => return None,
            },
            Expr::Subscript { value, index, .. } => {
                let base = self.held(value, frame, through)?;
                let k = literal_index(index)?;
                let items = match &base {
                    Value::Instance(i) => self.instances[*i].seq.clone()?,
                    Value::List(items) => items.clone(),
                    _ => return None,
                };
                let n = items.len() as i64;
                let k = if k < 0 { k + n } else { k };
                items.get(usize::try_from(k).ok()?)?.value.clone()
            }
            _ => return None,
        };
        if let Value::Instance(i) = v
            && self.instances[i].library.is_some()
        {
            through.push(i);
        }
        Some(v)
    }

    /// An assignment whose target is not a plain name or a `name.attr` of a module (those are
    /// handled where assignments are): `self.backbone.fc = nn.Linear(...)` sets the attribute of
    /// the module it names, `model.classifier[6] = ...` replaces an item of an `nn.Sequential`,
    /// `model.heads.head = ...` the module an `OrderedDict` key names. Anything else falls back to
    /// forgetting the container; a library model the target goes through is then marked changed.
    pub(super) fn assign_into(&mut self, target: &Expr, v: SValue, frame: &mut Frame) {
        let mut through = vec![];
        if self.assign_into_module(target, &v, frame, &mut through) {
            return;
        }
        // `registry["resnet"] = ResNet`: an item of a dict the interpreter knows.
        if let Expr::Subscript { value, index, .. } = target
            && let (Expr::Name { id, .. }, Expr::Str { value: key, .. }) = (&**value, &**index)
            && let Some(Value::Dict(items)) = frame.locals.get_mut(id)
        {
            items.retain(|(k, _)| k != key);
            items.push((key.clone(), v));
            return;
        }
        let mut e = target;
        let mut harmless = false;
        while let Expr::Subscript { value, .. } | Expr::Attribute { value, .. } = e {
            if let Expr::Attribute { attr, .. } = e {
                harmless |= harmless_attr(attr);
            }
            e = value;
        }
        if !harmless {
            for i in through {
                if let Some(lib) = self.instances[i].library.as_mut() {
                    lib.changed = true;
                }
            }
        }
        self.invalidate_container(target, frame, true);
    }

    fn assign_into_module(
        &mut self,
        target: &Expr,
        v: &SValue,
        frame: &Frame,
        through: &mut Vec<usize>,
    ) -> bool {
        match target {
            Expr::Attribute { value, attr, .. } => {
                let Some(Value::Instance(j)) = self.held(value, frame, through) else {
                    return false;
                };
                let keys = &self.instances[j].seq_keys;
                let path = module_path(target);
                if let Some(pos) = keys.iter().position(|k| k == attr) {
                    return self.replace_item(j, pos, v, &path);
                }
                self.name_module(&v.value, &path);
                let rec = &mut self.instances[j];
                let maybe = self.block_depth > rec.depth
                    && rec
                        .attrs
                        .get(attr)
                        .is_some_and(|old| !super::same(old, &v.value));
                let value = if maybe {
                    Value::Unknown
                } else {
                    v.value.clone()
                };
                rec.attrs.insert(attr.clone(), value);
                true
            }
            Expr::Subscript { value, index, .. } => {
                let Some(Value::Instance(j)) = self.held(value, frame, through) else {
                    return false;
                };
                let (Some(k), Some(n)) = (
                    literal_index(index),
                    self.instances[j].seq.as_ref().map(Vec::len),
                ) else {
                    return false;
                };
                let k = if k < 0 { k + n as i64 } else { k };
                let Some(pos) = usize::try_from(k).ok().filter(|&p| p < n) else {
                    return false;
                };
                let path = match module_path(value) {
                    p if p.is_empty() => pos.to_string(),
                    p => format!("{p}.{pos}"),
                };
                self.replace_item(j, pos, v, &path)
            }
            _ => false,
        }
    }

    /// Item `pos` of `nn.Sequential` instance `j` becomes `v`, named `path` (unknown when the
    /// assignment is in a branch or a loop that may not run as read).
    fn replace_item(&mut self, j: usize, pos: usize, v: &SValue, path: &str) -> bool {
        self.name_module(&v.value, path);
        let maybe = self.block_depth > self.instances[j].depth;
        let Some(seq) = self.instances[j].seq.as_mut() else {
            return false;
        };
        seq[pos] = SValue {
            value: if maybe {
                Value::Unknown
            } else {
                v.value.clone()
            },
            span: v.span,
        };
        true
    }
}

/// The module path an assignment target names below its root (`backbone.heads.head` for
/// `self.backbone.heads.head`, `classifier.6` for `model.classifier[6]`).
fn module_path(e: &Expr) -> String {
    let mut parts = vec![];
    let mut e = e;
    loop {
        match e {
            Expr::Attribute { value, attr, .. } => {
                parts.push(attr.clone());
                e = value;
            }
            Expr::Subscript { value, index, .. } => {
                parts.push(literal_index(index).map_or_else(|| "?".into(), |k| k.to_string()));
                e = value;
            }
            _ => break,
        }
    }
    parts.reverse();
    parts.join(".")
}

/// `6`, `-1`, written as an index.
fn literal_index(e: &Expr) -> Option<i64> {
    match e {
        Expr::Int { value, .. } => *value,
        Expr::Neg { operand, .. } => match operand.as_ref() {
            Expr::Int { value, .. } => value.map(|v| -v),
            _ => None,
        },
        _ => None,
    }
}
