//! Reductions (ReduceMean/Sum/Max/Min/Prod/SumSquare/L1/L2/LogSum/LogSumExp) and ArgMax/ArgMin.

use ndarray::{ArrayD, ArrayView1, Axis};

use super::{Ctx, int_values, norm_axes, norm_axis};
use crate::eval::tensor::Float;
use crate::eval::{EvalError, Tensor};

/// Reduced axes in ascending order, or `None` for "return the input unchanged".
fn reduce_axes(cx: &Ctx, rank: usize) -> Result<Option<Vec<usize>>, EvalError> {
    let input_form = cx.opset >= 18 || (cx.kind() == "ReduceSum" && cx.opset >= 13);
    let axes = if input_form {
        cx.opt(1).map(|t| int_values(t, "input axes")).transpose()?
    } else {
        cx.ints("axes").map(<[i64]>::to_vec)
    };
    let axes = axes.unwrap_or_default();
    if axes.is_empty() {
        if input_form && cx.int("noop_with_empty_axes", 0) != 0 {
            return Ok(None);
        }
        return Ok(Some((0..rank).collect()));
    }
    let mut axes = norm_axes(&axes, rank, "axis")?;
    axes.sort_unstable();
    Ok(Some(axes))
}

pub(super) fn reduce(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let Some(axes) = reduce_axes(cx, x.rank())? else {
        return Ok(vec![x.clone()]);
    };
    let keep = cx.int("keepdims", 1) != 0;
    let out = match x {
        Tensor::I64(a) => {
            let f: fn(ArrayView1<i64>) -> i64 = match cx.kind() {
                "ReduceSum" => |l| l.iter().fold(0i64, |s, &v| s.wrapping_add(v)),
                "ReduceProd" => |l| l.iter().fold(1i64, |s, &v| s.wrapping_mul(v)),
                "ReduceMax" => |l| l.iter().copied().max().unwrap_or(i64::MIN),
                "ReduceMin" => |l| l.iter().copied().min().unwrap_or(i64::MAX),
                _ => return Err(EvalError::dtype("input data", x, "float32 or float64")),
            };
            Tensor::I64(reduce_with(a, &axes, keep, f))
        }
        _ => float_op!(x, "input data", a => reduce_float(cx.kind(), a, &axes, keep)?),
    };
    Ok(vec![out])
}

/// Folds every reduced axis with `f`, highest axis first so indices stay valid.
fn reduce_with<T: Clone, F: Fn(ArrayView1<T>) -> T>(
    a: &ArrayD<T>,
    axes: &[usize],
    keep: bool,
    f: F,
) -> ArrayD<T> {
    let mut r = a.to_owned();
    for &ax in axes.iter().rev() {
        r = r.map_axis(Axis(ax), &f);
        if keep {
            r.insert_axis_inplace(Axis(ax));
        }
    }
    r
}

fn reduce_float<T: Float>(
    kind: &str,
    a: &ArrayD<T>,
    axes: &[usize],
    keep: bool,
) -> Result<Tensor, EvalError> {
    let sum = |l: ArrayView1<T>| l.iter().fold(T::ZERO, |s, &v| s + v);
    let count = T::from_f64(
        axes.iter()
            .map(|&ax| a.len_of(Axis(ax)) as f64)
            .product::<f64>(),
    );
    let out = match kind {
        "ReduceSum" => reduce_with(a, axes, keep, sum),
        "ReduceMean" => reduce_with(a, axes, keep, sum).mapv(|v| v / count),
        "ReduceMax" => reduce_with(a, axes, keep, |l| {
            l.iter().fold(T::NEG_INFINITY, |m, &v| m.max_nan(v))
        }),
        "ReduceMin" => reduce_with(a, axes, keep, |l| {
            l.iter().fold(T::INFINITY, |m, &v| m.min_nan(v))
        }),
        "ReduceProd" => reduce_with(a, axes, keep, |l| l.iter().fold(T::ONE, |s, &v| s * v)),
        "ReduceSumSquare" => reduce_with(&a.mapv(|v| v * v), axes, keep, sum),
        "ReduceL1" => reduce_with(&a.mapv(|v| v.abs()), axes, keep, sum),
        "ReduceL2" => reduce_with(&a.mapv(|v| v * v), axes, keep, sum).mapv(|v| v.sqrt()),
        "ReduceLogSum" => reduce_with(a, axes, keep, sum).mapv(|v| v.ln()),
        "ReduceLogSumExp" => {
            let max = reduce_with(a, axes, true, |l| {
                l.iter().fold(T::NEG_INFINITY, |m, &v| m.max_nan(v))
            });
            let max = max.mapv(|m| {
                if m.is_nan() || m.abs() == T::INFINITY {
                    T::ZERO
                } else {
                    m
                }
            });
            let shifted =
                super::elementwise::zip2(a, &max, &crate::eval::Limits::default(), |&v, &m| {
                    (v - m).exp()
                })?;
            let s = reduce_with(&shifted, axes, true, sum);
            let r = ndarray::Zip::from(&s)
                .and(&max)
                .map_collect(|&s, &m| s.ln() + m);
            if keep {
                r
            } else {
                let mut r = r;
                for &ax in axes.iter().rev() {
                    r = r.index_axis_move(Axis(ax), 0);
                }
                r
            }
        }
        other => return Err(EvalError::Unsupported { op: other.into() }),
    };
    Ok(T::wrap(out))
}

pub(super) fn arg_reduce(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "data")?;
    let ax = norm_axis(cx.int("axis", 0), x.rank(), "axis")?;
    if x.shape().get(ax) == Some(&0) {
        return Err(EvalError::Shape(format!(
            "cannot take {} over the empty axis {ax}",
            cx.kind()
        )));
    }
    let keep = cx.int("keepdims", 1) != 0;
    let last = cx.int("select_last_index", 0) != 0;
    let is_max = cx.kind() == "ArgMax";
    let out = match x {
        Tensor::I64(a) => arg_t(a, ax, keep, last, is_max),
        Tensor::F32(a) => arg_t(a, ax, keep, last, is_max),
        Tensor::F64(a) => arg_t(a, ax, keep, last, is_max),
        Tensor::Bool(_) => return Err(EvalError::dtype("input data", x, "a numeric type")),
    };
    Ok(vec![Tensor::I64(out)])
}

fn arg_t<T: PartialOrd + Copy>(
    a: &ArrayD<T>,
    ax: usize,
    keep: bool,
    last: bool,
    is_max: bool,
) -> ArrayD<i64> {
    let mut r = a.map_axis(Axis(ax), |lane| {
        let mut best: Option<(usize, T)> = None;
        for (i, &v) in lane.iter().enumerate() {
            let better = match best {
                None => true,
                Some((_, b)) if is_max => v > b || (last && v == b),
                Some((_, b)) => v < b || (last && v == b),
            };
            if better {
                best = Some((i, v));
            }
        }
        best.map_or(0, |(i, _)| i as i64)
    });
    if keep {
        r.insert_axis_inplace(Axis(ax));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::ir::Attr;

    #[test]
    fn reductions_over_attribute_and_input_axes() {
        let x = f64t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let mean_old = op("ReduceMean", 1, 1, vec![("axes", ints(&[1]))]);
        assert_close(&eval1(&mean_old, &[&x], 13), &[2, 1], &[2.0, 5.0], 0.0);
        let mean_new = op("ReduceMean", 2, 1, vec![("keepdims", Attr::Int(0))]);
        assert_close(
            &eval1(&mean_new, &[&x, &i64t(&[1], &[0])], 18),
            &[3],
            &[2.5, 3.5, 4.5],
            0.0,
        );
        let sum13 = op("ReduceSum", 2, 1, vec![]);
        assert_close(
            &eval1(&sum13, &[&x, &i64t(&[1], &[-1])], 13),
            &[2, 1],
            &[6.0, 15.0],
            0.0,
        );
        let all = op("ReduceMax", 1, 1, vec![("keepdims", Attr::Int(0))]);
        assert_close(&eval1(&all, &[&x], 13), &[], &[6.0], 0.0);
        let l2 = op("ReduceL2", 1, 1, vec![("axes", ints(&[0]))]);
        assert_close(
            &eval1(&l2, &[&x], 13),
            &[1, 3],
            &[17f64.sqrt(), 29f64.sqrt(), 45f64.sqrt()],
            1e-15,
        );
        let lse = op(
            "ReduceLogSumExp",
            1,
            1,
            vec![("axes", ints(&[1])), ("keepdims", Attr::Int(0))],
        );
        let want: Vec<f64> = [[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]]
            .iter()
            .map(|r| r.iter().map(|v| v.exp()).sum::<f64>().ln())
            .collect();
        assert_close(&eval1(&lse, &[&x], 13), &[2], &want, 1e-14);
        let noop = op(
            "ReduceSum",
            1,
            1,
            vec![("noop_with_empty_axes", Attr::Int(1))],
        );
        assert_eq!(eval1(&noop, &[&x], 13), x);
        let ints_sum = op("ReduceSum", 1, 1, vec![("keepdims", Attr::Int(0))]);
        assert_eq!(
            eval1(&ints_sum, &[&i64t(&[3], &[1, 2, 3])], 11),
            i64t(&[], &[6])
        );
    }

    #[test]
    fn argmax_and_argmin() {
        let x = f32t(&[2, 3], &[1.0, 9.0, 9.0, 4.0, 0.0, -1.0]);
        let am = op("ArgMax", 1, 1, vec![("axis", Attr::Int(1))]);
        assert_eq!(eval1(&am, &[&x], 13), i64t(&[2, 1], &[1, 0]));
        let last = op(
            "ArgMax",
            1,
            1,
            vec![
                ("axis", Attr::Int(1)),
                ("select_last_index", Attr::Int(1)),
                ("keepdims", Attr::Int(0)),
            ],
        );
        assert_eq!(eval1(&last, &[&x], 13), i64t(&[2], &[2, 0]));
        let amin = op("ArgMin", 1, 1, vec![("keepdims", Attr::Int(0))]);
        assert_eq!(eval1(&amin, &[&x], 13), i64t(&[3], &[0, 1, 1]));
    }
}
