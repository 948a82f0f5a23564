//! Tensors the evaluator computes with, and the element-type traits its generic op code uses.

use std::borrow::Cow;
use std::fmt::Debug;
use std::ops::Neg;

use ndarray::{ArrayD, IxDyn, LinalgScalar};

use super::EvalError;
use crate::ir::DType;

/// A computed tensor. Float16/bfloat16 values are carried as float32 (rounded to their precision) and
/// every integer type as int64.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    Bool(ArrayD<bool>),
}

impl Tensor {
    pub fn shape(&self) -> &[usize] {
        any_op!(self, a => a.shape())
    }

    pub fn rank(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        any_op!(self, a => a.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match self {
            Tensor::F32(_) => DType::F32,
            Tensor::F64(_) => DType::F64,
            Tensor::I64(_) => DType::I64,
            Tensor::Bool(_) => DType::Bool,
        }
    }

    pub fn dtype_name(&self) -> &'static str {
        match self {
            Tensor::F32(_) => "float32",
            Tensor::F64(_) => "float64",
            Tensor::I64(_) => "int64",
            Tensor::Bool(_) => "bool",
        }
    }

    pub fn is_float(&self) -> bool {
        matches!(self, Tensor::F32(_) | Tensor::F64(_))
    }

    pub fn as_f32(&self) -> Option<&ArrayD<f32>> {
        match self {
            Tensor::F32(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<&ArrayD<f64>> {
        match self {
            Tensor::F64(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<&ArrayD<i64>> {
        match self {
            Tensor::I64(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<&ArrayD<bool>> {
        match self {
            Tensor::Bool(a) => Some(a),
            _ => None,
        }
    }

    /// All elements in row-major order, widened to f64 (bool as 0/1).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            Tensor::F32(a) => a.iter().map(|&x| f64::from(x)).collect(),
            Tensor::F64(a) => a.iter().copied().collect(),
            Tensor::I64(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::Bool(a) => a.iter().map(|&x| f64::from(u8::from(x))).collect(),
        }
    }

    /// The same values as an f64 array of the same shape.
    pub fn to_f64_array(&self) -> ArrayD<f64> {
        match self {
            Tensor::F32(a) => a.mapv(f64::from),
            Tensor::F64(a) => a.clone(),
            Tensor::I64(a) => a.mapv(|x| x as f64),
            Tensor::Bool(a) => a.mapv(|x| f64::from(u8::from(x))),
        }
    }

    /// A float32 tensor from row-major values; errors when `values` does not fill `shape`.
    pub fn from_f32(shape: &[usize], values: Vec<f32>) -> Result<Tensor, EvalError> {
        from_vec(shape, values)
    }

    /// An int64 tensor from row-major values; errors when `values` does not fill `shape`.
    pub fn from_i64(shape: &[usize], values: Vec<i64>) -> Result<Tensor, EvalError> {
        from_vec(shape, values)
    }

    pub fn scalar_f32(v: f32) -> Tensor {
        Tensor::F32(ArrayD::from_elem(IxDyn(&[]), v))
    }
}

pub(crate) fn from_vec<T: Elem>(shape: &[usize], values: Vec<T>) -> Result<Tensor, EvalError> {
    let n = values.len();
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map(T::wrap)
        .map_err(|_| {
            EvalError::Shape(format!(
                "{n} values do not fill shape {}",
                super::show_shape(shape)
            ))
        })
}

/// Row-major elements of `a`, borrowed when its layout already is row-major.
pub(crate) fn flat<T: Clone>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// An element type a [`Tensor`] can hold.
pub(crate) trait Elem: Clone + Debug + PartialEq + 'static {
    const NAME: &'static str;
    fn get(t: &Tensor) -> Option<&ArrayD<Self>>;
    fn wrap(a: ArrayD<Self>) -> Tensor;
}

/// The array of type `T` inside `t`, or a dtype error naming `what`.
pub(crate) fn same<'a, T: Elem>(t: &'a Tensor, what: &str) -> Result<&'a ArrayD<T>, EvalError> {
    T::get(t).ok_or_else(|| EvalError::dtype(what, t, T::NAME))
}

macro_rules! impl_elem {
    ($t:ty, $variant:ident, $name:expr) => {
        impl Elem for $t {
            const NAME: &'static str = $name;
            fn get(t: &Tensor) -> Option<&ArrayD<Self>> {
                match t {
                    Tensor::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn wrap(a: ArrayD<Self>) -> Tensor {
                Tensor::$variant(a)
            }
        }
    };
}

impl_elem!(f32, F32, "float32");
impl_elem!(f64, F64, "float64");
impl_elem!(i64, I64, "int64");
impl_elem!(bool, Bool, "bool");

/// Float arithmetic the ops need, for f32 and f64.
pub(crate) trait Float:
    Elem + LinalgScalar + PartialOrd + Neg<Output = Self> + Send + Sync
{
    const ZERO: Self;
    const ONE: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn abs(self) -> Self;
    fn powf(self, e: Self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    fn round_even(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn is_nan(self) -> bool;
    /// Error function, computed in f64.
    fn erf(self) -> Self {
        Self::from_f64(erf(self.to_f64()))
    }
    /// Larger of two values; NaN if either is NaN (ONNX Max semantics).
    fn max_nan(self, other: Self) -> Self {
        if self.is_nan() || other > self {
            if self.is_nan() { self } else { other }
        } else {
            self
        }
    }
    /// Smaller of two values; NaN if either is NaN.
    fn min_nan(self, other: Self) -> Self {
        if self.is_nan() || other < self {
            if self.is_nan() { self } else { other }
        } else {
            self
        }
    }
}

macro_rules! impl_float {
    ($t:ident, $from:expr, $to:expr) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            fn from_f64(v: f64) -> Self {
                $from(v)
            }
            fn to_f64(self) -> f64 {
                $to(self)
            }
            fn exp(self) -> Self {
                $t::exp(self)
            }
            fn ln(self) -> Self {
                $t::ln(self)
            }
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            fn abs(self) -> Self {
                $t::abs(self)
            }
            fn powf(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            fn floor(self) -> Self {
                $t::floor(self)
            }
            fn ceil(self) -> Self {
                $t::ceil(self)
            }
            fn round_even(self) -> Self {
                $t::round_ties_even(self)
            }
            fn sin(self) -> Self {
                $t::sin(self)
            }
            fn cos(self) -> Self {
                $t::cos(self)
            }
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
        }
    };
}

impl_float!(f32, |v: f64| v as f32, f64::from);
impl_float!(f64, |v: f64| v, |v: f64| v);

/// The error function, accurate to about 1e-13: Maclaurin series below 3, the continued fraction of
/// erfc up to 6, and ±1 beyond (erfc(6) ≈ 2e-17).
pub(crate) fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a < 3.0 {
        let x2 = a * a;
        let mut term = a;
        let mut sum = a;
        let mut n = 0.0;
        while n < 200.0 {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if a < 6.0 {
        let mut t = a;
        for k in (1..=120).rev() {
            t = a + f64::from(k) / 2.0 / t;
        }
        1.0 - (-a * a).exp() / (t * std::f64::consts::PI.sqrt())
    } else {
        1.0
    };
    r.copysign(x)
}

/// IEEE half-precision bits to f32.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let v = match exp {
        0 => frac as f32 * 2f32.powi(-24),
        31 if frac == 0 => f32::INFINITY,
        31 => f32::NAN,
        _ => f32::from_bits(((exp + 112) << 23) | (frac << 13)),
    };
    if h & 0x8000 != 0 { -v } else { v }
}

/// bfloat16 bits to f32.
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// `x` rounded (ties to even) to the nearest float16 value, overflowing to ±inf like a real cast.
pub(crate) fn round_to_f16(x: f32) -> f32 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let a = x.abs();
    if a >= 65520.0 {
        return f32::INFINITY.copysign(x);
    }
    let exp = ((a.to_bits() >> 23) & 0xff) as i32 - 127;
    let quantum = 2f32.powi(exp.max(-14) - 10);
    (x / quantum).round_ties_even() * quantum
}

/// `x` rounded (ties to even) to the nearest bfloat16 value.
pub(crate) fn round_to_bf16(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let b = x.to_bits();
    let rounded = b.wrapping_add(0x7fff + ((b >> 16) & 1));
    f32::from_bits(rounded & 0xffff_0000)
}

/// IEEE half-precision bits of `x`, rounded to nearest (ties to even); overflow gives ±inf.
pub(crate) fn f32_to_f16_bits(x: f32) -> u16 {
    let sign = ((x.to_bits() >> 16) & 0x8000) as u16;
    if x.is_nan() {
        return sign | 0x7e00;
    }
    let a = round_to_f16(x).abs();
    if a.is_infinite() {
        return sign | 0x7c00;
    }
    if a < 2f32.powi(-14) {
        // Subnormal (or zero): an exact multiple of 2^-24 after rounding.
        return sign | (a * 2f32.powi(24)) as u16;
    }
    let bits = a.to_bits();
    let exp = ((bits >> 23) & 0xff) as u16 - 112;
    sign | (exp << 10) | ((bits >> 13) & 0x3ff) as u16
}

/// bfloat16 bits of `x`, rounded to nearest (ties to even).
pub(crate) fn f32_to_bf16_bits(x: f32) -> u16 {
    if x.is_nan() {
        return ((x.to_bits() >> 16) as u16) | 0x7fc0;
    }
    (round_to_bf16(x).to_bits() >> 16) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_reference_values() {
        let cases = [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (-1.5, -0.966_105_146_475_310_7),
            (2.999, 0.999_977_769_831_400_2),
            (3.0, 0.999_977_909_503_001_4),
            (4.0, 0.999_999_984_582_742_1),
            (7.0, 1.0),
        ];
        for (x, want) in cases {
            assert!((erf(x) - want).abs() < 1e-12, "erf({x}) = {}", erf(x));
        }
        // erfc near the switch to the continued fraction keeps its relative accuracy.
        let erfc3 = 1.0 - erf(3.0);
        assert!((erfc3 / 2.209_049_699_858_544e-5 - 1.0).abs() < 1e-7);
    }

    #[test]
    fn half_precision_round_trips() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(round_to_f16(1.0 + 2f32.powi(-11)), 1.0);
        assert_eq!(
            round_to_f16(1.0 + 3.0 * 2f32.powi(-11)),
            1.0 + 2f32.powi(-9)
        );
        assert_eq!(round_to_f16(70000.0), f32::INFINITY);
        assert_eq!(round_to_f16(65504.0), 65504.0);
        assert_eq!(round_to_f16(1e-8), 0.0);
        assert_eq!(round_to_bf16(1.0 + 2f32.powi(-9)), 1.0);
        assert_eq!(round_to_bf16(f32::MAX), f32::INFINITY);
        for bits in (0u16..=0xffff).filter(|b| b & 0x7c00 != 0x7c00 || b & 0x3ff == 0) {
            assert_eq!(f32_to_f16_bits(f16_to_f32(bits)), bits, "{bits:#06x}");
            assert_eq!(f32_to_bf16_bits(bf16_to_f32(bits)), bits, "{bits:#06x}");
        }
        assert_eq!(f32_to_f16_bits(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16_bits(-1e6), 0xfc00);
        assert_eq!(f32_to_f16_bits(f32::NAN) & 0x7e00, 0x7e00);
    }

    #[test]
    fn tensor_helpers() {
        let t = Tensor::from_f32(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.len(), 4);
        assert_eq!(t.to_f64_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        assert!(Tensor::from_f32(&[3], vec![1.0]).is_err());
        assert!(t.as_f32().is_some() && t.as_i64().is_none());
    }
}
