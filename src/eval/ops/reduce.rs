//! Reductions (ReduceMean/Sum/Max/Min/Prod/SumSquare/L1/L2/LogSum/LogSumExp) and ArgMax/ArgMin.

use std::cmp::Ordering;

use ndarray::{ArrayD, ArrayView1, Axis, IxDyn};

use super::{Ctx, int_values, norm_axes, norm_axis};
use crate::eval::tensor::{Elem, Float};
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
        Tensor::Bool(a) => {
            let f: fn(ArrayView1<bool>) -> bool = match cx.kind() {
                "ReduceMax" => |l| l.iter().any(|&v| v),
                "ReduceMin" => |l| l.iter().all(|&v| v),
                _ => return Err(EvalError::dtype("input data", x, "a numeric type")),
            };
            Tensor::Bool(reduce_with(a, &axes, keep, f))
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

pub(super) fn top_k(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let k = if cx.opset < 10 {
        cx.op
            .attr_int("k")
            .ok_or_else(|| EvalError::Attr("attribute k is missing".into()))?
    } else {
        match int_values(cx.input(1, "K")?, "input K")?[..] {
            [k] => k,
            _ => return Err(EvalError::Shape("input K must hold one value".into())),
        }
    };
    let ax = norm_axis(cx.int("axis", -1), x.rank(), "axis")?;
    let dim = x.shape().get(ax).copied().unwrap_or(0);
    let k = usize::try_from(k)
        .ok()
        .filter(|&k| k <= dim)
        .ok_or_else(|| EvalError::Shape(format!("k = {k} is outside 0..={dim}")))?;
    let largest = cx.int("largest", 1) != 0;
    numeric_op!(x, "input X", a => top_k_t(a, ax, k, largest))
}

fn top_k_t<T: Elem + Copy + PartialOrd>(
    a: &ArrayD<T>,
    ax: usize,
    k: usize,
    largest: bool,
) -> Result<Vec<Tensor>, EvalError> {
    let mut shape = a.shape().to_vec();
    shape[ax] = k;
    let Some(&fill) = a.iter().next() else {
        let bad = |_| EvalError::Shape("the empty output cannot be shaped".into());
        let v = ArrayD::<T>::from_shape_vec(IxDyn(&shape), Vec::new()).map_err(bad)?;
        let i = ArrayD::<i64>::from_shape_vec(IxDyn(&shape), Vec::new()).map_err(bad)?;
        return Ok(vec![T::wrap(v), Tensor::I64(i)]);
    };
    let mut values = ArrayD::from_elem(IxDyn(&shape), fill);
    let mut indices = ArrayD::from_elem(IxDyn(&shape), 0i64);
    let lanes = a
        .lanes(Axis(ax))
        .into_iter()
        .zip(values.lanes_mut(Axis(ax)))
        .zip(indices.lanes_mut(Axis(ax)));
    for ((src, mut vals), mut idxs) in lanes {
        let mut order: Vec<usize> = (0..src.len()).collect();
        order.sort_by(|&i, &j| {
            let (x, y) = (src[i], src[j]);
            let by_value = if largest {
                y.partial_cmp(&x)
            } else {
                x.partial_cmp(&y)
            };
            by_value.unwrap_or(Ordering::Equal).then(i.cmp(&j))
        });
        for ((v, ix), &o) in vals.iter_mut().zip(idxs.iter_mut()).zip(&order) {
            *v = src[o];
            *ix = o as i64;
        }
    }
    Ok(vec![T::wrap(values), Tensor::I64(indices)])
}

pub(super) fn cum_sum(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "x")?;
    let axis = match int_values(cx.input(1, "axis")?, "input axis")?[..] {
        [a] => a,
        _ => return Err(EvalError::Shape("input axis must hold one value".into())),
    };
    let ax = norm_axis(axis, x.rank(), "axis")?;
    let exclusive = cx.int("exclusive", 0) != 0;
    let reverse = cx.int("reverse", 0) != 0;
    let out = numeric_op!(x, "input x", a => cum_sum_t(a, ax, exclusive, reverse));
    Ok(vec![out])
}

fn cum_sum_t<T: Elem + Copy + Default + std::ops::Add<Output = T>>(
    a: &ArrayD<T>,
    ax: usize,
    exclusive: bool,
    reverse: bool,
) -> Tensor {
    let mut out = a.clone();
    for mut lane in out.lanes_mut(Axis(ax)) {
        let mut acc = T::default();
        let mut step = |v: &mut T| {
            let x = *v;
            if exclusive {
                *v = acc;
                acc = acc + x;
            } else {
                acc = acc + x;
                *v = acc;
            }
        };
        if reverse {
            lane.iter_mut().rev().for_each(&mut step);
        } else {
            lane.iter_mut().for_each(&mut step);
        }
    }
    T::wrap(out)
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
    fn top_k_and_cum_sum() {
        let x = f32t(&[2, 3], &[1.0, 3.0, 2.0, 5.0, 5.0, 4.0]);
        let out = eval(&op("TopK", 2, 2, vec![]), &[&x, &i64t(&[1], &[2])], 11).unwrap();
        assert_close(&out[0], &[2, 2], &[3.0, 2.0, 5.0, 5.0], 0.0);
        assert_eq!(out[1], i64t(&[2, 2], &[1, 2, 0, 1]));
        let small = op(
            "TopK",
            2,
            2,
            vec![("largest", Attr::Int(0)), ("axis", Attr::Int(0))],
        );
        let out = eval(&small, &[&x, &i64t(&[1], &[1])], 11).unwrap();
        assert_close(&out[0], &[1, 3], &[1.0, 3.0, 2.0], 0.0);
        assert!(eval(&small, &[&x, &i64t(&[1], &[3])], 11).is_err());

        let v = f64t(&[4], &[1.0, 2.0, 3.0, 4.0]);
        let axis = i64t(&[], &[0]);
        assert_eq!(
            eval1(&op("CumSum", 2, 1, vec![]), &[&v, &axis], 14).to_f64_vec(),
            [1.0, 3.0, 6.0, 10.0]
        );
        let ex_rev = op(
            "CumSum",
            2,
            1,
            vec![("exclusive", Attr::Int(1)), ("reverse", Attr::Int(1))],
        );
        assert_eq!(
            eval1(&ex_rev, &[&v, &axis], 14).to_f64_vec(),
            [9.0, 7.0, 4.0, 0.0]
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
