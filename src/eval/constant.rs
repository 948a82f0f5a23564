//! Decoding constant tensors (initializers, `Constant` values, Keras weights) into [`Tensor`]s.
//!
//! Sizes are checked against [`Limits`] from the declared dims before anything is allocated, and raw
//! data must have exactly the byte length the dims and type imply.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tensor::{Elem, bf16_to_f32, f16_to_f32};
use super::{EvalError, Limits, Tensor};
use crate::ir::{DType, Graph, Model, TensorData, TensorRef};

/// Decodes a constant of `model`. Tensors without data (`TensorData::Absent`) get seeded weights of the
/// declared dims: Glorot-uniform, or the identity values of normalisation parameters and biases.
pub fn constant(model: &Model, t: &TensorRef, limits: &Limits) -> Result<Tensor, EvalError> {
    decode(t, Some(&model.base_dir()), Some(&model.graph), limits)
}

/// Decodes `t`; `base_dir` is needed only for external data, `graph` only to pick seeded values by role.
pub(crate) fn decode(
    t: &TensorRef,
    base_dir: Option<&Path>,
    graph: Option<&Graph>,
    limits: &Limits,
) -> Result<Tensor, EvalError> {
    let what = format!("tensor '{}'", t.name);
    let count = limits.check_dims(&t.dims, &what)?;
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    match &t.data {
        TensorData::Raw(bytes) => from_raw(t, &shape, count, bytes),
        TensorData::External {
            location,
            offset,
            length,
        } => {
            let expected = byte_len(t, count)?;
            if let Some(declared) = length.as_deref().and_then(|l| l.trim().parse::<u64>().ok())
                && declared != expected as u64
            {
                return Err(EvalError::Data(format!(
                    "tensor '{}' declares {declared} bytes of external data, but {count} {} elements need {expected}",
                    t.name,
                    t.dtype.name()
                )));
            }
            let dir = base_dir.ok_or_else(|| {
                EvalError::Data(format!(
                    "tensor '{}' is stored in external file '{location}', which cannot be read without the model's folder",
                    t.name
                ))
            })?;
            let bytes = crate::load::external::read_external(
                dir,
                location,
                offset.as_deref(),
                length.as_deref(),
            )
            .map_err(|e| {
                EvalError::Data(format!(
                    "cannot read the external data of tensor '{}': {e}",
                    t.name
                ))
            })?;
            from_raw(t, &shape, count, &bytes)
        }
        TensorData::Floats(v) => match t.dtype {
            DType::F32 => typed(t, &shape, count, "float_data", v.iter().copied()),
            _ => Err(field_mismatch(t, "float_data")),
        },
        TensorData::Doubles(v) => match t.dtype {
            DType::F64 => typed(t, &shape, count, "double_data", v.iter().copied()),
            _ => Err(field_mismatch(t, "double_data")),
        },
        TensorData::Int64s(v) => match t.dtype {
            DType::I64 => typed(t, &shape, count, "int64_data", v.iter().copied()),
            _ => Err(field_mismatch(t, "int64_data")),
        },
        TensorData::Int32s(v) => {
            let f = "int32_data";
            match t.dtype {
                DType::I32 | DType::I16 | DType::I8 | DType::U16 | DType::U8 => {
                    typed(t, &shape, count, f, v.iter().map(|&x| i64::from(x)))
                }
                DType::Bool => typed(t, &shape, count, f, v.iter().map(|&x| x != 0)),
                DType::F16 => typed(t, &shape, count, f, v.iter().map(|&x| f16_to_f32(x as u16))),
                DType::BF16 => typed(
                    t,
                    &shape,
                    count,
                    f,
                    v.iter().map(|&x| bf16_to_f32(x as u16)),
                ),
                _ => Err(field_mismatch(t, f)),
            }
        }
        TensorData::Uint64s(v) => match t.dtype {
            DType::U32 | DType::U64 => {
                let ints: Result<Vec<i64>, _> = v.iter().map(|&x| i64::try_from(x)).collect();
                let ints = ints.map_err(|_| {
                    EvalError::Data(format!(
                        "tensor '{}' holds a uint64 value too large for the evaluator's int64",
                        t.name
                    ))
                })?;
                typed(t, &shape, count, "uint64_data", ints.into_iter())
            }
            _ => Err(field_mismatch(t, "uint64_data")),
        },
        TensorData::Strings(_) => Err(unsupported_type(t)),
        TensorData::Absent => seeded(t, &shape, count, graph),
    }
}

fn byte_len(t: &TensorRef, count: usize) -> Result<usize, EvalError> {
    let size = match t.dtype {
        DType::String | DType::Complex64 | DType::Complex128 | DType::Other(_) => None,
        other => other.byte_size(),
    };
    let size = size.ok_or_else(|| unsupported_type(t))?;
    count.checked_mul(size).ok_or_else(|| {
        EvalError::Limit(format!(
            "tensor '{}' is too large to address in bytes",
            t.name
        ))
    })
}

fn unsupported_type(t: &TensorRef) -> EvalError {
    EvalError::Data(format!(
        "tensor '{}' has type {}, which the evaluator cannot decode",
        t.name,
        t.dtype.name()
    ))
}

fn field_mismatch(t: &TensorRef, field: &str) -> EvalError {
    EvalError::Data(format!(
        "tensor '{}' declares type {} but stores its values in {field}",
        t.name,
        t.dtype.name()
    ))
}

fn typed<T: Elem>(
    t: &TensorRef,
    shape: &[usize],
    count: usize,
    field: &str,
    values: impl ExactSizeIterator<Item = T>,
) -> Result<Tensor, EvalError> {
    if values.len() != count {
        return Err(EvalError::Data(format!(
            "tensor '{}' has {} values in {field}, but its dims {:?} need {count}",
            t.name,
            values.len(),
            t.dims
        )));
    }
    array(shape, values.collect())
}

fn array<T: Elem>(shape: &[usize], values: Vec<T>) -> Result<Tensor, EvalError> {
    super::tensor::from_vec(shape, values)
}

fn from_raw(
    t: &TensorRef,
    shape: &[usize],
    count: usize,
    bytes: &[u8],
) -> Result<Tensor, EvalError> {
    let expected = byte_len(t, count)?;
    if bytes.len() != expected {
        return Err(EvalError::Data(format!(
            "tensor '{}' has {} bytes of raw data, but {count} {} elements need {expected}",
            t.name,
            bytes.len(),
            t.dtype.name()
        )));
    }
    match t.dtype {
        DType::F32 => array(shape, words::<4>(bytes).map(f32::from_le_bytes).collect()),
        DType::F64 => array(shape, words::<8>(bytes).map(f64::from_le_bytes).collect()),
        DType::F16 => array(
            shape,
            words::<2>(bytes)
                .map(|w| f16_to_f32(u16::from_le_bytes(w)))
                .collect(),
        ),
        DType::BF16 => array(
            shape,
            words::<2>(bytes)
                .map(|w| bf16_to_f32(u16::from_le_bytes(w)))
                .collect(),
        ),
        DType::I64 => array(shape, words::<8>(bytes).map(i64::from_le_bytes).collect()),
        DType::I32 => ints(
            shape,
            words::<4>(bytes).map(|w| i64::from(i32::from_le_bytes(w))),
        ),
        DType::I16 => ints(
            shape,
            words::<2>(bytes).map(|w| i64::from(i16::from_le_bytes(w))),
        ),
        DType::I8 => ints(shape, bytes.iter().map(|&b| i64::from(b as i8))),
        DType::U8 => ints(shape, bytes.iter().map(|&b| i64::from(b))),
        DType::U16 => ints(
            shape,
            words::<2>(bytes).map(|w| i64::from(u16::from_le_bytes(w))),
        ),
        DType::U32 => ints(
            shape,
            words::<4>(bytes).map(|w| i64::from(u32::from_le_bytes(w))),
        ),
        DType::U64 => {
            let v: Result<Vec<i64>, _> = words::<8>(bytes)
                .map(|w| i64::try_from(u64::from_le_bytes(w)))
                .collect();
            let v = v.map_err(|_| {
                EvalError::Data(format!(
                    "tensor '{}' holds a uint64 value too large for the evaluator's int64",
                    t.name
                ))
            })?;
            array(shape, v)
        }
        DType::Bool => array(shape, bytes.iter().map(|&b| b != 0).collect()),
        _ => Err(unsupported_type(t)),
    }
}

fn ints(shape: &[usize], values: impl Iterator<Item = i64>) -> Result<Tensor, EvalError> {
    array(shape, values.collect())
}

/// Little-endian words of `N` bytes; the caller has checked the length is a multiple of `N`.
fn words<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|c| {
        let mut w = [0u8; N];
        w.copy_from_slice(c);
        w
    })
}

/// What seeded values a weight without data gets, decided by the op that reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Fill(f64),
    Glorot,
}

fn role(t: &TensorRef, graph: Option<&Graph>) -> Role {
    let Some(graph) = graph else {
        return Role::Glorot;
    };
    let Some(id) = graph.value_by_name(&t.name) else {
        return Role::Glorot;
    };
    for op_id in graph.consumers(id) {
        let op = graph.op(op_id);
        let Some(slot) = op.inputs.iter().position(|&i| i == Some(id)) else {
            continue;
        };
        let fill = match (op.op_type.as_str(), slot) {
            ("BatchNormalization", 1 | 4) => Some(1.0),
            ("BatchNormalization", 2 | 3) => Some(0.0),
            (
                "LayerNormalization"
                | "InstanceNormalization"
                | "GroupNormalization"
                | "RMSNormalization",
                1,
            ) => Some(1.0),
            (
                "LayerNormalization"
                | "InstanceNormalization"
                | "GroupNormalization"
                | "RMSNormalization",
                2,
            ) => Some(0.0),
            ("Conv" | "ConvTranspose" | "Gemm", 2) => Some(0.0),
            ("Add" | "Sub", _) if t.dims.len() <= 1 => Some(0.0),
            _ => None,
        };
        if let Some(v) = fill {
            return Role::Fill(v);
        }
    }
    Role::Glorot
}

/// 64-bit FNV-1a, the seed of a weight's values.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Glorot-uniform bound with fans taken from an ONNX weight layout `[out, in, k...]`.
fn glorot_limit(dims: &[i64]) -> f64 {
    let d = |i: usize| dims.get(i).map_or(1.0, |&v| v as f64);
    let receptive: f64 = dims.iter().skip(2).map(|&v| v as f64).product();
    let (fan_out, fan_in) = match dims.len() {
        0 => (1.0, 1.0),
        1 => (d(0), d(0)),
        _ => (d(0) * receptive, d(1) * receptive),
    };
    let fans = (fan_in + fan_out).max(1.0);
    (6.0 / fans).sqrt()
}

fn seeded(
    t: &TensorRef,
    shape: &[usize],
    count: usize,
    graph: Option<&Graph>,
) -> Result<Tensor, EvalError> {
    if !matches!(t.dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16) {
        return Err(EvalError::Data(format!(
            "tensor '{}' of type {} has no data in the file, and only float weights can be drawn",
            t.name,
            t.dtype.name()
        )));
    }
    // The same draws for every element type (f64, then rounded for f32), without a second buffer.
    let role = role(t, graph);
    let limit = glorot_limit(&t.dims);
    let mut rng = ChaCha8Rng::seed_from_u64(fnv1a(&t.name));
    let mut draw = move || match role {
        Role::Fill(v) => v,
        Role::Glorot => (rng.random::<f64>() * 2.0 - 1.0) * limit,
    };
    let dim = IxDyn(shape);
    let err = |_| EvalError::Shape(format!("tensor '{}' has inconsistent dims", t.name));
    Ok(match t.dtype {
        DType::F64 => Tensor::F64(
            ArrayD::from_shape_vec(dim, (0..count).map(|_| draw()).collect()).map_err(err)?,
        ),
        _ => Tensor::F32(
            ArrayD::from_shape_vec(dim, (0..count).map(|_| draw() as f32).collect())
                .map_err(err)?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;

    use super::*;

    fn tref(name: &str, dtype: DType, dims: &[i64], data: TensorData) -> TensorRef {
        TensorRef {
            name: name.into(),
            dtype,
            dims: dims.to_vec(),
            data,
        }
    }

    fn dec(t: &TensorRef) -> Result<Tensor, EvalError> {
        decode(t, None, None, &Limits::default())
    }

    #[test]
    fn raw_little_endian_values_decode() {
        let mut raw = Vec::new();
        for v in [1.5f32, -2.0, 0.25, 8.0] {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        let t = tref("w", DType::F32, &[2, 2], TensorData::Raw(Bytes::from(raw)));
        let got = dec(&t).unwrap();
        assert_eq!(got.shape(), &[2, 2]);
        assert_eq!(got.to_f64_vec(), vec![1.5, -2.0, 0.25, 8.0]);

        let raw: Vec<u8> = [-3i32, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = tref("i", DType::I32, &[2], TensorData::Raw(Bytes::from(raw)));
        assert_eq!(
            dec(&t).unwrap(),
            Tensor::from_i64(&[2], vec![-3, 7]).unwrap()
        );

        let t = tref(
            "h",
            DType::F16,
            &[],
            TensorData::Raw(Bytes::from_static(&[0x00, 0x3c])),
        );
        assert_eq!(dec(&t).unwrap(), Tensor::scalar_f32(1.0));
    }

    #[test]
    fn raw_data_of_the_wrong_length_is_an_error() {
        let t = tref(
            "w",
            DType::F32,
            &[3],
            TensorData::Raw(Bytes::from(vec![0u8; 11])),
        );
        let err = dec(&t).unwrap_err();
        assert!(matches!(err, EvalError::Data(_)));
        assert_eq!(
            err.to_string(),
            "tensor 'w' has 11 bytes of raw data, but 3 float32 elements need 12"
        );
    }

    #[test]
    fn typed_fields_decode_and_are_checked() {
        let t = tref(
            "f",
            DType::F32,
            &[2],
            TensorData::Floats(vec![1.0, 2.0].into()),
        );
        assert_eq!(dec(&t).unwrap().to_f64_vec(), vec![1.0, 2.0]);
        let t = tref(
            "b",
            DType::Bool,
            &[3],
            TensorData::Int32s(vec![0, 1, 5].into()),
        );
        assert_eq!(
            dec(&t).unwrap().as_bool().unwrap().as_slice().unwrap(),
            &[false, true, true]
        );
        let t = tref(
            "short",
            DType::I64,
            &[3],
            TensorData::Int64s(vec![1].into()),
        );
        assert!(matches!(dec(&t), Err(EvalError::Data(_))));
        let t = tref("mix", DType::F32, &[1], TensorData::Int64s(vec![1].into()));
        assert!(matches!(dec(&t), Err(EvalError::Data(_))));
        let t = tref(
            "big",
            DType::U64,
            &[1],
            TensorData::Uint64s(vec![u64::MAX].into()),
        );
        assert!(matches!(dec(&t), Err(EvalError::Data(_))));
    }

    #[test]
    fn huge_or_negative_dims_are_refused_before_allocating() {
        let start = Instant::now();
        for dims in [
            vec![1_000_000, 1_000_000],
            vec![-1, 4],
            vec![i64::MAX, i64::MAX],
        ] {
            for data in [TensorData::Absent, TensorData::Raw(Bytes::new())] {
                let t = tref("huge", DType::F32, &dims, data);
                assert!(matches!(dec(&t), Err(EvalError::Limit(_))), "{dims:?}");
            }
        }
        assert!(start.elapsed().as_millis() < 100);
    }

    #[test]
    fn absent_weights_are_seeded_by_name_and_role() {
        let w = tref("dense/kernel", DType::F32, &[4, 3], TensorData::Absent);
        let a = dec(&w).unwrap().to_f64_vec();
        assert_eq!(a, dec(&w).unwrap().to_f64_vec());
        let limit = (6.0f64 / 7.0).sqrt();
        assert!(a.iter().all(|v| v.abs() <= limit));
        assert!(a.iter().any(|v| v.abs() > limit / 4.0));
        let other = tref("dense_1/kernel", DType::F32, &[4, 3], TensorData::Absent);
        assert_ne!(a, dec(&other).unwrap().to_f64_vec());

        let mut g = Graph::default();
        let x = g.add_value("x");
        let var = g.add_value("bn/var");
        let y = g.add_value("y");
        g.ops.push(crate::ir::Op {
            op_type: "BatchNormalization".into(),
            domain: String::new(),
            name: "bn".into(),
            inputs: vec![Some(x), None, None, None, Some(var)],
            outputs: vec![y],
            attrs: Default::default(),
            origin: Default::default(),
        });
        let v = tref("bn/var", DType::F32, &[3], TensorData::Absent);
        let got = decode(&v, None, Some(&g), &Limits::default()).unwrap();
        assert_eq!(got.to_f64_vec(), vec![1.0; 3]);

        let ids = tref("ids", DType::I64, &[3], TensorData::Absent);
        assert!(matches!(dec(&ids), Err(EvalError::Data(_))));
    }

    #[test]
    fn external_data_needs_the_model_folder() {
        let t = tref(
            "w",
            DType::F32,
            &[2],
            TensorData::External {
                location: "w.bin".into(),
                offset: None,
                length: Some("9".into()),
            },
        );
        assert!(
            dec(&t)
                .unwrap_err()
                .to_string()
                .contains("declares 9 bytes")
        );
    }
}
