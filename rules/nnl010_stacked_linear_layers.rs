//! Two linear layers with nothing non-linear between them collapse into one: the extra layer adds parameters but no capacity
//!
//! ## What it finds
//! A fully connected layer (ONNX `MatMul` or `Gemm` with a constant weight, a Keras `Dense`) whose
//! output reaches a second fully connected layer through bias adds and data movers only (Identity,
//! Dropout, Reshape, Flatten, Squeeze, Unsqueeze, Cast, (de)quantization): no activation, no
//! normalisation, no residual add. The classic source is Keras's default `activation=None`:
//! `Dense(64)` followed by `Dense(10, activation="softmax")`. In PyTorch it is `nn.Linear` →
//! `nn.Linear` with the `nn.ReLU()` forgotten.
//!
//! Not flagged, on purpose:
//! - **low-rank bottlenecks**: when the inner width is smaller than both the input and the output
//!   width (`Dense(512)` → `Dense(8)` → `Dense(512)`, an embedding projection, a LoRA-style
//!   factorisation), the pair has fewer parameters than the one layer it equals and restricts its rank
//!   on purpose;
//! - a first layer that ends a **nested model** and a second one in another (Keras configs record the
//!   nesting; ONNX graphs do not): the sub-model's linear output is its interface (an encoder's
//!   embedding), used on its own too;
//! - a **residual add** between them (`x + f(x)`): the skip path is a deliberate structure, not a
//!   forgotten activation;
//! - an intermediate value that is read by anything else (a graph output, a residual path, q/k/v
//!   projections of one shared tensor), a `Gemm` with a non-constant `C` (a fused residual) or with
//!   `transA`, a `MatMul` of two activations (attention scores), convolutions, and onnxruntime's fused
//!   ops (`FusedGemm` may carry an activation).
//!
//! ## Why it matters
//! (x·W₁ + b₁)·W₂ + b₂ = x·(W₁W₂) + (b₁W₂ + b₂): the two layers compute exactly one affine map, whose
//! rank is at most the smallest of the widths. Whatever the training, the network can represent
//! nothing a single layer could not; the first layer's parameters and compute are wasted, and an
//! intended hidden layer (the reason it was added) is not there.
//!
//! ## Symptom
//! The model trains like a linear (logistic-regression) model: accuracy plateaus where a single layer's
//! would, adding width to the hidden layer changes nothing, and the model underfits non-linear
//! structure. Inference is slower and the file larger than the one equivalent layer.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([
//!     keras.Input((32,)),
//!     keras.layers.Dense(64),                        # activation=None: linear
//!     keras.layers.Dense(10, activation="softmax"),
//! ])
//! ```
//!
//! ## Fix
//! Put the missing non-linearity between them:
//! ```python
//! keras.layers.Dense(64, activation="relu")
//! ```
//! (`nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))` in PyTorch), or drop the first
//! layer: one `Dense(10)` computes the same function with fewer parameters.
//!
//! ## Formats
//! ONNX graphs (torch.onnx `Gemm`/`MatMul`+`Add`, tf2onnx `MatMul`+`Add`) and Keras configs (JSON,
//! YAML, `.keras`), where `Dense` lowers to `MatMul` + `Add`. Keras configs carry no weights, so the
//! check runs on seeded weights of the real shapes; the collapse holds for any weights. Convolutions
//! stacked without an activation are not covered yet.
//!
//! ## References
//! - Goodfellow, Bengio, Courville, *Deep Learning* (2016), §6.1: a composition of linear layers is linear
//! - Keras `Dense` docs: `activation=None` by default ("linear" activation)

use std::collections::HashSet;

use crate::advice::Advice;
use crate::analysis::{self, num};
use crate::eval::{self, Tensor};
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Graph, OpId, Part, ValueId};
use crate::ops;
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

/// Unit-vector probes per check at most: a first layer reading more values per row is checked by
/// superposition on seeded row pairs instead (the unit rows would cost width² × hidden).
const MAX_UNIT_PROBES: usize = 256;
/// Seeded row pairs of the superposition check.
const SUPERPOSITION_PAIRS: usize = 32;
/// Widest first-layer input the superposition check probes.
const MAX_SUPERPOSITION_WIDTH: usize = 1 << 16;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    let constants = ops::constant_values(graph);
    graph
        .op_ids()
        .filter_map(|id| stacked_pair(graph, &constants, &ctx.model.assumed_widths, id))
        .map(|pair| finding(ctx, &pair))
        .collect()
}

/// A fully connected layer: its data input, and its weight's (input width, output width).
struct Dense {
    data: ValueId,
    inputs: u64,
    units: u64,
    has_bias: bool,
}

/// Two dense layers, the second reading the first through bias adds and data movers only.
struct Pair {
    first: OpId,
    second: OpId,
    /// The second layer's output, after its own bias add when it has one (`MatMul` + `Add`).
    output: ValueId,
    second_bias: bool,
    first_layer: Dense,
    second_layer: Dense,
    /// Bias adds between them (the first layer's own bias, for a `MatMul` + `Add` Dense).
    bias_between: bool,
}

fn dense(graph: &Graph, constants: &HashSet<ValueId>, id: OpId) -> Option<Dense> {
    let op = graph.op(id);
    if !ops::is_dense(op) {
        return None;
    }
    let data = op.input(0)?;
    let weight = op.input(1)?;
    if constants.contains(&data) || !constants.contains(&weight) {
        return None;
    }
    let dims = graph.static_shape(weight).or_else(|| {
        let c = graph.value(weight).constant.as_ref()?;
        c.dims.iter().map(|&d| u64::try_from(d).ok()).collect()
    })?;
    let [rows, cols] = dims[..] else {
        return None;
    };
    let (mut inputs, mut units) = (rows, cols);
    let mut has_bias = false;
    if op.op_type == "Gemm" {
        if op.attr_int("transA").unwrap_or(0) != 0 {
            return None;
        }
        if op.attr_int("transB").unwrap_or(0) != 0 {
            (inputs, units) = (cols, rows);
        }
        if let Some(c) = op.input(2) {
            if !constants.contains(&c) {
                return None;
            }
            has_bias = true;
        }
    }
    Some(Dense {
        data,
        inputs,
        units,
        has_bias,
    })
}

/// The value has exactly one reader and is not a graph output.
fn private(graph: &Graph, value: ValueId) -> bool {
    !graph.is_output(value) && graph.consumers(value).len() == 1
}

/// The model a Keras op belongs to (`model/inner` for `model/inner/layer`). ONNX node names are free
/// text (TorchScript writes `/hidden/Gemm`), so this is only asked of Keras ops.
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The data input of a bias add: an `Add` of one non-constant value and one constant.
fn bias_input(constants: &HashSet<ValueId>, op: &crate::ir::Op) -> Option<ValueId> {
    if !(op.is_default_domain() && op.op_type == "Add") {
        return None;
    }
    let [Some(a), Some(b)] = op.inputs[..] else {
        return None;
    };
    match (constants.contains(&a), constants.contains(&b)) {
        (false, true) => Some(a),
        (true, false) => Some(b),
        _ => None,
    }
}

/// The output of `op` when it is a bias add on `value`.
fn bias_add(
    graph: &Graph,
    constants: &HashSet<ValueId>,
    op: OpId,
    value: ValueId,
) -> Option<ValueId> {
    let op = graph.op(op);
    (bias_input(constants, op) == Some(value))
        .then(|| op.outputs.first().copied())
        .flatten()
}

fn stacked_pair(
    graph: &Graph,
    constants: &HashSet<ValueId>,
    assumed: &[ValueId],
    second: OpId,
) -> Option<Pair> {
    let second_layer = dense(graph, constants, second)?;
    // Walk back from the second layer's data input through data movers and bias adds.
    let mut v = second_layer.data;
    let mut bias_between = false;
    for _ in 0..64 {
        if !private(graph, v) {
            return None;
        }
        let (id, op) = ops::producer(graph, v)?;
        if let Some(first_layer) = dense(graph, constants, id) {
            if ops::activation(op).is_some() || second_layer.inputs != first_layer.units {
                return None;
            }
            let hidden = first_layer.units;
            // A width the file does not give (probed at a representative width) decides nothing:
            // the pair may be a bottleneck.
            if assumed.contains(&first_layer.data) {
                return None;
            }
            // A low-rank bottleneck is a deliberate factorisation: fewer parameters, lower rank.
            if hidden < first_layer.inputs.min(second_layer.units) {
                return None;
            }
            let in_layers = op.origin.layer.is_some();
            if in_layers && parent(&op.origin.path) != parent(&graph.op(second).origin.path) {
                return None;
            }
            let out = *graph.op(second).outputs.first()?;
            let bias_add = match &graph.consumers(out)[..] {
                [c] if private(graph, out) => bias_add(graph, constants, *c, out),
                _ => None,
            };
            return Some(Pair {
                first: id,
                second,
                output: bias_add.unwrap_or(out),
                second_bias: second_layer.has_bias || bias_add.is_some(),
                first_layer,
                second_layer,
                bias_between,
            });
        }
        if ops::is_data_mover(op) {
            if op.op_type == "Transpose" {
                return None;
            }
            v = op.input(0)?;
        } else if let Some(data) = bias_input(constants, op) {
            v = data;
            bias_between = true;
        } else {
            return None;
        }
    }
    None
}

fn finding(ctx: &RuleContext, pair: &Pair) -> Detection {
    let graph = &ctx.model.graph;
    let first = graph.op(pair.first);
    let second = graph.op(pair.second);
    let (d_in, hidden, d_out) = (
        pair.first_layer.inputs,
        pair.first_layer.units,
        pair.second_layer.units,
    );
    let first_name = analysis::describe_op(first);
    let second_name = analysis::describe_op(second);
    Detection {
        message: format!(
            "stacked linear layers: {first_name} ({d_in}→{hidden}) feeds {second_name} \
             ({hidden}→{d_out}) with no activation between them, so the pair is one linear layer"
        ),
        help: Advice::StackedLinearHelp {
            hidden,
            d_in,
            d_out,
        }
        .say(ctx.model.framework),
        symptom: format!(
            "the model can learn only what one linear layer {d_in}→{d_out} can: it underfits like a \
             linear model, and widening the {hidden}-unit layer changes nothing"
        ),
        labels: vec![
            Label {
                at: At::op_key(graph, pair.first, Part::Activation),
                text: "no activation here: the output stays linear".into(),
            },
            Label {
                at: At::op_key(graph, pair.second, Part::Units),
                text: "a second linear map on top collapses into the first".into(),
            },
        ],
        node_path: first.origin.path.clone(),
        check: numerical_check(ctx, pair),
    }
}

/// Probes the span from the first layer's input to the second layer's output: the zero row gives the
/// collapsed bias, unit rows give the collapsed weight's rows, and seeded rows show that the two layers
/// equal that one affine map.
fn numerical_check(ctx: &RuleContext, pair: &Pair) -> Check {
    match collapse(ctx, pair) {
        Ok(check) => check,
        Err(reason) => Check::Unconfirmed { reason },
    }
}

fn collapse(ctx: &RuleContext, pair: &Pair) -> Result<Check, String> {
    let model = ctx.model;
    let graph = &model.graph;
    let limits = &ctx.probe.limits;
    let x = pair.first_layer.data;
    let target = pair.output;
    let head = eval::head_from(graph, target, &[x]);
    if head.probes != [x] {
        return Err(
            "the span between the two layers reads values other than the first layer's input"
                .into(),
        );
    }
    let shape = graph
        .value(x)
        .shape
        .clone()
        .ok_or("the first layer's input has no known shape")?;
    let row_dims = shape
        .iter()
        .skip(1)
        .map(|d| d.fixed().map(|n| n as usize))
        .collect::<Option<Vec<usize>>>()
        .ok_or("the first layer's input has a non-fixed dim after the batch axis")?;
    if shape.is_empty() {
        return Err("the first layer's input is a scalar".into());
    }
    let width: usize = row_dims.iter().product();
    if width == 0 || width > MAX_SUPERPOSITION_WIDTH {
        return Err(format!(
            "the first layer reads {width} values per row; nnlint probes at most \
             {MAX_SUPERPOSITION_WIDTH}"
        ));
    }
    let unit_rows = width <= MAX_UNIT_PROBES;
    let fixed_batch = shape[0].fixed().map(|b| b as usize);

    // Rows: zero, the unit vectors, then seeded standard normals (narrow inputs); zero, seeded rows
    // x, seeded rows y, then x + y (wide inputs).
    let wanted = if unit_rows {
        ctx.probe.count
    } else {
        2 * SUPERPOSITION_PAIRS
    };
    let random_rows = eval::probe_rows(graph, &head, wanted);
    let seeded = eval::probes_with_limits(graph, &head, random_rows, ctx.probe.seed, limits)
        .map_err(|e| e.to_string())?;
    let seeded = seeded
        .get(&x)
        .ok_or("no probe was drawn for the first layer's input")?
        .to_f64_vec();
    let random_rows = seeded.len() / width;
    let mut rows = vec![0f32; width];
    if unit_rows {
        rows.resize(width * (1 + width), 0.0);
        for i in 0..width {
            rows[(1 + i) * width + i] = 1.0;
        }
    }
    rows.extend(seeded.iter().map(|&v| v as f32));
    let pairs = random_rows / 2;
    if !unit_rows {
        for r in 0..pairs {
            let (a, b) = (r * width, (pairs + r) * width);
            rows.extend((0..width).map(|i| (seeded[a + i] + seeded[b + i]) as f32));
        }
    }
    let total = rows.len() / width;

    let batch = fixed_batch.unwrap_or(total).max(1);
    let mut out: Vec<f64> = vec![];
    let mut out_width = 0;
    for start in (0..total).step_by(batch) {
        let n = batch.min(total - start);
        let mut chunk = rows[start * width..(start + n) * width].to_vec();
        chunk.resize(batch * width, 0.0);
        let mut dims = vec![batch];
        dims.extend(&row_dims);
        limits
            .check(&dims, "the probe batch")
            .map_err(|e| e.to_string())?;
        let feed = Tensor::from_f32(&dims, chunk).map_err(|e| e.to_string())?;
        let values =
            eval::run(model, &head, [(x, feed)].into(), limits).map_err(|e| e.to_string())?;
        let y = values
            .get(&target)
            .ok_or("the evaluation did not produce the second layer's output")?;
        if y.shape().first() != Some(&batch) {
            return Err("the second layer's output does not keep the batch axis".into());
        }
        out_width = y.len() / batch;
        out.extend_from_slice(&y.to_f64_vec()[..n * out_width]);
    }
    let row = |r: usize| &out[r * out_width..(r + 1) * out_width];
    let bias = row(0);
    let mut max_diff = 0f64;
    let mut max_out = 0f64;
    if !unit_rows {
        // f(x + y) − f(y) = f(x) − f(0) on every seeded pair: the span is one affine map.
        for r in 0..pairs {
            let (fx, fy, fxy) = (row(1 + r), row(1 + pairs + r), row(1 + 2 * pairs + r));
            for k in 0..out_width {
                max_diff = max_diff.max((fxy[k] - fy[k] - fx[k] + bias[k]).abs());
                max_out = max_out.max(fxy[k].abs()).max(fx[k].abs());
            }
        }
    }
    for r in (0..random_rows).filter(|_| unit_rows) {
        let xr = &seeded[r * width..(r + 1) * width];
        let got = row(1 + width + r);
        for (k, &g) in got.iter().enumerate() {
            let mut one = bias[k];
            for (i, &xi) in xr.iter().enumerate() {
                one += xi * (row(1 + i)[k] - bias[k]);
            }
            max_diff = max_diff.max((g - one).abs());
            max_out = max_out.max(g.abs());
        }
    }
    if !max_diff.is_finite() || max_diff > 1e-4 * max_out.max(1.0) {
        return Err(format!(
            "the two layers did not evaluate to one affine map (largest difference {})",
            num(max_diff)
        ));
    }
    let (d_in, hidden, d_out) = (
        pair.first_layer.inputs,
        pair.first_layer.units,
        pair.second_layer.units,
    );
    let bias = |units: u64, has: bool| if has { units } else { 0 };
    let pair_params = d_in * hidden
        + bias(hidden, pair.first_layer.has_bias || pair.bias_between)
        + hidden * d_out
        + bias(d_out, pair.second_bias);
    let single_params = d_in * d_out + d_out;
    let rank = d_in.min(hidden).min(d_out);
    let weights = match model.weights {
        crate::ir::Weights::Real => "the file's weights",
        crate::ir::Weights::Absent => {
            "seeded Glorot-uniform weights of the real shapes (the file has none)"
        }
    };
    let how = if unit_rows {
        format!(
            "the zero row and {width} unit rows give one {d_in}→{d_out} affine map W = W₁W₂, b = \
             b₁W₂ + b₂, which reproduces the two-layer output on {random_rows} seeded rows to within \
             {} (largest output {})",
            num(max_diff),
            num(max_out)
        )
    } else {
        format!(
            "on {pairs} seeded row pairs, f(x + y) − f(y) equals f(x) − f(0) to within {} (largest \
             output {}), so the pair is one {d_in}→{d_out} affine map",
            num(max_diff),
            num(max_out)
        )
    };
    Ok(Check::Confirmed {
        summary: format!(
            "probed both layers from the first one's input with {weights}: {how}; its rank is at \
             most {rank}, and the pair has {pair_params} parameters against {single_params}"
        ),
        numbers: vec![
            ("seeded probe rows".into(), random_rows as f64),
            ("max |two layers − one layer|".into(), max_diff),
            ("max |output|".into(), max_out),
            ("rank bound min(widths)".into(), rank as f64),
            ("parameters of the pair".into(), pair_params as f64),
            ("parameters of one layer".into(), single_params as f64),
        ],
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ir::{Attr, DType, Dim, Format, Model, Op, TensorData, TensorRef, Weights};
    use crate::rule::ProbeSettings;

    /// x[N,4] -> first(x, W1[4,6]) -> Gemm(·, W2[6,3]); `first` is a Gemm in `domain` with `attrs`,
    /// and `c` a bias input that is a constant or (when false) a second graph input.
    fn two_layers(domain: &str, op_type: &str, attrs: Vec<(&str, Attr)>, const_c: bool) -> Model {
        let mut g = Graph::default();
        let value = |g: &mut Graph, name: &str, shape: Vec<Dim>| {
            let id = g.add_value(name);
            g.value_mut(id).shape = Some(shape);
            g.value_mut(id).dtype = Some(DType::F32);
            id
        };
        let weight = |g: &mut Graph, name: &str, dims: [u64; 2]| {
            let id = value(g, name, dims.iter().map(|&d| Dim::Fixed(d)).collect());
            g.value_mut(id).constant = Some(TensorRef {
                name: name.into(),
                dtype: DType::F32,
                dims: dims.iter().map(|&d| d as i64).collect(),
                data: TensorData::Absent,
            });
            id
        };
        let n = || Dim::Named("N".into());
        let x = value(&mut g, "x", vec![n(), Dim::Fixed(4)]);
        g.inputs.push(x);
        let w1 = weight(&mut g, "w1", [4, 6]);
        let c = if const_c {
            weight(&mut g, "c", [1, 6])
        } else {
            let c = value(&mut g, "c", vec![n(), Dim::Fixed(6)]);
            g.inputs.push(c);
            c
        };
        let h = value(&mut g, "h", vec![n(), Dim::Fixed(6)]);
        let w2 = weight(&mut g, "w2", [6, 3]);
        let y = value(&mut g, "y", vec![n(), Dim::Fixed(3)]);
        let op =
            |op_type: &str, domain: &str, inputs: Vec<ValueId>, out, attrs: Vec<(&str, Attr)>| Op {
                op_type: op_type.into(),
                domain: domain.into(),
                name: op_type.into(),
                inputs: inputs.into_iter().map(Some).collect(),
                outputs: vec![out],
                attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                origin: Default::default(),
            };
        g.ops.push(op(op_type, domain, vec![x, w1, c], h, attrs));
        g.value_mut(h).producer = Some(OpId(0));
        g.ops.push(op("Gemm", "", vec![h, w2], y, vec![]));
        g.value_mut(y).producer = Some(OpId(1));
        g.outputs.push(crate::ir::GraphOutput {
            value: y,
            intent: crate::ir::Intent::Unknown,
            intent_source: crate::ir::IntentSource::None,
            name_speaks: true,
        });
        Model {
            path: "model.onnx".into(),
            format: Format::Onnx,
            source_name: "model.onnx".into(),
            source_text: None,
            opset: 13,
            producer: String::new(),
            framework: Default::default(),
            graph: g,
            training: None,
            metadata: BTreeMap::new(),
            weights: Weights::Absent,
            assumed_widths: vec![],
            not_followed: vec![],
            syntax_errors: vec![],
            imported_sources: vec![],
            submodels: vec![],
            weights_provenance: Default::default(),
            source_map: None,
        }
    }

    fn fires(model: &Model) -> Vec<Check> {
        let probe = ProbeSettings::default();
        check(&RuleContext {
            model,
            probe: &probe,
        })
        .into_iter()
        .map(|d| d.check)
        .collect()
    }

    #[test]
    fn a_plain_gemm_pair_fires_and_is_confirmed_on_seeded_weights() {
        let found = fires(&two_layers("", "Gemm", vec![], true));
        assert_eq!(found.len(), 1);
        assert!(found[0].is_confirmed(), "{:?}", found[0]);
    }

    #[test]
    fn fused_activations_residual_bias_and_transposed_data_are_not_stacked() {
        let relu = vec![("activation", Attr::String("Relu".into()))];
        assert!(fires(&two_layers(ops::MICROSOFT, "FusedGemm", relu, true)).is_empty());
        assert!(fires(&two_layers("", "Gemm", vec![], false)).is_empty());
        let trans_a = vec![("transA", Attr::Int(1))];
        assert!(fires(&two_layers("", "Gemm", trans_a, true)).is_empty());
    }
}
