//! The one op vocabulary: which IR ops are linear layers, activations or data movers, and the graph
//! walks every rule, `analysis` and `eval::head` share. An op class is listed here once; nowhere else
//! names op types by family.

use std::collections::HashSet;

use crate::ir::{Graph, Op, OpId, ValueId};

/// The domain of onnxruntime's contrib ops (fused and quantized forms).
pub const MICROSOFT: &str = "com.microsoft";

/// Final activations a head can end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Act {
    Softmax,
    LogSoftmax,
    Hardmax,
    Sigmoid,
    HardSigmoid,
    Tanh,
    Relu,
    LeakyRelu,
    ThresholdedRelu,
    Elu,
    Selu,
    Softplus,
}

impl Act {
    /// The ONNX op type, as messages and `inspect` name it.
    pub fn name(self) -> &'static str {
        match self {
            Act::Softmax => "Softmax",
            Act::LogSoftmax => "LogSoftmax",
            Act::Hardmax => "Hardmax",
            Act::Sigmoid => "Sigmoid",
            Act::HardSigmoid => "HardSigmoid",
            Act::Tanh => "Tanh",
            Act::Relu => "Relu",
            Act::LeakyRelu => "LeakyRelu",
            Act::ThresholdedRelu => "ThresholdedRelu",
            Act::Elu => "Elu",
            Act::Selu => "Selu",
            Act::Softplus => "Softplus",
        }
    }

    fn from_name(name: &str) -> Option<Act> {
        Some(match name {
            "Softmax" => Act::Softmax,
            "LogSoftmax" => Act::LogSoftmax,
            "Hardmax" => Act::Hardmax,
            "Sigmoid" => Act::Sigmoid,
            "HardSigmoid" => Act::HardSigmoid,
            "Tanh" => Act::Tanh,
            "Relu" => Act::Relu,
            "LeakyRelu" => Act::LeakyRelu,
            "ThresholdedRelu" => Act::ThresholdedRelu,
            "Elu" => Act::Elu,
            "Selu" => Act::Selu,
            "Softplus" => Act::Softplus,
            _ => return None,
        })
    }

    /// Normalises over an axis (its group size is what matters).
    pub fn is_softmax_like(self) -> bool {
        matches!(self, Act::Softmax | Act::LogSoftmax | Act::Hardmax)
    }

    /// Produces probabilities: a distribution (softmax) or independent values in [0, 1] (sigmoid).
    pub fn is_normaliser(self) -> bool {
        matches!(self, Act::Softmax | Act::Sigmoid)
    }

    /// Squashes each unit on its own into a bounded range.
    pub fn is_independent_squash(self) -> bool {
        matches!(self, Act::Sigmoid | Act::HardSigmoid | Act::Tanh)
    }

    /// Non-negative and unbounded above: not a probability.
    pub fn is_unbounded_non_negative(self) -> bool {
        matches!(self, Act::Relu | Act::Softplus | Act::ThresholdedRelu)
    }
}

/// The activation `op` computes as its last step: a standalone activation op of the default domain, or
/// the `activation` attribute of an onnxruntime fused op (`FusedGemm`, `FusedConv`, `FusedMatMul`…).
pub fn activation(op: &Op) -> Option<Act> {
    if op.is_default_domain() {
        return Act::from_name(&op.op_type);
    }
    if op.domain == MICROSOFT && op.op_type.starts_with("Fused") {
        return op.attr_str("activation").and_then(Act::from_name);
    }
    None
}

/// A layer that mixes features with weights (its output's last axis, or axis 1 for convolutions, is the
/// class axis): `MatMul`, `Gemm`, `Conv`, `ConvTranspose` and their integer, quantized and fused forms.
pub fn is_linear(op: &Op) -> bool {
    linear_class_axis(op).is_some()
}

/// Where a linear layer puts its output features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureAxis {
    /// `MatMul`/`Gemm` forms: the last axis.
    Last,
    /// Convolutions: axis 1 (channels first).
    Channels,
}

pub fn linear_class_axis(op: &Op) -> Option<FeatureAxis> {
    let t = op.op_type.as_str();
    let default = op.is_default_domain();
    let contrib = op.domain == MICROSOFT;
    match t {
        "MatMul" | "Gemm" | "MatMulInteger" | "QLinearMatMul" if default => Some(FeatureAxis::Last),
        "Conv" | "ConvTranspose" | "ConvInteger" | "QLinearConv" if default => {
            Some(FeatureAxis::Channels)
        }
        "FusedMatMul"
        | "FusedGemm"
        | "MatMulIntegerToFloat"
        | "DynamicQuantizeMatMul"
        | "MatMulNBits"
        | "QGemm"
        | "GemmFastGelu"
        | "MatMulBnb4"
            if contrib =>
        {
            Some(FeatureAxis::Last)
        }
        "FusedConv" | "NhwcConv" | "QLinearConv" | "ConvTransposeWithDynamicPads" if contrib => {
            Some(FeatureAxis::Channels)
        }
        _ => None,
    }
}

/// A fully connected layer in float arithmetic: a default-domain `MatMul` or `Gemm`, data in input 0,
/// weight in input 1 (and for `Gemm` an optional bias in input 2). Excludes convolutions, the quantized
/// and integer forms and onnxruntime's fused ops (which may carry an activation).
pub fn is_dense(op: &Op) -> bool {
    op.is_default_domain() && matches!(op.op_type.as_str(), "MatMul" | "Gemm")
}

/// Ops whose output is an affine function of their data input: a head that ends in one is linear.
pub fn is_affine(op: &Op) -> bool {
    if op.is_default_domain() && matches!(op.op_type.as_str(), "Add" | "BatchNormalization") {
        return true;
    }
    is_linear(op) && activation(op).is_none() && op.op_type != "GemmFastGelu"
}

/// Ops that move, reshape, retype or (de)quantize values without changing what they mean. Their data
/// input is input 0.
pub fn is_data_mover(op: &Op) -> bool {
    op.is_default_domain()
        && matches!(
            op.op_type.as_str(),
            "Identity"
                | "Dropout"
                | "Transpose"
                | "Reshape"
                | "Flatten"
                | "Squeeze"
                | "Unsqueeze"
                | "Cast"
                | "QuantizeLinear"
                | "DequantizeLinear"
        )
}

/// Ops that keep every axis where it is (elementwise, normalisation, spatial pooling): a class axis
/// passes through them unchanged.
pub fn is_axis_preserving(op: &Op) -> bool {
    if activation(op).is_some_and(|a| !a.is_softmax_like()) {
        return true;
    }
    op.is_default_domain()
        && matches!(
            op.op_type.as_str(),
            "Identity"
                | "Dropout"
                | "Cast"
                | "QuantizeLinear"
                | "DequantizeLinear"
                | "BatchNormalization"
                | "Clip"
                | "Abs"
                | "Neg"
                | "Exp"
                | "Mul"
                | "Div"
                | "Sub"
                | "Add"
                | "MaxPool"
                | "AveragePool"
                | "GlobalAveragePool"
                | "GlobalMaxPool"
                | "Resize"
                | "Upsample"
        )
}

/// The default-domain ops of one of these types, in graph order.
pub fn of_type<'g>(
    graph: &'g Graph,
    types: &'static [&'static str],
) -> impl Iterator<Item = (OpId, &'g Op)> + 'g {
    graph
        .op_ids()
        .map(|id| (id, graph.op(id)))
        .filter(|(_, op)| op.is_default_domain() && types.contains(&op.op_type.as_str()))
}

/// The op producing `value`, with its id.
pub fn producer(graph: &Graph, value: ValueId) -> Option<(OpId, &Op)> {
    let id = graph.value(value).producer?;
    Some((id, graph.op(id)))
}

/// How far back [`walk_back`] goes: deeper chains of data movers are not heads.
const WALK_LIMIT: usize = 32;

/// Where a walk back through data movers stopped.
pub struct Walk {
    /// The first value (from the start) that no data mover produced.
    pub value: ValueId,
    /// The data movers passed, from the start backwards.
    pub movers: Vec<OpId>,
}

/// Walks back from `value` through data movers (their input 0).
pub fn walk_back(graph: &Graph, value: ValueId) -> Walk {
    let mut walk = Walk {
        value,
        movers: vec![],
    };
    while walk.movers.len() < WALK_LIMIT {
        match producer(graph, walk.value) {
            Some((id, op)) if is_data_mover(op) => match op.input(0) {
                Some(input) => {
                    walk.movers.push(id);
                    walk.value = input;
                }
                None => break,
            },
            _ => break,
        }
    }
    walk
}

/// The op that really computes `value`, looking through data movers.
pub fn source_op(graph: &Graph, value: ValueId) -> Option<(OpId, &Op)> {
    producer(graph, walk_back(graph, value).value)
}

/// The activation reaching `value` through data movers only, if its kind is accepted.
pub fn activation_feeding(
    graph: &Graph,
    value: ValueId,
    accept: impl Fn(Act) -> bool,
) -> Option<(OpId, Act)> {
    let (id, op) = source_op(graph, value)?;
    activation(op).filter(|&a| accept(a)).map(|a| (id, a))
}

/// Values computable from constants alone (initializers, `Constant` outputs and deterministic ops over
/// them).
pub fn constant_values(graph: &Graph) -> HashSet<ValueId> {
    let mut known: HashSet<ValueId> = graph
        .values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.constant.is_some())
        .map(|(i, _)| ValueId(i as u32))
        .collect();
    for op in &graph.ops {
        let inputs_known = op.inputs.iter().flatten().all(|i| known.contains(i));
        let has_inputs = op.inputs.iter().flatten().next().is_some();
        let deterministic = op.is_default_domain()
            && !op.op_type.starts_with("Random")
            && op.op_type != "Multinomial";
        if inputs_known && deterministic && (has_inputs || op.op_type == "Constant") {
            known.extend(op.outputs.iter().copied());
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Attr, Op};

    fn op(domain: &str, op_type: &str) -> Op {
        Op {
            op_type: op_type.into(),
            domain: domain.into(),
            name: String::new(),
            inputs: vec![],
            outputs: vec![],
            attrs: Default::default(),
            origin: Default::default(),
        }
    }

    #[test]
    fn linear_layers_in_every_form() {
        for t in [
            "MatMul",
            "Gemm",
            "Conv",
            "ConvTranspose",
            "MatMulInteger",
            "QLinearConv",
        ] {
            assert!(is_linear(&op("", t)), "{t}");
        }
        for t in [
            "FusedGemm",
            "FusedMatMul",
            "FusedConv",
            "MatMulIntegerToFloat",
        ] {
            assert!(is_linear(&op(MICROSOFT, t)), "{t}");
            assert!(!is_linear(&op("", t)), "{t} outside com.microsoft");
        }
        assert!(!is_linear(&op("", "Add")));
        assert_eq!(
            linear_class_axis(&op("", "Conv")),
            Some(FeatureAxis::Channels)
        );
    }

    #[test]
    fn dense_layers_are_float_matmul_and_gemm_only() {
        assert!(is_dense(&op("", "MatMul")));
        assert!(is_dense(&op("ai.onnx", "Gemm")));
        for t in ["Conv", "MatMulInteger", "QLinearMatMul", "Add"] {
            assert!(!is_dense(&op("", t)), "{t}");
        }
        assert!(!is_dense(&op(MICROSOFT, "FusedGemm")));
        assert!(!is_dense(&op(MICROSOFT, "FusedMatMul")));
    }

    #[test]
    fn fused_activation_comes_from_the_attribute() {
        let mut fused = op(MICROSOFT, "FusedGemm");
        assert_eq!(activation(&fused), None);
        fused
            .attrs
            .insert("activation".into(), Attr::String("Relu".into()));
        assert_eq!(activation(&fused), Some(Act::Relu));
        assert!(!is_affine(&fused));
        assert_eq!(
            activation(&op("", "ThresholdedRelu")),
            Some(Act::ThresholdedRelu)
        );
        assert_eq!(activation(&op("custom", "Relu")), None);
    }
}
