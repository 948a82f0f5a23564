//! The one model of a network. Every front end (`load::onnx`, `load::keras`) lowers into it and every
//! rule reads it. Ops use ONNX operator vocabulary and semantics (a Keras `Dense(1, softmax)` becomes
//! `MatMul`, `Add`, `Softmax{axis=-1}`), so one evaluator and one set of rules serve every format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

/// Index of a value (tensor) in [`Graph::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

/// Index of an op in [`Graph::ops`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u32);

/// Which kind of file a model came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Onnx,
    KerasJson,
    KerasYaml,
    KerasArchive,
    PythonSource,
    Notebook,
    /// A legacy Keras `.h5` model (config in HDF5 root attributes).
    KerasH5,
    /// A Hugging Face transformers `config.json` (`model_type`, `architectures`, `id2label`).
    HfConfig,
}

/// Element types, numbered as ONNX's `TensorProto.DataType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U8,
    I8,
    U16,
    I16,
    I32,
    I64,
    String,
    Bool,
    F16,
    F64,
    U32,
    U64,
    Complex64,
    Complex128,
    BF16,
    /// A type nnlint has no arithmetic for (float8, int4, ...), kept by its ONNX number.
    Other(i32),
}

impl DType {
    pub fn from_onnx(code: i32) -> Option<DType> {
        Some(match code {
            0 => return None,
            1 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            4 => DType::U16,
            5 => DType::I16,
            6 => DType::I32,
            7 => DType::I64,
            8 => DType::String,
            9 => DType::Bool,
            10 => DType::F16,
            11 => DType::F64,
            12 => DType::U32,
            13 => DType::U64,
            14 => DType::Complex64,
            15 => DType::Complex128,
            16 => DType::BF16,
            other => DType::Other(other),
        })
    }

    /// Bytes per element in packed little-endian storage, when that is a whole number.
    pub fn byte_size(self) -> Option<usize> {
        Some(match self {
            DType::U8 | DType::I8 | DType::Bool => 1,
            DType::U16 | DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F64 | DType::I64 | DType::U64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
            DType::String | DType::Other(_) => return None,
        })
    }

    pub fn name(self) -> String {
        match self {
            DType::F32 => "float32".into(),
            DType::U8 => "uint8".into(),
            DType::I8 => "int8".into(),
            DType::U16 => "uint16".into(),
            DType::I16 => "int16".into(),
            DType::I32 => "int32".into(),
            DType::I64 => "int64".into(),
            DType::String => "string".into(),
            DType::Bool => "bool".into(),
            DType::F16 => "float16".into(),
            DType::F64 => "float64".into(),
            DType::U32 => "uint32".into(),
            DType::U64 => "uint64".into(),
            DType::Complex64 => "complex64".into(),
            DType::Complex128 => "complex128".into(),
            DType::BF16 => "bfloat16".into(),
            DType::Other(n) => format!("dtype#{n}"),
        }
    }
}

/// One dimension of a shape: known, named by the file (`batch`, `N`), or unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(u64),
    Named(String),
    Unknown,
}

impl Dim {
    pub fn fixed(&self) -> Option<u64> {
        match self {
            Dim::Fixed(n) => Some(*n),
            _ => None,
        }
    }
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Named(s) => write!(f, "{s}"),
            Dim::Unknown => write!(f, "?"),
        }
    }
}

/// A shape whose rank is known; `None` where even the rank is unknown.
pub type Shape = Vec<Dim>;

pub fn shape_to_string(shape: Option<&Shape>) -> String {
    match shape {
        None => "?".into(),
        Some(dims) => {
            let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// Where a constant tensor's bytes live. Nothing here is decoded until a numerical check asks.
#[derive(Clone, Debug)]
pub enum TensorData {
    /// Packed little-endian bytes; for ONNX files a zero-copy slice of the memory map.
    Raw(Bytes),
    /// Values from ONNX's typed repeated fields (`float_data`, `int64_data`, ...), widened as ONNX stores them.
    Floats(Arc<[f32]>),
    Doubles(Arc<[f64]>),
    /// `int32_data` (also carries int8/16, uint8/16, bool, float16 bit patterns per the ONNX schema).
    Int32s(Arc<[i32]>),
    Int64s(Arc<[i64]>),
    /// `uint64_data` (also uint32).
    Uint64s(Arc<[u64]>),
    Strings(Arc<[Bytes]>),
    /// Stored in another file next to the model (`data_location = EXTERNAL`), as the file claims it.
    External {
        location: String,
        offset: Option<String>,
        length: Option<String>,
    },
    /// No data in the file (a weight-stripped model, or seeded weights chosen by a front end).
    Absent,
}

/// A constant tensor: an ONNX initializer or `Constant` value, or a Keras weight.
#[derive(Clone, Debug)]
pub struct TensorRef {
    pub name: String,
    pub dtype: DType,
    /// Dims exactly as the file declares them (may be negative or huge in a malicious file).
    pub dims: Vec<i64>,
    pub data: TensorData,
}

impl TensorRef {
    /// Number of elements the dims claim, or `None` when a dim is negative or the product overflows.
    pub fn element_count(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |acc, &d| {
            u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
    }
}

/// A tensor flowing through the graph.
#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    pub dtype: Option<DType>,
    pub shape: Option<Shape>,
    pub producer: Option<OpId>,
    /// Set for initializers and for outputs of `Constant` ops.
    pub constant: Option<TensorRef>,
}

/// An attribute value, typed as ONNX's `AttributeProto`.
#[derive(Clone, Debug)]
pub enum Attr {
    Float(f32),
    Int(i64),
    String(Bytes),
    Tensor(TensorRef),
    Graph(Arc<Graph>),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<Bytes>),
    Tensors(Vec<TensorRef>),
    Graphs(Vec<Arc<Graph>>),
    /// Sparse tensors and type protos: kept only as "present".
    Other(&'static str),
}

/// One model of a source file that builds several (see [`Model::submodels`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SubModel {
    /// The name the file binds it to (`clf`), when it does.
    pub name: Option<String>,
    /// What it is: `keras Sequential`, `keras Model`, `TF1 graph`, a module class (`Net`).
    pub kind: String,
    /// Where it is built (its constructor, or the layer giving its output).
    pub span: Span,
    /// Its outputs, as indices into `graph.outputs`.
    pub outputs: std::ops::Range<usize>,
    /// Its ops, as indices into `graph.ops`.
    pub ops: std::ops::Range<usize>,
}

/// A byte range in the model's source text (text formats only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
}

/// Which part of an op's source text a span covers, so a rule can label "the activation" or "the
/// units" whatever the front end and its spelling (`activation=`, `"activation": …`, `nn.Softmax`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The whole definition: a Keras layer entry, a Python call.
    Entry,
    /// The layer's name as written.
    Name,
    /// The class or function that defines the op (`"class_name": "Dense"`, `Dense(`).
    Class,
    /// Where its final activation is written (for a layer that *is* an activation: its class).
    Activation,
    /// Where its output width is written (`units`, `filters`, `out_features`, `out_channels`).
    Units,
    /// Where its axis is written (`axis`, `dim`).
    Axis,
    /// Any other argument or config key, by its name.
    Arg(String),
}

impl Part {
    /// The part an argument or config key names.
    pub fn arg(name: &str) -> Part {
        match name {
            "activation" => Part::Activation,
            "units" | "filters" | "out_features" | "out_channels" | "output_dim" => Part::Units,
            "axis" | "dim" => Part::Axis,
            other => Part::Arg(other.to_string()),
        }
    }
}

/// Where an op came from, so a finding can point at it.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// ONNX: index of the node in its graph's node list; Keras: index of the layer.
    pub index: usize,
    /// A path users can read: `graph/node_name` for ONNX, `model/layer_name` for Keras.
    pub path: String,
    /// Keras: the layer name (`dense_1`).
    pub layer: Option<String>,
    /// Text formats: the span of each part to label (e.g. `"activation": "softmax"`).
    pub spans: BTreeMap<Part, Span>,
    /// Rule codes or names suppressed on this op by the file itself (`nnlint: ignore[...]` in an
    /// ONNX node's doc_string or a YAML comment on the layer).
    pub suppress: Vec<String>,
}

/// One operation, in ONNX vocabulary.
#[derive(Clone, Debug)]
pub struct Op {
    pub op_type: String,
    /// ONNX domain; empty for the default `ai.onnx` domain.
    pub domain: String,
    pub name: String,
    /// `None` marks an omitted optional input (an empty name in ONNX).
    pub inputs: Vec<Option<ValueId>>,
    pub outputs: Vec<ValueId>,
    pub attrs: BTreeMap<String, Attr>,
    pub origin: Origin,
}

/// The domain and type of an op standing for code nnlint cannot see into (a Keras Lambda's marshalled
/// bytecode, a Python function the file only names), whatever front end met it. Its attributes:
/// `code` (the payload as written: never decoded beyond its format tag, never run), `function` (the
/// name of code that is not in the file), `part` (the argument that holds it, as [`Part::arg`] reads
/// it), `kind` (what the source calls it: `Lambda`). Rule NNL009 reports every such op.
pub const OPAQUE_DOMAIN: &str = "nnlint";
pub const OPAQUE_CODE: &str = "OpaqueCode";

impl Op {
    pub fn is_opaque_code(&self) -> bool {
        self.domain == OPAQUE_DOMAIN && self.op_type == OPAQUE_CODE
    }
    pub fn attr_int(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Attr::Int(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn attr_float(&self, name: &str) -> Option<f32> {
        match self.attrs.get(name) {
            Some(Attr::Float(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn attr_ints(&self, name: &str) -> Option<&[i64]> {
        match self.attrs.get(name) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }
    pub fn attr_str(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Attr::String(v)) => std::str::from_utf8(v).ok(),
            _ => None,
        }
    }
    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }
    pub fn is_default_domain(&self) -> bool {
        self.domain.is_empty() || self.domain == "ai.onnx"
    }
}

/// What an output is meant to be, as far as nnlint can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Intent {
    Unknown,
    /// Values in [0, 1] (independent probabilities).
    Probability,
    /// A class distribution: non-negative, sums to 1 along the class axis.
    Distribution,
    Logits,
    Mask,
}

/// Who said what an output is, strongest first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntentSource {
    None,
    Declared,
    TrainingSpec,
    Consumer,
    Name(String),
}

#[derive(Clone, Debug)]
pub struct GraphOutput {
    pub value: ValueId,
    pub intent: Intent,
    pub intent_source: IntentSource,
    /// The value's name was chosen for what it holds (an ONNX output name, a Keras layer name), so
    /// it may say what the output is (`probs`, `mask`). False where nnlint derived the name (PyTorch
    /// module paths such as `score_head.proj`).
    pub name_speaks: bool,
}

/// A graph: values, ops in topological order, inputs (non-constant) and outputs.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    pub values: Vec<Value>,
    pub ops: Vec<Op>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<GraphOutput>,
    /// Values whose rank the front end assumed (Python source: a `Dense` on a tensor of unknown
    /// rank is probed as a batch of vectors). An axis counted from the front of them, or of what
    /// is computed from them, is not known.
    pub rank_assumed: Vec<ValueId>,
}

impl Graph {
    /// Whether `v`'s rank rests on an assumption: it or a value it is computed from is in
    /// [`Graph::rank_assumed`].
    pub fn rank_is_assumed(&self, v: ValueId) -> bool {
        if self.rank_assumed.is_empty() {
            return false;
        }
        // Visited values, by id: a walk costs O(values), not O(values²).
        let mut seen = vec![false; self.values.len()];
        seen[v.0 as usize] = true;
        let mut todo = vec![v];
        while let Some(v) = todo.pop() {
            if self.rank_assumed.contains(&v) {
                return true;
            }
            let Some(op) = self.value(v).producer else {
                continue;
            };
            let op = self.op(op);
            // Ops whose output rank does not depend on their input's: the assumption ends there.
            if op.op_type == "Flatten" || op.attrs.contains_key("absolute_rank") {
                continue;
            }
            for i in op.inputs.iter().flatten() {
                if !std::mem::replace(&mut seen[i.0 as usize], true) {
                    todo.push(*i);
                }
            }
        }
        false
    }

    /// Whether `v` reaches a graph output through ops that read nothing else but constants
    /// (`Squeeze`, `Log`, `Identity`): it is what the model gives, not a tensor combined with
    /// others inside it (attention weights applied to values).
    pub fn reaches_output_alone(&self, v: ValueId) -> bool {
        let constant = |x: ValueId| self.value(x).producer.is_none() && !self.inputs.contains(&x);
        // Visited values, by id: a walk costs O(values), not O(values²).
        let mut seen = vec![false; self.values.len()];
        seen[v.0 as usize] = true;
        let mut todo = vec![v];
        while let Some(v) = todo.pop() {
            if self.outputs.iter().any(|o| o.value == v) {
                return true;
            }
            for op in &self.ops {
                let reads = op.inputs.iter().flatten().any(|&i| i == v);
                let alone = op.inputs.iter().flatten().all(|&i| i == v || constant(i));
                if reads && alone {
                    for &o in &op.outputs {
                        if !std::mem::replace(&mut seen[o.0 as usize], true) {
                            todo.push(o);
                        }
                    }
                }
            }
        }
        false
    }

    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0 as usize]
    }
    pub fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.0 as usize]
    }
    pub fn op(&self, id: OpId) -> &Op {
        &self.ops[id.0 as usize]
    }
    pub fn op_ids(&self) -> impl Iterator<Item = OpId> + use<> {
        (0..self.ops.len() as u32).map(OpId)
    }
    pub fn producer(&self, id: ValueId) -> Option<&Op> {
        self.value(id).producer.map(|p| self.op(p))
    }
    pub fn value_by_name(&self, name: &str) -> Option<ValueId> {
        self.values
            .iter()
            .position(|v| v.name == name)
            .map(|i| ValueId(i as u32))
    }
    /// Ops that read `id`, in graph order.
    pub fn consumers(&self, id: ValueId) -> Vec<OpId> {
        self.op_ids()
            .filter(|&o| self.op(o).inputs.contains(&Some(id)))
            .collect()
    }
    pub fn is_output(&self, id: ValueId) -> bool {
        self.outputs.iter().any(|o| o.value == id)
    }
    /// Static dims of a value, when every dim is known.
    pub fn static_shape(&self, id: ValueId) -> Option<Vec<u64>> {
        self.value(id)
            .shape
            .as_ref()?
            .iter()
            .map(Dim::fixed)
            .collect()
    }
    pub fn add_value(&mut self, name: impl Into<String>) -> ValueId {
        self.values.push(Value {
            name: name.into(),
            dtype: None,
            shape: None,
            producer: None,
            constant: None,
        });
        ValueId(self.values.len() as u32 - 1)
    }
}

/// Canonical losses nnlint understands; anything else is kept by name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    /// `sigmoid_cross_entropy_with_logits`, `BCEWithLogitsLoss`: always on logits.
    SigmoidCrossEntropyWithLogits,
    MeanSquaredError,
    MeanAbsoluteError,
    /// PyTorch `NLLLoss` / `F.nll_loss`: minus the input at the target index, so the input must
    /// already be log-probabilities.
    NegativeLogLikelihood,
    Other(String),
}

/// PyTorch losses as written in source: the `nn` classes and the `nn.functional` functions. The
/// Python front end recognises them by this list and records a loss written so as PyTorch's
/// ([`LossSpec::framework`]).
pub const TORCH_LOSS_NAMES: &[&str] = &[
    "CrossEntropyLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "NLLLoss",
    "MSELoss",
    "L1Loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "nll_loss",
    "mse_loss",
    "l1_loss",
];

/// The loss attached to one output, with where it was written.
#[derive(Clone, Debug)]
pub struct LossSpec {
    /// Index into [`Graph::outputs`]; `None` when one loss applies to every output.
    pub output: Option<usize>,
    pub kind: LossKind,
    /// As written (`"binary_crossentropy"`, `BinaryCrossentropy`).
    pub written: String,
    pub from_logits: bool,
    /// The class axis the loss reads when the file states one (a Keras loss object's `axis`);
    /// `None`: the framework's default (the last axis for Keras, dim 1 for PyTorch).
    pub axis: Option<i64>,
    pub weight: Option<f64>,
    pub span: Option<Span>,
    pub from_logits_span: Option<Span>,
    /// Whose loss this is: a loss written with a PyTorch name is PyTorch's even in a file that
    /// also uses Keras. Decides its conventions (the methods of [`Framework`]) and the words of
    /// the help about it (`src/advice.rs`).
    pub framework: Framework,
}

/// The library a model or a loss is written for, as far as its front end can tell. Rules never
/// branch on it: they hand it to `advice`, whose table words a help or a symptom for it, and a
/// numerical convention that differs between libraries is a method here. Adding a framework is
/// adding a variant, its rows in `advice`, and its arms in the methods below.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    /// Keras 3 (`keras`), and Keras configs that do not say which Keras wrote them.
    Keras,
    /// Keras 2 as shipped with TensorFlow (`tf.keras`, `tf_keras`; a config from Keras 2.x).
    TfKeras,
    /// TensorFlow 1 graph code: `tf.nn.*_with_logits`, `tf.losses.*`, losses written by hand.
    Tf1,
    PyTorch,
    /// PyTorch trained by a Lightning module (the file imports `lightning`).
    Lightning,
    /// A transformers model: its heads and losses are PyTorch's.
    HuggingFace,
    /// Nothing says: an ONNX file torch.onnx did not write, a source file without a loss.
    #[default]
    Unknown,
}

/// Keras's fuzz factor: predictions are clipped to [ε, 1−ε] before the log. Also the bound the
/// checks of a probability loss on logits count clipped outputs with, whatever the framework.
pub const CLIP_EPSILON: f32 = 1e-7;

impl Framework {
    /// Every framework, for tests of the tables.
    pub const ALL: [Framework; 7] = [
        Framework::Keras,
        Framework::TfKeras,
        Framework::Tf1,
        Framework::PyTorch,
        Framework::Lightning,
        Framework::HuggingFace,
        Framework::Unknown,
    ];

    /// Binary cross-entropy of one probability prediction, in float32, as the framework computes
    /// it: PyTorch's `BCELoss` clamps each log at −100 (a certain wrong answer costs 100); Keras 3
    /// (JAX/NumPy/torch backends) clips the prediction to [ε, 1−ε] (≈15.94 in float32). Where
    /// nothing says, Keras's.
    pub fn bce(self, label: f32, pred: f32) -> f32 {
        match self {
            Framework::PyTorch | Framework::Lightning | Framework::HuggingFace => {
                let log = |x: f32| x.ln().max(-100.0);
                -(label * log(pred) + (1.0 - label) * log(1.0 - pred))
            }
            Framework::Keras | Framework::TfKeras | Framework::Tf1 | Framework::Unknown => {
                let p = pred.clamp(CLIP_EPSILON, 1.0 - CLIP_EPSILON);
                -(label * p.ln() + (1.0 - label) * (1.0 - p).ln())
            }
        }
    }

    /// The class axis a cross-entropy reads when the loss does not state one: dim 1 in PyTorch,
    /// the last axis in Keras and TensorFlow.
    pub fn default_class_axis(self) -> i64 {
        match self {
            Framework::PyTorch | Framework::Lightning | Framework::HuggingFace => 1,
            Framework::Keras | Framework::TfKeras | Framework::Tf1 | Framework::Unknown => -1,
        }
    }

    /// Whether a loss says it takes logits through a flag written in the source (Keras's
    /// `from_logits=True`, which a fix may flip) rather than by its name (PyTorch's
    /// `BCEWithLogitsLoss`).
    pub fn logits_by_flag(self) -> bool {
        match self {
            Framework::PyTorch | Framework::Lightning | Framework::HuggingFace => false,
            Framework::Keras | Framework::TfKeras | Framework::Tf1 | Framework::Unknown => true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct MetricSpec {
    pub output: Option<usize>,
    pub name: String,
    /// Threshold the metric applies to predictions (Keras "accuracy" on one unit: 0.5).
    pub threshold: Option<f64>,
    pub span: Option<Span>,
}

/// What the model is trained with (Keras compile config). ONNX files carry none.
#[derive(Clone, Debug, Default)]
pub struct TrainingSpec {
    pub losses: Vec<LossSpec>,
    pub metrics: Vec<MetricSpec>,
    /// `jax`, `tensorflow`, `torch` when the file says.
    pub backend: Option<String>,
    /// Task heads a library builds from a config, with what the config says about their classes
    /// beyond the graph (a Hugging Face config's labels and `problem_type`). Set by the config
    /// loader (`load::hf`); empty for every other front end.
    pub library_heads: Vec<LibraryHead>,
    /// What the training code says about the labels an output is trained on (the classes a known
    /// dataset or `to_categorical(y, 10)` names). Set by the Python front end; empty elsewhere.
    pub labels: Vec<ClassLabels>,
}

/// The labels one output is trained on, as far as the file states their classes.
#[derive(Clone, Debug)]
pub struct ClassLabels {
    /// Index into [`Graph::outputs`].
    pub output: usize,
    /// How many classes the labels name (class indices `0..classes`).
    pub classes: u64,
    /// One-hot rows of width `classes` rather than class indices.
    pub one_hot: bool,
    /// Where the file states the classes (the dataset it loads, the `to_categorical` call).
    pub span: Option<Span>,
    /// What states them, as the file writes it (`keras.datasets.mnist`, `to_categorical(…, 10)`).
    pub source: String,
}

impl TrainingSpec {
    /// The framework of the training as a whole: of its first PyTorch-family loss (a file that
    /// trains with a PyTorch loss is a PyTorch training whatever else it uses), else of its first
    /// loss; unknown without a loss.
    pub fn framework(&self) -> Framework {
        self.losses
            .iter()
            .find(|l| {
                matches!(
                    l.framework,
                    Framework::PyTorch | Framework::Lightning | Framework::HuggingFace
                )
            })
            .or(self.losses.first())
            .map_or(Framework::Unknown, |l| l.framework)
    }
}

/// A transformers task head (`BertForSequenceClassification`, `…ForTokenClassification`): its
/// classifier is in the graph (a linear layer of `num_labels` units, read by graph output `output`)
/// and its loss is in [`TrainingSpec::losses`]; this is what only the config says.
#[derive(Clone, Debug)]
pub struct LibraryHead {
    /// Index into [`Graph::outputs`].
    pub output: usize,
    /// The class as written (`BertForSequenceClassification`); empty when the file names none.
    pub class: String,
    pub task: HeadTask,
    /// The width the library builds the head with (`len(id2label)`, else `num_labels`, else 2).
    pub num_labels: u64,
    /// Where that width is written (`"id2label": {…}` or `"num_labels": 1`).
    pub num_labels_span: Option<Span>,
    /// Class names the config gives that are not the library's placeholders (`LABEL_0`), from
    /// `id2label` or `label2id`, in id order, with the span of the map they are in.
    pub class_names: Vec<String>,
    pub class_names_span: Option<Span>,
    /// `problem_type` as written, when it is one the library knows.
    pub problem_type: Option<ProblemType>,
    pub problem_type_span: Option<Span>,
}

/// Which task a library head serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadTask {
    /// One prediction per sequence (`…ForSequenceClassification`).
    SequenceClassification,
    /// One prediction per token (`…ForTokenClassification`).
    TokenClassification,
}

/// transformers' `config.problem_type`: which loss a sequence classification head uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemType {
    Regression,
    SingleLabelClassification,
    MultiLabelClassification,
}

impl ProblemType {
    pub fn from_written(s: &str) -> Option<ProblemType> {
        match s {
            "regression" => Some(ProblemType::Regression),
            "single_label_classification" => Some(ProblemType::SingleLabelClassification),
            "multi_label_classification" => Some(ProblemType::MultiLabelClassification),
            _ => None,
        }
    }

    pub fn written(self) -> &'static str {
        match self {
            ProblemType::Regression => "regression",
            ProblemType::SingleLabelClassification => "single_label_classification",
            ProblemType::MultiLabelClassification => "multi_label_classification",
        }
    }
}

/// Whether constant tensors hold the model's real weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weights {
    Real,
    /// The file has the architecture only; numerical checks draw seeded weights of the real shapes.
    Absent,
}

/// A loaded model.
#[derive(Clone, Debug)]
pub struct Model {
    pub path: PathBuf,
    pub format: Format,
    /// What miette and SARIF show: the config text for text formats, a graph listing for ONNX.
    pub source_name: String,
    pub source_text: Option<Arc<str>>,
    /// Opset of the default ONNX domain (Keras lowering uses the current semantics, 13+).
    pub opset: i64,
    pub producer: String,
    /// The framework the model as a whole is written for (the words of help about its layers):
    /// what the file says (a Keras config and which Keras, a transformers config, an ONNX file
    /// written by torch.onnx), and for Python source its training's ([`TrainingSpec::framework`]).
    pub framework: Framework,
    pub graph: Graph,
    pub training: Option<TrainingSpec>,
    pub metadata: BTreeMap<String, String>,
    pub weights: Weights,
    /// Values whose last dim the file does not give and the front end set to
    /// [`REPRESENTATIVE_WIDTH`] so a head's numerical check can run (a `Dense` on an input of
    /// unknown width): the check's evidence says so. Never the width of a flagged layer itself.
    pub assumed_widths: Vec<ValueId>,
    /// Places the front end could not follow in a file it did read (Python source: a layer applied
    /// to data it lost, a loss whose input it could not pair): the file is *partly checked*. Empty
    /// for every other format.
    pub not_followed: Vec<NotFollowed>,
    /// Syntax errors in Python source or a notebook's cells: the model is what parsed around them.
    /// Empty for every other format.
    pub syntax_errors: Vec<SyntaxErrorAt>,
    /// Other files the model's spans point into: the first-party modules a Python file imports
    /// (a model class defined in `models.py`, trained in the linted `train.py`).
    pub imported_sources: Vec<ImportedSource>,
    /// The models a source file builds, when it builds several (Python: each checked on its own,
    /// side by side in one graph): what the user calls each and which outputs are its.
    pub submodels: Vec<SubModel>,
    /// Where the real weights came from, or why a weights file's tensors were not used.
    pub weights_provenance: WeightsProvenance,
    /// Where code sits inside a file that is not the code itself (a notebook's cells in its JSON
    /// text): positions are then named by cell and line. `None` for every other format.
    pub source_map: Option<SourceMap>,
}

/// A file a Python model was partly read from: its spans are `base` plus an offset in `text`.
#[derive(Clone, Debug)]
pub struct ImportedSource {
    pub path: PathBuf,
    pub text: Arc<str>,
    pub base: usize,
}

/// Where a span is: the model's own file (`path` none) or an imported one.
#[derive(Clone, Copy, Debug)]
pub struct Located<'a> {
    /// The imported file; `None` for the model's own file.
    pub path: Option<&'a Path>,
    pub text: &'a str,
    /// The span within `text`.
    pub span: Span,
}

/// What a front end that reads a weights file beside the architecture says about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WeightsProvenance {
    /// No weights file (or weights that are constants of the graph itself, as in ONNX).
    #[default]
    None,
    /// [`Weights::Real`]: this many tensors were read from `from`.
    Loaded { tensors: usize, from: String },
    /// [`Weights::Absent`] although the file has weights: why none of them is used (a layer
    /// missing, a wrong shape, unreadable data). Numerical checks say so in their evidence.
    NotUsed { why: String },
}

/// A notebook's code cells in its JSON text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    /// Each code cell's number (from 1, among all cells, as Jupyter shows them) and the byte
    /// offset of its code in the model's `source_text`, in order.
    pub cells: Vec<(usize, usize)>,
}

impl SourceMap {
    /// The cell and the line inside it (both from 1) of a byte offset into `text`, the JSON text:
    /// lines are the `\n` escapes of the cell's source strings between its start and `offset`.
    pub fn position(&self, text: &str, offset: usize) -> Option<(usize, usize)> {
        let &(cell, start) = self.cells.iter().rfind(|&&(_, at)| at <= offset)?;
        let raw = text.get(start..offset.min(text.len()))?.as_bytes();
        let (mut line, mut i) = (1, 0);
        while i < raw.len() {
            if raw[i] == b'\\' {
                if raw.get(i + 1) == Some(&b'n') {
                    line += 1;
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        Some((cell, line))
    }
}

/// A syntax error in a source file, located as every report needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxErrorAt {
    /// 1-based line and column (in characters) in the file's text (a notebook's JSON text).
    pub line: usize,
    pub column: usize,
    /// In a notebook: the cell (as Jupyter numbers them) and the line inside it.
    pub cell: Option<(usize, usize)>,
    /// The parser's message (`Expected ')', found newline`).
    pub message: String,
}

impl SyntaxErrorAt {
    /// Where, as a person reads it: `line 13, column 12` or `cell 3, line 2`.
    pub fn place(&self) -> String {
        match self.cell {
            Some((cell, line)) => format!("cell {cell}, line {line}"),
            None => format!("line {}, column {}", self.line, self.column),
        }
    }
}

/// One place a front end could not follow.
#[derive(Clone, Debug)]
pub struct NotFollowed {
    /// Why, the same words for every file (`--statistics` counts by it).
    pub reason: String,
    /// Where, as the user reads it: `line 41: `self.backbone(x)``.
    pub at: String,
}

/// The width probed where a layer's input width is not in the file.
pub const REPRESENTATIVE_WIDTH: u64 = 64;

impl Model {
    /// The text a span of the model's source points into, and the span within it. `None` for a
    /// model without source text.
    pub fn locate(&self, span: Span) -> Option<Located<'_>> {
        let own = self.source_text.as_deref()?;
        for s in &self.imported_sources {
            if span.offset >= s.base && span.offset <= s.base + s.text.len() {
                return Some(Located {
                    path: Some(&s.path),
                    text: &s.text,
                    span: Span {
                        offset: span.offset - s.base,
                        len: span.len,
                    },
                });
            }
        }
        Some(Located {
            path: None,
            text: own,
            span,
        })
    }

    /// Folder external data must stay inside.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_framework_clips_a_certain_miss_its_own_way() {
        // Keras in float32: 1 - (1 - 1e-7) = 1.19e-7, so the floor is 15.94 rather than
        // -ln(1e-7) = 16.12. PyTorch clamps the log at -100.
        for fw in [
            Framework::Keras,
            Framework::TfKeras,
            Framework::Tf1,
            Framework::Unknown,
        ] {
            let loss = fw.bce(0.0, 1.0);
            assert!((loss - 15.942).abs() < 1e-3, "{fw:?}: {loss}");
            assert!(fw.bce(1.0, 1.0) < 1e-6);
        }
        for fw in [
            Framework::PyTorch,
            Framework::Lightning,
            Framework::HuggingFace,
        ] {
            assert_eq!(fw.bce(0.0, 1.0), 100.0, "{fw:?}");
            assert!(fw.bce(1.0, 1.0) < 1e-6);
        }
        let half = Framework::PyTorch.bce(1.0, 0.5);
        assert!((half - std::f32::consts::LN_2).abs() < 1e-6);
    }

    #[test]
    fn class_axes_and_logits_flags_follow_the_framework() {
        for fw in Framework::ALL {
            let torch = matches!(
                fw,
                Framework::PyTorch | Framework::Lightning | Framework::HuggingFace
            );
            assert_eq!(
                fw.default_class_axis(),
                if torch { 1 } else { -1 },
                "{fw:?}"
            );
            assert_eq!(fw.logits_by_flag(), !torch, "{fw:?}");
        }
        assert_eq!(Framework::default(), Framework::Unknown);
    }
}
