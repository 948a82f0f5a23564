//! ONNX front end: decodes a `ModelProto` from a memory map (weights stay in the map) and lowers it to the IR.

mod budget;
pub mod functions;
pub mod proto;
mod structure;
mod wire;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::LoadError;
use crate::ir::{
    Attr, DType, Dim, Format, Graph, GraphOutput, Intent, IntentSource, Model, Op, OpId, Origin,
    Shape, TensorData, TensorRef, Value, ValueId, Weights,
};
use proto::attribute_proto::AttributeType;
use proto::tensor_proto::DataLocation;
use proto::tensor_shape_proto::dimension;
use proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    type_proto,
};

/// Subgraphs (`If`, `Loop`, `Scan` bodies) nested deeper than this are refused.
pub const MAX_SUBGRAPH_DEPTH: usize = 64;

/// Longest name quoted in an error message; longer names are cut.
const MAX_QUOTED: usize = 80;

/// Memory-maps `path`, decodes it as an ONNX `ModelProto` and lowers it to the IR.
pub fn load_onnx(path: &Path) -> Result<Model, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::new(format!("cannot read the file ({e})")))?;
    if !meta.is_file() {
        return Err(LoadError::new("not a regular file"));
    }
    let file =
        File::open(path).map_err(|e| LoadError::new(format!("cannot open the file ({e})")))?;
    let bytes = if meta.len() == 0 {
        Bytes::new()
    } else {
        // SAFETY: the map is read-only and private to this process; a concurrent truncation of the
        // file by another process could fault the reader, the accepted cost of zero-copy weights.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| LoadError::new(format!("cannot memory-map the file ({e})")))?;
        if meta.len() >= structure::MIN_FILE {
            // The map is only read for the weights a numerical check decodes: no read-around.
            let _ = map.advise(memmap2::Advice::Random);
        }
        Bytes::from_owner(map)
    };
    let structure_only = (meta.len() >= structure::MIN_FILE)
        .then(|| decode_structure(&file, &bytes))
        .flatten();
    let proto = match structure_only {
        Some(proto) => proto?,
        None => decode_model_bytes(bytes)?,
    };
    lower(&proto, path)
}

/// Decodes a large file without touching its `raw_data` payloads (see `structure.rs`); they end up as
/// slices of `map`. The same walk checks the memory budget. `None` when that cannot be done safely:
/// the caller decodes from `map` instead.
fn decode_structure(file: &File, map: &Bytes) -> Option<Result<ModelProto, LoadError>> {
    let mut budget = budget::Budget::default();
    let structure = structure::read(file, map.len(), &mut budget)?;
    if let Err(refused) = budget.check(map.len()) {
        return Some(Err(refused));
    }
    let mut proto = ModelProto::decode(structure.bytes.clone()).ok()?;
    structure::attach_payloads(&mut proto, &structure, map).then_some(Ok(proto))
}

/// [`load_onnx`] on bytes already in memory; `path` names the model (and the folder of its external data).
pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Model, LoadError> {
    lower(&decode_model_bytes(Bytes::from(bytes))?, path)
}

/// Decodes a `ModelProto`; bytes fields (`raw_data`) stay slices of `bytes`.
pub fn decode_model_bytes(bytes: Bytes) -> Result<ModelProto, LoadError> {
    budget::check(&bytes)?;
    ModelProto::decode(bytes).map_err(|e| {
        LoadError::new(format!(
            "not a valid ONNX model: failed to decode protobuf ({})",
            describe_decode_error(&e)
        ))
    })
}

/// prost writes `failed to decode Protobuf message: Inner.field: Outer.field: description`;
/// this turns it into `description at Outer.field > Inner.field`, with long paths shortened.
fn describe_decode_error(error: &prost::DecodeError) -> String {
    let text = error.to_string();
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let mut parts: Vec<&str> = text.split(": ").collect();
    let stack_len = parts
        .iter()
        .take_while(|p| {
            p.split_once('.').is_some_and(|(m, f)| {
                !m.is_empty()
                    && !f.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.#".contains(c))
            })
        })
        .count()
        .min(parts.len().saturating_sub(1));
    let description = parts.split_off(stack_len).join(": ");
    let description = if description == "recursion limit reached" {
        "messages are nested more than 100 levels deep".to_string()
    } else {
        description
    };
    if stack_len == 0 {
        return description;
    }
    let parts: Vec<String> = parts.iter().rev().map(|p| p.replace("r#", "")).collect();
    let path = if parts.len() > 6 {
        format!(
            "{} > … ({} more) > {}",
            parts[..3].join(" > "),
            parts.len() - 5,
            parts[parts.len() - 2..].join(" > ")
        )
    } else {
        parts.join(" > ")
    };
    format!("{description} at {path}")
}

/// Lowers a decoded model to the IR: values, ops in topological order, subgraphs, constants.
pub fn lower(proto: &ModelProto, path: &Path) -> Result<Model, LoadError> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| LoadError::new("the model has no graph"))?;
    let opset = proto
        .opset_import
        .iter()
        .find(|o| is_default_domain(&o.domain))
        .map(|o| o.version)
        .unwrap_or(1);
    // Model-local functions are inlined first (functions.rs); the graph is copied only when one is called.
    let inlined = functions::inline(proto, graph);
    let graph = inlined.as_ref().unwrap_or(graph);
    let mut lowering = Lowering::default();
    let (graph, _) = lowering.graph(graph, None, 0)?;
    let producer = format!("{} {}", proto.producer_name, proto.producer_version)
        .trim()
        .to_string();
    // An ONNX file says which framework wrote it only through its producer.
    let framework = if producer.starts_with("pytorch") {
        crate::ir::Framework::PyTorch
    } else {
        crate::ir::Framework::Unknown
    };
    let metadata = proto
        .metadata_props
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    let weights = if lowering.initializers_without_data > 0 {
        Weights::Absent
    } else {
        Weights::Real
    };
    let model = Model {
        assumed_widths: vec![],
        not_followed: vec![],
        syntax_errors: vec![],
        imported_sources: vec![],
        submodels: vec![],
        weights_provenance: Default::default(),
        source_map: None,
        path: path.to_path_buf(),
        format: Format::Onnx,
        source_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        source_text: None,
        opset,
        producer,
        framework,
        graph,
        training: None,
        metadata,
        weights,
    };
    Ok(model)
}

fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// A name quoted for an error message: escaped, and cut when very long.
fn quote(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    if escaped.chars().count() > MAX_QUOTED {
        let cut: String = escaped.chars().take(MAX_QUOTED).collect();
        format!("'{cut}…'")
    } else {
        format!("'{escaped}'")
    }
}

fn node_label(node: &NodeProto, index: usize) -> String {
    let op: String = node.op_type.escape_debug().take(MAX_QUOTED).collect();
    if node.name.is_empty() {
        format!("node #{index} ({op})")
    } else {
        format!("node {} ({op})", quote(&node.name))
    }
}

/// Running totals over every graph of the model.
#[derive(Default)]
struct Lowering {
    initializers_without_data: usize,
}

/// The names visible from a subgraph: its enclosing graphs, innermost first.
struct Scope<'a> {
    names: &'a HashMap<String, ValueId>,
    values: &'a [Value],
    parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    fn find(&self, name: &str) -> Option<&'a Value> {
        match self.names.get(name) {
            Some(id) => self.values.get(id.0 as usize),
            None => self.parent.and_then(|p| p.find(name)),
        }
    }
}

/// Where a name in one graph comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Def {
    Input,
    Initializer,
    Node(usize),
    /// Taken from an enclosing graph.
    Capture,
    /// Used by a subgraph, defined nowhere nnlint can see.
    Unresolved,
}

/// A lowered node before ordering, with the values its subgraphs read from this graph (dependencies
/// its input list does not show).
struct Pending {
    op: Op,
    implicit_reads: Vec<ValueId>,
}

/// The values of one graph while it is being lowered.
struct Values<'g> {
    label: String,
    values: Vec<Value>,
    defs: Vec<Def>,
    names: HashMap<String, ValueId>,
    captures: Vec<String>,
    parent: Option<&'g Scope<'g>>,
}

impl<'g> Values<'g> {
    fn add(&mut self, name: &str, def: Def) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(Value {
            name: name.to_string(),
            dtype: None,
            shape: None,
            producer: None,
            constant: None,
        });
        self.defs.push(def);
        if !name.is_empty() {
            self.names.insert(name.to_string(), id);
        }
        id
    }

    fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.0 as usize]
    }

    fn def(&self, id: ValueId) -> Def {
        self.defs[id.0 as usize]
    }

    /// A name read by a node or listed as an output. Subgraphs may read names of enclosing graphs:
    /// those become local values with the outer value's type and constant. `None` means the name is
    /// defined nowhere and this is the main graph.
    fn resolve(&mut self, name: &str) -> Option<ValueId> {
        if let Some(&id) = self.names.get(name) {
            return Some(id);
        }
        let parent = self.parent?;
        match parent.find(name) {
            Some(outer) => {
                let (dtype, shape, constant) =
                    (outer.dtype, outer.shape.clone(), outer.constant.clone());
                let id = self.add(name, Def::Capture);
                let value = self.value_mut(id);
                value.dtype = dtype;
                value.shape = shape;
                value.constant = constant;
                self.captures.push(name.to_string());
                Some(id)
            }
            None => Some(self.add(name, Def::Unresolved)),
        }
    }

    /// The value an initializer named `name` defines: a new one, or the graph input of that name.
    fn declare_initializer(&mut self, name: &str, what: &str) -> Result<ValueId, LoadError> {
        match self.names.get(name) {
            Some(&id) if self.def(id) == Def::Input => {
                self.defs[id.0 as usize] = Def::Initializer;
                Ok(id)
            }
            Some(&id) => Err(self.duplicate(name, id, what)),
            None => Ok(self.add(name, Def::Initializer)),
        }
    }

    fn duplicate(&self, name: &str, existing: ValueId, new: &str) -> LoadError {
        let first = match self.def(existing) {
            Def::Input => "a graph input".to_string(),
            Def::Initializer => "an initializer".to_string(),
            Def::Node(_) | Def::Capture | Def::Unresolved => {
                "the output of another node".to_string()
            }
        };
        LoadError::new(format!(
            "tensor {} in {} is defined twice: as {first} and as {new}",
            quote(name),
            self.label
        ))
    }
}

impl Lowering {
    fn graph(
        &mut self,
        g: &GraphProto,
        parent: Option<&Scope<'_>>,
        depth: usize,
    ) -> Result<(Graph, Vec<String>), LoadError> {
        let label = match (g.name.is_empty(), depth) {
            (false, _) => format!("graph {}", quote(&g.name)),
            (true, 0) => "the main graph".to_string(),
            (true, _) => "an unnamed subgraph".to_string(),
        };
        if depth > MAX_SUBGRAPH_DEPTH {
            return Err(LoadError::new(format!(
                "subgraphs are nested more than {MAX_SUBGRAPH_DEPTH} levels deep ({label})"
            )));
        }
        let mut v = Values {
            label,
            values: Vec::new(),
            defs: Vec::new(),
            names: HashMap::new(),
            captures: Vec::new(),
            parent,
        };
        let inputs = declare_inputs(g, &mut v)?;
        self.declare_initializers(g, &mut v)?;
        let node_outputs = declare_node_outputs(g, &mut v)?;
        for info in g.output.iter().chain(&g.value_info) {
            if let Some(&id) = v.names.get(&info.name) {
                fill_type(v.value_mut(id), info.r#type.as_ref());
            }
        }
        set_constant_outputs(g, &mut v, &node_outputs)?;
        let pending = self.lower_nodes(g, &mut v, node_outputs, depth)?;
        let outputs = graph_outputs(g, &mut v)?;

        let order = topological_order(g, &v, &pending)?;
        let mut slots: Vec<Option<Op>> = pending.into_iter().map(|p| Some(p.op)).collect();
        let mut ops = Vec::with_capacity(order.len());
        for (position, &index) in order.iter().enumerate() {
            let Some(op) = slots[index].take() else {
                continue;
            };
            for &out in &op.outputs {
                v.value_mut(out).producer = Some(OpId(position as u32));
            }
            ops.push(op);
        }
        let inputs = inputs
            .into_iter()
            .filter(|&id| v.def(id) == Def::Input)
            .collect();
        let graph = Graph {
            name: g.name.clone(),
            values: v.values,
            ops,
            inputs,
            outputs,
            rank_assumed: vec![],
        };
        Ok((graph, v.captures))
    }

    /// Initializers (dense and sparse) become constant values; one that repeats a graph input's name
    /// is that input's value and stops being an input.
    fn declare_initializers(
        &mut self,
        g: &GraphProto,
        v: &mut Values<'_>,
    ) -> Result<(), LoadError> {
        for tensor in &g.initializer {
            if tensor.name.is_empty() {
                return Err(LoadError::new(format!(
                    "{} has an initializer without a name",
                    v.label
                )));
            }
            let what = || format!("initializer {} in {}", quote(&tensor.name), v.label);
            let constant = tensor_ref(tensor, tensor.name.clone(), &what)?;
            if matches!(constant.data, TensorData::Absent) {
                self.initializers_without_data += 1;
            }
            let id = v.declare_initializer(&tensor.name, "an initializer")?;
            set_constant(v.value_mut(id), constant);
        }
        for sparse in &g.sparse_initializer {
            let Some(values) = sparse.values.as_deref().filter(|t| !t.name.is_empty()) else {
                return Err(LoadError::new(format!(
                    "{} has a sparse initializer without a name",
                    v.label
                )));
            };
            let id = v.declare_initializer(&values.name, "a sparse initializer")?;
            let value = v.value_mut(id);
            value.dtype = DType::from_onnx(values.data_type);
            value.shape = Some(dims_shape(&sparse.dims));
        }
        Ok(())
    }

    /// Lowers every node, in file order.
    fn lower_nodes(
        &mut self,
        g: &GraphProto,
        v: &mut Values<'_>,
        node_outputs: Vec<Vec<ValueId>>,
        depth: usize,
    ) -> Result<Vec<Pending>, LoadError> {
        let path_name = if g.name.is_empty() { "graph" } else { &g.name };
        let mut pending = Vec::with_capacity(g.node.len());
        for ((index, node), outputs) in g.node.iter().enumerate().zip(node_outputs) {
            let at = format!("{} in {}", node_label(node, index), v.label);
            let mut inputs = Vec::with_capacity(node.input.len());
            for name in &node.input {
                if name.is_empty() {
                    inputs.push(None);
                    continue;
                }
                let id = v.resolve(name).ok_or_else(|| {
                    LoadError::new(format!(
                        "{at} reads tensor {}, which no node, graph input or initializer provides",
                        quote(name)
                    ))
                })?;
                inputs.push(Some(id));
            }

            let mut attrs = BTreeMap::new();
            let mut sub_captures = Vec::new();
            {
                let scope = Scope {
                    names: &v.names,
                    values: &v.values,
                    parent: v.parent,
                };
                for a in &node.attribute {
                    let attr = self.attribute(a, &scope, depth, &mut sub_captures, &at)?;
                    if attrs.insert(a.name.clone(), attr).is_some() {
                        return Err(LoadError::new(format!(
                            "{at} has attribute {} twice",
                            quote(&a.name)
                        )));
                    }
                }
            }
            let mut implicit_reads = Vec::with_capacity(sub_captures.len());
            for name in &sub_captures {
                implicit_reads.extend(v.resolve(name));
            }

            let node_name = if node.name.is_empty() {
                format!("#{index}")
            } else {
                node.name.clone()
            };
            let op = Op {
                op_type: node.op_type.clone(),
                domain: node.domain.clone(),
                name: node.name.clone(),
                inputs,
                outputs,
                attrs,
                origin: Origin {
                    index,
                    path: format!("{path_name}/{node_name}"),
                    suppress: crate::suppress::parse_markers(&node.doc_string),
                    ..Origin::default()
                },
            };
            pending.push(Pending { op, implicit_reads });
        }
        Ok(pending)
    }

    /// Lowers one attribute; names a subgraph reads from enclosing graphs are added to `captures`.
    fn attribute(
        &mut self,
        a: &AttributeProto,
        scope: &Scope<'_>,
        depth: usize,
        captures: &mut Vec<String>,
        at: &str,
    ) -> Result<Attr, LoadError> {
        let what = || format!("attribute {} of {at}", quote(&a.name));
        match attribute_type(a) {
            Some(AttributeType::Graph) => {
                let g = a.g.as_ref().ok_or_else(|| {
                    LoadError::new(format!("{} is declared as a graph but holds none", what()))
                })?;
                let (graph, used) = self.graph(g, Some(scope), depth + 1)?;
                captures.extend(used);
                Ok(Attr::Graph(Arc::new(graph)))
            }
            Some(AttributeType::Graphs) => {
                let mut graphs = Vec::with_capacity(a.graphs.len());
                for g in &a.graphs {
                    let (graph, used) = self.graph(g, Some(scope), depth + 1)?;
                    captures.extend(used);
                    graphs.push(Arc::new(graph));
                }
                Ok(Attr::Graphs(graphs))
            }
            _ => plain_attribute(a, &what),
        }
    }
}

fn require_name(info: &proto::ValueInfoProto, v: &Values<'_>, what: &str) -> Result<(), LoadError> {
    if info.name.is_empty() {
        return Err(LoadError::new(format!(
            "{} has {what} without a name",
            v.label
        )));
    }
    Ok(())
}

fn declare_inputs(g: &GraphProto, v: &mut Values<'_>) -> Result<Vec<ValueId>, LoadError> {
    let mut inputs = Vec::with_capacity(g.input.len());
    for info in &g.input {
        require_name(info, v, "an input")?;
        if let Some(&existing) = v.names.get(&info.name) {
            return Err(v.duplicate(&info.name, existing, "a graph input"));
        }
        let id = v.add(&info.name, Def::Input);
        fill_type(v.value_mut(id), info.r#type.as_ref());
        inputs.push(id);
    }
    Ok(inputs)
}

/// One value per output slot of every node; an empty name (an omitted optional output) still gets
/// an unnamed value so positions stay meaningful.
fn declare_node_outputs(
    g: &GraphProto,
    v: &mut Values<'_>,
) -> Result<Vec<Vec<ValueId>>, LoadError> {
    let mut node_outputs = Vec::with_capacity(g.node.len());
    for (index, node) in g.node.iter().enumerate() {
        let mut outs = Vec::with_capacity(node.output.len());
        for name in &node.output {
            if let Some(&existing) = v.names.get(name) {
                let by = format!("the output of {}", node_label(node, index));
                return Err(v.duplicate(name, existing, &by));
            }
            outs.push(v.add(name, Def::Node(index)));
        }
        node_outputs.push(outs);
    }
    Ok(node_outputs)
}

/// The output of a default-domain `Constant` node carries the node's value as its constant.
fn set_constant_outputs(
    g: &GraphProto,
    v: &mut Values<'_>,
    node_outputs: &[Vec<ValueId>],
) -> Result<(), LoadError> {
    for ((index, node), outs) in g.node.iter().enumerate().zip(node_outputs) {
        if node.op_type != "Constant" || !is_default_domain(&node.domain) {
            continue;
        }
        let (Some(name), Some(&out)) = (node.output.first(), outs.first()) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let at = || format!("{} in {}", node_label(node, index), v.label);
        if let Some(constant) = constant_value(node, name, &at)? {
            set_constant(v.value_mut(out), constant);
        }
    }
    Ok(())
}

fn graph_outputs(g: &GraphProto, v: &mut Values<'_>) -> Result<Vec<GraphOutput>, LoadError> {
    let mut outputs = Vec::with_capacity(g.output.len());
    for info in &g.output {
        require_name(info, v, "an output")?;
        let id = v.resolve(&info.name).ok_or_else(|| {
            LoadError::new(format!(
                "output {} of {} is not produced by any node, graph input or initializer",
                quote(&info.name),
                v.label
            ))
        })?;
        outputs.push(GraphOutput {
            value: id,
            intent: Intent::Unknown,
            intent_source: IntentSource::None,
            name_speaks: true,
        });
    }
    Ok(outputs)
}

/// The declared type, or for IR-version-1 files (no `type`) the one implied by the field in use.
/// `None` for a type number this schema does not know.
fn attribute_type(a: &AttributeProto) -> Option<AttributeType> {
    if a.r#type != AttributeType::Undefined as i32 {
        return AttributeType::try_from(a.r#type).ok();
    }
    // In the order the fields are checked: the first one in use names the type.
    let in_use = [
        (a.t.is_some(), AttributeType::Tensor),
        (a.g.is_some(), AttributeType::Graph),
        (a.sparse_tensor.is_some(), AttributeType::SparseTensor),
        (a.tp.is_some(), AttributeType::TypeProto),
        (a.f.is_some(), AttributeType::Float),
        (a.i.is_some(), AttributeType::Int),
        (a.s.is_some(), AttributeType::String),
        (!a.floats.is_empty(), AttributeType::Floats),
        (!a.ints.is_empty(), AttributeType::Ints),
        (!a.strings.is_empty(), AttributeType::Strings),
        (!a.tensors.is_empty(), AttributeType::Tensors),
        (!a.graphs.is_empty(), AttributeType::Graphs),
        (!a.sparse_tensors.is_empty(), AttributeType::SparseTensors),
        (!a.type_protos.is_empty(), AttributeType::TypeProtos),
    ];
    let implied = in_use
        .into_iter()
        .find_map(|(used, t)| used.then_some(t))
        .unwrap_or(AttributeType::Undefined);
    Some(implied)
}

/// Every attribute kind except graphs. Scalars a proto3 writer omitted (0, 0.0, "") read as defaults.
fn plain_attribute(a: &AttributeProto, what: &dyn Fn() -> String) -> Result<Attr, LoadError> {
    if !a.ref_attr_name.is_empty() {
        return Ok(Attr::Other("attribute reference"));
    }
    let Some(kind) = attribute_type(a) else {
        return Ok(Attr::Other("unknown attribute type"));
    };
    Ok(match kind {
        AttributeType::Float => Attr::Float(a.f.unwrap_or_default()),
        AttributeType::Int => Attr::Int(a.i.unwrap_or_default()),
        AttributeType::String => Attr::String(a.s.clone().unwrap_or_default()),
        AttributeType::Tensor => {
            let t = a.t.as_ref().ok_or_else(|| {
                LoadError::new(format!("{} is declared as a tensor but holds none", what()))
            })?;
            Attr::Tensor(tensor_ref(t, t.name.clone(), what)?)
        }
        AttributeType::Floats => Attr::Floats(a.floats.clone()),
        AttributeType::Ints => Attr::Ints(a.ints.clone()),
        AttributeType::Strings => Attr::Strings(a.strings.clone()),
        AttributeType::Tensors => Attr::Tensors(
            a.tensors
                .iter()
                .map(|t| tensor_ref(t, t.name.clone(), what))
                .collect::<Result<_, _>>()?,
        ),
        AttributeType::SparseTensor => Attr::Other("sparse tensor"),
        AttributeType::SparseTensors => Attr::Other("sparse tensors"),
        AttributeType::TypeProto => Attr::Other("type proto"),
        AttributeType::TypeProtos => Attr::Other("type protos"),
        AttributeType::Graph | AttributeType::Graphs => Attr::Other("graph"),
        AttributeType::Undefined => {
            return Err(LoadError::new(format!(
                "{} has no type and no value",
                what()
            )));
        }
    })
}

/// The tensor a `Constant` node produces, from whichever `value*` attribute it carries.
fn constant_value(
    node: &NodeProto,
    output: &str,
    at: &dyn Fn() -> String,
) -> Result<Option<TensorRef>, LoadError> {
    for a in &node.attribute {
        if !a.name.starts_with("value") || a.name == "sparse_value" {
            continue;
        }
        let what = || format!("attribute {} of {}", quote(&a.name), at());
        let attr = plain_attribute(a, &what)?;
        let (dtype, dims, data) = match (a.name.as_str(), attr) {
            ("value", Attr::Tensor(t)) => (t.dtype, t.dims, t.data),
            ("value_float", Attr::Float(f)) => {
                (DType::F32, vec![], TensorData::Floats(Arc::from([f])))
            }
            ("value_floats", Attr::Floats(fs)) => (
                DType::F32,
                vec![fs.len() as i64],
                TensorData::Floats(fs.into()),
            ),
            ("value_int", Attr::Int(i)) => (DType::I64, vec![], TensorData::Int64s(Arc::from([i]))),
            ("value_ints", Attr::Ints(is)) => (
                DType::I64,
                vec![is.len() as i64],
                TensorData::Int64s(is.into()),
            ),
            ("value_string", Attr::String(s)) => {
                (DType::String, vec![], TensorData::Strings(Arc::from([s])))
            }
            ("value_strings", Attr::Strings(ss)) => (
                DType::String,
                vec![ss.len() as i64],
                TensorData::Strings(ss.into()),
            ),
            _ => continue,
        };
        return Ok(Some(TensorRef {
            name: output.to_string(),
            dtype,
            dims,
            data,
        }));
    }
    Ok(None)
}

fn set_constant(value: &mut Value, constant: TensorRef) {
    value.dtype = Some(constant.dtype);
    value.shape = Some(dims_shape(&constant.dims));
    value.constant = Some(constant);
}

fn dims_shape(dims: &[i64]) -> Shape {
    dims.iter()
        .map(|&d| u64::try_from(d).map_or(Dim::Unknown, Dim::Fixed))
        .collect()
}

/// Fills what a declared type says about a value, keeping what is already known.
fn fill_type(value: &mut Value, declared: Option<&TypeProto>) {
    let (elem_type, shape) = match declared.and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => (t.elem_type, t.shape.as_ref()),
        Some(type_proto::Value::SparseTensorType(t)) => (t.elem_type, t.shape.as_ref()),
        _ => return,
    };
    if value.dtype.is_none() {
        value.dtype = DType::from_onnx(elem_type);
    }
    if value.shape.is_none() {
        value.shape = shape.map(declared_shape);
    }
}

fn declared_shape(shape: &TensorShapeProto) -> Shape {
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(dimension::Value::DimValue(n)) => {
                u64::try_from(*n).map_or(Dim::Unknown, Dim::Fixed)
            }
            Some(dimension::Value::DimParam(p)) if !p.is_empty() => Dim::Named(p.clone()),
            _ => Dim::Unknown,
        })
        .collect()
}

/// A constant tensor as the file declares it; data stays where it is (map slice, typed values,
/// external location). Nothing is sized from `dims`.
fn tensor_ref(
    t: &TensorProto,
    name: String,
    what: &dyn Fn() -> String,
) -> Result<TensorRef, LoadError> {
    let dtype = DType::from_onnx(t.data_type)
        .ok_or_else(|| LoadError::new(format!("{} has no data type", what())))?;
    let data = tensor_data(t).map_err(|why| LoadError::new(format!("{} {why}", what())))?;
    let mut constant = TensorRef {
        name,
        dtype,
        dims: t.dims.clone(),
        data,
    };
    if matches!(constant.data, TensorData::Absent) && constant.element_count() == Some(0) {
        constant.data = TensorData::Raw(Bytes::new());
    }
    Ok(constant)
}

fn tensor_data(t: &TensorProto) -> Result<TensorData, String> {
    if t.data_location == DataLocation::External as i32 {
        let entry = |key: &str| {
            t.external_data
                .iter()
                .rev()
                .find(|e| e.key == key)
                .map(|e| e.value.clone())
        };
        let location = entry("location")
            .ok_or_else(|| "is stored externally but names no location".to_string())?;
        return Ok(TensorData::External {
            location,
            offset: entry("offset"),
            length: entry("length"),
        });
    }
    if t.data_location != DataLocation::Default as i32 {
        return Err(format!("has an unknown data_location {}", t.data_location));
    }
    if let Some(raw) = t.raw_data.as_ref().filter(|r| !r.is_empty()) {
        return Ok(TensorData::Raw(raw.clone()));
    }
    let floats = || TensorData::Floats(t.float_data.as_slice().into());
    let doubles = || TensorData::Doubles(t.double_data.as_slice().into());
    let int32s = || TensorData::Int32s(t.int32_data.as_slice().into());
    let int64s = || TensorData::Int64s(t.int64_data.as_slice().into());
    let uint64s = || TensorData::Uint64s(t.uint64_data.as_slice().into());
    let strings = || TensorData::Strings(t.string_data.as_slice().into());
    let preferred = match t.data_type {
        1 | 14 => (!t.float_data.is_empty()).then(floats),
        11 | 15 => (!t.double_data.is_empty()).then(doubles),
        7 => (!t.int64_data.is_empty()).then(int64s),
        12 | 13 => (!t.uint64_data.is_empty()).then(uint64s),
        8 => (!t.string_data.is_empty()).then(strings),
        _ => (!t.int32_data.is_empty()).then(int32s),
    };
    let data = preferred.unwrap_or_else(|| {
        if !t.float_data.is_empty() {
            floats()
        } else if !t.int32_data.is_empty() {
            int32s()
        } else if !t.int64_data.is_empty() {
            int64s()
        } else if !t.double_data.is_empty() {
            doubles()
        } else if !t.uint64_data.is_empty() {
            uint64s()
        } else if !t.string_data.is_empty() {
            strings()
        } else if t.raw_data.is_some() {
            TensorData::Raw(Bytes::new())
        } else {
            TensorData::Absent
        }
    });
    Ok(data)
}

/// Kahn's algorithm, ties broken by original node index. Dependencies include the names a node's
/// subgraphs read from this graph.
fn topological_order(
    g: &GraphProto,
    v: &Values<'_>,
    pending: &[Pending],
) -> Result<Vec<usize>, LoadError> {
    let n = pending.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for (index, p) in pending.iter().enumerate() {
        let reads = p.op.inputs.iter().flatten().chain(&p.implicit_reads);
        for &value in reads {
            if let Def::Node(producer) = v.def(value) {
                preds[index].push(producer);
                succs[producer].push(index);
                waiting[index] += 1;
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(index)) = ready.pop() {
        order.push(index);
        for &next in &succs[index] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(Reverse(next));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(cycle_error(g, v, &preds, &order))
}

/// Names a node on a cycle: walking back from any unordered node along unordered predecessors
/// must revisit a node, and that node lies on a cycle.
fn cycle_error(g: &GraphProto, v: &Values<'_>, preds: &[Vec<usize>], order: &[usize]) -> LoadError {
    let n = preds.len();
    let mut done = vec![false; n];
    for &i in order {
        done[i] = true;
    }
    let back = |i: usize| preds[i].iter().copied().find(|&p| !done[p]);
    let generic = || LoadError::new(format!("{} contains a cycle", v.label));
    let Some(mut current) = (0..n).find(|&i| !done[i]) else {
        return generic();
    };
    let mut seen = vec![false; n];
    while !seen[current] {
        seen[current] = true;
        match back(current) {
            Some(p) => current = p,
            None => return generic(),
        }
    }
    let start = current;
    let mut cycle = vec![start];
    let mut walk = back(start);
    while let Some(p) = walk {
        if p == start || cycle.len() > n {
            break;
        }
        cycle.push(p);
        walk = back(p);
    }
    cycle.reverse();
    cycle.rotate_right(1);
    let name = |i: usize| {
        let node = &g.node[i];
        if node.name.is_empty() {
            format!("#{i}")
        } else {
            quote(&node.name)
        }
    };
    let mut chain: Vec<String> = cycle.iter().take(8).map(|&i| name(i)).collect();
    if cycle.len() > 8 {
        chain.push("…".to_string());
    }
    chain.push(name(cycle[0]));
    LoadError::new(format!(
        "{} in {} is part of a cycle ({})",
        node_label(&g.node[start], start),
        v.label,
        chain.join(" -> ")
    ))
}
