//! Softmax, LogSoftmax and Hardmax, and the normalisation layers (BatchNormalization inference,
//! InstanceNormalization, LayerNormalization, LRN).

use ndarray::{Array2, ArrayD, ArrayViewMut1, Axis, IxDyn, Zip};

use super::{Ctx, norm_axis, prod};
use crate::eval::tensor::{Float, flat, same};
use crate::eval::{EvalError, Tensor, show_shape};

#[derive(Clone, Copy, PartialEq)]
enum SoftKind {
    Softmax,
    LogSoftmax,
    Hardmax,
}

/// Before opset 13 the input is coerced to 2-D at `axis` (default 1) and each row of all trailing dims
/// flattened is normalised; from 13 one `axis` (default -1) is.
pub(super) fn softmax(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let kind = match cx.kind() {
        "LogSoftmax" => SoftKind::LogSoftmax,
        "Hardmax" => SoftKind::Hardmax,
        _ => SoftKind::Softmax,
    };
    let out = float_op!(x, "input", a => softmax_t(a, kind, cx.opset, cx.op.attr_int("axis"))?);
    Ok(vec![out])
}

fn softmax_t<T: Float>(
    a: &ArrayD<T>,
    kind: SoftKind,
    opset: i64,
    axis: Option<i64>,
) -> Result<Tensor, EvalError> {
    let rank = a.ndim();
    if opset < 13 {
        let axis = axis.unwrap_or(1);
        let r = rank as i64;
        let ax = if axis < 0 { axis + r } else { axis };
        if !(0..=r).contains(&ax) || rank == 0 {
            return Err(EvalError::Attr(format!(
                "axis {axis} is out of range for an input of shape {}",
                show_shape(a.shape())
            )));
        }
        let inner = prod(&a.shape()[ax as usize..]);
        let rows = prod(&a.shape()[..ax as usize]);
        let mut m = Array2::from_shape_vec((rows, inner), flat(a).into_owned())
            .map_err(|_| EvalError::Shape("input cannot be coerced to 2-D".into()))?;
        if inner > 0 {
            for row in m.rows_mut() {
                normalise(row, kind);
            }
        }
        let (data, _) = m.into_raw_vec_and_offset();
        ArrayD::from_shape_vec(IxDyn(a.shape()), data)
            .map(T::wrap)
            .map_err(|_| EvalError::Shape("input cannot be restored from 2-D".into()))
    } else {
        let ax = norm_axis(axis.unwrap_or(-1), rank, "axis")?;
        let mut out = a.to_owned();
        if out.len_of(Axis(ax)) > 0 {
            for lane in out.lanes_mut(Axis(ax)) {
                normalise(lane, kind);
            }
        }
        Ok(T::wrap(out))
    }
}

/// Numerically stable softmax (max subtracted first), log-softmax or hardmax of one lane, in place.
fn normalise<T: Float>(mut v: ArrayViewMut1<T>, kind: SoftKind) {
    let max = v.iter().fold(T::NEG_INFINITY, |m, &x| m.max_nan(x));
    match kind {
        SoftKind::Softmax => {
            v.mapv_inplace(|x| (x - max).exp());
            let sum = v.iter().fold(T::ZERO, |s, &x| s + x);
            v.mapv_inplace(|x| x / sum);
        }
        SoftKind::LogSoftmax => {
            let sum = v.iter().fold(T::ZERO, |s, &x| s + (x - max).exp());
            let log_sum = sum.ln();
            v.mapv_inplace(|x| x - max - log_sum);
        }
        SoftKind::Hardmax => {
            let first = v.iter().position(|&x| x == max);
            for (i, x) in v.iter_mut().enumerate() {
                *x = if Some(i) == first { T::ONE } else { T::ZERO };
            }
        }
    }
}

/// A per-channel parameter `[C]` reshaped to broadcast against `[N, C, ...]`.
fn per_channel<T: Float>(
    t: &Tensor,
    name: &str,
    x_shape: &[usize],
) -> Result<ArrayD<T>, EvalError> {
    let p: &ArrayD<T> = same(t, &format!("input {name}"))?;
    let c = x_shape.get(1).copied().unwrap_or(0);
    let mut shape = vec![1; x_shape.len()];
    if p.shape() == [c] {
        shape[1] = c;
    } else if p.shape() == &x_shape[1..] {
        // Opset < 9 with spatial=0: one parameter per activation.
        shape[1..].copy_from_slice(&x_shape[1..]);
    } else {
        return Err(EvalError::Shape(format!(
            "input {name} has shape {}, expected [{c}] for input X of shape {}",
            show_shape(p.shape()),
            show_shape(x_shape)
        )));
    }
    ArrayD::from_shape_vec(IxDyn(&shape), flat(p).into_owned())
        .map_err(|_| EvalError::Shape(format!("input {name} cannot be reshaped")))
}

fn need_channels(x: &Tensor) -> Result<(), EvalError> {
    if x.rank() < 2 {
        return Err(EvalError::Shape(format!(
            "input X must have rank 2 or more ([N, C, ...]), but has shape {}",
            show_shape(x.shape())
        )));
    }
    Ok(())
}

pub(super) fn batch_norm(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    need_channels(x)?;
    if cx.int("training_mode", 0) != 0 {
        return Err(EvalError::Unsupported {
            op: "BatchNormalization with training_mode=1".into(),
        });
    }
    let out = float_op!(x, "input X", a => batch_norm_t(cx, a)?);
    Ok(vec![out])
}

fn batch_norm_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let s = x.shape();
    let scale = per_channel::<T>(cx.input(1, "scale")?, "scale", s)?;
    let bias = per_channel::<T>(cx.input(2, "B")?, "B", s)?;
    let mean = per_channel::<T>(cx.input(3, "mean")?, "mean", s)?;
    let var = per_channel::<T>(cx.input(4, "var")?, "var", s)?;
    let eps = T::from_f64(cx.float("epsilon", 1e-5));
    let factor = Zip::from(&scale)
        .and(&var)
        .map_collect(|&g, &v| g / (v + eps).sqrt());
    let shift = Zip::from(&bias)
        .and(&mean)
        .and(&factor)
        .map_collect(|&b, &m, &f| b - m * f);
    let (Some(f), Some(sh)) = (factor.broadcast(s), shift.broadcast(s)) else {
        return Err(EvalError::Shape(
            "parameters do not broadcast to input X".into(),
        ));
    };
    let y = Zip::from(x)
        .and(&f)
        .and(&sh)
        .map_collect(|&v, &f, &b| v * f + b);
    Ok(T::wrap(y))
}

pub(super) fn instance_norm(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    need_channels(x)?;
    let out = float_op!(x, "input", a => instance_norm_t(cx, a)?);
    Ok(vec![out])
}

fn instance_norm_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let s = x.shape();
    let (n, c) = (s[0], s[1]);
    let scale = per_channel::<T>(cx.input(1, "scale")?, "scale", s)?;
    let bias = per_channel::<T>(cx.input(2, "B")?, "B", s)?;
    if scale.len() != c || bias.len() != c {
        return Err(EvalError::Shape(
            "scale and B must have one value per channel".into(),
        ));
    }
    let eps = T::from_f64(cx.float("epsilon", 1e-5));
    let plane = prod(&s[2..]);
    let mut data = flat(x).into_owned();
    let (g, b) = (flat(&scale), flat(&bias));
    if plane > 0 {
        for (i, chunk) in data.chunks_mut(plane).enumerate().take(n * c) {
            let ch = i % c.max(1);
            let (gain, shift) = (
                g.get(ch).copied().unwrap_or(T::ONE),
                b.get(ch).copied().unwrap_or(T::ZERO),
            );
            normalise_slice(chunk, eps, gain, shift);
        }
    }
    ArrayD::from_shape_vec(IxDyn(s), data)
        .map(T::wrap)
        .map_err(|_| EvalError::Shape("output cannot be shaped".into()))
}

/// `(v - mean) / sqrt(var + eps) * gain + shift` over one group, returning (mean, 1/std).
fn normalise_slice<T: Float>(v: &mut [T], eps: T, gain: T, shift: T) -> (T, T) {
    let n = T::from_f64(v.len() as f64);
    let mean = v.iter().fold(T::ZERO, |s, &x| s + x) / n;
    let var = v.iter().fold(T::ZERO, |s, &x| s + (x - mean) * (x - mean)) / n;
    let inv = T::ONE / (var + eps).sqrt();
    for x in v.iter_mut() {
        *x = (*x - mean) * inv * gain + shift;
    }
    (mean, inv)
}

pub(super) fn layer_norm(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    float_op!(x, "input X", a => layer_norm_t(cx, a))
}

fn layer_norm_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Vec<Tensor>, EvalError> {
    let s = x.shape();
    let axis = norm_axis(cx.int("axis", -1), s.len(), "axis")?;
    let eps = T::from_f64(cx.float("epsilon", 1e-5));
    let group = prod(&s[axis..]);
    let outer = prod(&s[..axis]);
    let mut data = flat(x).into_owned();
    let mut means = Vec::with_capacity(outer);
    let mut invs = Vec::with_capacity(outer);
    if group > 0 {
        for chunk in data.chunks_mut(group) {
            let (m, inv) = normalise_slice(chunk, eps, T::ONE, T::ZERO);
            means.push(m);
            invs.push(inv);
        }
    }
    let normed = ArrayD::from_shape_vec(IxDyn(s), data)
        .map_err(|_| EvalError::Shape("output cannot be shaped".into()))?;
    let scale: &ArrayD<T> = same(cx.input(1, "Scale")?, "input Scale")?;
    let mut y = super::elementwise::zip2(&normed, scale, cx.limits, |&v, &g| v * g)?;
    if let Some(b) = cx.opt(2) {
        let b: &ArrayD<T> = same(b, "input B")?;
        y = super::elementwise::zip2(&y, b, cx.limits, |&v, &b| v + b)?;
    }
    if y.shape() != s {
        return Err(EvalError::Shape(format!(
            "Scale or B does not broadcast to the input shape {}",
            show_shape(s)
        )));
    }
    let mut stat_shape = s.to_vec();
    for d in stat_shape.iter_mut().skip(axis) {
        *d = 1;
    }
    let stat = |v: Vec<T>| {
        ArrayD::from_shape_vec(IxDyn(&stat_shape), v)
            .map(T::wrap)
            .map_err(|_| EvalError::Shape("statistics cannot be shaped".into()))
    };
    let mut out = vec![T::wrap(y)];
    if cx.wanted() > 1 && group > 0 {
        out.push(stat(means)?);
        out.push(stat(invs)?);
    }
    Ok(out)
}

pub(super) fn rms_norm(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let out = float_op!(x, "input X", a => rms_norm_t(cx, a)?);
    Ok(vec![out])
}

fn rms_norm_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let s = x.shape();
    let axis = norm_axis(cx.int("axis", -1), s.len(), "axis")?;
    let eps = T::from_f64(cx.float("epsilon", 1e-5));
    let group = prod(&s[axis..]);
    let mut data = flat(x).into_owned();
    if group > 0 {
        let n = T::from_f64(group as f64);
        for chunk in data.chunks_mut(group) {
            let ms = chunk.iter().fold(T::ZERO, |a, &v| a + v * v) / n;
            let inv = T::ONE / (ms + eps).sqrt();
            chunk.iter_mut().for_each(|v| *v = *v * inv);
        }
    }
    let normed = ArrayD::from_shape_vec(IxDyn(s), data)
        .map_err(|_| EvalError::Shape("output cannot be shaped".into()))?;
    let scale: &ArrayD<T> = same(cx.input(1, "scale")?, "input scale")?;
    let y = super::elementwise::zip2(&normed, scale, cx.limits, |&v, &g| v * g)?;
    if y.shape() != s {
        return Err(EvalError::Shape(format!(
            "scale does not broadcast to the input shape {}",
            show_shape(s)
        )));
    }
    Ok(T::wrap(y))
}

pub(super) fn lp_norm(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let p = cx.int("p", 2);
    if p != 1 && p != 2 {
        return Err(EvalError::Attr(format!(
            "attribute p is {p}, expected 1 or 2"
        )));
    }
    let ax = norm_axis(cx.int("axis", -1), x.rank(), "axis")?;
    let out = float_op!(x, "input", a => lp_norm_t(a, ax, p == 1));
    Ok(vec![out])
}

fn lp_norm_t<T: Float>(a: &ArrayD<T>, ax: usize, l1: bool) -> Tensor {
    let mut out = a.to_owned();
    for mut lane in out.lanes_mut(Axis(ax)) {
        let norm = if l1 {
            lane.iter().fold(T::ZERO, |s, &v| s + v.abs())
        } else {
            lane.iter().fold(T::ZERO, |s, &v| s + v * v).sqrt()
        };
        lane.mapv_inplace(|v| if norm == T::ZERO { T::ZERO } else { v / norm });
    }
    T::wrap(out)
}

pub(super) fn lrn(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    need_channels(x)?;
    let out = float_op!(x, "input X", a => lrn_t(cx, a)?);
    Ok(vec![out])
}

fn lrn_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let size = cx
        .op
        .attr_int("size")
        .filter(|&s| s >= 1)
        .ok_or_else(|| EvalError::Attr("attribute size must be a positive integer".into()))?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let alpha = cx.float("alpha", 1e-4);
    let beta = T::from_f64(cx.float("beta", 0.75));
    let bias = T::from_f64(cx.float("bias", 1.0));
    let coef = T::from_f64(alpha / size as f64);
    let s = x.shape();
    let c = s[1];
    let (below, above) = ((size - 1) / 2, (size - 1).div_ceil(2));
    let squares = x.mapv(|v| v * v);
    let mut y = x.to_owned();
    for ch in 0..c {
        let lo = ch.saturating_sub(below);
        let hi = ch.saturating_add(above).min(c - 1);
        let mut sum = squares.index_axis(Axis(1), lo).to_owned();
        for k in lo + 1..=hi {
            Zip::from(&mut sum)
                .and(&squares.index_axis(Axis(1), k))
                .for_each(|s, &v| *s = *s + v);
        }
        let mut out = y.index_axis_mut(Axis(1), ch);
        Zip::from(&mut out)
            .and(&sum)
            .for_each(|v, &s| *v = *v / (bias + coef * s).powf(beta));
    }
    Ok(T::wrap(y))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::ir::Attr;

    #[test]
    fn softmax_over_a_single_unit_is_exactly_one() {
        let x = f32t(&[4, 1], &[-3.0, 0.0, 2.5, 80.0]);
        for opset in [11, 13] {
            let got = eval1(&op("Softmax", 1, 1, vec![]), &[&x], opset);
            assert_eq!(
                got.as_f32().unwrap().iter().copied().collect::<Vec<_>>(),
                [1.0; 4]
            );
        }
        let got = eval1(&op("LogSoftmax", 1, 1, vec![]), &[&x], 13);
        assert_eq!(got.to_f64_vec(), [0.0; 4]);
    }

    #[test]
    fn softmax_is_stable_for_large_logits() {
        let x = f32t(&[1, 3], &[1000.0, 1000.0, -1000.0]);
        let got = eval1(&op("Softmax", 1, 1, vec![]), &[&x], 13);
        assert_close(&got, &[1, 3], &[0.5, 0.5, 0.0], 0.0);
        let got = eval1(&op("LogSoftmax", 1, 1, vec![]), &[&x], 13);
        assert_close(
            &got,
            &[1, 3],
            &[-(2f64.ln()), -(2f64.ln()), -2000.0 - 2f64.ln()],
            1e-6,
        );
    }

    #[test]
    fn opset_11_softmax_flattens_trailing_dims() {
        // [2, 3, 4] with axis=1: each batch row normalises over 12 elements.
        let values: Vec<f32> = (0..24).map(|i| (i % 7) as f32 * 0.5).collect();
        let x = f32t(&[2, 3, 4], &values);
        let sm = op("Softmax", 1, 1, vec![("axis", Attr::Int(1))]);
        let got = eval1(&sm, &[&x], 11).to_f64_vec();
        for b in 0..2 {
            let row = &values[b * 12..(b + 1) * 12];
            let max = row.iter().copied().fold(f32::MIN, f32::max) as f64;
            let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
            for (i, &v) in row.iter().enumerate() {
                let want = (v as f64 - max).exp() / sum;
                assert!((got[b * 12 + i] - want).abs() < 1e-6);
            }
            let total: f64 = got[b * 12..(b + 1) * 12].iter().sum();
            assert!((total - 1.0).abs() < 1e-6);
        }
        // Opset 13 with axis=1 normalises over the 3 elements of axis 1 instead.
        let got = eval1(&sm, &[&x], 13).to_f64_vec();
        for b in 0..2 {
            for k in 0..4 {
                let s: f64 = (0..3).map(|c| got[b * 12 + c * 4 + k]).sum();
                assert!((s - 1.0).abs() < 1e-6);
            }
        }
        // Default axes: 1 before 13, -1 from 13.
        let got = eval1(&op("Softmax", 1, 1, vec![]), &[&x], 13).to_f64_vec();
        let s: f64 = got[..4].iter().sum();
        assert!((s - 1.0).abs() < 1e-6);
        let bad = op("Softmax", 1, 1, vec![("axis", Attr::Int(3))]);
        assert!(eval(&bad, &[&x], 13).is_err());
    }

    #[test]
    fn hardmax_marks_the_first_maximum() {
        let x = f32t(&[2, 3], &[1.0, 3.0, 3.0, -1.0, -2.0, -3.0]);
        let got = eval1(&op("Hardmax", 1, 1, vec![]), &[&x], 13);
        assert_close(&got, &[2, 3], &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0], 0.0);
    }

    #[test]
    fn batch_norm_inference() {
        let x = f32t(&[1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let scale = f32t(&[2], &[2.0, 1.0]);
        let bias = f32t(&[2], &[0.5, 0.0]);
        let mean = f32t(&[2], &[1.0, 3.0]);
        let var = f32t(&[2], &[4.0, 1.0]);
        let bn = op(
            "BatchNormalization",
            5,
            1,
            vec![("epsilon", Attr::Float(0.0))],
        );
        let got = eval1(&bn, &[&x, &scale, &bias, &mean, &var], 15);
        // ch0: (x-1)/2*2+0.5, ch1: (x-3)/1
        assert_close(&got, &[1, 2, 2], &[0.5, 1.5, 0.0, 1.0], 1e-7);
        let short = f32t(&[3], &[1.0; 3]);
        assert!(eval(&bn, &[&x, &short, &bias, &mean, &var], 15).is_err());
    }

    #[test]
    fn layer_and_instance_norm() {
        let x = f64t(&[2, 2], &[1.0, 3.0, 2.0, 6.0]);
        let g = f64t(&[2], &[1.0, 2.0]);
        let b = f64t(&[2], &[0.0, 1.0]);
        let ln = op(
            "LayerNormalization",
            3,
            3,
            vec![("epsilon", Attr::Float(0.0))],
        );
        let out = eval(&ln, &[&x, &g, &b], 17).unwrap();
        assert_close(&out[0], &[2, 2], &[-1.0, 3.0, -1.0, 3.0], 1e-12);
        assert_close(&out[1], &[2, 1], &[2.0, 4.0], 0.0);
        assert_close(&out[2], &[2, 1], &[1.0, 0.5], 1e-12);
        let x = f64t(&[1, 2, 2], &[1.0, 3.0, 2.0, 6.0]);
        let inorm = op(
            "InstanceNormalization",
            3,
            1,
            vec![("epsilon", Attr::Float(0.0))],
        );
        assert_close(
            &eval1(&inorm, &[&x, &g, &b], 6),
            &[1, 2, 2],
            &[-1.0, 1.0, -1.0, 3.0],
            1e-12,
        );
    }

    #[test]
    fn lrn_sums_squares_over_neighbouring_channels() {
        let x = f64t(&[1, 3, 1], &[1.0, 2.0, 3.0]);
        let l = op(
            "LRN",
            1,
            1,
            vec![
                ("size", Attr::Int(3)),
                ("alpha", Attr::Float(0.3)),
                ("beta", Attr::Float(1.0)),
                ("bias", Attr::Float(1.0)),
            ],
        );
        let got = eval1(&l, &[&x], 13);
        let a = 0.3f32 as f64 / 3.0;
        let want = [
            1.0 / (1.0 + a * 5.0),
            2.0 / (1.0 + a * 14.0),
            3.0 / (1.0 + a * 13.0),
        ];
        assert_close(&got, &[1, 3, 1], &want, 1e-12);
    }
}
