//! Declared shapes flowing backwards: a graph output (or value_info) the file declares as `[N, 1]`
//! tells the input of a shape-preserving op (activation, Cast, Identity, Dropout, Clip, ...) and of an
//! elementwise op with a broadcast-neutral operand (a bias of size 1) its shape. Only unknown dims
//! (or an unknown rank) are filled; nothing known is replaced.

use crate::ir::{Dim, Graph, Op, Shape, ValueId};

/// Ops whose first output has exactly their first input's shape.
pub fn preserves_shape(op: &Op) -> bool {
    if op.domain == "com.microsoft" {
        return matches!(op.op_type.as_str(), "Gelu" | "FastGelu" | "QuickGelu");
    }
    op.is_default_domain()
        && matches!(
            op.op_type.as_str(),
            "Relu"
                | "Sigmoid"
                | "Tanh"
                | "Softmax"
                | "LogSoftmax"
                | "Hardmax"
                | "Log"
                | "Exp"
                | "Identity"
                | "Dropout"
                | "Clip"
                | "Cast"
                | "LeakyRelu"
                | "Elu"
                | "Selu"
                | "Celu"
                | "HardSigmoid"
                | "HardSwish"
                | "Softplus"
                | "Softsign"
                | "ThresholdedRelu"
                | "Mish"
                | "Gelu"
                | "PRelu"
                | "Abs"
                | "Neg"
                | "Sqrt"
                | "Reciprocal"
                | "Erf"
                | "Floor"
                | "Ceil"
                | "Round"
                | "Sign"
                | "Sin"
                | "Cos"
                | "BatchNormalization"
                | "LayerNormalization"
                | "InstanceNormalization"
                | "LRN"
                | "QuantizeLinear"
                | "DequantizeLinear"
        )
}

/// One backward pass over the graph, last op first.
pub fn propagate(graph: &mut Graph) {
    for i in (0..graph.ops.len()).rev() {
        let op = &graph.ops[i];
        let Some(out) = op
            .outputs
            .first()
            .and_then(|&o| graph.value(o).shape.clone())
        else {
            continue;
        };
        let mut updates: Vec<(ValueId, Shape)> = vec![];
        if preserves_shape(op) {
            if let Some(x) = op.input(0) {
                updates.push((x, out));
            }
        } else if op.is_default_domain()
            && matches!(op.op_type.as_str(), "Add" | "Sub" | "Mul" | "Div" | "Pow")
            && op.inputs.len() == 2
        {
            for k in 0..2 {
                let (Some(x), Some(other)) = (op.input(k), op.input(1 - k)) else {
                    continue;
                };
                let Some(o) = graph.value(other).shape.as_ref() else {
                    continue;
                };
                let x_rank = graph.value(x).shape.as_ref().map(Vec::len);
                if let Some(c) = through_neutral(&out, o, x_rank) {
                    updates.push((x, c));
                }
            }
        }
        for (v, cand) in updates {
            sharpen(graph, v, &cand);
        }
    }
}

/// What `out = x ∘ other` says about `x`: positions where `other` is absent or 1 carry `out`'s dim.
fn through_neutral(out: &Shape, other: &Shape, x_rank: Option<usize>) -> Option<Shape> {
    if other.len() > out.len() {
        return None;
    }
    // x's rank is out's unless other alone reaches it.
    match x_rank {
        Some(r) if r != out.len() => return None,
        None if other.len() == out.len() => return None,
        _ => {}
    }
    let pad = out.len() - other.len();
    Some(
        out.iter()
            .enumerate()
            .map(|(i, d)| {
                if i < pad || other[i - pad] == Dim::Fixed(1) {
                    d.clone()
                } else {
                    Dim::Unknown
                }
            })
            .collect(),
    )
}

fn sharpen(graph: &mut Graph, v: ValueId, cand: &Shape) {
    let value = graph.value_mut(v);
    if value.constant.is_some() {
        return;
    }
    match &mut value.shape {
        None => value.shape = Some(cand.clone()),
        Some(s) if s.len() == cand.len() => {
            for (d, c) in s.iter_mut().zip(cand) {
                if *d == Dim::Unknown && *c != Dim::Unknown {
                    *d = c.clone();
                }
            }
        }
        Some(_) => {}
    }
}
