//! Abstract interpretation of a Python module's Keras code, never executing anything. Statements
//! run in order over abstract values: imports become dotted paths, small constants propagate, layer
//! constructors become layer records, `Sequential`/`model.add`/functional calls/`Model(...)` become
//! model records and `compile(...)` their training config. Whatever cannot be resolved is
//! `Value::Unknown`, and a model mutated where the interpreter cannot tell how often (inside an
//! `if` or a loop it did not create the model in) is marked unresolved and never reported on.

use std::collections::HashMap;
use std::sync::Arc;

use super::project::{self, ModuleSource};
use super::syntax::{BinOp, BlockKind, Call, ClassDef, CmpOp, Expr, FunctionDef, Stmt};
use crate::ir::Span;
use shaping::Shaping;

mod imports;
pub use imports::module_run_counts;
mod labels;
mod shaping;
mod torch;

/// Class given to a layer changed after it was built: lowered as an opaque op of unknown shape.
pub const UNRESOLVED_LAYER: &str = "UnresolvedPythonLayer";

/// Inlined helper calls deeper than this return unknown.
const MAX_CALL_DEPTH: usize = 3;
/// Statements executed per file (helpers inlined included) before the interpreter stops.
pub const MAX_STEPS: usize = 1_000_000;
/// A `for` over a known sequence longer than this (or a comprehension) runs as an unknown loop.
const MAX_UNROLL: usize = 64;
/// More layer records or module instances than this stop the interpreter like the step budget: one
/// statement can build many (a module whose `__init__` builds modules in an unrolled loop).
pub const MAX_LAYERS: usize = 100_000;
pub const MAX_INSTANCES: usize = 10_000;
/// A list or tuple longer than this is unknown: `xs = xs + xs` in a loop must not grow without bound.
const MAX_ITEMS: usize = 4096;
/// Python's builtin functions: called on anything, they build no layer (`len(x)`, `print(x)` in a
/// forward are not an opaque module).
const BUILTINS: &[&str] = &[
    "abs",
    "all",
    "any",
    "bool",
    "callable",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "getattr",
    "hasattr",
    "hash",
    "id",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "print",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "sorted",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
];

#[derive(Clone, Debug)]
pub enum Value {
    Unknown,
    /// A module or an attribute of one: `tensorflow.keras.layers.Dense`.
    Path(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    None,
    Tuple(Vec<SValue>),
    List(Vec<SValue>),
    /// A dict literal with string keys (`{"out": "binary_crossentropy"}`).
    Dict(Vec<(String, SValue)>),
    Layer(usize),
    Tensor(usize),
    Model(usize),
    /// A method of a model (`model.add`), not yet called.
    Method(usize, String),
    /// A loss, metric or activation object (`BinaryCrossentropy(from_logits=True)`).
    Object(Arc<ObjectRec>),
    Function(Arc<FunctionDef>),
    /// TF1: a variable or initializer of this shape (`tf.Variable(tf.random_normal([784, 10]))`).
    Variable(Option<Vec<Option<i64>>>),
    /// TF1: `tf.log(p)` of a tensor, and the log layer made for it (none when `p` was clipped
    /// first, `tf.log(tf.clip_by_value(p, 1e-10, 1.0))`: the usual guard against log(0)).
    LogOf(usize, Option<usize>),
    /// TF1: `y * tf.log(p)` (sum or mean of it): a hand-written cross-entropy term on `p`, with
    /// the log tensor; `true` when `p` is logits (`y * tf.nn.log_softmax(z)` is a term on `z`).
    CeTerm(usize, Option<usize>, bool),
    /// TF1: `y * log(p) + (1 - y) * log(1 - p)`: the binary form.
    BceTerm(usize, Option<usize>),
    /// TF1: `tf.clip_by_value(p, lo, hi)` of a tensor, kept apart so a log of it is a guarded log.
    Clipped(usize),
    /// PyTorch: an `nn.Module` or `LightningModule` subclass defined in the file.
    Class(Arc<torch::TorchClass>),
    /// PyTorch: a module instance (of a class above, or `nn.Sequential`), index into `instances`.
    Instance(usize),
    /// PyTorch: an attribute of an instance that is a method, not yet called (`model.to`).
    Bound(usize, String),
    /// PyTorch: a method of a tensor, not yet called (`x.view`, `logits.sigmoid`).
    TensorMethod(usize, String),
    /// A first-party module of the project (`import models`, `from . import nets`).
    Module(Arc<ModuleVal>),
    /// Labels whose classes the file states, or a source of them (`interp/labels.rs`).
    Data(Arc<labels::LabelFact>, labels::DataForm),
}

/// A first-party module as the importing code sees it: the names its body bound.
#[derive(Debug)]
pub struct ModuleVal {
    /// The folder of a package (its submodules are there); none for a plain module.
    dir: Option<std::path::PathBuf>,
    env: Arc<Env>,
}

/// A TF1 loss: what it is as a Keras loss, the tensor it consumes, where it was written.
#[derive(Debug, Clone)]
pub struct TfLoss {
    /// The Keras loss class, or the PyTorch name as written (`CrossEntropyLoss`, `nll_loss`).
    pub class: &'static str,
    pub tensor: usize,
    pub callee_span: Span,
    pub call_span: Span,
    /// `logits=...` as written, when the loss takes logits.
    pub logits_span: Option<Span>,
    /// A tensor the loss computes on the way that the model keeps as an extra output: the log of
    /// a hand-written cross-entropy, so a `log(softmax(z))` in it is checked.
    pub also: Option<usize>,
    /// The labels the loss compares with, when the file states their classes.
    pub labels: Option<Arc<labels::LabelFact>>,
}

/// A value and where it was written.
#[derive(Clone, Debug)]
pub struct SValue {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug)]
pub struct ObjectRec {
    /// The class as written last (`BinaryCrossentropy`).
    pub class: String,
    pub callee_span: Span,
    pub call_span: Span,
    pub args: Vec<SValue>,
    pub kwargs: Vec<KwValue>,
}

#[derive(Clone, Debug)]
pub struct KwValue {
    pub name: String,
    /// `name=value` as written.
    pub span: Span,
    pub value: SValue,
}

#[derive(Debug)]
pub struct LayerRec {
    pub class: String,
    pub callee_span: Span,
    pub call_span: Span,
    pub args: Vec<SValue>,
    pub kwargs: Vec<KwValue>,
    /// One entry per call of the layer on tensors: the input tensors.
    pub calls: Vec<Vec<usize>>,
    /// `Input(...)`: the layer is an input layer, its one tensor is [`LayerRec::calls`]-less.
    pub is_input: bool,
}

#[derive(Debug)]
pub struct TensorRec {
    pub layer: usize,
    pub node: usize,
}

#[derive(Debug)]
pub enum ModelKind {
    /// Layers in order; `None` where something unresolved was added.
    Sequential(Vec<Option<usize>>),
    Functional {
        inputs: Vec<usize>,
        outputs: Vec<usize>,
    },
}

#[derive(Debug)]
pub struct ModelRec {
    pub kind: ModelKind,
    pub span: Span,
    pub name: Option<String>,
    /// Mutated inside a branch or a loop the model was not created in: never reported.
    pub unresolved: bool,
    /// Nesting of maybe/loop blocks where the model was created.
    depth: usize,
    pub compile: Option<Compile>,
    /// Compiled differently on paths the interpreter cannot decide: the loss is unknown.
    pub compile_unknown: bool,
    /// Order of creation and last compile, to choose which model a file is about.
    pub compiled_at: Option<usize>,
    /// The labels the model is trained on (`fit(x, y)`, the loss's target), when the file
    /// states their classes.
    pub labels: Option<Arc<labels::LabelFact>>,
    /// Its output is sampled as one distribution (`torch.multinomial`), there.
    pub sampled: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct Compile {
    pub span: Span,
    pub loss: Option<KwValue>,
    pub metrics: Option<KwValue>,
    pub loss_weights: Option<KwValue>,
}

/// What a call nnlint does not model computes from its tensors (see [`World::fallback`]).
struct Fallback {
    tensors: Vec<usize>,
    shaping: Shaping,
    /// `Some` when the call gives a `(values, indices)` pair, each shaped so.
    pair: Option<Shaping>,
}

/// The field names of a `namedtuple`: `["a", "b"]`, `"a b"`, `"a, b"`, or `typing.NamedTuple`'s
/// `[("a", int), ("b", str)]`.
fn record_fields(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Str(s) => Some(
            s.split([' ', ','])
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        Value::List(items) | Value::Tuple(items) => items
            .iter()
            .map(|i| match &i.value {
                Value::Str(s) => Some(s.clone()),
                Value::Tuple(pair) => match pair.first().map(|p| &p.value) {
                    Some(Value::Str(s)) => Some(s.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// What a call of a wrapper gives back: the modules it was given, as they were (the wrapper
/// moves them to devices or shards them; their heads are unchanged). `None` for other calls.
fn wrapped_modules(callee: &Value, func: &Expr, args: &[SValue]) -> Option<Value> {
    let module = |v: &SValue| matches!(v.value, Value::Instance(_) | Value::Model(_));
    let first = args.first().filter(|a| module(a))?;
    let name = match (callee, func) {
        (Value::Path(p), _) => p.rsplit('.').next().unwrap_or(""),
        (Value::Unknown, Expr::Attribute { attr, .. }) => attr.as_str(),
        _ => return None,
    };
    match name {
        // Each argument back, in order (a single one as itself).
        "setup" | "prepare" | "initialize" if args.len() > 1 => Some(Value::Tuple(args.to_vec())),
        "setup" | "setup_module" | "prepare" | "prepare_model" | "initialize" => {
            Some(first.value.clone())
        }
        "DistributedDataParallel"
        | "DataParallel"
        | "DDP"
        | "FullyShardedDataParallel"
        | "FSDP"
        | "compile"
        | "convert_sync_batchnorm" => Some(first.value.clone()),
        _ => None,
    }
}

/// Models of never-called helpers checked per file (each is synthesized and lowered on its own).
const MAX_UNCALLED_MODELS: usize = 8;

/// A place where something the model depends on became unknown to the interpreter, and why: what
/// a "not checked" or "partly checked" note points at.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub span: Span,
    pub reason: &'static str,
}

#[derive(Default)]
pub struct World {
    /// The first model built by a helper nothing in the file calls (run at the end).
    uncalled_models_from: usize,
    /// The name a Keras model or a module instance is bound to (`clf = build()`: `clf`), the
    /// module-level name over a function's local one: how `inspect` names the models of a file.
    bound_models: HashMap<usize, (String, bool)>,
    bound_instances: HashMap<usize, (String, bool)>,
    /// `transformers` classifier heads built from the source (`from_pretrained(..., num_labels=1)`),
    /// lowered by the config reader's own code (`load::hf`).
    pub hf_heads: Vec<crate::load::hf::Head>,
    /// Values a function assigned to a name it declared `global` (true) or `nonlocal`, not yet
    /// written where the name lives: the module's names when control is back at the top level,
    /// the enclosing function's when the function returns to it. Read before the module's names.
    outer_writes: HashMap<String, (Value, bool)>,
    /// Tensors the file squeezes (`x.squeeze(-1)`): a categorical loss on them is not paired.
    squeezed: std::collections::HashSet<usize>,
    /// Log tensors whose argument is guarded against 0 (`torch.log(p + 1e-8)`,
    /// `torch.log(p.clamp(min=1e-7))`): a cross-entropy term on them keeps no log to check.
    pub(super) guarded_logs: std::collections::HashSet<usize>,
    /// Where the file scores predictions as classes (`evaluate.load("accuracy")`,
    /// `accuracy_score`): evidence a `transformers` head is meant to classify.
    pub class_scoring: Option<Span>,
    /// Where values the models depend on became unknown, in the order met (at most [`MAX_GAPS`]).
    pub gaps: Vec<Gap>,
    pub layers: Vec<LayerRec>,
    pub tensors: Vec<TensorRec>,
    pub models: Vec<ModelRec>,
    /// PyTorch module instances.
    pub instances: torch::Instances,
    /// PyTorch module classes defined in the file, in order.
    torch_classes: Vec<Arc<torch::TorchClass>>,
    /// Input tensors made for PyTorch models (their shapes are set from the first layer at the end).
    torch_inputs: Vec<usize>,
    /// Module forwards running now (a forward that calls itself is not followed).
    forward_depth: usize,
    /// The methods running now, innermost last, with their instance: where `super()` starts.
    methods: Vec<(usize, *const FunctionDef)>,
    /// TF1 losses in the order they were built; the last one is taken as the training loss.
    pub tf_losses: Vec<TfLoss>,
    /// TF1: tensors thresholded at 0.5 (`tf.round(t)`, `tf.greater(t, 0.5)`), with the call.
    pub thresholds: Vec<(usize, Span)>,
    /// Tensors sampled as one distribution (`torch.multinomial(p, 1)`), with the call.
    pub sampled: Vec<(usize, Span)>,
    /// TF1: tensors whose class the code picks (`tf.argmax(t, 1)`, compared with the labels' for
    /// an accuracy), with the call: a categorical accuracy on them.
    pub class_picks: Vec<(usize, Span)>,
    /// Every deep-learning module imported (`keras`, `tensorflow`, `torch`, ...), top-level names.
    pub frameworks: Vec<String>,
    /// `from keras.layers import *` and the like.
    star_imports: Vec<String>,
    steps: usize,
    out_of_budget: bool,
    clock: usize,
    call_depth: usize,
    /// Maybe/loop blocks currently open.
    block_depth: usize,
    called: std::collections::HashSet<String>,
    /// While a helper nothing calls runs with unknown arguments: the one module the file binds at
    /// module level, which the first parameter the helper calls like a function stands for
    /// (`def predict(model, x): return torch.softmax(model(x), 0)`), and that parameter once chosen.
    stand_in: Option<(usize, Option<String>)>,
    /// How many module instances the file's own run built, before helpers nothing calls ran with
    /// unknown arguments: the instance of a class that is trained (a Lightning module's steps) is
    /// the last one the file built itself, when it built one.
    own_instances: Option<usize>,
    /// Attributes the file sets on imported modules (`tf.model = ...`), by dotted path.
    module_attrs: HashMap<String, Value>,
    /// A training call was made on something nnlint could not resolve, or a loss was called.
    trains: bool,
    /// The names a nested function sees from the function it was defined in, by its address.
    closures: HashMap<*const FunctionDef, Arc<Env>>,
    /// Methods run at least once (by address), so the ones never called can be run at the end.
    ran: std::collections::HashSet<*const FunctionDef>,
    /// Where first-party imports are found; none for text not on disk.
    project: Option<project::Project>,
    /// The files whose statements run now, the linted file first: relative imports start from the
    /// last one.
    files: Vec<std::path::PathBuf>,
    /// This world runs an imported module's body once for the whole run (`interp/imports.rs`),
    /// not a linted file: its first file is a module too.
    as_module: bool,
    /// Modules whose bodies ran inside this world (inline), against the per-file limits.
    inline_modules: usize,
    /// A first-party module that reaches deep-learning code was not read (past the bounds).
    pub unread_deep_learning: bool,
    /// First-party modules imported so far, by file (or namespace folder); `None` while one is
    /// being imported (an import cycle sees nothing of it) or when it could not be read.
    modules: HashMap<std::path::PathBuf, Option<Arc<ModuleVal>>>,
    /// The module files read for imports, in the order imported: their texts locate spans.
    pub imported: Vec<Arc<ModuleSource>>,
    import_bytes: usize,
    /// Functions and classes of imported modules, by address: the module globals they run with.
    home: HashMap<*const (), Arc<Env>>,
    /// What the loop starting now binds its target to, when it iterates labelled data.
    loop_item: Option<Value>,
    /// Loss functions of the file given to `compile`, by name: the Keras loss each computes
    /// (`-K.sum(y_true * K.log(y_pred), axis=-1)` is a categorical cross-entropy) and whether
    /// on logits; `None` when it is none nnlint knows.
    pub loss_functions: HashMap<String, Option<(&'static str, bool)>>,
}

type Env = HashMap<String, Value>;

struct Frame {
    locals: Env,
    /// A `return` ran inside a branch or loop that may not run: the function's result is unknown,
    /// unless every other path raises.
    maybe_returned: bool,
    /// What those returns gave (`if name in registry: return registry[name](...)` then `raise`).
    maybe_values: Vec<Value>,
    /// Names declared `global` (true) or `nonlocal` (false) in this function.
    outer: Vec<(String, bool)>,
}

impl Frame {
    fn new(locals: Env) -> Frame {
        Frame {
            locals,
            maybe_returned: false,
            maybe_values: vec![],
            outer: vec![],
        }
    }
}

/// Runs a module body (notebook cells concatenated) and returns what it built. `file` is the
/// file on disk the body comes from: its project's first-party imports are followed (from the
/// folders `options.src` names, when set).
pub fn run(
    body: &[Stmt],
    file: Option<&std::path::Path>,
    options: &crate::load::LoadOptions,
) -> World {
    let mut w = World::default();
    if let Some(f) = file
        && let Some(p) = project::Project::for_file(f, options)
    {
        w.project = Some(p);
        w.files
            .push(project::canonical(f).unwrap_or_else(|| f.to_path_buf()));
    }
    let mut globals = Frame::new(Env::new());
    // The file runs as the main module: `if __name__ == "__main__":` is a test decided true.
    globals
        .locals
        .insert("__name__".into(), Value::Str("__main__".into()));
    let mut functions = vec![];
    collect_functions(body, &mut functions);
    w.exec_block(body, &mut globals, None);
    // Helpers never called in the file (passed to a wrapper, called from another module, or
    // called only on a path the file's settings do not take): run once with unknown arguments so
    // the models they build are seen. In a test module (`test_*.py`, `*_test.py`) they are the
    // test runner's cases, whose small models are made to exercise code, not to train: their
    // uncompiled models are not checked on their own.
    w.uncalled_models_from = w.models.len();
    let test_module = file
        .and_then(|f| f.file_stem())
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.starts_with("test_") || s.ends_with("_test"));
    if test_module {
        w.uncalled_models_from = usize::MAX;
    }
    // A helper that takes the model as a parameter (`def predict(model, x)`) is run with the one
    // module the file binds at module level standing for it (`World::stand_in`).
    let sole = w.sole_top_module();
    w.own_instances = Some(w.instances.made_here());
    for f in functions {
        if !w.called.contains(&f.name) {
            let mut frame = Frame::new(Env::new());
            w.stand_in = sole.map(|i| (i, None));
            w.call_function(&f, &[], &[], &mut frame, Some(&globals.locals));
            w.stand_in = None;
        }
    }
    w.finish_torch(&globals.locals);
    w
}

fn collect_functions(body: &[Stmt], out: &mut Vec<Arc<FunctionDef>>) {
    for s in body {
        match s {
            Stmt::FunctionDef(f) => out.push(f.clone()),
            Stmt::Block { branches, .. }
            | Stmt::If { branches, .. }
            | Stmt::For { branches, .. } => branches.iter().for_each(|b| collect_functions(b, out)),
            _ => {}
        }
    }
}

const FRAMEWORKS: &[&str] = &[
    "keras",
    "tensorflow",
    "tf_keras",
    "torch",
    "lightning",
    "pytorch_lightning",
    "transformers",
];

/// Whether a dotted module path belongs to a deep-learning framework.
pub fn is_framework(module: &str) -> bool {
    let top = module.split('.').next().unwrap_or("");
    FRAMEWORKS.contains(&top)
}

/// The part of a path after the Keras package (`layers.Dense` for `tensorflow.keras.layers.Dense`),
/// or `None` when the path is not Keras.
pub fn keras_tail(path: &str) -> Option<&str> {
    for prefix in [
        "tensorflow.compat.v1.keras.",
        "tensorflow.compat.v2.keras.",
        "tensorflow.python.keras.",
        "tensorflow.keras.",
        "tf_keras.",
        "keras.src.",
        "keras.api.",
        "keras._tf_keras.keras.",
        "keras.",
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return Some(rest);
        }
    }
    None
}

/// What a call to a dotted path means.
enum Callee<'a> {
    Sequential,
    Model,
    Input,
    Layer(&'a str),
    /// A functional merge helper (`concatenate`), applied to its first argument at once.
    Merge(&'static str),
    /// A Keras object: loss, metric, activation layer used as an argument, optimizer...
    Object {
        class: &'a str,
    },
    Other,
}

fn classify(path: &str) -> Callee<'_> {
    let Some(tail) = keras_tail(path) else {
        return Callee::Other;
    };
    let mut parts = tail.split('.');
    let first = parts.next().unwrap_or("");
    let last = tail.rsplit('.').next().unwrap_or("");
    match last {
        "Sequential" => return Callee::Sequential,
        "Model" | "Functional" => return Callee::Model,
        "Input" => return Callee::Input,
        _ => {}
    }
    let upper = last.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    if first == "layers" && upper {
        return Callee::Layer(last);
    }
    if first == "layers" {
        // The functional merge helpers: `concatenate([a, b])` is `Concatenate()([a, b])`.
        let class = match last {
            "concatenate" => "Concatenate",
            "add" => "Add",
            "subtract" => "Subtract",
            "multiply" => "Multiply",
            "average" => "Average",
            "maximum" => "Maximum",
            "minimum" => "Minimum",
            _ => return Callee::Other,
        };
        return Callee::Merge(class);
    }
    if tail == last && upper {
        // `keras.Dense` does not exist, but `from keras import *` style paths land here.
        return Callee::Other;
    }
    Callee::Object { class: last }
}

/// Gaps recorded per file: the first ones are the ones worth reporting.
const MAX_GAPS: usize = 256;
/// A module in a container nnlint could not resolve (`getattr(nn, name)()`): the model stops there.
pub const UNRESOLVED_MODULE: &str = "a module nnlint cannot resolve";
/// A loss called on a value nnlint lost: that loss is not checked.
pub const LOST_LOSS_INPUT: &str = "the loss's input could not be followed";

/// Whether a gap of this reason may have lost a model or a loss (rather than making a part of a
/// model opaque, which the head rules do not need).
pub fn loses_model(reason: &str) -> bool {
    [LOST_INPUT, UNRESOLVED_MODULE, LOST_LOSS_INPUT].contains(&reason)
}

/// Where a value nnlint cannot see is taken as a model input.
pub const UNSEEN_INPUT: &str = "data nnlint cannot see, read as a model input";
/// The gap where a model vanishes: a layer called on something that is not a tensor nnlint follows.
pub const LOST_INPUT: &str = "a layer applied to a value nnlint could not follow";

impl World {
    /// Every model the file builds, each to be checked on its own: the Keras models compiled (else
    /// the last one built), then one model per tensor a TF1 or PyTorch loss is computed on (the
    /// last loss on it); without either, the PyTorch module called last. Names are made unique.
    pub fn models_to_check(&mut self) -> Vec<usize> {
        let usable = |m: &ModelRec| {
            !m.unresolved
                && match &m.kind {
                    ModelKind::Sequential(l) => !l.is_empty(),
                    ModelKind::Functional { .. } => true,
                }
        };
        let mut out: Vec<usize> = (0..self.models.len())
            .filter(|&i| usable(&self.models[i]) && self.models[i].compiled_at.is_some())
            .collect();
        if out.is_empty()
            && let Some(last) = self.models.iter().rposition(usable)
        {
            out.push(last);
        }
        // Models of helpers nothing calls (`resnet_v2` when the file's settings pick
        // `resnet_v1`): each checked on its own, without a loss unless it compiles one.
        let uncalled = (self.uncalled_models_from.min(self.models.len())..self.models.len())
            .filter(|&i| usable(&self.models[i]) && !out.contains(&i))
            .take(MAX_UNCALLED_MODELS)
            .collect::<Vec<_>>();
        out.extend(uncalled);
        // A loss call run several times on what the same code computed (an unrolled loop), or
        // several losses on one tensor: the last one stands for them. The same loss helper
        // called on different code (training and evaluation paths) is checked for each.
        let mut seen = vec![];
        let mut tensors = vec![];
        let mut losses = vec![];
        for (i, l) in self.tf_losses.iter().enumerate().rev() {
            let made_by = self.layers[self.tensors[l.tensor].layer].call_span;
            let key = (l.call_span, made_by);
            if !seen.contains(&key) && !tensors.contains(&l.tensor) {
                seen.push(key);
                tensors.push(l.tensor);
                losses.push(i);
            }
        }
        losses.reverse();
        for i in losses {
            if let Some(m) = self.tf1_model(i) {
                out.push(m);
            }
        }
        if out.is_empty()
            && let Some(m) = self.torch_model()
        {
            out.push(m);
        }
        // Inference code normalising what a module returned (`torch.softmax(model(x), dim=0)` in
        // `predict`): the module and that softmax, checked as one model.
        out.extend(self.inference_heads());
        let mut names: Vec<String> = vec![];
        for &m in &out {
            let rec = &mut self.models[m];
            let base = rec.name.clone().unwrap_or_else(|| {
                match rec.kind {
                    ModelKind::Sequential(_) => "sequential",
                    ModelKind::Functional { .. } => "model",
                }
                .to_string()
            });
            let mut name = base.clone();
            let mut k = 1;
            while names.contains(&name) {
                k += 1;
                name = format!("{base}_{k}");
            }
            if name != base {
                rec.name = Some(name.clone());
            }
            names.push(name);
        }
        out
    }

    /// Models of a module's forward followed by a softmax the code applies to its result outside
    /// any loss (at most [`MAX_UNCALLED_MODELS`]), for modules bound to a module-level name.
    fn inference_heads(&mut self) -> Vec<usize> {
        // Modules the file binds to a module-level name (`model = Net()`): a module held by
        // another (a pooling block of a library's model) is part of its owner's forward.
        let returned: Vec<usize> = self
            .instances
            .enumerate()
            .filter(|&(i, _)| self.bound_at_top(i))
            .filter_map(|(_, i)| i.returned())
            .collect();
        let mut heads = vec![];
        for (t, rec) in self.tensors.iter().enumerate() {
            let layer = &self.layers[rec.layer];
            let Some(ins) = layer.calls.get(rec.node) else {
                continue;
            };
            // A sigmoid the code samples from (`torch.multinomial(torch.sigmoid(model(x)), 1)`)
            // is read as one distribution too: that is what NNL003 checks.
            let sampled_activation =
                layer.class == "Activation" && self.sampled.iter().any(|&(s, _)| s == t);
            let on_output = (layer.class == "Softmax" || sampled_activation)
                && ins.len() == 1
                && returned.contains(&ins[0])
                && !self.tf_losses.iter().any(|l| l.tensor == t);
            if on_output && !heads.contains(&t) {
                heads.push(t);
            }
        }
        let mut out = vec![];
        for t in heads.into_iter().take(MAX_UNCALLED_MODELS) {
            let inputs = self.inputs_of(&[t]);
            if inputs.is_empty() {
                continue;
            }
            self.models.push(ModelRec {
                kind: ModelKind::Functional {
                    inputs,
                    outputs: vec![t],
                },
                span: self.layers[self.tensors[t].layer].call_span,
                name: Some("inference".into()),
                unresolved: false,
                depth: 0,
                compile: None,
                compile_unknown: false,
                compiled_at: None,
                labels: None,
                sampled: self
                    .sampled
                    .iter()
                    .find(|&&(s, _)| s == t)
                    .map(|&(_, at)| at),
            });
            out.push(self.models.len() - 1);
        }
        out
    }

    /// The module instance the file binds at module level, when it binds exactly one (`model =
    /// Net()`, possibly rebound as `model = model.to(device)`): a PyTorch module of the file, an
    /// `nn.Sequential` or a library model.
    fn sole_top_module(&self) -> Option<usize> {
        let mut modules = self
            .instances
            .enumerate()
            .filter(|&(i, r)| self.bound_at_top(i) && r.is_module());
        match (modules.next(), modules.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// In a helper nothing calls, run with unknown arguments: a call of parameter `id` (unknown,
    /// not rebound) is a call of the file's one module when `id` is the first parameter the helper
    /// calls; `None` otherwise. Only in the helper's own body, not in functions it calls.
    fn stand_in_for(&mut self, id: &str, frame: &Frame) -> Option<Value> {
        let (module, chosen) = self.stand_in.as_mut()?;
        let param = frame
            .locals
            .get(id)
            .is_some_and(|v| matches!(v, Value::Unknown));
        if self.call_depth != 1 || !param {
            return None;
        }
        match chosen {
            Some(name) if name != id => None,
            _ => {
                *chosen = Some(id.to_string());
                Some(Value::Instance(*module))
            }
        }
    }

    /// Whether module instance `i` is bound to a name at the module level (`model = Net()`).
    fn bound_at_top(&self, i: usize) -> bool {
        self.bound_instances.get(&i).is_some_and(|(_, top)| *top)
    }

    /// Whether the file builds or trains anything: layers, models, modules, losses.
    pub fn builds_something(&self) -> bool {
        !self.layers.is_empty()
            || !self.models.is_empty()
            || self.modules_built()
            || !self.tf_losses.is_empty()
            || self.torch_classes.iter().any(|c| c.defines_module())
            || self.trains
    }

    /// Nothing in this world stands for a layer, a model, a tensor or a training choice: what its
    /// module bound can be shared by every importer (module instances can: their indices are the
    /// same in every world, [`torch::Instances`]).
    pub(super) fn built_nothing(&self) -> bool {
        self.layers.is_empty()
            && self.tensors.is_empty()
            && self.models.is_empty()
            && self.torch_inputs.is_empty()
            && self.tf_losses.is_empty()
            && self.thresholds.is_empty()
            && self.sampled.is_empty()
            && self.hf_heads.is_empty()
            && self.squeezed.is_empty()
            && self.module_attrs.is_empty()
            && self.loss_functions.is_empty()
            && self.bound_models.is_empty()
            && self.loop_item.is_none()
            && self.outer_writes.is_empty()
    }

    pub(super) fn gap(&mut self, span: Span, reason: &'static str) {
        if self.gaps.len() < MAX_GAPS {
            self.gaps.push(Gap { span, reason });
        }
    }

    /// The file ran out of its budget ([`MAX_STEPS`], [`MAX_LAYERS`], [`MAX_INSTANCES`]): what came
    /// after was not interpreted.
    pub fn out_of_budget(&self) -> bool {
        self.out_of_budget
    }

    fn tick(&mut self) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS
            || self.layers.len() > MAX_LAYERS
            || self.instances.made_here() > MAX_INSTANCES
        {
            self.out_of_budget = true;
        }
        !self.out_of_budget
    }

    fn exec_block(&mut self, body: &[Stmt], frame: &mut Frame, globals: Option<&Env>) -> Flow {
        for s in body {
            if !self.tick() {
                return Flow::Stop;
            }
            let flow = self.exec(s, frame, globals);
            // Back at the module's top level: what functions wrote to `global` names lands here.
            if globals.is_none() && !self.outer_writes.is_empty() {
                for (name, (v, global)) in std::mem::take(&mut self.outer_writes) {
                    if global {
                        frame.locals.insert(name, v);
                    }
                }
            }
            match flow {
                Flow::Next => {}
                other => return other,
            }
        }
        Flow::Next
    }

    fn exec(&mut self, s: &Stmt, frame: &mut Frame, globals: Option<&Env>) -> Flow {
        match s {
            Stmt::Import { names, span } => {
                for a in names {
                    if is_framework(&a.name) {
                        self.note_framework(&a.name);
                    } else if let Some(v) =
                        self.import_first_party(&a.name, a.asname.is_some(), *span)
                    {
                        let n = a
                            .asname
                            .clone()
                            .unwrap_or_else(|| a.name.split('.').next().unwrap_or("").to_string());
                        frame.locals.insert(n, v);
                        continue;
                    }
                    match &a.asname {
                        Some(as_) => {
                            frame
                                .locals
                                .insert(as_.clone(), Value::Path(a.name.clone()));
                        }
                        None => {
                            let top = a.name.split('.').next().unwrap_or("").to_string();
                            frame.locals.insert(top.clone(), Value::Path(top));
                        }
                    }
                }
            }
            Stmt::ImportFrom {
                module,
                level,
                names,
                span,
            } => {
                if let Some(m) = self.import_from(module.as_deref(), *level, *span) {
                    self.bind_from(&m, names, frame, *span);
                    return Flow::Next;
                }
                let Some(module) = module.as_ref().filter(|_| *level == 0) else {
                    for a in names {
                        let n = a.asname.as_ref().unwrap_or(&a.name);
                        frame.locals.insert(n.clone(), Value::Unknown);
                    }
                    return Flow::Next;
                };
                if is_framework(module) {
                    self.note_framework(module);
                }
                for a in names {
                    if a.name == "*" {
                        if keras_tail(&format!("{module}.")).is_some() || module == "keras" {
                            self.star_imports.push(module.clone());
                        }
                        continue;
                    }
                    let n = a.asname.as_ref().unwrap_or(&a.name);
                    frame
                        .locals
                        .insert(n.clone(), Value::Path(format!("{module}.{}", a.name)));
                }
            }
            Stmt::Assign { targets, value } => {
                let v = self.eval(value, frame, globals);
                for t in targets {
                    self.assign(t, v.clone(), frame);
                }
            }
            Stmt::Rebind(targets) => {
                // The first statement of a loop body over labelled data binds its element.
                let item = self.loop_item.take();
                for t in targets {
                    let value = match (&item, targets.len()) {
                        (Some(v), 1) => v.clone(),
                        _ => Value::Unknown,
                    };
                    self.assign(
                        t,
                        SValue {
                            value,
                            span: t.span(),
                        },
                        frame,
                    );
                }
            }
            Stmt::Expr(e) => {
                self.eval(e, frame, globals);
            }
            Stmt::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(e, frame, globals).value,
                    None => Value::None,
                };
                return Flow::Return(v);
            }
            Stmt::FunctionDef(f) => {
                // A function defined inside a function sees the names of the one around it
                // (a closure; the names as they are when it is defined).
                if globals.is_some() {
                    self.closures
                        .insert(Arc::as_ptr(f), Arc::new(frame.locals.clone()));
                }
                frame
                    .locals
                    .insert(f.name.clone(), Value::Function(f.clone()));
            }
            Stmt::ClassDef(c) => {
                let v = self.define_class(c, frame, globals);
                frame.locals.insert(c.name.clone(), v);
            }
            Stmt::Block { kind, branches } => {
                return self.exec_branches(*kind, branches, frame, globals);
            }
            Stmt::If { tests, branches } => return self.exec_if(tests, branches, frame, globals),
            Stmt::For {
                target,
                iter,
                jumps,
                branches,
            } => return self.exec_for(target, iter, *jumps, branches, frame, globals),
            Stmt::Raise => return Flow::Raise,
            Stmt::Outer { names, global } => {
                for n in names {
                    frame.outer.push((n.clone(), *global));
                }
            }
            Stmt::Jump | Stmt::Other => {}
        }
        Flow::Next
    }

    fn note_framework(&mut self, module: &str) {
        let top = module.split('.').next().unwrap_or("").to_string();
        if !self.frameworks.contains(&top) {
            self.frameworks.push(top);
        }
    }

    /// An `if`: a test whose truth is known picks its branch; from the first unknown test on, the
    /// remaining branches may each run.
    fn exec_if(
        &mut self,
        tests: &[Expr],
        branches: &[Vec<Stmt>],
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Flow {
        for (k, test) in tests.iter().enumerate() {
            let v = self.eval(test, frame, globals).value;
            match truth(&v) {
                Some(true) => {
                    return self.exec_branches(BlockKind::Once, &branches[k..=k], frame, globals);
                }
                Some(false) => {}
                None => {
                    let flow = self.exec_branches(BlockKind::Maybe, &branches[k..], frame, globals);
                    // `if …: raise` … `else: raise`, or `if name in registry: return
                    // registry[name](**hp)` … `else: assert False`: every path ends here, so
                    // nothing after the `if` runs; what the function returns is what the
                    // returning branches gave (`call_function`).
                    let exhaustive = branches.len() > tests.len();
                    let all_end = branches[k..]
                        .iter()
                        .all(|b| matches!(b.last(), Some(Stmt::Raise | Stmt::Return(_))));
                    if exhaustive && all_end {
                        return Flow::Raise;
                    }
                    return flow;
                }
            }
        }
        let rest = branches.get(tests.len()..).unwrap_or(&[]);
        self.exec_branches(BlockKind::Once, rest, frame, globals)
    }

    /// A `for` over a sequence the interpreter knows (a list, `range(3)`, an `nn.ModuleList`, the
    /// modules of an `nn.Sequential`) runs once per item, in order; any other loop runs its body once
    /// with the target unknown, as a block that may run any number of times.
    fn exec_for(
        &mut self,
        target: &Expr,
        iter: &Expr,
        jumps: bool,
        branches: &[Vec<Stmt>],
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Flow {
        let seq = self.eval(iter, frame, globals);
        let items = if jumps { None } else { self.unrollable(&seq) };
        let Some(items) = items else {
            // `for x, y in loader:` over labelled data: the body's first statement binds
            // `(x, y)` to one element.
            self.loop_item = self.element_of(&seq.value, seq.span);
            let flow = self.exec_branches(BlockKind::Loop, branches, frame, globals);
            self.loop_item = None;
            return flow;
        };
        let body = branches[0].get(1..).unwrap_or(&[]);
        // Two iterations in a row that build nothing (an epoch loop around a training step): the
        // rest runs as one loop block with the target unknown, not once per item.
        let mut idle = 0;
        let count = items.len();
        for (k, item) in items.into_iter().enumerate() {
            if !self.tick() {
                return Flow::Stop;
            }
            if idle >= 2 && k + 1 < count {
                let flow = self.exec_branches(BlockKind::Loop, &branches[..1], frame, globals);
                if !matches!(flow, Flow::Next) {
                    return flow;
                }
                break;
            }
            let built = (
                self.layers.len(),
                self.models.len(),
                self.instances.made_here(),
            );
            self.assign(target, item, frame);
            match self.exec_block(body, frame, globals) {
                Flow::Next => {}
                other => return other,
            }
            let now = (
                self.layers.len(),
                self.models.len(),
                self.instances.made_here(),
            );
            idle = if now == built { idle + 1 } else { 0 };
        }
        self.exec_branches(BlockKind::Once, &branches[1..], frame, globals)
    }

    /// The items of `v` when a loop or a comprehension over it can run once per item.
    fn unrollable(&self, v: &SValue) -> Option<Vec<SValue>> {
        self.items_of(v).filter(|i| i.len() <= MAX_UNROLL)
    }

    /// The items iterating `v` yields, when the interpreter knows them.
    fn items_of(&self, v: &SValue) -> Option<Vec<SValue>> {
        match &v.value {
            Value::List(items) | Value::Tuple(items) => Some(items.clone()),
            Value::Dict(items) => Some(
                items
                    .iter()
                    .map(|(k, v)| SValue {
                        value: Value::Str(k.clone()),
                        span: v.span,
                    })
                    .collect(),
            ),
            Value::Instance(i) => self.instance_items(*i),
            _ => None,
        }
    }

    fn exec_branches(
        &mut self,
        kind: BlockKind,
        branches: &[Vec<Stmt>],
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Flow {
        if kind == BlockKind::Once {
            for b in branches {
                match self.exec_block(b, frame, globals) {
                    Flow::Next => {}
                    other => return other,
                }
            }
            return Flow::Next;
        }
        // A branch or a loop body: run each once from the same state. A name bound before the
        // block and rebound inside, or bound in several branches, is unknown afterwards (the
        // block may run zero, one or many times); a name only one branch introduces keeps its value.
        // `frame.locals` is the state before the block: each branch runs on a copy of it.
        let before = &frame.locals;
        let mut assigned: HashMap<String, (usize, Value)> = HashMap::new();
        self.block_depth += 1;
        let mut returned = false;
        let mut values = vec![];
        for b in branches {
            let mut inner = Frame::new(before.clone());
            match self.exec_block(b, &mut inner, globals) {
                Flow::Return(v) => {
                    returned = true;
                    values.push(v);
                }
                Flow::Stop => returned = true,
                // A path that raises leaves nothing behind: its bindings are never seen (what
                // returns inside it gave is still a possible result).
                Flow::Raise => {
                    returned |= inner.maybe_returned;
                    values.append(&mut inner.maybe_values);
                    continue;
                }
                Flow::Next => {}
            }
            returned |= inner.maybe_returned;
            values.append(&mut inner.maybe_values);
            for (k, v) in inner.locals {
                let changed = before.get(&k).is_none_or(|old| !same(old, &v));
                if changed {
                    let e = assigned.entry(k).or_insert((0, v));
                    e.0 += 1;
                }
            }
        }
        self.block_depth -= 1;
        for (k, (count, v)) in assigned {
            let keep = count == 1 && !frame.locals.contains_key(&k);
            frame
                .locals
                .insert(k, if keep { v } else { Value::Unknown });
        }
        if returned {
            // A return inside a branch that may not run (`if mode == PREDICT: return spec`): the
            // code after it still runs on the other paths, and what the function returns is not
            // known (unless those paths raise: `call_function`).
            frame.maybe_returned = true;
            frame.maybe_values.append(&mut values);
        }
        Flow::Next
    }

    fn assign(&mut self, target: &Expr, v: SValue, frame: &mut Frame) {
        match target {
            Expr::Name { id, .. } => {
                let top = self.call_depth == 0;
                let names = match v.value {
                    Value::Model(m) => Some((&mut self.bound_models, m)),
                    Value::Instance(i) => Some((&mut self.bound_instances, i)),
                    _ => None,
                };
                if let Some((names, k)) = names
                    && names.get(&k).is_none_or(|(_, was_top)| top && !was_top)
                {
                    names.insert(k, (id.clone(), top));
                }
                if let Some(&(_, global)) = frame.outer.iter().find(|(n, _)| n == id) {
                    self.outer_writes
                        .insert(id.clone(), (v.value.clone(), global));
                }
                frame.locals.insert(id.clone(), v.value);
            }
            Expr::Tuple { items, .. } | Expr::List { items, .. } => {
                let parts = match &v.value {
                    Value::Tuple(p) | Value::List(p) if p.len() == items.len() => Some(p.clone()),
                    // `out, (h, c) = self.lstm(x)`: each part is a tensor computed from the
                    // opaque result, so the model goes on through whichever part is used.
                    &Value::Tensor(t) => Some(
                        items
                            .iter()
                            .map(|i| SValue {
                                value: self.opaque_tensor(t, i.span(), v.span),
                                span: i.span(),
                            })
                            .collect(),
                    ),
                    _ => None,
                };
                for (i, t) in items.iter().enumerate() {
                    let part = parts.as_ref().map_or(
                        SValue {
                            value: Value::Unknown,
                            span: t.span(),
                        },
                        |p| p[i].clone(),
                    );
                    self.assign(t, part, frame);
                }
            }
            Expr::Subscript { .. } | Expr::Attribute { .. } => {
                // `self.fc = nn.Linear(...)` in a module's `__init__`.
                if let Expr::Attribute { value, attr, .. } = target
                    && let Expr::Name { id, .. } = value.as_ref()
                    && let Some(&Value::Instance(i)) = frame.locals.get(id)
                {
                    self.name_module(&v.value, attr);
                    let rec = &mut self.instances[i];
                    // Rebound in a branch or a loop that may not run as read: unknown.
                    let maybe = self.block_depth > rec.depth
                        && rec.attrs.get(attr).is_some_and(|old| !same(old, &v.value));
                    let value = if maybe { Value::Unknown } else { v.value };
                    rec.attrs.insert(attr.clone(), value);
                    return;
                }
                // `tf.model = tf.keras.Sequential()`: an attribute set on an imported module.
                if let Expr::Attribute { value, attr, .. } = target
                    && let Expr::Name { id, .. } = value.as_ref()
                    && let Some(Value::Path(p)) = frame.locals.get(id)
                {
                    let key = format!("{p}.{attr}");
                    let value = if self.block_depth > 0 && self.module_attrs.contains_key(&key) {
                        Value::Unknown
                    } else {
                        v.value
                    };
                    self.module_attrs.insert(key, value);
                    return;
                }
                // `cfg["units"] = 2`, `sizes[0] += 1`: the container's value is no longer known.
                self.assign_into(target, v, frame)
            }
            _ => {}
        }
    }

    /// Forgets the value of the list/tuple/dict at the root of `e` (`a` in `a.b[0]`). For an
    /// assignment into a model or a layer (`model.layers[-1].activation = ...`, not
    /// `model.trainable = False`), the model is unresolved and the layer unknown.
    fn invalidate_container(&mut self, e: &Expr, frame: &mut Frame, assignment: bool) {
        let mut root = e;
        while let Expr::Subscript { value, .. } | Expr::Attribute { value, .. } = root {
            root = value;
        }
        let Expr::Name { id, .. } = root else {
            return;
        };
        // `self.blocks.append(...)`: a list held by a module is no longer known.
        if let Some(Value::Instance(i)) = frame.locals.get(id) {
            let i = *i;
            if let Expr::Attribute { attr, value, .. } = e
                && matches!(value.as_ref(), Expr::Name { .. })
                && let Some(v @ (Value::List(_) | Value::Tuple(_) | Value::Dict(_))) =
                    self.instances[i].attrs.get_mut(attr)
            {
                *v = Value::Unknown;
            }
            return;
        }
        // Only assignments reach here with `e` itself an attribute (`model.trainable = False`).
        let harmless = !assignment
            || matches!(e, Expr::Attribute { attr, value, .. }
            if matches!(value.as_ref(), Expr::Name { .. })
                && matches!(attr.as_str(), "trainable" | "name" | "_name"));
        match frame.locals.get_mut(id) {
            Some(v @ (Value::List(_) | Value::Tuple(_) | Value::Dict(_))) => *v = Value::Unknown,
            // `model.layers[-1].activation = sigmoid`: the model is no longer what was built.
            Some(Value::Model(m)) if !harmless => self.models[*m].unresolved = true,
            // `head.activation = ...` on a layer object.
            Some(Value::Layer(l)) if !harmless => {
                self.layers[*l].class = UNRESOLVED_LAYER.to_string();
            }
            _ => {}
        }
    }

    fn lookup(&self, id: &str, frame: &Frame, globals: Option<&Env>) -> Value {
        if let Some(v) = frame
            .locals
            .get(id)
            .or_else(|| {
                self.outer_writes
                    .get(id)
                    .filter(|(_, global)| *global)
                    .map(|(v, _)| v)
            })
            .or_else(|| globals.and_then(|g| g.get(id)))
        {
            return v.clone();
        }
        if !self.star_imports.is_empty()
            && id.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        {
            let model_class = matches!(id, "Sequential" | "Model" | "Input");
            let module = self
                .star_imports
                .iter()
                .find(|m| model_class || m.contains("layers"))
                .or(self.star_imports.first());
            if let Some(m) = module {
                if model_class {
                    return Value::Path(format!("keras.models.{id}"));
                }
                return Value::Path(format!("{m}.{id}"));
            }
        }
        Value::Unknown
    }

    fn eval(&mut self, e: &Expr, frame: &mut Frame, globals: Option<&Env>) -> SValue {
        let span = e.span();
        let value = match e {
            Expr::Name { id, .. } => self.lookup(id, frame, globals),
            Expr::Attribute { value, attr, .. } => match self.eval(value, frame, globals).value {
                Value::Path(p) => {
                    let path = format!("{p}.{attr}");
                    match self.module_attrs.get(&path) {
                        Some(v) => v.clone(),
                        None => Value::Path(path),
                    }
                }
                // `base.output`, `base.input` of a functional model (a backbone): its tensors.
                Value::Model(m) => match (&self.models[m].kind, attr.as_str()) {
                    (ModelKind::Functional { outputs, .. }, "output") if outputs.len() == 1 => {
                        Value::Tensor(outputs[0])
                    }
                    (ModelKind::Functional { inputs, .. }, "input") if inputs.len() == 1 => {
                        Value::Tensor(inputs[0])
                    }
                    _ => Value::Method(m, attr.clone()),
                },
                Value::Instance(i) => match self.property(i, attr) {
                    Some(f) => {
                        let this = SValue {
                            value: Value::Instance(i),
                            span,
                        };
                        self.run_method(i, &f, &[this], &[])
                    }
                    None => self.instance_attr(i, attr),
                },
                Value::Module(m) => self.module_attr(&m, attr, span),
                // `Config.num_classes`: a class attribute.
                Value::Class(c) => c.class_attr(attr).unwrap_or(Value::Unknown),
                Value::Tensor(t) => Value::TensorMethod(t, attr.clone()),
                // `(y * torch.log(p)).sum`, `.mean`: a reduction of a cross-entropy term is the
                // term (its call returns it).
                v @ (Value::CeTerm(..) | Value::BceTerm(..))
                    if matches!(attr.as_str(), "sum" | "mean") =>
                {
                    v
                }
                Value::Data(f, form) => labels::attribute(&f, form, attr),
                _ => Value::Unknown,
            },
            Expr::Call(c) => self.call(c, frame, globals),
            Expr::Str { value, .. } => Value::Str(value.clone()),
            Expr::Int { value, .. } => value.map_or(Value::Unknown, Value::Int),
            Expr::Float { value, .. } => Value::Float(*value),
            Expr::Bool { value, .. } => Value::Bool(*value),
            Expr::NoneLit { .. } => Value::None,
            Expr::Tuple { items, .. } => Value::Tuple(self.eval_all(items, frame, globals)),
            Expr::List { items, .. } => match self.eval_spread(items, frame, globals) {
                (items, true) => Value::List(items),
                _ => Value::Unknown,
            },
            Expr::Dict { items, .. } => {
                let mut out = Some(vec![]);
                for (k, v) in items {
                    let key = k.as_ref().map(|k| self.eval(k, frame, globals).value);
                    let value = self.eval(v, frame, globals);
                    match (key, out.as_mut()) {
                        (Some(Value::Str(key)), Some(o)) => o.push((key, value)),
                        // `{0: "negative", 1: "positive"}`: integer keys, held by their digits
                        // (a lookup with the integer finds them).
                        (Some(Value::Int(key)), Some(o)) => o.push((key.to_string(), value)),
                        _ => out = None,
                    }
                }
                out.map_or(Value::Unknown, Value::Dict)
            }
            Expr::Subscript { value, index, .. } => {
                if let Expr::Slice {
                    lower, upper, step, ..
                } = index.as_ref()
                {
                    let base = self.eval(value, frame, globals).value;
                    let bounds = [lower, upper, step].map(|e| match e {
                        None => Some(None),
                        Some(e) => match self.eval(e, frame, globals).value {
                            Value::Int(i) => Some(Some(i)),
                            Value::None => Some(None),
                            _ => None,
                        },
                    });
                    // `y_train[:1000]`: the same labels.
                    if let Value::Data(_, labels::DataForm::Labels) = base {
                        return SValue { value: base, span };
                    }
                    if let Value::Tensor(t) = base {
                        let shaping = self.index_shaping(index, frame, globals);
                        return SValue {
                            value: self.opaque_shaped(&[t], span, span, &shaping),
                            span,
                        };
                    }
                    let part = match (&base, bounds) {
                        (
                            Value::List(items) | Value::Tuple(items),
                            [Some(lo), Some(hi), Some(st)],
                        ) => slice_items(items, lo, hi, st),
                        _ => None,
                    };
                    return SValue {
                        value: match (part, base) {
                            (Some(p), Value::List(_)) => Value::List(p),
                            (Some(p), _) => Value::Tuple(p),
                            (None, _) => Value::Unknown,
                        },
                        span,
                    };
                }
                let base = self.eval(value, frame, globals).value;
                if let Value::Tensor(t) = base {
                    // `x[:, -1, :]`, `h[-1]`, `x[..., None]`: an opaque tensor from `x`, of the
                    // rank the index gives.
                    let shaping = self.index_shaping(index, frame, globals);
                    return SValue {
                        value: self.opaque_shaped(&[t], span, span, &shaping),
                        span,
                    };
                }
                let idx = self.eval(index, frame, globals).value;
                match (base, idx) {
                    (Value::Dict(items), Value::Str(k)) => items
                        .iter()
                        .rev()
                        .find(|(key, _)| *key == k)
                        .map_or(Value::Unknown, |(_, v)| v.value.clone()),
                    (Value::Dict(items), Value::Int(i)) => items
                        .iter()
                        .rev()
                        .find(|(key, _)| *key == i.to_string())
                        .map_or(Value::Unknown, |(_, v)| v.value.clone()),
                    (Value::Tuple(items) | Value::List(items), Value::Int(i)) => {
                        let n = items.len() as i64;
                        let i = if i < 0 { i + n } else { i };
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| items.get(i))
                            .map_or(Value::Unknown, |v| v.value.clone())
                    }
                    _ => Value::Unknown,
                }
            }
            Expr::BinOp {
                left, op, right, ..
            } => {
                let l = self.eval(left, frame, globals).value;
                let r = self.eval(right, frame, globals).value;
                self.binop_values(l, *op, r, span)
            }
            Expr::Neg { operand, .. } => match self.eval(operand, frame, globals).value {
                Value::CeTerm(p, log, logits) => {
                    self.hand_written_loss(p, false, span, log, logits)
                }
                Value::BceTerm(p, log) => self.hand_written_loss(p, true, span, log, false),
                Value::Int(i) => i.checked_neg().map_or(Value::Unknown, Value::Int),
                Value::Float(f) => Value::Float(-f),
                Value::Tensor(t) => self.opaque_tensor(t, span, span),
                _ => Value::Unknown,
            },
            Expr::Compare {
                left, op, right, ..
            } => {
                let l = self.eval(left, frame, globals).value;
                let r = self.eval(right, frame, globals).value;
                // `probs > 0.5`, `0.5 < probs`: the tensor is read as a probability.
                match (&l, *op, &r) {
                    (Value::Tensor(t), CmpOp::Gt | CmpOp::GtE, Value::Float(f))
                    | (Value::Float(f), CmpOp::Lt | CmpOp::LtE, Value::Tensor(t))
                        if *f == 0.5 =>
                    {
                        self.thresholds.push((*t, span));
                    }
                    _ => {}
                }
                compare(&l, *op, &r).map_or(Value::Unknown, Value::Bool)
            }
            // Only the branch the test picks runs; with the test unknown, neither is known.
            Expr::IfExp {
                test, body, orelse, ..
            } => {
                let t = self.eval(test, frame, globals).value;
                match truth(&t) {
                    Some(true) => self.eval(body, frame, globals).value,
                    Some(false) => self.eval(orelse, frame, globals).value,
                    None => Value::Unknown,
                }
            }
            Expr::Not { operand, .. } => {
                let v = self.eval(operand, frame, globals).value;
                truth(&v).map_or(Value::Unknown, |b| Value::Bool(!b))
            }
            Expr::Comprehension {
                elt, target, iter, ..
            } => {
                let seq = self.eval(iter, frame, globals);
                match self.unrollable(&seq) {
                    Some(items) => {
                        // The comprehension's own scope: its target does not leak.
                        let mut inner = Frame::new(frame.locals.clone());
                        let mut out = vec![];
                        let mut complete = true;
                        for item in items {
                            if !self.tick() {
                                complete = false;
                                break;
                            }
                            self.assign(target, item, &mut inner);
                            out.push(self.eval(elt, &mut inner, globals));
                        }
                        if complete {
                            Value::List(out)
                        } else {
                            Value::Unknown
                        }
                    }
                    None => Value::Unknown,
                }
            }
            Expr::Slice { .. }
            | Expr::Ellipsis { .. }
            | Expr::Lambda { .. }
            | Expr::Starred { .. }
            | Expr::Other { .. } => Value::Unknown,
        };
        SValue { value, span }
    }

    fn eval_all(
        &mut self,
        items: &[Expr],
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Vec<SValue> {
        items.iter().map(|i| self.eval(i, frame, globals)).collect()
    }

    /// `items` with each `*xs` replaced by the items of `xs`, and whether every `xs` was known (an
    /// unknown one stands as one unknown item).
    fn eval_spread(
        &mut self,
        items: &[Expr],
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> (Vec<SValue>, bool) {
        let mut out = vec![];
        let mut known = true;
        for i in items {
            match i {
                Expr::Starred { value, span } => {
                    let v = self.eval(value, frame, globals);
                    match self.items_of(&v) {
                        Some(items) => out.extend(items),
                        None => {
                            known = false;
                            out.push(SValue {
                                value: Value::Unknown,
                                span: *span,
                            });
                        }
                    }
                }
                _ => out.push(self.eval(i, frame, globals)),
            }
            if out.len() > MAX_ITEMS {
                out.truncate(MAX_ITEMS);
                known = false;
            }
        }
        (out, known)
    }

    fn kwargs(
        &mut self,
        c: &Call,
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Option<Vec<KwValue>> {
        let mut out = vec![];
        let mut complete = true;
        for k in &c.keywords {
            let value = self.eval(&k.value, frame, globals);
            match (&k.name, value.value) {
                (Some(name), v) => out.push(KwValue {
                    name: name.clone(),
                    span: k.span,
                    value: SValue {
                        value: v,
                        span: value.span,
                    },
                }),
                // `f(**hparams)` with `hparams` a dict the interpreter knows: its items.
                (None, Value::Dict(items)) => {
                    out.extend(items.into_iter().map(|(name, value)| KwValue {
                        name,
                        span: k.span,
                        value,
                    }))
                }
                (None, _) => complete = false,
            }
        }
        complete.then_some(out)
    }

    /// A call; when nothing the interpreter models applies and a tensor is among the arguments
    /// (`F.max_pool2d(x, 2)`, `tf.reshape(h, [-1, n])`, a helper from another file), the result is
    /// an opaque tensor of unknown shape computed from it, so the model goes on past the call.
    fn call(&mut self, c: &Call, frame: &mut Frame, globals: Option<&Env>) -> Value {
        let mut fallback = None;
        let out = self.call_inner(c, frame, globals, &mut fallback);
        match (out, fallback) {
            (Value::Unknown, Some(f)) => {
                let (callee, span) = (c.func.span(), c.span);
                match f.pair {
                    // `values, idx = x.max(dim=1)`: two tensors of the same shape.
                    Some(part) => {
                        let items = (0..2)
                            .map(|_| SValue {
                                value: self.opaque_shaped(&f.tensors, callee, span, &part),
                                span,
                            })
                            .collect();
                        Value::Tuple(items)
                    }
                    None => self.opaque_shaped(&f.tensors, callee, span, &f.shaping),
                }
            }
            (out, _) => out,
        }
    }

    /// How a report names model `m` to the user: the name it is bound to and what it is
    /// (`clf`, "keras Sequential"; `model`, "Net"; "TF1 graph").
    pub fn describe_model(&self, m: usize) -> (Option<String>, String) {
        let rec = &self.models[m];
        let kind = match &rec.kind {
            ModelKind::Sequential(_) => "keras Sequential".to_string(),
            ModelKind::Functional { .. } if rec.name.as_deref() == Some("tf_graph") => {
                "TF1 graph".to_string()
            }
            ModelKind::Functional { .. } => "keras Model".to_string(),
        };
        if let Some((name, _)) = self.bound_models.get(&m) {
            return (Some(name.clone()), kind);
        }
        let out = match &rec.kind {
            ModelKind::Functional { outputs, .. } => outputs.first().copied(),
            ModelKind::Sequential(_) => None,
        };
        // A module whose forward gave the model's output.
        if let Some(t) = out
            && let Some((i, class)) = self.instance_giving(t)
        {
            let name = self.bound_instances.get(&i).map(|(n, _)| n.clone());
            return (name, class);
        }
        (None, kind)
    }

    /// The input tensors `outputs` are computed from, in creation order.
    pub(super) fn inputs_of(&self, outputs: &[usize]) -> Vec<usize> {
        let mut inputs = vec![];
        let mut stack = outputs.to_vec();
        let mut seen = vec![false; self.tensors.len()];
        while let Some(t) = stack.pop() {
            if std::mem::replace(&mut seen[t], true) {
                continue;
            }
            let rec = &self.tensors[t];
            let layer = &self.layers[rec.layer];
            if layer.is_input {
                inputs.push(t);
            } else if let Some(ins) = layer.calls.get(rec.node) {
                stack.extend(ins.iter().copied());
            }
        }
        inputs.sort_unstable();
        inputs
    }

    /// `keras.applications.ResNet50(include_top=False, input_shape=...)`, a pretrained backbone:
    /// a model whose input is as stated and whose output is opaque (nnlint needs only the head the
    /// file puts on it).
    fn backbone(&mut self, c: &Call, kwargs: &[KwValue]) -> Value {
        let shape = kwargs.iter().find(|k| k.name == "input_shape").cloned();
        let input = self.new_layer(
            "InputLayer",
            c,
            vec![],
            shape
                .map(|k| KwValue {
                    name: "shape".into(),
                    ..k
                })
                .into_iter()
                .collect(),
        );
        self.layers[input].is_input = true;
        self.tensors.push(TensorRec {
            layer: input,
            node: 0,
        });
        let x = self.tensors.len() - 1;
        let out = self.opaque_tensor(x, c.func.span(), c.span);
        let Value::Tensor(out) = out else {
            return Value::Unknown;
        };
        self.new_model(
            ModelKind::Functional {
                inputs: vec![x],
                outputs: vec![out],
            },
            c,
            &[],
        )
    }

    /// A Keras loss object or function called on `(y_true, y_pred)`: recorded on the prediction,
    /// taking logits when the object says `from_logits=True`.
    fn keras_loss_call(&mut self, o: &ObjectRec, c: &Call, args: &[SValue], kwargs: &[KwValue]) {
        let Some(class) = keras_loss_class(&o.class) else {
            return;
        };
        let pred = kwargs
            .iter()
            .find(|k| k.name == "y_pred" || k.name == "output")
            .map(|k| k.value.clone())
            .or_else(|| args.get(1).cloned());
        let Some(SValue {
            value: Value::Tensor(t),
            ..
        }) = pred
        else {
            return;
        };
        let from_logits = o
            .kwargs
            .iter()
            .chain(kwargs)
            .find(|k| k.name == "from_logits" && matches!(k.value.value, Value::Bool(true)));
        self.tf_losses.push(TfLoss {
            class,
            tensor: t,
            callee_span: o.callee_span,
            call_span: c.span,
            logits_span: from_logits.map(|k| k.span),
            also: None,
            labels: kwargs
                .iter()
                .find(|k| k.name == "y_true" || k.name == "target")
                .map(|k| &k.value)
                .or(args.first())
                .and_then(|y| labels::fact_of(&y.value)),
        });
    }

    /// A Keras model called like a layer.
    fn call_model(&mut self, m: usize, args: &[SValue]) -> Value {
        match &self.models[m].kind {
            ModelKind::Sequential(layers) => {
                let layers = layers.clone();
                let Some(mut x) = args.first().cloned() else {
                    return Value::Unknown;
                };
                for l in layers {
                    let Some(l) = l else {
                        // An unknown stretch: what follows reads data nnlint cannot see.
                        x.value = Value::Unknown;
                        continue;
                    };
                    if self.layers[l].is_input {
                        continue;
                    }
                    x.value = self.call_layer(l, std::slice::from_ref(&x));
                }
                x.value
            }
            ModelKind::Functional { outputs, .. } => match outputs.as_slice() {
                [o] => Value::Tensor(*o),
                _ => Value::Unknown,
            },
        }
    }

    /// A tensor argument: the tensor, or for an unknown value (data nnlint cannot see) a fresh
    /// model input; `None` for values that are not tensors (numbers, strings, modules).
    fn tensor_or_input(&mut self, v: Option<&SValue>) -> Option<usize> {
        match v {
            Some(SValue {
                value: Value::Tensor(t),
                ..
            }) => Some(*t),
            Some(SValue {
                value: Value::Unknown,
                span,
            }) => Some(self.unseen_input(*span)),
            _ => None,
        }
    }

    /// What a loss function `f(y_true, y_pred)` of the file computes from `y_pred`: run on a fresh
    /// tensor, a hand-written cross-entropy term on it, or a framework loss called on it. Nothing it
    /// builds on the way stays a loss of the file.
    fn read_loss_function(
        &mut self,
        f: &Arc<FunctionDef>,
        c: &Call,
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Option<(&'static str, bool)> {
        if f.positional < 2 || self.call_depth >= MAX_CALL_DEPTH {
            return None;
        }
        let layer = self.new_layer("InputLayer", c, vec![], vec![]);
        self.layers[layer].is_input = true;
        self.tensors.push(TensorRec { layer, node: 0 });
        let pred = self.tensors.len() - 1;
        let saved = (self.tf_losses.len(), self.thresholds.len(), self.gaps.len());
        let picks = self.class_picks.len();
        let span = c.span;
        let args = [
            SValue {
                value: Value::Unknown,
                span,
            },
            SValue {
                value: Value::Tensor(pred),
                span,
            },
        ];
        let home = self.home.get(&(Arc::as_ptr(f) as *const ())).cloned();
        let module_globals = match &home {
            Some(env) => env.as_ref(),
            None => globals.unwrap_or(&frame.locals),
        };
        let mut callee = Frame::new(Env::new());
        let out = self.call_function(f, &args, &[], &mut callee, Some(module_globals));
        let read = match out {
            Value::CeTerm(t, _, logits) if t == pred => Some(("CategoricalCrossentropy", logits)),
            Value::BceTerm(t, _) if t == pred => Some(("BinaryCrossentropy", false)),
            _ => self.tf_losses[saved.0..]
                .iter()
                .rev()
                .find(|l| l.tensor == pred)
                .map(|l| (l.class, l.logits_span.is_some())),
        };
        self.tf_losses.truncate(saved.0);
        self.thresholds.truncate(saved.1);
        self.class_picks.truncate(picks);
        self.gaps.truncate(saved.2);
        read
    }

    /// `torch.multinomial(p, n)`, `p.multinomial(n)`, `Categorical(probs=p)`,
    /// `np.random.choice(k, p=p)`: `p` is sampled as one distribution over its last axis.
    fn note_sampling(&mut self, callee: &Value, args: &[SValue], kwargs: &[KwValue], span: Span) {
        let kw = |name: &str| kwargs.iter().find(|k| k.name == name).map(|k| &k.value);
        let sampled = match callee {
            Value::TensorMethod(t, name) if name == "multinomial" => Some(*t),
            Value::Path(p) => {
                let probs = match p.as_str() {
                    "torch.multinomial" => kw("input").or(args.first()),
                    "torch.distributions.Categorical"
                    | "torch.distributions.categorical.Categorical"
                    | "torch.distributions.OneHotCategorical" => kw("probs").or(args.first()),
                    "numpy.random.choice" => kw("p"),
                    _ => None,
                };
                match probs.map(|v| &v.value) {
                    Some(Value::Tensor(t)) => Some(*t),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(t) = sampled {
            self.sampled.push((t, span));
        }
    }

    /// An input for data the interpreter cannot see, read at `span`.
    fn unseen_input(&mut self, span: Span) -> usize {
        self.gap(span, UNSEEN_INPUT);
        self.torch_input(span)
    }

    /// `l op r` written as an operator or as a function (`tf.add(a, b)`, `tf.multiply(y, tf.log(p))`).
    fn binop_values(&mut self, l: Value, op: BinOp, r: Value, span: Span) -> Value {
        match (l, op, r) {
            // A residual `x + f(x)`.
            (Value::Tensor(a), BinOp::Add, Value::Tensor(b)) => self.add_tensors(a, b, span),
            (l, op, r) => match tf1_binop(&l, op, &r) {
                Some(v) => v,
                None => self.tensor_binop(l, op, r, span),
            },
        }
    }

    /// `l op r` once the TF1 loss forms are ruled out. A tensor scaled or shifted by a number
    /// (`logits / T`, `x * 0.5`) stays the tensor it was; a tensor combined with anything else
    /// (`q @ k.T`, `x * mask`) is an opaque tensor computed from it; numbers are computed.
    fn tensor_binop(&mut self, l: Value, op: BinOp, r: Value, span: Span) -> Value {
        let number = |v: &Value| matches!(v, Value::Int(_) | Value::Float(_));
        let scales = matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mult | BinOp::Div);
        // `y * tf.nn.log_softmax(z)`: a hand-written softmax cross-entropy on the logits `z`.
        if op == BinOp::Mult {
            for v in [&l, &r] {
                if let &Value::Tensor(t) = v
                    && let Some(z) = self.log_softmax_input(t)
                {
                    return Value::CeTerm(z, None, true);
                }
            }
            // `y * torch.log(p)`: a log that is a tensor of its own (PyTorch) makes the same
            // cross-entropy term on `p` as `y * tf.log(p)`.
            for v in [&l, &r] {
                if let &Value::Tensor(t) = v
                    && let Some(p) = self.log_input(t)
                {
                    let log = (!self.guarded_logs.contains(&t)).then_some(t);
                    return Value::CeTerm(p, log, false);
                }
            }
        }
        match (&l, &r) {
            (&Value::Tensor(t), o) | (o, &Value::Tensor(t)) if scales && number(o) => {
                Value::Tensor(t)
            }
            // `q @ k.transpose(1, 2)`, `weights * h`: an opaque tensor of both, broadcast.
            (&Value::Tensor(a), &Value::Tensor(b)) if a != b || op == BinOp::MatMult => {
                let shaping = if op == BinOp::MatMult {
                    Shaping::MatMul
                } else if scales {
                    Shaping::Broadcast
                } else {
                    Shaping::Unknown
                };
                self.opaque_shaped(&[a, b], span, span, &shaping)
            }
            (&Value::Tensor(t), _) | (_, &Value::Tensor(t)) => self.opaque_tensor(t, span, span),
            _ => binop(l, op, r),
        }
    }

    /// The input of `t` when `t` is a log-softmax activation (`tf.nn.log_softmax(z)`).
    fn log_softmax_input(&self, t: usize) -> Option<usize> {
        let rec = &self.tensors[t];
        let layer = &self.layers[rec.layer];
        let log_softmax = layer.class == "Activation"
            && matches!(layer.args.first().map(|a| &a.value), Some(Value::Str(s)) if s == "log_softmax");
        match layer.calls.get(rec.node).map(Vec::as_slice) {
            Some(&[z]) if log_softmax => Some(z),
            _ => None,
        }
    }

    /// The input of `t` when `t` is a natural log (`torch.log(p)`, `p.log()`).
    fn log_input(&self, t: usize) -> Option<usize> {
        let rec = &self.tensors[t];
        let layer = &self.layers[rec.layer];
        let log = layer.class == "TFOpLambda"
            && layer.kwargs.iter().any(|k| {
                k.name == "function" && matches!(&k.value.value, Value::Str(f) if f == "math.log")
            });
        match layer.calls.get(rec.node).map(Vec::as_slice) {
            Some(&[p]) if log => Some(p),
            _ => None,
        }
    }

    /// An opaque layer applied to tensor `t`: unknown shape, so nothing after it is guessed.
    fn opaque_tensor(&mut self, t: usize, callee_span: Span, call_span: Span) -> Value {
        self.opaque_shaped(&[t], callee_span, call_span, &Shaping::Unknown)
    }

    /// An opaque layer applied to `inputs`, its output shaped by `shaping` (rank known or not).
    fn opaque_shaped(
        &mut self,
        inputs: &[usize],
        callee_span: Span,
        call_span: Span,
        shaping: &Shaping,
    ) -> Value {
        self.gap(
            call_span,
            "a call nnlint does not model (its result is opaque)",
        );
        self.layers.push(LayerRec {
            class: UNRESOLVED_LAYER.to_string(),
            callee_span,
            call_span,
            args: vec![],
            kwargs: shaping.kwargs(call_span),
            calls: vec![],
            is_input: false,
        });
        let layer = self.layers.len() - 1;
        let items = inputs
            .iter()
            .map(|&t| SValue {
                value: Value::Tensor(t),
                span: call_span,
            })
            .collect();
        self.call_layer(
            layer,
            &[SValue {
                value: Value::List(items),
                span: call_span,
            }],
        )
    }

    /// The shaping of a tensor subscript `x[index]`: known when every position is a slice, an
    /// integer, `None` or `...` (a tensor or a list as an index gathers: unknown).
    fn index_shaping(&mut self, index: &Expr, frame: &mut Frame, globals: Option<&Env>) -> Shaping {
        let positions = match index {
            Expr::Tuple { items, .. } => items.iter().collect(),
            one => vec![one],
        };
        let mut items = vec![];
        for p in positions {
            let item = match p {
                Expr::Slice {
                    lower: None,
                    upper: None,
                    step: None,
                    ..
                } => shaping::Item::Full,
                Expr::Slice { .. } => shaping::Item::Part,
                Expr::NoneLit { .. } => shaping::Item::New,
                Expr::Ellipsis { .. } => shaping::Item::Rest,
                e => match self.eval(e, frame, globals).value {
                    Value::Int(_) => shaping::Item::Int,
                    Value::None => shaping::Item::New,
                    _ => return Shaping::Unknown,
                },
            };
            items.push(item);
        }
        Shaping::Index(items)
    }

    /// What a call nnlint does not model gives when a tensor is among its arguments (or it is a
    /// tensor's method): an opaque tensor computed from them, shaped as the function's name says.
    fn fallback(&self, callee: &Value, args: &[SValue], kwargs: &[KwValue]) -> Option<Fallback> {
        let method = match callee {
            Value::TensorMethod(t, name) if !torch::non_tensor_method(name) => Some((*t, name)),
            _ => None,
        };
        // A loss gives a number, recorded where it was called: nothing opaque to follow.
        let loss = match callee {
            Value::Object(o) => torch::loss_name(&o.class).is_some(),
            Value::Path(p) => {
                let last = p.rsplit('.').next().unwrap_or("");
                last.ends_with("_loss") || last.contains("cross_entropy")
            }
            _ => false,
        };
        if loss {
            return None;
        }
        let mut tensors: Vec<usize> = method.iter().map(|(t, _)| *t).collect();
        for a in args.iter().chain(kwargs.iter().map(|k| &k.value)) {
            match &a.value {
                Value::Tensor(t) => tensors.push(*t),
                Value::List(items) | Value::Tuple(items) => {
                    tensors.extend(items.iter().filter_map(|i| tensor_in(&i.value)));
                }
                v => tensors.extend(tensor_in(v)),
            }
        }
        tensors.dedup();
        if tensors.is_empty() {
            return None;
        }
        let name = match (method, callee) {
            (Some((_, name)), _) => Some(name.as_str()),
            (None, Value::Path(p)) => p.rsplit('.').next(),
            _ => None,
        };
        let is_method = method.is_some();
        let (shaping, pair) = match name {
            Some(n) if shaping::returns_pair(n, is_method, args, kwargs) => (
                Shaping::Unknown,
                Some(shaping::pair_part(n, is_method, args, kwargs)),
            ),
            Some(n) => (shaping::of_call(n, is_method, args, kwargs), None),
            None => (Shaping::Unknown, None),
        };
        // Only shapings of two tensors read more than the first.
        if !matches!(shaping, Shaping::MatMul | Shaping::Broadcast) {
            tensors.truncate(1);
        }
        Some(Fallback {
            tensors,
            shaping,
            pair,
        })
    }

    fn call_inner(
        &mut self,
        c: &Call,
        frame: &mut Frame,
        globals: Option<&Env>,
        fallback: &mut Option<Fallback>,
    ) -> Value {
        if let Expr::Attribute { value, attr, .. } = &c.func
            && let Some(v) = self.container_call(value, attr, c, frame, globals)
        {
            return v;
        }
        if let Expr::Attribute { value, attr, .. } = &c.func
            && let Some(v) = self.super_call(value, attr, c, frame, globals)
        {
            return v;
        }
        let callee = self.eval(&c.func, frame, globals).value;
        // `cfg.update(...)`, `layers.insert(...)`: any other method of a container may change it.
        if let Expr::Attribute { value, .. } = &c.func {
            self.invalidate_container(value, frame, false);
        }
        let (args, spread) = self.eval_spread(&c.args, frame, globals);
        let starred = !spread || c.args.iter().any(|a| matches!(a, Expr::Other { .. }));
        let kwargs = self.kwargs(c, frame, globals);
        if let Some(v) =
            self.save_hyperparameters(c, &args, kwargs.as_deref().unwrap_or_default(), frame)
        {
            return v;
        }
        // `model(x)` in a helper nothing calls, `model` its parameter: the file's one module (its
        // arguments ran first, so in `loss_fn(model(x), y)` that is `model`).
        let callee = match (&callee, &c.func) {
            (Value::Unknown, Expr::Name { id, .. }) => {
                self.stand_in_for(id, frame).unwrap_or(callee)
            }
            _ => callee,
        };
        *fallback = self.fallback(&callee, &args, kwargs.as_deref().unwrap_or_default());
        self.note_sampling(
            &callee,
            &args,
            kwargs.as_deref().unwrap_or_default(),
            c.span,
        );
        if let Some(v) = self.labels_call(
            &callee,
            &c.func,
            &args,
            kwargs.as_deref().unwrap_or_default(),
            c.span,
        ) {
            return v;
        }
        // `sess.run(t)`, `sess.run([a, b])`: the values of the tensors it is given (what the code
        // then thresholds or compares is read as applied to them).
        if let (Value::Unknown, Expr::Attribute { attr, .. }) = (&callee, &c.func)
            && attr == "run"
            && let Some(first) = args.first()
            && tensor_in(&first.value).is_some()
        {
            return first.value.clone();
        }
        // `evaluate.load("accuracy")`, `load_metric("f1")`, `sklearn.metrics.accuracy_score`:
        // predictions scored as classes.
        if self.class_scoring.is_none()
            && let Value::Path(p) = &callee
        {
            let last = p.rsplit('.').next().unwrap_or("");
            let loads = matches!(last, "load" | "load_metric") && p.contains("evaluate")
                || last == "load_metric";
            let named = matches!(
                args.first().map(|a| &a.value),
                Some(Value::Str(m)) if matches!(m.as_str(), "accuracy" | "f1" | "precision" | "recall")
            );
            if (loads && named)
                || matches!(
                    last,
                    "accuracy_score" | "f1_score" | "precision_score" | "recall_score"
                )
            {
                self.class_scoring = Some(c.span);
            }
        }
        // `namedtuple("Config", ["units", "activation"])`, `typing.NamedTuple("Config", [...])`: a
        // record class whose constructor's arguments are its fields, in order.
        if let Value::Path(p) = &callee
            && matches!(p.rsplit('.').next(), Some("namedtuple" | "NamedTuple"))
            && let [
                SValue {
                    value: Value::Str(name),
                    ..
                },
                fields,
                ..,
            ] = args.as_slice()
            && let Some(fields) = record_fields(&fields.value)
        {
            let span = c.span;
            let body = fields
                .into_iter()
                .map(|f| Stmt::Assign {
                    targets: vec![Expr::Name { id: f, span }],
                    value: Expr::NoneLit { span },
                })
                .collect();
            let def = Arc::new(ClassDef {
                name: name.clone(),
                bases: vec![],
                body,
                span,
            });
            return self.define_class(&def, frame, globals);
        }
        // Wrappers that hand back the modules they are given: `fabric.setup(model, opt)`,
        // `accelerator.prepare(model, opt, loader)`, `DDP(model)`, `torch.compile(model)`.
        if let Some(v) = wrapped_modules(&callee, &c.func, &args) {
            return v;
        }
        // Training calls on a model nnlint could not resolve (`model.fit`, `loss.backward()`):
        // the file trains something, so an unresolved model is said, not silently skipped.
        if let (Value::Unknown, Expr::Attribute { attr, .. }) = (&callee, &c.func)
            && matches!(
                attr.as_str(),
                "fit" | "compile" | "backward" | "train_on_batch" | "fit_generator"
            )
        {
            self.trains = true;
        }
        // `np.round(p)`, `np.rint(p)`: a 0.5 threshold on `p`.
        if let Value::Path(p) = &callee
            && matches!(p.as_str(), "numpy.round" | "numpy.rint" | "numpy.around")
            && let Some(SValue {
                value: Value::Tensor(t),
                ..
            }) = args.first()
        {
            self.thresholds.push((*t, c.span));
        }
        if let (Value::Unknown, Expr::Name { id, .. }) = (&callee, &c.func)
            && !frame.locals.contains_key(id)
            && !globals.is_some_and(|g| g.contains_key(id))
            && let Some(v) = self.builtin(id, &args, kwargs.as_deref(), c.span)
        {
            return v;
        }
        match callee {
            Value::Path(p) => {
                // `**kwargs` or `*args` hide arguments: nothing built from this call is known.
                let Some(kwargs) = kwargs else {
                    return Value::Unknown;
                };
                // `K.log(p)`, `keras.ops.sum(x, axis=-1)`: the TensorFlow op it is.
                let p = keras_math_as_tf(&p).map_or(p, str::to_string);
                if p == "collections.OrderedDict" {
                    return self.dict_of(&args, &kwargs);
                }
                // Configuration objects: a parser of command-line options, a namespace of values.
                if p == "argparse.ArgumentParser" {
                    return self.record_object(true, &[]);
                }
                if matches!(p.as_str(), "types.SimpleNamespace" | "argparse.Namespace") {
                    return self.record_object(false, &kwargs);
                }
                if let Some(v) = self.tf1_call(&p, c, &args, &kwargs) {
                    return v;
                }
                // `torch.sum(y * torch.log(p), dim=1)`, `torch.mean(...)`: the term, reduced.
                if matches!(p.as_str(), "torch.sum" | "torch.mean")
                    && let Some(v @ (Value::CeTerm(..) | Value::BceTerm(..))) =
                        args.first().map(|a| &a.value)
                {
                    return v.clone();
                }
                if let Some(v) = self.torch_call(&p, c, &args, &kwargs) {
                    return v;
                }
                if keras_tail(&p).is_some_and(|t| {
                    t.strip_prefix("applications.")
                        .and_then(|rest| rest.rsplit('.').next())
                        .is_some_and(|last| last.starts_with(|ch: char| ch.is_ascii_uppercase()))
                }) {
                    return self.backbone(c, &kwargs);
                }
                match classify(&p) {
                    Callee::Sequential => self.sequential(c, &args, &kwargs),
                    Callee::Model => self.functional(c, &args, &kwargs),
                    Callee::Input => {
                        if starred {
                            return Value::Unknown;
                        }
                        let layer = self.new_layer("InputLayer", c, args, kwargs);
                        self.layers[layer].is_input = true;
                        self.tensors.push(TensorRec { layer, node: 0 });
                        Value::Tensor(self.tensors.len() - 1)
                    }
                    Callee::Layer(class) => {
                        if starred {
                            return Value::Unknown;
                        }
                        let class = class.to_string();
                        Value::Layer(self.new_layer(&class, c, args, kwargs))
                    }
                    Callee::Merge(class) => {
                        let Some(inputs) = args.first().cloned() else {
                            return Value::Unknown;
                        };
                        let rest: Vec<SValue> = args.iter().skip(1).cloned().collect();
                        let layer = self.new_layer(class, c, rest, kwargs);
                        self.call_layer(layer, &[inputs])
                    }
                    // `keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)`,
                    // `K.categorical_crossentropy(target, output)`: a loss on the prediction.
                    Callee::Object { class }
                        if keras_loss_class(class).is_some()
                            && args
                                .get(1)
                                .or_else(|| {
                                    kwargs.iter().find(|k| k.name == "y_pred").map(|k| &k.value)
                                })
                                .is_some_and(|a| matches!(a.value, Value::Tensor(_))) =>
                    {
                        let o = ObjectRec {
                            class: class.to_string(),
                            callee_span: c.func.span(),
                            call_span: c.span,
                            args: vec![],
                            kwargs: kwargs.clone(),
                        };
                        self.keras_loss_call(&o, c, &args, &kwargs);
                        Value::Unknown
                    }
                    Callee::Object { class } => Value::Object(Arc::new(ObjectRec {
                        class: class.to_string(),
                        callee_span: c.func.span(),
                        call_span: c.span,
                        args,
                        kwargs,
                    })),
                    Callee::Other => Value::Unknown,
                }
            }
            Value::Layer(l) => self.call_layer(l, &args),
            Value::Class(class) => {
                // Keywords nnlint cannot list (`Net(**cfg)` of an unknown `cfg`): the parameters
                // take their defaults (the path the file's defaults select).
                let kwargs = kwargs.unwrap_or_default();
                self.instantiate(class, c, &args, &kwargs, frame, globals)
            }
            Value::Instance(i) => {
                let kwargs = kwargs.unwrap_or_default();
                self.call_instance(i, c.span, &args, &kwargs)
            }
            Value::Bound(i, name) => {
                let kwargs = kwargs.unwrap_or_default();
                self.call_bound(i, &name, c, &args, &kwargs)
            }
            Value::TensorMethod(t, name) => {
                let kwargs = kwargs.unwrap_or_default();
                self.tensor_fn(t, &name, c, &args, &kwargs)
            }
            // `(y * torch.log(p)).sum(1)`: the reduction (read below as the term) called.
            v @ (Value::CeTerm(..) | Value::BceTerm(..)) => v,
            // `criterion(out, y)` for `criterion = nn.CrossEntropyLoss()`.
            Value::Object(o) => match torch::loss_name(&o.class) {
                Some(loss) => {
                    let kwargs = kwargs.unwrap_or_default();
                    self.torch_loss(loss, o.callee_span, c, &args, &kwargs)
                }
                // `loss_fn(y_true, y_pred)` for `loss_fn = keras.losses.X(from_logits=...)`.
                None => {
                    let kwargs = kwargs.unwrap_or_default();
                    self.keras_loss_call(&o, c, &args, &kwargs);
                    Value::Unknown
                }
            },
            // `model(x)` on a Keras model: its layers applied to `x` (a Sequential), or its output
            // (a functional model, whose graph starts at its own inputs).
            Value::Model(m) => self.call_model(m, &args),
            Value::Method(m, name) => {
                let kwargs = kwargs.unwrap_or_default();
                // `compile(loss=my_loss)` with a loss function of the file: what it computes.
                if name == "compile"
                    && let Some(SValue {
                        value: Value::Function(f),
                        ..
                    }) = kwargs
                        .iter()
                        .find(|k| k.name == "loss")
                        .map(|k| &k.value)
                        .or(args.get(1))
                    && !self.loss_functions.contains_key(&f.name)
                {
                    let read = self.read_loss_function(f, c, frame, globals);
                    self.loss_functions.insert(f.name.clone(), read);
                }
                self.method(m, &name, c, &args, &kwargs);
                Value::Unknown
            }
            Value::Function(f) => {
                // Which of the file's own helpers were called (the rest run once at the end);
                // an imported module's code calling a name does not count.
                if !self.in_imported_module() {
                    self.called.insert(f.name.clone());
                }
                if kwargs.is_none() || starred || self.call_depth >= MAX_CALL_DEPTH {
                    return Value::Unknown;
                }
                let kwargs = kwargs.unwrap_or_default();
                let enclosing = self
                    .closures
                    .get(&Arc::as_ptr(&f))
                    .map(|env| env.as_ref().clone())
                    .unwrap_or_default();
                let mut callee_frame = Frame::new(enclosing);
                // Globals of the callee: the names of the module it was defined in. At the top
                // level of that module they are this frame's (borrowed, never copied: a call costs
                // O(arguments), not O(module)).
                let home = self.home.get(&(Arc::as_ptr(&f) as *const ())).cloned();
                let module_globals = match &home {
                    Some(env) => env.as_ref(),
                    None => globals.unwrap_or(&frame.locals),
                };
                let out =
                    self.call_function(&f, &args, &kwargs, &mut callee_frame, Some(module_globals));
                // `nonlocal` names the callee rebound live in this frame (its enclosing function).
                let nonlocal: Vec<String> = self
                    .outer_writes
                    .iter()
                    .filter(|(n, (_, global))| !global && frame.locals.contains_key(*n))
                    .map(|(n, _)| n.clone())
                    .collect();
                for n in nonlocal {
                    if let Some((v, _)) = self.outer_writes.remove(&n) {
                        frame.locals.insert(n, v);
                    }
                }
                out
            }
            _ => Value::Unknown,
        }
    }

    /// TensorFlow 1 graph code: placeholders, `tf.layers.*`, `tf.matmul`, `tf.nn.*` activations, the
    /// `tf.nn`/`tf.losses` losses, hand-written cross-entropy, and 0.5 thresholds at test time.
    fn tf1_call(
        &mut self,
        path: &str,
        c: &Call,
        args: &[SValue],
        kwargs: &[KwValue],
    ) -> Option<Value> {
        let tail = tf1_tail(path)?;
        let kw = |name: &str| kwargs.iter().find(|k| k.name == name);
        let arg = |pos: usize, name: &str| -> Option<SValue> {
            kw(name)
                .map(|k| k.value.clone())
                .or_else(|| args.get(pos).cloned())
        };
        let tensor_of = |v: &Option<SValue>| match v.as_ref().map(|v| &v.value) {
            Some(Value::Tensor(t)) => Some(*t),
            _ => None,
        };
        if tail == "placeholder" {
            let shape = arg(1, "shape")?;
            let name = kw("name").cloned();
            let mut kw_out = vec![KwValue {
                name: "batch_shape".into(),
                span: shape.span,
                value: shape,
            }];
            kw_out.extend(name);
            let layer = self.new_layer("InputLayer", c, vec![], kw_out);
            self.layers[layer].is_input = true;
            self.tensors.push(TensorRec { layer, node: 0 });
            return Some(Value::Tensor(self.tensors.len() - 1));
        }
        if let Some(class) = tf1_layer(tail) {
            let Some(input) =
                self.tensor_or_input(arg(0, "inputs").or_else(|| arg(0, "x")).as_ref())
            else {
                return Some(Value::Unknown);
            };
            let rest: Vec<SValue> = if kw("inputs").is_some() || kw("x").is_some() {
                args.to_vec()
            } else {
                args.iter().skip(1).cloned().collect()
            };
            let mut kwargs: Vec<KwValue> = kwargs
                .iter()
                .filter(|k| !matches!(k.name.as_str(), "inputs" | "x" | "training" | "reuse"))
                .cloned()
                .collect();
            // `tf.contrib.layers.fully_connected(x, num_outputs, activation_fn=...)` and its
            // `conv2d`: the width is `num_outputs`, the activation `activation_fn`, ReLU by default.
            if tail.starts_with("contrib.layers.") && class != "Flatten" {
                for k in &mut kwargs {
                    match k.name.as_str() {
                        "num_outputs" => {
                            k.name = if class == "Dense" { "units" } else { "filters" }.into()
                        }
                        "activation_fn" => k.name = "activation".into(),
                        _ => {}
                    }
                }
                if !kwargs.iter().any(|k| k.name == "activation") {
                    kwargs.push(KwValue {
                        name: "activation".into(),
                        span: c.func.span(),
                        value: SValue {
                            // `linear` is `fully_connected` with `activation_fn=None`.
                            value: if tail == "contrib.layers.linear" {
                                Value::None
                            } else {
                                Value::Str("relu".into())
                            },
                            span: c.func.span(),
                        },
                    });
                }
            }
            let layer = self.new_layer(class, c, rest, kwargs);
            let t = self.call_layer(
                layer,
                &[SValue {
                    value: Value::Tensor(input),
                    span: c.span,
                }],
            );
            return Some(t);
        }
        if let Some(name) = tf1_activation(tail) {
            let Some(input) = self.tensor_or_input(
                arg(0, "features")
                    .or_else(|| arg(0, "logits"))
                    .or_else(|| arg(0, "x"))
                    .as_ref(),
            ) else {
                return Some(Value::Unknown);
            };
            let act = SValue {
                value: Value::Str(name.into()),
                span: c.func.span(),
            };
            let mut kw_out = vec![];
            let class = match kw("axis").or_else(|| kw("dim")) {
                Some(axis) if name == "softmax" => {
                    kw_out.push(KwValue {
                        name: "axis".into(),
                        span: axis.span,
                        value: axis.value.clone(),
                    });
                    "Softmax"
                }
                _ => "Activation",
            };
            let layer_args = if class == "Activation" {
                vec![act]
            } else {
                vec![]
            };
            let layer = self.new_layer(class, c, layer_args, kw_out);
            if class == "Softmax" {
                // The label of the activation is the call itself.
                self.layers[layer].callee_span = c.func.span();
            }
            return Some(self.call_layer(
                layer,
                &[SValue {
                    value: Value::Tensor(input),
                    span: c.span,
                }],
            ));
        }
        if let Some((class, from_logits, key, pos)) = tf1_loss(tail) {
            let pred = kw(key)
                .map(|k| (k.value.clone(), Some(k.span)))
                .or_else(|| args.get(pos).map(|a| (a.clone(), None)));
            let Some((
                SValue {
                    value: Value::Tensor(t),
                    span,
                },
                kw_span,
            )) = pred
            else {
                return Some(Value::Unknown);
            };
            self.tf_losses.push(TfLoss {
                class,
                tensor: t,
                callee_span: c.func.span(),
                call_span: c.span,
                logits_span: if from_logits {
                    Some(kw_span.unwrap_or(span))
                } else {
                    None
                },
                also: None,
                labels: ["labels", "onehot_labels", "multi_class_labels"]
                    .iter()
                    .find_map(|k| kw(k))
                    .map(|k| &k.value)
                    .or(args.first().filter(|_| pos != 0))
                    .and_then(|y| labels::fact_of(&y.value)),
            });
            return Some(Value::Unknown);
        }
        // The arithmetic operators written as functions: what `a + b`, `a * b` compute.
        let op = match tail {
            "add" | "math.add" | "nn.bias_add" => Some(BinOp::Add),
            "subtract" | "math.subtract" => Some(BinOp::Sub),
            "multiply" | "math.multiply" => Some(BinOp::Mult),
            "divide" | "math.divide" | "truediv" | "math.truediv" | "div" => Some(BinOp::Div),
            _ => None,
        };
        if let (Some(op), Some(a), Some(b)) =
            (op, arg(0, "x"), arg(1, "y").or_else(|| arg(1, "bias")))
        {
            return Some(self.binop_values(a.value, op, b.value, c.span));
        }
        match tail {
            // `tf.concat([a, b], axis=3)`: Keras's Concatenate on that axis.
            "concat" => {
                let values = arg(0, "values")?;
                let axis = arg(1, "axis")?;
                if !matches!(axis.value, Value::Int(_)) {
                    return None;
                }
                let layer = self.new_layer(
                    "Concatenate",
                    c,
                    vec![],
                    vec![KwValue {
                        name: "axis".into(),
                        span: axis.span,
                        value: axis,
                    }],
                );
                Some(self.call_layer(layer, &[values]))
            }
            // `tf.nn.xw_plus_b(x, W, b)` is `tf.matmul(x, W) + b`: a `Dense` with its bias.
            "matmul" | "linalg.matmul" | "nn.xw_plus_b" => {
                let xw = tail == "nn.xw_plus_b";
                let (x_name, w_name) = if xw { ("x", "weights") } else { ("a", "b") };
                let units = match arg(1, w_name).map(|w| w.value) {
                    Some(Value::Variable(Some(dims))) if dims.len() == 2 => dims[1],
                    _ => None,
                };
                let (Some(units), Some(w)) = (units, arg(1, w_name)) else {
                    // `xw_plus_b` of a weight of unknown shape: an opaque tensor computed from `x`.
                    return if xw { None } else { Some(Value::Unknown) };
                };
                let Some(x) = self.tensor_or_input(arg(0, x_name).as_ref()) else {
                    return Some(Value::Unknown);
                };
                let layer = self.new_layer(
                    "Dense",
                    c,
                    vec![SValue {
                        value: Value::Int(units),
                        span: w.span,
                    }],
                    vec![KwValue {
                        name: "use_bias".into(),
                        span: c.span,
                        value: SValue {
                            value: Value::Bool(xw),
                            span: c.span,
                        },
                    }],
                );
                Some(self.call_layer(
                    layer,
                    &[SValue {
                        value: Value::Tensor(x),
                        span: c.span,
                    }],
                ))
            }
            "Variable" | "get_variable" => {
                let init = if tail == "get_variable" {
                    arg(1, "shape")
                } else {
                    arg(0, "initial_value")
                };
                Some(match init.map(|v| v.value) {
                    Some(Value::Variable(s)) => Value::Variable(s),
                    Some(Value::List(d) | Value::Tuple(d)) => Value::Variable(Some(dims(&d))),
                    _ => Value::Variable(None),
                })
            }
            "random_normal"
            | "random.normal"
            | "truncated_normal"
            | "random.truncated_normal"
            | "random_uniform"
            | "random.uniform"
            | "zeros"
            | "ones"
            | "constant_initializer" => Some(match arg(0, "shape").map(|v| v.value) {
                Some(Value::List(d) | Value::Tuple(d)) => Value::Variable(Some(dims(&d))),
                _ => Value::Variable(None),
            }),
            "log" | "math.log" => Some(match arg(0, "x").map(|v| v.value) {
                // `tf.log(p + 1e-10)`: guarded like a clip.
                Some(Value::Tensor(p)) if c.args.first().is_some_and(adds_epsilon) => {
                    Value::LogOf(p, None)
                }
                // The log is a layer of its own, so NNL008 sees `log(softmax(z))`.
                Some(Value::Tensor(p)) => {
                    let layer = self.new_layer(
                        "TFOpLambda",
                        c,
                        vec![],
                        vec![KwValue {
                            name: "function".into(),
                            span: c.func.span(),
                            value: SValue {
                                value: Value::Str("math.log".into()),
                                span: c.func.span(),
                            },
                        }],
                    );
                    self.layers[layer].callee_span = c.func.span();
                    let log = self.call_layer(
                        layer,
                        &[SValue {
                            value: Value::Tensor(p),
                            span: c.span,
                        }],
                    );
                    let log = match log {
                        Value::Tensor(l) => Some(l),
                        _ => None,
                    };
                    Value::LogOf(p, log)
                }
                Some(Value::Clipped(p)) => Value::LogOf(p, None),
                _ => Value::Unknown,
            }),
            "clip_by_value" => Some(match arg(0, "t").map(|v| v.value) {
                Some(Value::Tensor(p)) => Value::Clipped(p),
                _ => Value::Unknown,
            }),
            "reduce_sum" | "reduce_mean" | "math.reduce_sum" | "math.reduce_mean" => {
                Some(match arg(0, "input_tensor").map(|v| v.value) {
                    Some(v @ (Value::CeTerm(..) | Value::BceTerm(..))) => v,
                    _ => Value::Unknown,
                })
            }
            "round" | "math.round" => {
                if let Some(t) = tensor_of(&arg(0, "x")) {
                    self.thresholds.push((t, c.span));
                }
                Some(Value::Unknown)
            }
            // `tf.equal(tf.argmax(t, 1), tf.argmax(y, 1))`: the code reads `t` as class scores.
            "argmax" | "math.argmax" => {
                if let Some(t) = tensor_of(&arg(0, "input")) {
                    self.class_picks.push((t, c.span));
                }
                Some(Value::Unknown)
            }
            "greater" | "math.greater" => {
                let half =
                    matches!(arg(1, "y").map(|v| v.value), Some(Value::Float(f)) if f == 0.5);
                if let (Some(t), true) = (tensor_of(&arg(0, "x")), half) {
                    self.thresholds.push((t, c.span));
                }
                Some(Value::Unknown)
            }
            _ => None,
        }
    }

    /// `-tf.reduce_sum(y * tf.log(p))`: categorical cross-entropy on `p` as written by hand.
    fn hand_written_loss(
        &mut self,
        p: usize,
        binary: bool,
        span: Span,
        log: Option<usize>,
        logits: bool,
    ) -> Value {
        self.tf_losses.push(TfLoss {
            class: if binary {
                "BinaryCrossentropy"
            } else {
                "CategoricalCrossentropy"
            },
            tensor: p,
            callee_span: span,
            call_span: span,
            logits_span: logits.then_some(span),
            also: log,
            labels: None,
        });
        Value::Unknown
    }

    /// A TF1 graph with a loss, as a functional model: inputs are the placeholders the loss's
    /// tensor depends on, the output is that tensor, and a 0.5 threshold on it is its metric.
    pub fn tf1_model(&mut self, loss: usize) -> Option<usize> {
        let loss = self.tf_losses.get(loss)?.clone();
        let inputs = self.inputs_of(&[loss.tensor]);
        if inputs.is_empty() {
            return None;
        }
        let mut kwargs = vec![];
        if let Some(s) = loss.logits_span {
            kwargs.push(KwValue {
                name: "from_logits".into(),
                span: s,
                value: SValue {
                    value: Value::Bool(true),
                    span: s,
                },
            });
        }
        let object = Value::Object(Arc::new(ObjectRec {
            class: loss.class.to_string(),
            callee_span: loss.callee_span,
            call_span: loss.call_span,
            args: vec![],
            kwargs,
        }));
        let span = loss.call_span;
        let metrics = self.threshold_metrics(loss.tensor, span);
        self.clock += 1;
        self.models.push(ModelRec {
            kind: ModelKind::Functional {
                inputs,
                outputs: std::iter::once(loss.tensor).chain(loss.also).collect(),
            },
            span: self.layers[self.tensors[loss.tensor].layer].call_span,
            name: Some("tf_graph".into()),
            unresolved: false,
            depth: 0,
            compile: Some(Compile {
                span,
                loss: Some(KwValue {
                    name: "loss".into(),
                    span,
                    value: SValue {
                        value: object,
                        span,
                    },
                }),
                metrics,
                loss_weights: None,
            }),
            compile_unknown: false,
            compiled_at: Some(self.clock),
            labels: loss.labels.clone(),
            sampled: None,
        });
        Some(self.models.len() - 1)
    }

    /// The `metrics=` of a model whose output is tensor `t`: a `BinaryAccuracy` (threshold 0.5)
    /// for each 0.5 threshold the code applies to `t`, written where the threshold is; `None` when
    /// there is none.
    fn threshold_metrics(&self, t: usize, span: Span) -> Option<KwValue> {
        let picks = self.class_picks.iter().map(|p| (p, "CategoricalAccuracy"));
        let metrics: Vec<SValue> = self
            .thresholds
            .iter()
            .map(|p| (p, "BinaryAccuracy"))
            .chain(picks)
            .filter(|((on, _), _)| *on == t)
            .map(|(&(_, at), class)| SValue {
                value: Value::Object(Arc::new(ObjectRec {
                    class: class.into(),
                    callee_span: at,
                    call_span: at,
                    args: vec![],
                    kwargs: vec![],
                })),
                span: at,
            })
            .collect();
        (!metrics.is_empty()).then(|| KwValue {
            name: "metrics".into(),
            span,
            value: SValue {
                value: Value::List(metrics),
                span,
            },
        })
    }

    /// `a + b` of two tensors: an `Add` layer.
    fn add_tensors(&mut self, a: usize, b: usize, span: Span) -> Value {
        self.layers.push(LayerRec {
            class: "Add".into(),
            callee_span: span,
            call_span: span,
            args: vec![],
            kwargs: vec![],
            calls: vec![],
            is_input: false,
        });
        let pair = [a, b].map(|t| SValue {
            value: Value::Tensor(t),
            span,
        });
        let list = SValue {
            value: Value::List(pair.to_vec()),
            span,
        };
        self.call_layer(self.layers.len() - 1, &[list])
    }

    /// A call of one of Python's builtins (the name is not bound in the file): the ones that build
    /// sequences a loop or a model reads are evaluated, the others return unknown.
    fn builtin(
        &self,
        id: &str,
        args: &[SValue],
        kwargs: Option<&[KwValue]>,
        span: Span,
    ) -> Option<Value> {
        if !BUILTINS.contains(&id) {
            return None;
        }
        let int = |k: usize| match args.get(k).map(|a| &a.value) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        };
        let item = |value: Value| SValue { value, span };
        let seq = |k: usize| args.get(k).and_then(|a| self.items_of(a));
        let v = match id {
            "range" => {
                let bounds = match args.len() {
                    1 => int(0).map(|b| (0, b, 1)),
                    2 => int(0).zip(int(1)).map(|(a, b)| (a, b, 1)),
                    3 => int(0).zip(int(1)).zip(int(2)).map(|((a, b), c)| (a, b, c)),
                    _ => None,
                };
                match bounds.and_then(|(a, b, step)| range_items(a, b, step)) {
                    Some(ints) => {
                        Value::List(ints.into_iter().map(|i| item(Value::Int(i))).collect())
                    }
                    None => Value::Unknown,
                }
            }
            "enumerate" => {
                let start = if args.len() > 1 { int(1) } else { Some(0) };
                match (seq(0), start) {
                    (Some(items), Some(start)) => Value::List(
                        items
                            .into_iter()
                            .zip(start..)
                            .map(|(it, k)| item(Value::Tuple(vec![item(Value::Int(k)), it])))
                            .collect(),
                    ),
                    _ => Value::Unknown,
                }
            }
            "zip" => {
                let all: Option<Vec<Vec<SValue>>> = (0..args.len()).map(seq).collect();
                match all.filter(|a| !a.is_empty()) {
                    Some(all) => {
                        let n = all.iter().map(Vec::len).min().unwrap_or(0);
                        Value::List(
                            (0..n)
                                .map(|k| {
                                    item(Value::Tuple(all.iter().map(|a| a[k].clone()).collect()))
                                })
                                .collect(),
                        )
                    }
                    None => Value::Unknown,
                }
            }
            "reversed" => seq(0).map_or(Value::Unknown, |mut items| {
                items.reverse();
                Value::List(items)
            }),
            "list" | "tuple" => {
                let items = if args.is_empty() {
                    Some(vec![])
                } else {
                    seq(0)
                };
                match items {
                    Some(items) if id == "list" => Value::List(items),
                    Some(items) => Value::Tuple(items),
                    None => Value::Unknown,
                }
            }
            "len" => match args.first().map(|a| &a.value) {
                Some(Value::Str(s)) => Value::Int(s.chars().count() as i64),
                Some(Value::Dict(d)) => Value::Int(d.len() as i64),
                _ => seq(0).map_or(Value::Unknown, |items| Value::Int(items.len() as i64)),
            },
            "min" | "max" if args.len() >= 2 => {
                let ints: Option<Vec<i64>> = (0..args.len()).map(int).collect();
                match ints {
                    Some(v) if id == "min" => {
                        v.into_iter().min().map_or(Value::Unknown, Value::Int)
                    }
                    Some(v) => v.into_iter().max().map_or(Value::Unknown, Value::Int),
                    None => Value::Unknown,
                }
            }
            "dict" => match kwargs {
                Some(kwargs) => self.dict_of(args, kwargs),
                None => Value::Unknown,
            },
            _ => Value::Unknown,
        };
        Some(v)
    }

    /// `dict(...)` / `OrderedDict(...)` of a dict, of `(str, value)` pairs, and of keywords.
    fn dict_of(&self, args: &[SValue], kwargs: &[KwValue]) -> Value {
        let mut out = match args {
            [] => vec![],
            [a] => match &a.value {
                Value::Dict(d) => d.clone(),
                _ => {
                    let Some(items) = self.items_of(a) else {
                        return Value::Unknown;
                    };
                    let mut pairs = vec![];
                    for it in items {
                        match &it.value {
                            Value::Tuple(kv) | Value::List(kv) if kv.len() == 2 => {
                                match &kv[0].value {
                                    Value::Str(k) => pairs.push((k.clone(), kv[1].clone())),
                                    _ => return Value::Unknown,
                                }
                            }
                            _ => return Value::Unknown,
                        }
                    }
                    pairs
                }
            },
            _ => return Value::Unknown,
        };
        out.extend(kwargs.iter().map(|k| (k.name.clone(), k.value.clone())));
        Value::Dict(out)
    }

    /// `xs.append(v)`, `xs.extend(vs)` on a list held in a local or in a module's attribute
    /// (`self.layers.append(nn.Linear(...))`), and `d.items()`/`keys()`/`values()` of a dict. `None`
    /// when the receiver is not such a container: the call is then an ordinary one.
    fn container_call(
        &mut self,
        recv: &Expr,
        method: &str,
        c: &Call,
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Option<Value> {
        if !matches!(method, "append" | "extend" | "items" | "keys" | "values") {
            return None;
        }
        // Where the container lives: a local name, or an attribute of a module instance.
        let (owner, name, current) = match recv {
            Expr::Name { id, .. } => (None, id.clone(), frame.locals.get(id)?.clone()),
            Expr::Attribute { value, attr, .. } => {
                let Expr::Name { id, .. } = value.as_ref() else {
                    return None;
                };
                let Value::Instance(i) = self.lookup(id, frame, globals) else {
                    return None;
                };
                let current = self.instances[i].attrs.get(attr)?.clone();
                (Some(i), attr.clone(), current)
            }
            _ => return None,
        };
        let span = c.span;
        match (method, current) {
            ("items" | "keys" | "values", Value::Dict(d)) if c.args.is_empty() => {
                Some(Value::List(
                    d.into_iter()
                        .map(|(k, v)| {
                            let key = SValue {
                                value: Value::Str(k),
                                span: v.span,
                            };
                            match method {
                                "keys" => key,
                                "values" => v,
                                _ => SValue {
                                    value: Value::Tuple(vec![key, v]),
                                    span,
                                },
                            }
                        })
                        .collect(),
                ))
            }
            ("append" | "extend", Value::List(mut items))
                if c.args.len() == 1 && c.keywords.is_empty() =>
            {
                let v = self.eval(&c.args[0], frame, globals);
                let added = if method == "append" {
                    Some(vec![v])
                } else {
                    self.items_of(&v)
                };
                let start = items.len();
                let grown = match added {
                    Some(a) if start + a.len() <= MAX_ITEMS => {
                        items.extend(a);
                        Value::List(items)
                    }
                    _ => Value::Unknown,
                };
                match owner {
                    None => {
                        frame.locals.insert(name, grown);
                    }
                    Some(i) => {
                        // An append in a branch or a loop that may not run as read: unknown.
                        let grown = if self.block_depth > self.instances[i].depth {
                            Value::Unknown
                        } else {
                            grown
                        };
                        // The modules added are `layers.3`, `layers.4`, ... as PyTorch names them.
                        if let Value::List(items) = &grown {
                            for (n, it) in items.iter().enumerate().skip(start) {
                                self.name_module(&it.value, &format!("{name}.{n}"));
                            }
                        }
                        self.instances[i].attrs.insert(name, grown);
                    }
                }
                Some(Value::None)
            }
            _ => None,
        }
    }

    fn call_function(
        &mut self,
        f: &FunctionDef,
        args: &[SValue],
        kwargs: &[KwValue],
        frame: &mut Frame,
        globals: Option<&Env>,
    ) -> Value {
        self.call_depth += 1;
        for (i, p) in f.params.iter().enumerate() {
            let v = if let Some(a) = args.get(i).filter(|_| i < f.positional) {
                a.value.clone()
            } else if let Some(k) = kwargs.iter().find(|k| k.name == p.name) {
                k.value.value.clone()
            } else if let Some(d) = &p.default {
                // Defaults are evaluated in the module scope.
                let mut g = Frame::new(Env::new());
                self.eval(d, &mut g, globals).value
            } else {
                Value::Unknown
            };
            frame.locals.insert(p.name.clone(), v);
        }
        // `*args`: the positional arguments past the named ones; `**kwargs`: the keywords no
        // parameter takes.
        if let Some(name) = &f.vararg {
            let rest = args.get(f.positional..).unwrap_or_default().to_vec();
            frame.locals.insert(name.clone(), Value::Tuple(rest));
        }
        if let Some(name) = &f.kwarg {
            let rest = kwargs
                .iter()
                .filter(|k| !f.params.iter().any(|p| p.name == k.name))
                .map(|k| (k.name.clone(), k.value.clone()))
                .collect();
            frame.locals.insert(name.clone(), Value::Dict(rest));
        }
        let flow = self.exec_block(&f.body, frame, globals);
        // Returns in branches: their value when every one gave the same and every other path
        // raises or returns it too (`if name in registry: return registry[name](**hp)` / `raise`).
        let agreed = |values: &[Value], v: Option<&Value>| -> Option<Value> {
            let first = v.or(values.first())?;
            values.iter().all(|x| same(x, first)).then(|| first.clone())
        };
        let out = match flow {
            Flow::Return(v) if frame.maybe_returned => {
                agreed(&frame.maybe_values, Some(&v)).unwrap_or(Value::Unknown)
            }
            Flow::Raise if frame.maybe_returned => {
                agreed(&frame.maybe_values, None).unwrap_or(Value::Unknown)
            }
            _ if frame.maybe_returned => Value::Unknown,
            Flow::Return(v) => v,
            Flow::Raise => Value::Unknown,
            _ => Value::None,
        };
        self.call_depth -= 1;
        out
    }

    fn new_layer(
        &mut self,
        class: &str,
        c: &Call,
        args: Vec<SValue>,
        kwargs: Vec<KwValue>,
    ) -> usize {
        self.layers.push(LayerRec {
            class: class.to_string(),
            callee_span: c.func.span(),
            call_span: c.span,
            args,
            kwargs,
            calls: vec![],
            is_input: false,
        });
        self.layers.len() - 1
    }

    /// `Dense(...)(x)`: a new tensor, when every input is a known tensor.
    fn call_layer(&mut self, layer: usize, args: &[SValue]) -> Value {
        let Some(first) = args.first() else {
            return Value::Unknown;
        };
        let inputs: Option<Vec<usize>> = match &first.value {
            Value::Tensor(t) => Some(vec![*t]),
            // Data nnlint cannot see (a function's parameter, an iterator's batch): a model
            // input from here on, so the layers after it are still read.
            Value::Unknown => Some(vec![self.unseen_input(first.span)]),
            Value::List(items) | Value::Tuple(items) => items
                .iter()
                .map(|i| match i.value {
                    Value::Tensor(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        let Some(inputs) = inputs.filter(|i| !i.is_empty()) else {
            let span = self.layers[layer].call_span;
            self.gap(span, LOST_INPUT);
            return Value::Unknown;
        };
        if self.layers[layer].is_input {
            return Value::Unknown;
        }
        let rec = &mut self.layers[layer];
        let first = inputs[0];
        rec.calls.push(inputs);
        let node = rec.calls.len() - 1;
        let states = rec
            .kwargs
            .iter()
            .find_map(|k| match (k.name.as_str(), &k.value.value) {
                ("returns_states", Value::Int(n)) => Some(*n),
                _ => None,
            });
        self.tensors.push(TensorRec { layer, node });
        let out = Value::Tensor(self.tensors.len() - 1);
        match states {
            // A recurrent layer: `(output, h)` or `(output, (h, c))`, each state of rank 3.
            Some(n) => {
                let span = self.layers[layer].call_span;
                let callee = self.layers[layer].callee_span;
                let state = Shaping::Fixed(vec![None, None, None]);
                let mut h: Vec<SValue> = (0..n)
                    .map(|_| SValue {
                        value: self.opaque_shaped(&[first], callee, span, &state),
                        span,
                    })
                    .collect();
                let states = if h.len() == 1 {
                    h.remove(0)
                } else {
                    SValue {
                        value: Value::Tuple(h),
                        span,
                    }
                };
                Value::Tuple(vec![SValue { value: out, span }, states])
            }
            None => out,
        }
    }

    /// A layer, or the input layer behind an `Input(...)` tensor (Keras 3 style Sequential).
    fn as_layer(&self, v: &Value) -> Option<usize> {
        match v {
            Value::Layer(l) => Some(*l),
            Value::Tensor(t) => {
                let rec = &self.tensors[*t];
                self.layers[rec.layer].is_input.then_some(rec.layer)
            }
            _ => None,
        }
    }

    fn layer_list(&self, items: &[SValue]) -> Vec<Option<usize>> {
        items.iter().map(|i| self.as_layer(&i.value)).collect()
    }

    fn new_model(&mut self, kind: ModelKind, c: &Call, kwargs: &[KwValue]) -> Value {
        let name = str_kwarg(kwargs, "name");
        self.clock += 1;
        self.models.push(ModelRec {
            kind,
            span: c.span,
            name,
            unresolved: false,
            depth: self.block_depth,
            compile: None,
            compile_unknown: false,
            compiled_at: None,
            labels: None,
            sampled: None,
        });
        Value::Model(self.models.len() - 1)
    }

    fn sequential(&mut self, c: &Call, args: &[SValue], kwargs: &[KwValue]) -> Value {
        let layers_arg = args.first().map(|a| &a.value).or_else(|| {
            kwargs
                .iter()
                .find(|k| k.name == "layers")
                .map(|k| &k.value.value)
        });
        let layers = match layers_arg {
            None | Some(Value::None) => vec![],
            Some(Value::List(items) | Value::Tuple(items)) => self.layer_list(items),
            Some(_) => vec![None],
        };
        self.new_model(ModelKind::Sequential(layers), c, kwargs)
    }

    pub(super) fn functional(&mut self, c: &Call, args: &[SValue], kwargs: &[KwValue]) -> Value {
        let get = |pos: usize, names: &[&str]| -> Option<Value> {
            kwargs
                .iter()
                .find(|k| names.contains(&k.name.as_str()))
                .map(|k| k.value.value.clone())
                .or_else(|| args.get(pos).map(|a| a.value.clone()))
        };
        let tensors = |v: Option<Value>| -> Option<Vec<usize>> {
            match v? {
                Value::Tensor(t) => Some(vec![t]),
                Value::List(items) | Value::Tuple(items) => items
                    .iter()
                    .map(|i| match i.value {
                        Value::Tensor(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            }
        };
        let outputs = tensors(get(1, &["outputs", "output"]));
        // Inputs nnlint could not follow (`Model(inputs=feature_inputs, ...)` built from a dict
        // comprehension): the inputs the outputs are computed from.
        let inputs = tensors(get(0, &["inputs", "input"]))
            .or_else(|| outputs.as_ref().map(|o| self.inputs_of(o)));
        match (inputs, outputs) {
            (Some(inputs), Some(outputs)) if !inputs.is_empty() && !outputs.is_empty() => {
                self.new_model(ModelKind::Functional { inputs, outputs }, c, kwargs)
            }
            _ => Value::Unknown,
        }
    }

    fn method(&mut self, m: usize, name: &str, c: &Call, args: &[SValue], kwargs: &[KwValue]) {
        let in_block = self.block_depth > self.models[m].depth;
        match name {
            "add" => {
                // Inside a loop or a branch the interpreter cannot count, the layers added there
                // are an unknown stretch of the model (an opaque layer of unknown shape): what is
                // added after it, the head, is still known.
                let layer = if in_block {
                    self.gap(
                        c.span,
                        "a layer added in a loop or branch nnlint cannot count",
                    );
                    None
                } else {
                    args.first().and_then(|a| self.as_layer(&a.value))
                };
                match &mut self.models[m].kind {
                    ModelKind::Sequential(layers) => {
                        // One unknown stretch stands for any number of layers.
                        if layer.is_some() || layers.last().is_none_or(Option::is_some) {
                            layers.push(layer);
                        }
                    }
                    ModelKind::Functional { .. } => self.models[m].unresolved = true,
                }
            }
            "pop" => self.models[m].unresolved = true,
            // `model.fit(x_train, y_train)`: the labels it is trained on.
            "fit" | "train_on_batch" | "fit_generator" => {
                let named = |pos: usize, key: &str| shaping::arg(args, kwargs, pos, &[key]);
                let x = named(
                    0,
                    if name == "fit_generator" {
                        "generator"
                    } else {
                        "x"
                    },
                );
                // One set of labels for a model of several outputs: which output they are for
                // is not known.
                let one_output = match &self.models[m].kind {
                    ModelKind::Sequential(_) => true,
                    ModelKind::Functional { outputs, .. } => outputs.len() == 1,
                };
                let y = if name == "fit_generator" {
                    None
                } else {
                    named(1, "y")
                };
                if let Some(f) = labels::trained_on(x, y)
                    && one_output
                {
                    self.models[m].labels = Some(f);
                }
            }
            "compile" => {
                // A compile the interpreter cannot tell will run (in a loop or a branch) is the
                // model's training config only when it is the one compile: two of them in
                // branches (`if binary: compile(bce) else: compile(cce)`) leave the loss unknown.
                if in_block && self.models[m].compile.is_some() {
                    self.models[m].compile_unknown = true;
                }
                if !in_block {
                    self.models[m].compile_unknown = false;
                }
                let pick = |pos: usize, key: &str| -> Option<KwValue> {
                    kwargs.iter().find(|k| k.name == key).cloned().or_else(|| {
                        args.get(pos).map(|a| KwValue {
                            name: key.to_string(),
                            span: a.span,
                            value: a.clone(),
                        })
                    })
                };
                self.clock += 1;
                self.models[m].compiled_at = Some(self.clock);
                self.models[m].compile = Some(Compile {
                    span: c.span,
                    loss: pick(1, "loss"),
                    metrics: pick(2, "metrics"),
                    loss_weights: pick(3, "loss_weights"),
                });
            }
            _ => {}
        }
    }
}

/// The Keras backend and `keras.ops` math a hand-written loss uses, as the TensorFlow function
/// computing the same (`K.log` is `tf.math.log`).
fn keras_math_as_tf(path: &str) -> Option<&'static str> {
    let tail = keras_tail(path)?;
    let name = tail
        .strip_prefix("backend.")
        .or_else(|| tail.strip_prefix("ops."))?;
    Some(match name {
        "log" => "tensorflow.math.log",
        "sum" => "tensorflow.reduce_sum",
        "mean" => "tensorflow.reduce_mean",
        "clip" => "tensorflow.clip_by_value",
        "softmax" => "tensorflow.nn.softmax",
        "sigmoid" => "tensorflow.nn.sigmoid",
        _ => return None,
    })
}

/// `tensorflow.layers.dense` -> `layers.dense`; `None` for paths outside TensorFlow 1's API.
pub fn tf1_tail(path: &str) -> Option<&str> {
    if path.starts_with("tensorflow.keras.") || path.starts_with("tensorflow.compat.v1.keras.") {
        return None;
    }
    path.strip_prefix("tensorflow.compat.v1.")
        .or_else(|| path.strip_prefix("tensorflow.compat.v2."))
        .or_else(|| path.strip_prefix("tensorflow."))
}

/// TF1 layer functions and the Keras layer each one is.
fn tf1_layer(tail: &str) -> Option<&'static str> {
    Some(match tail {
        "layers.dense" => "Dense",
        "layers.conv1d" => "Conv1D",
        "layers.conv2d" => "Conv2D",
        "layers.conv3d" => "Conv3D",
        "layers.conv2d_transpose" => "Conv2DTranspose",
        "layers.max_pooling1d" => "MaxPooling1D",
        "layers.max_pooling2d" => "MaxPooling2D",
        "layers.average_pooling2d" => "AveragePooling2D",
        "layers.flatten" | "contrib.layers.flatten" => "Flatten",
        "contrib.layers.fully_connected" | "contrib.layers.linear" => "Dense",
        "contrib.layers.conv2d" => "Conv2D",
        "layers.dropout" | "nn.dropout" => "Dropout",
        "layers.batch_normalization" => "BatchNormalization",
        _ => return None,
    })
}

/// TF activation functions applied to a tensor (`tf.nn.sigmoid(logits)`) and their Keras names.
fn tf1_activation(tail: &str) -> Option<&'static str> {
    Some(match tail {
        "nn.sigmoid" | "sigmoid" | "math.sigmoid" => "sigmoid",
        "nn.softmax" | "math.softmax" => "softmax",
        "nn.log_softmax" | "math.log_softmax" => "log_softmax",
        "nn.relu" => "relu",
        "nn.relu6" => "relu6",
        "nn.elu" => "elu",
        "nn.selu" => "selu",
        "nn.tanh" | "tanh" | "math.tanh" => "tanh",
        "nn.softplus" | "math.softplus" => "softplus",
        "nn.leaky_relu" => "leaky_relu",
        _ => return None,
    })
}

/// TF losses: (Keras loss class, takes logits, keyword of the predictions, their position).
fn tf1_loss(tail: &str) -> Option<(&'static str, bool, &'static str, usize)> {
    Some(match tail {
        "nn.sigmoid_cross_entropy_with_logits" => {
            ("SigmoidCrossEntropyWithLogits", true, "logits", 2)
        }
        // A sigmoid cross-entropy with the positive term weighted: `(targets, logits, pos_weight)`.
        "nn.weighted_cross_entropy_with_logits" => {
            ("SigmoidCrossEntropyWithLogits", true, "logits", 1)
        }
        "nn.softmax_cross_entropy_with_logits" | "nn.softmax_cross_entropy_with_logits_v2" => {
            ("CategoricalCrossentropy", true, "logits", 2)
        }
        "nn.sparse_softmax_cross_entropy_with_logits" => {
            ("SparseCategoricalCrossentropy", true, "logits", 2)
        }
        "losses.sigmoid_cross_entropy" => ("BinaryCrossentropy", true, "logits", 1),
        "losses.softmax_cross_entropy" => ("CategoricalCrossentropy", true, "logits", 1),
        "losses.sparse_softmax_cross_entropy" => {
            ("SparseCategoricalCrossentropy", true, "logits", 1)
        }
        "losses.log_loss" => ("BinaryCrossentropy", false, "predictions", 1),
        "losses.mean_squared_error" => ("MeanSquaredError", false, "predictions", 1),
        "losses.absolute_difference" => ("MeanAbsoluteError", false, "predictions", 1),
        _ => return None,
    })
}

fn tf1_binop(l: &Value, op: BinOp, r: &Value) -> Option<Value> {
    Some(match (l, op, r) {
        // `y * tf.log(p)`
        (Value::LogOf(p, log), BinOp::Mult, _) | (_, BinOp::Mult, Value::LogOf(p, log)) => {
            Value::CeTerm(*p, *log, false)
        }
        // `y * log(p) + (1 - y) * log(1 - p)`
        (Value::CeTerm(p, log, _), BinOp::Add, _) | (_, BinOp::Add, Value::CeTerm(p, log, _)) => {
            Value::BceTerm(*p, *log)
        }
        // `tf.matmul(x, W) + b`: the bias keeps the tensor what it was.
        (Value::Tensor(t), BinOp::Add, Value::Variable(_))
        | (Value::Variable(_), BinOp::Add, Value::Tensor(t)) => Value::Tensor(*t),
        _ => return None,
    })
}

enum Flow {
    Next,
    Return(Value),
    /// `raise`, `assert False`, or an `if` whose every branch raises or returns: this path ends
    /// (nothing after it runs, nothing it bound is seen; returns in it were recorded as maybe-returns).
    Raise,
    Stop,
}

/// `range(a, b, step)` when it has at most [`MAX_UNROLL`] items.
fn range_items(a: i64, b: i64, step: i64) -> Option<Vec<i64>> {
    if step == 0 {
        return None;
    }
    let (a, b, step) = (i128::from(a), i128::from(b), i128::from(step));
    let n = if step > 0 {
        (b - a + step - 1).div_euclid(step)
    } else {
        (a - b - step - 1).div_euclid(-step)
    }
    .max(0);
    if n > MAX_UNROLL as i128 {
        return None;
    }
    (0..n).map(|k| i64::try_from(a + k * step).ok()).collect()
}

/// `items[lo:hi:step]` with Python's clamping of bounds; `None` for a step of 0.
fn slice_items(
    items: &[SValue],
    lo: Option<i64>,
    hi: Option<i64>,
    step: Option<i64>,
) -> Option<Vec<SValue>> {
    let n = items.len() as i64;
    let step = step.unwrap_or(1);
    if step == 0 {
        return None;
    }
    let clamp = |i: i64, low: i64, high: i64| {
        let i = if i < 0 { i + n } else { i };
        i.clamp(low, high)
    };
    let mut out = vec![];
    if step > 0 {
        let (mut i, end) = (
            lo.map_or(0, |l| clamp(l, 0, n)),
            hi.map_or(n, |h| clamp(h, 0, n)),
        );
        while i < end {
            out.push(items[i as usize].clone());
            i = i.saturating_add(step);
        }
    } else {
        let (mut i, end) = (
            lo.map_or(n - 1, |l| clamp(l, -1, n - 1)),
            hi.map_or(-1, |h| clamp(h, -1, n - 1)),
        );
        while i > end {
            out.push(items[i as usize].clone());
            i = i.saturating_add(step);
        }
    }
    Some(out)
}

/// Python truthiness, where the value says it.
fn truth(v: &Value) -> Option<bool> {
    Some(match v {
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::None => false,
        Value::Str(s) => !s.is_empty(),
        Value::List(items) | Value::Tuple(items) => !items.is_empty(),
        Value::Dict(items) => !items.is_empty(),
        Value::Layer(_)
        | Value::Model(_)
        | Value::Object(_)
        | Value::Function(_)
        | Value::Class(_) => true,
        _ => return None,
    })
}

/// One comparison of known values (numbers, strings, `is None`).
fn compare(l: &Value, op: CmpOp, r: &Value) -> Option<bool> {
    use std::cmp::Ordering;
    let concrete = |v: &Value| {
        matches!(
            v,
            Value::Int(_)
                | Value::Float(_)
                | Value::Str(_)
                | Value::Bool(_)
                | Value::List(_)
                | Value::Tuple(_)
                | Value::Dict(_)
                | Value::Layer(_)
                | Value::Tensor(_)
                | Value::Model(_)
                | Value::Instance(_)
                | Value::Object(_)
                | Value::Function(_)
                | Value::Class(_)
        )
    };
    let ord = match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    };
    let is_none = match (l, r) {
        (Value::None, Value::None) => Some(true),
        (Value::None, v) | (v, Value::None) if concrete(v) => Some(false),
        _ => None,
    };
    match op {
        CmpOp::Is => is_none,
        CmpOp::IsNot => is_none.map(|b| !b),
        CmpOp::Eq => ord.map(|o| o == Ordering::Equal).or(is_none),
        CmpOp::NotEq => ord.map(|o| o != Ordering::Equal).or(is_none.map(|b| !b)),
        CmpOp::Lt => ord.map(|o| o == Ordering::Less),
        CmpOp::LtE => ord.map(|o| o != Ordering::Greater),
        CmpOp::Gt => ord.map(|o| o == Ordering::Greater),
        CmpOp::GtE => ord.map(|o| o != Ordering::Less),
        CmpOp::Other => None,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Layer(x), Value::Layer(y))
        | (Value::Tensor(x), Value::Tensor(y))
        | (Value::Model(x), Value::Model(y)) => x == y,
        (Value::Path(x), Value::Path(y)) | (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::None, Value::None) | (Value::Unknown, Value::Unknown) => true,
        (Value::Function(x), Value::Function(y)) => Arc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Arc::ptr_eq(x, y),
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(&a.value, &b.value))
        }
        (Value::Method(x, a), Value::Method(y, b))
        | (Value::Bound(x, a), Value::Bound(y, b))
        | (Value::TensorMethod(x, a), Value::TensorMethod(y, b)) => x == y && a == b,
        (Value::Instance(x), Value::Instance(y)) => x == y,
        (Value::Class(x), Value::Class(y)) => Arc::ptr_eq(x, y),
        (Value::Module(x), Value::Module(y)) => Arc::ptr_eq(x, y),
        (Value::Data(x, a), Value::Data(y, b)) => Arc::ptr_eq(x, y) && a == b,
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(a, b)| a.0 == b.0 && same(&a.1.value, &b.1.value))
        }
        _ => false,
    }
}

fn dims(items: &[SValue]) -> Vec<Option<i64>> {
    items
        .iter()
        .map(|d| match d.value {
            Value::Int(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn binop(l: Value, op: BinOp, r: Value) -> Value {
    match (l, op, r) {
        (Value::Int(a), BinOp::Add, Value::Int(b)) => {
            a.checked_add(b).map_or(Value::Unknown, Value::Int)
        }
        (Value::Int(a), BinOp::Sub, Value::Int(b)) => {
            a.checked_sub(b).map_or(Value::Unknown, Value::Int)
        }
        (Value::Int(a), BinOp::Mult, Value::Int(b)) => {
            a.checked_mul(b).map_or(Value::Unknown, Value::Int)
        }
        (Value::Int(a), BinOp::FloorDiv, Value::Int(b)) => {
            floor_div(a, b).map_or(Value::Unknown, Value::Int)
        }
        (Value::Int(a), BinOp::Mod, Value::Int(b)) => {
            floor_mod(a, b).map_or(Value::Unknown, Value::Int)
        }
        (Value::Int(a), BinOp::Pow, Value::Int(b)) => u32::try_from(b)
            .ok()
            .and_then(|b| a.checked_pow(b))
            .map_or(Value::Unknown, Value::Int),
        (Value::Int(a), BinOp::Div, Value::Int(b)) if b != 0 => Value::Float(a as f64 / b as f64),
        (Value::Float(a), op, Value::Int(b)) => float_op(a, op, b as f64),
        (Value::Int(a), op, Value::Float(b)) => float_op(a as f64, op, b),
        (Value::Float(a), op, Value::Float(b)) => float_op(a, op, b),
        (Value::Tuple(mut a), BinOp::Add, Value::Tuple(b)) if a.len() + b.len() <= MAX_ITEMS => {
            a.extend(b);
            Value::Tuple(a)
        }
        (Value::List(mut a), BinOp::Add, Value::List(b)) if a.len() + b.len() <= MAX_ITEMS => {
            a.extend(b);
            Value::List(a)
        }
        _ => Value::Unknown,
    }
}

/// Python's `a // b` on integers: rounds toward negative infinity (`7 // -2 == -4`); `None` for a
/// zero divisor or an overflow (`(-2**63) // -1`), which the caller turns into an unknown value.
fn floor_div(a: i64, b: i64) -> Option<i64> {
    let q = a.checked_div(b)?;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q.checked_sub(1)
    } else {
        Some(q)
    }
}

/// Python's `a % b` on integers: the result takes the divisor's sign (`7 % -2 == -1`).
fn floor_mod(a: i64, b: i64) -> Option<i64> {
    let r = a.checked_rem(b)?;
    Some(if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    })
}

/// Float arithmetic as Python does it; a result that is not finite is unknown (Python raises or
/// gives `inf`, neither of which is a layer size).
fn float_op(a: f64, op: BinOp, b: f64) -> Value {
    let v = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mult => a * b,
        BinOp::Div if b != 0.0 => a / b,
        BinOp::FloorDiv if b != 0.0 => (a / b).floor(),
        _ => return Value::Unknown,
    };
    if v.is_finite() {
        Value::Float(v)
    } else {
        Value::Unknown
    }
}

/// The first tensor among call arguments, looking into lists and tuples (`torch.cat([a, b], 1)`).
fn first_tensor<'a>(args: impl Iterator<Item = &'a SValue>) -> Option<usize> {
    args.into_iter().find_map(|a| tensor_in(&a.value))
}

/// A tensor, or the first tensor of a tuple, list or dict of them (a forward's `(logits, probs)`).
fn tensor_in(v: &Value) -> Option<usize> {
    match v {
        Value::Tensor(t) => Some(*t),
        Value::List(items) | Value::Tuple(items) => first_tensor(items.iter()),
        Value::Dict(items) => first_tensor(items.iter().map(|(_, v)| v)),
        _ => None,
    }
}

/// A Keras loss class or function name (`SparseCategoricalCrossentropy`,
/// `sparse_categorical_crossentropy`, `bce`) as the Keras loss class it is, by the names the Keras
/// front end reads in configs (`keras::training::loss_kind`).
fn keras_loss_class(name: &str) -> Option<&'static str> {
    use crate::ir::LossKind;
    Some(match crate::load::keras::training::loss_kind(name) {
        LossKind::BinaryCrossentropy => "BinaryCrossentropy",
        LossKind::CategoricalCrossentropy => "CategoricalCrossentropy",
        LossKind::SparseCategoricalCrossentropy => "SparseCategoricalCrossentropy",
        LossKind::MeanSquaredError => "MeanSquaredError",
        LossKind::MeanAbsoluteError => "MeanAbsoluteError",
        _ => return None,
    })
}

/// Whether the argument of a log call (`torch.log(arg)`, or the receiver of `arg.log()`) is
/// kept away from 0: `p + 1e-8`, `p.clamp(min=1e-7)`, `torch.clamp(p, 1e-7, 1)`,
/// `torch.clip(...)`.
pub(super) fn guarded_log_arg(c: &Call) -> bool {
    let arg = match (&c.func, c.args.first()) {
        (_, Some(a)) => a,
        (Expr::Attribute { value, .. }, None) => value.as_ref(),
        _ => return false,
    };
    let clamps = match arg {
        Expr::Call(inner) => match &inner.func {
            Expr::Attribute { attr, .. } => {
                matches!(
                    attr.as_str(),
                    "clamp" | "clamp_min" | "clip" | "clip_by_value"
                )
            }
            Expr::Name { id, .. } => matches!(id.as_str(), "clamp" | "clip"),
            _ => false,
        },
        _ => false,
    };
    clamps || adds_epsilon(arg)
}

/// `p + 1e-10` (or `1e-8 + p`): a small positive constant added to guard a log against 0.
fn adds_epsilon(e: &Expr) -> bool {
    let small = |e: &Expr| matches!(e, Expr::Float { value, .. } if *value > 0.0 && *value <= 1e-3);
    matches!(e, Expr::BinOp { op: BinOp::Add, left, right, .. } if small(left) || small(right))
}

/// The string given to keyword `name`, when it is a literal string.
fn str_kwarg(kwargs: &[KwValue], name: &str) -> Option<String> {
    kwargs
        .iter()
        .find(|k| k.name == name)
        .and_then(|k| match &k.value.value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
}
