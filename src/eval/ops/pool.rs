//! MaxPool and AveragePool (pads, strides, dilations, ceil_mode, count_include_pad) and the global pools.

use ndarray::{ArrayD, Axis, IxDyn};

use super::conv::{unravel, window};
use super::{Ctx, prod};
use crate::eval::tensor::{Float, flat};
use crate::eval::{EvalError, Tensor, show_shape};

pub(super) fn pool(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    match x {
        Tensor::I64(a) if cx.kind() == "MaxPool" => max_pool_int(cx, a),
        _ => float_op!(x, "input X", a => pool_t(cx, a)),
    }
}

/// MaxPool over integers (int8/uint8 since opset 12) through float64, exact up to 2^53.
fn max_pool_int(cx: &Ctx, x: &ArrayD<i64>) -> Result<Vec<Tensor>, EvalError> {
    const EXACT: i64 = 1 << 53;
    if x.iter().any(|v| !(-EXACT..=EXACT).contains(v)) {
        return Err(EvalError::Unsupported {
            op: "MaxPool on integers beyond 2^53".into(),
        });
    }
    let mut out = pool_t(cx, &x.mapv(|v| v as f64))?;
    if let Some(Tensor::F64(y)) = out.first() {
        out[0] = Tensor::I64(y.mapv(|v| v as i64));
    }
    Ok(out)
}

fn pool_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Vec<Tensor>, EvalError> {
    let xs = x.shape();
    if xs.len() < 3 {
        return Err(EvalError::Shape(format!(
            "input X must be [N, C, spatial...], but has shape {}",
            show_shape(xs)
        )));
    }
    let spatial = &xs[2..];
    let kernel: Vec<usize> = cx
        .ints("kernel_shape")
        .ok_or_else(|| EvalError::Attr("attribute kernel_shape is missing".into()))?
        .iter()
        .map(|&k| usize::try_from(k).unwrap_or(0))
        .collect();
    let win = window(cx, spatial, kernel, cx.int("ceil_mode", 0) != 0)?;
    let mut out_shape = xs[..2].to_vec();
    out_shape.extend_from_slice(&win.out);
    cx.limits.check(&out_shape, "the output")?;
    let is_max = cx.kind() == "MaxPool";
    let lp = (cx.kind() == "LpPool").then(|| T::from_f64(cx.int("p", 2) as f64));
    let col_major = cx.int("storage_order", 0) != 0;
    let include_pad = cx.int("count_include_pad", 0) != 0;
    let n = spatial.len();
    let (kprod, oprod, iprod) = (prod(&win.kernel), prod(&win.out), prod(spatial));
    let planes = xs[0] * xs[1];
    cx.limits.check_work(
        [planes, oprod, kprod]
            .iter()
            .map(|&v| v as f64)
            .product::<f64>()
            * 16.0,
        "the pooling",
    )?;
    let xf = flat(x);
    let mut out = Vec::with_capacity(planes * oprod);
    let mut indices = Vec::new();
    let want_indices = is_max && cx.wanted() > 1;
    let (mut o_idx, mut k_idx) = (vec![0; n], vec![0; n]);
    for plane in 0..planes {
        let base = plane * iprod;
        for oflat in 0..oprod {
            unravel(oflat, &win.out, &mut o_idx);
            let mut best = T::NEG_INFINITY;
            let mut best_at = base;
            let mut sum = T::ZERO;
            let (mut inside, mut padded) = (0usize, 0usize);
            for kflat in 0..kprod {
                unravel(kflat, &win.kernel, &mut k_idx);
                let mut offset = 0usize;
                let (mut col_offset, mut col_stride) = (0usize, 1usize);
                let mut in_input = true;
                let mut in_pads = true;
                for d in 0..n {
                    let pos = (o_idx[d] * win.strides[d] + k_idx[d] * win.dilations[d]) as i64
                        - win.pad_begin[d];
                    let size = spatial[d] as i64;
                    if pos < 0 || pos >= size {
                        in_input = false;
                    }
                    if pos < -win.pad_begin[d] || pos >= size + win.pad_end[d] {
                        in_pads = false;
                    }
                    let p = pos.clamp(0, size.max(1) - 1) as usize;
                    offset = offset * spatial[d] + p;
                    col_offset += p * col_stride;
                    col_stride *= spatial[d];
                }
                if in_pads {
                    padded += 1;
                }
                if !in_input {
                    continue;
                }
                inside += 1;
                let v = xf.get(base + offset).copied().unwrap_or(T::ZERO);
                if is_max {
                    if v > best || v.is_nan() {
                        best = v;
                        best_at = base + if col_major { col_offset } else { offset };
                    }
                } else if let Some(p) = lp {
                    sum = sum + v.abs().powf(p);
                } else {
                    sum = sum + v;
                }
            }
            if is_max {
                out.push(best);
                indices.push(best_at as i64);
            } else if let Some(p) = lp {
                out.push(sum.powf(T::ONE / p));
            } else {
                let count = if include_pad { padded } else { inside };
                out.push(sum / T::from_f64(count.max(1) as f64));
            }
        }
    }
    let shaped = |v: Vec<T>| {
        ArrayD::from_shape_vec(IxDyn(&out_shape), v)
            .map(T::wrap)
            .map_err(|_| EvalError::Shape("output cannot be shaped".into()))
    };
    let mut result = vec![shaped(out)?];
    if want_indices {
        let idx = ArrayD::from_shape_vec(IxDyn(&out_shape), indices)
            .map_err(|_| EvalError::Shape("indices cannot be shaped".into()))?;
        result.push(Tensor::I64(idx));
    }
    Ok(result)
}

pub(super) fn global_pool(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    if x.rank() < 2 {
        return Err(EvalError::Shape(format!(
            "input X must be [N, C, spatial...], but has shape {}",
            show_shape(x.shape())
        )));
    }
    let is_max = cx.kind() == "GlobalMaxPool";
    let out = float_op!(x, "input X", a => global_t(a, is_max));
    Ok(vec![out])
}

fn global_t<T: Float>(x: &ArrayD<T>, is_max: bool) -> Tensor {
    let mut r = x.to_owned();
    for ax in (2..x.ndim()).rev() {
        let n = T::from_f64(r.len_of(Axis(ax)) as f64);
        r = r.map_axis(Axis(ax), |lane| {
            if is_max {
                lane.iter().fold(T::NEG_INFINITY, |m, &v| m.max_nan(v))
            } else {
                lane.iter().fold(T::ZERO, |s, &v| s + v) / n
            }
        });
        r.insert_axis_inplace(Axis(ax));
    }
    T::wrap(r)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::ir::Attr;

    fn grid() -> crate::eval::Tensor {
        // 1x1x4x4 with values 1..16
        let v: Vec<f32> = (1..=16).map(|i| i as f32).collect();
        f32t(&[1, 1, 4, 4], &v)
    }

    #[test]
    fn max_pool_strides_pads_ceil_mode_and_indices() {
        let x = grid();
        let mp = op(
            "MaxPool",
            1,
            2,
            vec![("kernel_shape", ints(&[2, 2])), ("strides", ints(&[2, 2]))],
        );
        let out = eval(&mp, &[&x], 13).unwrap();
        assert_close(&out[0], &[1, 1, 2, 2], &[6.0, 8.0, 14.0, 16.0], 0.0);
        assert_eq!(out[1].to_f64_vec(), [5.0, 7.0, 13.0, 15.0]);
        // 3x3 stride 2: floor gives 1x1, ceil gives 2x2 (last window starts inside the input).
        let floor = op(
            "MaxPool",
            1,
            1,
            vec![("kernel_shape", ints(&[3, 3])), ("strides", ints(&[2, 2]))],
        );
        assert_close(&eval1(&floor, &[&x], 13), &[1, 1, 1, 1], &[11.0], 0.0);
        let ceil = op(
            "MaxPool",
            1,
            1,
            vec![
                ("kernel_shape", ints(&[3, 3])),
                ("strides", ints(&[2, 2])),
                ("ceil_mode", Attr::Int(1)),
            ],
        );
        assert_close(
            &eval1(&ceil, &[&x], 13),
            &[1, 1, 2, 2],
            &[11.0, 12.0, 15.0, 16.0],
            0.0,
        );
        let padded = op(
            "MaxPool",
            1,
            1,
            vec![
                ("kernel_shape", ints(&[2, 2])),
                ("pads", ints(&[1, 1, 1, 1])),
                ("strides", ints(&[2, 2])),
            ],
        );
        assert_close(
            &eval1(&padded, &[&x], 13),
            &[1, 1, 3, 3],
            &[1.0, 3.0, 4.0, 9.0, 11.0, 12.0, 13.0, 15.0, 16.0],
            0.0,
        );
    }

    #[test]
    fn average_pool_counts_pads_only_when_asked() {
        let x = grid();
        let base = vec![
            ("kernel_shape", ints(&[2, 2])),
            ("pads", ints(&[1, 1, 0, 0])),
            ("strides", ints(&[2, 2])),
        ];
        let excl = op("AveragePool", 1, 1, base.clone());
        // Windows: [1], [2,3], [5,9], [6,7,10,11]
        assert_close(
            &eval1(&excl, &[&x], 13),
            &[1, 1, 2, 2],
            &[1.0, 2.5, 7.0, 8.5],
            1e-7,
        );
        let mut attrs = base;
        attrs.push(("count_include_pad", Attr::Int(1)));
        let incl = op("AveragePool", 1, 1, attrs);
        assert_close(
            &eval1(&incl, &[&x], 13),
            &[1, 1, 2, 2],
            &[0.25, 1.25, 3.5, 8.5],
            1e-7,
        );
    }

    #[test]
    fn crafted_windows_are_refused_quickly() {
        let x = f32t(&[1, 1, 1, 1], &[1.0]);
        let huge = op(
            "MaxPool",
            1,
            1,
            vec![
                ("kernel_shape", ints(&[100_000, 100_000])),
                ("pads", ints(&[100_000; 4])),
            ],
        );
        let start = std::time::Instant::now();
        assert!(matches!(
            eval(&huge, &[&x], 13),
            Err(crate::eval::EvalError::Limit(_))
        ));
        let w = f32t(&[1, 1, 1000, 1000], &vec![0.0; 1_000_000]);
        let conv = op("Conv", 2, 1, vec![("pads", ints(&[1000; 4]))]);
        assert!(matches!(
            eval(&conv, &[&x, &w], 13),
            Err(crate::eval::EvalError::Limit(_))
        ));
        assert!(start.elapsed().as_secs() < 2);
    }

    #[test]
    fn global_pools_keep_spatial_dims_as_one() {
        let x = grid();
        assert_close(
            &eval1(&op("GlobalAveragePool", 1, 1, vec![]), &[&x], 13),
            &[1, 1, 1, 1],
            &[8.5],
            0.0,
        );
        assert_close(
            &eval1(&op("GlobalMaxPool", 1, 1, vec![]), &[&x], 13),
            &[1, 1, 1, 1],
            &[16.0],
            0.0,
        );
    }
}
