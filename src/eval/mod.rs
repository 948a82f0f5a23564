//! The reference evaluator: ONNX semantics in ndarray, one small function per op family.
//!
//! [`head`] cuts out the part of a graph a numerical check needs, [`probes`] draws seeded inputs for it
//! and [`run`] evaluates it. Every op checks ranks, dims and dtypes before computing and returns an
//! [`EvalError`] instead of panicking; every allocation whose size an input decides is checked against
//! [`Limits`] first.

#[macro_use]
mod macros;
mod constant;
mod graph;
mod ops;
pub(crate) mod precision;
pub(crate) mod tensor;

pub use constant::constant;
pub(crate) use constant::decode;
pub use graph::{
    Evaluated, Head, MIN_PROBE_ROWS, PROBE_VALUE_BUDGET, head, head_from, probe_rows, probes,
    probes_with_limits, probes_with_spatial, run, run_typed,
};
pub use ops::eval_op;
pub use tensor::Tensor;

/// Caps on what the evaluator may allocate and how long one run may take. Configurable in the
/// `[limits]` section of the config file; a check that hits one is reported as unconfirmed, naming
/// the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Elements in any one tensor (default 2^24: 64 MiB of float32).
    pub max_elements: u64,
    /// Elements in all tensors one [`run`] keeps alive (default 2^26).
    pub max_total_elements: u64,
    /// Wall time of one [`run`], checked between ops (each op is bounded by its work budget).
    pub max_time: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_elements: 1 << 24,
            max_total_elements: 1 << 26,
            max_time: std::time::Duration::from_secs(2),
        }
    }
}

impl Limits {
    /// Element count of `shape`, refused when it overflows or exceeds `max_elements`.
    pub fn check(&self, shape: &[usize], what: &str) -> Result<usize, EvalError> {
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n as u64 <= self.max_elements);
        count.ok_or_else(|| {
            EvalError::Limit(format!(
                "{what} would have shape {} (more than the limit of {} elements)",
                show_shape(shape),
                self.max_elements
            ))
        })
    }

    /// Refuses an op whose multiply-adds (or window visits) exceed 256 per allowed element, so a
    /// crafted kernel or product size cannot stall the linter.
    pub(crate) fn check_work(&self, work: f64, what: &str) -> Result<(), EvalError> {
        let budget = self.max_elements as f64 * 256.0;
        if work > budget {
            return Err(EvalError::Limit(format!(
                "{what} needs about {work:.3e} operations, more than the budget of {budget:.3e}"
            )));
        }
        Ok(())
    }

    /// Element count of dims as a file declares them (possibly negative or huge), checked before allocating.
    pub fn check_dims(&self, dims: &[i64], what: &str) -> Result<usize, EvalError> {
        let count = dims.iter().try_fold(1u64, |acc, &d| {
            u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        });
        match count {
            None => Err(EvalError::Limit(format!(
                "{what} declares dims {dims:?}, which do not describe a valid element count"
            ))),
            Some(n) if n > self.max_elements => Err(EvalError::Limit(format!(
                "{what} declares dims {dims:?} ({n} elements, more than the limit of {})",
                self.max_elements
            ))),
            Some(n) => usize::try_from(n).map_err(|_| {
                EvalError::Limit(format!(
                    "{what} has more elements than this machine can address"
                ))
            }),
        }
    }
}

/// Why a value could not be computed. Each message is one sentence naming the op or tensor.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("operator {op} is not supported by the evaluator")]
    Unsupported { op: String },
    /// Ranks or dims that do not fit the op.
    #[error("{0}")]
    Shape(String),
    /// An element type the op does not accept.
    #[error("{0}")]
    DType(String),
    /// A missing or invalid attribute, or a missing required input.
    #[error("{0}")]
    Attr(String),
    /// A tensor bigger than [`Limits`] allows.
    #[error("{0}")]
    Limit(String),
    /// Tensor contents that cannot be decoded or used (short raw data, an index out of range).
    #[error("{0}")]
    Data(String),
}

impl EvalError {
    pub(crate) fn dtype(what: &str, t: &Tensor, expected: &str) -> EvalError {
        EvalError::DType(format!(
            "{what} has type {}, expected {expected}",
            t.dtype_name()
        ))
    }

    /// Prefixes the message with the op that failed (`Gemm node 'fc': ...`).
    pub(crate) fn in_op(self, op: &crate::ir::Op) -> EvalError {
        let at = if op.name.is_empty() {
            format!("{} node", op.op_type)
        } else {
            format!("{} node '{}'", op.op_type, op.name)
        };
        match self {
            EvalError::Unsupported { op } => EvalError::Unsupported { op },
            EvalError::Shape(m) => EvalError::Shape(format!("{at}: {m}")),
            EvalError::DType(m) => EvalError::DType(format!("{at}: {m}")),
            EvalError::Attr(m) => EvalError::Attr(format!("{at}: {m}")),
            EvalError::Limit(m) => EvalError::Limit(format!("{at}: {m}")),
            EvalError::Data(m) => EvalError::Data(format!("{at}: {m}")),
        }
    }
}

pub(crate) fn show_shape(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod golden_tests;
