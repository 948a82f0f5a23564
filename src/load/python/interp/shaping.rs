//! What the interpreter knows of the rank of a tensor it cannot compute: an opaque op's *shaping*.
//!
//! A call nnlint does not model (`x.mean(dim=1)`, `h[:, -1]`, `nn.GRU`, `q @ k`) gives an opaque
//! tensor. Its values are unknown, but its rank often is, and the head rules depend on it: a
//! `softmax(dim=1)` over a `Linear(h, 1)` is a one-unit softmax on a batch of vectors `(N, 1)` and
//! additive attention over time on a batch of sequences `(N, T, 1)`. So each opaque layer carries
//! how its output's shape follows from its inputs' (config keys of the `UnresolvedPythonLayer`,
//! written by [`Shaping::kwargs`] and read by the Keras lowering, `keras/layers/python.rs`), and the
//! lowering computes the shape once the input's is known.

use super::{KwValue, SValue, Value};
use crate::ir::Span;

/// How an opaque op's output shape follows from its inputs'.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Shaping {
    /// Nothing known.
    Unknown,
    /// The input's shape (`x.contiguous()`, `nn.TransformerEncoder`).
    Same,
    /// The input's rank, dims unknown (`x.transpose(1, 2)`).
    SameRank,
    /// This shape whatever the input (`nn.GRU`'s output: `[None, None, hidden]`).
    Fixed(Vec<Option<i64>>),
    /// The input's rank plus this, dims unknown (`torch.stack`: +1).
    Delta(i64),
    /// These axes removed (`x.mean(dim=1)`, `x.squeeze(-1)`); empty with `all`: every axis (`x.sum()`).
    Reduce(Vec<i64>),
    /// An axis of size 1 inserted (`x.unsqueeze(1)`).
    Insert(i64),
    /// `x[:, -1, :]`: one item per index position.
    Index(Vec<Item>),
    /// Elementwise of several tensors: broadcast (`a * b`).
    Broadcast,
    /// `a @ b`.
    MatMul,
}

/// One position of a tensor subscript.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Item {
    /// `:`: the axis kept whole.
    Full,
    /// `a:b`: the axis kept, its size unknown.
    Part,
    /// An integer: the axis removed.
    Int,
    /// `None`: a new axis of size 1.
    New,
    /// `...`: the axes not named.
    Rest,
}

impl Item {
    pub(super) fn code(self) -> &'static str {
        match self {
            Item::Full => ":",
            Item::Part => "a:b",
            Item::Int => "i",
            Item::New => "None",
            Item::Rest => "...",
        }
    }
}

impl Shaping {
    /// The config keys of the opaque layer that carry this shaping.
    pub(super) fn kwargs(&self, span: Span) -> Vec<KwValue> {
        let ints = |v: &[i64]| {
            Value::List(
                v.iter()
                    .map(|&i| SValue {
                        value: Value::Int(i),
                        span,
                    })
                    .collect(),
            )
        };
        let (key, value) = match self {
            Shaping::Unknown => return vec![],
            Shaping::Same => ("shaping", Value::Str("same".into())),
            Shaping::SameRank => ("shaping", Value::Str("same_rank".into())),
            Shaping::Broadcast => ("shaping", Value::Str("broadcast".into())),
            Shaping::MatMul => ("shaping", Value::Str("matmul".into())),
            Shaping::Fixed(dims) => (
                "out_shape",
                Value::List(
                    dims.iter()
                        .map(|d| SValue {
                            value: d.map_or(Value::None, Value::Int),
                            span,
                        })
                        .collect(),
                ),
            ),
            Shaping::Delta(d) => ("rank_delta", Value::Int(*d)),
            Shaping::Reduce(axes) => ("reduce", ints(axes)),
            Shaping::Insert(a) => ("insert", Value::Int(*a)),
            Shaping::Index(items) => (
                "index",
                Value::List(
                    items
                        .iter()
                        .map(|i| SValue {
                            value: Value::Str(i.code().into()),
                            span,
                        })
                        .collect(),
                ),
            ),
        };
        vec![KwValue {
            name: key.into(),
            span,
            value: SValue { value, span },
        }]
    }
}

/// Positional-or-keyword argument.
pub(super) fn arg<'a>(
    args: &'a [SValue],
    kwargs: &'a [KwValue],
    pos: usize,
    names: &[&str],
) -> Option<&'a Value> {
    kwargs
        .iter()
        .find(|k| names.contains(&k.name.as_str()))
        .map(|k| &k.value.value)
        .or_else(|| args.get(pos).map(|a| &a.value))
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

fn ints(v: Option<&Value>) -> Option<Vec<i64>> {
    match v? {
        Value::Int(i) => Some(vec![*i]),
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match i.value {
                Value::Int(i) => Some(i),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn truthy(v: Option<&Value>) -> Option<bool> {
    match v {
        None => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Int(i)) => Some(*i != 0),
        _ => None,
    }
}

/// The shaping of a call nnlint does not otherwise model, by the function's or method's last
/// name: `method` when it is a tensor method (`x.mean(1)`: the tensor is not among `args`), else
/// a function taking the tensor first (`torch.mean(x, 1)`, `tf.reduce_mean(x, axis=1)`).
pub(super) fn of_call(name: &str, method: bool, args: &[SValue], kwargs: &[KwValue]) -> Shaping {
    // Position of the first argument after the tensor.
    let p = usize::from(!method);
    match name {
        "contiguous"
        | "clone"
        | "float"
        | "double"
        | "half"
        | "bfloat16"
        | "int"
        | "long"
        | "bool"
        | "type"
        | "type_as"
        | "masked_fill"
        | "masked_fill_"
        | "fill_"
        | "zero_"
        | "dropout"
        | "dropout1d"
        | "dropout2d"
        | "alpha_dropout"
        | "normalize"
        | "layer_norm"
        | "batch_norm"
        | "group_norm"
        | "instance_norm"
        | "clamp"
        | "clip"
        | "clamp_"
        | "clip_by_value"
        | "abs"
        | "exp"
        | "sqrt"
        | "rsqrt"
        | "pow"
        | "square"
        | "neg"
        | "sign"
        | "cumsum"
        | "cumprod"
        | "tril"
        | "triu"
        | "flip"
        | "roll"
        | "relu_"
        | "stop_gradient"
        | "identity"
        | "l2_normalize"
        | "batch_normalization" => Shaping::Same,
        "transpose"
        | "permute"
        | "t"
        | "expand"
        | "expand_as"
        | "repeat"
        | "tile"
        | "pad"
        | "max_pool1d"
        | "max_pool2d"
        | "max_pool3d"
        | "avg_pool1d"
        | "avg_pool2d"
        | "avg_pool3d"
        | "adaptive_avg_pool1d"
        | "adaptive_avg_pool2d"
        | "adaptive_max_pool1d"
        | "adaptive_max_pool2d"
        | "interpolate"
        | "upsample"
        | "conv1d"
        | "conv2d"
        | "conv3d"
        | "max_pool"
        | "avg_pool"
        | "max_pool2d_with_argmax"
        | "narrow"
        | "cat"
        | "concat"
        | "where" => Shaping::SameRank,
        "mean" | "sum" | "prod" | "std" | "var" | "norm" | "logsumexp" | "amax" | "amin"
        | "argmax" | "argmin" | "nansum" | "nanmean" | "reduce_mean" | "reduce_sum"
        | "reduce_max" | "reduce_min" | "reduce_prod" | "reduce_logsumexp" => {
            let keep = truthy(arg(
                args,
                kwargs,
                p + 1,
                &["keepdim", "keepdims", "keep_dims"],
            ));
            let dims = arg(args, kwargs, p, &["dim", "axis", "reduction_indices"]);
            match (keep, dims) {
                (Some(false), None) => Shaping::Fixed(vec![]),
                (Some(false), d) => ints(d).map_or(Shaping::Unknown, Shaping::Reduce),
                (Some(true), _) => Shaping::SameRank,
                _ => Shaping::Unknown,
            }
        }
        "squeeze" => match int(arg(args, kwargs, p, &["dim", "axis"])) {
            Some(d) => Shaping::Reduce(vec![d]),
            None => Shaping::Unknown,
        },
        "unsqueeze" | "expand_dims" => match int(arg(args, kwargs, p, &["dim", "axis"])) {
            Some(d) => Shaping::Insert(d),
            None => Shaping::Unknown,
        },
        "stack" => Shaping::Delta(1),
        "matmul" | "bmm" | "mm" => Shaping::MatMul,
        // `x.view(b, t, -1)`, `tf.reshape(x, [-1, t, d])`: as many axes as sizes given.
        "view" | "reshape" => {
            let sizes: Vec<&Value> = match (method, args) {
                (true, [one]) | (false, [_, one]) => match &one.value {
                    Value::Tuple(items) | Value::List(items) => {
                        items.iter().map(|i| &i.value).collect()
                    }
                    v => vec![v],
                },
                (true, many) => many.iter().map(|a| &a.value).collect(),
                _ => return Shaping::Unknown,
            };
            // A tensor or a list among the sizes is a shape nnlint cannot count.
            let countable = sizes
                .iter()
                .all(|v| matches!(v, Value::Int(_) | Value::Unknown | Value::None));
            if countable && !sizes.is_empty() {
                Shaping::Fixed(
                    sizes
                        .iter()
                        .map(|v| match v {
                            Value::Int(i) if *i > 0 => Some(*i),
                            _ => None,
                        })
                        .collect(),
                )
            } else {
                Shaping::Unknown
            }
        }
        _ => Shaping::Unknown,
    }
}

/// Whether a reduction called `name` returns a `(values, indices)` pair when given a dim
/// (`x.max(dim=1)`, `torch.min(x, 1)`).
pub(super) fn returns_pair(name: &str, method: bool, args: &[SValue], kwargs: &[KwValue]) -> bool {
    let p = usize::from(!method);
    matches!(
        name,
        "max" | "min" | "median" | "mode" | "sort" | "topk" | "kthvalue"
    ) && int(arg(args, kwargs, p, &["dim"])).is_some()
}

/// The shaping of `max`/`min` with a dim: each part of the pair is the input reduced over it.
pub(super) fn pair_part(name: &str, method: bool, args: &[SValue], kwargs: &[KwValue]) -> Shaping {
    let p = usize::from(!method);
    let keep = truthy(arg(args, kwargs, p + 1, &["keepdim"]));
    match (name, int(arg(args, kwargs, p, &["dim"])), keep) {
        ("sort" | "topk", _, _) => Shaping::SameRank,
        (_, Some(d), Some(false)) => Shaping::Reduce(vec![d]),
        (_, Some(_), Some(true)) => Shaping::SameRank,
        _ => Shaping::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(value: Value) -> SValue {
        SValue {
            value,
            span: Span { offset: 0, len: 0 },
        }
    }

    fn kw(name: &str, value: Value) -> KwValue {
        KwValue {
            name: name.into(),
            span: Span { offset: 0, len: 0 },
            value: sv(value),
        }
    }

    #[test]
    fn reductions_remove_their_axes() {
        let one = [sv(Value::Int(1))];
        assert_eq!(of_call("mean", true, &one, &[]), Shaping::Reduce(vec![1]));
        assert_eq!(
            of_call("sum", true, &[], &[kw("dim", Value::Int(-1))]),
            Shaping::Reduce(vec![-1])
        );
        assert_eq!(
            of_call("mean", true, &one, &[kw("keepdim", Value::Bool(true))]),
            Shaping::SameRank
        );
        assert_eq!(of_call("sum", true, &[], &[]), Shaping::Fixed(vec![]));
        // `tf.reduce_mean(x, axis=1)`: the tensor is the first argument.
        assert_eq!(
            of_call(
                "reduce_mean",
                false,
                &[sv(Value::Unknown)],
                &[kw("axis", Value::Int(1))]
            ),
            Shaping::Reduce(vec![1])
        );
        // A keepdim nnlint cannot read: unknown.
        assert_eq!(
            of_call("mean", true, &one, &[kw("keepdim", Value::Unknown)]),
            Shaping::Unknown
        );
    }

    #[test]
    fn views_count_their_sizes() {
        let sizes = [sv(Value::Unknown), sv(Value::Int(20)), sv(Value::Int(-1))];
        assert_eq!(
            of_call("view", true, &sizes, &[]),
            Shaping::Fixed(vec![None, Some(20), None])
        );
        assert_eq!(
            of_call(
                "reshape",
                false,
                &[sv(Value::Unknown), sv(Value::Tensor(0))],
                &[]
            ),
            Shaping::Unknown
        );
    }

    #[test]
    fn max_with_a_dim_is_a_pair() {
        let one = [sv(Value::Int(1))];
        assert!(returns_pair("max", true, &one, &[]));
        assert!(!returns_pair("max", true, &[], &[]));
        assert_eq!(pair_part("max", true, &one, &[]), Shaping::Reduce(vec![1]));
    }
}
