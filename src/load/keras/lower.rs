//! Keras models (Sequential, Functional, nested) into the IR: the graph plumbing. What each layer
//! becomes is in `layers.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

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

/// `[layer_name, node_index, tensor_index]` and the shape the file declares for that tensor.
struct TensorRefNode {
    layer: String,
    node: usize,
    tensor: usize,
    shape: Option<Shape>,
    span: Span,
}

fn parse_ref(node: &Node) -> Option<TensorRefNode> {
    let list = node.as_list()?;
    let layer = list.first()?.as_str()?.to_string();
    let index = |i: usize| -> Option<usize> {
        match list.get(i) {
            None => Some(0),
            Some(n) => n.as_i64().and_then(|v| usize::try_from(v).ok()),
        }
    };
    Some(TensorRefNode {
        layer,
        node: index(1)?,
        tensor: index(2)?,
        shape: None,
        span: node.span,
    })
}

/// Keras 3 writes tensors as `{"class_name": "__keras_tensor__", "config": {"shape", "keras_history"}}`
/// anywhere inside a node's `args`/`kwargs`; collect them in order.
fn collect_keras_tensors(node: &Node, out: &mut Vec<TensorRefNode>) {
    match &node.kind {
        Kind::Map(entries) => {
            if node.get("class_name").and_then(Node::as_str) == Some("__keras_tensor__") {
                let cfg = node.get("config");
                if let Some(mut r) = cfg.and_then(|c| c.get("keras_history")).and_then(parse_ref) {
                    r.shape = cfg.and_then(|c| c.get("shape")).and_then(keras_shape);
                    r.span = node.span;
                    out.push(r);
                }
                return;
            }
            for e in entries {
                collect_keras_tensors(&e.value, out);
            }
        }
        Kind::List(items) => items.iter().for_each(|i| collect_keras_tensors(i, out)),
        _ => {}
    }
}

/// `[name, node, tensor]` lists inside a Keras 2 kwargs mapping.
fn collect_keras2_refs(node: &Node, out: &mut Vec<TensorRefNode>) {
    match &node.kind {
        Kind::Map(entries) => entries
            .iter()
            .for_each(|e| collect_keras2_refs(&e.value, out)),
        Kind::List(items) => {
            let is_ref = items.len() == 3
                && items[0].as_str().is_some()
                && items[1].as_i64().is_some()
                && items[2].as_i64().is_some();
            match (is_ref, parse_ref(node)) {
                (true, Some(r)) => out.push(r),
                _ => items.iter().for_each(|i| collect_keras2_refs(i, out)),
            }
        }
        _ => {}
    }
}

/// The inputs of one call of a layer, in either layout.
fn parse_inbound(node: &Node, layer: &Layer) -> Result<Vec<TensorRefNode>> {
    let mut refs = vec![];
    match &node.kind {
        // Keras 3: {"args": [...], "kwargs": {...}}
        Kind::Map(_) => {
            if let Some(args) = node.get("args") {
                collect_keras_tensors(args, &mut refs);
            }
            if let Some(kwargs) = node.get("kwargs") {
                collect_keras_tensors(kwargs, &mut refs);
            }
        }
        // Keras 2: [[name, node, tensor, kwargs], ...], or one [name, node, tensor, kwargs] (TFOpLambda).
        // Tensors passed as keyword arguments are written as [name, node, tensor] inside kwargs.
        Kind::List(items) => {
            let entries: Vec<&Node> = if items.first().is_some_and(|f| f.as_str().is_some()) {
                vec![node]
            } else {
                items.iter().collect()
            };
            let mut kwarg_refs = vec![];
            for item in entries {
                match parse_ref(item) {
                    Some(r) => refs.push(r),
                    None => {
                        return fail(
                            format!(
                                "{}: an inbound node entry must be [layer_name, node_index, tensor_index, kwargs]",
                                layer.what()
                            ),
                            Some(item.span),
                        );
                    }
                }
                if let Some(kwargs) = item.as_list().and_then(|l| l.get(3)) {
                    collect_keras2_refs(kwargs, &mut kwarg_refs);
                }
            }
            refs.extend(kwarg_refs);
        }
        _ => {
            return fail(
                format!(
                    "{}: an inbound node must be a list or a mapping, found {}",
                    layer.what(),
                    node.type_name()
                ),
                Some(node.span),
            );
        }
    }
    Ok(refs)
}

/// `input_layers` / `output_layers`: one `[name, node, tensor]`, a list of them, or a dict of them.
fn parse_endpoints(
    node: Option<&Node>,
    what: &str,
    path: &str,
) -> Result<Vec<(Option<String>, TensorRefNode)>> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Ok(vec![]);
    };
    let bad = |n: &Node| LowerError {
        message: format!(
            "model `{path}`: `{what}` entries must be [layer_name, node_index, tensor_index]"
        ),
        at: Some(n.span),
    };
    match &node.kind {
        Kind::List(items) if items.first().is_some_and(|f| f.as_str().is_some()) => {
            Ok(vec![(None, parse_ref(node).ok_or_else(|| bad(node))?)])
        }
        Kind::List(items) => items
            .iter()
            .map(|i| parse_ref(i).map(|r| (None, r)).ok_or_else(|| bad(i)))
            .collect(),
        Kind::Map(entries) => entries
            .iter()
            .map(|e: &Entry| {
                parse_ref(&e.value)
                    .map(|r| (Some(e.key.clone()), r))
                    .ok_or_else(|| bad(&e.value))
            })
            .collect(),
        _ => Err(bad(node)),
    }
}

fn lower_functional(
    cx: &mut Cx,
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
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, l) in parsed.iter().enumerate() {
        if by_name.insert(l.name.as_str(), i).is_some() {
            return fail(
                format!("model `{path}` has two layers named `{}`", l.name),
                Some(l.node.span),
            );
        }
    }
    // Every call of every layer: (layer index, node index, inputs).
    let mut calls: Vec<(usize, usize, Vec<TensorRefNode>)> = vec![];
    for (i, l) in parsed.iter().enumerate() {
        let nodes = match l.node.get("inbound_nodes") {
            None => vec![],
            Some(n) if n.is_null() => vec![],
            Some(n) => n
                .as_list()
                .ok_or_else(|| LowerError {
                    message: format!("{}: `inbound_nodes` must be a list", l.what()),
                    at: Some(n.span),
                })?
                .iter()
                .collect(),
        };
        if nodes.is_empty() && !is_input_layer(l.class) {
            continue; // defined but never called
        }
        if is_input_layer(l.class) {
            continue;
        }
        for (k, node) in nodes.into_iter().enumerate() {
            calls.push((i, k, parse_inbound(node, l)?));
        }
    }

    let node_count = |l: &Layer| -> usize {
        if is_input_layer(l.class) {
            return 1;
        }
        l.node
            .get("inbound_nodes")
            .and_then(Node::as_list)
            .map_or(0, <[Node]>::len)
    };
    // Keras 2 numbers the calls of a nested model that starts with an InputLayer from 1: its node 0 is
    // the model's own construction, which the config leaves out (tf.keras `_should_skip_first_node`).
    let keras2_nodes = parsed.iter().any(|l| {
        l.node
            .get("inbound_nodes")
            .and_then(Node::as_list)
            .is_some_and(|n| n.iter().any(|x| x.as_list().is_some()))
    });
    let skip_first: Vec<bool> = parsed
        .iter()
        .map(|l| {
            keras2_nodes
                && l.config
                    .get("layers")
                    .and_then(Node::as_list)
                    .and_then(<[Node]>::first)
                    .and_then(|f| f.get("class_name"))
                    .and_then(Node::as_str)
                    .is_some_and(is_input_layer)
        })
        .collect();
    let adjust = |r: &mut TensorRefNode, src: usize, who: &str| -> Result<()> {
        if skip_first[src] {
            if r.node == 0 {
                return fail(
                    format!(
                        "{who} takes node 0 of nested model `{}`, which Keras 2 never saves",
                        r.layer
                    ),
                    Some(r.span),
                );
            }
            r.node -= 1;
        }
        Ok(())
    };
    for (li, k, refs) in &mut calls {
        for r in refs.iter_mut() {
            let Some(&src) = by_name.get(r.layer.as_str()) else {
                return fail(
                    format!(
                        "{} takes input from `{}`, which is not a layer of model `{path}`",
                        parsed[*li].what(),
                        r.layer
                    ),
                    Some(r.span),
                );
            };
            adjust(r, src, &parsed[*li].what())?;
            if r.node >= node_count(&parsed[src]) {
                return fail(
                    format!(
                        "{} (call {k}) takes node {} of `{}`, which has no such node",
                        parsed[*li].what(),
                        r.node,
                        r.layer
                    ),
                    Some(r.span),
                );
            }
        }
    }

    let inputs = parse_endpoints(config.get("input_layers"), "input_layers", path)?;
    let mut outputs = parse_endpoints(config.get("output_layers"), "output_layers", path)?;
    for (_, r) in &mut outputs {
        if let Some(&src) = by_name.get(r.layer.as_str()) {
            adjust(r, src, &format!("model `{path}`"))?;
        }
    }
    let mut produced: HashMap<(usize, usize), Vec<ValueId>> = HashMap::new();

    if let Some(bound) = bound
        && bound.len() != inputs.len()
    {
        return fail(
            format!(
                "model `{path}` is called on {} tensors but declares {} inputs",
                bound.len(),
                inputs.len()
            ),
            Some(config.span),
        );
    }
    for (pos, (_, r)) in inputs.iter().enumerate() {
        let &i = by_name.get(r.layer.as_str()).ok_or_else(|| LowerError {
            message: format!(
                "model `{path}`: input layer `{}` is not a layer of the model",
                r.layer
            ),
            at: Some(r.span),
        })?;
        let v = match bound {
            Some(b) => b[pos],
            None => {
                let shape = input_layer_shape(&parsed[i])?;
                input_value(cx, &parsed[i], shape)?
            }
        };
        produced.insert((i, 0), vec![v]);
    }
    // InputLayers not listed as model inputs still define a tensor.
    for (i, l) in parsed.iter().enumerate() {
        if is_input_layer(l.class) && !produced.contains_key(&(i, 0)) && bound.is_none() {
            let shape = input_layer_shape(l)?;
            let v = input_value(cx, l, shape)?;
            produced.insert((i, 0), vec![v]);
        }
    }

    // Resolve calls in file order, pass after pass, until nothing is left or nothing moves.
    let mut pending: Vec<usize> = (0..calls.len()).collect();
    while !pending.is_empty() {
        let mut next = vec![];
        let mut progressed = false;
        for &c in &pending {
            let (li, k, refs) = &calls[c];
            let mut ready = true;
            for r in refs {
                if !produced.contains_key(&(by_name[r.layer.as_str()], r.node)) {
                    ready = false;
                    break;
                }
            }
            if !ready {
                next.push(c);
                continue;
            }
            let mut args = vec![];
            for r in refs {
                let src = by_name[r.layer.as_str()];
                let v = output_of(cx, &parsed[src], &mut produced, src, r)?;
                cx.set_shape(v, r.shape.clone());
                args.push(v);
            }
            let outs = super::layers::lower_layer(cx, &parsed[*li], &args, *k)?;
            produced.insert((*li, *k), outs);
            progressed = true;
        }
        if !progressed {
            let (li, k, refs) = &calls[next[0]];
            let missing = refs
                .iter()
                .find(|r| !produced.contains_key(&(by_name[r.layer.as_str()], r.node)))
                .map(|r| format!("`{}` node {}", r.layer, r.node))
                .unwrap_or_default();
            return fail(
                format!(
                    "the inbound nodes of model `{path}` form a cycle: {} (call {k}) waits for {missing}, which depends on it",
                    parsed[*li].what()
                ),
                Some(parsed[*li].node.span),
            );
        }
        pending = next;
    }

    let mut out_values = vec![];
    let mut out_names = vec![];
    for (key, r) in &outputs {
        let &src = by_name.get(r.layer.as_str()).ok_or_else(|| LowerError {
            message: format!(
                "model `{path}`: output layer `{}` is not a layer of the model",
                r.layer
            ),
            at: Some(r.span),
        })?;
        if !produced.contains_key(&(src, r.node)) {
            return fail(
                format!(
                    "model `{path}`: output `{}` node {} is never computed",
                    r.layer, r.node
                ),
                Some(r.span),
            );
        }
        let v = output_of(cx, &parsed[src], &mut produced, src, r)?;
        out_values.push(v);
        let mut names = vec![];
        if let Some(k) = key {
            names.push(k.clone());
        }
        names.push(r.layer.clone());
        out_names.push(names);
    }
    if out_values.is_empty() {
        return fail(
            format!("model `{path}` declares no outputs"),
            Some(config.span),
        );
    }
    Ok((out_values, out_names))
}

/// Output `r.tensor` of a call; an opaque layer grows extra outputs on demand.
fn output_of(
    cx: &mut Cx,
    layer: &Layer,
    produced: &mut HashMap<(usize, usize), Vec<ValueId>>,
    src: usize,
    r: &TensorRefNode,
) -> Result<ValueId> {
    let outs = produced
        .get_mut(&(src, r.node))
        .expect("checked by the caller");
    if let Some(&v) = outs.get(r.tensor) {
        return Ok(v);
    }
    let producer = outs.first().and_then(|&v| cx.graph.value(v).producer);
    let opaque = producer.is_some_and(|p| cx.graph.op(p).domain == "keras");
    if !opaque || r.tensor > 64 {
        return fail(
            format!(
                "{} has no output #{} (it has {})",
                layer.what(),
                r.tensor,
                outs.len()
            ),
            Some(r.span),
        );
    }
    let op_id = producer.expect("opaque implies a producer");
    while outs.len() <= r.tensor {
        let base = cx.graph.value(outs[0]).name.clone();
        let v = cx.value(&format!("{base}:{}", outs.len()), None);
        let dtype = cx.graph.value(outs[0]).dtype;
        cx.graph.value_mut(v).producer = Some(op_id);
        cx.graph.value_mut(v).dtype = dtype;
        cx.graph.ops[op_id.0 as usize].outputs.push(v);
        outs.push(v);
    }
    Ok(outs[r.tensor])
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
