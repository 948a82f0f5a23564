//! Op dispatch and the helpers every op family shares.

mod contrib;
mod conv;
mod elementwise;
mod layout;
mod linalg;
mod norm;
mod pool;
mod reduce;
mod resize;
mod shape_ops;
#[cfg(test)]
mod test_util;

use super::{EvalError, Limits, Tensor};
use crate::ir::Op;

/// Evaluates one op with ONNX semantics at `opset`. `inputs` lines up with `op.inputs` (`None` for an
/// omitted optional input). Returns the outputs in order; optional outputs nobody asked for (fewer
/// entries in `op.outputs`) may be left out.
pub fn eval_op(
    op: &Op,
    inputs: &[Option<&Tensor>],
    opset: i64,
    limits: &Limits,
) -> Result<Vec<Tensor>, EvalError> {
    let cx = Ctx {
        op,
        inputs,
        opset,
        limits,
    };
    if !op.is_default_domain() {
        let f: fn(&Ctx) -> Result<Vec<Tensor>, EvalError> =
            match (op.domain.as_str(), op.op_type.as_str()) {
                ("com.microsoft", "FusedGemm") => contrib::fused_gemm,
                ("com.microsoft", "FusedConv") => contrib::fused_conv,
                ("com.microsoft", "FusedMatMul") => contrib::fused_matmul,
                ("com.microsoft", "BiasGelu" | "FastGelu" | "Gelu") => contrib::gelu_family,
                ("com.microsoft", "QuickGelu") => contrib::quick_gelu,
                _ => {
                    return Err(EvalError::Unsupported {
                        op: format!("{}.{}", op.domain, op.op_type),
                    });
                }
            };
        return f(&cx).map_err(|e| e.in_op(op));
    }
    let f: fn(&Ctx) -> Result<Vec<Tensor>, EvalError> = match op.op_type.as_str() {
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Mod" => elementwise::arith,
        "Equal" | "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" => elementwise::compare,
        "And" | "Or" | "Xor" | "Not" => elementwise::logical,
        "Relu" | "Sigmoid" | "Tanh" | "Log" | "Exp" | "Sqrt" | "Neg" | "Abs" | "LeakyRelu"
        | "Elu" | "Selu" | "Celu" | "HardSigmoid" | "HardSwish" | "Softplus" | "Softsign"
        | "Erf" | "Gelu" | "Reciprocal" | "Floor" | "Ceil" | "Round" | "Sign" | "Sin" | "Cos"
        | "Mish" | "ThresholdedRelu" | "Swish" | "Shrink" | "Tan" | "Sinh" | "Cosh" | "Asin"
        | "Acos" | "Atan" | "Asinh" | "Acosh" | "Atanh" => elementwise::unary,
        "IsNaN" | "IsInf" => elementwise::is_special,
        "PRelu" => elementwise::prelu,
        "Clip" => elementwise::clip,
        "Where" => elementwise::where_op,
        "Sum" | "Max" | "Min" | "Mean" => elementwise::variadic,
        "MatMul" => linalg::matmul,
        "Gemm" => linalg::gemm,
        "Conv" => conv::conv,
        "ConvTranspose" => conv::conv_transpose,
        "MaxPool" | "AveragePool" | "LpPool" => pool::pool,
        "GlobalAveragePool" | "GlobalMaxPool" => pool::global_pool,
        "Softmax" | "LogSoftmax" | "Hardmax" => norm::softmax,
        "BatchNormalization" => norm::batch_norm,
        "InstanceNormalization" => norm::instance_norm,
        "LayerNormalization" => norm::layer_norm,
        "LRN" => norm::lrn,
        "RMSNormalization" => norm::rms_norm,
        "LpNormalization" => norm::lp_norm,
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd"
        | "ReduceSumSquare" | "ReduceL1" | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" => {
            reduce::reduce
        }
        "ArgMax" | "ArgMin" => reduce::arg_reduce,
        "TopK" => reduce::top_k,
        "CumSum" => reduce::cum_sum,
        "Identity" => shape_ops::identity,
        "Dropout" => shape_ops::dropout,
        "Constant" => shape_ops::constant,
        "ConstantOfShape" => shape_ops::constant_of_shape,
        "Shape" => shape_ops::shape,
        "Size" => shape_ops::size,
        "Reshape" => shape_ops::reshape,
        "Flatten" => shape_ops::flatten,
        "Transpose" => shape_ops::transpose,
        "Squeeze" => shape_ops::squeeze,
        "Unsqueeze" => shape_ops::unsqueeze,
        "Concat" => shape_ops::concat,
        "Split" => shape_ops::split,
        "Slice" => shape_ops::slice,
        "Gather" => shape_ops::gather,
        "Cast" => shape_ops::cast,
        "CastLike" => shape_ops::cast_like,
        "Expand" => shape_ops::expand,
        "Range" => shape_ops::range,
        "Resize" | "Upsample" => resize::resize,
        "Pad" => layout::pad,
        "Tile" => layout::tile,
        "DepthToSpace" | "SpaceToDepth" => layout::depth_space,
        "Trilu" => layout::trilu,
        "EyeLike" => layout::eye_like,
        "GatherElements" => layout::gather_elements,
        "OneHot" => layout::one_hot,
        "DequantizeLinear" => contrib::dequantize_linear,
        "QuantizeLinear" => contrib::quantize_linear,
        "DynamicQuantizeLinear" => contrib::dynamic_quantize_linear,
        "MatMulInteger" => contrib::matmul_integer,
        "ConvInteger" => contrib::conv_integer,
        "QLinearMatMul" => contrib::qlinear_matmul,
        "QLinearConv" => contrib::qlinear_conv,
        _ => {
            return Err(EvalError::Unsupported {
                op: op.op_type.clone(),
            });
        }
    };
    f(&cx).map_err(|e| e.in_op(op))
}

/// One op application: the op, its inputs, the opset and the limits.
pub(crate) struct Ctx<'a> {
    pub op: &'a Op,
    pub inputs: &'a [Option<&'a Tensor>],
    pub opset: i64,
    pub limits: &'a Limits,
}

impl<'a> Ctx<'a> {
    pub fn kind(&self) -> &'a str {
        self.op.op_type.as_str()
    }

    /// A required input; `name` is the ONNX input name, used in the error.
    pub fn input(&self, i: usize, name: &str) -> Result<&'a Tensor, EvalError> {
        self.opt(i)
            .ok_or_else(|| EvalError::Attr(format!("required input {i} ({name}) is missing")))
    }

    pub fn opt(&self, i: usize) -> Option<&'a Tensor> {
        self.inputs.get(i).copied().flatten()
    }

    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.op.attr_int(name).unwrap_or(default)
    }

    pub fn float(&self, name: &str, default: f32) -> f64 {
        f64::from(self.op.attr_float(name).unwrap_or(default))
    }

    pub fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.op.attr_ints(name)
    }

    pub fn string(&self, name: &str, default: &'a str) -> &'a str {
        self.op.attr_str(name).unwrap_or(default)
    }

    /// Number of outputs the graph asks for.
    pub fn wanted(&self) -> usize {
        self.op.outputs.len()
    }
}

/// Integer values of a 0-D or 1-D int64 tensor (shapes, axes, indices).
pub(crate) fn int_values(t: &Tensor, what: &str) -> Result<Vec<i64>, EvalError> {
    let a = t
        .as_i64()
        .ok_or_else(|| EvalError::dtype(what, t, "int64"))?;
    if a.ndim() > 1 {
        return Err(EvalError::Shape(format!(
            "{what} must be 0-D or 1-D, but has shape {}",
            super::show_shape(a.shape())
        )));
    }
    Ok(a.iter().copied().collect())
}

/// `axis` counted from the end when negative; must land in `0..rank`.
pub(crate) fn norm_axis(axis: i64, rank: usize, what: &str) -> Result<usize, EvalError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(EvalError::Attr(format!(
            "{what} {axis} is out of range for rank {rank}"
        )))
    }
}

/// Normalises a list of axes, refusing duplicates.
pub(crate) fn norm_axes(axes: &[i64], rank: usize, what: &str) -> Result<Vec<usize>, EvalError> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let n = norm_axis(a, rank, what)?;
        if out.contains(&n) {
            return Err(EvalError::Attr(format!("{what} lists axis {a} twice")));
        }
        out.push(n);
    }
    Ok(out)
}

/// Numpy broadcasting of two shapes.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, EvalError> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        let pad = rank - s.len();
        if i < pad {
            1
        } else {
            s.get(i - pad).copied().unwrap_or(1)
        }
    };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(EvalError::Shape(format!(
                "shapes {} and {} do not broadcast together",
                super::show_shape(a),
                super::show_shape(b)
            ))),
        })
        .collect()
}

/// Product of dims, saturating (used only after a limit check or for sizes already allocated).
pub(crate) fn prod(dims: &[usize]) -> usize {
    dims.iter().fold(1usize, |a, &d| a.saturating_mul(d))
}
