//! Ops that rearrange elements by index maps: Pad, Tile, DepthToSpace, SpaceToDepth, Trilu, EyeLike,
//! GatherElements and OneHot.

use ndarray::{ArrayD, Axis, IxDyn};

use super::elementwise::scalar;
use super::{Ctx, int_values, norm_axes, norm_axis};
use crate::eval::tensor::{Elem, flat, from_vec, same};
use crate::eval::{EvalError, Tensor, show_shape};
use crate::ir::DType;

/// `a` with axis `ax` rebuilt from `map`: each entry names the source index, `None` takes `fill`.
fn remap_axis<T: Elem>(a: &ArrayD<T>, ax: usize, map: &[Option<usize>], fill: &T) -> ArrayD<T> {
    let mut shape = a.shape().to_vec();
    shape[ax] = map.len();
    let mut out = ArrayD::from_elem(IxDyn(&shape), fill.clone());
    for (pos, src) in map.iter().enumerate() {
        if let Some(i) = src.filter(|&i| i < a.len_of(Axis(ax))) {
            out.index_axis_mut(Axis(ax), pos)
                .assign(&a.index_axis(Axis(ax), i));
        }
    }
    out
}

pub(super) fn pad(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let rank = x.rank();
    let (pads, axes) = if cx.opset < 11 {
        let p = cx
            .ints("pads")
            .or_else(|| cx.ints("paddings"))
            .ok_or_else(|| EvalError::Attr("attribute pads is missing".into()))?;
        (p.to_vec(), (0..rank).collect::<Vec<_>>())
    } else {
        let p = int_values(cx.input(1, "pads")?, "input pads")?;
        let axes = match cx.opt(3) {
            Some(t) => norm_axes(&int_values(t, "input axes")?, rank, "axis")?,
            None => (0..rank).collect(),
        };
        (p, axes)
    };
    if pads.len() != 2 * axes.len() {
        return Err(EvalError::Shape(format!(
            "pads has {} values for {} axes",
            pads.len(),
            axes.len()
        )));
    }
    let mode = cx.string("mode", "constant");
    let mut shape = x.shape().to_vec();
    let mut maps = Vec::with_capacity(axes.len());
    for (k, &ax) in axes.iter().enumerate() {
        let (before, after) = (pads[k], pads[k + axes.len()]);
        let n = shape[ax] as i64;
        let out = n
            .checked_add(before)
            .and_then(|v| v.checked_add(after))
            .filter(|&v| v >= 0)
            .ok_or_else(|| EvalError::Shape(format!("pads remove more than axis {ax} holds")))?;
        if out as u64 > cx.limits.max_elements {
            return Err(EvalError::Limit(format!(
                "padding makes axis {ax} {out} long, more than the limit of {} elements",
                cx.limits.max_elements
            )));
        }
        let map = (0..out)
            .map(|o| source_index(o - before, n, mode))
            .collect::<Result<Vec<_>, _>>()?;
        shape[ax] = usize::try_from(out).unwrap_or(usize::MAX);
        maps.push((ax, map));
    }
    cx.limits.check(&shape, "the output")?;
    let out = match x {
        Tensor::F32(a) => pad_t(a, &maps, const_value(cx, 0.0f32)?),
        Tensor::F64(a) => pad_t(a, &maps, const_value(cx, 0.0f64)?),
        Tensor::I64(a) => pad_t(a, &maps, const_value(cx, 0i64)?),
        Tensor::Bool(a) => pad_t(a, &maps, const_value(cx, false)?),
    };
    Ok(vec![out])
}

/// The constant padding value: attribute `value` before opset 11, input 2 after.
fn const_value<T: Elem + Copy + FromF32>(cx: &Ctx, zero: T) -> Result<T, EvalError> {
    if cx.opset < 11 {
        Ok(cx.op.attr_float("value").map_or(zero, T::from_f32))
    } else {
        Ok(scalar::<T>(cx.opt(2), "input constant_value")?.unwrap_or(zero))
    }
}

trait FromF32 {
    fn from_f32(v: f32) -> Self;
}

impl FromF32 for f32 {
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl FromF32 for f64 {
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
}

impl FromF32 for i64 {
    fn from_f32(v: f32) -> Self {
        v as i64
    }
}

impl FromF32 for bool {
    fn from_f32(v: f32) -> Self {
        v != 0.0
    }
}

/// Where output coordinate `c` (relative to the input start) reads from in an axis of size `n`.
fn source_index(c: i64, n: i64, mode: &str) -> Result<Option<usize>, EvalError> {
    if (0..n).contains(&c) {
        return Ok(Some(c as usize));
    }
    if mode == "constant" {
        return Ok(None);
    }
    if n == 0 {
        return Err(EvalError::Shape(format!("{mode} padding of an empty axis")));
    }
    let i = match mode {
        "edge" => c.clamp(0, n - 1),
        "wrap" => c.rem_euclid(n),
        "reflect" if n == 1 => 0,
        "reflect" => {
            let period = 2 * (n - 1);
            let m = c.rem_euclid(period);
            if m >= n { period - m } else { m }
        }
        other => {
            return Err(EvalError::Attr(format!(
                "mode '{other}' is not one ONNX defines"
            )));
        }
    };
    Ok(Some(i as usize))
}

fn pad_t<T: Elem>(a: &ArrayD<T>, maps: &[(usize, Vec<Option<usize>>)], fill: T) -> Tensor {
    let mut cur = a.clone();
    for (ax, map) in maps {
        cur = remap_axis(&cur, *ax, map, &fill);
    }
    T::wrap(cur)
}

pub(super) fn tile(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let repeats = int_values(cx.input(1, "repeats")?, "input repeats")?;
    if repeats.len() != x.rank() {
        return Err(EvalError::Shape(format!(
            "repeats has {} values for an input of rank {}",
            repeats.len(),
            x.rank()
        )));
    }
    let mut shape = Vec::with_capacity(repeats.len());
    for (&d, &r) in x.shape().iter().zip(&repeats) {
        let r = usize::try_from(r)
            .map_err(|_| EvalError::Shape(format!("repeats has a negative value {r}")))?;
        shape.push(d.saturating_mul(r));
    }
    cx.limits.check(&shape, "the output")?;
    let out = any_op!(x, a => tile_t(a, &shape));
    Ok(vec![out])
}

fn tile_t<T: Elem>(a: &ArrayD<T>, shape: &[usize]) -> Tensor {
    let mut cur = a.clone();
    for (ax, &len) in shape.iter().enumerate() {
        let n = a.len_of(Axis(ax));
        if n == 0 || len == n {
            continue;
        }
        let map: Vec<Option<usize>> = (0..len).map(|i| Some(i % n)).collect();
        if let Some(fill) = cur.iter().next().cloned() {
            cur = remap_axis(&cur, ax, &map, &fill);
        }
    }
    T::wrap(cur)
}

/// DepthToSpace and SpaceToDepth as reshape, transpose, reshape.
pub(super) fn depth_space(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let b = cx
        .op
        .attr_int("blocksize")
        .and_then(|b| usize::try_from(b).ok())
        .filter(|&b| b > 0)
        .ok_or_else(|| EvalError::Attr("attribute blocksize must be positive".into()))?;
    let [n, c, h, w] = *x.shape() else {
        return Err(EvalError::Shape(format!(
            "input must be 4-D, but has shape {}",
            show_shape(x.shape())
        )));
    };
    let (mid, perm, out): (Vec<usize>, [usize; 6], [usize; 4]) = if cx.kind() == "DepthToSpace" {
        if c % (b * b) != 0 {
            return Err(EvalError::Shape(format!(
                "{c} channels are not divisible by blocksize² = {}",
                b * b
            )));
        }
        let out = [n, c / (b * b), h * b, w * b];
        if cx.string("mode", "DCR") == "CRD" {
            (vec![n, c / (b * b), b, b, h, w], [0, 1, 4, 2, 5, 3], out)
        } else {
            (vec![n, b, b, c / (b * b), h, w], [0, 3, 4, 1, 5, 2], out)
        }
    } else {
        if h % b != 0 || w % b != 0 {
            return Err(EvalError::Shape(format!(
                "spatial size {h}x{w} is not divisible by blocksize {b}"
            )));
        }
        let perm = if cx.string("mode", "DCR") == "CRD" {
            [0, 1, 3, 5, 2, 4]
        } else {
            [0, 3, 5, 1, 2, 4]
        };
        (
            vec![n, c, h / b, b, w / b, b],
            perm,
            [n, c * b * b, h / b, w / b],
        )
    };
    let res = any_op!(x, a => {
        let v = a.view().into_shape_with_order(IxDyn(&mid));
        match v {
            Ok(v) => {
                let t = v.permuted_axes(IxDyn(&perm));
                from_vec(&out, t.iter().cloned().collect())?
            }
            Err(_) => {
                let owned = ArrayD::from_shape_vec(IxDyn(&mid), flat(a).into_owned())
                    .map_err(|_| EvalError::Shape("input cannot be split into blocks".into()))?;
                let t = owned.permuted_axes(IxDyn(&perm));
                from_vec(&out, t.iter().cloned().collect())?
            }
        }
    });
    Ok(vec![res])
}

pub(super) fn trilu(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    if x.rank() < 2 {
        return Err(EvalError::Shape(format!(
            "input must have rank 2 or more, but has shape {}",
            show_shape(x.shape())
        )));
    }
    let k = scalar::<i64>(cx.opt(1), "input k")?.unwrap_or(0);
    let upper = cx.int("upper", 1) != 0;
    let out = any_op!(x, a => trilu_t(a, k, upper));
    Ok(vec![out])
}

fn trilu_t<T: Elem + Default>(a: &ArrayD<T>, k: i64, upper: bool) -> Tensor {
    let rank = a.ndim();
    let mut out = a.clone();
    for (idx, v) in out.indexed_iter_mut() {
        let (i, j) = (idx[rank - 2] as i64, idx[rank - 1] as i64);
        let keep = if upper { j - i >= k } else { j - i <= k };
        if !keep {
            *v = T::default();
        }
    }
    T::wrap(out)
}

pub(super) fn eye_like(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let [rows, cols] = *x.shape() else {
        return Err(EvalError::Shape(format!(
            "input must be 2-D, but has shape {}",
            show_shape(x.shape())
        )));
    };
    let k = cx.int("k", 0);
    let to = match cx.op.attr_int("dtype") {
        Some(code) => i32::try_from(code)
            .ok()
            .and_then(DType::from_onnx)
            .ok_or_else(|| {
                EvalError::Attr(format!("attribute dtype is {code}, not a data type"))
            })?,
        None => x.dtype(),
    };
    let on = |i: usize, j: usize| j as i64 - i as i64 == k;
    let out = match to {
        DType::F64 => Tensor::F64(ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |d| {
            f64::from(u8::from(on(d[0], d[1])))
        })),
        DType::I64
        | DType::I32
        | DType::I16
        | DType::I8
        | DType::U8
        | DType::U16
        | DType::U32
        | DType::U64 => Tensor::I64(ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |d| {
            i64::from(on(d[0], d[1]))
        })),
        DType::Bool => Tensor::Bool(ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |d| {
            on(d[0], d[1])
        })),
        _ => Tensor::F32(ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |d| {
            f32::from(u8::from(on(d[0], d[1])))
        })),
    };
    Ok(vec![out])
}

pub(super) fn gather_elements(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let data = cx.input(0, "data")?;
    let idx_t = cx.input(1, "indices")?;
    let idx: &ArrayD<i64> = same(idx_t, "input indices")?;
    let rank = data.rank();
    let ax = norm_axis(cx.int("axis", 0), rank, "axis")?;
    if idx.ndim() != rank {
        return Err(EvalError::Shape(format!(
            "indices {} and data {} must have the same rank",
            show_shape(idx.shape()),
            show_shape(data.shape())
        )));
    }
    let out = any_op!(data, a => gather_elements_t(a, idx, ax)?);
    Ok(vec![out])
}

fn gather_elements_t<T: Elem>(
    a: &ArrayD<T>,
    idx: &ArrayD<i64>,
    ax: usize,
) -> Result<Tensor, EvalError> {
    let dim = a.len_of(Axis(ax)) as i64;
    let mut values = Vec::with_capacity(idx.len());
    let mut at = vec![0usize; a.ndim()];
    for (pos, &i) in idx.indexed_iter() {
        let j = if i < 0 { i + dim } else { i };
        if !(0..dim).contains(&j) {
            return Err(EvalError::Data(format!(
                "index {i} is out of range for axis {ax} of size {dim}"
            )));
        }
        for (d, slot) in at.iter_mut().enumerate() {
            *slot = if d == ax { j as usize } else { pos[d] };
        }
        let v = a.get(IxDyn(&at)).ok_or_else(|| {
            EvalError::Shape(format!(
                "indices {} reach outside data {}",
                show_shape(idx.shape()),
                show_shape(a.shape())
            ))
        })?;
        values.push(v.clone());
    }
    from_vec(idx.shape(), values)
}

pub(super) fn one_hot(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let indices = cx.input(0, "indices")?.to_f64_array();
    let depth_t = cx.input(1, "depth")?;
    let depth = depth_t.to_f64_vec();
    let [depth] = depth[..] else {
        return Err(EvalError::Shape("input depth must hold one value".into()));
    };
    if !(depth >= 1.0 && depth <= cx.limits.max_elements as f64) {
        return Err(EvalError::Limit(format!(
            "depth {depth} is not a usable size"
        )));
    }
    let depth = depth as usize;
    let values = cx.input(2, "values")?;
    if values.len() != 2 {
        return Err(EvalError::Shape("input values must hold [off, on]".into()));
    }
    let rank = indices.ndim() + 1;
    let ax = norm_axis(cx.int("axis", -1), rank, "axis")?;
    let mut shape = indices.shape().to_vec();
    shape.insert(ax, depth);
    cx.limits.check(&shape, "the output")?;
    let hot = ArrayD::from_shape_fn(IxDyn(&shape), |pos| {
        let src: Vec<usize> = (0..rank).filter(|&d| d != ax).map(|d| pos[d]).collect();
        let i = indices.get(IxDyn(&src)).copied().unwrap_or(f64::NAN);
        let i = if i < 0.0 { i + depth as f64 } else { i };
        i == pos[ax] as f64
    });
    let out = any_op!(values, v => one_hot_fill(v, &hot)?);
    Ok(vec![out])
}

fn one_hot_fill<T: Elem>(values: &ArrayD<T>, hot: &ArrayD<bool>) -> Result<Tensor, EvalError> {
    let mut it = values.iter();
    let (Some(off), Some(on)) = (it.next(), it.next()) else {
        return Err(EvalError::Shape("input values must hold [off, on]".into()));
    };
    Ok(T::wrap(
        hot.map(|&h| if h { on.clone() } else { off.clone() }),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::ir::Attr;

    #[test]
    fn pad_modes() {
        let x = f32t(&[1, 3], &[1.0, 2.0, 3.0]);
        let pads = i64t(&[4], &[0, 2, 0, 1]);
        let run = |mode: &str| {
            let p = op(
                "Pad",
                2,
                1,
                vec![("mode", Attr::String(mode.to_string().into()))],
            );
            eval1(&p, &[&x, &pads], 13).to_f64_vec()
        };
        assert_eq!(run("constant"), [0.0, 0.0, 1.0, 2.0, 3.0, 0.0]);
        assert_eq!(run("edge"), [1.0, 1.0, 1.0, 2.0, 3.0, 3.0]);
        assert_eq!(run("reflect"), [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]);
        assert_eq!(run("wrap"), [2.0, 3.0, 1.0, 2.0, 3.0, 1.0]);
        let value = f32t(&[], &[9.0]);
        let p = op("Pad", 3, 1, vec![]);
        assert_eq!(
            eval1(&p, &[&x, &pads, &value], 13).to_f64_vec(),
            [9.0, 9.0, 1.0, 2.0, 3.0, 9.0]
        );
        // Negative pads crop.
        let crop = i64t(&[4], &[0, -1, 0, 0]);
        assert_eq!(eval1(&p, &[&x, &crop], 13).to_f64_vec(), [2.0, 3.0]);
        let old = op(
            "Pad",
            1,
            1,
            vec![("pads", ints(&[0, 1, 0, 0])), ("value", Attr::Float(5.0))],
        );
        assert_eq!(eval1(&old, &[&x], 2).to_f64_vec(), [5.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn tile_trilu_eye_and_depth_to_space() {
        let x = f32t(&[1, 2], &[1.0, 2.0]);
        let t = eval1(&op("Tile", 2, 1, vec![]), &[&x, &i64t(&[2], &[2, 2])], 13);
        assert_close(&t, &[2, 4], &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 0.0);

        let m = f32t(&[3, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let up = eval1(&op("Trilu", 1, 1, vec![]), &[&m], 14);
        assert_close(
            &up,
            &[3, 3],
            &[1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 0.0, 0.0, 9.0],
            0.0,
        );
        let low = op("Trilu", 2, 1, vec![("upper", Attr::Int(0))]);
        let got = eval1(&low, &[&m, &i64t(&[], &[-1])], 14);
        assert_close(
            &got,
            &[3, 3],
            &[0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 7.0, 8.0, 0.0],
            0.0,
        );

        let eye = eval1(
            &op("EyeLike", 1, 1, vec![("k", Attr::Int(1))]),
            &[&f32t(&[2, 3], &[0.0; 6])],
            13,
        );
        assert_close(&eye, &[2, 3], &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 0.0);

        // [1, 4, 1, 1] with blocksize 2 -> [1, 1, 2, 2]
        let d = f32t(&[1, 4, 1, 1], &[1.0, 2.0, 3.0, 4.0]);
        let d2s = op("DepthToSpace", 1, 1, vec![("blocksize", Attr::Int(2))]);
        let got = eval1(&d2s, &[&d], 13);
        assert_close(&got, &[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0], 0.0);
        let s2d = op("SpaceToDepth", 1, 1, vec![("blocksize", Attr::Int(2))]);
        assert_eq!(eval1(&s2d, &[&got], 13), d);
    }

    #[test]
    fn gather_elements_and_one_hot() {
        let data = f32t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let idx = i64t(&[2, 2], &[0, 0, 1, 0]);
        let g = op("GatherElements", 2, 1, vec![("axis", Attr::Int(1))]);
        assert_close(
            &eval1(&g, &[&data, &idx], 13),
            &[2, 2],
            &[1.0, 1.0, 4.0, 3.0],
            0.0,
        );
        let bad = i64t(&[2, 2], &[0, 0, 2, 0]);
        assert!(eval(&g, &[&data, &bad], 13).is_err());

        let oh = op("OneHot", 3, 1, vec![]);
        let got = eval1(
            &oh,
            &[
                &i64t(&[2], &[1, -1]),
                &i64t(&[], &[3]),
                &f32t(&[2], &[0.0, 5.0]),
            ],
            11,
        );
        assert_close(&got, &[2, 3], &[0.0, 5.0, 0.0, 0.0, 0.0, 5.0], 0.0);
    }
}
