//! A softmax written by hand, `Exp(z) / ReduceSum(Exp(z), axes=[a], keepdims=1)` (torch's
//! `e / e.sum(dim, keepdim=True)`, Keras's `ops.exp(x) / ops.sum(ops.exp(x), axis, keepdims=True)`),
//! is rewritten into `Softmax(z, axis=a)` so every rule sees the softmax it is. The `Div` op is the one
//! rewritten (it keeps its name and origin, so findings point at the division the user wrote); the
//! `Exp` and `ReduceSum` stay in the graph, now only feeding each other.
//!
//! Before opset 13 ONNX's Softmax coerces its input to 2-D at `axis`, which equals a one-axis softmax
//! only over the last axis: there the rewrite needs the rank and is made only for the last axis.

use super::const_ints;
use crate::ir::{Attr, Graph};

/// Rewrites every hand-written softmax; returns how many.
pub fn rewrite(graph: &mut Graph, opset: i64) -> usize {
    let mut count = 0;
    for i in 0..graph.ops.len() {
        let Some((z, axis)) = matches(graph, i, opset) else {
            continue;
        };
        let op = &mut graph.ops[i];
        op.op_type = "Softmax".into();
        op.inputs = vec![Some(z)];
        op.attrs.clear();
        op.attrs.insert("axis".into(), Attr::Int(axis));
        count += 1;
    }
    count
}

/// `(z, axis)` when op `i` is the division of a hand-written softmax of `z`.
fn matches(graph: &Graph, i: usize, opset: i64) -> Option<(crate::ir::ValueId, i64)> {
    let div = &graph.ops[i];
    if !(div.is_default_domain() && div.op_type == "Div" && div.inputs.len() == 2) {
        return None;
    }
    let (num, den) = (div.input(0)?, div.input(1)?);
    let exp = graph
        .producer(num)
        .filter(|o| o.is_default_domain() && o.op_type == "Exp")?;
    let z = exp.input(0)?;
    let sum = graph
        .producer(den)
        .filter(|o| o.is_default_domain() && o.op_type == "ReduceSum" && o.input(0) == Some(num))?;
    if sum.attr_int("keepdims").unwrap_or(1) != 1 {
        return None;
    }
    let axes = if opset >= 13 {
        match sum.input(1) {
            Some(a) => const_ints(graph, a)?,
            None => sum.attr_ints("axes")?.to_vec(),
        }
    } else {
        sum.attr_ints("axes")?.to_vec()
    };
    let [axis] = axes[..] else {
        return None;
    };
    if opset < 13 {
        let rank = graph.value(z).shape.as_ref()?.len() as i64;
        if !(axis == -1 || axis == rank - 1) {
            return None;
        }
    }
    Some((z, axis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{DType, Dim, Op, Origin, TensorData, TensorRef, ValueId};

    fn push(g: &mut Graph, ty: &str, inputs: &[ValueId], attrs: Vec<(&str, Attr)>) -> ValueId {
        let out = g.add_value(format!("{ty}{}", g.ops.len()));
        g.value_mut(out).producer = Some(crate::ir::OpId(g.ops.len() as u32));
        g.ops.push(Op {
            op_type: ty.into(),
            domain: String::new(),
            name: ty.into(),
            inputs: inputs.iter().map(|&i| Some(i)).collect(),
            outputs: vec![out],
            attrs: attrs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            origin: Origin::default(),
        });
        out
    }

    fn graph(axis: i64, keep: i64, other_numerator: bool) -> Graph {
        let mut g = Graph::default();
        let z = g.add_value("z");
        g.value_mut(z).shape = Some(vec![Dim::Named("N".into()), Dim::Fixed(1)]);
        let axes = g.add_value("axes");
        g.value_mut(axes).constant = Some(TensorRef {
            name: "axes".into(),
            dtype: DType::I64,
            dims: vec![1],
            data: TensorData::Int64s(vec![axis].into()),
        });
        let e = push(&mut g, "Exp", &[z], vec![]);
        let s = push(
            &mut g,
            "ReduceSum",
            &[e, axes],
            vec![("keepdims", Attr::Int(keep))],
        );
        let num = if other_numerator { z } else { e };
        push(&mut g, "Div", &[num, s], vec![]);
        g
    }

    #[test]
    fn exp_over_its_keepdims_sum_becomes_softmax_on_the_div() {
        let mut g = graph(1, 1, false);
        assert_eq!(rewrite(&mut g, 17), 1);
        let div = &g.ops[2];
        assert_eq!(div.op_type, "Softmax");
        assert_eq!(div.name, "Div");
        assert_eq!(div.attr_int("axis"), Some(1));
        assert_eq!(div.inputs, vec![Some(ValueId(0))]);
    }

    #[test]
    fn other_divisions_are_left_alone() {
        for mut g in [graph(1, 0, false), graph(1, 1, true)] {
            assert_eq!(rewrite(&mut g, 17), 0);
            assert_eq!(g.ops[2].op_type, "Div");
        }
    }
}
