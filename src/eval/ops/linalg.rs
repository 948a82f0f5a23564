//! MatMul (numpy semantics: batched, broadcast batch dims, 1-D promotion) and Gemm.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array3, ArrayD, ArrayView2, Axis, Ix2, IxDyn};

use super::{Ctx, broadcast_shape, prod};
use crate::eval::tensor::{Float, flat, same};
use crate::eval::{EvalError, Limits, Tensor, show_shape};

pub(super) fn matmul(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let a = cx.input(0, "A")?;
    let b = cx.input(1, "B")?;
    let out = float_op!(a, "input A", x => matmul_t(x, same(b, "input B")?, cx.limits)?);
    Ok(vec![out])
}

/// The elements of `a` as a row-major 3-D array `[batch, rows, cols]`.
fn as_3d<T: Float>(a: &ArrayD<T>, dims: (usize, usize, usize)) -> Result<Array3<T>, EvalError> {
    Array3::from_shape_vec(dims, flat(a).into_owned()).map_err(shape_err)
}

fn matmul_t<T: Float>(a: &ArrayD<T>, b: &ArrayD<T>, limits: &Limits) -> Result<Tensor, EvalError> {
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(EvalError::Shape(format!(
            "inputs must have rank 1 or more, got {} and {}",
            show_shape(a.shape()),
            show_shape(b.shape())
        )));
    }
    let a_shape: Vec<usize> = if a.ndim() == 1 {
        vec![1, a.len()]
    } else {
        a.shape().to_vec()
    };
    let b_shape: Vec<usize> = if b.ndim() == 1 {
        vec![b.len(), 1]
    } else {
        b.shape().to_vec()
    };
    let (ab, [m, k]) = split_matrix(&a_shape);
    let (bb, [k2, n]) = split_matrix(&b_shape);
    if k != k2 {
        return Err(EvalError::Shape(format!(
            "inner dimensions differ: A is {} and B is {}",
            show_shape(a.shape()),
            show_shape(b.shape())
        )));
    }
    let batch = broadcast_shape(ab, bb)?;
    let mut out_shape = batch.clone();
    if a.ndim() > 1 {
        out_shape.push(m);
    }
    if b.ndim() > 1 {
        out_shape.push(n);
    }
    limits.check(&out_shape, "the product")?;
    limits.check_work(prod(&out_shape) as f64 * k as f64, "the product")?;
    let a3 = as_3d(a, (prod(ab), m, k))?;
    let b3 = as_3d(b, (prod(bb), k, n))?;

    let data = if bb.is_empty() {
        // One weight matrix for every batch entry: a single [batch*m, k] x [k, n] product.
        let rows = prod(ab) * m;
        let a2 = a3.into_shape_with_order((rows, k)).map_err(shape_err)?;
        let mut y = Array2::from_elem((rows, n), T::ZERO);
        general_mat_mul(T::ONE, &a2, &b3.index_axis(Axis(0), 0), T::ZERO, &mut y);
        y.into_raw_vec_and_offset().0
    } else {
        let count = prod(&batch);
        let mut y = Array3::from_elem((count, m, n), T::ZERO);
        for i in 0..count {
            let ia = batch_index(i, &batch, ab);
            let ib = batch_index(i, &batch, bb);
            general_mat_mul(
                T::ONE,
                &a3.index_axis(Axis(0), ia),
                &b3.index_axis(Axis(0), ib),
                T::ZERO,
                &mut y.index_axis_mut(Axis(0), i),
            );
        }
        y.into_raw_vec_and_offset().0
    };
    ArrayD::from_shape_vec(IxDyn(&out_shape), data)
        .map(T::wrap)
        .map_err(shape_err)
}

/// Batch dims and the trailing `[rows, cols]` of a rank ≥ 2 shape.
fn split_matrix(s: &[usize]) -> (&[usize], [usize; 2]) {
    match s {
        [batch @ .., r, c] => (batch, [*r, *c]),
        _ => (&[], [0, 0]),
    }
}

/// Flat batch index into an operand whose batch dims `own` broadcast to `out`.
fn batch_index(mut i: usize, out: &[usize], own: &[usize]) -> usize {
    let pad = out.len() - own.len();
    let mut idx = 0;
    let mut stride = 1;
    for (d, &size) in out.iter().enumerate().rev() {
        let o = i % size.max(1);
        i /= size.max(1);
        if d >= pad {
            let own_size = own.get(d - pad).copied().unwrap_or(1);
            if own_size != 1 {
                idx += o * stride;
            }
            stride *= own_size;
        }
    }
    idx
}

fn shape_err<E>(_: E) -> EvalError {
    EvalError::Shape("operands cannot be reshaped for the product".into())
}

pub(super) fn gemm(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let a = cx.input(0, "A")?;
    let out = float_op!(a, "input A", x => gemm_t(cx, x)?);
    Ok(vec![out])
}

fn matrix<'a, T: Float>(
    a: &'a ArrayD<T>,
    name: &str,
    trans: bool,
) -> Result<ArrayView2<'a, T>, EvalError> {
    let m = a.view().into_dimensionality::<Ix2>().map_err(|_| {
        EvalError::Shape(format!(
            "input {name} must be 2-D, but has shape {}",
            show_shape(a.shape())
        ))
    })?;
    Ok(if trans { m.reversed_axes() } else { m })
}

fn gemm_t<T: Float>(cx: &Ctx, a: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let b: &ArrayD<T> = same(cx.input(1, "B")?, "input B")?;
    let a2 = matrix(a, "A", cx.int("transA", 0) != 0)?;
    let b2 = matrix(b, "B", cx.int("transB", 0) != 0)?;
    let ((m, k), (k2, n)) = (a2.dim(), b2.dim());
    if k != k2 {
        return Err(EvalError::Shape(format!(
            "inner dimensions differ: op(A) is [{m}, {k}] and op(B) is [{k2}, {n}]"
        )));
    }
    cx.limits.check(&[m, n], "the product")?;
    cx.limits
        .check_work(m as f64 * n as f64 * k as f64, "the product")?;
    let alpha = T::from_f64(cx.float("alpha", 1.0));
    let beta = T::from_f64(cx.float("beta", 1.0));
    let mut y = Array2::from_elem((m, n), T::ZERO);
    let mut keep = T::ZERO;
    if let Some(c) = cx.opt(2) {
        let c: &ArrayD<T> = same(c, "input C")?;
        let cb = c.broadcast((m, n)).ok_or_else(|| {
            EvalError::Shape(format!(
                "input C of shape {} does not broadcast to [{m}, {n}]",
                show_shape(c.shape())
            ))
        })?;
        y.assign(&cb);
        keep = beta;
    }
    general_mat_mul(alpha, &a2, &b2, keep, &mut y);
    Ok(T::wrap(y.into_dyn()))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::eval::{EvalError, Limits, eval_op};
    use crate::ir::Attr;

    #[test]
    fn matmul_2d_and_vector_promotion() {
        let a = f32t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = f32t(&[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let mm = op("MatMul", 2, 1, vec![]);
        assert_close(
            &eval1(&mm, &[&a, &b], 13),
            &[2, 2],
            &[4.0, 5.0, 10.0, 11.0],
            0.0,
        );
        let v = f32t(&[3], &[1.0, 1.0, 1.0]);
        assert_close(&eval1(&mm, &[&a, &v], 13), &[2], &[6.0, 15.0], 0.0);
        assert_close(&eval1(&mm, &[&v, &b], 13), &[2], &[2.0, 2.0], 0.0);
        let w = f32t(&[2], &[1.0, 1.0]);
        assert!(matches!(eval(&mm, &[&a, &w], 13), Err(EvalError::Shape(_))));
    }

    #[test]
    fn matmul_batches_and_broadcasts() {
        // A: [2, 1, 2, 2], B: [3, 2, 2] -> [2, 3, 2, 2]
        let a = f64t(&[2, 1, 2, 2], &[1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0]);
        let b = f64t(
            &[3, 2, 2],
            &[1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        );
        let got = eval1(&op("MatMul", 2, 1, vec![]), &[&a, &b], 13);
        let mut want = Vec::new();
        for scale in [1.0, 2.0] {
            for m in [
                [1.0, 2.0, 3.0, 4.0],
                [0.0, 1.0, 1.0, 0.0],
                [1.0, 1.0, 1.0, 1.0],
            ] {
                want.extend(m.iter().map(|v| v * scale));
            }
        }
        assert_close(&got, &[2, 3, 2, 2], &want, 0.0);
        // Shared weights: [2, 2, 3] x [3, 1]
        let x = f32t(
            &[2, 2, 3],
            &[
                1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
            ],
        );
        let w = f32t(&[3, 1], &[1.0, 0.0, -1.0]);
        let got = eval1(&op("MatMul", 2, 1, vec![]), &[&x, &w], 13);
        assert_close(&got, &[2, 2, 1], &[-2.0, -2.0, -2.0, -2.0], 0.0);
    }

    #[test]
    fn matmul_output_is_checked_against_limits() {
        let a = f32t(&[4, 1], &[1.0; 4]);
        let b = f32t(&[1, 4], &[1.0; 4]);
        let limits = Limits {
            max_elements: 8,
            max_total_elements: 100,
            ..Limits::default()
        };
        let r = eval_op(
            &op("MatMul", 2, 1, vec![]),
            &[Some(&a), Some(&b)],
            13,
            &limits,
        );
        assert!(matches!(r, Err(EvalError::Limit(_))));
    }

    #[test]
    fn gemm_alpha_beta_transposes_and_bias_broadcast() {
        let a = f32t(&[3, 2], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]); // A^T = [[1,2,3],[4,5,6]]
        let b = f32t(&[2, 3], &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]); // B^T = [[1,0],[0,1],[1,1]]
        let c = f32t(&[2], &[10.0, 20.0]);
        let g = op(
            "Gemm",
            3,
            1,
            vec![
                ("transA", Attr::Int(1)),
                ("transB", Attr::Int(1)),
                ("alpha", Attr::Float(2.0)),
                ("beta", Attr::Float(0.5)),
            ],
        );
        // A^T B^T = [[4, 5], [10, 11]]; 2*that + 0.5*[10, 20]
        let got = eval1(&g, &[&a, &b, &c], 13);
        assert_close(&got, &[2, 2], &[13.0, 20.0, 25.0, 32.0], 0.0);
        // Without C.
        let plain = op(
            "Gemm",
            2,
            1,
            vec![("transA", Attr::Int(1)), ("transB", Attr::Int(1))],
        );
        assert_close(
            &eval1(&plain, &[&a, &b], 13),
            &[2, 2],
            &[4.0, 5.0, 10.0, 11.0],
            0.0,
        );
        let bad_c = f32t(&[3], &[1.0; 3]);
        assert!(eval(&g, &[&a, &b, &bad_c], 13).is_err());
        let rank3 = f32t(&[1, 3, 2], &[0.0; 6]);
        assert!(matches!(
            eval(&g, &[&rank3, &b, &c], 13),
            Err(EvalError::Shape(_))
        ));
    }
}
