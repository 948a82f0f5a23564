//! Elementwise ops: arithmetic and comparisons with numpy broadcasting, activations, Clip, Where and
//! the variadic Sum/Max/Min/Mean.

use std::ops::Add;

use ndarray::{ArrayD, Zip};

use super::{Ctx, broadcast_shape};
use crate::eval::tensor::{Elem, Float, same};
use crate::eval::{EvalError, Limits, Tensor};

/// `f` applied to `a` and `b` broadcast together, after checking the result size.
pub(crate) fn zip2<A, B, O>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    limits: &Limits,
    f: impl Fn(&A, &B) -> O,
) -> Result<ArrayD<O>, EvalError> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    limits.check(&shape, "the broadcast result")?;
    match (a.broadcast(shape.clone()), b.broadcast(shape)) {
        (Some(av), Some(bv)) => Ok(Zip::from(&av).and(&bv).map_collect(f)),
        _ => Err(EvalError::Shape(format!(
            "shapes {} and {} do not broadcast together",
            crate::eval::show_shape(a.shape()),
            crate::eval::show_shape(b.shape())
        ))),
    }
}

pub(super) fn arith(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let a = cx.input(0, "A")?;
    let b = cx.input(1, "B")?;
    let kind = cx.kind();
    let l = cx.limits;
    let pow = kind == "Pow";
    let fmod = cx.int("fmod", 0) != 0;
    let out = match (a, b) {
        (Tensor::F32(x), Tensor::F32(y)) => Tensor::F32(float_arith(kind, fmod, x, y, l)?),
        (Tensor::F64(x), Tensor::F64(y)) => Tensor::F64(float_arith(kind, fmod, x, y, l)?),
        (Tensor::I64(x), Tensor::I64(y)) => Tensor::I64(int_arith(kind, fmod, x, y, l)?),
        (Tensor::F32(x), Tensor::I64(y)) if pow => {
            Tensor::F32(float_arith(kind, fmod, x, &y.mapv(|v| v as f32), l)?)
        }
        (Tensor::F32(x), Tensor::F64(y)) if pow => {
            Tensor::F32(float_arith(kind, fmod, x, &y.mapv(|v| v as f32), l)?)
        }
        (Tensor::F64(x), Tensor::I64(y)) if pow => {
            Tensor::F64(float_arith(kind, fmod, x, &y.mapv(|v| v as f64), l)?)
        }
        (Tensor::F64(x), Tensor::F32(y)) if pow => {
            Tensor::F64(float_arith(kind, fmod, x, &y.mapv(f64::from), l)?)
        }
        (Tensor::I64(x), y) if pow && y.is_float() => {
            let y = y.to_f64_array();
            Tensor::I64(zip2(x, &y, l, |&a, &b| (a as f64).powf(b) as i64)?)
        }
        _ => {
            return Err(EvalError::DType(format!(
                "inputs A ({}) and B ({}) must have the same numeric type",
                a.dtype_name(),
                b.dtype_name()
            )));
        }
    };
    Ok(vec![out])
}

fn float_arith<T: Float>(
    kind: &str,
    fmod: bool,
    x: &ArrayD<T>,
    y: &ArrayD<T>,
    l: &Limits,
) -> Result<ArrayD<T>, EvalError> {
    match kind {
        "Add" => zip2(x, y, l, |&a, &b| a + b),
        "Sub" => zip2(x, y, l, |&a, &b| a - b),
        "Mul" => zip2(x, y, l, |&a, &b| a * b),
        "Div" => zip2(x, y, l, |&a, &b| a / b),
        "Pow" => zip2(x, y, l, |&a, &b| a.powf(b)),
        "Mod" => zip2(x, y, l, |&a, &b| {
            let (a, b) = (a.to_f64(), b.to_f64());
            let r = a % b;
            // fmod=0 takes the sign of the divisor, as numpy's mod does.
            let r = if !fmod && r != 0.0 && (r < 0.0) != (b < 0.0) {
                r + b
            } else {
                r
            };
            T::from_f64(r)
        }),
        _ => Err(EvalError::Unsupported { op: kind.into() }),
    }
}

fn int_arith(
    kind: &str,
    fmod: bool,
    x: &ArrayD<i64>,
    y: &ArrayD<i64>,
    l: &Limits,
) -> Result<ArrayD<i64>, EvalError> {
    if matches!(kind, "Div" | "Mod") && y.iter().any(|&v| v == 0) {
        return Err(EvalError::Data(format!("int64 {kind} by zero")));
    }
    match kind {
        "Add" => zip2(x, y, l, |&a, &b| a.wrapping_add(b)),
        "Sub" => zip2(x, y, l, |&a, &b| a.wrapping_sub(b)),
        "Mul" => zip2(x, y, l, |&a, &b| a.wrapping_mul(b)),
        "Div" => zip2(x, y, l, |&a, &b| a.wrapping_div(b)),
        "Mod" => zip2(x, y, l, |&a, &b| {
            let r = a.wrapping_rem(b);
            if !fmod && r != 0 && (r < 0) != (b < 0) {
                r + b
            } else {
                r
            }
        }),
        "Pow" => zip2(x, y, l, |&a, &b| match b {
            b if b >= 0 => a.wrapping_pow(u32::try_from(b).unwrap_or(u32::MAX)),
            _ if a == 1 => 1,
            _ if a == -1 => {
                if b % 2 == 0 {
                    1
                } else {
                    -1
                }
            }
            _ => 0,
        }),
        _ => Err(EvalError::Unsupported { op: kind.into() }),
    }
}

pub(super) fn compare(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let a = cx.input(0, "A")?;
    let b = cx.input(1, "B")?;
    let (kind, l) = (cx.kind(), cx.limits);
    let out = match (a, b) {
        (Tensor::F32(x), Tensor::F32(y)) => cmp(kind, x, y, l)?,
        (Tensor::F64(x), Tensor::F64(y)) => cmp(kind, x, y, l)?,
        (Tensor::I64(x), Tensor::I64(y)) => cmp(kind, x, y, l)?,
        (Tensor::Bool(x), Tensor::Bool(y)) => cmp(kind, x, y, l)?,
        _ => {
            return Err(EvalError::DType(format!(
                "inputs A ({}) and B ({}) must have the same type",
                a.dtype_name(),
                b.dtype_name()
            )));
        }
    };
    Ok(vec![Tensor::Bool(out)])
}

fn cmp<T: PartialOrd>(
    kind: &str,
    x: &ArrayD<T>,
    y: &ArrayD<T>,
    l: &Limits,
) -> Result<ArrayD<bool>, EvalError> {
    let f: fn(&T, &T) -> bool = match kind {
        "Equal" => |a, b| a == b,
        "Greater" => |a, b| a > b,
        "Less" => |a, b| a < b,
        "GreaterOrEqual" => |a, b| a >= b,
        "LessOrEqual" => |a, b| a <= b,
        _ => return Err(EvalError::Unsupported { op: kind.into() }),
    };
    zip2(x, y, l, f)
}

pub(super) fn logical(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let a = cx.input(0, "A")?;
    let x = a
        .as_bool()
        .ok_or_else(|| EvalError::dtype("input A", a, "bool"))?;
    if cx.kind() == "Not" {
        return Ok(vec![Tensor::Bool(x.mapv(|v| !v))]);
    }
    let b = cx.input(1, "B")?;
    let y = b
        .as_bool()
        .ok_or_else(|| EvalError::dtype("input B", b, "bool"))?;
    let f: fn(&bool, &bool) -> bool = match cx.kind() {
        "And" => |a, b| *a && *b,
        "Or" => |a, b| *a || *b,
        _ => |a, b| a != b,
    };
    Ok(vec![Tensor::Bool(zip2(x, y, cx.limits, f)?)])
}

/// A one-input float function with its attributes resolved.
#[derive(Clone, Copy, Debug)]
enum Unary {
    Relu,
    Sigmoid,
    Tanh,
    Log,
    Exp,
    Sqrt,
    Neg,
    Abs,
    LeakyRelu(f64),
    Elu(f64),
    Selu(f64, f64),
    Celu(f64),
    HardSigmoid(f64, f64),
    HardSwish,
    Softplus,
    Softsign,
    Erf,
    Gelu,
    GeluTanh,
    Reciprocal,
    Floor,
    Ceil,
    Round,
    Sign,
    Sin,
    Cos,
    Mish,
    ThresholdedRelu(f64),
    Swish(f64),
    Shrink(f64, f64),
    /// Functions computed through f64 (trigonometric and hyperbolic).
    Wide(fn(f64) -> f64),
}

impl Unary {
    fn from_op(cx: &Ctx) -> Result<Unary, EvalError> {
        Ok(match cx.kind() {
            "Relu" => Unary::Relu,
            "Sigmoid" => Unary::Sigmoid,
            "Tanh" => Unary::Tanh,
            "Log" => Unary::Log,
            "Exp" => Unary::Exp,
            "Sqrt" => Unary::Sqrt,
            "Neg" => Unary::Neg,
            "Abs" => Unary::Abs,
            "LeakyRelu" => Unary::LeakyRelu(cx.float("alpha", 0.01)),
            "Elu" => Unary::Elu(cx.float("alpha", 1.0)),
            "Selu" => Unary::Selu(cx.float("alpha", 1.673_263_2), cx.float("gamma", 1.050_701)),
            "Celu" => Unary::Celu(cx.float("alpha", 1.0)),
            "HardSigmoid" => Unary::HardSigmoid(cx.float("alpha", 0.2), cx.float("beta", 0.5)),
            "HardSwish" => Unary::HardSwish,
            "Softplus" => Unary::Softplus,
            "Softsign" => Unary::Softsign,
            "Erf" => Unary::Erf,
            "Gelu" => match cx.string("approximate", "none") {
                "none" => Unary::Gelu,
                "tanh" => Unary::GeluTanh,
                other => {
                    return Err(EvalError::Attr(format!(
                        "attribute approximate is '{other}', expected 'none' or 'tanh'"
                    )));
                }
            },
            "Reciprocal" => Unary::Reciprocal,
            "Floor" => Unary::Floor,
            "Ceil" => Unary::Ceil,
            "Round" => Unary::Round,
            "Sign" => Unary::Sign,
            "Sin" => Unary::Sin,
            "Cos" => Unary::Cos,
            "Mish" => Unary::Mish,
            "ThresholdedRelu" => Unary::ThresholdedRelu(cx.float("alpha", 1.0)),
            "Swish" => Unary::Swish(cx.float("alpha", 1.0)),
            "Shrink" => Unary::Shrink(cx.float("lambd", 0.5), cx.float("bias", 0.0)),
            "Tan" => Unary::Wide(f64::tan),
            "Sinh" => Unary::Wide(f64::sinh),
            "Cosh" => Unary::Wide(f64::cosh),
            "Asin" => Unary::Wide(f64::asin),
            "Acos" => Unary::Wide(f64::acos),
            "Atan" => Unary::Wide(f64::atan),
            "Asinh" => Unary::Wide(f64::asinh),
            "Acosh" => Unary::Wide(f64::acosh),
            "Atanh" => Unary::Wide(f64::atanh),
            other => return Err(EvalError::Unsupported { op: other.into() }),
        })
    }

    fn apply<T: Float>(self, x: T) -> T {
        let c = T::from_f64;
        let (zero, one) = (T::ZERO, T::ONE);
        let softplus = |x: T| {
            if x > zero {
                x + (-x).exp().ln_1p()
            } else {
                x.exp().ln_1p()
            }
        };
        match self {
            Unary::Relu => {
                if x < zero {
                    zero
                } else {
                    x
                }
            }
            Unary::Sigmoid => {
                if x >= zero {
                    one / (one + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (one + e)
                }
            }
            Unary::Tanh => x.tanh(),
            Unary::Log => x.ln(),
            Unary::Exp => x.exp(),
            Unary::Sqrt => x.sqrt(),
            Unary::Neg => -x,
            Unary::Abs => x.abs(),
            Unary::LeakyRelu(a) => {
                if x < zero {
                    x * c(a)
                } else {
                    x
                }
            }
            Unary::Elu(a) => {
                if x < zero {
                    c(a) * (x.exp() - one)
                } else {
                    x
                }
            }
            Unary::Selu(a, g) => {
                if x <= zero {
                    c(g) * (c(a) * x.exp() - c(a))
                } else {
                    c(g) * x
                }
            }
            Unary::Celu(a) => {
                let neg = c(a) * ((x / c(a)).exp() - one);
                if x > zero { x } else { neg.min_nan(zero) }
            }
            Unary::HardSigmoid(a, b) => (c(a) * x + c(b)).min_nan(one).max_nan(zero),
            Unary::HardSwish => x * (x / c(6.0) + c(0.5)).min_nan(one).max_nan(zero),
            Unary::Softplus => softplus(x),
            Unary::Softsign => x / (one + x.abs()),
            Unary::Erf => x.erf(),
            Unary::Gelu => c(0.5) * x * (one + (x * c(std::f64::consts::FRAC_1_SQRT_2)).erf()),
            Unary::GeluTanh => {
                let k = c((2.0 / std::f64::consts::PI).sqrt());
                c(0.5) * x * (one + (k * (x + c(0.044715) * x * x * x)).tanh())
            }
            Unary::Reciprocal => one / x,
            Unary::Floor => x.floor(),
            Unary::Ceil => x.ceil(),
            Unary::Round => x.round_even(),
            Unary::Sign => {
                if x > zero {
                    one
                } else if x < zero {
                    -one
                } else {
                    x
                }
            }
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Mish => x * softplus(x).tanh(),
            Unary::ThresholdedRelu(a) => {
                if x > c(a) {
                    x
                } else {
                    zero
                }
            }
            Unary::Swish(a) => x * Unary::Sigmoid.apply(c(a) * x),
            Unary::Shrink(lambd, bias) => {
                if x < -c(lambd) {
                    x + c(bias)
                } else if x > c(lambd) {
                    x - c(bias)
                } else {
                    zero
                }
            }
            Unary::Wide(f) => c(f(x.to_f64())),
        }
    }
}

pub(super) fn unary(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let u = Unary::from_op(cx)?;
    if let Tensor::I64(a) = x {
        let out = match u {
            Unary::Relu => a.mapv(|v| v.max(0)),
            Unary::Neg => a.mapv(i64::wrapping_neg),
            Unary::Abs => a.mapv(i64::wrapping_abs),
            Unary::Sign => a.mapv(i64::signum),
            _ => return Err(EvalError::dtype("input X", x, "float32 or float64")),
        };
        return Ok(vec![Tensor::I64(out)]);
    }
    let out = float_op!(x, "input X", a => wrap(a.mapv(|v| u.apply(v))));
    Ok(vec![out])
}

/// Wraps an array of any element type back into a [`Tensor`].
fn wrap<T: Elem>(a: ArrayD<T>) -> Tensor {
    T::wrap(a)
}

/// IsNaN and IsInf.
pub(super) fn is_special(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    if !x.is_float() {
        return Err(EvalError::dtype("input X", x, "float32 or float64"));
    }
    let f = x.to_f64_array();
    let out = if cx.kind() == "IsNaN" {
        f.mapv(f64::is_nan)
    } else {
        let (neg, pos) = (
            cx.int("detect_negative", 1) != 0,
            cx.int("detect_positive", 1) != 0,
        );
        f.mapv(|v| (v == f64::INFINITY && pos) || (v == f64::NEG_INFINITY && neg))
    };
    Ok(vec![Tensor::Bool(out)])
}

pub(super) fn prelu(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let slope = cx.input(1, "slope")?;
    let out = float_op!(x, "input X", a => prelu_t(a, slope, cx.limits)?);
    Ok(vec![out])
}

fn prelu_t<T: Float>(x: &ArrayD<T>, slope: &Tensor, l: &Limits) -> Result<Tensor, EvalError> {
    let s = same::<T>(slope, "input slope")?;
    let out = zip2(x, s, l, |&v, &k| if v < T::ZERO { v * k } else { v })?;
    if out.shape() != x.shape() {
        return Err(EvalError::Shape(format!(
            "slope of shape {} does not broadcast to the input shape {}",
            crate::eval::show_shape(s.shape()),
            crate::eval::show_shape(x.shape())
        )));
    }
    Ok(T::wrap(out))
}

pub(super) fn clip(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "input")?;
    let out = if cx.opset < 11 {
        let (lo, hi) = (cx.float("min", f32::MIN), cx.float("max", f32::MAX));
        float_op!(x, "input", a => clip_attrs(a, lo, hi))
    } else {
        numeric_op!(x, "input", a => clip_inputs(a, cx.opt(1), cx.opt(2))?)
    };
    Ok(vec![out])
}

fn clip_attrs<T: Float>(a: &ArrayD<T>, lo: f64, hi: f64) -> Tensor {
    let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
    T::wrap(a.mapv(|v| clamp(v, Some(lo), Some(hi))))
}

fn clip_inputs<T: Elem + Copy + PartialOrd>(
    a: &ArrayD<T>,
    lo: Option<&Tensor>,
    hi: Option<&Tensor>,
) -> Result<Tensor, EvalError> {
    let lo = scalar::<T>(lo, "input min")?;
    let hi = scalar::<T>(hi, "input max")?;
    Ok(T::wrap(a.mapv(|v| clamp(v, lo, hi))))
}

fn clamp<T: PartialOrd + Copy>(v: T, lo: Option<T>, hi: Option<T>) -> T {
    let v = match lo {
        Some(l) if v < l => l,
        _ => v,
    };
    match hi {
        Some(h) if v > h => h,
        _ => v,
    }
}

/// The single value of an optional one-element input.
pub(crate) fn scalar<T: Elem + Copy>(
    t: Option<&Tensor>,
    what: &str,
) -> Result<Option<T>, EvalError> {
    let Some(t) = t else {
        return Ok(None);
    };
    let a = same::<T>(t, what)?;
    if a.len() != 1 {
        return Err(EvalError::Shape(format!(
            "{what} must hold one value, but has shape {}",
            crate::eval::show_shape(a.shape())
        )));
    }
    Ok(a.iter().next().copied())
}

pub(super) fn where_op(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let c = cx.input(0, "condition")?;
    let cond = c
        .as_bool()
        .ok_or_else(|| EvalError::dtype("input condition", c, "bool"))?;
    let x = cx.input(1, "X")?;
    let y = cx.input(2, "Y")?;
    let out = any_op!(x, a => where_t(cond, a, y, cx.limits)?);
    Ok(vec![out])
}

fn where_t<T: Elem>(
    c: &ArrayD<bool>,
    x: &ArrayD<T>,
    y: &Tensor,
    l: &Limits,
) -> Result<Tensor, EvalError> {
    let y = same::<T>(y, "input Y")?;
    let shape = broadcast_shape(&broadcast_shape(c.shape(), x.shape())?, y.shape())?;
    l.check(&shape, "the result")?;
    let (Some(cv), Some(xv), Some(yv)) = (
        c.broadcast(shape.clone()),
        x.broadcast(shape.clone()),
        y.broadcast(shape),
    ) else {
        return Err(EvalError::Shape(
            "condition, X and Y do not broadcast together".into(),
        ));
    };
    let out = Zip::from(&cv)
        .and(&xv)
        .and(&yv)
        .map_collect(|&c, a, b| if c { a.clone() } else { b.clone() });
    Ok(T::wrap(out))
}

pub(super) fn variadic(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let first = cx.input(0, "data_0")?;
    let out = if cx.kind() == "Mean" {
        float_op!(first, "input data_0", a => mean_t(cx, a)?)
    } else {
        numeric_op!(first, "input data_0", a => wrap(fold_t(cx, a)?))
    };
    Ok(vec![out])
}

fn fold_t<T: Elem + Copy + PartialOrd + Add<Output = T>>(
    cx: &Ctx,
    first: &ArrayD<T>,
) -> Result<ArrayD<T>, EvalError> {
    let f: fn(&T, &T) -> T = match cx.kind() {
        "Max" => |&a, &b| {
            if b > a || b.partial_cmp(&b).is_none() {
                b
            } else {
                a
            }
        },
        "Min" => |&a, &b| {
            if b < a || b.partial_cmp(&b).is_none() {
                b
            } else {
                a
            }
        },
        _ => |&a, &b| a + b,
    };
    let mut acc = first.clone();
    for i in 1..cx.inputs.len() {
        let b = same::<T>(cx.input(i, "data")?, &format!("input data_{i}"))?;
        acc = zip2(&acc, b, cx.limits, f)?;
    }
    Ok(acc)
}

fn mean_t<T: Float>(cx: &Ctx, first: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let n = T::from_f64(cx.inputs.len() as f64);
    Ok(T::wrap(fold_t(cx, first)?.mapv(|v| v / n)))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::eval::Tensor;
    use crate::ir::Attr;

    #[test]
    fn add_broadcasts_like_numpy() {
        let a = f32t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = f32t(&[3], &[10.0, 20.0, 30.0]);
        let got = eval1(&op("Add", 2, 1, vec![]), &[&a, &b], 13);
        assert_close(&got, &[2, 3], &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0], 0.0);
        let c = f32t(&[2, 1], &[1.0, 2.0]);
        let got = eval1(&op("Sub", 2, 1, vec![]), &[&c, &b], 13);
        assert_close(
            &got,
            &[2, 3],
            &[-9.0, -19.0, -29.0, -8.0, -18.0, -28.0],
            0.0,
        );
        let got = eval1(&op("Div", 2, 1, vec![]), &[&b, &c], 13);
        assert_close(&got, &[2, 3], &[10.0, 20.0, 30.0, 5.0, 10.0, 15.0], 0.0);
        let bad = f32t(&[2], &[1.0, 2.0]);
        assert!(eval(&op("Mul", 2, 1, vec![]), &[&a, &bad], 13).is_err());
        let mixed = i64t(&[3], &[1, 2, 3]);
        assert!(eval(&op("Add", 2, 1, vec![]), &[&a, &mixed], 13).is_err());
    }

    #[test]
    fn int_arithmetic_and_pow() {
        let a = i64t(&[4], &[7, -7, 6, 1]);
        let b = i64t(&[4], &[2, 2, -4, 3]);
        let got = eval1(&op("Div", 2, 1, vec![]), &[&a, &b], 13);
        assert_eq!(got, i64t(&[4], &[3, -3, -1, 0]));
        let got = eval1(&op("Mod", 2, 1, vec![]), &[&a, &b], 13);
        assert_eq!(got, i64t(&[4], &[1, 1, -2, 1]));
        let zero = i64t(&[], &[0]);
        assert!(eval(&op("Div", 2, 1, vec![]), &[&a, &zero], 13).is_err());
        let x = f32t(&[2], &[2.0, 3.0]);
        let e = i64t(&[], &[2]);
        let got = eval1(&op("Pow", 2, 1, vec![]), &[&x, &e], 13);
        assert_close(&got, &[2], &[4.0, 9.0], 0.0);
    }

    #[test]
    fn comparisons_give_bools() {
        let a = f32t(&[3], &[1.0, 2.0, 3.0]);
        let b = f32t(&[], &[2.0]);
        let got = eval1(&op("Greater", 2, 1, vec![]), &[&a, &b], 13);
        assert_eq!(
            got.as_bool().unwrap().iter().copied().collect::<Vec<_>>(),
            [false, false, true]
        );
        let got = eval1(&op("Equal", 2, 1, vec![]), &[&a, &b], 13);
        assert_eq!(
            got.as_bool().unwrap().iter().copied().collect::<Vec<_>>(),
            [false, true, false]
        );
        let got = eval1(&op("LessOrEqual", 2, 1, vec![]), &[&a, &b], 13);
        assert_eq!(
            got.as_bool().unwrap().iter().copied().collect::<Vec<_>>(),
            [true, true, false]
        );
    }

    #[test]
    fn activations_match_hand_values() {
        let x = f64t(&[5], &[-2.0, -0.5, 0.0, 0.5, 3.0]);
        let run = |kind: &str, attrs: Vec<(&str, Attr)>| eval1(&op(kind, 1, 1, attrs), &[&x], 13);
        assert_close(&run("Relu", vec![]), &[5], &[0.0, 0.0, 0.0, 0.5, 3.0], 0.0);
        let sig: Vec<f64> = [-2.0f64, -0.5, 0.0, 0.5, 3.0]
            .iter()
            .map(|v| 1.0 / (1.0 + (-v).exp()))
            .collect();
        assert_close(&run("Sigmoid", vec![]), &[5], &sig, 1e-15);
        assert_close(
            &run("LeakyRelu", vec![("alpha", Attr::Float(0.1))]),
            &[5],
            &[-0.2, -0.05, 0.0, 0.5, 3.0],
            1e-7,
        );
        assert_close(
            &run("Elu", vec![]),
            &[5],
            &[(-2.0f64).exp() - 1.0, (-0.5f64).exp() - 1.0, 0.0, 0.5, 3.0],
            1e-15,
        );
        let (a, g) = (1.673_263_192_176_818_8, 1.050_701_022_148_132_3);
        assert_close(
            &run("Selu", vec![]),
            &[5],
            &[
                g * a * ((-2.0f64).exp() - 1.0),
                g * a * ((-0.5f64).exp() - 1.0),
                0.0,
                g * 0.5,
                g * 3.0,
            ],
            1e-7,
        );
        assert_close(
            &run("HardSigmoid", vec![]),
            &[5],
            &[0.1, 0.4, 0.5, 0.6, 1.0],
            1e-7,
        );
        assert_close(
            &run("Softplus", vec![]),
            &[5],
            &[
                0.126_928_011_042_972_5,
                0.474_076_984_180_106_7,
                2f64.ln(),
                0.974_076_984_180_106_7,
                3.048_587_351_573_742,
            ],
            1e-14,
        );
        assert_close(&run("Abs", vec![]), &[5], &[2.0, 0.5, 0.0, 0.5, 3.0], 0.0);
        assert_close(
            &run("Neg", vec![]),
            &[5],
            &[2.0, 0.5, -0.0, -0.5, -3.0],
            0.0,
        );
        assert_close(
            &run("Gelu", vec![]),
            &[5],
            &[
                -0.045_500_263_896_358_42,
                -0.154_268_769_362_993_44,
                0.0,
                0.345_731_230_637_006_56,
                2.995_950_305_905_11,
            ],
            1e-12,
        );
        let y = f64t(&[2], &[4.0, 0.25]);
        assert_close(
            &eval1(&op("Sqrt", 1, 1, vec![]), &[&y], 13),
            &[2],
            &[2.0, 0.5],
            0.0,
        );
        assert_close(
            &eval1(&op("Log", 1, 1, vec![]), &[&y], 13),
            &[2],
            &[4f64.ln(), 0.25f64.ln()],
            0.0,
        );
        let ids = i64t(&[2], &[1, 2]);
        assert!(eval(&op("Sigmoid", 1, 1, vec![]), &[&ids], 13).is_err());
    }

    #[test]
    fn sigmoid_saturates_to_one_in_float32() {
        let x = f32t(&[3], &[20.0, -200.0, 0.0]);
        let got = eval1(&op("Sigmoid", 1, 1, vec![]), &[&x], 13);
        assert_eq!(got.as_f32().unwrap().as_slice().unwrap(), &[1.0, 0.0, 0.5]);
    }

    #[test]
    fn prelu_uses_a_per_channel_slope() {
        let x = f32t(&[1, 2, 2], &[-1.0, 2.0, -3.0, 4.0]);
        let s = f32t(&[2, 1], &[0.5, 0.25]);
        let got = eval1(&op("PRelu", 2, 1, vec![]), &[&x, &s], 13);
        assert_close(&got, &[1, 2, 2], &[-0.5, 2.0, -0.75, 4.0], 0.0);
    }

    #[test]
    fn clip_attribute_and_input_forms() {
        let x = f32t(&[4], &[-2.0, 0.5, 1.5, 9.0]);
        let old = op(
            "Clip",
            1,
            1,
            vec![("min", Attr::Float(0.0)), ("max", Attr::Float(1.0))],
        );
        assert_close(&eval1(&old, &[&x], 6), &[4], &[0.0, 0.5, 1.0, 1.0], 0.0);
        let lo = f32t(&[], &[0.0]);
        let hi = f32t(&[], &[1.0]);
        let new = op("Clip", 3, 1, vec![]);
        assert_close(
            &eval1(&new, &[&x, &lo, &hi], 13),
            &[4],
            &[0.0, 0.5, 1.0, 1.0],
            0.0,
        );
        // An omitted max leaves the top open.
        let only_min =
            crate::eval::eval_op(&new, &[Some(&x), Some(&lo), None], 13, &Default::default())
                .unwrap();
        assert_close(&only_min[0], &[4], &[0.0, 0.5, 1.5, 9.0], 0.0);
    }

    #[test]
    fn where_selects_with_broadcasting() {
        let c =
            Tensor::Bool(ndarray::ArrayD::from_shape_vec(vec![2, 1], vec![true, false]).unwrap());
        let x = f32t(&[2], &[1.0, 2.0]);
        let y = f32t(&[], &[0.0]);
        let got = eval1(&op("Where", 3, 1, vec![]), &[&c, &x, &y], 13);
        assert_close(&got, &[2, 2], &[1.0, 2.0, 0.0, 0.0], 0.0);
    }

    #[test]
    fn variadic_ops_fold_all_inputs() {
        let a = f32t(&[2], &[1.0, 5.0]);
        let b = f32t(&[2], &[3.0, 2.0]);
        let c = f32t(&[], &[4.0]);
        assert_close(
            &eval1(&op("Sum", 3, 1, vec![]), &[&a, &b, &c], 13),
            &[2],
            &[8.0, 11.0],
            0.0,
        );
        assert_close(
            &eval1(&op("Max", 3, 1, vec![]), &[&a, &b, &c], 13),
            &[2],
            &[4.0, 5.0],
            0.0,
        );
        assert_close(
            &eval1(&op("Min", 3, 1, vec![]), &[&a, &b, &c], 13),
            &[2],
            &[1.0, 2.0],
            0.0,
        );
        assert_close(
            &eval1(&op("Mean", 2, 1, vec![]), &[&a, &b], 13),
            &[2],
            &[2.0, 3.5],
            0.0,
        );
    }
}
