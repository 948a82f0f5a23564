//! Cutting a head out of a graph, drawing probes for it and running it.

use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{EvalError, Limits, Tensor, constant, eval_op, precision, show_shape};
use crate::ir::{DType, Dim, Graph, Model, Op, OpId, ValueId};

/// The part of a graph that computes one value from probes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Ops to evaluate, in topological (graph) order.
    pub ops: Vec<OpId>,
    /// Non-constant values to feed, in id order: data inputs of the last linear/conv layers and graph
    /// inputs the head reaches.
    pub probes: Vec<ValueId>,
}

/// Backward slice from `target`, stopping at the last linear/conv layers: those ops are included and
/// their non-constant inputs become probes instead of being walked further. Graph inputs the walk
/// reaches are probes too; constants are decoded by [`run`], and ops computing only from constants
/// are included.
pub fn head(graph: &Graph, target: ValueId) -> Head {
    slice(graph, target, &[], true)
}

/// Backward slice from `target` that starts at the values in `start` (they become probes) and walks
/// through every op on the way, linear layers included: for checks that must probe through a span of
/// the graph of their own choosing.
pub fn head_from(graph: &Graph, target: ValueId, start: &[ValueId]) -> Head {
    slice(graph, target, start, false)
}

fn slice(graph: &Graph, target: ValueId, start: &[ValueId], cut_at_linear: bool) -> Head {
    let constants = crate::ops::constant_values(graph);
    let mut ops = BTreeSet::new();
    let mut probes = BTreeSet::new();
    let mut seen = HashSet::new();
    // Latest producer first: by the time a value is popped, every op in the slice reading it has been
    // visited, so a linear consumer has already made it a probe if it is one.
    let mut queue = BinaryHeap::new();
    let key = |v: ValueId| {
        let producer = graph.values.get(v.0 as usize).and_then(|v| v.producer);
        (producer.map_or(-1, |p| i64::from(p.0)), v)
    };
    queue.push(key(target));
    while let Some((_, v)) = queue.pop() {
        if !seen.insert(v) || probes.contains(&v) {
            continue;
        }
        if start.contains(&v) {
            probes.insert(v);
            continue;
        }
        let Some(value) = graph.values.get(v.0 as usize) else {
            continue;
        };
        if value.constant.is_some() {
            continue;
        }
        let Some(op) = value.producer.and_then(|p| graph.ops.get(p.0 as usize)) else {
            probes.insert(v);
            continue;
        };
        if let Some(p) = value.producer {
            ops.insert(p);
        }
        // A linear layer is cut at its data inputs only when they are floats: an integer or
        // quantized layer (MatMulInteger after DynamicQuantizeLinear) is walked through to the float
        // values it was quantized from, which probes can be drawn for.
        let float_inputs = op.inputs.iter().flatten().all(|&i| {
            constants.contains(&i)
                || matches!(
                    graph.value(i).dtype,
                    None | Some(DType::F32 | DType::F16 | DType::BF16 | DType::F64)
                )
        });
        let linear = cut_at_linear && crate::ops::is_linear(op) && float_inputs;
        for &input in op.inputs.iter().flatten() {
            if linear && !constants.contains(&input) {
                probes.insert(input);
            } else if !seen.contains(&input) {
                queue.push(key(input));
            }
        }
    }
    Head {
        ops: ops.into_iter().collect(),
        probes: probes.into_iter().collect(),
    }
}

/// Seeded standard-normal float inputs for every probe of `head`, with a non-fixed first dim set to
/// `batch`. Sizes are checked against the default [`Limits`].
pub fn probes(
    graph: &Graph,
    head: &Head,
    batch: usize,
    seed: u64,
) -> Result<HashMap<ValueId, Tensor>, EvalError> {
    probes_with_limits(graph, head, batch, seed, &Limits::default())
}

/// Probe values drawn per numerical check, at most: wide heads get fewer rows (never fewer than
/// [`MIN_PROBE_ROWS`]) so that drawing probes stays a fraction of a millisecond.
pub const PROBE_VALUE_BUDGET: usize = 16_384;
pub const MIN_PROBE_ROWS: usize = 8;
/// Multiply-adds of the head's linear layers per check, at most: a wide head (`Dense(30000)`) gets
/// fewer rows (never fewer than [`MIN_PROBE_ROWS`]).
pub const PROBE_WORK_BUDGET: usize = 1 << 23;

/// Rows to draw for `head`: `requested`, or fewer when one row of its probes holds many values.
pub fn probe_rows(graph: &Graph, head: &Head, requested: usize) -> usize {
    let per_row: usize = head
        .probes
        .iter()
        .map(|&p| {
            graph.values[p.0 as usize].shape.as_ref().map_or(1, |s| {
                s.iter()
                    .skip(1)
                    .map(|d| d.fixed().unwrap_or(1) as usize)
                    .product::<usize>()
            })
        })
        .sum::<usize>()
        .max(1);
    // Per row, each linear layer of the head costs about its weight's element count.
    let work: usize = head
        .ops
        .iter()
        .map(|&o| graph.op(o))
        .filter(|op| crate::ops::is_linear(op))
        .flat_map(|op| op.inputs.iter().flatten().skip(1))
        .filter_map(|&w| graph.static_shape(w))
        .map(|dims| dims.iter().map(|&d| d as usize).product::<usize>())
        .sum::<usize>()
        .max(1);
    let affordable = (PROBE_VALUE_BUDGET / per_row)
        .min(PROBE_WORK_BUDGET / work)
        .max(MIN_PROBE_ROWS);
    requested.min(affordable).max(1)
}

/// [`probes`] with explicit limits.
pub fn probes_with_limits(
    graph: &Graph,
    head: &Head,
    batch: usize,
    seed: u64,
    limits: &Limits,
) -> Result<HashMap<ValueId, Tensor>, EvalError> {
    draw_probes(graph, head, batch, seed, limits, None)
}

/// [`probes_with_limits`], except that a probe of rank ≥ 3 whose spatial dims (index 2 and up) the
/// file does not give gets `spatial` for each of them, and so does the time axis of a sequence
/// `[batch, ?, features]` whose features are known. A size a weight depends on then fails the
/// evaluation (a shape mismatch), never a silent guess. For checks whose conclusion does not depend
/// on the image or sequence size; the caller must say the size was chosen.
pub fn probes_with_spatial(
    graph: &Graph,
    head: &Head,
    batch: usize,
    seed: u64,
    limits: &Limits,
    spatial: usize,
) -> Result<HashMap<ValueId, Tensor>, EvalError> {
    draw_probes(graph, head, batch, seed, limits, Some(spatial))
}

fn draw_probes(
    graph: &Graph,
    head: &Head,
    batch: usize,
    seed: u64,
    limits: &Limits,
    spatial: Option<usize>,
) -> Result<HashMap<ValueId, Tensor>, EvalError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut feeds = HashMap::new();
    let mut total = 0u64;
    for &id in &head.probes {
        let value = graph
            .values
            .get(id.0 as usize)
            .ok_or_else(|| EvalError::Data(format!("probe value #{} is not in the graph", id.0)))?;
        let name = &value.name;
        let shape = probe_shape(name, value.shape.as_deref(), batch, spatial)?;
        let what = format!("probe '{name}'");
        let count = limits.check(&shape, &what)?;
        total += count as u64;
        if total > limits.max_total_elements {
            return Err(EvalError::Limit(format!(
                "probes up to '{name}' need more than the limit of {} elements in total",
                limits.max_total_elements
            )));
        }
        let tensor = match value.dtype {
            None | Some(DType::F32 | DType::F16 | DType::BF16) => {
                let v: Vec<f32> = normals(&mut rng, count).map(|x| x as f32).collect();
                Tensor::F32(array(&shape, v, name)?)
            }
            Some(DType::F64) => {
                Tensor::F64(array(&shape, normals(&mut rng, count).collect(), name)?)
            }
            Some(other) => {
                return Err(EvalError::DType(format!(
                    "probe '{name}' has type {}, and only float inputs can be drawn",
                    other.name()
                )));
            }
        };
        feeds.insert(id, tensor);
    }
    Ok(feeds)
}

fn probe_shape(
    name: &str,
    shape: Option<&[Dim]>,
    batch: usize,
    spatial: Option<usize>,
) -> Result<Vec<usize>, EvalError> {
    let shape = shape.ok_or_else(|| {
        EvalError::Shape(format!(
            "the probe shape is unknown: value '{name}' has no known rank"
        ))
    })?;
    shape
        .iter()
        .enumerate()
        .map(|(i, d)| match (i, d) {
            (_, Dim::Fixed(n)) => usize::try_from(*n).map_err(|_| {
                EvalError::Limit(format!("probe '{name}' has a dim too large to address"))
            }),
            (0, _) => Ok(batch),
            (2.., _) if shape.len() >= 3 && spatial.is_some() => Ok(spatial.unwrap_or(1)),
            // The time axis of a channels-last sequence (`[batch, ?, 64]`, an RNN's output).
            (1, _) if shape.len() == 3 && shape[2].fixed().is_some() && spatial.is_some() => {
                Ok(spatial.unwrap_or(1))
            }
            _ => Err(EvalError::Shape(format!(
                "the probe shape is unknown: value '{name}' has shape {} with a non-fixed dim {i}",
                crate::ir::shape_to_string(Some(&shape.to_vec()))
            ))),
        })
        .collect()
}

fn array<T>(shape: &[usize], v: Vec<T>, name: &str) -> Result<ArrayD<T>, EvalError> {
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|_| {
        EvalError::Shape(format!(
            "probe '{name}' values do not fill shape {}",
            show_shape(shape)
        ))
    })
}

/// Standard-normal samples by the Box-Muller transform, two per pair of uniforms.
fn normals(rng: &mut ChaCha8Rng, count: usize) -> impl Iterator<Item = f64> + '_ {
    let mut spare: Option<f64> = None;
    (0..count).map(move |_| {
        if let Some(z) = spare.take() {
            return z;
        }
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        spare = Some(r * theta.sin());
        r * theta.cos()
    })
}

/// Evaluates `head.ops` in order on `feeds`. Constants are decoded when first read. Returns every value
/// the run holds: feeds, decoded constants and computed values.
pub fn run(
    model: &Model,
    head: &Head,
    feeds: HashMap<ValueId, Tensor>,
    limits: &Limits,
) -> Result<HashMap<ValueId, Tensor>, EvalError> {
    run_typed(model, head, feeds, limits).map(|e| e.values)
}

/// What [`run_typed`] computed: every value the run holds, and each one's ONNX element type (its
/// carrier's type, or the narrower type the values were rounded or wrapped to).
#[derive(Clone, Debug, Default)]
pub struct Evaluated {
    pub values: HashMap<ValueId, Tensor>,
    pub dtypes: HashMap<ValueId, DType>,
}

/// [`run`], also tracking element types: feeds take their graph value's declared type, constants
/// theirs, op results the type ONNX gives them; float16/bfloat16 results are rounded and narrow
/// integer results wrapped to that type after every op.
pub fn run_typed(
    model: &Model,
    head: &Head,
    feeds: HashMap<ValueId, Tensor>,
    limits: &Limits,
) -> Result<Evaluated, EvalError> {
    let graph = &model.graph;
    let declared = |id: ValueId| graph.values.get(id.0 as usize).and_then(|v| v.dtype);
    let mut dtypes = HashMap::new();
    let mut values = HashMap::with_capacity(feeds.len());
    for (id, t) in feeds {
        let d = precision::fit(declared(id), &t);
        dtypes.insert(id, d);
        values.insert(id, precision::narrow(t, d));
    }
    let mut total: u64 = values.values().map(|t| t.len() as u64).sum();
    let over = |total: u64, what: &str| {
        (total > limits.max_total_elements).then(|| {
            EvalError::Limit(format!(
                "{what} brings the evaluation over the limit of {} elements in total",
                limits.max_total_elements
            ))
        })
    };
    if let Some(e) = over(total, "the probes") {
        return Err(e);
    }
    let started = std::time::Instant::now();
    for &op_id in &head.ops {
        if started.elapsed() > limits.max_time {
            return Err(EvalError::Limit(format!(
                "the evaluation was stopped after {} ms, the time limit (op #{} of {})",
                limits.max_time.as_millis(),
                op_id.0,
                head.ops.len()
            )));
        }
        let op = graph
            .ops
            .get(op_id.0 as usize)
            .ok_or_else(|| EvalError::Data(format!("op #{} is not in the graph", op_id.0)))?;
        if !op.outputs.is_empty() && op.outputs.iter().all(|o| values.contains_key(o)) {
            continue;
        }
        for &input in op.inputs.iter().flatten() {
            if values.contains_key(&input) {
                continue;
            }
            let value = graph.values.get(input.0 as usize);
            let Some(c) = value.and_then(|v| v.constant.as_ref()) else {
                let name = value.map_or("?", |v| v.name.as_str());
                return Err(EvalError::Data(format!(
                    "value '{name}' read by {} node '{}' was neither computed nor fed",
                    op.op_type, op.name
                )));
            };
            let t = constant(model, c, limits)?;
            total += t.len() as u64;
            if let Some(e) = over(total, &format!("constant '{}'", c.name)) {
                return Err(e);
            }
            dtypes.insert(input, precision::fit(Some(c.dtype), &t));
            values.insert(input, t);
        }
        let outputs = match constant_output(model, op, limits) {
            Some(t) => vec![t?],
            None => {
                let inputs: Vec<Option<&Tensor>> = op
                    .inputs
                    .iter()
                    .map(|i| i.and_then(|v| values.get(&v)))
                    .collect();
                eval_op(op, &inputs, model.opset, limits)?
            }
        };
        let input_types: Vec<Option<DType>> = op
            .inputs
            .iter()
            .map(|i| i.and_then(|v| dtypes.get(&v).copied()))
            .collect();
        // A fed output (a probe) keeps its fed value.
        for (k, (&id, t)) in op.outputs.iter().zip(outputs).enumerate() {
            if let std::collections::hash_map::Entry::Vacant(slot) = values.entry(id) {
                let d = precision::output_dtype(op, k, &input_types).or(declared(id));
                let d = precision::fit(d, &t);
                total += t.len() as u64;
                dtypes.insert(id, d);
                let t = if precision::saturates(op) {
                    precision::saturate(t, d)
                } else {
                    t
                };
                slot.insert(precision::narrow(t, d));
            }
        }
        if let Some(e) = over(total, &format!("{} node '{}'", op.op_type, op.name)) {
            return Err(e);
        }
    }
    Ok(Evaluated { values, dtypes })
}

/// A `Constant` op whose output the loader already recorded as a constant (it may live in external data).
fn constant_output(model: &Model, op: &Op, limits: &Limits) -> Option<Result<Tensor, EvalError>> {
    if op.op_type != "Constant" || !op.is_default_domain() {
        return None;
    }
    let out = op.outputs.first()?;
    let c = model.graph.values.get(out.0 as usize)?.constant.as_ref()?;
    Some(constant(model, c, limits))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use bytes::Bytes;

    use super::*;
    use crate::ir::{Attr, Format, TensorData, TensorRef, Weights};

    /// Builds graphs by hand: values with shapes, constants and ops wired to their producers.
    #[derive(Default)]
    struct Builder {
        g: Graph,
    }

    impl Builder {
        fn input(&mut self, name: &str, shape: Vec<Dim>, dtype: DType) -> ValueId {
            let id = self.g.add_value(name);
            let v = self.g.value_mut(id);
            v.shape = Some(shape);
            v.dtype = Some(dtype);
            self.g.inputs.push(id);
            id
        }

        fn constant(&mut self, name: &str, dims: &[i64], values: &[f32]) -> ValueId {
            let id = self.g.add_value(name);
            let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let data = if values.is_empty() {
                TensorData::Absent
            } else {
                TensorData::Raw(Bytes::from(raw))
            };
            let v = self.g.value_mut(id);
            v.dtype = Some(DType::F32);
            v.constant = Some(TensorRef {
                name: name.into(),
                dtype: DType::F32,
                dims: dims.to_vec(),
                data,
            });
            id
        }

        fn int_constant(&mut self, name: &str, values: &[i64]) -> ValueId {
            let id = self.g.add_value(name);
            self.g.value_mut(id).constant = Some(TensorRef {
                name: name.into(),
                dtype: DType::I64,
                dims: vec![values.len() as i64],
                data: TensorData::Int64s(values.to_vec().into()),
            });
            id
        }

        fn op(&mut self, kind: &str, inputs: &[ValueId], attrs: Vec<(&str, Attr)>) -> ValueId {
            let out = self.g.add_value(format!("{kind}_{}", self.g.ops.len()));
            let id = OpId(self.g.ops.len() as u32);
            self.g.value_mut(out).producer = Some(id);
            self.g.ops.push(Op {
                op_type: kind.into(),
                domain: String::new(),
                name: format!("{kind}_{}", id.0),
                inputs: inputs.iter().map(|&i| Some(i)).collect(),
                outputs: vec![out],
                attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                origin: Default::default(),
            });
            out
        }

        fn shape(&mut self, id: ValueId, shape: Vec<Dim>) {
            self.g.value_mut(id).shape = Some(shape);
            self.g.value_mut(id).dtype = Some(DType::F32);
        }

        fn model(self, opset: i64) -> Model {
            Model {
                path: PathBuf::from("model.onnx"),
                format: Format::Onnx,
                source_name: "model.onnx".into(),
                source_text: None,
                opset,
                producer: String::new(),
                framework: Default::default(),
                graph: self.g,
                training: None,
                metadata: BTreeMap::new(),
                weights: Weights::Real,
                assumed_widths: vec![],
                not_followed: vec![],
                syntax_errors: vec![],
                imported_sources: vec![],
                submodels: vec![],
                weights_provenance: Default::default(),
                source_map: None,
            }
        }
    }

    fn batch() -> Dim {
        Dim::Named("N".into())
    }

    /// x[N,8] -> MatMul W1 -> Add b1 -> Relu -> MatMul W2[3,1] -> Add b2 -> Softmax (one unit).
    fn single_unit_softmax() -> (Model, ValueId, ValueId) {
        let mut b = Builder::default();
        let x = b.input("x", vec![batch(), Dim::Fixed(8)], DType::F32);
        let w1 = b.constant("w1", &[8, 3], &[]);
        let b1 = b.constant("b1", &[3], &[0.1, 0.2, 0.3]);
        let h = b.op("MatMul", &[x, w1], vec![]);
        let h = b.op("Add", &[h, b1], vec![]);
        let r = b.op("Relu", &[h], vec![]);
        b.shape(r, vec![batch(), Dim::Fixed(3)]);
        let w2 = b.constant("w2", &[3, 1], &[0.5, -1.0, 2.0]);
        let b2 = b.constant("b2", &[1], &[0.0]);
        let y = b.op("MatMul", &[r, w2], vec![]);
        let y = b.op("Add", &[y, b2], vec![]);
        let out = b.op("Softmax", &[y], vec![]);
        (b.model(13), r, out)
    }

    #[test]
    fn head_stops_at_the_last_linear_layer() {
        let (model, relu, out) = single_unit_softmax();
        let h = head(&model.graph, out);
        assert_eq!(h.ops, vec![OpId(3), OpId(4), OpId(5)]);
        assert_eq!(h.probes, vec![relu]);
    }

    #[test]
    fn head_from_probes_through_two_linear_layers() {
        let (model, _, out) = single_unit_softmax();
        let x = model.graph.inputs[0];
        let h = head_from(&model.graph, out, &[x]);
        assert_eq!(h.ops, (0..6).map(OpId).collect::<Vec<_>>());
        assert_eq!(h.probes, vec![x]);
        let feeds = probes(&model.graph, &h, 16, 3).unwrap();
        let values = run(&model, &h, feeds, &Limits::default()).unwrap();
        assert_eq!(values[&out].shape(), &[16, 1]);
        // Starting at the first Add's output leaves the first MatMul out.
        let mid = model.graph.op(OpId(1)).outputs[0];
        assert_eq!(
            head_from(&model.graph, out, &[mid]).ops,
            (2..6).map(OpId).collect::<Vec<_>>()
        );
    }

    #[test]
    fn softmax_head_runs_on_probes_and_gives_exactly_one() {
        let (model, relu, out) = single_unit_softmax();
        let h = head(&model.graph, out);
        let feeds = probes(&model.graph, &h, 256, 7).unwrap();
        assert_eq!(feeds[&relu].shape(), &[256, 3]);
        let values = run(&model, &h, feeds, &Limits::default()).unwrap();
        let y = &values[&out];
        assert_eq!(y.shape(), &[256, 1]);
        assert!(y.to_f64_vec().iter().all(|&v| v == 1.0));
    }

    #[test]
    fn probes_are_seeded_standard_normals() {
        let (model, relu, out) = single_unit_softmax();
        let h = head(&model.graph, out);
        let a = probes(&model.graph, &h, 512, 1).unwrap();
        let b = probes(&model.graph, &h, 512, 1).unwrap();
        let c = probes(&model.graph, &h, 512, 2).unwrap();
        assert_eq!(a[&relu], b[&relu]);
        assert_ne!(a[&relu], c[&relu]);
        let v = a[&relu].to_f64_vec();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((var - 1.0).abs() < 0.1, "variance {var}");
    }

    #[test]
    fn the_whole_network_runs_when_the_head_reaches_graph_inputs() {
        let mut b = Builder::default();
        let x = b.input("x", vec![batch(), Dim::Fixed(2)], DType::F32);
        let s = b.op("Sigmoid", &[x], vec![]);
        let out = b.op("Neg", &[s], vec![]);
        let model = b.model(13);
        let h = head(&model.graph, out);
        assert_eq!(h.ops, vec![OpId(0), OpId(1)]);
        assert_eq!(h.probes, vec![x]);
        let feeds = probes(&model.graph, &h, 4, 0).unwrap();
        let values = run(&model, &h, feeds, &Limits::default()).unwrap();
        assert!(
            values[&out]
                .to_f64_vec()
                .iter()
                .all(|&v| (-1.0..0.0).contains(&v))
        );
    }

    #[test]
    fn constant_only_chains_are_evaluated_not_probed() {
        let mut b = Builder::default();
        let x = b.input("x", vec![batch(), Dim::Fixed(2), Dim::Fixed(3)], DType::F32);
        let w = b.constant(
            "w",
            &[2, 6],
            &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        );
        let wt = b.op("Transpose", &[w], vec![]);
        let c1 = b.int_constant("c1", &[0]);
        let c2 = b.int_constant("c2", &[-1]);
        let shape = b.op("Concat", &[c1, c2], vec![("axis", Attr::Int(0))]);
        let flat = b.op("Reshape", &[x, shape], vec![]);
        b.shape(flat, vec![batch(), Dim::Fixed(6)]);
        let y = b.op("MatMul", &[flat, wt], vec![]);
        let out = b.op("Softmax", &[y], vec![]);
        let model = b.model(13);
        let h = head(&model.graph, out);
        // Transpose (from a constant) is evaluated; the Reshape input to MatMul is the probe.
        assert_eq!(h.ops, vec![OpId(0), OpId(3), OpId(4)]);
        assert_eq!(h.probes, vec![flat]);
        let feeds = probes(&model.graph, &h, 3, 0).unwrap();
        let probe = feeds[&flat].to_f64_vec();
        let values = run(&model, &h, feeds, &Limits::default()).unwrap();
        let got = values[&out].to_f64_vec();
        for r in 0..3 {
            let (a, c) = (probe[r * 6], probe[r * 6 + 1]);
            let e = (a - a.max(c)).exp() / ((a - a.max(c)).exp() + (c - a.max(c)).exp());
            assert!((got[r * 2] - e).abs() < 1e-6);
        }
    }

    #[test]
    fn a_residual_input_of_the_last_linear_layer_is_fed_not_recomputed() {
        let mut b = Builder::default();
        let x = b.input("x", vec![batch(), Dim::Fixed(2)], DType::F32);
        let r = b.op("Relu", &[x], vec![]);
        b.shape(r, vec![batch(), Dim::Fixed(2)]);
        let w = b.constant("w", &[2, 2], &[1.0, 0.0, 0.0, 1.0]);
        let y = b.op("MatMul", &[r, w], vec![]);
        let out = b.op("Add", &[y, r], vec![]);
        let model = b.model(13);
        let h = head(&model.graph, out);
        assert_eq!(h.ops, vec![OpId(1), OpId(2)]);
        assert_eq!(h.probes, vec![r]);
        let feeds = probes(&model.graph, &h, 2, 0).unwrap();
        let p = feeds[&r].to_f64_vec();
        let values = run(&model, &h, feeds, &Limits::default()).unwrap();
        let got = values[&out].to_f64_vec();
        for (g, v) in got.iter().zip(&p) {
            assert!((g - 2.0 * v).abs() < 1e-6);
        }
    }

    #[test]
    fn unknown_or_integer_probes_are_errors() {
        let mut b = Builder::default();
        let x = b.input("x", vec![batch(), Dim::Named("T".into())], DType::F32);
        let ids = b.input("ids", vec![batch(), Dim::Fixed(4)], DType::I64);
        let norank = b.g.add_value("norank");
        let model = b.model(13);
        let h = Head {
            ops: vec![],
            probes: vec![x],
        };
        let e = probes(&model.graph, &h, 2, 0).unwrap_err();
        assert!(e.to_string().contains("probe shape is unknown"), "{e}");
        let h = Head {
            ops: vec![],
            probes: vec![norank],
        };
        assert!(
            probes(&model.graph, &h, 2, 0)
                .unwrap_err()
                .to_string()
                .contains("probe shape is unknown")
        );
        let h = Head {
            ops: vec![],
            probes: vec![ids],
        };
        assert!(matches!(
            probes(&model.graph, &h, 2, 0),
            Err(EvalError::DType(_))
        ));
    }

    #[test]
    fn only_spatial_dims_of_images_are_given_a_size() {
        let mut b = Builder::default();
        let free = || Dim::Named("S".into());
        let image = b.input(
            "image",
            vec![batch(), Dim::Fixed(16), free(), free()],
            DType::F32,
        );
        let channels = b.input(
            "channels",
            vec![batch(), free(), Dim::Fixed(8), free()],
            DType::F32,
        );
        let sequence = b.input("sequence", vec![batch(), free(), Dim::Fixed(8)], DType::F32);
        let flat = b.input("flat", vec![batch(), free()], DType::F32);
        let model = b.model(13);
        let limits = Limits::default();
        let probe = |v: ValueId| Head {
            ops: vec![],
            probes: vec![v],
        };
        let feeds = probes_with_spatial(&model.graph, &probe(image), 2, 0, &limits, 8).unwrap();
        assert_eq!(feeds[&image].shape(), [2, 16, 8, 8]);
        assert!(probes_with_limits(&model.graph, &probe(image), 2, 0, &limits).is_err());
        // A free channel axis (index 1) of an image or a free width of a 2-D value is not spatial:
        // never sized. The time axis of a sequence with known features is.
        assert!(probes_with_spatial(&model.graph, &probe(channels), 2, 0, &limits, 8).is_err());
        let feeds = probes_with_spatial(&model.graph, &probe(sequence), 2, 0, &limits, 8).unwrap();
        assert_eq!(feeds[&sequence].shape(), [2, 8, 8]);
        assert!(probes_with_spatial(&model.graph, &probe(flat), 2, 0, &limits, 8).is_err());
    }

    #[test]
    fn run_enforces_the_total_limit_and_names_missing_values() {
        let (model, _, out) = single_unit_softmax();
        let h = head(&model.graph, out);
        let feeds = probes(&model.graph, &h, 256, 0).unwrap();
        let tight = Limits {
            max_elements: 1 << 20,
            max_total_elements: 1000,
            ..Limits::default()
        };
        assert!(matches!(
            run(&model, &h, feeds, &tight),
            Err(EvalError::Limit(_))
        ));
        let e = run(&model, &h, HashMap::new(), &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("neither computed nor fed"), "{e}");
    }

    #[test]
    fn unsupported_ops_are_reported_by_name() {
        let mut b = Builder::default();
        let x = b.input("x", vec![Dim::Fixed(2)], DType::F32);
        let out = b.op("NonMaxSuppression", &[x], vec![]);
        let model = b.model(13);
        let h = head(&model.graph, out);
        let feeds = probes(&model.graph, &h, 1, 0).unwrap();
        let e = run(&model, &h, feeds, &Limits::default()).unwrap_err();
        assert_eq!(
            e,
            EvalError::Unsupported {
                op: "NonMaxSuppression".into()
            }
        );
    }
}
