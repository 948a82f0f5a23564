//! Dispatch from a [`Tensor`](super::Tensor) to code generic over its element type. Each arm expands
//! `$body` once per element type, so `$body` may call generic functions with the type inferred.

/// `$a` bound to the float32 or float64 array; any other type is a dtype error naming `$what`.
macro_rules! float_op {
    ($t:expr, $what:expr, $a:ident => $body:expr) => {
        match $t {
            $crate::eval::Tensor::F32($a) => $body,
            $crate::eval::Tensor::F64($a) => $body,
            other => {
                return Err($crate::eval::EvalError::dtype(
                    $what,
                    other,
                    "float32 or float64",
                ))
            }
        }
    };
}

/// `$a` bound to a float32, float64 or int64 array; bool is a dtype error naming `$what`.
macro_rules! numeric_op {
    ($t:expr, $what:expr, $a:ident => $body:expr) => {
        match $t {
            $crate::eval::Tensor::F32($a) => $body,
            $crate::eval::Tensor::F64($a) => $body,
            $crate::eval::Tensor::I64($a) => $body,
            other => {
                return Err($crate::eval::EvalError::dtype(
                    $what,
                    other,
                    "a numeric type",
                ))
            }
        }
    };
}

/// `$a` bound to the array whatever its element type.
macro_rules! any_op {
    ($t:expr, $a:ident => $body:expr) => {
        match $t {
            $crate::eval::Tensor::F32($a) => $body,
            $crate::eval::Tensor::F64($a) => $body,
            $crate::eval::Tensor::I64($a) => $body,
            $crate::eval::Tensor::Bool($a) => $body,
        }
    };
}
