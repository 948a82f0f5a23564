//! What optimised and quantised heads are made of: ONNX's `DequantizeLinear`, `QuantizeLinear`,
//! `DynamicQuantizeLinear`, `MatMulInteger`, and onnxruntime's `com.microsoft` fused ops
//! (`FusedGemm`, `FusedMatMul`, `BiasGelu`, `FastGelu`, `QuickGelu`, `Gelu`). Integer tensors are
//! carried as int64 (the evaluator's one integer type); the quantised range is the op's, per its spec.

use ndarray::{ArrayD, Axis, IxDyn};

use super::{Ctx, eval_op};
use crate::eval::{EvalError, Tensor};
use crate::ir::{Attr, Op};

/// The same op under another name and domain (attributes kept or replaced).
fn derived(op: &Op, op_type: &str, attrs: Vec<(&str, Attr)>, keep: bool) -> Op {
    let mut out = op.clone();
    out.op_type = op_type.into();
    out.domain = String::new();
    if !keep {
        out.attrs.clear();
    }
    for (k, v) in attrs {
        out.attrs.insert(k.into(), v);
    }
    out
}

fn run(cx: &Ctx, op: &Op, inputs: &[Option<&Tensor>]) -> Result<Tensor, EvalError> {
    eval_op(op, inputs, cx.opset.max(20), cx.limits)?
        .into_iter()
        .next()
        .ok_or_else(|| EvalError::Attr(format!("{} gave no output", op.op_type)))
}

/// `com.microsoft:FusedGemm`: Gemm followed by `activation` (with `activation_alpha`/`_beta`/`_gamma`).
pub(super) fn fused_gemm(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let gemm = derived(cx.op, "Gemm", vec![], true);
    let y = run(cx, &gemm, cx.inputs)?;
    Ok(vec![activation(cx, y)?])
}

fn activation(cx: &Ctx, y: Tensor) -> Result<Tensor, EvalError> {
    let Some(name) = cx.op.attr_str("activation") else {
        return Ok(y);
    };
    let mut attrs = vec![];
    let param = |k: &str| cx.op.attr_float(k).map(Attr::Float);
    match name {
        "LeakyRelu" | "Elu" | "ThresholdedRelu" | "Celu" => {
            if let Some(a) = param("activation_alpha") {
                attrs.push(("alpha", a));
            }
        }
        "HardSigmoid" => {
            if let Some(a) = param("activation_alpha") {
                attrs.push(("alpha", a));
            }
            if let Some(b) = param("activation_beta") {
                attrs.push(("beta", b));
            }
        }
        "Selu" => {
            if let Some(a) = param("activation_alpha") {
                attrs.push(("alpha", a));
            }
            if let Some(g) = param("activation_gamma") {
                attrs.push(("gamma", g));
            }
        }
        "Relu" | "Sigmoid" | "Tanh" | "Softplus" | "Softsign" => {}
        other => {
            return Err(EvalError::Unsupported {
                op: format!("{}.{} with activation {other}", cx.op.domain, cx.kind()),
            });
        }
    }
    let act = derived(cx.op, name, attrs, false);
    run(cx, &act, &[Some(&y)])
}

/// `com.microsoft:FusedConv`: Conv (+ the optional sum input `Z`) followed by `activation`.
pub(super) fn fused_conv(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let conv = derived(cx.op, "Conv", vec![], true);
    let n = cx.inputs.len().min(3);
    let mut y = run(cx, &conv, &cx.inputs[..n])?;
    if let Some(z) = cx.opt(3) {
        let add = derived(cx.op, "Add", vec![], false);
        y = run(cx, &add, &[Some(&y), Some(z)])?;
    }
    Ok(vec![activation(cx, y)?])
}

/// `ConvInteger(x, w, x_zero_point?, w_zero_point?) = Conv(x - x_zp, w - w_zp)`, int32 values.
pub(super) fn conv_integer(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "x")?.to_f64_array();
    let w = cx.input(1, "w")?.to_f64_array();
    let zp = |i: usize| -> ArrayD<f64> {
        cx.opt(i)
            .map_or_else(|| ArrayD::from_elem(IxDyn(&[]), 0.0), Tensor::to_f64_array)
    };
    let xz = zp(2);
    // w's zero point may be per output channel (1-D of length M): shape it [M, 1, 1, ..].
    let wz = zp(3);
    let wz = if wz.ndim() == 1 && wz.len() > 1 {
        let mut shape = vec![1; w.ndim()];
        shape[0] = wz.len();
        wz.into_shape_with_order(IxDyn(&shape))
            .map_err(|e| EvalError::Shape(e.to_string()))?
    } else {
        wz
    };
    let x = Tensor::F64(zip_b(&x, &xz, |p, q| p - q)?);
    let w = Tensor::F64(zip_b(&w, &wz, |p, q| p - q)?);
    let conv = derived(cx.op, "Conv", vec![], true);
    let y = run(cx, &conv, &[Some(&x), Some(&w)])?;
    Ok(vec![Tensor::I64(
        y.to_f64_array().mapv(|v| v.round() as i64),
    )])
}

/// `com.microsoft:FusedMatMul`: `alpha * op(A) @ op(B)`, `op` transposing the last two axes.
pub(super) fn fused_matmul(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    if cx.int("transBatchA", 0) != 0 || cx.int("transBatchB", 0) != 0 {
        return Err(EvalError::Unsupported {
            op: "com.microsoft.FusedMatMul with transBatchA/transBatchB".into(),
        });
    }
    let t = |x: &Tensor, attr: &str| -> Result<Tensor, EvalError> {
        let a = x.to_f64_array();
        if cx.int(attr, 0) == 0 || a.ndim() < 2 {
            return Ok(back_like(x, a));
        }
        let mut a = a;
        let n = a.ndim();
        a.swap_axes(n - 1, n - 2);
        Ok(back_like(x, a.as_standard_layout().into_owned()))
    };
    let a = t(cx.input(0, "A")?, "transA")?;
    let b = t(cx.input(1, "B")?, "transB")?;
    let mm = derived(cx.op, "MatMul", vec![], false);
    let y = run(cx, &mm, &[Some(&a), Some(&b)])?;
    let alpha = cx.float("alpha", 1.0);
    Ok(vec![if alpha == 1.0 {
        y
    } else {
        back_like(&y, y.to_f64_array().mapv(|v| v * alpha))
    }])
}

/// An f64 array back in `like`'s float type (f32 stays f32).
fn back_like(like: &Tensor, a: ArrayD<f64>) -> Tensor {
    match like {
        Tensor::F32(_) => Tensor::F32(a.mapv(|v| v as f32)),
        _ => Tensor::F64(a),
    }
}

/// `BiasGelu(x, bias) = Gelu(x + bias)`, `FastGelu(x, bias?)` (tanh form), `Gelu` (erf form).
pub(super) fn gelu_family(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let sum;
    let x = match cx.opt(1) {
        Some(bias) => {
            let add = derived(cx.op, "Add", vec![], false);
            sum = run(cx, &add, &[Some(x), Some(bias)])?;
            &sum
        }
        None => x,
    };
    let approx = if cx.kind() == "FastGelu" {
        "tanh"
    } else {
        "none"
    };
    let gelu = derived(
        cx.op,
        "Gelu",
        vec![("approximate", Attr::String(approx.into()))],
        false,
    );
    Ok(vec![run(cx, &gelu, &[Some(x)])?])
}

/// `QuickGelu(x) = x * sigmoid(alpha * x)`, alpha 1.702 by default.
pub(super) fn quick_gelu(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    if !x.is_float() {
        return Err(EvalError::dtype("input X", x, "float32 or float64"));
    }
    let alpha = cx.float("alpha", 1.702);
    let y = x.to_f64_array().mapv(|v| v / (1.0 + (-alpha * v).exp()));
    Ok(vec![back_like(x, y)])
}

/// `a ∘ b` with numpy broadcasting, an error (not a panic) when the shapes do not broadcast.
fn zip_b(
    a: &ArrayD<f64>,
    b: &ArrayD<f64>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<ArrayD<f64>, EvalError> {
    let shape = super::broadcast_shape(a.shape(), b.shape())?;
    let (Some(x), Some(y)) = (a.broadcast(IxDyn(&shape)), b.broadcast(IxDyn(&shape))) else {
        return Err(EvalError::Shape("operands do not broadcast".into()));
    };
    Ok(ndarray::Zip::from(&x).and(&y).map_collect(|&p, &q| f(p, q)))
}

/// Scale (and zero point) broadcast along `axis` of an input of rank `rank`: scalars as they are,
/// 1-D per-axis parameters reshaped to `[1, .., n, .., 1]`.
fn per_axis(p: ArrayD<f64>, rank: usize, axis: i64) -> Result<ArrayD<f64>, EvalError> {
    if p.ndim() == 0 || p.len() == 1 && p.ndim() == 1 {
        return Ok(ArrayD::from_elem(
            IxDyn(&[]),
            p.iter().copied().next().unwrap_or(0.0),
        ));
    }
    if p.ndim() != 1 {
        return Err(EvalError::Unsupported {
            op: "blocked quantization (scale of rank > 1)".into(),
        });
    }
    let axis = super::norm_axis(axis, rank, "axis")?;
    let mut shape = vec![1; rank];
    shape[axis] = p.len();
    p.into_shape_with_order(IxDyn(&shape))
        .map_err(|e| EvalError::Shape(e.to_string()))
}

/// `DequantizeLinear(x, scale, zero_point?) = (x - zero_point) * scale`, float32 out.
pub(super) fn dequantize_linear(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "x")?;
    let scale = cx.input(1, "x_scale")?;
    if cx.int("block_size", 0) != 0 {
        return Err(EvalError::Unsupported {
            op: "DequantizeLinear with block_size".into(),
        });
    }
    let xa = x.to_f64_array();
    let rank = xa.ndim();
    let axis = cx.int("axis", 1);
    let s = per_axis(scale.to_f64_array(), rank, axis)?;
    let z = match cx.opt(2) {
        Some(z) => per_axis(z.to_f64_array(), rank, axis)?,
        None => ArrayD::from_elem(IxDyn(&[]), 0.0),
    };
    let y = zip_b(&zip_b(&xa, &z, |p, q| p - q)?, &s, |p, q| p * q)?;
    Ok(vec![back_like(scale, y)])
}

/// Saturation range of the quantised type: uint8 unless the zero point or `output_dtype` says int8.
fn quant_range(cx: &Ctx) -> Result<(f64, f64), EvalError> {
    quant_range_of(cx, cx.opt(2))
}

fn quant_range_of(cx: &Ctx, zero_point: Option<&Tensor>) -> Result<(f64, f64), EvalError> {
    match cx.op.attr_int("output_dtype") {
        Some(2) => return Ok((0.0, 255.0)),
        Some(3) => return Ok((-128.0, 127.0)),
        Some(4) => return Ok((0.0, 65_535.0)),
        Some(5) => return Ok((-32_768.0, 32_767.0)),
        Some(0) | None => {}
        Some(other) => {
            return Err(EvalError::Unsupported {
                op: format!("QuantizeLinear to type {other}"),
            });
        }
    }
    match zero_point {
        None => Ok((0.0, 255.0)),
        // The zero point's element type (int8, uint8, int16, …) is the output's: the evaluator
        // carries every integer as int64, so the op leaves the values unclamped here and the
        // evaluation saturates them to the declared type (`precision::saturate`).
        Some(_) => Ok((f64::from(i32::MIN), f64::from(i32::MAX))),
    }
}

/// Round half to even, as ONNX's quantisation ops do.
fn round_even(v: f64) -> f64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 {
        2.0 * (v / 2.0).round()
    } else {
        r
    }
}

/// `QuantizeLinear(x, scale, zero_point?) = saturate(round(x / scale) + zero_point)`.
pub(super) fn quantize_linear(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "x")?;
    let scale = cx.input(1, "y_scale")?;
    let (lo, hi) = quant_range(cx)?;
    let xa = x.to_f64_array();
    let rank = xa.ndim();
    let axis = cx.int("axis", 1);
    let s = per_axis(scale.to_f64_array(), rank, axis)?;
    let z = match cx.opt(2) {
        Some(z) => per_axis(z.to_f64_array(), rank, axis)?,
        None => ArrayD::from_elem(IxDyn(&[]), 0.0),
    };
    // Division in the input's own precision, as runtimes do (float32 halves round differently).
    let f32_input = matches!(x, Tensor::F32(_));
    let divide = move |p: f64, q: f64| {
        if f32_input {
            f64::from(p as f32 / q as f32)
        } else {
            p / q
        }
    };
    let q = zip_b(&zip_b(&xa, &s, divide)?, &z, |p, q| round_even(p) + q)?;
    Ok(vec![Tensor::I64(q.mapv(|v| {
        if v.is_nan() {
            0
        } else {
            v.clamp(lo, hi) as i64
        }
    }))])
}

/// `(q - zero_point) * scale` for scalar (per-tensor) parameters.
fn dequant(q: &Tensor, scale: &Tensor, zp: &Tensor) -> Result<ArrayD<f64>, EvalError> {
    let (s, z) = (scale.to_f64_array(), zp.to_f64_array());
    if s.len() != 1 || z.len() != 1 {
        return Err(EvalError::Unsupported {
            op: "QLinear op with per-channel scales".into(),
        });
    }
    let (s, z) = (
        s.iter().copied().next().unwrap_or(1.0),
        z.iter().copied().next().unwrap_or(0.0),
    );
    Ok(q.to_f64_array().mapv(|v| (v - z) * s))
}

/// `saturate(round(y / scale) + zero_point)` for scalar parameters, the range from `zp`'s values.
fn requant(cx: &Ctx, y: &ArrayD<f64>, scale: &Tensor, zp: &Tensor) -> Result<Tensor, EvalError> {
    let (lo, hi) = quant_range_of(cx, Some(zp))?;
    let (s, z) = (scale.to_f64_array(), zp.to_f64_array());
    if s.len() != 1 || z.len() != 1 {
        return Err(EvalError::Unsupported {
            op: "QLinear op with per-channel output scale".into(),
        });
    }
    let (s, z) = (
        s.iter().copied().next().unwrap_or(1.0),
        z.iter().copied().next().unwrap_or(0.0),
    );
    Ok(Tensor::I64(y.mapv(|v| {
        let q = round_even(v / s) + z;
        if q.is_nan() {
            0
        } else {
            q.clamp(lo, hi) as i64
        }
    })))
}

/// `QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)`, per-tensor parameters.
pub(super) fn qlinear_matmul(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let a = dequant(
        cx.input(0, "a")?,
        cx.input(1, "a_scale")?,
        cx.input(2, "a_zero_point")?,
    )?;
    let b = dequant(
        cx.input(3, "b")?,
        cx.input(4, "b_scale")?,
        cx.input(5, "b_zero_point")?,
    )?;
    let mm = derived(cx.op, "MatMul", vec![], false);
    let y = run(cx, &mm, &[Some(&Tensor::F64(a)), Some(&Tensor::F64(b))])?;
    let out = requant(
        cx,
        &y.to_f64_array(),
        cx.input(6, "y_scale")?,
        cx.input(7, "y_zero_point")?,
    )?;
    Ok(vec![out])
}

/// `QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?)`, per-tensor parameters; the
/// int32 bias is in units of `x_scale * w_scale`.
pub(super) fn qlinear_conv(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = dequant(
        cx.input(0, "x")?,
        cx.input(1, "x_scale")?,
        cx.input(2, "x_zero_point")?,
    )?;
    let w = dequant(
        cx.input(3, "w")?,
        cx.input(4, "w_scale")?,
        cx.input(5, "w_zero_point")?,
    )?;
    let scale = |i: usize, n: &str| -> Result<f64, EvalError> {
        Ok(cx
            .input(i, n)?
            .to_f64_array()
            .iter()
            .copied()
            .next()
            .unwrap_or(1.0))
    };
    let bias = match cx.opt(8) {
        Some(b) => {
            let s = scale(1, "x_scale")? * scale(4, "w_scale")?;
            Some(Tensor::F64(b.to_f64_array().mapv(|v| v * s)))
        }
        None => None,
    };
    let conv = derived(cx.op, "Conv", vec![], true);
    let (x, w) = (Tensor::F64(x), Tensor::F64(w));
    let y = run(cx, &conv, &[Some(&x), Some(&w), bias.as_ref()])?;
    let out = requant(
        cx,
        &y.to_f64_array(),
        cx.input(6, "y_scale")?,
        cx.input(7, "y_zero_point")?,
    )?;
    Ok(vec![out])
}

/// `DynamicQuantizeLinear(x) -> (y: uint8, y_scale, y_zero_point)` over the range `[min(x,0), max(x,0)]`.
pub(super) fn dynamic_quantize_linear(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "x")?;
    if !x.is_float() {
        return Err(EvalError::dtype("input x", x, "float32"));
    }
    let a = x.to_f64_array();
    // ORT computes in float32; so does this.
    let lo = a.iter().fold(0.0f32, |m, &v| m.min(v as f32));
    let hi = a.iter().fold(0.0f32, |m, &v| m.max(v as f32));
    let scale = (hi - lo) / 255.0;
    let zp = if scale == 0.0 {
        0.0
    } else {
        round_even(f64::from(0.0 - lo / scale)).clamp(0.0, 255.0)
    };
    let y = a.mapv(|v| {
        if scale == 0.0 {
            zp as i64
        } else {
            (round_even(f64::from(v as f32 / scale)) + zp).clamp(0.0, 255.0) as i64
        }
    });
    Ok(vec![
        Tensor::I64(y),
        Tensor::scalar_f32(scale),
        Tensor::I64(ArrayD::from_elem(IxDyn(&[]), zp as i64)),
    ])
}

/// `MatMulInteger(a, b, a_zero_point?, b_zero_point?) = (a - a_zp) @ (b - b_zp)`, int32 values.
pub(super) fn matmul_integer(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let a = cx.input(0, "A")?.to_f64_array();
    let b = cx.input(1, "B")?.to_f64_array();
    let zp = |i: usize| -> ArrayD<f64> {
        cx.opt(i)
            .map_or_else(|| ArrayD::from_elem(IxDyn(&[]), 0.0), Tensor::to_f64_array)
    };
    let (az, bz) = (zp(2), zp(3));
    // a's zero point is per row (1-D of length M): shape it [M, 1]; b's per column broadcasts as is.
    let az = if az.ndim() == 1 && az.len() > 1 {
        az.insert_axis(Axis(1))
    } else {
        az
    };
    let a = Tensor::F64(zip_b(&a, &az, |p, q| p - q)?);
    let b = Tensor::F64(zip_b(&b, &bz, |p, q| p - q)?);
    let mm = derived(cx.op, "MatMul", vec![], false);
    let y = run(cx, &mm, &[Some(&a), Some(&b)])?;
    Ok(vec![Tensor::I64(
        y.to_f64_array().mapv(|v| v.round() as i64),
    )])
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::eval::Tensor;
    use crate::ir::Attr;

    fn ms(mut o: crate::ir::Op) -> crate::ir::Op {
        o.domain = "com.microsoft".into();
        o
    }

    fn vals(t: &Tensor) -> Vec<f64> {
        t.to_f64_array().iter().copied().collect()
    }

    #[test]
    fn fused_gemm_applies_its_activation() {
        let o = ms(op(
            "FusedGemm",
            2,
            1,
            vec![
                ("activation", Attr::String("Relu".into())),
                ("transB", Attr::Int(1)),
            ],
        ));
        let a = f32t(&[1, 2], &[1.0, 2.0]);
        let b = f32t(&[2, 2], &[1.0, 1.0, -1.0, -1.0]);
        let y = eval(&o, &[&a, &b], 17).unwrap();
        assert_eq!(vals(&y[0]), vec![3.0, 0.0]);
        let o = ms(op(
            "FusedGemm",
            2,
            1,
            vec![
                ("activation", Attr::String("LeakyRelu".into())),
                ("activation_alpha", Attr::Float(0.5)),
                ("transB", Attr::Int(1)),
            ],
        ));
        assert_eq!(vals(&eval(&o, &[&a, &b], 17).unwrap()[0]), vec![3.0, -1.5]);
    }

    #[test]
    fn fused_matmul_transposes_and_scales() {
        let o = ms(op(
            "FusedMatMul",
            2,
            1,
            vec![("transB", Attr::Int(1)), ("alpha", Attr::Float(2.0))],
        ));
        let a = f32t(&[1, 2], &[1.0, 2.0]);
        let b = f32t(&[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(
            vals(&eval(&o, &[&a, &b], 17).unwrap()[0]),
            vec![2.0, 4.0, 6.0]
        );
    }

    #[test]
    fn gelu_variants() {
        let x = f32t(&[2], &[0.0, 1.0]);
        let bias = f32t(&[2], &[1.0, 0.0]);
        let y = vals(&eval(&ms(op("BiasGelu", 2, 1, vec![])), &[&x, &bias], 17).unwrap()[0]);
        assert!((y[0] - 0.841_344_7).abs() < 1e-5 && (y[1] - 0.841_344_7).abs() < 1e-5);
        let q = vals(&eval(&ms(op("QuickGelu", 1, 1, vec![])), &[&x], 17).unwrap()[0]);
        assert!(q[0].abs() < 1e-9 && (q[1] - 1.0 / (1.0 + (-1.702f64).exp())).abs() < 1e-6);
    }

    /// Numbers from the ONNX spec's DynamicQuantizeLinear example.
    #[test]
    fn dynamic_quantize_then_matmul_integer_then_dequantize() {
        let x = f32t(&[6], &[0.0, 2.0, -3.0, -2.5, 1.34, 0.5]);
        let out = eval(&op("DynamicQuantizeLinear", 1, 3, vec![]), &[&x], 17).unwrap();
        assert_eq!(vals(&out[0]), vec![153.0, 255.0, 0.0, 26.0, 221.0, 179.0]);
        assert!((vals(&out[1])[0] - 0.019_607_844).abs() < 1e-7);
        assert_eq!(vals(&out[2]), vec![153.0]);

        let a = i64t(&[1, 2], &[130, 120]);
        let b = i64t(&[2, 1], &[129, 127]);
        let az = i64t(&[], &[128]);
        let bz = i64t(&[], &[128]);
        let y = eval(&op("MatMulInteger", 4, 1, vec![]), &[&a, &b, &az, &bz], 17).unwrap();
        assert_eq!(vals(&y[0]), vec![2.0 * 1.0 + (-8.0) * (-1.0)]);

        let q = i64t(&[3], &[0, 3, 128]);
        let s = f32t(&[], &[2.0]);
        let z = i64t(&[], &[128]);
        let d = eval(&op("DequantizeLinear", 3, 1, vec![]), &[&q, &s, &z], 17).unwrap();
        assert_eq!(vals(&d[0]), vec![-256.0, -250.0, 0.0]);
    }

    #[test]
    fn qlinear_matmul_dequantizes_multiplies_and_requantizes() {
        // a = (130-128)*0.5 = 1, b = (138-128)*0.25 = 2.5 -> y = 2.5 -> 2.5/0.5 + 128 = 133
        let a = i64t(&[1, 1], &[130]);
        let b = i64t(&[1, 1], &[138]);
        let (s5, s25) = (f32t(&[], &[0.5]), f32t(&[], &[0.25]));
        let z = i64t(&[], &[128]);
        let o = op("QLinearMatMul", 8, 1, vec![]);
        let y = eval(&o, &[&a, &s5, &z, &b, &s25, &z, &s5, &z], 17).unwrap();
        assert_eq!(vals(&y[0]), vec![133.0]);
        // With a zero point the op does not clamp: the evaluation saturates to the zero point's
        // declared type (int8 or uint8 look alike here), see `precision::saturate`.
        let z0 = i64t(&[], &[0]);
        let y = eval(&o, &[&a, &s5, &z, &b, &s25, &z, &s5, &z0], 17).unwrap();
        assert_eq!(vals(&y[0]), vec![5.0]);
    }

    #[test]
    fn quantize_linear_saturates_and_rounds_half_to_even() {
        let x = f32t(&[4], &[1.0, 5.0, 1000.0, -3.0]);
        let s = f32t(&[], &[2.0]);
        let q = eval(&op("QuantizeLinear", 2, 1, vec![]), &[&x, &s], 17).unwrap();
        assert_eq!(vals(&q[0]), vec![0.0, 2.0, 255.0, 0.0]);
        let z = i64t(&[], &[-1]);
        let q = eval(&op("QuantizeLinear", 3, 1, vec![]), &[&x, &s, &z], 17).unwrap();
        assert_eq!(vals(&q[0]), vec![-1.0, 1.0, 499.0, -3.0]);
        let saturated = crate::eval::precision::saturate(q[0].clone(), crate::ir::DType::I8);
        assert_eq!(vals(&saturated), vec![-1.0, 1.0, 127.0, -3.0]);
    }
}
