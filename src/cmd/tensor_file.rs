//! ONNX `TensorProto` files (`.pb`) in and out of the evaluator: the inputs `nnlint eval` reads, the
//! outputs it writes, and the conformance cases' reference values.
//!
//! A decoded tensor keeps the element type the file declares next to the evaluator's wider carrier
//! type (float16 values travel as float32, every integer type as int64); encoding writes the values
//! back in that declared type.

use bytes::Bytes;
use prost::Message;

use crate::eval::tensor::{f32_to_bf16_bits, f32_to_f16_bits};
use crate::eval::{EvalError, Limits, Tensor, decode};
use crate::ir::{DType, TensorData, TensorRef};
use crate::load::onnx::proto::TensorProto;
use crate::load::onnx::proto::tensor_proto::DataLocation;

/// A tensor read from a `TensorProto`: its name, the element type the file declares and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub dtype: DType,
    pub tensor: Tensor,
}

/// Decodes a serialized `TensorProto`. Element counts are checked against `limits` before any values
/// are allocated; external data and types the evaluator has no carrier for are errors.
pub fn decode_tensor_proto(bytes: &[u8], limits: &Limits) -> Result<NamedTensor, EvalError> {
    let proto = TensorProto::decode(Bytes::copy_from_slice(bytes))
        .map_err(|e| EvalError::Data(format!("not a valid ONNX TensorProto ({e})")))?;
    let name = proto.name.clone();
    let dtype = DType::from_onnx(proto.data_type)
        .ok_or_else(|| EvalError::Data(format!("tensor '{name}' declares no element type")))?;
    if proto.data_location == DataLocation::External as i32 {
        return Err(EvalError::Data(format!(
            "tensor '{name}' keeps its values in an external file, which tensor files may not do"
        )));
    }
    if proto.segment.is_some() {
        return Err(EvalError::Data(format!(
            "tensor '{name}' is a segment of a larger tensor, which is not supported"
        )));
    }
    let data = typed_data(&proto, dtype);
    let t = TensorRef {
        name: name.clone(),
        dtype,
        dims: proto.dims.clone(),
        data,
    };
    // `decode` checks dims against the limits before it allocates, and data lengths against dims.
    let tensor = decode(&t, None, None, limits)?;
    Ok(NamedTensor {
        name,
        dtype,
        tensor,
    })
}

/// The field that holds a `TensorProto`'s values: raw bytes when present, else the typed field the
/// ONNX schema assigns to `dtype`.
fn typed_data(p: &TensorProto, dtype: DType) -> TensorData {
    if let Some(raw) = p.raw_data.as_ref().filter(|r| !r.is_empty()) {
        return TensorData::Raw(raw.clone());
    }
    let empty = p.float_data.is_empty()
        && p.double_data.is_empty()
        && p.int32_data.is_empty()
        && p.int64_data.is_empty()
        && p.uint64_data.is_empty()
        && p.string_data.is_empty();
    if empty {
        // No values at all: only a tensor with zero elements may say that.
        return TensorData::Raw(Bytes::new());
    }
    match dtype {
        DType::F32 | DType::Complex64 => TensorData::Floats(p.float_data.as_slice().into()),
        DType::F64 | DType::Complex128 => TensorData::Doubles(p.double_data.as_slice().into()),
        DType::I64 => TensorData::Int64s(p.int64_data.as_slice().into()),
        DType::U32 | DType::U64 => TensorData::Uint64s(p.uint64_data.as_slice().into()),
        DType::String => TensorData::Strings(p.string_data.as_slice().into()),
        _ => TensorData::Int32s(p.int32_data.as_slice().into()),
    }
}

/// Serializes `tensor` as a `TensorProto` named `name` with element type `dtype` (raw little-endian
/// data). Values are converted to `dtype` as a cast would: floats rounded to the nearest value,
/// integers wrapped to the type's width.
pub fn encode_tensor_proto(
    name: &str,
    tensor: &Tensor,
    dtype: DType,
) -> Result<Vec<u8>, EvalError> {
    let raw = raw_bytes(tensor, dtype).ok_or_else(|| {
        EvalError::DType(format!(
            "a {} value cannot be written as {}",
            tensor.dtype_name(),
            dtype.name()
        ))
    })?;
    let proto = TensorProto {
        dims: tensor.shape().iter().map(|&d| d as i64).collect(),
        data_type: onnx_code(dtype)
            .ok_or_else(|| EvalError::DType(format!("type {} cannot be written", dtype.name())))?,
        name: name.to_string(),
        raw_data: Some(Bytes::from(raw)),
        ..TensorProto::default()
    };
    Ok(proto.encode_to_vec())
}

fn onnx_code(dtype: DType) -> Option<i32> {
    Some(match dtype {
        DType::F32 => 1,
        DType::U8 => 2,
        DType::I8 => 3,
        DType::U16 => 4,
        DType::I16 => 5,
        DType::I32 => 6,
        DType::I64 => 7,
        DType::Bool => 9,
        DType::F16 => 10,
        DType::F64 => 11,
        DType::U32 => 12,
        DType::U64 => 13,
        DType::BF16 => 16,
        _ => return None,
    })
}

fn raw_bytes(tensor: &Tensor, dtype: DType) -> Option<Vec<u8>> {
    let floats = || tensor.to_f64_vec();
    let ints = || -> Option<Vec<i64>> {
        match tensor {
            Tensor::I64(a) => Some(a.iter().copied().collect()),
            Tensor::Bool(a) => Some(a.iter().map(|&b| i64::from(b)).collect()),
            _ => None,
        }
    };
    Some(match dtype {
        DType::F32 => floats()
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect(),
        DType::F64 => floats().iter().flat_map(|&v| v.to_le_bytes()).collect(),
        DType::F16 => floats()
            .iter()
            .flat_map(|&v| f32_to_f16_bits(v as f32).to_le_bytes())
            .collect(),
        DType::BF16 => floats()
            .iter()
            .flat_map(|&v| f32_to_bf16_bits(v as f32).to_le_bytes())
            .collect(),
        DType::Bool => floats().iter().map(|&v| u8::from(v != 0.0)).collect(),
        DType::I64 => ints()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::U64 => ints()?
            .iter()
            .flat_map(|&v| (v as u64).to_le_bytes())
            .collect(),
        DType::I32 => ints()?
            .iter()
            .flat_map(|&v| (v as i32).to_le_bytes())
            .collect(),
        DType::U32 => ints()?
            .iter()
            .flat_map(|&v| (v as u32).to_le_bytes())
            .collect(),
        DType::I16 => ints()?
            .iter()
            .flat_map(|&v| (v as i16).to_le_bytes())
            .collect(),
        DType::U16 => ints()?
            .iter()
            .flat_map(|&v| (v as u16).to_le_bytes())
            .collect(),
        DType::I8 => ints()?.iter().map(|&v| v as i8 as u8).collect(),
        DType::U8 => ints()?.iter().map(|&v| v as u8).collect(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use onnx_protobuf::Message as _;

    use super::*;

    #[test]
    fn round_trips_every_writable_type() {
        let f = Tensor::from_f32(&[2, 2], vec![1.5, -2.0, 0.25, 512.0]).unwrap();
        for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16] {
            let bytes = encode_tensor_proto("y", &f, dtype).unwrap();
            let back = decode_tensor_proto(&bytes, &Limits::default()).unwrap();
            assert_eq!(back.name, "y");
            assert_eq!(back.dtype, dtype);
            assert_eq!(back.tensor.to_f64_vec(), f.to_f64_vec(), "{dtype:?}");
        }
        let i = Tensor::from_i64(&[3], vec![-1, 0, 7]).unwrap();
        for dtype in [DType::I64, DType::I32, DType::I16, DType::I8] {
            let bytes = encode_tensor_proto("i", &i, dtype).unwrap();
            let back = decode_tensor_proto(&bytes, &Limits::default()).unwrap();
            assert_eq!(back.tensor, i, "{dtype:?}");
        }
        let bytes = encode_tensor_proto("u", &i, DType::U8).unwrap();
        let back = decode_tensor_proto(&bytes, &Limits::default()).unwrap();
        assert_eq!(back.tensor.to_f64_vec(), vec![255.0, 0.0, 7.0]);
        assert!(encode_tensor_proto("x", &f, DType::I64).is_err());
    }

    #[test]
    fn agrees_with_an_independent_decoder() {
        let f = Tensor::from_f32(&[3], vec![0.5, 1.0, -3.0]).unwrap();
        let bytes = encode_tensor_proto("logits", &f, DType::F32).unwrap();
        let p = onnx_protobuf::TensorProto::parse_from_bytes(&bytes).unwrap();
        assert_eq!(p.name, "logits");
        assert_eq!(p.dims, vec![3]);
        assert_eq!(p.data_type, 1);
        assert_eq!(p.raw_data.len(), 12);

        let mut q = onnx_protobuf::TensorProto::new();
        q.name = "typed".into();
        q.data_type = 7;
        q.dims = vec![2];
        q.int64_data = vec![4, -5];
        let t = decode_tensor_proto(&q.write_to_bytes().unwrap(), &Limits::default()).unwrap();
        assert_eq!(t.tensor, Tensor::from_i64(&[2], vec![4, -5]).unwrap());
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        assert!(decode_tensor_proto(b"\xff\xff\xff", &Limits::default()).is_err());
        let mut q = onnx_protobuf::TensorProto::new();
        q.data_type = 1;
        q.dims = vec![1_000_000, 1_000_000];
        let e = decode_tensor_proto(&q.write_to_bytes().unwrap(), &Limits::default());
        assert!(matches!(e, Err(EvalError::Limit(_))), "{e:?}");
        q.dims = vec![2];
        q.float_data = vec![1.0];
        let e = decode_tensor_proto(&q.write_to_bytes().unwrap(), &Limits::default());
        assert!(matches!(e, Err(EvalError::Data(_))), "{e:?}");
    }
}
