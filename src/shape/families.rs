//! Forward shape rules per op family: `infer_op` finds the op's family in `FAMILIES` and runs its
//! rule. A type listed nowhere gets no shape (unknown stays unknown).

use super::values::{self, Known};
use super::{
    broadcast, concat, const_floats, const_ints, conv, gemm, matmul, norm_axis, pool, product,
    reduce, reshape, resize, slice, squeeze, unsqueeze,
};
use crate::ir::{Attr, Dim, Graph, Op, Shape};

/// One op's inputs as the rules read them.
struct In<'a> {
    graph: &'a Graph,
    op: &'a Op,
    opset: i64,
    known: &'a Known,
}

impl In<'_> {
    /// Input `i`'s shape.
    fn shape(&self, i: usize) -> Option<Shape> {
        self.op
            .input(i)
            .and_then(|v| self.graph.value(v).shape.clone())
    }

    /// Input `i`'s integer values, folded or constant.
    fn ints(&self, i: usize) -> Option<Vec<i64>> {
        self.op
            .input(i)
            .and_then(|v| self.known.ints(v).or_else(|| const_ints(self.graph, v)))
    }

    /// Axes from input 1 from `opset` on, from the `axes` attribute before.
    fn axes_input_from(&self, opset: i64) -> Option<Vec<i64>> {
        if self.opset >= opset {
            self.ints(1)
        } else {
            self.op.attr_ints("axes").map(<[i64]>::to_vec)
        }
    }
}

/// The shape of each output (an entry per output the rule knows).
type Outputs = Vec<Option<Shape>>;

/// A family's rule.
type Rule = fn(&In) -> Outputs;

fn one(s: Option<Shape>) -> Outputs {
    vec![s]
}

/// Op types by family, with the family's rule (ONNX domain).
const FAMILIES: &[(&[&str], Rule)] = &[
    (
        &[
            "Relu",
            "Sigmoid",
            "Tanh",
            "Softmax",
            "LogSoftmax",
            "Log",
            "Exp",
            "Identity",
            "Dropout",
            "BatchNormalization",
            "Clip",
            "LeakyRelu",
            "Elu",
            "Selu",
            "HardSigmoid",
            "HardSwish",
            "Softplus",
            "Softsign",
            "Abs",
            "Neg",
            "Sqrt",
            "Reciprocal",
            "Cast",
            "Erf",
            "Gelu",
            "PRelu",
            "LRN",
            "LayerNormalization",
            "InstanceNormalization",
            "Floor",
            "Ceil",
            "Round",
            "Sign",
            "Not",
            "Hardmax",
            "Celu",
            "ThresholdedRelu",
            "Mish",
            "Sin",
            "Cos",
            "DequantizeLinear",
            "QuantizeLinear",
            "IsNaN",
            "IsInf",
            "Tan",
            "Atan",
            "Shrink",
        ],
        same_shape,
    ),
    (
        &[
            "Add",
            "Sub",
            "Mul",
            "Div",
            "Pow",
            "Equal",
            "Greater",
            "Less",
            "GreaterOrEqual",
            "LessOrEqual",
            "And",
            "Or",
            "Sum",
            "Max",
            "Min",
            "Mean",
            "Where",
            "Mod",
        ],
        broadcasting,
    ),
    (
        &[
            "MatMul",
            "Gemm",
            "Conv",
            "ConvInteger",
            "MatMulInteger",
            "QLinearMatMul",
            "QLinearConv",
        ],
        linear,
    ),
    (&["DynamicQuantizeLinear"], dynamic_quantize),
    (
        &[
            "MaxPool",
            "AveragePool",
            "LpPool",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "GlobalLpPool",
        ],
        pooling,
    ),
    (
        &[
            "Flatten",
            "Reshape",
            "Expand",
            "Transpose",
            "Concat",
            "Squeeze",
            "Unsqueeze",
            "Slice",
            "Gather",
        ],
        data_movement,
    ),
    (
        &[
            "ReduceMean",
            "ReduceSum",
            "ReduceMax",
            "ReduceMin",
            "ReduceProd",
            "ReduceL2",
            "ReduceL1",
            "ReduceLogSumExp",
            "ReduceSumSquare",
            "ArgMax",
            "ArgMin",
        ],
        reduction,
    ),
    (
        &["Shape", "ConstantOfShape", "Range", "Constant"],
        shape_computation,
    ),
    (&["Resize", "Upsample"], resizing),
];

/// The shapes of `op`'s outputs, as far as its inputs prove them.
pub(super) fn infer_op(graph: &Graph, op: &Op, opset: i64, known: &Known) -> Outputs {
    let x = In {
        graph,
        op,
        opset,
        known,
    };
    if !op.is_default_domain() {
        return contrib(&x);
    }
    let t = op.op_type.as_str();
    match FAMILIES.iter().find(|(types, _)| types.contains(&t)) {
        Some((_, rule)) => rule(&x),
        None => vec![],
    }
}

/// Elementwise ops of one input (activations, normalisations, casts): the input's shape.
fn same_shape(x: &In) -> Outputs {
    one(x.shape(0))
}

/// Elementwise ops of several inputs: numpy broadcasting of all of them.
fn broadcasting(x: &In) -> Outputs {
    let mut acc: Option<Shape> = Some(vec![]);
    for i in 0..x.op.inputs.len() {
        acc = match (acc, x.shape(i)) {
            (Some(a), Some(b)) => broadcast(&a, &b),
            _ => None,
        };
    }
    one(acc)
}

/// Linear layers, float, integer and quantized.
fn linear(x: &In) -> Outputs {
    let op = x.op;
    match op.op_type.as_str() {
        "MatMul" | "MatMulInteger" => one(matmul(x.shape(0), x.shape(1))),
        "Gemm" => one(gemm(op, x.shape(0), x.shape(1))),
        "Conv" | "ConvInteger" => one(conv(op, x.shape(0), x.shape(1))),
        "QLinearMatMul" => one(matmul(x.shape(0), x.shape(3))),
        "QLinearConv" => one(conv(op, x.shape(0), x.shape(3))),
        _ => vec![],
    }
}

/// `DynamicQuantizeLinear`: the quantized tensor, its scale and its zero point (scalars).
fn dynamic_quantize(x: &In) -> Outputs {
    vec![x.shape(0), Some(vec![]), Some(vec![])]
}

/// Windowed and global pooling.
fn pooling(x: &In) -> Outputs {
    match x.op.op_type.as_str() {
        "MaxPool" | "AveragePool" | "LpPool" => one(pool(x.op, x.shape(0))),
        _ => one(x.shape(0).and_then(|s| {
            (s.len() >= 2).then(|| {
                let mut out = s[..2].to_vec();
                out.extend(std::iter::repeat_n(Dim::Fixed(1), s.len() - 2));
                out
            })
        })),
    }
}

/// Ops that move, select or regroup elements without computing them.
fn data_movement(x: &In) -> Outputs {
    let (graph, op, known) = (x.graph, x.op, x.known);
    match op.op_type.as_str() {
        "Flatten" => one(x.shape(0).and_then(|s| {
            let axis = norm_axis(op.attr_int("axis").unwrap_or(1), s.len() + 1)?;
            Some(vec![product(&s[..axis]), product(&s[axis..])])
        })),
        "Reshape" => one(
            match op.input(1).and_then(|t| known.elems_or_const(graph, t)) {
                Some(target) => values::reshape(graph, op, &target),
                None => reshape(op, x.shape(0), x.ints(1)),
            },
        ),
        "Expand" => one(
            match (
                x.shape(0),
                op.input(1).and_then(|t| known.elems_or_const(graph, t)),
            ) {
                (Some(s), Some(target)) => broadcast(&s, &values::as_dims(graph, &target)),
                _ => None,
            },
        ),
        "Slice" => one(x
            .shape(0)
            .and_then(|s| slice(op, x.opset, &s, &|i| x.ints(i)))),
        "Transpose" => one(x.shape(0).and_then(|s| {
            let perm: Vec<i64> = match op.attr_ints("perm") {
                Some(p) => p.to_vec(),
                None => (0..s.len() as i64).rev().collect(),
            };
            if perm.len() != s.len() {
                return None;
            }
            perm.iter()
                .map(|&p| usize::try_from(p).ok().and_then(|p| s.get(p).cloned()))
                .collect()
        })),
        "Concat" => {
            let shapes: Option<Vec<Shape>> = (0..op.inputs.len()).map(|i| x.shape(i)).collect();
            one(shapes.and_then(|shapes| concat(op, &shapes)))
        }
        "Squeeze" => {
            let axes = x.axes_input_from(13);
            one(x.shape(0).and_then(|s| squeeze(&s, axes)))
        }
        "Unsqueeze" => {
            let axes = x.axes_input_from(13);
            one(x.shape(0).and_then(|s| unsqueeze(&s, axes?)))
        }
        "Gather" => one(match (x.shape(0), x.shape(1)) {
            (Some(d), Some(i)) => norm_axis(op.attr_int("axis").unwrap_or(0), d.len()).map(|a| {
                let mut out = d[..a].to_vec();
                out.extend(i);
                out.extend_from_slice(&d[a + 1..]);
                out
            }),
            _ => None,
        }),
        _ => vec![],
    }
}

/// Reductions over axes (and `ArgMax`/`ArgMin` over one).
fn reduction(x: &In) -> Outputs {
    let (op, opset) = (x.op, x.opset);
    let keep = op.attr_int("keepdims").unwrap_or(1) != 0;
    let axes = if op.op_type.starts_with("Arg") {
        Some(vec![op.attr_int("axis").unwrap_or(0)])
    } else if op.op_type == "ReduceSum" && opset >= 13 || opset >= 18 {
        x.ints(1)
            .or_else(|| op.attr_ints("axes").map(<[i64]>::to_vec))
    } else {
        op.attr_ints("axes").map(<[i64]>::to_vec)
    };
    one(x.shape(0).and_then(|s| reduce(&s, axes, keep)))
}

/// Ops whose output shape is a value: shape computations and constants.
fn shape_computation(x: &In) -> Outputs {
    let (graph, op, known) = (x.graph, x.op, x.known);
    match op.op_type.as_str() {
        "Shape" => one(x.shape(0).map(|s| {
            let (a, b) = values::shape_range(op, s.len());
            vec![Dim::Fixed(b.saturating_sub(a) as u64)]
        })),
        "ConstantOfShape" => one(op
            .input(0)
            .and_then(|v| known.elems_or_const(graph, v))
            .map(|e| values::as_dims(graph, &e))),
        "Range" => one(op
            .outputs
            .first()
            .and_then(|&o| known.elems(o))
            .map(|e| vec![Dim::Fixed(e.len() as u64)])),
        "Constant" => one(match op.attrs.get("value") {
            Some(Attr::Tensor(t)) => Some(
                t.dims
                    .iter()
                    .map(|&d| u64::try_from(d).map_or(Dim::Unknown, Dim::Fixed))
                    .collect(),
            ),
            _ => None,
        }),
        _ => vec![],
    }
}

/// `Resize` and `Upsample` by constant scales or sizes.
fn resizing(x: &In) -> Outputs {
    let (graph, op) = (x.graph, x.op);
    let scales_at = if op.op_type == "Upsample" || x.opset < 11 {
        1
    } else {
        2
    };
    let scales = op.input(scales_at).and_then(|v| const_floats(graph, v));
    let sizes = op
        .input(3)
        .and_then(|v| const_ints(graph, v))
        .filter(|s| !s.is_empty());
    one(x.shape(0).and_then(|s| resize(&s, scales, sizes)))
}

/// Shapes of the onnxruntime contrib ops (`com.microsoft`) that appear in optimised heads.
fn contrib(x: &In) -> Outputs {
    let (op, shape) = (x.op, |i| x.shape(i));
    if op.domain != "com.microsoft" {
        return vec![];
    }
    match op.op_type.as_str() {
        "FusedGemm" => one(gemm(op, shape(0), shape(1))),
        "FusedMatMul" => {
            let t = |s: Option<Shape>, attr: &str| -> Option<Shape> {
                let mut s = s?;
                if op.attr_int(attr).unwrap_or(0) != 0 {
                    let n = s.len();
                    if n < 2 {
                        return None;
                    }
                    s.swap(n - 1, n - 2);
                }
                Some(s)
            };
            one(matmul(t(shape(0), "transA"), t(shape(1), "transB")))
        }
        "MatMulIntegerToFloat" | "DynamicQuantizeMatMul" => one(matmul(shape(0), shape(1))),
        "FusedConv" => one(conv(op, shape(0), shape(1))),
        "BiasGelu" | "FastGelu" | "QuickGelu" | "Gelu" | "BiasAdd" => one(shape(0)),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_op_type_is_in_one_family() {
        let mut seen = std::collections::HashSet::new();
        for (types, _) in FAMILIES {
            for t in *types {
                assert!(seen.insert(*t), "{t} is in two families");
            }
        }
        assert!(seen.len() > 100, "{}", seen.len());
    }
}
