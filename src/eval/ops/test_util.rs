//! Building ops and tensors by hand in tests.

use crate::eval::{EvalError, Limits, Tensor, eval_op};
use crate::ir::{Attr, Op, ValueId};

pub fn op(kind: &str, inputs: usize, outputs: usize, attrs: Vec<(&str, Attr)>) -> Op {
    Op {
        op_type: kind.into(),
        domain: String::new(),
        name: "n".into(),
        inputs: (0..inputs as u32).map(|i| Some(ValueId(i))).collect(),
        outputs: (0..outputs as u32).map(|i| ValueId(100 + i)).collect(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        origin: Default::default(),
    }
}

pub fn f32t(shape: &[usize], values: &[f32]) -> Tensor {
    Tensor::from_f32(shape, values.to_vec()).unwrap()
}

pub fn f64t(shape: &[usize], values: &[f64]) -> Tensor {
    Tensor::F64(ndarray::ArrayD::from_shape_vec(shape, values.to_vec()).unwrap())
}

pub fn i64t(shape: &[usize], values: &[i64]) -> Tensor {
    Tensor::from_i64(shape, values.to_vec()).unwrap()
}

pub fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

/// Evaluates `op` on all-present inputs and returns every output.
pub fn eval(op: &Op, inputs: &[&Tensor], opset: i64) -> Result<Vec<Tensor>, EvalError> {
    let inputs: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
    eval_op(op, &inputs, opset, &Limits::default())
}

/// The first output of [`eval`], which must succeed.
pub fn eval1(op: &Op, inputs: &[&Tensor], opset: i64) -> Tensor {
    match eval(op, inputs, opset) {
        Ok(mut v) if !v.is_empty() => v.swap_remove(0),
        other => panic!("{} failed: {other:?}", op.op_type),
    }
}

#[track_caller]
pub fn assert_close(t: &Tensor, shape: &[usize], expected: &[f64], tol: f64) {
    assert_eq!(t.shape(), shape, "shape");
    let got = t.to_f64_vec();
    assert_eq!(got.len(), expected.len(), "length");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let ok = (g - e).abs() <= tol * (1.0 + e.abs()) || (g.is_nan() && e.is_nan());
        assert!(ok, "element {i}: got {g}, expected {e}\nall: {got:?}");
    }
}
