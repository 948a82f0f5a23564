//! Ops that move or select elements without arithmetic: Identity, Dropout, Constant, Shape, Size,
//! Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat, Split, Slice, Gather, Expand, Cast,
//! ConstantOfShape and Range.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

use super::{Ctx, broadcast_shape, int_values, norm_axes, norm_axis, prod};
use crate::eval::constant::decode;
use crate::eval::tensor::{Elem, flat, from_vec, round_to_bf16, round_to_f16, same};
use crate::eval::{EvalError, Tensor, show_shape};
use crate::ir::{Attr, DType};

pub(super) fn identity(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    Ok(vec![cx.input(0, "input")?.clone()])
}

/// Inference: the data passes through; the mask, when asked for, is all true.
/// Inference Dropout (the identity, mask all true). Training mode (input 2, opset 12+) with a
/// non-zero ratio draws a random mask, which the evaluator does not do.
pub(super) fn dropout(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let training = match cx.opt(2) {
        Some(t) => t.to_f64_vec().first().is_some_and(|&v| v != 0.0),
        None => false,
    };
    let ratio = match cx.opt(1) {
        Some(r) => r.to_f64_vec().first().copied().unwrap_or(0.5),
        None => cx.float("ratio", 0.5),
    };
    if training && ratio != 0.0 {
        return Err(EvalError::Unsupported {
            op: "Dropout with training_mode=1 (random masks)".into(),
        });
    }
    let mut out = vec![x.clone()];
    if cx.wanted() > 1 {
        out.push(Tensor::Bool(ArrayD::from_elem(IxDyn(x.shape()), true)));
    }
    Ok(out)
}

pub(super) fn constant(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let attrs = &cx.op.attrs;
    let t = if let Some(Attr::Tensor(t)) = attrs.get("value") {
        decode(t, None, None, cx.limits)?
    } else if let Some(v) = cx.op.attr_float("value_float") {
        Tensor::scalar_f32(v)
    } else if let Some(Attr::Floats(v)) = attrs.get("value_floats") {
        from_vec(&[v.len()], v.clone())?
    } else if let Some(v) = cx.op.attr_int("value_int") {
        from_vec(&[], vec![v])?
    } else if let Some(v) = cx.ints("value_ints") {
        from_vec(&[v.len()], v.to_vec())?
    } else {
        return Err(EvalError::Attr(
            "no value attribute the evaluator can read (value, value_float(s), value_int(s))"
                .into(),
        ));
    };
    Ok(vec![t])
}

pub(super) fn constant_of_shape(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let dims = int_values(cx.input(0, "input")?, "input shape")?;
    let shape = checked_dims(&dims, "input shape")?;
    cx.limits.check(&shape, "the output")?;
    let value = match cx.op.attrs.get("value") {
        Some(Attr::Tensor(t)) => decode(t, None, None, cx.limits)?,
        _ => Tensor::scalar_f32(0.0),
    };
    if value.len() != 1 {
        return Err(EvalError::Attr(
            "attribute value must hold one element".into(),
        ));
    }
    let out = any_op!(&value, a => fill(a, &shape));
    Ok(vec![out])
}

fn fill<T: Elem>(a: &ArrayD<T>, shape: &[usize]) -> Tensor {
    match a.iter().next() {
        Some(v) => T::wrap(ArrayD::from_elem(IxDyn(shape), v.clone())),
        None => T::wrap(a.clone()),
    }
}

/// Dims that must all be non-negative.
fn checked_dims(dims: &[i64], what: &str) -> Result<Vec<usize>, EvalError> {
    dims.iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| EvalError::Data(format!("{what} has a negative dim {d}")))
        })
        .collect()
}

pub(super) fn shape(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let s = cx.input(0, "data")?.shape();
    let r = s.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(cx.int("start", 0));
    let end = clamp(cx.int("end", r));
    let dims: Vec<i64> = s
        .get(start..end.max(start))
        .unwrap_or(&[])
        .iter()
        .map(|&d| d as i64)
        .collect();
    Ok(vec![from_vec(&[dims.len()], dims)?])
}

pub(super) fn size(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let n = cx.input(0, "data")?.len() as i64;
    Ok(vec![from_vec(&[], vec![n])?])
}

/// Same elements in row-major order, new shape (whose element count the caller has checked).
fn reshaped(t: &Tensor, shape: &[usize]) -> Result<Tensor, EvalError> {
    if prod(shape) != t.len() {
        return Err(EvalError::Shape(format!(
            "cannot reshape {} elements of shape {} into {}",
            t.len(),
            show_shape(t.shape()),
            show_shape(shape)
        )));
    }
    any_op!(t, a => from_vec(shape, flat(a).into_owned()))
}

pub(super) fn reshape(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let target = if cx.opset < 5 {
        cx.ints("shape")
            .ok_or_else(|| EvalError::Attr("attribute shape is missing".into()))?
            .to_vec()
    } else {
        int_values(cx.input(1, "shape")?, "input shape")?
    };
    let shape = resolve_reshape(x.shape(), &target, cx.int("allowzero", 0) != 0)?;
    Ok(vec![reshaped(x, &shape)?])
}

/// ONNX Reshape dims: `0` copies the input dim (unless `allowzero`), one `-1` is inferred.
fn resolve_reshape(
    input: &[usize],
    target: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, EvalError> {
    let total = prod(input);
    let mut infer = None;
    let mut dims = Vec::with_capacity(target.len());
    for (i, &d) in target.iter().enumerate() {
        let dim = match d {
            0 if !allowzero => *input.get(i).ok_or_else(|| {
                EvalError::Shape(format!(
                    "shape entry {i} is 0 (copy), but the input {} has no dim {i}",
                    show_shape(input)
                ))
            })?,
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            -1 => return Err(EvalError::Shape("shape has more than one -1".into())),
            d => usize::try_from(d)
                .map_err(|_| EvalError::Shape(format!("shape entry {i} is {d}")))?,
        };
        dims.push(dim);
    }
    if let Some(i) = infer {
        let known = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(0);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(EvalError::Shape(format!(
                "cannot infer the -1 in shape {target:?} from {total} elements"
            )));
        }
        if let Some(slot) = dims.get_mut(i) {
            *slot = total / known;
        }
    }
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if count != Some(total) {
        return Err(EvalError::Shape(format!(
            "shape {target:?} does not hold the {total} elements of input {}",
            show_shape(input)
        )));
    }
    Ok(dims)
}

pub(super) fn flatten(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let s = x.shape();
    let r = s.len() as i64;
    let axis = cx.int("axis", 1);
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(EvalError::Attr(format!(
            "axis {axis} is out of range for rank {r}"
        )));
    }
    let a = a as usize;
    Ok(vec![reshaped(x, &[prod(&s[..a]), prod(&s[a..])])?])
}

pub(super) fn transpose(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let rank = x.rank();
    let perm: Vec<usize> = match cx.ints("perm") {
        Some(p) => {
            let p = norm_axes(p, rank, "perm entry")?;
            if p.len() != rank {
                return Err(EvalError::Attr(format!(
                    "perm has {} entries for an input of rank {rank}",
                    p.len()
                )));
            }
            p
        }
        None => (0..rank).rev().collect(),
    };
    let out = any_op!(x, a => permuted(a, &perm));
    Ok(vec![out])
}

/// `perm` must be a permutation of `0..rank` (checked by the caller).
fn permuted<T: Elem>(a: &ArrayD<T>, perm: &[usize]) -> Tensor {
    let v = a.view().permuted_axes(IxDyn(perm));
    T::wrap(v.as_standard_layout().into_owned())
}

/// Axes from the attribute before `input_from` and from input 1 after.
fn axes_arg(cx: &Ctx, input_from: i64) -> Result<Option<Vec<i64>>, EvalError> {
    if cx.opset < input_from {
        Ok(cx.ints("axes").map(<[i64]>::to_vec))
    } else {
        cx.opt(1).map(|t| int_values(t, "input axes")).transpose()
    }
}

pub(super) fn squeeze(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let s = x.shape();
    let shape: Vec<usize> = match axes_arg(cx, 13)? {
        Some(axes) => {
            let axes = norm_axes(&axes, s.len(), "axis")?;
            for &a in &axes {
                if s.get(a) != Some(&1) {
                    return Err(EvalError::Shape(format!(
                        "cannot squeeze axis {a} of size {} in shape {}",
                        s.get(a).copied().unwrap_or(0),
                        show_shape(s)
                    )));
                }
            }
            s.iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect()
        }
        None => s.iter().copied().filter(|&d| d != 1).collect(),
    };
    Ok(vec![reshaped(x, &shape)?])
}

pub(super) fn unsqueeze(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let axes = axes_arg(cx, 13)?.ok_or_else(|| EvalError::Attr("axes are missing".into()))?;
    let rank = x.rank() + axes.len();
    let axes = norm_axes(&axes, rank, "axis")?;
    let mut rest = x.shape().iter();
    let shape: Vec<usize> = (0..rank)
        .map(|i| {
            if axes.contains(&i) {
                1
            } else {
                rest.next().copied().unwrap_or(1)
            }
        })
        .collect();
    Ok(vec![reshaped(x, &shape)?])
}

pub(super) fn concat(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let first = cx.input(0, "inputs")?;
    let axis = cx
        .op
        .attr_int("axis")
        .ok_or_else(|| EvalError::Attr("attribute axis is missing".into()))?;
    let out = any_op!(first, a => concat_t(cx, a, axis)?);
    Ok(vec![out])
}

fn concat_t<T: Elem>(cx: &Ctx, first: &ArrayD<T>, axis: i64) -> Result<Tensor, EvalError> {
    let rank = first.ndim();
    let ax = norm_axis(axis, rank, "axis")?;
    let mut views: Vec<ArrayViewD<T>> = Vec::with_capacity(cx.inputs.len());
    let mut out_shape = first.shape().to_vec();
    let mut along = 0usize;
    for i in 0..cx.inputs.len() {
        let a: &ArrayD<T> = same(cx.input(i, "inputs")?, &format!("input {i}"))?;
        let s = a.shape();
        let fits = s.len() == rank
            && s.iter()
                .zip(first.shape())
                .enumerate()
                .all(|(d, (x, y))| d == ax || x == y);
        if !fits {
            return Err(EvalError::Shape(format!(
                "input {i} of shape {} does not match input 0 of shape {} outside axis {ax}",
                show_shape(s),
                show_shape(first.shape())
            )));
        }
        along = along.saturating_add(s[ax]);
        views.push(a.view());
    }
    out_shape[ax] = along;
    cx.limits.check(&out_shape, "the output")?;
    ndarray::concatenate(Axis(ax), &views)
        .map(T::wrap)
        .map_err(|e| EvalError::Shape(format!("inputs cannot be concatenated: {e}")))
}

pub(super) fn split(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let s = x.shape();
    let ax = norm_axis(cx.int("axis", 0), s.len(), "axis")?;
    let dim = s[ax];
    let sizes: Vec<usize> = match axes_split(cx)? {
        Some(sizes) => {
            let sizes = checked_dims(&sizes, "split")?;
            if sizes.iter().sum::<usize>() != dim {
                return Err(EvalError::Shape(format!(
                    "split sizes {sizes:?} do not add up to the axis size {dim}"
                )));
            }
            sizes
        }
        None => {
            let n = match cx.op.attr_int("num_outputs") {
                Some(n) => usize::try_from(n).unwrap_or(0),
                None => cx.wanted(),
            };
            if n == 0 {
                return Err(EvalError::Attr(
                    "the number of outputs must be positive".into(),
                ));
            }
            let chunk = dim.div_ceil(n);
            let sizes: Vec<usize> = (0..n)
                .map(|i| dim.saturating_sub(i * chunk).min(chunk))
                .collect();
            if sizes.contains(&0) && dim > 0 {
                return Err(EvalError::Shape(format!(
                    "axis of size {dim} cannot be split into {n} non-empty parts"
                )));
            }
            sizes
        }
    };
    let mut start = 0;
    let mut out = Vec::with_capacity(sizes.len());
    for len in sizes {
        out.push(any_op!(x, a => slice_part(a, ax, start, len)));
        start += len;
    }
    Ok(out)
}

fn axes_split(cx: &Ctx) -> Result<Option<Vec<i64>>, EvalError> {
    if cx.opset < 13 {
        Ok(cx.ints("split").map(<[i64]>::to_vec))
    } else {
        cx.opt(1).map(|t| int_values(t, "input split")).transpose()
    }
}

fn slice_part<T: Elem>(a: &ArrayD<T>, ax: usize, start: usize, len: usize) -> Tensor {
    let part = a.slice_axis(Axis(ax), Slice::from(start..start + len));
    T::wrap(part.to_owned())
}

pub(super) fn slice(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let (starts, ends, axes, steps) = if cx.opset < 10 {
        let need = |n: &str| {
            cx.ints(n)
                .map(<[i64]>::to_vec)
                .ok_or_else(|| EvalError::Attr(format!("attribute {n} is missing")))
        };
        (
            need("starts")?,
            need("ends")?,
            cx.ints("axes").map(<[i64]>::to_vec),
            None,
        )
    } else {
        let get = |i: usize, n: &str| {
            cx.opt(i)
                .map(|t| int_values(t, &format!("input {n}")))
                .transpose()
        };
        let starts =
            get(1, "starts")?.ok_or_else(|| EvalError::Attr("input starts is missing".into()))?;
        let ends =
            get(2, "ends")?.ok_or_else(|| EvalError::Attr("input ends is missing".into()))?;
        (starts, ends, get(3, "axes")?, get(4, "steps")?)
    };
    let rank = x.rank();
    let axes = match axes {
        Some(a) => norm_axes(&a, rank, "axis")?,
        None => (0..starts.len()).collect(),
    };
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(EvalError::Shape(format!(
            "starts, ends, axes and steps have different lengths ({}, {}, {}, {})",
            starts.len(),
            ends.len(),
            axes.len(),
            steps.len()
        )));
    }
    let mut cuts = Vec::with_capacity(axes.len());
    for (((&ax, &start), &end), &step) in axes.iter().zip(&starts).zip(&ends).zip(&steps) {
        if step == 0 {
            return Err(EvalError::Attr("a slice step is 0".into()));
        }
        let dim = x.shape().get(ax).copied().unwrap_or(0);
        cuts.push((ax, slice_range(dim, start, end, step)));
    }
    let out = any_op!(x, a => sliced(a, &cuts));
    Ok(vec![out])
}

/// ONNX slice bounds for one axis of size `dim` as an ndarray [`Slice`] (`step != 0`).
fn slice_range(dim: usize, start: i64, end: i64, step: i64) -> Slice {
    let d = dim as i64;
    let resolve = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let empty = Slice::new(0, Some(0), 1);
    let step_abs = isize::try_from(step.unsigned_abs()).unwrap_or(isize::MAX);
    if step > 0 {
        let s = resolve(start).clamp(0, d);
        let e = resolve(end).clamp(0, d);
        if s >= e {
            return empty;
        }
        Slice::new(s as isize, Some(e as isize), step_abs)
    } else {
        if d == 0 {
            return empty;
        }
        let s = resolve(start).clamp(0, d - 1);
        let e = resolve(end).clamp(-1, d - 1);
        if s <= e {
            return empty;
        }
        // Elements s, s-|step|, ... > e: ndarray walks [e+1, s+1) backwards from s.
        Slice::new((e + 1) as isize, Some((s + 1) as isize), -step_abs)
    }
}

fn sliced<T: Elem>(a: &ArrayD<T>, cuts: &[(usize, Slice)]) -> Tensor {
    let mut v = a.view();
    for &(ax, s) in cuts {
        v.slice_axis_inplace(Axis(ax), s);
    }
    T::wrap(v.as_standard_layout().into_owned())
}

pub(super) fn gather(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let data = cx.input(0, "data")?;
    let idx_t = cx.input(1, "indices")?;
    let idx = idx_t
        .as_i64()
        .ok_or_else(|| EvalError::dtype("input indices", idx_t, "int64"))?;
    let ax = norm_axis(cx.int("axis", 0), data.rank(), "axis")?;
    let dim = data.shape()[ax];
    let resolved: Vec<usize> = idx
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim as i64 } else { i };
            usize::try_from(j).ok().filter(|&j| j < dim).ok_or_else(|| {
                EvalError::Data(format!(
                    "index {i} is out of range for axis {ax} of size {dim}"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let s = data.shape();
    let mut out_shape = s[..ax].to_vec();
    out_shape.extend_from_slice(idx.shape());
    out_shape.extend_from_slice(&s[ax + 1..]);
    cx.limits.check(&out_shape, "the output")?;
    let out = any_op!(data, a => gather_t(a, ax, &resolved, &out_shape)?);
    Ok(vec![out])
}

fn gather_t<T: Elem>(
    a: &ArrayD<T>,
    ax: usize,
    idx: &[usize],
    out_shape: &[usize],
) -> Result<Tensor, EvalError> {
    if idx.is_empty() {
        return from_vec(out_shape, Vec::<T>::new());
    }
    let picked = a.select(Axis(ax), idx);
    from_vec(out_shape, flat(&picked).into_owned())
}

pub(super) fn expand(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let dims = int_values(cx.input(1, "shape")?, "input shape")?;
    let target = checked_dims(&dims, "input shape")?;
    let shape = broadcast_shape(x.shape(), &target)?;
    cx.limits.check(&shape, "the output")?;
    let out = any_op!(x, a => broadcast_to(a, &shape)?);
    Ok(vec![out])
}

fn broadcast_to<T: Elem>(a: &ArrayD<T>, shape: &[usize]) -> Result<Tensor, EvalError> {
    let v = a.broadcast(IxDyn(shape)).ok_or_else(|| {
        EvalError::Shape(format!(
            "shape {} does not broadcast to {}",
            show_shape(a.shape()),
            show_shape(shape)
        ))
    })?;
    Ok(T::wrap(v.as_standard_layout().into_owned()))
}

pub(super) fn cast(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let code = cx
        .op
        .attr_int("to")
        .ok_or_else(|| EvalError::Attr("attribute to is missing".into()))?;
    let to = i32::try_from(code)
        .ok()
        .and_then(DType::from_onnx)
        .ok_or_else(|| EvalError::Attr(format!("attribute to is {code}, not a data type")))?;
    Ok(vec![cast_to(x, to)?])
}

/// Cast to the type of input 1.
pub(super) fn cast_like(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let to = cx.input(1, "target_type")?.dtype();
    Ok(vec![cast_to(x, to)?])
}

fn cast_to(x: &Tensor, to: DType) -> Result<Tensor, EvalError> {
    let f = x.to_f64_array();
    Ok(match to {
        DType::F32 => to_f32(x, |v| v),
        DType::F16 => to_f32(x, round_to_f16),
        DType::BF16 => to_f32(x, round_to_bf16),
        DType::F64 => Tensor::F64(f),
        DType::Bool => Tensor::Bool(f.mapv(|v| v != 0.0)),
        DType::I64
        | DType::I32
        | DType::I16
        | DType::I8
        | DType::U8
        | DType::U16
        | DType::U32
        | DType::U64 => Tensor::I64(match x {
            Tensor::I64(a) => a.mapv(|v| narrow(v, to)),
            _ => f.mapv(|v| narrow(v as i64, to)),
        }),
        other => {
            return Err(EvalError::Unsupported {
                op: format!("Cast to {}", other.name()),
            });
        }
    })
}

fn to_f32(x: &Tensor, round: fn(f32) -> f32) -> Tensor {
    Tensor::F32(match x {
        Tensor::F32(a) => a.mapv(round),
        Tensor::F64(a) => a.mapv(|v| round(v as f32)),
        Tensor::I64(a) => a.mapv(|v| round(v as f32)),
        Tensor::Bool(a) => a.mapv(|v| if v { 1.0 } else { 0.0 }),
    })
}

/// Wraps an int64 value to the range of a narrower integer type, as a C cast does.
fn narrow(v: i64, to: DType) -> i64 {
    match to {
        DType::I32 => i64::from(v as i32),
        DType::I16 => i64::from(v as i16),
        DType::I8 => i64::from(v as i8),
        DType::U8 => i64::from(v as u8),
        DType::U16 => i64::from(v as u16),
        DType::U32 => i64::from(v as u32),
        _ => v,
    }
}

pub(super) fn range(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let start = cx.input(0, "start")?;
    let out = numeric_op!(start, "input start", a => range_t(cx, a)?);
    Ok(vec![out])
}

fn range_t<T>(cx: &Ctx, start: &ArrayD<T>) -> Result<Tensor, EvalError>
where
    T: Elem + Copy + std::ops::Add<Output = T> + std::ops::Mul<Output = T> + RangeNum,
{
    let one = |t: &ArrayD<T>, what: &str| {
        t.iter()
            .next()
            .copied()
            .filter(|_| t.len() == 1)
            .ok_or_else(|| EvalError::Shape(format!("input {what} must hold one value")))
    };
    let s = one(start, "start")?;
    let l = one(same(cx.input(1, "limit")?, "input limit")?, "limit")?;
    let d = one(same(cx.input(2, "delta")?, "input delta")?, "delta")?;
    let (sf, lf, df) = (s.to_f64(), l.to_f64(), d.to_f64());
    if df == 0.0 {
        return Err(EvalError::Attr("delta is 0".into()));
    }
    let count = ((lf - sf) / df).ceil().max(0.0);
    if !count.is_finite() || count > cx.limits.max_elements as f64 {
        return Err(EvalError::Limit(format!(
            "the range would have {count} elements, more than the limit of {}",
            cx.limits.max_elements
        )));
    }
    let n = count as usize;
    let v: Vec<T> = (0..n).map(|i| s + T::from_index(i) * d).collect();
    from_vec(&[n], v)
}

/// Numbers Range can count in.
trait RangeNum {
    fn to_f64(self) -> f64;
    fn from_index(i: usize) -> Self;
}

impl RangeNum for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_index(i: usize) -> Self {
        i as f32
    }
}

impl RangeNum for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_index(i: usize) -> Self {
        i as f64
    }
}

impl RangeNum for i64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_index(i: usize) -> Self {
        i as i64
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::eval::{EvalError, Tensor};
    use crate::ir::{Attr, DType, TensorData, TensorRef};

    #[test]
    fn reshape_zero_and_minus_one() {
        let x = f32t(&[2, 3, 4], &[0.0; 24]);
        let r = op("Reshape", 2, 1, vec![]);
        let got = eval1(&r, &[&x, &i64t(&[2], &[0, -1])], 13);
        assert_eq!(got.shape(), &[2, 12]);
        let got = eval1(&r, &[&x, &i64t(&[3], &[-1, 3, 0])], 13);
        assert_eq!(got.shape(), &[2, 3, 4]);
        assert!(eval(&r, &[&x, &i64t(&[2], &[-1, -1])], 13).is_err());
        assert!(eval(&r, &[&x, &i64t(&[2], &[5, -1])], 13).is_err());
        assert!(eval(&r, &[&x, &i64t(&[1], &[-7])], 13).is_err());
        // allowzero=1 makes 0 a real zero-size dim.
        let empty = f32t(&[0, 3], &[]);
        let az = op("Reshape", 2, 1, vec![("allowzero", Attr::Int(1))]);
        assert_eq!(
            eval1(&az, &[&empty, &i64t(&[2], &[3, 0])], 14).shape(),
            &[3, 0]
        );
        // Attribute form before opset 5.
        let old = op("Reshape", 1, 1, vec![("shape", ints(&[4, 6]))]);
        assert_eq!(eval1(&old, &[&x], 4).shape(), &[4, 6]);
    }

    #[test]
    fn flatten_transpose_squeeze_unsqueeze() {
        let x = f32t(&[2, 3, 1], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            eval1(&op("Flatten", 1, 1, vec![]), &[&x], 13).shape(),
            &[2, 3]
        );
        let f0 = op("Flatten", 1, 1, vec![("axis", Attr::Int(0))]);
        assert_eq!(eval1(&f0, &[&x], 13).shape(), &[1, 6]);
        let fneg = op("Flatten", 1, 1, vec![("axis", Attr::Int(-1))]);
        assert_eq!(eval1(&fneg, &[&x], 13).shape(), &[6, 1]);

        let t = eval1(
            &op("Transpose", 1, 1, vec![("perm", ints(&[1, 0, 2]))]),
            &[&x],
            13,
        );
        assert_close(&t, &[3, 2, 1], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 0.0);
        let t = eval1(&op("Transpose", 1, 1, vec![]), &[&x], 13);
        assert_eq!(t.shape(), &[1, 3, 2]);
        assert!(
            eval(
                &op("Transpose", 1, 1, vec![("perm", ints(&[0, 0, 1]))]),
                &[&x],
                13
            )
            .is_err()
        );

        let sq_old = op("Squeeze", 1, 1, vec![("axes", ints(&[2]))]);
        assert_eq!(eval1(&sq_old, &[&x], 11).shape(), &[2, 3]);
        let sq = op("Squeeze", 2, 1, vec![]);
        assert_eq!(eval1(&sq, &[&x, &i64t(&[1], &[-1])], 13).shape(), &[2, 3]);
        assert!(eval(&sq, &[&x, &i64t(&[1], &[0])], 13).is_err());
        assert_eq!(
            eval1(&op("Squeeze", 1, 1, vec![]), &[&x], 13).shape(),
            &[2, 3]
        );

        let un_old = op("Unsqueeze", 1, 1, vec![("axes", ints(&[0, 4]))]);
        assert_eq!(eval1(&un_old, &[&x], 11).shape(), &[1, 2, 3, 1, 1]);
        let un = op("Unsqueeze", 2, 1, vec![]);
        assert_eq!(
            eval1(&un, &[&x, &i64t(&[1], &[-1])], 13).shape(),
            &[2, 3, 1, 1]
        );
    }

    #[test]
    fn concat_split_and_slice() {
        let a = f32t(&[2, 1], &[1.0, 2.0]);
        let b = f32t(&[2, 2], &[3.0, 4.0, 5.0, 6.0]);
        let c = eval1(
            &op("Concat", 2, 1, vec![("axis", Attr::Int(1))]),
            &[&a, &b],
            13,
        );
        assert_close(&c, &[2, 3], &[1.0, 3.0, 4.0, 2.0, 5.0, 6.0], 0.0);
        assert!(
            eval(
                &op("Concat", 2, 1, vec![("axis", Attr::Int(0))]),
                &[&a, &b],
                13
            )
            .is_err()
        );

        let parts = eval(
            &op("Split", 2, 2, vec![("axis", Attr::Int(1))]),
            &[&c, &i64t(&[2], &[1, 2])],
            13,
        )
        .unwrap();
        assert_close(&parts[0], &[2, 1], &[1.0, 2.0], 0.0);
        assert_close(&parts[1], &[2, 2], &[3.0, 4.0, 5.0, 6.0], 0.0);
        let even = eval(&op("Split", 1, 3, vec![("axis", Attr::Int(1))]), &[&c], 13).unwrap();
        assert_eq!(even.len(), 3);
        assert_close(&even[2], &[2, 1], &[4.0, 6.0], 0.0);

        let x = f32t(&[6], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let s = op("Slice", 5, 1, vec![]);
        let run = |st: i64, en: i64, step: i64| {
            eval1(
                &s,
                &[
                    &x,
                    &i64t(&[1], &[st]),
                    &i64t(&[1], &[en]),
                    &i64t(&[1], &[0]),
                    &i64t(&[1], &[step]),
                ],
                13,
            )
            .to_f64_vec()
        };
        assert_eq!(run(1, 4, 1), [1.0, 2.0, 3.0]);
        assert_eq!(run(-2, i64::MAX, 1), [4.0, 5.0]);
        assert_eq!(run(0, 6, 2), [0.0, 2.0, 4.0]);
        assert_eq!(run(-1, i64::MIN, -1), [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
        assert_eq!(run(4, 0, -2), [4.0, 2.0]);
        assert_eq!(run(3, 1, 1), Vec::<f64>::new());
        let old = op(
            "Slice",
            1,
            1,
            vec![("starts", ints(&[1])), ("ends", ints(&[3]))],
        );
        assert_eq!(eval1(&old, &[&x], 9).to_f64_vec(), [1.0, 2.0]);
    }

    #[test]
    fn gather_shape_and_cast() {
        let data = f32t(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let idx = i64t(&[2, 2], &[0, 2, -1, 1]);
        let g = eval1(&op("Gather", 2, 1, vec![]), &[&data, &idx], 13);
        assert_close(
            &g,
            &[2, 2, 2],
            &[1.0, 2.0, 5.0, 6.0, 5.0, 6.0, 3.0, 4.0],
            0.0,
        );
        let g1 = op("Gather", 2, 1, vec![("axis", Attr::Int(1))]);
        assert_close(
            &eval1(&g1, &[&data, &i64t(&[], &[1])], 13),
            &[3],
            &[2.0, 4.0, 6.0],
            0.0,
        );
        assert!(matches!(
            eval(&g1, &[&data, &i64t(&[1], &[2])], 13),
            Err(EvalError::Data(_))
        ));

        let s = eval1(&op("Shape", 1, 1, vec![]), &[&data], 13);
        assert_eq!(s, i64t(&[2], &[3, 2]));
        let s = eval1(
            &op("Shape", 1, 1, vec![("start", Attr::Int(-1))]),
            &[&data],
            15,
        );
        assert_eq!(s, i64t(&[1], &[2]));

        let c = eval1(
            &op("Cast", 1, 1, vec![("to", Attr::Int(7))]),
            &[&f32t(&[2], &[2.7, -2.7])],
            13,
        );
        assert_eq!(c, i64t(&[2], &[2, -2]));
        let c = eval1(
            &op("Cast", 1, 1, vec![("to", Attr::Int(10))]),
            &[&f32t(&[1], &[70000.0])],
            13,
        );
        assert_eq!(c.to_f64_vec(), [f64::INFINITY]);
        let c = eval1(
            &op("Cast", 1, 1, vec![("to", Attr::Int(9))]),
            &[&f32t(&[2], &[0.0, 0.5])],
            13,
        );
        assert_eq!(
            c.as_bool().unwrap().iter().copied().collect::<Vec<_>>(),
            [false, true]
        );
    }

    #[test]
    fn constants_dropout_identity_expand_range() {
        let value = TensorRef {
            name: "v".into(),
            dtype: DType::F32,
            dims: vec![2],
            data: TensorData::Floats(vec![1.0, 2.0].into()),
        };
        let c = eval1(
            &op(
                "Constant",
                0,
                1,
                vec![("value", Attr::Tensor(value.clone()))],
            ),
            &[],
            13,
        );
        assert_close(&c, &[2], &[1.0, 2.0], 0.0);
        let c = eval1(
            &op("Constant", 0, 1, vec![("value_ints", ints(&[3, 4]))]),
            &[],
            13,
        );
        assert_eq!(c, i64t(&[2], &[3, 4]));

        let filled = eval1(
            &op(
                "ConstantOfShape",
                1,
                1,
                vec![(
                    "value",
                    Attr::Tensor(TensorRef {
                        dims: vec![1],
                        data: TensorData::Floats(vec![7.0].into()),
                        ..value
                    }),
                )],
            ),
            &[&i64t(&[2], &[2, 2])],
            13,
        );
        assert_close(&filled, &[2, 2], &[7.0; 4], 0.0);
        let huge = eval(
            &op("ConstantOfShape", 1, 1, vec![]),
            &[&i64t(&[2], &[1 << 40, 1 << 40])],
            13,
        );
        assert!(matches!(huge, Err(EvalError::Limit(_))));

        let x = f32t(&[2], &[1.0, 2.0]);
        let d = eval(&op("Dropout", 1, 2, vec![]), &[&x], 13).unwrap();
        assert_eq!(d[0], x);
        assert_eq!(
            d[1],
            Tensor::Bool(ndarray::ArrayD::from_elem(vec![2], true))
        );
        assert_eq!(eval1(&op("Identity", 1, 1, vec![]), &[&x], 13), x);

        let e = eval1(&op("Expand", 2, 1, vec![]), &[&x, &i64t(&[2], &[3, 1])], 13);
        assert_close(&e, &[3, 2], &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 0.0);
        let r = eval1(
            &op("Range", 3, 1, vec![]),
            &[&i64t(&[], &[1]), &i64t(&[], &[8]), &i64t(&[], &[3])],
            13,
        );
        assert_eq!(r, i64t(&[3], &[1, 4, 7]));
    }
}
