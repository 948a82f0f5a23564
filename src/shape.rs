//! Static shape inference over the IR: fills in value shapes where the op semantics determine them.
//! Unknown stays unknown: a dim is only `Fixed` when the inputs prove it, and a rank is only known when
//! the op's rule gives it. Shapes the file declares are kept and only sharpened (an unknown dim becomes
//! fixed when inference proves its size).

mod backward;
mod families;
pub mod handmade_softmax;
pub mod values;

use crate::ir::{Attr, DType, Dim, Graph, Op, Shape, TensorData, ValueId};

/// Infers shapes for every op, in graph order (ops are topologically sorted), propagating the values
/// of small integer tensors (shape computations: `Shape` → `Gather`/`Slice` → `Concat` → `Reshape`)
/// and carrying declared shapes backwards through shape-preserving ops, until nothing changes.
pub fn infer(graph: &mut Graph, opset: i64) {
    for value in &mut graph.values {
        if let Some(c) = &value.constant {
            if value.shape.is_none() {
                value.shape = Some(
                    c.dims
                        .iter()
                        .map(|&d| u64::try_from(d).map_or(Dim::Unknown, Dim::Fixed))
                        .collect(),
                );
            }
            if value.dtype.is_none() {
                value.dtype = Some(c.dtype);
            }
        }
    }
    // Opset-13 hand-written softmaxes need no shapes; older ones need the rank, so the rewrite runs
    // again after inference.
    handmade_softmax::rewrite(graph, opset);
    let mut known = values::Known::default();
    // Each pass only sharpens (an unknown dim becomes known, an unknown rank becomes known), so the
    // loop ends; the bound keeps a pathological graph linear.
    for _ in 0..MAX_PASSES {
        let before = fingerprint(graph, &known);
        forward(graph, opset, &mut known);
        backward::propagate(graph);
        if fingerprint(graph, &known) == before {
            break;
        }
    }
    if opset < 13 && handmade_softmax::rewrite(graph, opset) > 0 {
        forward(graph, opset, &mut known);
    }
}

const MAX_PASSES: usize = 6;

/// A cheap measure of how much is known: every pass can only raise it.
fn fingerprint(graph: &Graph, known: &values::Known) -> (usize, usize, usize) {
    let mut ranks = 0;
    let mut dims = 0;
    for v in &graph.values {
        if let Some(s) = &v.shape {
            ranks += 1;
            dims += s.iter().filter(|d| !matches!(d, Dim::Unknown)).count();
        }
    }
    (ranks, dims, known.amount())
}

fn forward(graph: &mut Graph, opset: i64, known: &mut values::Known) {
    for i in 0..graph.ops.len() {
        let op = &graph.ops[i];
        values::fold(graph, op, opset, known);
        let inferred = families::infer_op(graph, op, opset, known);
        let dtype = infer_dtype(graph, op);
        let outputs = op.outputs.clone();
        for (k, out) in outputs.into_iter().enumerate() {
            let value = graph.value_mut(out);
            if let Some(Some(shape)) = inferred.get(k) {
                value.shape = Some(match value.shape.take() {
                    None => shape.clone(),
                    Some(declared) => merge(declared, shape),
                });
            }
            if k == 0 && value.dtype.is_none() {
                value.dtype = dtype;
            }
        }
    }
}

pub(crate) fn merge(declared: Shape, inferred: &Shape) -> Shape {
    if declared.len() != inferred.len() {
        return declared;
    }
    declared
        .into_iter()
        .zip(inferred)
        .map(|(d, i)| match (&d, i) {
            (Dim::Fixed(_), _) => d,
            (_, Dim::Fixed(_)) => i.clone(),
            (Dim::Named(_), _) => d,
            _ => i.clone(),
        })
        .collect()
}

fn infer_dtype(graph: &Graph, op: &Op) -> Option<DType> {
    match op.op_type.as_str() {
        "Shape" | "ArgMax" | "ArgMin" | "NonZero" => Some(DType::I64),
        "Equal" | "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "Not" | "And" | "Or" => {
            Some(DType::Bool)
        }
        "Cast" => op.attr_int("to").and_then(|c| DType::from_onnx(c as i32)),
        "Constant" => None,
        "DequantizeLinear" => op
            .input(1)
            .and_then(|v| graph.value(v).dtype)
            .or(Some(DType::F32)),
        "QuantizeLinear" => op
            .input(2)
            .and_then(|v| graph.value(v).dtype)
            .or(Some(DType::U8)),
        "DynamicQuantizeLinear" => Some(DType::U8),
        "MatMulInteger" | "ConvInteger" => Some(DType::I32),
        "Range" => op.input(0).and_then(|v| graph.value(v).dtype),
        "ConstantOfShape" => match op.attrs.get("value") {
            Some(Attr::Tensor(t)) => Some(t.dtype),
            _ => Some(DType::F32),
        },
        "Where" => op.input(1).and_then(|v| graph.value(v).dtype),
        _ => op.input(0).and_then(|v| graph.value(v).dtype),
    }
}

/// Output shapes of one op (index = output index); `None` where unknown.
fn gemm(op: &Op, a: Option<Shape>, b: Option<Shape>) -> Option<Shape> {
    let (a, b) = (a?, b?);
    if a.len() != 2 || b.len() != 2 {
        return None;
    }
    let m = if op.attr_int("transA").unwrap_or(0) != 0 {
        &a[1]
    } else {
        &a[0]
    };
    let n = if op.attr_int("transB").unwrap_or(0) != 0 {
        &b[0]
    } else {
        &b[1]
    };
    Some(vec![m.clone(), n.clone()])
}

/// Slice of a tensor whose starts/ends (and axes, steps) are known integers.
fn slice(
    op: &Op,
    opset: i64,
    x: &Shape,
    ints: &dyn Fn(usize) -> Option<Vec<i64>>,
) -> Option<Shape> {
    let (starts, ends, axes, steps) = if opset < 10 {
        (
            op.attr_ints("starts")?.to_vec(),
            op.attr_ints("ends")?.to_vec(),
            op.attr_ints("axes").map(<[i64]>::to_vec),
            None,
        )
    } else {
        let has = |i: usize| op.input(i).is_some();
        (
            ints(1)?,
            ints(2)?,
            if has(3) { Some(ints(3)?) } else { None },
            if has(4) { Some(ints(4)?) } else { None },
        )
    };
    if starts.len() != ends.len() {
        return None;
    }
    let axes: Vec<i64> = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if axes.len() != starts.len() || steps.len() != starts.len() {
        return None;
    }
    let mut out = x.clone();
    for k in 0..starts.len() {
        let a = norm_axis(axes[k], x.len())?;
        out[a] = match x[a] {
            Dim::Fixed(n) => {
                Dim::Fixed(values::slice_len(n as i64, starts[k], ends[k], steps[k])? as u64)
            }
            _ => Dim::Unknown,
        };
    }
    Some(out)
}

/// Reads a small int64/int32 constant (shape operands such as Reshape's target or Squeeze's axes).
pub fn const_ints(graph: &Graph, id: ValueId) -> Option<Vec<i64>> {
    let t = graph.value(id).constant.as_ref()?;
    if t.element_count()? > 64 {
        return None;
    }
    match (&t.data, t.dtype) {
        (TensorData::Int64s(v), _) => Some(v.to_vec()),
        (TensorData::Int32s(v), _) => Some(v.iter().map(|&x| x as i64).collect()),
        (TensorData::Raw(b), DType::I64) => Some(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        (TensorData::Raw(b), DType::I32) => Some(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i64)
                .collect(),
        ),
        _ => None,
    }
}

/// Reads a small float constant (Resize scales).
fn const_floats(graph: &Graph, id: ValueId) -> Option<Vec<f32>> {
    let t = graph.value(id).constant.as_ref()?;
    if t.element_count()? > 64 {
        return None;
    }
    match (&t.data, t.dtype) {
        (TensorData::Floats(v), _) => Some(v.to_vec()),
        (TensorData::Raw(b), DType::F32) => Some(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
                .collect(),
        ),
        _ => None,
    }
}

fn resize(s: &Shape, scales: Option<Vec<f32>>, sizes: Option<Vec<i64>>) -> Option<Shape> {
    if let Some(sizes) = sizes {
        return (sizes.len() == s.len()).then(|| {
            sizes
                .iter()
                .map(|&n| u64::try_from(n).map_or(Dim::Unknown, Dim::Fixed))
                .collect()
        });
    }
    let scales = scales.filter(|sc| sc.len() == s.len())?;
    Some(
        s.iter()
            .zip(scales)
            .map(|(d, sc)| match d {
                _ if sc == 1.0 => d.clone(),
                Dim::Fixed(n) if sc.is_finite() && sc > 0.0 => {
                    Dim::Fixed((*n as f64 * sc as f64).floor() as u64)
                }
                _ => Dim::Unknown,
            })
            .collect(),
    )
}

/// Normalises a possibly negative axis against `rank`.
pub fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

pub(crate) fn product(dims: &[Dim]) -> Dim {
    let mut acc = 1u64;
    for d in dims {
        match d {
            Dim::Fixed(n) => acc = acc.saturating_mul(*n),
            _ if dims.len() == 1 => return d.clone(),
            _ => return Dim::Unknown,
        }
    }
    Dim::Fixed(acc)
}

/// Multidirectional (numpy) broadcast of two shapes; a dim two known sizes disagree on is unknown.
pub fn broadcast(a: &Shape, b: &Shape) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let at = |s: &Shape, i: usize| -> Dim {
        let pad = rank - s.len();
        if i < pad {
            Dim::Fixed(1)
        } else {
            s[i - pad].clone()
        }
    };
    Some(
        (0..rank)
            .map(|i| match (at(a, i), at(b, i)) {
                (x, y) if x == y => x,
                (Dim::Fixed(1), y) => y,
                (x, Dim::Fixed(1)) => x,
                (Dim::Fixed(x), Dim::Fixed(y)) if x != y => Dim::Unknown,
                (Dim::Fixed(x), _) | (_, Dim::Fixed(x)) => Dim::Fixed(x),
                _ => Dim::Unknown,
            })
            .collect(),
    )
}

pub(crate) fn matmul(a: Option<Shape>, b: Option<Shape>) -> Option<Shape> {
    let (mut a, mut b) = (a?, b?);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (a1, b1) = (a.len() == 1, b.len() == 1);
    if a1 {
        a.insert(0, Dim::Fixed(1));
    }
    if b1 {
        b.push(Dim::Fixed(1));
    }
    let batch = broadcast(&a[..a.len() - 2].to_vec(), &b[..b.len() - 2].to_vec())?;
    let mut out = batch;
    if !a1 {
        out.push(a[a.len() - 2].clone());
    }
    if !b1 {
        out.push(b[b.len() - 1].clone());
    }
    Some(out)
}

/// Per spatial axis: kernel size (if known), stride, dilation, pad at the start, pad at the end.
type SpatialAxis = (Option<u64>, u64, u64, u64, u64);

fn spatial_attrs(op: &Op, n: usize, kernel: &[Option<u64>]) -> Option<Vec<SpatialAxis>> {
    let get = |name: &str, default: i64| -> Option<Vec<i64>> {
        match op.attr_ints(name) {
            Some(v) => Some(v.to_vec()),
            None => Some(vec![default; n]),
        }
    };
    let strides = get("strides", 1)?;
    let dil = get("dilations", 1)?;
    let pads = op.attr_ints("pads").map_or(vec![0; 2 * n], <[i64]>::to_vec);
    if strides.len() != n || dil.len() != n || pads.len() != 2 * n || kernel.len() != n {
        return None;
    }
    let mut out = vec![];
    for i in 0..n {
        let s = u64::try_from(strides[i]).ok().filter(|&s| s > 0)?;
        let d = u64::try_from(dil[i]).ok().filter(|&d| d > 0)?;
        let pb = u64::try_from(pads[i]).ok()?;
        let pe = u64::try_from(pads[i + n]).ok()?;
        out.push((kernel[i], s, d, pb, pe));
    }
    Some(out)
}

fn spatial_out(op: &Op, input: &Shape, kernel: &[Option<u64>], ceil: bool) -> Option<Vec<Dim>> {
    let n = input.len().checked_sub(2)?;
    let attrs = spatial_attrs(op, n, kernel)?;
    let auto_pad = op.attr_str("auto_pad").unwrap_or("NOTSET");
    let mut out = vec![];
    for (i, (k, s, d, pb, pe)) in attrs.into_iter().enumerate() {
        let Dim::Fixed(x) = input[i + 2] else {
            out.push(Dim::Unknown);
            continue;
        };
        let dim = match auto_pad {
            "SAME_UPPER" | "SAME_LOWER" => x.div_ceil(s),
            "VALID" => {
                let eff = d.checked_mul(k?.checked_sub(1)?)?.checked_add(1)?;
                x.checked_sub(eff)? / s + 1
            }
            _ => {
                let eff = d.checked_mul(k?.checked_sub(1)?)?.checked_add(1)?;
                let span = x.checked_add(pb)?.checked_add(pe)?.checked_sub(eff)?;
                if ceil {
                    span.div_ceil(s) + 1
                } else {
                    span / s + 1
                }
            }
        };
        out.push(Dim::Fixed(dim));
    }
    Some(out)
}

fn conv(op: &Op, x: Option<Shape>, w: Option<Shape>) -> Option<Shape> {
    let w = w?;
    // Without the input's shape the rank and the channel count still follow from the weights.
    let x = x.unwrap_or_else(|| vec![Dim::Unknown; w.len()]);
    if x.len() < 3 || w.len() != x.len() {
        return None;
    }
    let kernel: Vec<Option<u64>> = match op.attr_ints("kernel_shape") {
        Some(k) => k.iter().map(|&k| u64::try_from(k).ok()).collect(),
        None => w[2..].iter().map(Dim::fixed).collect(),
    };
    let mut out = vec![x[0].clone(), w[0].clone()];
    out.extend(spatial_out(op, &x, &kernel, false)?);
    Some(out)
}

fn pool(op: &Op, x: Option<Shape>) -> Option<Shape> {
    let x = x?;
    let kernel: Vec<Option<u64>> = op
        .attr_ints("kernel_shape")?
        .iter()
        .map(|&k| u64::try_from(k).ok())
        .collect();
    let ceil = op.attr_int("ceil_mode").unwrap_or(0) != 0;
    let mut out = x.get(..2)?.to_vec();
    out.extend(spatial_out(op, &x, &kernel, ceil)?);
    Some(out)
}

fn reshape(op: &Op, input: Option<Shape>, target: Option<Vec<i64>>) -> Option<Shape> {
    let target = target?;
    let allow_zero = op.attr_int("allowzero").unwrap_or(0) != 0;
    let mut out: Vec<Dim> = vec![];
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        out.push(match t {
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                Dim::Unknown
            }
            0 if !allow_zero => input.as_ref()?.get(i)?.clone(),
            t if t >= 0 => Dim::Fixed(t as u64),
            _ => return None,
        });
    }
    if let Some(at) = infer_at {
        let total = input.as_ref().and_then(|s| checked_product(s.iter()));
        let known: Option<u64> = checked_product(
            out.iter()
                .enumerate()
                .filter(|(i, _)| *i != at)
                .map(|(_, d)| d),
        );
        if let (Some(total), Some(known)) = (total, known)
            && known > 0
            && total % known == 0
        {
            out[at] = Dim::Fixed(total / known);
        } else if let Some(input) = &input {
            // [batch, ...] → [-1, fixed...] keeps the symbolic batch when the rest matches.
            let rest_in: Option<u64> = checked_product(input.iter().skip(1));
            if at == 0 && known == rest_in && matches!(input.first(), Some(Dim::Named(_))) {
                out[0] = input[0].clone();
            }
        }
    }
    Some(out)
}

/// Product of fixed dims; `None` when one is not fixed or the product overflows.
fn checked_product<'a>(dims: impl Iterator<Item = &'a Dim>) -> Option<u64> {
    dims.into_iter()
        .try_fold(1u64, |acc, d| d.fixed().and_then(|n| acc.checked_mul(n)))
}

fn concat(op: &Op, shapes: &[Shape]) -> Option<Shape> {
    let first = shapes.first()?;
    let axis = norm_axis(op.attr_int("axis")?, first.len())?;
    let mut out = first.clone();
    let mut total = Some(0u64);
    for s in shapes {
        if s.len() != first.len() {
            return None;
        }
        total = total
            .zip(s[axis].fixed())
            .and_then(|(a, b)| a.checked_add(b));
    }
    out[axis] = total.map_or(Dim::Unknown, Dim::Fixed);
    Some(out)
}

fn squeeze(s: &Shape, axes: Option<Vec<i64>>) -> Option<Shape> {
    match axes {
        Some(axes) => {
            let axes: Option<Vec<usize>> = axes.iter().map(|&a| norm_axis(a, s.len())).collect();
            let axes = axes?;
            Some(
                s.iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, d)| d.clone())
                    .collect(),
            )
        }
        None => {
            if s.iter().any(|d| d.fixed().is_none()) {
                return None;
            }
            Some(s.iter().filter(|d| **d != Dim::Fixed(1)).cloned().collect())
        }
    }
}

fn unsqueeze(s: &Shape, axes: Vec<i64>) -> Option<Shape> {
    let rank = s.len() + axes.len();
    let mut axes: Vec<usize> = axes
        .iter()
        .map(|&a| norm_axis(a, rank))
        .collect::<Option<_>>()?;
    axes.sort_unstable();
    let mut out = s.clone();
    for a in axes {
        if a > out.len() {
            return None;
        }
        out.insert(a, Dim::Fixed(1));
    }
    Some(out)
}

/// Shape of a reduction over `axes` (`None` or empty: all axes).
pub fn reduce(s: &Shape, axes: Option<Vec<i64>>, keep: bool) -> Option<Shape> {
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&a| norm_axis(a, s.len()))
            .collect::<Option<_>>()?,
        _ => (0..s.len()).collect(),
    };
    Some(
        s.iter()
            .enumerate()
            .filter_map(|(i, d)| match (axes.contains(&i), keep) {
                (true, true) => Some(Dim::Fixed(1)),
                (true, false) => None,
                (false, _) => Some(d.clone()),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Op, Origin};
    use std::collections::BTreeMap;

    fn op(graph: &mut Graph, ty: &str, inputs: &[ValueId], attrs: Vec<(&str, Attr)>) -> ValueId {
        let out = graph.add_value(format!("{ty}_out{}", graph.ops.len()));
        graph.ops.push(Op {
            op_type: ty.into(),
            domain: String::new(),
            name: ty.into(),
            inputs: inputs.iter().map(|&i| Some(i)).collect(),
            outputs: vec![out],
            attrs: attrs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
            origin: Origin::default(),
        });
        out
    }

    fn input(graph: &mut Graph, name: &str, dims: Vec<Dim>) -> ValueId {
        let v = graph.add_value(name);
        graph.value_mut(v).shape = Some(dims);
        v
    }

    #[test]
    fn classifier_head_shapes_flow_through_conv_pool_flatten_gemm_softmax() {
        let mut g = Graph::default();
        let x = input(
            &mut g,
            "x",
            vec![
                Dim::Named("batch".into()),
                Dim::Fixed(3),
                Dim::Fixed(8),
                Dim::Fixed(8),
            ],
        );
        let w = input(
            &mut g,
            "w",
            vec![Dim::Fixed(4), Dim::Fixed(3), Dim::Fixed(3), Dim::Fixed(3)],
        );
        let c = op(
            &mut g,
            "Conv",
            &[x, w],
            vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))],
        );
        let p = op(
            &mut g,
            "MaxPool",
            &[c],
            vec![
                ("kernel_shape", Attr::Ints(vec![2, 2])),
                ("strides", Attr::Ints(vec![2, 2])),
            ],
        );
        let f = op(&mut g, "Flatten", &[p], vec![]);
        let b = input(&mut g, "b", vec![Dim::Fixed(1), Dim::Fixed(64)]);
        let y = op(&mut g, "Gemm", &[f, b], vec![("transB", Attr::Int(1))]);
        let s = op(&mut g, "Softmax", &[y], vec![]);
        infer(&mut g, 17);
        assert_eq!(
            g.value(c).shape,
            Some(vec![
                Dim::Named("batch".into()),
                Dim::Fixed(4),
                Dim::Fixed(8),
                Dim::Fixed(8)
            ])
        );
        assert_eq!(
            g.value(p).shape.as_ref().map(|s| s[2].clone()),
            Some(Dim::Fixed(4))
        );
        assert_eq!(
            g.value(f).shape,
            Some(vec![Dim::Named("batch".into()), Dim::Fixed(64)])
        );
        assert_eq!(
            g.value(s).shape,
            Some(vec![Dim::Named("batch".into()), Dim::Fixed(1)])
        );
    }

    #[test]
    fn unknown_inputs_stay_unknown() {
        let mut g = Graph::default();
        let x = g.add_value("x");
        let y = op(&mut g, "Relu", &[x], vec![]);
        let z = op(&mut g, "MyCustomOp", &[y], vec![]);
        infer(&mut g, 17);
        assert_eq!(g.value(y).shape, None);
        assert_eq!(g.value(z).shape, None);
    }

    #[test]
    fn broadcast_mismatch_is_unknown_not_guessed() {
        let a = vec![Dim::Fixed(3), Dim::Fixed(4)];
        let b = vec![Dim::Fixed(5), Dim::Fixed(4)];
        assert_eq!(broadcast(&a, &b), Some(vec![Dim::Unknown, Dim::Fixed(4)]));
    }

    #[test]
    fn declared_shapes_are_sharpened_not_replaced() {
        let declared = vec![Dim::Named("N".into()), Dim::Unknown];
        let inferred = vec![Dim::Unknown, Dim::Fixed(1)];
        assert_eq!(
            merge(declared, &inferred),
            vec![Dim::Named("N".into()), Dim::Fixed(1)]
        );
    }

    fn int_const(graph: &mut Graph, name: &str, vals: &[i64], dims: Vec<i64>) -> ValueId {
        let v = graph.add_value(name);
        graph.value_mut(v).constant = Some(crate::ir::TensorRef {
            name: name.into(),
            dtype: DType::I64,
            dims,
            data: TensorData::Int64s(vals.to_vec().into()),
        });
        v
    }

    fn named(n: &str) -> Dim {
        Dim::Named(n.into())
    }

    /// torch's `x.view(x.size(0), -1)`: Shape → Gather(0) → Unsqueeze → Concat([N], [-1]) → Reshape.
    #[test]
    fn torch_view_flatten_keeps_the_batch_symbol_and_resolves_minus_one() {
        let mut g = Graph::default();
        let x = input(
            &mut g,
            "x",
            vec![named("batch"), Dim::Fixed(6), Dim::Fixed(5), Dim::Fixed(5)],
        );
        let sh = op(&mut g, "Shape", &[x], vec![]);
        let zero = int_const(&mut g, "zero", &[0], vec![]);
        let n = op(&mut g, "Gather", &[sh, zero], vec![("axis", Attr::Int(0))]);
        let axes = int_const(&mut g, "axes", &[0], vec![1]);
        let n1 = op(&mut g, "Unsqueeze", &[n, axes], vec![]);
        let minus = int_const(&mut g, "minus", &[-1], vec![1]);
        let target = op(&mut g, "Concat", &[n1, minus], vec![("axis", Attr::Int(0))]);
        let r = op(&mut g, "Reshape", &[x, target], vec![]);
        infer(&mut g, 17);
        assert_eq!(
            g.value(r).shape,
            Some(vec![named("batch"), Dim::Fixed(150)])
        );
    }

    /// tf2onnx's Flatten: Shape → Slice[0:1] → Concat([N], [-1]) → Cast(int32) → Cast(int64) → Reshape,
    /// with an *unnamed* batch dim read through a Relu: the anonymous dim still cancels.
    #[test]
    fn tf2onnx_flatten_with_anonymous_batch_through_slice_and_casts() {
        let mut g = Graph::default();
        let x = input(
            &mut g,
            "x",
            vec![Dim::Unknown, Dim::Fixed(2), Dim::Fixed(2), Dim::Fixed(5)],
        );
        let relu = op(&mut g, "Relu", &[x], vec![]);
        let sh = op(&mut g, "Shape", &[relu], vec![]);
        let s0 = int_const(&mut g, "s0", &[0], vec![1]);
        let s1 = int_const(&mut g, "s1", &[1], vec![1]);
        let n = op(&mut g, "Slice", &[sh, s0, s1], vec![]);
        let minus = int_const(&mut g, "minus", &[-1], vec![1]);
        let cat = op(&mut g, "Concat", &[n, minus], vec![("axis", Attr::Int(0))]);
        let c32 = op(&mut g, "Cast", &[cat], vec![("to", Attr::Int(6))]);
        let c64 = op(&mut g, "Cast", &[c32], vec![("to", Attr::Int(7))]);
        let r = op(&mut g, "Reshape", &[relu, c64], vec![]);
        infer(&mut g, 15);
        assert_eq!(g.value(r).shape, Some(vec![Dim::Unknown, Dim::Fixed(20)]));
    }

    #[test]
    fn shape_with_start_end_range_reduceprod_and_int_arithmetic_fold() {
        let mut g = Graph::default();
        let x = input(
            &mut g,
            "x",
            vec![named("N"), Dim::Fixed(3), Dim::Fixed(4), Dim::Fixed(2)],
        );
        let tail = op(
            &mut g,
            "Shape",
            &[x],
            vec![("start", Attr::Int(1)), ("end", Attr::Int(-1))],
        );
        let prod = op(
            &mut g,
            "ReduceProd",
            &[tail],
            vec![("keepdims", Attr::Int(1))],
        );
        let two = int_const(&mut g, "two", &[2], vec![]);
        let doubled = op(&mut g, "Mul", &[prod, two], vec![]);
        let one = int_const(&mut g, "one", &[1], vec![]);
        let less = op(&mut g, "Sub", &[doubled, one], vec![]);
        let halved = op(&mut g, "Div", &[less, two], vec![]);
        let start = int_const(&mut g, "start", &[0], vec![]);
        let limit = int_const(&mut g, "limit", &[5], vec![]);
        let step = int_const(&mut g, "step", &[2], vec![]);
        let range = op(&mut g, "Range", &[start, limit, step], vec![]);
        let filled = op(&mut g, "ConstantOfShape", &[halved], vec![]);
        let sq = op(&mut g, "Squeeze", &[prod], vec![]);
        infer(&mut g, 17);
        assert_eq!(g.value(tail).shape, Some(vec![Dim::Fixed(2)]));
        let mut known = values::Known::default();
        for o in g.ops.clone() {
            values::fold(&g, &o, 17, &mut known);
        }
        assert_eq!(known.ints(prod), Some(vec![12]));
        assert_eq!(known.ints(doubled), Some(vec![24]));
        assert_eq!(known.ints(less), Some(vec![23]));
        assert_eq!(known.ints(halved), Some(vec![11]));
        assert_eq!(known.ints(range), Some(vec![0, 2, 4]));
        assert_eq!(known.ints(sq), Some(vec![12]));
        assert_eq!(g.value(range).shape, Some(vec![Dim::Fixed(3)]));
        assert_eq!(g.value(filled).shape, Some(vec![Dim::Fixed(11)]));
    }

    #[test]
    fn expand_and_reshape_zero_use_folded_values() {
        let mut g = Graph::default();
        let x = input(&mut g, "x", vec![named("B"), Dim::Fixed(1)]);
        let y = input(&mut g, "y", vec![named("B"), Dim::Fixed(7)]);
        let sh = op(&mut g, "Shape", &[y], vec![]);
        let e = op(&mut g, "Expand", &[x, sh], vec![]);
        let z = int_const(&mut g, "z", &[0, 7, 1], vec![3]);
        let r = op(&mut g, "Reshape", &[y, z], vec![]);
        infer(&mut g, 17);
        assert_eq!(g.value(e).shape, Some(vec![named("B"), Dim::Fixed(7)]));
        assert_eq!(
            g.value(r).shape,
            Some(vec![named("B"), Dim::Fixed(7), Dim::Fixed(1)])
        );
    }

    /// A Reshape to `[N, -1]` where the input's other dims are not all known stays unknown.
    #[test]
    fn reshape_minus_one_is_not_guessed() {
        let mut g = Graph::default();
        let x = input(&mut g, "x", vec![named("N"), Dim::Unknown, Dim::Fixed(4)]);
        let sh = op(&mut g, "Shape", &[x], vec![]);
        let s0 = int_const(&mut g, "s0", &[0], vec![1]);
        let s1 = int_const(&mut g, "s1", &[1], vec![1]);
        let n = op(&mut g, "Slice", &[sh, s0, s1], vec![]);
        let minus = int_const(&mut g, "minus", &[-1], vec![1]);
        let cat = op(&mut g, "Concat", &[n, minus], vec![("axis", Attr::Int(0))]);
        let r = op(&mut g, "Reshape", &[x, cat], vec![]);
        infer(&mut g, 17);
        assert_eq!(g.value(r).shape, Some(vec![named("N"), Dim::Unknown]));
    }

    /// A graph output declared `[N, 1]` tells Softmax's input, through the bias Add, its shape.
    #[test]
    fn declared_output_shape_flows_back_through_activation_and_bias() {
        let mut g = Graph::default();
        let logits = g.add_value("mm");
        let bias = input(&mut g, "bias", vec![Dim::Fixed(1)]);
        let added = op(&mut g, "Add", &[logits, bias], vec![]);
        let s = op(&mut g, "Softmax", &[added], vec![]);
        g.value_mut(s).shape = Some(vec![named("N"), Dim::Fixed(1)]);
        infer(&mut g, 13);
        assert_eq!(g.value(added).shape, Some(vec![named("N"), Dim::Fixed(1)]));
        assert_eq!(g.value(logits).shape, Some(vec![named("N"), Dim::Fixed(1)]));
        // a bias of size 3 says nothing about the other operand's last dim (it may be 1 or 3)
        let mut g = Graph::default();
        let logits = input(&mut g, "mm", vec![Dim::Unknown, Dim::Unknown]);
        let bias = input(&mut g, "bias", vec![Dim::Fixed(3)]);
        let added = op(&mut g, "Add", &[logits, bias], vec![]);
        g.value_mut(added).shape = Some(vec![named("N"), Dim::Fixed(3)]);
        infer(&mut g, 13);
        assert_eq!(g.value(logits).shape, Some(vec![named("N"), Dim::Unknown]));
    }

    #[test]
    fn slice_lengths_follow_onnx_clamping() {
        assert_eq!(values::slice_len(10, 0, 1, 1), Some(1));
        assert_eq!(values::slice_len(10, -3, i64::MAX, 1), Some(3));
        assert_eq!(values::slice_len(10, 8, 2, -2), Some(3));
        assert_eq!(values::slice_len(10, 0, 10, 0), None);
        assert_eq!(
            values::slice_indices(4, -1, i64::MIN, -1),
            Some(vec![3, 2, 1, 0])
        );
    }

    #[test]
    fn control_flow_and_unknown_contrib_ops_stay_unknown() {
        let mut g = Graph::default();
        let x = input(&mut g, "x", vec![Dim::Fixed(2)]);
        let y = op(&mut g, "If", &[x], vec![]);
        let z = op(&mut g, "Loop", &[x], vec![]);
        infer(&mut g, 17);
        assert_eq!(g.value(y).shape, None);
        assert_eq!(g.value(z).shape, None);
    }

    /// Hostile numbers give unknown shapes, never a panic (overflow, empty axes, zero steps).
    #[test]
    fn extreme_values_do_not_panic() {
        assert_eq!(values::slice_len(0, -1, i64::MIN, -1), Some(0));
        assert_eq!(values::slice_indices(0, 0, 5, -3), Some(vec![]));
        assert_eq!(values::slice_len(5, 0, 5, i64::MIN), None);
        let mut g = Graph::default();
        let big = u64::MAX / 2;
        let x = input(
            &mut g,
            "x",
            vec![Dim::Fixed(big), Dim::Fixed(big), Dim::Fixed(3)],
        );
        let t = int_const(&mut g, "t", &[-1, 3], vec![2]);
        let r = op(&mut g, "Reshape", &[x, t], vec![]);
        let s0 = int_const(&mut g, "s0", &[i64::MIN], vec![]);
        let s1 = int_const(&mut g, "s1", &[i64::MAX], vec![]);
        let s2 = int_const(&mut g, "s2", &[1], vec![]);
        let range = op(&mut g, "Range", &[s0, s1, s2], vec![]);
        let sh = op(&mut g, "Shape", &[x], vec![]);
        let prod = op(&mut g, "ReduceProd", &[sh], vec![]);
        let huge = input(&mut g, "huge", vec![Dim::Fixed(u64::MAX)]);
        let c = op(
            &mut g,
            "Concat",
            &[huge, huge],
            vec![("axis", Attr::Int(0))],
        );
        let w = input(
            &mut g,
            "w",
            vec![Dim::Fixed(1), Dim::Fixed(big), Dim::Fixed(3)],
        );
        let conv = op(
            &mut g,
            "Conv",
            &[x, w],
            vec![
                ("dilations", Attr::Ints(vec![i64::MAX])),
                ("pads", Attr::Ints(vec![i64::MAX, i64::MAX])),
            ],
        );
        infer(&mut g, 17);
        assert_eq!(g.value(r).shape, Some(vec![Dim::Unknown, Dim::Fixed(3)]));
        assert_eq!(g.value(range).shape, None);
        assert_eq!(
            g.value(c).shape.as_ref().map(|s| s[0].clone()),
            Some(Dim::Unknown)
        );
        let _ = (prod, conv);
    }
}
