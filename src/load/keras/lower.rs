//! Keras models (Sequential, Functional, nested) into the IR: the graph plumbing. What each layer
//! becomes is in `layers/`.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

mod functional;

use self::functional::lower_functional;
use super::tree::{Entry, Kind, Node};
use crate::ir::{
    Attr, DType, Dim, Graph, GraphOutput, Intent, IntentSource, Op, OpId, Origin, Part, Shape,
    Span, TensorData, TensorRef, Value, ValueId,
};

/// A problem in the config, with where it was written when known.
#[derive(Debug)]
pub struct LowerError {
    pub message: String,
    pub at: Option<Span>,
}

pub type Result<T> = std::result::Result<T, LowerError>;

pub fn fail<T>(message: impl Into<String>, at: Option<Span>) -> Result<T> {
    Err(LowerError {
        message: message.into(),
        at,
    })
}

/// Layers nested inside layers (models in models, `TimeDistributed`, `Bidirectional`) deeper than
/// this are refused.
const MAX_NESTING: usize = 32;

pub static EMPTY_MAP: Node = Node {
    span: Span { offset: 0, len: 0 },
    kind: Kind::Map(Vec::new()),
};

/// The lowered graph and, per graph output, the names a per-output loss or metric may use.
pub struct Lowered {
    pub graph: Graph,
    pub output_names: Vec<Vec<String>>,
    /// Values whose computed shape disagrees with the shape the file declares for them (a lowering
    /// bug or a hand-edited config); the declared dims are kept where the computed ones were unknown.
    pub conflicts: Vec<String>,
    /// Every layer weight the lowering created, in creation order (what a weights file fills in).
    pub weight_slots: Vec<WeightSlot>,
    /// See [`crate::ir::Model::assumed_widths`].
    pub assumed_widths: Vec<ValueId>,
}

/// A weight constant of a layer: `path` is the layer path (`model/layer`), `what` the Keras weight
/// name (`kernel`, `bias`, `gamma`, ...).
#[derive(Clone, Debug)]
pub struct WeightSlot {
    pub path: String,
    pub what: String,
    pub value: ValueId,
}

/// One layer entry of a config.
pub struct Layer<'t> {
    pub index: usize,
    pub node: &'t Node,
    pub class: &'t str,
    pub name: String,
    pub config: &'t Node,
    /// `model/layer`, nested models included.
    pub path: String,
    pub origin: Origin,
}

impl<'t> Layer<'t> {
    pub fn parse(node: &'t Node, index: usize, parent: &str) -> Result<Layer<'t>> {
        if node.entries().is_none() {
            return fail(
                format!(
                    "layer #{index} of `{parent}` is {}, expected a mapping with `class_name` and `config`",
                    node.type_name()
                ),
                Some(node.span),
            );
        }
        let class = match node.get("class_name") {
            Some(c) => c.as_str().ok_or_else(|| LowerError {
                message: format!("layer #{index} of `{parent}`: `class_name` must be a string"),
                at: Some(c.span),
            })?,
            None => {
                return fail(
                    format!("layer #{index} of `{parent}` has no `class_name`"),
                    Some(node.span),
                );
            }
        };
        let config = match node.get("config") {
            None => &EMPTY_MAP,
            Some(c) if c.is_null() => &EMPTY_MAP,
            Some(c) if c.entries().is_some() => c,
            Some(c) => {
                return fail(
                    format!(
                        "layer #{index} ({class}) of `{parent}`: `config` must be a mapping, found {}",
                        c.type_name()
                    ),
                    Some(c.span),
                );
            }
        };
        let name_node = config
            .get("name")
            .filter(|n| n.as_str().is_some())
            .or_else(|| node.get("name").filter(|n| n.as_str().is_some()));
        let name = name_node
            .and_then(Node::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}_{index}", class.to_lowercase()));
        let path = format!("{parent}/{name}");
        let mut spans = BTreeMap::new();
        for e in config.entries().unwrap_or_default() {
            spans.insert(Part::arg(&e.key), e.pair_span());
        }
        if let Some(n) = name_node {
            spans.insert(Part::Name, n.span);
        }
        spans.insert(Part::Entry, node.span);
        if let Some(e) = node.entry("class_name") {
            spans.insert(Part::Class, e.pair_span());
            // A layer that *is* an activation (Softmax, ReLU, ...) is labelled at its class name.
            spans.entry(Part::Activation).or_insert(e.pair_span());
        }
        let origin = Origin {
            index,
            path: path.clone(),
            layer: Some(name.clone()),
            spans,
            suppress: vec![],
        };
        Ok(Layer {
            index,
            node,
            class,
            name,
            config,
            path,
            origin,
        })
    }

    /// A layer that wraps another (`TimeDistributed`, `Bidirectional`, an activation given as a
    /// layer object): the inner config, labelled as part of the outer layer.
    pub fn inner(&self, node: &'t Node) -> Result<Layer<'t>> {
        let mut inner = Layer::parse(node, self.index, &self.path)?;
        inner.name = self.name.clone();
        inner.path = self.path.clone();
        inner.origin.path = self.path.clone();
        inner.origin.layer = Some(self.name.clone());
        for (k, v) in &self.origin.spans {
            inner.origin.spans.entry(k.clone()).or_insert(*v);
        }
        for part in [Part::Name, Part::Entry] {
            if let Some(span) = self.origin.spans.get(&part) {
                inner.origin.spans.insert(part, *span);
            }
        }
        Ok(inner)
    }

    pub fn what(&self) -> String {
        format!("layer `{}` ({})", self.name, self.class)
    }

    pub fn get(&self, key: &str) -> Option<&'t Node> {
        self.config.get_some(key)
    }

    fn wrong(&self, key: &str, expected: &str, found: &Node) -> LowerError {
        LowerError {
            message: format!(
                "{}: `{key}` must be {expected}, found {}",
                self.what(),
                found.type_name()
            ),
            at: Some(found.span),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "an integer", n)),
        }
    }

    pub fn positive(&self, key: &str) -> Result<u64> {
        match self.int(key)? {
            Some(v) if v > 0 && v as u64 <= super::layers::MAX_SIZE => Ok(v as u64),
            Some(_) => fail(
                format!(
                    "{}: `{key}` must be a positive integer up to 2^31",
                    self.what()
                ),
                self.get(key).map(|n| n.span),
            ),
            None => fail(
                format!("{} has no `{key}`", self.what()),
                Some(self.node.span),
            ),
        }
    }

    pub fn float(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a number", n)),
        }
    }

    pub fn string(&self, key: &str) -> Result<Option<&'t str>> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => n
                .as_str()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a string", n)),
        }
    }

    pub fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(n) => n
                .as_bool()
                .ok_or_else(|| self.wrong(key, "true or false", n)),
        }
    }

    /// An integer or a list of `n` integers (`kernel_size: 3` or `[3, 3]`).
    pub fn ints(&self, key: &str, n: usize) -> Result<Option<Vec<i64>>> {
        let Some(node) = self.get(key) else {
            return Ok(None);
        };
        if let Some(v) = node.as_i64() {
            return Ok(Some(vec![v; n]));
        }
        let list = node
            .as_list()
            .ok_or_else(|| self.wrong(key, "an integer or a list", node))?;
        let values: Option<Vec<i64>> = list.iter().map(Node::as_i64).collect();
        match values {
            Some(v) if v.len() == n => Ok(Some(v)),
            Some(v) if v.len() == 1 => Ok(Some(vec![v[0]; n])),
            _ => Err(self.wrong(key, &format!("{n} integers"), node)),
        }
    }

    /// `build_config.input_shape`, as Keras recorded it when the layer was built.
    pub fn built_input_shape(&self) -> Option<&'t Node> {
        self.node
            .get_some("build_config")
            .and_then(|b| b.get_some("input_shape"))
            .or_else(|| self.get("batch_input_shape"))
            .or_else(|| self.get("batch_shape"))
    }
}

/// A Keras shape list (`[null, 8]`): the leading `null` is the batch, other `null`s are unknown.
pub fn keras_shape(node: &Node) -> Option<Shape> {
    let list = node.as_list()?;
    list.iter()
        .enumerate()
        .map(|(i, d)| match (&d.kind, i) {
            (Kind::Null, 0) => Some(Dim::Named("batch".into())),
            (Kind::Null, _) => Some(Dim::Unknown),
            _ => d
                .as_i64()
                .map(|v| u64::try_from(v).map_or(Dim::Unknown, Dim::Fixed)),
        })
        .collect()
}

/// Whether a shape node is a list of shapes (a multi-input layer's `input_shape`).
fn is_shape_list(node: &Node) -> bool {
    node.as_list()
        .is_some_and(|l| !l.is_empty() && l.iter().all(|d| d.as_list().is_some()))
}

/// Fills unknown dims of `current` from a shape the file declares, when the ranks agree.
pub fn sharpen(current: Option<Shape>, declared: Option<Shape>) -> Option<Shape> {
    match (current, declared) {
        (None, d) => d,
        (c, None) => c,
        (Some(c), Some(d)) if c.len() == d.len() => Some(
            c.into_iter()
                .zip(d)
                .map(|(c, d)| match (&c, &d) {
                    (Dim::Fixed(_), _) => c,
                    (_, Dim::Fixed(_)) => d,
                    (Dim::Named(_), _) => c,
                    _ => d,
                })
                .collect(),
        ),
        (c, _) => c,
    }
}

pub fn dtype_of(name: &str) -> Option<DType> {
    Some(match name {
        "float32" => DType::F32,
        "float16" => DType::F16,
        "bfloat16" => DType::BF16,
        "float64" => DType::F64,
        "int8" => DType::I8,
        "int16" => DType::I16,
        "int32" => DType::I32,
        "int64" => DType::I64,
        "uint8" => DType::U8,
        "uint16" => DType::U16,
        "uint32" => DType::U32,
        "uint64" => DType::U64,
        "bool" => DType::Bool,
        "string" => DType::String,
        _ => return None,
    })
}

/// The lowering state: the graph being built and what is shared across calls.
pub struct Cx {
    pub graph: Graph,
    pub keras2: bool,
    names: HashSet<String>,
    weights: HashMap<String, ValueId>,
    slots: Vec<WeightSlot>,
    depth: usize,
    conflicts: Vec<String>,
    pub assumed_widths: Vec<ValueId>,
    /// Source code (never a saved model, whose weights fix every width): a `Dense` whose input
    /// width is unknown takes [`crate::ir::REPRESENTATIVE_WIDTH`].
    pub assume_widths: bool,
}

impl Cx {
    pub fn new(keras2: bool) -> Cx {
        Cx {
            graph: Graph::default(),
            keras2,
            names: HashSet::new(),
            weights: HashMap::new(),
            slots: vec![],
            depth: 0,
            conflicts: vec![],
            assumed_widths: vec![],
            assume_widths: false,
        }
    }

    fn unique(&mut self, base: &str) -> String {
        if self.names.insert(base.to_string()) {
            return base.to_string();
        }
        (1..)
            .map(|i| format!("{base}_{i}"))
            .find(|n| !self.names.contains(n))
            .inspect(|n| {
                self.names.insert(n.clone());
            })
            .unwrap_or_default()
    }

    pub fn value(&mut self, name: &str, shape: Option<Shape>) -> ValueId {
        let name = self.unique(name);
        let id = self.graph.add_value(name);
        self.graph.value_mut(id).shape = shape;
        id
    }

    pub fn shape(&self, v: ValueId) -> Option<Shape> {
        self.graph.value(v).shape.clone()
    }

    pub fn set_shape(&mut self, v: ValueId, shape: Option<Shape>) {
        let current = self.graph.value(v).shape.clone();
        if let (Some(c), Some(d)) = (&current, &shape) {
            let differs = c.len() != d.len()
                || c.iter()
                    .zip(d)
                    .any(|(a, b)| matches!((a, b), (Dim::Fixed(x), Dim::Fixed(y)) if x != y));
            if differs {
                self.conflicts.push(format!(
                    "`{}`: computed {}, declared {}",
                    self.graph.value(v).name,
                    crate::ir::shape_to_string(Some(c)),
                    crate::ir::shape_to_string(Some(d))
                ));
            }
        }
        self.graph.value_mut(v).shape = sharpen(current, shape);
    }

    pub fn rename(&mut self, v: ValueId, name: &str) {
        let old = self.graph.value(v).name.clone();
        self.names.remove(&old);
        let name = self.unique(name);
        self.graph.value_mut(v).name = name;
    }

    /// Appends an op with one output per shape in `shapes`.
    pub fn ops(
        &mut self,
        origin: &Origin,
        domain: &str,
        op_type: &str,
        inputs: Vec<Option<ValueId>>,
        attrs: Vec<(&str, Attr)>,
        shapes: Vec<Option<Shape>>,
    ) -> Vec<ValueId> {
        let name = self.unique(&format!("{}/{op_type}", origin.path));
        let op_id = OpId(self.graph.ops.len() as u32);
        let outputs: Vec<ValueId> = shapes
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let v = if i == 0 {
                    let id = self.graph.add_value(name.clone());
                    self.graph.value_mut(id).shape = s;
                    id
                } else {
                    self.value(&format!("{name}:{i}"), s)
                };
                self.graph.value_mut(v).producer = Some(op_id);
                v
            })
            .collect();
        self.graph.ops.push(Op {
            op_type: op_type.to_string(),
            domain: domain.to_string(),
            name,
            inputs,
            outputs: outputs.clone(),
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            origin: origin.clone(),
        });
        outputs
    }

    /// An ONNX op with one output.
    pub fn op(
        &mut self,
        origin: &Origin,
        op_type: &str,
        inputs: &[ValueId],
        attrs: Vec<(&str, Attr)>,
        shape: Option<Shape>,
    ) -> ValueId {
        let inputs = inputs.iter().map(|&v| Some(v)).collect();
        self.ops(origin, "", op_type, inputs, attrs, vec![shape])[0]
    }

    /// A layer nnlint does not lower to ONNX ops: kept by class name in the `keras` domain.
    pub fn opaque(
        &mut self,
        origin: &Origin,
        op_type: &str,
        inputs: &[ValueId],
        attrs: Vec<(&str, Attr)>,
        shapes: Vec<Option<Shape>>,
    ) -> Vec<ValueId> {
        // Keras layers compute in floats; an opaque one keeps its input's float type.
        let dtype = inputs
            .first()
            .and_then(|&v| self.graph.value(v).dtype)
            .filter(|d| matches!(d, DType::F16 | DType::BF16 | DType::F64))
            .unwrap_or(DType::F32);
        let inputs = inputs.iter().map(|&v| Some(v)).collect();
        let outs = self.ops(origin, "keras", op_type, inputs, attrs, shapes);
        for &v in &outs {
            self.graph.value_mut(v).dtype = Some(dtype);
        }
        outs
    }

    /// Code nnlint cannot see into ([`crate::ir::OPAQUE_CODE`]), with its input's float type.
    pub fn opaque_code(
        &mut self,
        origin: &Origin,
        inputs: &[ValueId],
        attrs: Vec<(&str, Attr)>,
        shape: Option<Shape>,
    ) -> ValueId {
        let out = self.opaque(origin, crate::ir::OPAQUE_CODE, inputs, attrs, vec![shape])[0];
        if let Some(p) = self.graph.value(out).producer {
            self.graph.ops[p.0 as usize].domain = crate::ir::OPAQUE_DOMAIN.into();
        }
        out
    }

    /// A weight of a layer: dims as Keras stores them, no data yet (a weights file fills it in after
    /// lowering, see `h5.rs`). Shared layers get the same constant on every call.
    pub fn weight(&mut self, layer_path: &str, what: &str, dims: &[Option<u64>]) -> ValueId {
        let dims: Vec<i64> = dims
            .iter()
            .map(|d| d.and_then(|d| i64::try_from(d).ok()).unwrap_or(-1))
            .collect();
        let known = self.weights.contains_key(&format!("{layer_path}/{what}"));
        let value = self.constant(layer_path, what, DType::F32, dims, TensorData::Absent);
        if !known {
            self.slots.push(WeightSlot {
                path: layer_path.to_string(),
                what: what.to_string(),
                value,
            });
        }
        value
    }

    pub fn const_i64(&mut self, layer_path: &str, what: &str, values: Vec<i64>) -> ValueId {
        let dims = vec![values.len() as i64];
        self.constant(
            layer_path,
            what,
            DType::I64,
            dims,
            TensorData::Int64s(values.into()),
        )
    }

    pub fn const_f32(
        &mut self,
        layer_path: &str,
        what: &str,
        dims: Vec<i64>,
        values: Vec<f32>,
    ) -> ValueId {
        self.constant(
            layer_path,
            what,
            DType::F32,
            dims,
            TensorData::Floats(values.into()),
        )
    }

    fn constant(
        &mut self,
        layer_path: &str,
        what: &str,
        dtype: DType,
        dims: Vec<i64>,
        data: TensorData,
    ) -> ValueId {
        let key = format!("{layer_path}/{what}");
        if let Some(&v) = self.weights.get(&key) {
            return v;
        }
        let name = self.unique(&key);
        let shape = dims
            .iter()
            .map(|&d| u64::try_from(d).map_or(Dim::Unknown, Dim::Fixed))
            .collect();
        self.graph.values.push(Value {
            name: name.clone(),
            dtype: Some(dtype),
            shape: Some(shape),
            producer: None,
            constant: Some(TensorRef {
                name,
                dtype,
                dims,
                data,
            }),
        });
        let id = ValueId(self.graph.values.len() as u32 - 1);
        self.weights.insert(key, id);
        id
    }
}

pub fn ints_attr(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

pub fn str_attr(s: &str) -> Attr {
    Attr::String(Bytes::copy_from_slice(s.as_bytes()))
}

/// Lowers the model at the root of a config (`class_name` + `config`).
pub fn lower(root: &Node, keras2: bool, assume_widths: bool) -> Result<Lowered> {
    let mut cx = Cx::new(keras2);
    cx.assume_widths = assume_widths;
    let name = root
        .get("config")
        .and_then(|c| c.get("name"))
        .and_then(Node::as_str)
        .unwrap_or("model")
        .to_string();
    let (outputs, output_names) = lower_model(&mut cx, root, &name, None)?;
    let mut seen = HashSet::new();
    for &v in &outputs {
        if seen.insert(v) {
            cx.graph.outputs.push(GraphOutput {
                value: v,
                intent: Intent::Unknown,
                intent_source: IntentSource::None,
                name_speaks: true,
            });
        }
    }
    cx.graph.name = name;
    Ok(Lowered {
        graph: cx.graph,
        output_names,
        conflicts: cx.conflicts,
        weight_slots: cx.slots,
        assumed_widths: cx.assumed_widths,
    })
}

/// A model: its outputs and their names. `bound` holds the values a nested model is called on; the
/// top-level model creates graph inputs instead.
pub fn lower_model(
    cx: &mut Cx,
    model: &Node,
    path: &str,
    bound: Option<&[ValueId]>,
) -> Result<(Vec<ValueId>, Vec<Vec<String>>)> {
    cx.depth += 1;
    if cx.depth > MAX_NESTING {
        return fail(
            format!("models are nested more than {MAX_NESTING} deep at `{path}`"),
            Some(model.span),
        );
    }
    let config = model.get("config").unwrap_or(&EMPTY_MAP);
    let layers = match config.get("layers") {
        Some(l) => l.as_list().ok_or_else(|| LowerError {
            message: format!(
                "model `{path}`: `layers` must be a list, found {}",
                l.type_name()
            ),
            at: Some(l.span),
        })?,
        None => {
            return fail(
                format!("model `{path}` has no `layers` list"),
                Some(config.span),
            );
        }
    };
    let functional = config.get("input_layers").is_some()
        || config.get("output_layers").is_some()
        || layers.iter().any(|l| l.get("inbound_nodes").is_some());
    let out = if functional {
        lower_functional(cx, config, layers, path, bound)
    } else {
        lower_sequential(cx, model, config, layers, path, bound)
    };
    cx.depth -= 1;
    out
}

fn input_value(cx: &mut Cx, layer: &Layer, shape: Option<Shape>) -> Result<ValueId> {
    let dtype = match layer.get("dtype") {
        Some(d) => match d.as_str() {
            Some(s) => dtype_of(s),
            None => d
                .get("config")
                .and_then(|c| c.get("name"))
                .and_then(Node::as_str)
                .and_then(dtype_of),
        },
        None => None,
    };
    let v = cx.value(&layer.name, shape);
    cx.graph.value_mut(v).dtype = Some(dtype.unwrap_or(DType::F32));
    cx.graph.inputs.push(v);
    Ok(v)
}

fn input_layer_shape(layer: &Layer) -> Result<Option<Shape>> {
    if let Some(node) = layer
        .get("batch_shape")
        .or_else(|| layer.get("batch_input_shape"))
    {
        return match keras_shape(node) {
            Some(s) => Ok(Some(s)),
            None => fail(
                format!(
                    "{}: the input shape must be a list of integers or nulls",
                    layer.what()
                ),
                Some(node.span),
            ),
        };
    }
    if let Some(node) = layer.get("shape").or_else(|| layer.get("input_shape")) {
        let mut s = keras_shape(node).ok_or_else(|| LowerError {
            message: format!(
                "{}: the input shape must be a list of integers or nulls",
                layer.what()
            ),
            at: Some(node.span),
        })?;
        s.insert(0, Dim::Named("batch".into()));
        return Ok(Some(s));
    }
    Ok(None)
}

/// The input rank a layer class needs (batch included), for a first layer with no input shape.
fn rank_taken_by(class: &str) -> Option<usize> {
    Some(match class {
        "Dense" | "Embedding" | "Activation" | "Dropout" => 2,
        "Conv1D"
        | "LSTM"
        | "GRU"
        | "SimpleRNN"
        | "Bidirectional"
        | "MaxPooling1D"
        | "AveragePooling1D"
        | "GlobalAveragePooling1D"
        | "GlobalMaxPooling1D" => 3,
        "Conv2D"
        | "SeparableConv2D"
        | "DepthwiseConv2D"
        | "Conv2DTranspose"
        | "MaxPooling2D"
        | "AveragePooling2D"
        | "GlobalAveragePooling2D"
        | "GlobalMaxPooling2D" => 4,
        "Conv3D" | "MaxPooling3D" => 5,
        _ => return None,
    })
}

fn is_input_layer(class: &str) -> bool {
    class == "InputLayer"
}

fn lower_sequential(
    cx: &mut Cx,
    model: &Node,
    config: &Node,
    layers: &[Node],
    path: &str,
    bound: Option<&[ValueId]>,
) -> Result<(Vec<ValueId>, Vec<Vec<String>>)> {
    let parsed: Vec<Layer> = layers
        .iter()
        .enumerate()
        .map(|(i, n)| Layer::parse(n, i, path))
        .collect::<Result<_>>()?;
    let declared = config
        .get_some("build_input_shape")
        .or_else(|| {
            model
                .get_some("build_config")
                .and_then(|b| b.get_some("input_shape"))
        })
        .and_then(keras_shape);
    let mut x = match bound {
        Some([v]) => *v,
        Some(vs) => {
            return fail(
                format!(
                    "Sequential model `{path}` is called on {} tensors, expected one",
                    vs.len()
                ),
                Some(model.span),
            );
        }
        None => {
            let first_input = parsed.first().filter(|l| is_input_layer(l.class));
            let shape = match first_input {
                Some(l) => input_layer_shape(l)?,
                None => None,
            };
            let shape = shape.or(declared).or_else(|| {
                parsed
                    .first()
                    .and_then(Layer::built_input_shape)
                    .and_then(keras_shape)
            });
            // Source code whose model never states its input: the rank the first layer takes,
            // every dim unknown (a width a head needs is then assumed and said, see `dense`).
            let shape = shape.or_else(|| {
                let first = parsed.iter().find(|l| !is_input_layer(l.class))?;
                let rank = rank_taken_by(first.class).filter(|_| cx.assume_widths)?;
                Some(vec![Dim::Unknown; rank])
            });
            match first_input {
                Some(l) => input_value(cx, l, shape)?,
                None => {
                    let v = cx.value(&format!("{path}/input"), shape);
                    cx.graph.value_mut(v).dtype = Some(DType::F32);
                    cx.graph.inputs.push(v);
                    v
                }
            }
        }
    };
    let mut last = path.rsplit('/').next().unwrap_or(path).to_string();
    for layer in &parsed {
        if is_input_layer(layer.class) {
            continue;
        }
        let outs = super::layers::lower_layer(cx, layer, &[x], 0)?;
        x = *outs.first().ok_or_else(|| LowerError {
            message: format!("{} produced no output", layer.what()),
            at: Some(layer.node.span),
        })?;
        last = layer.name.clone();
    }
    Ok((vec![x], vec![vec![last]]))
}

/// Keras recorded the input shapes of a built layer; use them where the graph does not know better.
pub fn sharpen_inputs(cx: &mut Cx, layer: &Layer, inputs: &[ValueId]) {
    let Some(declared) = layer.built_input_shape() else {
        return;
    };
    if is_shape_list(declared) {
        if let Some(list) = declared.as_list() {
            for (&v, s) in inputs.iter().zip(list) {
                cx.set_shape(v, keras_shape(s));
            }
        }
    } else if let [v] = inputs {
        cx.set_shape(*v, keras_shape(declared));
    }
}
