//! Conv and ConvTranspose (N-D, groups, pads, auto_pad, strides, dilations) by im2col + matrix
//! product, and the sliding-window geometry pooling shares.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayD, IxDyn, s};

use super::{Ctx, prod};
use crate::eval::tensor::{Float, flat, same};
use crate::eval::{EvalError, Tensor, show_shape};

/// Where a sliding window goes over each spatial axis.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Window {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    /// Signed: a transposed convolution with an explicit output shape may pad negatively.
    pub pad_begin: Vec<i64>,
    pub pad_end: Vec<i64>,
    pub out: Vec<usize>,
}

/// A per-spatial-axis attribute of positive values (default all 1).
fn positive(cx: &Ctx, name: &str, n: usize) -> Result<Vec<usize>, EvalError> {
    let Some(v) = cx.ints(name) else {
        return Ok(vec![1; n]);
    };
    if v.len() != n {
        return Err(EvalError::Attr(format!(
            "attribute {name} has {} values for {n} spatial axes",
            v.len()
        )));
    }
    v.iter()
        .map(|&x| {
            usize::try_from(x).ok().filter(|&x| x > 0).ok_or_else(|| {
                EvalError::Attr(format!("attribute {name} has a non-positive value {x}"))
            })
        })
        .collect()
}

fn overflow() -> EvalError {
    EvalError::Limit("window geometry overflows".into())
}

/// Window span of a dilated kernel: `(k - 1) * d + 1`.
fn extent(k: usize, d: usize) -> Result<usize, EvalError> {
    k.checked_sub(1)
        .and_then(|k| k.checked_mul(d))
        .and_then(|e| e.checked_add(1))
        .ok_or(overflow())
}

/// Geometry of a convolution or pooling window over `input` spatial dims.
pub(super) fn window(
    cx: &Ctx,
    input: &[usize],
    kernel: Vec<usize>,
    ceil_mode: bool,
) -> Result<Window, EvalError> {
    let n = input.len();
    if kernel.len() != n || kernel.contains(&0) {
        return Err(EvalError::Attr(format!(
            "kernel shape {} does not fit {n} spatial axes",
            show_shape(&kernel)
        )));
    }
    let strides = positive(cx, "strides", n)?;
    let dilations = positive(cx, "dilations", n)?;
    let mut pad_begin = vec![0; n];
    let mut pad_end = vec![0; n];
    let mut out = vec![0; n];
    let auto_pad = cx.string("auto_pad", "NOTSET");
    for i in 0..n {
        let ext = extent(kernel[i], dilations[i])?;
        let (inp, st) = (input[i], strides[i]);
        match auto_pad {
            "SAME_UPPER" | "SAME_LOWER" => {
                let o = inp.div_ceil(st);
                let needed = o
                    .saturating_sub(1)
                    .checked_mul(st)
                    .and_then(|v| v.checked_add(ext))
                    .ok_or(overflow())?;
                let total = needed.saturating_sub(inp);
                let (small, big) = (total / 2, total - total / 2);
                (pad_begin[i], pad_end[i]) = if auto_pad == "SAME_UPPER" {
                    (small, big)
                } else {
                    (big, small)
                };
                out[i] = o;
            }
            "NOTSET" | "VALID" | "" => {
                if let Some(p) = cx.ints("pads").filter(|_| auto_pad != "VALID") {
                    if p.len() != 2 * n {
                        return Err(EvalError::Attr(format!(
                            "attribute pads has {} values for {n} spatial axes",
                            p.len()
                        )));
                    }
                    let get = |j: usize| {
                        p.get(j)
                            .and_then(|&v| usize::try_from(v).ok())
                            .ok_or_else(|| {
                                EvalError::Attr("attribute pads has a negative value".into())
                            })
                    };
                    pad_begin[i] = get(i)?;
                    pad_end[i] = get(i + n)?;
                }
                let span = inp
                    .checked_add(pad_begin[i])
                    .and_then(|v| v.checked_add(pad_end[i]))
                    .ok_or(overflow())?;
                if span < ext {
                    return Err(EvalError::Shape(format!(
                        "the window spans {ext} on spatial axis {i}, more than the padded input size {span}"
                    )));
                }
                let steps = if ceil_mode {
                    (span - ext).div_ceil(st)
                } else {
                    (span - ext) / st
                };
                let mut o = steps + 1;
                // A window may not start in the end padding.
                if ceil_mode && (o - 1) * st >= inp + pad_begin[i] {
                    o -= 1;
                }
                out[i] = o;
            }
            other => {
                return Err(EvalError::Attr(format!(
                    "attribute auto_pad is '{other}', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID"
                )));
            }
        }
    }
    let signed = |v: Vec<usize>| v.into_iter().map(|p| p as i64).collect();
    Ok(Window {
        kernel,
        strides,
        dilations,
        pad_begin: signed(pad_begin),
        pad_end: signed(pad_end),
        out,
    })
}

/// For each (kernel offset, output position), the flat input offset it reads, or `None` in padding.
/// Rows are kernel offsets, columns output positions, both row-major over the spatial axes.
pub(super) fn taps(w: &Window, input: &[usize]) -> Vec<Option<usize>> {
    let kprod = prod(&w.kernel);
    let oprod = prod(&w.out);
    let n = input.len();
    let mut table = Vec::with_capacity(kprod.saturating_mul(oprod));
    let mut k_idx = vec![0usize; n];
    let mut o_idx = vec![0usize; n];
    for kflat in 0..kprod {
        unravel(kflat, &w.kernel, &mut k_idx);
        for oflat in 0..oprod {
            unravel(oflat, &w.out, &mut o_idx);
            let mut offset = 0usize;
            let mut inside = true;
            for d in 0..n {
                let pos =
                    (o_idx[d] * w.strides[d] + k_idx[d] * w.dilations[d]) as i64 - w.pad_begin[d];
                if pos < 0 || pos >= input[d] as i64 {
                    inside = false;
                    break;
                }
                offset = offset * input[d] + pos as usize;
            }
            table.push(inside.then_some(offset));
        }
    }
    table
}

/// Row-major multi-index of `flat` in `dims`.
pub(super) fn unravel(mut flat: usize, dims: &[usize], out: &mut [usize]) {
    for (o, &d) in out.iter_mut().zip(dims).rev() {
        let d = d.max(1);
        *o = flat % d;
        flat /= d;
    }
}

/// Checks for `[N, C, spatial...]` data and a `[M, C/group, kernel...]`-style weight; returns group.
fn group_count(cx: &Ctx, x: &[usize], w: &[usize]) -> Result<usize, EvalError> {
    if x.len() < 3 || w.len() != x.len() {
        return Err(EvalError::Shape(format!(
            "input X {} and weight W {} must have the same rank, at least 3",
            show_shape(x),
            show_shape(w)
        )));
    }
    let g = usize::try_from(cx.int("group", 1))
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| EvalError::Attr("attribute group must be positive".into()))?;
    if let Some(k) = cx.ints("kernel_shape") {
        let matches = k.len() == w.len() - 2
            && k.iter()
                .zip(&w[2..])
                .all(|(&a, &b)| usize::try_from(a) == Ok(b));
        if !matches {
            return Err(EvalError::Attr(format!(
                "attribute kernel_shape {k:?} does not match weight W {}",
                show_shape(w)
            )));
        }
    }
    Ok(g)
}

fn bias<'a, T: Float>(cx: &'a Ctx, m: usize) -> Result<Option<&'a ArrayD<T>>, EvalError> {
    let Some(b) = cx.opt(2) else {
        return Ok(None);
    };
    let b: &ArrayD<T> = same(b, "input B")?;
    if b.shape() != [m] {
        return Err(EvalError::Shape(format!(
            "input B has shape {}, expected [{m}]",
            show_shape(b.shape())
        )));
    }
    Ok(Some(b))
}

pub(super) fn conv(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let out = float_op!(x, "input X", a => conv_t(cx, a)?);
    Ok(vec![out])
}

fn conv_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let w: &ArrayD<T> = same(cx.input(1, "W")?, "input W")?;
    let (xs, ws) = (x.shape(), w.shape());
    let group = group_count(cx, xs, ws)?;
    let (n, c, m, cg) = (xs[0], xs[1], ws[0], ws[1]);
    if cg * group != c || m % group != 0 {
        return Err(EvalError::Shape(format!(
            "input X has {c} channels and weight W is {} with group {group}: expected W[1] * group = {c} and W[0] divisible by group",
            show_shape(ws)
        )));
    }
    let mg = m / group;
    let b = bias::<T>(cx, m)?;
    let spatial = &xs[2..];
    let win = window(cx, spatial, ws[2..].to_vec(), false)?;
    let mut out_shape = vec![n, m];
    out_shape.extend_from_slice(&win.out);
    cx.limits.check(&out_shape, "the output")?;
    let (kprod, oprod, iprod) = (prod(&win.kernel), prod(&win.out), prod(spatial));
    cx.limits.check(
        &[cg.saturating_mul(kprod).max(kprod), oprod],
        "the im2col buffer",
    )?;
    cx.limits.check_work(
        [n, m, cg, kprod, oprod].iter().map(|&v| v as f64).product(),
        "the convolution",
    )?;
    let table = taps(&win, spatial);
    let xf = flat(x);
    let wm = Array2::from_shape_vec((m, cg * kprod), flat(w).into_owned())
        .map_err(|_| EvalError::Shape("weight W cannot be viewed as a matrix".into()))?;
    let mut out = vec![T::ZERO; n * m * oprod];
    let mut cols = Array2::from_elem((cg * kprod, oprod), T::ZERO);
    let mut y = Array2::from_elem((mg, oprod), T::ZERO);
    for img in 0..n {
        for g in 0..group {
            for ((row, col), v) in cols.indexed_iter_mut() {
                let (ch, k) = (row / kprod, row % kprod);
                let base = ((img * c) + g * cg + ch) * iprod;
                *v = match table.get(k * oprod + col).copied().flatten() {
                    Some(off) => xf.get(base + off).copied().unwrap_or(T::ZERO),
                    None => T::ZERO,
                };
            }
            let wg = wm.slice(s![g * mg..(g + 1) * mg, ..]);
            general_mat_mul(T::ONE, &wg, &cols, T::ZERO, &mut y);
            for (j, row) in y.rows().into_iter().enumerate() {
                let ch = g * mg + j;
                let add = b.and_then(|b| b.get(ch).copied()).unwrap_or(T::ZERO);
                let start = (img * m + ch) * oprod;
                if let Some(dst) = out.get_mut(start..start + oprod) {
                    for (d, &v) in dst.iter_mut().zip(row) {
                        *d = v + add;
                    }
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out)
        .map(T::wrap)
        .map_err(|_| EvalError::Shape("output cannot be shaped".into()))
}

pub(super) fn conv_transpose(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let out = float_op!(x, "input X", a => conv_transpose_t(cx, a)?);
    Ok(vec![out])
}

/// Output geometry of a transposed convolution; `out` is the output size, pads as ONNX defines them.
fn transpose_window(cx: &Ctx, input: &[usize], kernel: &[usize]) -> Result<Window, EvalError> {
    let n = input.len();
    let strides = positive(cx, "strides", n)?;
    let dilations = positive(cx, "dilations", n)?;
    let out_pad: Vec<usize> = match cx.ints("output_padding") {
        Some(p) if p.len() == n => p
            .iter()
            .map(|&v| {
                usize::try_from(v)
                    .map_err(|_| EvalError::Attr("attribute output_padding is negative".into()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(EvalError::Attr(
                "attribute output_padding has the wrong length".into(),
            ));
        }
        None => vec![0; n],
    };
    let auto_pad = cx.string("auto_pad", "NOTSET");
    let explicit: Option<Vec<usize>> = match cx.ints("output_shape") {
        Some(o) => {
            let o = if o.len() == n + 2 { &o[2..] } else { o };
            if o.len() != n {
                return Err(EvalError::Attr(
                    "attribute output_shape has the wrong length".into(),
                ));
            }
            Some(
                o.iter()
                    .map(|&v| {
                        usize::try_from(v).map_err(|_| {
                            EvalError::Attr("attribute output_shape is negative".into())
                        })
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        None if auto_pad.starts_with("SAME") => Some(
            input
                .iter()
                .zip(&strides)
                .map(|(&i, &s)| i.checked_mul(s).ok_or(overflow()))
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    let mut pad_begin = vec![0; n];
    let mut pad_end = vec![0; n];
    let mut out = vec![0; n];
    for i in 0..n {
        let ext = extent(kernel[i], dilations[i])?;
        let full = input[i]
            .saturating_sub(1)
            .checked_mul(strides[i])
            .and_then(|v| v.checked_add(out_pad[i]))
            .and_then(|v| v.checked_add(ext))
            .ok_or(overflow())?;
        if let Some(target) = &explicit {
            let want = target[i];
            let total = full as i64 - want as i64;
            let half = total.div_euclid(2);
            (pad_begin[i], pad_end[i]) = if auto_pad == "SAME_UPPER" {
                (half, total - half)
            } else {
                (total - half, half)
            };
            out[i] = want;
        } else {
            if let Some(p) = cx.ints("pads").filter(|_| auto_pad != "VALID") {
                if p.len() != 2 * n {
                    return Err(EvalError::Attr(
                        "attribute pads has the wrong length".into(),
                    ));
                }
                let get = |j: usize| {
                    p.get(j).copied().filter(|&v| v >= 0).ok_or_else(|| {
                        EvalError::Attr("attribute pads has a negative value".into())
                    })
                };
                pad_begin[i] = get(i)?;
                pad_end[i] = get(i + n)?;
            }
            out[i] = (full as i64)
                .checked_sub(pad_begin[i].saturating_add(pad_end[i]))
                .filter(|&o| o > 0)
                .map(|o| o as usize)
                .ok_or_else(|| {
                    EvalError::Shape(format!("pads leave no output on spatial axis {i}"))
                })?;
        }
    }
    Ok(Window {
        kernel: kernel.to_vec(),
        strides,
        dilations,
        pad_begin,
        pad_end,
        out,
    })
}

fn conv_transpose_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let w: &ArrayD<T> = same(cx.input(1, "W")?, "input W")?;
    let (xs, ws) = (x.shape(), w.shape());
    let group = group_count(cx, xs, ws)?;
    let (n, c) = (xs[0], xs[1]);
    if ws[0] != c || c % group != 0 {
        return Err(EvalError::Shape(format!(
            "input X has {c} channels, but weight W is {} with group {group}",
            show_shape(ws)
        )));
    }
    let (cg, mg) = (c / group, ws[1]);
    let m = mg * group;
    let b = bias::<T>(cx, m)?;
    let spatial = &xs[2..];
    let win = transpose_window(cx, spatial, &ws[2..])?;
    let mut out_shape = vec![n, m];
    out_shape.extend_from_slice(&win.out);
    cx.limits.check(&out_shape, "the output")?;
    let (kprod, iprod, oprod) = (prod(&win.kernel), prod(spatial), prod(&win.out));
    cx.limits.check(
        &[mg.saturating_mul(kprod).max(kprod), iprod],
        "the col2im buffer",
    )?;
    cx.limits.check_work(
        [n, m, cg, kprod, iprod].iter().map(|&v| v as f64).product(),
        "the transposed convolution",
    )?;
    // Scatter table: for (kernel offset, input position), the output offset it adds to.
    let scatter = Window {
        out: spatial.to_vec(),
        ..win.clone()
    };
    let table = taps(&scatter, &win.out);
    let xf = flat(x);
    let wf = flat(w);
    let mut out = vec![T::ZERO; n * m * oprod];
    let mut y = Array2::from_elem((mg * kprod, iprod), T::ZERO);
    for img in 0..n {
        for g in 0..group {
            let start = (img * c + g * cg) * iprod;
            let xg = xf
                .get(start..start + cg * iprod)
                .ok_or_else(|| EvalError::Shape("input X is shorter than its shape".into()))?;
            let xg = ndarray::ArrayView2::from_shape((cg, iprod), xg)
                .map_err(|_| EvalError::Shape("input X cannot be viewed as a matrix".into()))?;
            let wstart = g * cg * mg * kprod;
            let wg = wf
                .get(wstart..wstart + cg * mg * kprod)
                .ok_or_else(|| EvalError::Shape("weight W is shorter than its shape".into()))?;
            let wg = ndarray::ArrayView2::from_shape((cg, mg * kprod), wg)
                .map_err(|_| EvalError::Shape("weight W cannot be viewed as a matrix".into()))?;
            general_mat_mul(T::ONE, &wg.t(), &xg, T::ZERO, &mut y);
            for ((row, col), &v) in y.indexed_iter() {
                let (j, k) = (row / kprod, row % kprod);
                if let Some(off) = table.get(k * iprod + col).copied().flatten() {
                    let at = (img * m + g * mg + j) * oprod + off;
                    if let Some(d) = out.get_mut(at) {
                        *d = *d + v;
                    }
                }
            }
        }
        if let Some(b) = b {
            for (ch, &bv) in b.iter().enumerate() {
                let start = (img * m + ch) * oprod;
                if let Some(dst) = out.get_mut(start..start + oprod) {
                    dst.iter_mut().for_each(|d| *d = *d + bv);
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out)
        .map(T::wrap)
        .map_err(|_| EvalError::Shape("output cannot be shaped".into()))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::eval::EvalError;
    use crate::ir::Attr;

    /// Direct 2-D convolution loop with zero padding, as a reference.
    #[allow(clippy::too_many_arguments)]
    fn reference_conv2d(
        x: &[f64],
        (n, c, h, w): (usize, usize, usize, usize),
        k: &[f64],
        (m, kh, kw): (usize, usize, usize),
        group: usize,
        (sh, sw): (usize, usize),
        (ph, pw): (usize, usize),
        (dh, dw): (usize, usize),
        bias: &[f64],
    ) -> (Vec<f64>, usize, usize) {
        let oh = (h + 2 * ph - ((kh - 1) * dh + 1)) / sh + 1;
        let ow = (w + 2 * pw - ((kw - 1) * dw + 1)) / sw + 1;
        let (cg, mg) = (c / group, m / group);
        let mut out = vec![0.0; n * m * oh * ow];
        for b in 0..n {
            for oc in 0..m {
                let g = oc / mg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias[oc];
                        for ic in 0..cg {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * sh + ky * dh) as i64 - ph as i64;
                                    let ix = (ox * sw + kx * dw) as i64 - pw as i64;
                                    if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                        continue;
                                    }
                                    let xv = x[((b * c + g * cg + ic) * h + iy as usize) * w
                                        + ix as usize];
                                    let kv = k[((oc * cg + ic) * kh + ky) * kw + kx];
                                    acc += xv * kv;
                                }
                            }
                        }
                        out[((b * m + oc) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        (out, oh, ow)
    }

    #[test]
    fn conv_with_groups_pads_strides_dilations_matches_a_hand_loop() {
        let (n, c, h, w) = (2, 4, 7, 6);
        let (m, kh, kw) = (6, 3, 2);
        let group = 2;
        let x: Vec<f64> = (0..n * c * h * w)
            .map(|i| ((i * 37 % 23) as f64 - 11.0) / 7.0)
            .collect();
        let k: Vec<f64> = (0..m * (c / group) * kh * kw)
            .map(|i| ((i * 13 % 17) as f64 - 8.0) / 5.0)
            .collect();
        let bias: Vec<f64> = (0..m).map(|i| i as f64 * 0.25).collect();
        let (want, oh, ow) = reference_conv2d(
            &x,
            (n, c, h, w),
            &k,
            (m, kh, kw),
            group,
            (2, 1),
            (1, 2),
            (2, 1),
            &bias,
        );
        let conv = op(
            "Conv",
            3,
            1,
            vec![
                ("group", Attr::Int(2)),
                ("strides", ints(&[2, 1])),
                ("pads", ints(&[1, 2, 1, 2])),
                ("dilations", ints(&[2, 1])),
                ("kernel_shape", ints(&[3, 2])),
            ],
        );
        let got = eval1(
            &conv,
            &[
                &f64t(&[n, c, h, w], &x),
                &f64t(&[m, c / group, kh, kw], &k),
                &f64t(&[m], &bias),
            ],
            13,
        );
        assert_close(&got, &[n, m, oh, ow], &want, 1e-12);
    }

    #[test]
    fn conv_1d_same_padding_and_errors() {
        // x = [1, 2, 3, 4, 5], kernel [1, 1, 1], SAME_UPPER, stride 2 -> out 3, pads (1, 1)
        let x = f32t(&[1, 1, 5], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        let k = f32t(&[1, 1, 3], &[1.0, 1.0, 1.0]);
        let same = op(
            "Conv",
            2,
            1,
            vec![
                ("auto_pad", Attr::String("SAME_UPPER".into())),
                ("strides", ints(&[2])),
            ],
        );
        assert_close(
            &eval1(&same, &[&x, &k], 13),
            &[1, 1, 3],
            &[3.0, 9.0, 9.0],
            0.0,
        );
        // Even kernel: SAME_UPPER puts the extra pad at the end, SAME_LOWER at the start.
        let k2 = f32t(&[1, 1, 2], &[1.0, 10.0]);
        let up = op(
            "Conv",
            2,
            1,
            vec![("auto_pad", Attr::String("SAME_UPPER".into()))],
        );
        assert_close(
            &eval1(&up, &[&x, &k2], 13),
            &[1, 1, 5],
            &[21.0, 32.0, 43.0, 54.0, 5.0],
            0.0,
        );
        let low = op(
            "Conv",
            2,
            1,
            vec![("auto_pad", Attr::String("SAME_LOWER".into()))],
        );
        assert_close(
            &eval1(&low, &[&x, &k2], 13),
            &[1, 1, 5],
            &[10.0, 21.0, 32.0, 43.0, 54.0],
            0.0,
        );
        let valid = op(
            "Conv",
            2,
            1,
            vec![("auto_pad", Attr::String("VALID".into()))],
        );
        assert_close(
            &eval1(&valid, &[&x, &k], 13),
            &[1, 1, 3],
            &[6.0, 9.0, 12.0],
            0.0,
        );
        // Channel mismatch and a kernel larger than the input are errors, not panics.
        let k3 = f32t(&[1, 2, 3], &[0.0; 6]);
        assert!(matches!(
            eval(&valid, &[&x, &k3], 13),
            Err(EvalError::Shape(_))
        ));
        let big = f32t(&[1, 1, 9], &[0.0; 9]);
        assert!(matches!(
            eval(&valid, &[&x, &big], 13),
            Err(EvalError::Shape(_))
        ));
        let x2 = f32t(&[1, 5], &[0.0; 5]);
        assert!(eval(&valid, &[&x2, &k], 13).is_err());
    }

    #[test]
    fn conv_transpose_scatters_with_strides_and_pads() {
        // 1-D: x = [1, 2], w = [1, 1, 1], stride 2 -> [1, 1, 1+2, 2, 2] = [1, 1, 3, 2, 2]
        let x = f32t(&[1, 1, 2], &[1.0, 2.0]);
        let w = f32t(&[1, 1, 3], &[1.0, 1.0, 1.0]);
        let ct = op("ConvTranspose", 2, 1, vec![("strides", ints(&[2]))]);
        assert_close(
            &eval1(&ct, &[&x, &w], 13),
            &[1, 1, 5],
            &[1.0, 1.0, 3.0, 2.0, 2.0],
            0.0,
        );
        let padded = op(
            "ConvTranspose",
            2,
            1,
            vec![("strides", ints(&[2])), ("pads", ints(&[1, 1]))],
        );
        assert_close(
            &eval1(&padded, &[&x, &w], 13),
            &[1, 1, 3],
            &[1.0, 3.0, 2.0],
            0.0,
        );
        let shaped = op(
            "ConvTranspose",
            2,
            1,
            vec![("strides", ints(&[2])), ("output_shape", ints(&[4]))],
        );
        // total pad 1: begin gets 1 (NOTSET), end 0 -> [1, 3, 2, 2]
        assert_close(
            &eval1(&shaped, &[&x, &w], 13),
            &[1, 1, 4],
            &[1.0, 3.0, 2.0, 2.0],
            0.0,
        );
        // Two output channels, bias and 2 groups.
        let x = f32t(&[1, 2, 1], &[1.0, 2.0]);
        let w = f32t(&[2, 1, 2], &[1.0, 2.0, 3.0, 4.0]);
        let b = f32t(&[2], &[0.5, -0.5]);
        let g = op("ConvTranspose", 3, 1, vec![("group", Attr::Int(2))]);
        assert_close(
            &eval1(&g, &[&x, &w, &b], 13),
            &[1, 2, 2],
            &[1.5, 2.5, 5.5, 7.5],
            0.0,
        );
    }
}
