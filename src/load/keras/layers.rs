//! What each Keras layer becomes in ONNX vocabulary (opset 13 semantics; channels-last layers are
//! wrapped in Transposes around the channels-first ONNX op). Layers without an ONNX equivalent become
//! ops in the `keras` domain named by class, with the output shape Keras would give when it is known.

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

fn tf_op_lambda(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
    let function = l.string("function")?.unwrap_or(l.class);
    let elementwise = matches!(
        function,
        "__operators__.add"
            | "math.add"
            | "math.multiply"
            | "math.subtract"
            | "__operators__.sub"
            | "math.truediv"
            | "__operators__.truediv"
            | "math.maximum"
            | "math.minimum"
            | "nn.relu"
            | "nn.relu6"
            | "math.sigmoid"
            | "nn.sigmoid"
            | "math.tanh"
            | "nn.silu"
            | "nn.swish"
    );
    let s = inputs
        .first()
        .filter(|_| elementwise)
        .and_then(|&x| cx.shape(x));
    Ok(cx.opaque(
        &l.origin,
        &format!("tf.{function}"),
        inputs,
        vec![],
        vec![s],
    ))
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
    // PyTorch source: `nn.Linear(in_features, out)` states the input's last dim, which a flatten of
    // unknown spatial size leaves unknown here.
    if let Some(k) = l.get("in_features").and_then(Node::as_i64)
        && let Ok(k) = u64::try_from(k)
        && (1..=MAX_SIZE).contains(&k)
        && in_dim.is_none()
        && let Some(mut shape) = s.clone()
        && let Some(last) = shape.last_mut()
    {
        *last = Dim::Fixed(k);
        cx.set_shape(x, Some(shape));
        in_dim = Some(k);
    }
    // Width not in the file (an input of unknown shape, an opaque layer before): the head is
    // probed at a representative width, and the evidence says so. Of an input of unknown rank
    // only the last axis matters to a Dense: it is probed as a batch of vectors.
    if in_dim.is_none()
        && cx.assume_widths
        && let Some(mut shape) = s.clone().or_else(|| Some(vec![Dim::Unknown, Dim::Unknown]))
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

/// The base64 marshalled bytecode a config carries for a Python lambda: a lambda activation
/// (`{"value": [code, ...]}`), a Keras 3 `__lambda__` function, or Keras 2's `[code, defaults, closure]`.
fn python_code(node: &Node) -> Option<&str> {
    if let Some(v) = node.get("value").and_then(Node::as_list) {
        return v.first().and_then(Node::as_str);
    }
    if node.get("class_name").and_then(Node::as_str) == Some("__lambda__") {
        return node
            .get("config")
            .and_then(|c| c.get("code"))
            .and_then(Node::as_str);
    }
    if let Some(code) = node.get("code").and_then(Node::as_str) {
        return Some(code);
    }
    node.as_list()
        .and_then(|v| v.first())
        .and_then(Node::as_str)
}

/// An op holding Python code nnlint will not decode or run (rule NNL009 reports it).
/// `field` is the config key that holds it (`function` of a Lambda, `activation` of any layer).
fn python_op(
    cx: &mut Cx,
    l: &Layer,
    inputs: &[ValueId],
    field: &str,
    code: Option<&str>,
    function: Option<String>,
    shape: Option<Shape>,
) -> ValueId {
    let mut attrs = vec![("part", str_attr(field)), ("kind", str_attr("Lambda"))];
    if let Some(code) = code {
        attrs.push(("code", str_attr(code)));
    }
    if let Some(f) = function {
        attrs.push(("function", str_attr(&f)));
    }
    cx.opaque_code(&l.origin, inputs, attrs, shape)
}

fn lambda(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Vec<ValueId> {
    let function = l.config.get("function");
    let code = function.and_then(python_code);
    let named = function.and_then(|f| match &f.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Map(_) => {
            let name = f.get("config").and_then(Node::as_str)?;
            let module = f.get("module").and_then(Node::as_str).unwrap_or("");
            Some(if module.is_empty() {
                name.to_string()
            } else {
                format!("{module}.{name}")
            })
        }
        _ => None,
    });
    let shape = l.get("output_shape").and_then(keras_shape).map(|mut s| {
        s.insert(0, Dim::Named("batch".into()));
        s
    });
    let named = if code.is_some() { None } else { named };
    vec![python_op(cx, l, inputs, "function", code, named, shape)]
}

/// Applies an activation given as a name, a serialized function, a layer object or a lambda.
pub fn activation(cx: &mut Cx, l: &Layer, x: ValueId, act: Option<&Node>) -> Result<ValueId> {
    let Some(act) = act else {
        return Ok(x);
    };
    match &act.kind {
        Kind::Null => Ok(x),
        Kind::Str(name) => Ok(named_activation(cx, l, x, name)),
        Kind::Map(_) => {
            if let Some(code) = python_code(act) {
                let s = cx.shape(x);
                return Ok(python_op(cx, l, &[x], "activation", Some(code), None, s));
            }
            let class = act.get("class_name").and_then(Node::as_str).unwrap_or("");
            let module = act.get("module").and_then(Node::as_str).unwrap_or("");
            if let Some(name) = act.get("config").and_then(Node::as_str) {
                // A serialized function: built-in (`keras.activations`) or registered by the user.
                return Ok(named_activation(cx, l, x, name));
            }
            if module.starts_with("keras.layers")
                || matches!(
                    class,
                    "Softmax"
                        | "ReLU"
                        | "LeakyReLU"
                        | "ELU"
                        | "PReLU"
                        | "ThresholdedReLU"
                        | "Activation"
                )
            {
                let inner = l.inner(act)?;
                if inner.class == "Activation" {
                    return activation(cx, &inner, x, inner.config.get("activation"));
                }
                return activation_layer(cx, &inner, x);
            }
            let s = cx.shape(x);
            let name = if class.is_empty() {
                "activation"
            } else {
                class
            };
            Ok(cx.opaque(&l.origin, name, &[x], vec![], vec![s])[0])
        }
        _ => fail(
            format!(
                "{}: `activation` must be a name or a serialized object, found {}",
                l.what(),
                act.type_name()
            ),
            Some(act.span),
        ),
    }
}

fn f(v: f64) -> Attr {
    Attr::Float(v as f32)
}

/// Keras's built-in activations by name; an unknown name stays an opaque elementwise op.
fn named_activation(cx: &mut Cx, l: &Layer, x: ValueId, name: &str) -> ValueId {
    let s = cx.shape(x);
    let o = &l.origin;
    let lower = name.to_ascii_lowercase();
    let unary =
        |cx: &mut Cx, op: &str, attrs: Vec<(&str, Attr)>| cx.op(o, op, &[x], attrs, s.clone());
    match lower.as_str() {
        "linear" => x,
        "relu" => unary(cx, "Relu", vec![]),
        "sigmoid" => unary(cx, "Sigmoid", vec![]),
        "tanh" => unary(cx, "Tanh", vec![]),
        "softmax" => unary(cx, "Softmax", vec![("axis", Attr::Int(-1))]),
        "log_softmax" => unary(cx, "LogSoftmax", vec![("axis", Attr::Int(-1))]),
        "elu" => unary(cx, "Elu", vec![("alpha", f(1.0))]),
        "selu" => unary(
            cx,
            "Selu",
            vec![
                ("alpha", f(1.673_263_242_354_377_3)),
                ("gamma", f(1.050_700_987_355_480_5)),
            ],
        ),
        "softplus" => unary(cx, "Softplus", vec![]),
        "softsign" => unary(cx, "Softsign", vec![]),
        "exponential" => unary(cx, "Exp", vec![]),
        "gelu" => unary(cx, "Gelu", vec![]),
        "mish" => unary(cx, "Mish", vec![]),
        "celu" => unary(cx, "Celu", vec![("alpha", f(1.0))]),
        "leaky_relu" => unary(cx, "LeakyRelu", vec![("alpha", f(0.2))]),
        "hard_sigmoid" => {
            let alpha = if cx.keras2 { 0.2 } else { 1.0 / 6.0 };
            unary(
                cx,
                "HardSigmoid",
                vec![("alpha", f(alpha)), ("beta", f(0.5))],
            )
        }
        "hard_silu" | "hard_swish" => unary(cx, "HardSwish", vec![]),
        "silu" | "swish" => {
            let sig = unary(cx, "Sigmoid", vec![]);
            cx.op(o, "Mul", &[x, sig], vec![], s)
        }
        "relu6" => clip(cx, l, x, 0.0, 6.0),
        "log_sigmoid" => {
            let neg = unary(cx, "Neg", vec![]);
            let sp = cx.op(o, "Softplus", &[neg], vec![], s.clone());
            cx.op(o, "Neg", &[sp], vec![], s)
        }
        _ => cx.opaque(o, name, &[x], vec![], vec![s])[0],
    }
}

fn clip(cx: &mut Cx, l: &Layer, x: ValueId, lo: f32, hi: f32) -> ValueId {
    let s = cx.shape(x);
    let min = cx.const_f32(&l.path, &format!("clip_min_{lo}"), vec![], vec![lo]);
    let max = cx.const_f32(&l.path, &format!("clip_max_{hi}"), vec![], vec![hi]);
    cx.op(&l.origin, "Clip", &[x, min, max], vec![], s)
}

/// Layers that are an activation: Softmax, ReLU, LeakyReLU, ELU, PReLU, ThresholdedReLU.
fn activation_layer(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let o = &l.origin;
    match l.class {
        "Softmax" => {
            let axis = match l.get("axis") {
                None => Some(-1),
                // PyTorch's implicit dim: 0 for ranks 0, 1 and 3, else 1; unknown rank, unknown.
                Some(n) if n.as_str() == Some(super::TORCH_IMPLICIT_DIM) => s
                    .as_ref()
                    .map(|s| if matches!(s.len(), 0 | 1 | 3) { 0 } else { 1 }),
                Some(n) => match (&n.kind, n.as_i64()) {
                    (_, Some(a)) => Some(a),
                    (Kind::List(items), _) if items.len() == 1 => items[0].as_i64(),
                    (Kind::List(_), _) => None,
                    _ => {
                        return fail(
                            format!(
                                "{}: `axis` must be an integer or a list of integers",
                                l.what()
                            ),
                            Some(n.span),
                        );
                    }
                },
            };
            Ok(match axis {
                Some(a) => cx.op(o, "Softmax", &[x], vec![("axis", Attr::Int(a))], s),
                None => cx.opaque(o, "Softmax", &[x], vec![], vec![s])[0],
            })
        }
        "ReLU" => {
            let max = l.float("max_value")?;
            let slope = l.float("negative_slope")?.unwrap_or(0.0);
            let threshold = l.float("threshold")?.unwrap_or(0.0);
            let plain = threshold == 0.0;
            Ok(match max {
                None if plain && slope == 0.0 => cx.op(o, "Relu", &[x], vec![], s),
                Some(m) if plain && slope == 0.0 => clip(cx, l, x, 0.0, m as f32),
                None if plain => cx.op(o, "LeakyRelu", &[x], vec![("alpha", f(slope))], s),
                _ => cx.opaque(o, "ReLU", &[x], vec![], vec![s])[0],
            })
        }
        "LeakyReLU" => {
            let alpha = match l.float("negative_slope")? {
                Some(a) => a,
                None => l.float("alpha")?.unwrap_or(0.3),
            };
            Ok(cx.op(o, "LeakyRelu", &[x], vec![("alpha", f(alpha))], s))
        }
        "ELU" => {
            let alpha = l.float("alpha")?.unwrap_or(1.0);
            Ok(cx.op(o, "Elu", &[x], vec![("alpha", f(alpha))], s))
        }
        "ThresholdedReLU" => {
            let theta = l.float("theta")?.unwrap_or(1.0);
            Ok(cx.op(o, "ThresholdedRelu", &[x], vec![("alpha", f(theta))], s))
        }
        "PReLU" => {
            let Some(shape) = s.clone().filter(|s| !s.is_empty()) else {
                return Ok(cx.opaque(o, "PReLU", &[x], vec![], vec![s])[0]);
            };
            let shared: Vec<usize> = match l.get("shared_axes") {
                None => vec![],
                Some(n) => match n.as_i64() {
                    Some(a) => vec![a.max(0) as usize],
                    None => n
                        .as_list()
                        .map(|v| {
                            v.iter()
                                .filter_map(Node::as_i64)
                                .map(|a| a.max(0) as usize)
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            };
            let dims: Vec<Option<u64>> = (1..shape.len())
                .map(|i| {
                    if shared.contains(&i) {
                        Some(1)
                    } else {
                        shape[i].fixed()
                    }
                })
                .collect();
            let slope = cx.weight(&l.path, "alpha", &dims);
            Ok(cx.op(o, "PRelu", &[x, slope], vec![], s))
        }
        _ => Ok(cx.opaque(o, l.class, &[x], vec![], vec![s])[0]),
    }
}

fn flatten(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = match cx.shape(x) {
        Some(s) if !s.is_empty() => {
            let rest = product(s[1..].iter().map(Dim::fixed));
            Some(vec![s[0].clone(), rest.map_or(Dim::Unknown, Dim::Fixed)])
        }
        Some(_) => None,
        // Whatever the input, a flatten gives [batch, features] (the next layer may say how many).
        None => Some(vec![Dim::Named("batch".into()), Dim::Unknown]),
    };
    Ok(cx.op(&l.origin, "Flatten", &[x], vec![("axis", Attr::Int(1))], s))
}

fn reshape(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let target = l.get("target_shape").ok_or_else(|| LowerError {
        message: format!("{} has no `target_shape`", l.what()),
        at: Some(l.node.span),
    })?;
    let dims: Vec<i64> = target
        .as_list()
        .and_then(|v| {
            v.iter()
                .map(|d| if d.is_null() { Some(-1) } else { d.as_i64() })
                .collect()
        })
        .ok_or_else(|| LowerError {
            message: format!("{}: `target_shape` must be a list of integers", l.what()),
            at: Some(target.span),
        })?;
    let in_shape = cx.shape(x);
    let batch = in_shape
        .as_ref()
        .and_then(|s| s.first().cloned())
        .unwrap_or(Dim::Unknown);
    let total: Option<u64> = in_shape
        .as_ref()
        .and_then(|s| s.get(1..).map(|r| product(r.iter().map(Dim::fixed))))
        .flatten();
    let known = product(dims.iter().filter(|&&d| d > 0).map(|&d| Some(d as u64))).unwrap_or(0);
    let mut out = vec![batch];
    for &d in &dims {
        out.push(match d {
            d if d >= 0 => Dim::Fixed(d as u64),
            _ => match total {
                Some(t) if known > 0 && t % known == 0 => Dim::Fixed(t / known),
                _ => Dim::Unknown,
            },
        });
    }
    let mut spec = vec![0];
    spec.extend(dims);
    let shape_const = cx.const_i64(&l.path, "shape", spec);
    Ok(cx.op(&l.origin, "Reshape", &[x, shape_const], vec![], Some(out)))
}

fn permute(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let dims = l
        .get("dims")
        .and_then(Node::as_list)
        .and_then(|v| v.iter().map(Node::as_i64).collect::<Option<Vec<i64>>>())
        .ok_or_else(|| LowerError {
            message: format!("{}: `dims` must be a list of integers", l.what()),
            at: Some(l.node.span),
        })?;
    let mut perm = vec![0];
    perm.extend(dims);
    let s = cx.shape(x).and_then(|s| permuted(&s, &perm));
    Ok(cx.op(
        &l.origin,
        "Transpose",
        &[x],
        vec![("perm", ints_attr(&perm))],
        s,
    ))
}

fn permuted(s: &Shape, perm: &[i64]) -> Option<Shape> {
    if perm.len() != s.len() {
        return None;
    }
    perm.iter()
        .map(|&p| usize::try_from(p).ok().and_then(|p| s.get(p).cloned()))
        .collect()
}

fn to_channels_first(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> ValueId {
    let mut perm = vec![0, n as i64 + 1];
    perm.extend(1..=n as i64);
    let s = cx.shape(x).and_then(|s| permuted(&s, &perm));
    cx.op(
        &l.origin,
        "Transpose",
        &[x],
        vec![("perm", ints_attr(&perm))],
        s,
    )
}

fn to_channels_last(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> ValueId {
    let mut perm = vec![0];
    perm.extend(2..=n as i64 + 1);
    perm.push(1);
    let s = cx.shape(x).and_then(|s| permuted(&s, &perm));
    cx.op(
        &l.origin,
        "Transpose",
        &[x],
        vec![("perm", ints_attr(&perm))],
        s,
    )
}

fn channels_last(l: &Layer) -> Result<bool> {
    Ok(l.string("data_format")?
        .is_none_or(|f| f != "channels_first"))
}

#[derive(Clone, Copy, PartialEq)]
enum ConvKind {
    Regular,
    Depthwise,
    Separable,
    Transpose,
}

fn positive_list(l: &Layer, key: &str, n: usize, default: Option<i64>) -> Result<Vec<u64>> {
    let v = match (l.ints(key, n)?, default) {
        (Some(v), _) => v,
        (None, Some(d)) => vec![d; n],
        (None, None) => {
            return fail(format!("{} has no `{key}`", l.what()), Some(l.node.span));
        }
    };
    v.into_iter()
        .map(|x| u64::try_from(x).ok().filter(|&x| x > 0 && x <= MAX_SIZE))
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| LowerError {
            message: format!(
                "{}: `{key}` must hold positive integers up to 2^31",
                l.what()
            ),
            at: l.get(key).map(|n| n.span),
        })
}

/// Keras's output length of a convolution or pooling window.
fn window_len(n: &Dim, k: u64, s: u64, d: u64, padding: &str) -> Dim {
    let Dim::Fixed(n) = n else {
        return Dim::Unknown;
    };
    let eff = d.saturating_mul(k - 1).saturating_add(1);
    match padding {
        "same" | "causal" => Dim::Fixed(n.div_ceil(s)),
        _ if *n >= eff => Dim::Fixed((n - eff) / s + 1),
        _ => Dim::Unknown,
    }
}

fn padding_attrs(
    l: &Layer,
    padding: &str,
    kernel: &[u64],
    dil: &[u64],
) -> Result<Vec<(&'static str, Attr)>> {
    Ok(match padding {
        "valid" => vec![],
        "same" => vec![("auto_pad", str_attr("SAME_UPPER"))],
        "causal" => {
            let mut pads: Vec<i64> = kernel
                .iter()
                .zip(dil)
                .map(|(&k, &d)| ((k - 1) * d) as i64)
                .collect();
            pads.extend(std::iter::repeat_n(0, kernel.len()));
            vec![("pads", ints_attr(&pads))]
        }
        other => {
            return fail(
                format!(
                    "{}: padding `{other}` is not one of valid, same, causal",
                    l.what()
                ),
                l.get("padding").map(|n| n.span),
            );
        }
    })
}

fn conv(cx: &mut Cx, l: &Layer, x: ValueId, n: usize, kind: ConvKind) -> Result<ValueId> {
    let last = channels_last(l)?;
    let s = cx.shape(x);
    if let Some(s) = &s
        && s.len() != n + 2
    {
        return fail(
            format!(
                "{} expects a rank-{} input, got shape {}",
                l.what(),
                n + 2,
                crate::ir::shape_to_string(Some(s))
            ),
            Some(l.node.span),
        );
    }
    let kernel = positive_list(l, "kernel_size", n, None)?;
    let strides = positive_list(l, "strides", n, Some(1))?;
    let dil = positive_list(l, "dilation_rate", n, Some(1))?;
    let padding = l.string("padding")?.unwrap_or("valid").to_ascii_lowercase();
    let groups = positive_one(l, "groups")?;
    let use_bias = l.flag("use_bias", true)?;
    let (batch, cin, spatial) = match &s {
        Some(s) if last => (s[0].clone(), s[n + 1].fixed(), s[1..=n].to_vec()),
        Some(s) => (s[0].clone(), s[1].fixed(), s[2..].to_vec()),
        None => (Dim::Unknown, None, vec![Dim::Unknown; n]),
    };
    let k64: Vec<i64> = kernel.iter().map(|&k| k as i64).collect();
    let transpose = kind == ConvKind::Transpose;
    let out_spatial: Vec<Dim> = (0..n)
        .map(|i| {
            if transpose {
                transpose_len(&spatial[i], kernel[i], strides[i], dil[i], &padding)
            } else {
                window_len(&spatial[i], kernel[i], strides[i], dil[i], &padding)
            }
        })
        .collect();
    let shape_first = |c: Option<u64>| -> Option<Shape> {
        let mut v = vec![batch.clone(), c.map_or(Dim::Unknown, Dim::Fixed)];
        v.extend(out_spatial.iter().cloned());
        Some(v)
    };
    let xc = if last {
        to_channels_first(cx, l, x, n)
    } else {
        x
    };
    let mut attrs = vec![
        ("kernel_shape", ints_attr(&k64)),
        (
            "strides",
            ints_attr(&strides.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
        (
            "dilations",
            ints_attr(&dil.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
    ];
    let o = &l.origin;
    let y = match kind {
        ConvKind::Regular => {
            let filters = l.positive("filters")?;
            attrs.extend(padding_attrs(l, &padding, &kernel, &dil)?);
            attrs.push(("group", Attr::Int(groups as i64)));
            let mut wd = vec![Some(filters), cin.map(|c| c / groups)];
            wd.extend(kernel.iter().map(|&k| Some(k)));
            let w = cx.weight(&l.path, "kernel", &wd);
            let mut ins = vec![xc, w];
            if use_bias {
                ins.push(cx.weight(&l.path, "bias", &[Some(filters)]));
            }
            cx.op(o, "Conv", &ins, attrs, shape_first(Some(filters)))
        }
        ConvKind::Depthwise | ConvKind::Separable => {
            let dm = positive_one(l, "depth_multiplier")?;
            let Some((c, cdm)) = cin.and_then(|c| Some((c, c.checked_mul(dm)?))) else {
                let shape = s.map(|_| vec![Dim::Unknown; n + 2]);
                return Ok(cx.opaque(o, l.class, &[x], vec![], vec![shape])[0]);
            };
            attrs.extend(padding_attrs(l, &padding, &kernel, &dil)?);
            attrs.push(("group", Attr::Int(c as i64)));
            let mut wd = vec![Some(cdm), Some(1)];
            wd.extend(kernel.iter().map(|&k| Some(k)));
            let w = cx.weight(&l.path, "depthwise_kernel", &wd);
            let mut ins = vec![xc, w];
            if kind == ConvKind::Depthwise && use_bias {
                ins.push(cx.weight(&l.path, "bias", &[Some(cdm)]));
            }
            let dw = cx.op(o, "Conv", &ins, attrs, shape_first(Some(cdm)));
            if kind == ConvKind::Depthwise {
                dw
            } else {
                let filters = l.positive("filters")?;
                let mut pd = vec![Some(filters), Some(cdm)];
                pd.extend(std::iter::repeat_n(Some(1), n));
                let pw = cx.weight(&l.path, "pointwise_kernel", &pd);
                let mut ins = vec![dw, pw];
                if use_bias {
                    ins.push(cx.weight(&l.path, "bias", &[Some(filters)]));
                }
                let ones = vec![1i64; n];
                cx.op(
                    o,
                    "Conv",
                    &ins,
                    vec![
                        ("kernel_shape", ints_attr(&ones)),
                        ("strides", ints_attr(&ones)),
                    ],
                    shape_first(Some(filters)),
                )
            }
        }
        ConvKind::Transpose => {
            let filters = l.positive("filters")?;
            let out_pad = l.ints("output_padding", n)?;
            match (&out_pad, padding.as_str()) {
                (None, "same") => attrs.push(("auto_pad", str_attr("SAME_UPPER"))),
                (None, "valid") => {
                    let extra: Vec<i64> = (0..n)
                        .map(|i| {
                            let eff = dil[i] * (kernel[i] - 1) + 1;
                            strides[i].saturating_sub(eff) as i64
                        })
                        .collect();
                    attrs.push(("output_padding", ints_attr(&extra)));
                }
                (Some(p), "same" | "valid") => {
                    let mut pads: Vec<i64> = (0..n)
                        .map(|i| {
                            let eff = dil[i] * (kernel[i] - 1) + 1;
                            if padding == "same" {
                                (eff / 2) as i64
                            } else {
                                0
                            }
                        })
                        .collect();
                    pads.extend(pads.clone());
                    attrs.push(("pads", ints_attr(&pads)));
                    attrs.push(("output_padding", ints_attr(p)));
                }
                _ => {
                    return fail(
                        format!(
                            "{}: padding `{padding}` is not one of valid, same",
                            l.what()
                        ),
                        l.get("padding").map(|n| n.span),
                    );
                }
            }
            attrs.push(("group", Attr::Int(groups as i64)));
            let mut wd = vec![cin, Some(filters / groups)];
            wd.extend(kernel.iter().map(|&k| Some(k)));
            let w = cx.weight(&l.path, "kernel", &wd);
            let mut ins = vec![xc, w];
            if use_bias {
                ins.push(cx.weight(&l.path, "bias", &[Some(filters)]));
            }
            let mut shape = shape_first(Some(filters));
            if let (Some(p), Some(sh)) = (&out_pad, shape.as_mut()) {
                for i in 0..n {
                    sh[i + 2] = match &spatial[i] {
                        Dim::Fixed(len) => {
                            let eff = dil[i] * (kernel[i] - 1) + 1;
                            let pad = if padding == "same" { eff / 2 } else { 0 };
                            len.saturating_sub(1)
                                .checked_mul(strides[i])
                                .and_then(|v| v.checked_add(eff))
                                .and_then(|v| v.checked_add(p[i].max(0) as u64))
                                .and_then(|v| v.checked_sub(2 * pad))
                                .map_or(Dim::Unknown, Dim::Fixed)
                        }
                        _ => Dim::Unknown,
                    };
                }
            }
            cx.op(o, "ConvTranspose", &ins, attrs, shape)
        }
    };
    let y = if last {
        to_channels_last(cx, l, y, n)
    } else {
        y
    };
    activation(cx, l, y, l.config.get("activation"))
}

fn positive_one(l: &Layer, key: &str) -> Result<u64> {
    match l.int(key)? {
        None => Ok(1),
        Some(v) if v > 0 && v as u64 <= MAX_SIZE => Ok(v as u64),
        Some(_) => fail(
            format!(
                "{}: `{key}` must be a positive integer up to 2^31",
                l.what()
            ),
            l.get(key).map(|n| n.span),
        ),
    }
}

fn transpose_len(n: &Dim, k: u64, s: u64, d: u64, padding: &str) -> Dim {
    let Dim::Fixed(n) = n else {
        return Dim::Unknown;
    };
    let eff = d.saturating_mul(k - 1).saturating_add(1);
    match padding {
        "same" => n.checked_mul(s).map_or(Dim::Unknown, Dim::Fixed),
        _ => n
            .checked_mul(s)
            .and_then(|v| v.checked_add(eff.saturating_sub(s)))
            .map_or(Dim::Unknown, Dim::Fixed),
    }
}

fn pool(cx: &mut Cx, l: &Layer, x: ValueId, n: usize, max: bool) -> Result<ValueId> {
    let last = channels_last(l)?;
    let s = cx.shape(x).filter(|s| s.len() == n + 2);
    let size = positive_list(l, "pool_size", n, Some(2))?;
    let strides = match l.get("strides") {
        None => size.clone(),
        Some(_) => positive_list(l, "strides", n, None)?,
    };
    let padding = l.string("padding")?.unwrap_or("valid").to_ascii_lowercase();
    let mut attrs = vec![
        (
            "kernel_shape",
            ints_attr(&size.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
        (
            "strides",
            ints_attr(&strides.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
    ];
    attrs.extend(padding_attrs(l, &padding, &size, &vec![1; n])?);
    let first = if last {
        to_channels_first(cx, l, x, n)
    } else {
        x
    };
    let shape = cx.shape(first).filter(|_| s.is_some()).map(|sf| {
        let mut out = sf[..2].to_vec();
        for i in 0..n {
            out.push(window_len(&sf[i + 2], size[i], strides[i], 1, &padding));
        }
        out
    });
    let op = if max { "MaxPool" } else { "AveragePool" };
    let y = cx.op(&l.origin, op, &[first], attrs, shape);
    Ok(if last {
        to_channels_last(cx, l, y, n)
    } else {
        y
    })
}

fn global_pool(cx: &mut Cx, l: &Layer, x: ValueId, n: usize, op: &str) -> Result<ValueId> {
    let last = channels_last(l)?;
    let keep = l.flag("keepdims", false)?;
    let axes: Vec<i64> = if last {
        (1..=n as i64).collect()
    } else {
        (2..n as i64 + 2).collect()
    };
    let s = cx.shape(x).filter(|s| s.len() == n + 2).map(|s| {
        s.into_iter()
            .enumerate()
            .filter_map(|(i, d)| match (axes.contains(&(i as i64)), keep) {
                (false, _) => Some(d),
                (true, true) => Some(Dim::Fixed(1)),
                (true, false) => None,
            })
            .collect()
    });
    Ok(cx.op(
        &l.origin,
        op,
        &[x],
        vec![
            ("axes", ints_attr(&axes)),
            ("keepdims", Attr::Int(i64::from(keep))),
        ],
        s,
    ))
}

fn axis_of(l: &Layer, default: i64) -> Result<Option<i64>> {
    match l.get("axis") {
        None => Ok(Some(default)),
        Some(n) => match (n.as_i64(), n.as_list()) {
            (Some(a), _) => Ok(Some(a)),
            (None, Some([one])) => Ok(one.as_i64()),
            (None, Some(_)) => Ok(None),
            _ => fail(
                format!(
                    "{}: `axis` must be an integer or a list of integers",
                    l.what()
                ),
                Some(n.span),
            ),
        },
    }
}

fn batch_norm(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let axis = axis_of(l, -1)?;
    let eps = l.float("epsilon")?.unwrap_or(1e-3);
    let o = &l.origin;
    let (Some(shape), Some(axis)) = (&s, axis) else {
        return Ok(cx.opaque(o, l.class, &[x], vec![], vec![s])[0]);
    };
    let rank = shape.len();
    let Some(a) = norm_axis(axis, rank) else {
        return fail(
            format!(
                "{}: `axis` {axis} is outside the input's rank {rank}",
                l.what()
            ),
            l.get("axis").map(|n| n.span),
        );
    };
    if rank < 2 || (a != 1 && a != rank - 1) {
        return Ok(cx.opaque(o, l.class, &[x], vec![], vec![s])[0]);
    }
    let c = Some(shape[a].fixed());
    let scale = l.flag("scale", true)?;
    let center = l.flag("center", true)?;
    let params: Vec<ValueId> = ["gamma", "beta", "moving_mean", "moving_variance"]
        .iter()
        .map(|&w| fixed_or_weight(cx, l, w, c.flatten(), scale, center))
        .collect();
    let move_axis = a != 1;
    let xc = if move_axis {
        to_channels_first(cx, l, x, rank - 2)
    } else {
        x
    };
    let sc = cx.shape(xc);
    let mut ins = vec![xc];
    ins.extend(params);
    let y = cx.op(o, "BatchNormalization", &ins, vec![("epsilon", f(eps))], sc);
    Ok(if move_axis {
        to_channels_last(cx, l, y, rank - 2)
    } else {
        y
    })
}

fn layer_norm(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let axis = axis_of(l, -1)?;
    let eps = l.float("epsilon")?.unwrap_or(1e-3);
    let o = &l.origin;
    let last = match (&s, axis) {
        (Some(shape), Some(a)) => norm_axis(a, shape.len()).filter(|&a| a + 1 == shape.len()),
        _ => None,
    };
    let (Some(shape), Some(a)) = (&s, last) else {
        return Ok(cx.opaque(o, l.class, &[x], vec![], vec![s])[0]);
    };
    let c = shape[a].fixed();
    let scale = l.flag("scale", true)?;
    let center = l.flag("center", true)?;
    let gamma = fixed_or_weight(cx, l, "gamma", c, scale, center);
    let beta = fixed_or_weight(cx, l, "beta", c, scale, center);
    Ok(cx.op(
        o,
        "LayerNormalization",
        &[x, gamma, beta],
        vec![("axis", Attr::Int(-1)), ("epsilon", f(eps))],
        s,
    ))
}

/// A normalisation parameter: with `scale=False` Keras has no `gamma` (it is 1), with
/// `center=False` no `beta` (it is 0), so these are constants rather than weights a file fills in.
fn fixed_or_weight(
    cx: &mut Cx,
    l: &Layer,
    what: &str,
    c: Option<u64>,
    scale: bool,
    center: bool,
) -> ValueId {
    let fixed = match what {
        "gamma" if !scale => Some(1.0),
        "beta" if !center => Some(0.0),
        _ => None,
    };
    match (fixed, c.and_then(|c| usize::try_from(c).ok())) {
        (Some(v), Some(n)) if n <= 1 << 24 => {
            cx.const_f32(&l.path, what, vec![n as i64], vec![v; n])
        }
        _ => cx.weight(&l.path, what, &[c]),
    }
}

/// Broadcast shape of a merge layer's inputs, by the one shape engine (`crate::shape::broadcast`).
fn broadcast(shapes: &[Option<Shape>]) -> Option<Shape> {
    let mut acc: Shape = vec![];
    for s in shapes {
        acc = crate::shape::broadcast(&acc, s.as_ref()?)?;
    }
    Some(acc)
}

fn merge(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<ValueId> {
    if inputs.is_empty() {
        return Err(no_input(l));
    }
    let shapes: Vec<Option<Shape>> = inputs.iter().map(|&v| cx.shape(v)).collect();
    let s = broadcast(&shapes);
    let o = &l.origin;
    let pairwise = |cx: &mut Cx, op: &str| -> ValueId {
        let mut acc = inputs[0];
        for &v in &inputs[1..] {
            acc = cx.op(o, op, &[acc, v], vec![], s.clone());
        }
        acc
    };
    let y = match l.class {
        "Add" if inputs.len() == 2 => cx.op(o, "Add", inputs, vec![], s),
        "Add" => cx.op(o, "Sum", inputs, vec![], s),
        "Subtract" if inputs.len() == 2 => cx.op(o, "Sub", inputs, vec![], s),
        "Subtract" => {
            return fail(
                format!(
                    "{} takes exactly two inputs, got {}",
                    l.what(),
                    inputs.len()
                ),
                Some(l.node.span),
            );
        }
        "Multiply" => pairwise(cx, "Mul"),
        "Average" => cx.op(o, "Mean", inputs, vec![], s),
        "Maximum" => cx.op(o, "Max", inputs, vec![], s),
        _ => cx.op(o, "Min", inputs, vec![], s),
    };
    Ok(y)
}

fn concatenate(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<ValueId> {
    if inputs.is_empty() {
        return Err(no_input(l));
    }
    let axis = l.int("axis")?.unwrap_or(-1);
    let shapes: Option<Vec<Shape>> = inputs.iter().map(|&v| cx.shape(v)).collect();
    let s = shapes.and_then(|shapes| {
        let rank = shapes[0].len();
        if shapes.iter().any(|s| s.len() != rank) {
            return None;
        }
        let a = norm_axis(axis, rank)?;
        let mut out = shapes[0].clone();
        for i in 0..rank {
            if i == a {
                let total = shapes
                    .iter()
                    .try_fold(0u64, |acc, s| acc.checked_add(s[a].fixed()?));
                out[a] = total.map_or(Dim::Unknown, Dim::Fixed);
            } else if let Some(d) = shapes.iter().find_map(|s| s[i].fixed()) {
                out[i] = Dim::Fixed(d);
            }
        }
        Some(out)
    });
    Ok(cx.op(
        &l.origin,
        "Concat",
        inputs,
        vec![("axis", Attr::Int(axis))],
        s,
    ))
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

fn rnn_shapes(
    l: &Layer,
    s: &Option<Shape>,
    units: u64,
    width: u64,
) -> Result<(Option<Shape>, Option<Shape>, usize)> {
    let seq = l.flag("return_sequences", false)?;
    let states = match l.class {
        "LSTM" | "CuDNNLSTM" => 2,
        _ => 1,
    };
    let batch = s
        .as_ref()
        .and_then(|s| s.first().cloned())
        .unwrap_or(Dim::Unknown);
    let time = s
        .as_ref()
        .and_then(|s| s.get(1).cloned())
        .unwrap_or(Dim::Unknown);
    let out = if seq {
        vec![batch.clone(), time, Dim::Fixed(width)]
    } else {
        vec![batch.clone(), Dim::Fixed(width)]
    };
    let state = vec![batch, Dim::Fixed(units)];
    Ok((Some(out), Some(state), states))
}

fn recurrent(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<Vec<ValueId>> {
    let units = l.positive("units")?;
    let s = cx.shape(x);
    let (out, state, states) = rnn_shapes(l, &s, units, units)?;
    let mut shapes = vec![out];
    if l.flag("return_state", false)? {
        shapes.extend(std::iter::repeat_n(state, states));
    }
    let attrs = vec![("units", Attr::Int(units as i64))];
    Ok(cx.opaque(&l.origin, l.class, &[x], attrs, shapes))
}

fn bidirectional(cx: &mut Cx, l: &Layer, x: ValueId, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
    let inner_node = l.get("layer").ok_or_else(|| LowerError {
        message: format!("{} has no `layer`", l.what()),
        at: Some(l.node.span),
    })?;
    let inner = l.inner(inner_node)?;
    let units = inner.positive("units")?;
    // A missing `merge_mode` means Keras's default, "concat"; an explicit null means two outputs.
    let merge = match l.config.get("merge_mode") {
        None => Some("concat"),
        Some(m) if m.is_null() => None,
        Some(m) => Some(m.as_str().ok_or_else(|| LowerError {
            message: format!("{}: `merge_mode` must be a string or null", l.what()),
            at: Some(m.span),
        })?),
    };
    let width = if merge == Some("concat") {
        2 * units
    } else {
        units
    };
    let s = cx.shape(x);
    let (out, state, states) = rnn_shapes(&inner, &s, units, width)?;
    let mut shapes = vec![out.clone()];
    if merge.is_none() {
        shapes.push(out);
    }
    if inner.flag("return_state", false)? {
        shapes.extend(std::iter::repeat_n(state, 2 * states));
    }
    Ok(cx.opaque(
        &l.origin,
        l.class,
        inputs,
        vec![("units", Attr::Int(units as i64))],
        shapes,
    ))
}

fn time_distributed(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let inner_node = l.get("layer").ok_or_else(|| LowerError {
        message: format!("{} has no `layer`", l.what()),
        at: Some(l.node.span),
    })?;
    let inner = l.inner(inner_node)?;
    let pointwise = match inner.class {
        "Dense" | "Activation" | "Dropout" | "ReLU" | "LeakyReLU" | "ELU"
        | "LayerNormalization" => true,
        "Softmax" | "BatchNormalization" => inner.int("axis").ok().flatten().unwrap_or(-1) < 0,
        _ => false,
    };
    if pointwise {
        let outs = dispatch(cx, &inner, &[x])?;
        return outs.first().copied().ok_or_else(|| no_input(l));
    }
    let s = cx.shape(x);
    let time = s.as_ref().and_then(|s| s.get(1)).and_then(Dim::fixed);
    let (Some(shape), Some(t)) = (s.clone(), time) else {
        return Ok(cx.opaque(&l.origin, l.class, &[x], vec![], vec![None])[0]);
    };
    let rest: Option<Vec<i64>> = shape[2..]
        .iter()
        .map(|d| d.fixed().map(|v| v as i64))
        .collect();
    let Some(rest) = rest else {
        return Ok(cx.opaque(&l.origin, l.class, &[x], vec![], vec![None])[0]);
    };
    let mut spec = vec![-1];
    spec.extend(&rest);
    let merged_shape: Shape = std::iter::once(Dim::Unknown)
        .chain(shape[2..].iter().cloned())
        .collect();
    let spec_const = cx.const_i64(&l.path, "merge_time", spec);
    let merged = cx.op(
        &l.origin,
        "Reshape",
        &[x, spec_const],
        vec![],
        Some(merged_shape),
    );
    let outs = dispatch(cx, &inner, &[merged])?;
    let y = *outs.first().ok_or_else(|| no_input(l))?;
    let out_rest: Option<Vec<u64>> = cx
        .shape(y)
        .and_then(|s| s.get(1..).map(|r| r.iter().map(Dim::fixed).collect()))
        .flatten();
    let Some(out_rest) = out_rest else {
        return Ok(cx.opaque(&l.origin, l.class, &[y], vec![], vec![None])[0]);
    };
    let mut back = vec![-1, t as i64];
    back.extend(out_rest.iter().map(|&v| v as i64));
    let mut out_shape = vec![shape[0].clone(), Dim::Fixed(t)];
    out_shape.extend(out_rest.into_iter().map(Dim::Fixed));
    let back_const = cx.const_i64(&l.path, "split_time", back);
    Ok(cx.op(
        &l.origin,
        "Reshape",
        &[y, back_const],
        vec![],
        Some(out_shape),
    ))
}

/// A number or a list of numbers from the config, as a constant with real data.
fn numbers(l: &Layer, key: &str) -> Result<Option<(Vec<i64>, Vec<f32>)>> {
    let Some(node) = l.get(key) else {
        return Ok(None);
    };
    if let Some(v) = node.as_f64() {
        return Ok(Some((vec![], vec![v as f32])));
    }
    let values: Option<Vec<f32>> = node
        .as_list()
        .and_then(|v| v.iter().map(|n| n.as_f64().map(|x| x as f32)).collect());
    match values {
        Some(v) => Ok(Some((vec![v.len() as i64], v))),
        None => fail(
            format!(
                "{}: `{key}` must be a number or a list of numbers",
                l.what()
            ),
            Some(node.span),
        ),
    }
}

fn rescaling(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let mut y = x;
    if let Some((dims, v)) = numbers(l, "scale")? {
        let c = cx.const_f32(&l.path, "scale", dims, v);
        y = cx.op(&l.origin, "Mul", &[y, c], vec![], s.clone());
    }
    if let Some((dims, v)) = numbers(l, "offset")?
        && v.iter().any(|&o| o != 0.0)
    {
        let c = cx.const_f32(&l.path, "offset", dims, v);
        y = cx.op(&l.origin, "Add", &[y, c], vec![], s.clone());
    }
    if y == x {
        y = cx.op(&l.origin, "Identity", &[x], vec![], s);
    }
    Ok(y)
}

fn normalization(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let (mean, var) = (numbers(l, "mean")?, numbers(l, "variance")?);
    let invert = l.flag("invert", false)?;
    let (Some((md, mv)), Some((vd, vv)), false) = (mean, var, invert) else {
        // Adapted statistics live in the weights, which are not read.
        return Ok(cx.opaque(&l.origin, l.class, &[x], vec![], vec![s])[0]);
    };
    let std: Vec<f32> = vv.iter().map(|&v| v.max(0.0).sqrt().max(1e-7)).collect();
    let m = cx.const_f32(&l.path, "mean", md, mv);
    let d = cx.const_f32(&l.path, "stddev", vd, std);
    let centred = cx.op(&l.origin, "Sub", &[x, m], vec![], s.clone());
    Ok(cx.op(&l.origin, "Div", &[centred, d], vec![], s))
}

fn upsampling(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> Result<ValueId> {
    let size = positive_list(l, "size", n, Some(2))?;
    let last = channels_last(l)?;
    let bilinear = l.string("interpolation")?.is_some_and(|i| i == "bilinear");
    let s = cx.shape(x).filter(|s| s.len() == n + 2);
    let first_spatial = if last { 1 } else { 2 };
    let mut scales = vec![1.0f32; n + 2];
    for i in 0..n {
        scales[first_spatial + i] = size[i] as f32;
    }
    let out = s.map(|mut s| {
        for i in 0..n {
            let d = &mut s[first_spatial + i];
            *d = d.fixed().map_or(Dim::Unknown, |v| {
                v.checked_mul(size[i]).map_or(Dim::Unknown, Dim::Fixed)
            });
        }
        s
    });
    let scales_const = cx.const_f32(&l.path, "scales", vec![(n + 2) as i64], scales);
    let attrs = if bilinear {
        vec![
            ("mode", str_attr("linear")),
            ("coordinate_transformation_mode", str_attr("half_pixel")),
        ]
    } else {
        vec![
            ("mode", str_attr("nearest")),
            ("coordinate_transformation_mode", str_attr("asymmetric")),
            ("nearest_mode", str_attr("floor")),
        ]
    };
    Ok(cx.ops(
        &l.origin,
        "",
        "Resize",
        vec![Some(x), None, Some(scales_const)],
        attrs,
        vec![out],
    )[0])
}

/// `padding`/`cropping` in any of Keras's forms: `p`, `[a, b]`, `[[top, bottom], [left, right]]`.
fn edges(l: &Layer, key: &str, n: usize) -> Result<Vec<(u64, u64)>> {
    let node = l.get(key);
    let bad = || LowerError {
        message: format!(
            "{}: `{key}` must be an integer, a list of integers or a list of pairs",
            l.what()
        ),
        at: node.map(|n| n.span),
    };
    let Some(node) = node else {
        return Ok(vec![(1, 1); n]);
    };
    let nonneg = |v: i64| u64::try_from(v).map_err(|_| bad());
    if let Some(v) = node.as_i64() {
        let v = nonneg(v)?;
        return Ok(vec![(v, v); n]);
    }
    let list = node.as_list().ok_or_else(bad)?;
    if n == 1 && list.len() == 2 && list.iter().all(|x| x.as_i64().is_some()) {
        return Ok(vec![(
            nonneg(list[0].as_i64().unwrap_or(0))?,
            nonneg(list[1].as_i64().unwrap_or(0))?,
        )]);
    }
    if list.len() != n {
        return Err(bad());
    }
    list.iter()
        .map(|item| match (item.as_i64(), item.as_list()) {
            (Some(v), _) => nonneg(v).map(|v| (v, v)),
            (None, Some([a, b])) => Ok((
                nonneg(a.as_i64().ok_or_else(bad)?)?,
                nonneg(b.as_i64().ok_or_else(bad)?)?,
            )),
            _ => Err(bad()),
        })
        .collect()
}

fn zero_padding(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> Result<ValueId> {
    let e = edges(l, "padding", n)?;
    let first = if channels_last(l)? { 1 } else { 2 };
    let rank = n + 2;
    let mut pads = vec![0i64; 2 * rank];
    for (i, &(b, a)) in e.iter().enumerate() {
        pads[first + i] = b as i64;
        pads[rank + first + i] = a as i64;
    }
    let s = cx.shape(x).filter(|s| s.len() == rank).map(|mut s| {
        for (i, &(b, a)) in e.iter().enumerate() {
            let d = &mut s[first + i];
            *d = d.fixed().map_or(Dim::Unknown, |v| {
                v.checked_add(b)
                    .and_then(|v| v.checked_add(a))
                    .map_or(Dim::Unknown, Dim::Fixed)
            });
        }
        s
    });
    let p = cx.const_i64(&l.path, "pads", pads);
    Ok(cx.op(
        &l.origin,
        "Pad",
        &[x, p],
        vec![("mode", str_attr("constant"))],
        s,
    ))
}

fn cropping(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> Result<ValueId> {
    let e = edges(l, "cropping", n)?;
    let first = if channels_last(l)? { 1 } else { 2 };
    let starts: Vec<i64> = e.iter().map(|&(b, _)| b as i64).collect();
    let ends: Vec<i64> = e
        .iter()
        .map(|&(_, a)| if a == 0 { i64::MAX } else { -(a as i64) })
        .collect();
    let axes: Vec<i64> = (0..n).map(|i| (first + i) as i64).collect();
    let s = cx.shape(x).filter(|s| s.len() == n + 2).map(|mut s| {
        for (i, &(b, a)) in e.iter().enumerate() {
            let d = &mut s[first + i];
            *d = d
                .fixed()
                .and_then(|v| v.checked_sub(a.saturating_add(b)))
                .map_or(Dim::Unknown, Dim::Fixed);
        }
        s
    });
    let st = cx.const_i64(&l.path, "starts", starts);
    let en = cx.const_i64(&l.path, "ends", ends);
    let ax = cx.const_i64(&l.path, "axes", axes);
    Ok(cx.op(&l.origin, "Slice", &[x, st, en, ax], vec![], s))
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
