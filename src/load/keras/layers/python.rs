//! Python code in a config: `Lambda` layers and activations (opaque, never decoded), tf.keras 2's
//! `TFOpLambda` wrappers of TensorFlow functions.

use super::*;

pub(super) fn tf_op_lambda(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
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

/// The base64 marshalled bytecode a config carries for a Python lambda: a lambda activation
/// (`{"value": [code, ...]}`), a Keras 3 `__lambda__` function, or Keras 2's `[code, defaults, closure]`.
pub(super) fn python_code(node: &Node) -> Option<&str> {
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
pub(super) fn python_op(
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

pub(super) fn lambda(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Vec<ValueId> {
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
