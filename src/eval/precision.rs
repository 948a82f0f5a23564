//! Element types narrower than the evaluator's carriers. Ops compute float16/bfloat16 in float32
//! and every integer type in int64; [`run`](super::run) tracks each value's ONNX element type and
//! rounds (or wraps) every op result to it, as a runtime storing the narrow type does.

use super::Tensor;
use super::tensor::{round_to_bf16, round_to_f16};
use crate::ir::{Attr, DType, Op};

/// The carrier a value of type `d` travels in, as the type [`Tensor::dtype`] reports.
fn carrier(d: DType) -> Option<DType> {
    Some(match d {
        DType::F32 | DType::F16 | DType::BF16 => DType::F32,
        DType::F64 => DType::F64,
        DType::I64
        | DType::I32
        | DType::I16
        | DType::I8
        | DType::U8
        | DType::U16
        | DType::U32
        | DType::U64 => DType::I64,
        DType::Bool => DType::Bool,
        _ => return None,
    })
}

/// `declared` when a tensor of `t`'s carrier can hold it, else the carrier's own type.
pub(crate) fn fit(declared: Option<DType>, t: &Tensor) -> DType {
    match declared {
        Some(d) if carrier(d) == Some(t.dtype()) => d,
        _ => t.dtype(),
    }
}

/// The element type ONNX gives output `k` of `op`, from its inputs' types (`None` where unknown)
/// and attributes; `None` when only the computed carrier can tell.
pub(crate) fn output_dtype(op: &Op, k: usize, inputs: &[Option<DType>]) -> Option<DType> {
    let input = |i: usize| inputs.get(i).copied().flatten();
    let attr_type = |name: &str| {
        op.attr_int(name)
            .and_then(|c| i32::try_from(c).ok())
            .and_then(DType::from_onnx)
    };
    let tensor_attr = |name: &str| match op.attrs.get(name) {
        Some(Attr::Tensor(t)) => Some(t.dtype),
        _ => None,
    };
    match (op.op_type.as_str(), k) {
        ("Cast", _) => attr_type("to"),
        ("CastLike", _) => input(1),
        ("Where", _) => input(1),
        ("OneHot", _) => input(2),
        ("EyeLike", _) => attr_type("dtype").or(input(0)),
        ("ConstantOfShape", _) => Some(tensor_attr("value").unwrap_or(DType::F32)),
        ("Constant", _) => tensor_attr("value"),
        ("Shape" | "Size" | "ArgMax" | "ArgMin" | "NonZero", _) => Some(DType::I64),
        ("TopK" | "MaxPool", 1) => Some(DType::I64),
        ("Dropout", 1) => Some(DType::Bool),
        ("LayerNormalization", 1 | 2) => Some(attr_type("stash_type").unwrap_or(DType::F32)),
        ("MatMulInteger" | "ConvInteger", _) => Some(DType::I32),
        ("QuantizeLinear", 0) => attr_type("output_dtype").or(input(2)).or(Some(DType::U8)),
        ("DequantizeLinear", _) => input(1).or(Some(DType::F32)),
        ("DynamicQuantizeLinear", 1) => Some(DType::F32),
        ("DynamicQuantizeLinear", _) => Some(DType::U8),
        ("QLinearMatMul" | "QLinearConv", _) => input(7),
        ("MatMulIntegerToFloat" | "DynamicQuantizeMatMul", _) => Some(DType::F32),
        _ => inputs.iter().flatten().next().copied(),
    }
}

/// Quantizing ops saturate to their output type (ONNX's `saturate`) where other integer ops wrap.
pub(crate) fn saturates(op: &Op) -> bool {
    matches!(
        op.op_type.as_str(),
        "QuantizeLinear" | "DynamicQuantizeLinear" | "QLinearMatMul" | "QLinearConv"
    )
}

/// Integers clamped to the range of `dtype` (for [`saturates`] ops); other tensors unchanged.
pub(crate) fn saturate(t: Tensor, dtype: DType) -> Tensor {
    let (lo, hi): (i64, i64) = match dtype {
        DType::U8 => (0, 255),
        DType::I8 => (-128, 127),
        DType::U16 => (0, 65_535),
        DType::I16 => (-32_768, 32_767),
        DType::I32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        DType::U32 => (0, i64::from(u32::MAX)),
        _ => return t,
    };
    match t {
        Tensor::I64(a) => Tensor::I64(a.mapv(|v| v.clamp(lo, hi))),
        t => t,
    }
}

/// `t` with every element rounded (floats) or wrapped (integers) to `dtype`; unchanged when `dtype`
/// is its carrier's own type or another carrier.
pub(crate) fn narrow(t: Tensor, dtype: DType) -> Tensor {
    match (t, dtype) {
        (Tensor::F32(a), DType::F16) => Tensor::F32(a.mapv(round_to_f16)),
        (Tensor::F32(a), DType::BF16) => Tensor::F32(a.mapv(round_to_bf16)),
        (Tensor::I64(a), d) => {
            let wrap: fn(i64) -> i64 = match d {
                DType::I32 => |v| i64::from(v as i32),
                DType::I16 => |v| i64::from(v as i16),
                DType::I8 => |v| i64::from(v as i8),
                DType::U8 => |v| i64::from(v as u8),
                DType::U16 => |v| i64::from(v as u16),
                DType::U32 => |v| i64::from(v as u32),
                _ => return Tensor::I64(a),
            };
            Tensor::I64(a.mapv(wrap))
        }
        (t, _) => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_rounds_floats_and_wraps_integers() {
        let f = Tensor::from_f32(&[2], vec![1.0 + 2f32.powi(-12), 70000.0]).unwrap();
        assert_eq!(
            narrow(f.clone(), DType::F16).to_f64_vec(),
            vec![1.0, f64::INFINITY]
        );
        assert_eq!(narrow(f.clone(), DType::F32), f);
        let i = Tensor::from_i64(&[3], vec![255, 256, -1]).unwrap();
        assert_eq!(
            narrow(i.clone(), DType::U8).to_f64_vec(),
            vec![255.0, 0.0, 255.0]
        );
        assert_eq!(
            narrow(i.clone(), DType::I8).to_f64_vec(),
            vec![-1.0, 0.0, -1.0]
        );
        assert_eq!(fit(Some(DType::F16), &i), DType::I64);
        assert_eq!(fit(Some(DType::U8), &i), DType::U8);
    }
}
