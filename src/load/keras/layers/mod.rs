//! What each Keras layer becomes in ONNX vocabulary (opset 13 semantics; channels-last layers are
//! wrapped in Transposes around the channels-first ONNX op). Layers without an ONNX equivalent become
//! ops in the `keras` domain named by class, with the output shape Keras would give when it is known.

mod activations;
mod convolution;
mod merging;
mod movement;
mod norms;
mod python;
mod recurrent;

use self::{
    activations::*, convolution::*, merging::*, movement::*, norms::*, python::*, recurrent::*,
};
use super::lower::{
    Cx, Layer, LowerError, Result, fail, ints_attr, keras_shape, lower_model, sharpen_inputs,
    str_attr,
};
use super::tree::{Kind, Node};
use crate::ir::{Attr, DType, Dim, Shape, ValueId};
use crate::shape::norm_axis;

/// Lowers one call of a layer on `inputs` and names its outputs after the layer.
pub fn lower_layer(
    cx: &mut Cx,
    l: &Layer,
    inputs: &[ValueId],
    call: usize,
) -> Result<Vec<ValueId>> {
    sharpen_inputs(cx, l, inputs);
    if is_model(l) {
        let (outs, _) = lower_model(cx, l.node, &l.path, Some(inputs))?;
        return Ok(outs);
    }
    let outs = match op_layer(cx, l, inputs, call)? {
        Some(outs) => outs,
        None => dispatch(cx, l, inputs)?,
    };
    for (t, &v) in outs.iter().enumerate() {
        if inputs.contains(&v) || cx.graph.value(v).producer.is_none() {
            continue;
        }
        let name = match (call, t) {
            (0, 0) => l.name.clone(),
            (0, t) => format!("{}:{t}", l.name),
            (c, 0) => format!("{}@{c}", l.name),
            (c, t) => format!("{}@{c}:{t}", l.name),
        };
        cx.rename(v, &name);
    }
    Ok(outs)
}

fn is_model(l: &Layer) -> bool {
    matches!(l.class, "Sequential" | "Functional" | "Model")
        || l.config.get("layers").and_then(Node::as_list).is_some()
}

fn one(l: &Layer, inputs: &[ValueId]) -> Result<ValueId> {
    match inputs {
        [x] => Ok(*x),
        _ => fail(
            format!("{} takes one input, got {}", l.what(), inputs.len()),
            Some(l.node.span),
        ),
    }
}

/// How a layer class lowers, by what it takes and gives.
#[derive(Clone, Copy)]
enum Lowering {
    /// One input, one output.
    One(fn(&mut Cx, &Layer, ValueId) -> Result<ValueId>),
    /// One input, one output, with the spatial rank the class names (`Conv1D` 1, `MaxPool3D` 3,
    /// otherwise 2).
    Spatial(fn(&mut Cx, &Layer, ValueId, usize) -> Result<ValueId>),
    /// One input, several outputs (recurrent layers return their states too).
    OneToMany(fn(&mut Cx, &Layer, ValueId) -> Result<Vec<ValueId>>),
    /// Every input, one output.
    Merge(fn(&mut Cx, &Layer, &[ValueId]) -> Result<ValueId>),
    /// Every input, any outputs.
    Many(fn(&mut Cx, &Layer, &[ValueId]) -> Result<Vec<ValueId>>),
}

use Lowering::{Many, Merge, One, OneToMany, Spatial};

/// Every layer class the lowering knows, with its lowering. A class not listed becomes an op in the
/// `keras` domain named by the class, with an unknown shape.
const LAYERS: &[(&[&str], Lowering)] = &[
    (&["Dense"], One(dense)),
    (&["Activation"], One(activation_of_config)),
    (
        &[
            "Softmax",
            "ReLU",
            "LeakyReLU",
            "ELU",
            "PReLU",
            "ThresholdedReLU",
        ],
        One(activation_layer),
    ),
    (
        &[
            "Dropout",
            "SpatialDropout1D",
            "SpatialDropout2D",
            "SpatialDropout3D",
            "GaussianNoise",
            "GaussianDropout",
            "AlphaDropout",
            "ActivityRegularization",
            "Masking",
            "Identity",
            "RandomFlip",
            "RandomRotation",
            "RandomZoom",
            "RandomTranslation",
            "RandomContrast",
            "RandomBrightness",
        ],
        One(identity),
    ),
    (&["Flatten"], One(flatten)),
    (&["Reshape"], One(reshape)),
    (&["Permute"], One(permute)),
    (
        &[
            "Conv1D",
            "Conv2D",
            "Conv3D",
            "Convolution1D",
            "Convolution2D",
            "Convolution3D",
        ],
        Spatial(|cx, l, x, n| conv(cx, l, x, n, ConvKind::Regular)),
    ),
    (
        &["DepthwiseConv1D", "DepthwiseConv2D"],
        Spatial(|cx, l, x, n| conv(cx, l, x, n, ConvKind::Depthwise)),
    ),
    (
        &[
            "SeparableConv1D",
            "SeparableConv2D",
            "SeparableConvolution1D",
            "SeparableConvolution2D",
        ],
        Spatial(|cx, l, x, n| conv(cx, l, x, n, ConvKind::Separable)),
    ),
    (
        &[
            "Conv1DTranspose",
            "Conv2DTranspose",
            "Conv3DTranspose",
            "Convolution1DTranspose",
            "Convolution2DTranspose",
            "Convolution3DTranspose",
        ],
        Spatial(|cx, l, x, n| conv(cx, l, x, n, ConvKind::Transpose)),
    ),
    (
        &[
            "MaxPooling1D",
            "MaxPooling2D",
            "MaxPooling3D",
            "MaxPool1D",
            "MaxPool2D",
            "MaxPool3D",
        ],
        Spatial(|cx, l, x, n| pool(cx, l, x, n, true)),
    ),
    (
        &[
            "AveragePooling1D",
            "AveragePooling2D",
            "AveragePooling3D",
            "AvgPool1D",
            "AvgPool2D",
            "AvgPool3D",
        ],
        Spatial(|cx, l, x, n| pool(cx, l, x, n, false)),
    ),
    (
        &[
            "GlobalAveragePooling1D",
            "GlobalAveragePooling2D",
            "GlobalAveragePooling3D",
            "GlobalAvgPool1D",
            "GlobalAvgPool2D",
            "GlobalAvgPool3D",
        ],
        Spatial(|cx, l, x, n| global_pool(cx, l, x, n, "ReduceMean")),
    ),
    (
        &[
            "GlobalMaxPooling1D",
            "GlobalMaxPooling2D",
            "GlobalMaxPooling3D",
            "GlobalMaxPool1D",
            "GlobalMaxPool2D",
            "GlobalMaxPool3D",
        ],
        Spatial(|cx, l, x, n| global_pool(cx, l, x, n, "ReduceMax")),
    ),
    (
        &["BatchNormalization", "SyncBatchNormalization"],
        One(batch_norm),
    ),
    (&["LayerNormalization"], One(layer_norm)),
    (
        &[
            "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
        ],
        Merge(merge),
    ),
    (&["Concatenate"], Merge(concatenate)),
    (&["Embedding"], One(embedding)),
    // What the Python front end writes for a call it does not model.
    (&["UnresolvedPythonLayer"], Many(python::unresolved)),
    (
        &["LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU"],
        OneToMany(recurrent),
    ),
    (&["Bidirectional"], Many(bidirectional_layer)),
    (&["TimeDistributed"], One(time_distributed)),
    (&["Rescaling"], One(rescaling)),
    (&["Normalization"], One(normalization)),
    (
        &["UpSampling1D", "UpSampling2D", "UpSampling3D"],
        Spatial(upsampling),
    ),
    (
        &["ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"],
        Spatial(zero_padding),
    ),
    (
        &["Cropping1D", "Cropping2D", "Cropping3D"],
        Spatial(cropping),
    ),
    (&["RepeatVector"], One(repeat_vector)),
    (&["MultiHeadAttention"], Many(multi_head_attention)),
    (&["Lambda"], Many(|cx, l, inputs| Ok(lambda(cx, l, inputs)))),
    // tf.keras 2 wraps TensorFlow functions called on Keras tensors (`tf.math.multiply`, ...).
    (&["TFOpLambda", "SlicingOpLambda"], Many(tf_op_lambda)),
    (&["InputLayer"], Many(|_, _, inputs| Ok(inputs.to_vec()))),
];

fn lowering(class: &str) -> Option<Lowering> {
    LAYERS
        .iter()
        .find(|(classes, _)| classes.contains(&class))
        .map(|&(_, lowering)| lowering)
}

/// The spatial rank a class names: `Conv1D`, `MaxPooling3D`, `Conv2DTranspose` (the digit before
/// the `D`), 2 when it names none.
fn spatial(class: &str) -> usize {
    if class.contains("1D") {
        1
    } else if class.contains("3D") {
        3
    } else {
        2
    }
}

fn dispatch(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
    let Some(lowering) = lowering(l.class) else {
        return Ok(cx.opaque(&l.origin, l.class, inputs, vec![], vec![None]));
    };
    match lowering {
        One(f) => {
            let x = one(l, inputs)?;
            Ok(vec![f(cx, l, x)?])
        }
        Spatial(f) => {
            let x = one(l, inputs)?;
            Ok(vec![f(cx, l, x, spatial(l.class))?])
        }
        OneToMany(f) => {
            let x = one(l, inputs)?;
            f(cx, l, x)
        }
        Merge(f) => Ok(vec![f(cx, l, inputs)?]),
        Many(f) => f(cx, l, inputs),
    }
}

fn activation_of_config(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    activation(cx, l, x, l.config.get("activation"))
}

fn identity(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    Ok(cx.op(&l.origin, "Identity", &[x], vec![], s))
}

fn bidirectional_layer(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
    let x = inputs.first().copied().ok_or_else(|| no_input(l))?;
    bidirectional(cx, l, x, inputs)
}

fn repeat_vector(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let n = l.positive("n")?;
    let s = cx
        .shape(x)
        .filter(|s| s.len() == 2)
        .map(|s| vec![s[0].clone(), Dim::Fixed(n), s[1].clone()]);
    Ok(cx.opaque(&l.origin, l.class, &[x], vec![], vec![s])[0])
}

fn multi_head_attention(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
    let s = inputs.first().and_then(|&q| cx.shape(q));
    let s = match l.int("output_shape") {
        Ok(Some(d)) => s.map(|mut s| {
            if let Some(last) = s.last_mut() {
                *last = u64::try_from(d).map_or(Dim::Unknown, Dim::Fixed);
            }
            s
        }),
        Ok(None) => s,
        Err(_) => None,
    };
    Ok(cx.opaque(&l.origin, l.class, inputs, vec![], vec![s]))
}

/// A keyword argument of call `call` of a layer: Keras 3 keeps them in `inbound_nodes[call].kwargs`,
/// Keras 2 in the fourth element of each `inbound_nodes[call][i]` entry.
fn call_kwarg<'t>(l: &Layer<'t>, call: usize, key: &str) -> Option<&'t Node> {
    let node = l.node.get("inbound_nodes")?.as_list()?.get(call)?;
    if let Some(kwargs) = node.get("kwargs") {
        return kwargs.get_some(key);
    }
    node.as_list()?
        .iter()
        .filter_map(|entry| entry.as_list()?.get(3))
        .find_map(|kwargs| kwargs.get_some(key))
}

/// An integer argument of an op layer: its config (Keras 3 op layers record `axis` there), else the
/// call's keyword arguments. `Ok(None)` when absent; `Err(())` when present but not an integer (or a
/// one-element list of one), so the layer stays opaque rather than being read wrongly.
fn op_int(l: &Layer, call: usize, key: &str) -> std::result::Result<Option<i64>, ()> {
    let node = l.config.get_some(key).or_else(|| call_kwarg(l, call, key));
    let Some(node) = node else {
        return Ok(None);
    };
    if let Some(n) = node.as_i64() {
        return Ok(Some(n));
    }
    match node.as_list() {
        Some([one]) => one.as_i64().map(Some).ok_or(()),
        _ => Err(()),
    }
}

/// Axes of a reduction argument: `None` (all axes), one integer, or a list of integers.
fn op_axes(l: &Layer, call: usize, key: &str) -> std::result::Result<Option<Vec<i64>>, ()> {
    let node = l.config.get_some(key).or_else(|| call_kwarg(l, call, key));
    let Some(node) = node else {
        return Ok(None);
    };
    if let Some(n) = node.as_i64() {
        return Ok(Some(vec![n]));
    }
    match node.as_list() {
        Some(items) => items
            .iter()
            .map(Node::as_i64)
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or(()),
        None => Err(()),
    }
}

fn op_flag(l: &Layer, call: usize, key: &str) -> Option<bool> {
    l.config
        .get_some(key)
        .or_else(|| call_kwarg(l, call, key))
        .and_then(Node::as_bool)
}

/// Keras 3 op layers (`module` `keras.src.ops.*`, one per `keras.ops` call in a functional model) and
/// tf.keras `TFOpLambda` / `SlicingOpLambda` layers (`tf.math.log`, `tf.nn.softmax`, ...) lowered to
/// the ONNX op they compute. `None` for anything else (and for a call whose arguments are not all
/// understood), which the caller keeps as an opaque op.
fn op_layer(
    cx: &mut Cx,
    l: &Layer,
    inputs: &[ValueId],
    call: usize,
) -> Result<Option<Vec<ValueId>>> {
    let module = l.node.get("module").and_then(Node::as_str).unwrap_or("");
    let function: &str = if matches!(l.class, "TFOpLambda" | "SlicingOpLambda") {
        match l.string("function")? {
            Some(f) => f,
            None => return Ok(None),
        }
    } else if module.starts_with("keras.src.ops.") {
        l.class
    } else {
        return Ok(None);
    };
    let kind = match function {
        "Exp" | "math.exp" | "exp" => OpKind::Unary("Exp"),
        "Log" | "math.log" | "log" => OpKind::Unary("Log"),
        "Sigmoid" | "math.sigmoid" | "nn.sigmoid" | "sigmoid" => OpKind::Unary("Sigmoid"),
        "Tanh" | "math.tanh" | "nn.tanh" | "tanh" => OpKind::Unary("Tanh"),
        "Relu" | "nn.relu" => OpKind::Unary("Relu"),
        "Sqrt" | "math.sqrt" => OpKind::Unary("Sqrt"),
        "Absolute" | "Abs" | "math.abs" => OpKind::Unary("Abs"),
        "Negative" | "math.negative" => OpKind::Unary("Neg"),
        "Softplus" | "math.softplus" | "nn.softplus" => OpKind::Unary("Softplus"),
        "Softsign" | "math.softsign" | "nn.softsign" => OpKind::Unary("Softsign"),
        "Softmax" | "nn.softmax" | "math.softmax" => OpKind::Norm("Softmax"),
        "LogSoftmax" | "nn.log_softmax" | "math.log_softmax" => OpKind::Norm("LogSoftmax"),
        "Sum" | "math.reduce_sum" | "reduce_sum" => OpKind::Reduce("ReduceSum"),
        "Mean" | "math.reduce_mean" | "reduce_mean" => OpKind::Reduce("ReduceMean"),
        "Max" | "math.reduce_max" | "reduce_max" => OpKind::Reduce("ReduceMax"),
        "Min" | "math.reduce_min" | "reduce_min" => OpKind::Reduce("ReduceMin"),
        "Add" | "math.add" | "__operators__.add" => OpKind::Binary("Add"),
        "Subtract" | "math.subtract" | "__operators__.sub" => OpKind::Binary("Sub"),
        "Multiply" | "math.multiply" => OpKind::Binary("Mul"),
        "Divide" | "TrueDivide" | "math.truediv" | "__operators__.truediv" | "math.divide" => {
            OpKind::Binary("Div")
        }
        _ => return Ok(None),
    };
    // Keras 3 op layers share class names with real layers (`Softmax`, `Add`, ...): only their module
    // says which one a config means, and the real layers keep their own lowering.
    let o = &l.origin;
    Ok(match (kind, inputs) {
        (OpKind::Unary(op), &[x]) => {
            let s = cx.shape(x);
            Some(vec![cx.op(o, op, &[x], vec![], s)])
        }
        (OpKind::Norm(op), &[x]) => {
            let Ok(axis) = op_int(l, call, "axis") else {
                return Ok(None);
            };
            let s = cx.shape(x);
            let axis = axis.unwrap_or(-1);
            Some(vec![cx.op(o, op, &[x], vec![("axis", Attr::Int(axis))], s)])
        }
        (OpKind::Reduce(op), &[x]) => {
            let (Ok(axes), keep) = (op_axes(l, call, "axis"), op_flag(l, call, "keepdims")) else {
                return Ok(None);
            };
            let keep = keep.unwrap_or(false);
            let s = cx
                .shape(x)
                .and_then(|s| crate::shape::reduce(&s, axes.clone(), keep));
            let mut attrs = vec![("keepdims", Attr::Int(i64::from(keep)))];
            let mut op_inputs = vec![x];
            match (&axes, op) {
                (None, _) => {}
                // ReduceSum takes its axes as an input from opset 13, the others from 18.
                (Some(a), "ReduceSum") => {
                    op_inputs.push(cx.const_i64(&l.path, "axes", a.clone()));
                }
                (Some(a), _) => attrs.push(("axes", ints_attr(a))),
            }
            Some(vec![cx.op(o, op, &op_inputs, attrs, s)])
        }
        (OpKind::Binary(op), &[a, b]) => {
            let s = match (cx.shape(a), cx.shape(b)) {
                (Some(x), Some(y)) => crate::shape::broadcast(&x, &y),
                _ => None,
            };
            Some(vec![cx.op(o, op, &[a, b], vec![], s)])
        }
        _ => None,
    })
}

#[derive(Clone, Copy)]
enum OpKind {
    Unary(&'static str),
    Norm(&'static str),
    Reduce(&'static str),
    Binary(&'static str),
}

/// Largest size (units, filters, kernel, stride, ...) a config may give; keeps the arithmetic exact.
pub const MAX_SIZE: u64 = 1 << 31;

/// The product of dims, `None` when one is unknown or it overflows.
fn product(dims: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    dims.into_iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(d?))
}

fn no_input(l: &Layer) -> LowerError {
    LowerError {
        message: format!("{} is called without an input", l.what()),
        at: Some(l.node.span),
    }
}

fn dense(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    // Source code may give a width nnlint cannot compute (`Dense(len(chars))`): unknown.
    let unknown_units = cx.assume_widths
        && l.config
            .get("units")
            .is_some_and(|n| matches!(n.kind, Kind::Null));
    let units = if unknown_units {
        None
    } else {
        Some(l.positive("units")?)
    };
    let s = cx.shape(x);
    if s.as_ref().is_some_and(Vec::is_empty) {
        return fail(
            format!("{} cannot take a scalar input", l.what()),
            Some(l.node.span),
        );
    }
    let mut in_dim = s.as_ref().and_then(|s| s.last()).and_then(Dim::fixed);
    // Of an input of unknown rank only the last axis matters to a Dense: it is read as a batch of
    // vectors, and the graph records that its rank was assumed (an axis counted from the front
    // of what follows is then unknown: `Graph::rank_is_assumed`).
    let assume_rank = |cx: &mut Cx| {
        if s.is_none() {
            cx.graph.rank_assumed.push(x);
        }
        s.clone().or_else(|| Some(vec![Dim::Unknown, Dim::Unknown]))
    };
    // PyTorch source: `nn.Linear(in_features, out)` states the input's last dim, which a flatten of
    // unknown spatial size leaves unknown here.
    if let Some(k) = l.get("in_features").and_then(Node::as_i64)
        && let Ok(k) = u64::try_from(k)
        && (1..=MAX_SIZE).contains(&k)
        && in_dim.is_none()
        && let Some(mut shape) = assume_rank(cx)
        && let Some(last) = shape.last_mut()
    {
        *last = Dim::Fixed(k);
        cx.set_shape(x, Some(shape));
        in_dim = Some(k);
    }
    // Width not in the file (an input of unknown shape, an opaque layer before): the head is
    // probed at a representative width, and the evidence says so.
    if in_dim.is_none()
        && cx.assume_widths
        && let Some(mut shape) = assume_rank(cx)
        && let Some(last) = shape.last_mut()
    {
        *last = Dim::Fixed(crate::ir::REPRESENTATIVE_WIDTH);
        cx.set_shape(x, Some(shape));
        cx.assumed_widths.push(x);
        in_dim = Some(crate::ir::REPRESENTATIVE_WIDTH);
    }
    let s = cx.shape(x);
    let out = s.map(|mut s| {
        s.pop();
        s.push(units.map_or(Dim::Unknown, Dim::Fixed));
        s
    });
    let kernel = cx.weight(&l.path, "kernel", &[in_dim, units]);
    let mut y = cx.op(&l.origin, "MatMul", &[x, kernel], vec![], out.clone());
    if l.flag("use_bias", true)? {
        let bias = cx.weight(&l.path, "bias", &[units]);
        y = cx.op(&l.origin, "Add", &[y, bias], vec![], out);
    }
    activation(cx, l, y, l.config.get("activation"))
}

fn embedding(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let vocab = l.positive("input_dim")?;
    let width = l.positive("output_dim")?;
    let table = cx.weight(&l.path, "embeddings", &[Some(vocab), Some(width)]);
    let s = cx.shape(x).map(|mut s| {
        s.push(Dim::Fixed(width));
        s
    });
    let y = cx.op(
        &l.origin,
        "Gather",
        &[table, x],
        vec![("axis", Attr::Int(0))],
        s,
    );
    cx.graph.value_mut(y).dtype = Some(DType::F32);
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_one_row_and_the_spatial_rank_its_name_says() {
        let mut seen = std::collections::HashSet::new();
        for (classes, _) in LAYERS {
            for class in *classes {
                assert!(seen.insert(*class), "{class} has two rows");
            }
        }
        assert!(seen.len() > 90, "{}", seen.len());
        assert!(matches!(lowering("Dense"), Some(One(_))));
        assert!(lowering("MyCustomLayer").is_none());
        for (class, n) in [("Conv1D", 1), ("MaxPooling3D", 3), ("Conv2DTranspose", 2)] {
            assert!(matches!(lowering(class), Some(Spatial(_))), "{class}");
            assert_eq!(spatial(class), n, "{class}");
        }
    }
}
