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

/// A call in Python source nnlint does not model (`UnresolvedPythonLayer`): an opaque op over
/// its inputs, whose output shape follows from theirs as the interpreter's config keys say
/// (`src/load/python/interp/shaping.rs`): a fixed `out_shape`, `shaping` (`same`, `same_rank`,
/// `broadcast`, `matmul`), `rank_delta`, `reduce` (axes), `insert` (an axis) or `index` (a
/// subscript). Without them the shape is unknown.
pub(super) fn unresolved(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
    let shapes: Vec<Option<Shape>> = inputs.iter().map(|&x| cx.shape(x)).collect();
    let s = opaque_shape(l.config, &shapes);
    let rank_fixed = l.get("out_shape").is_some();
    let out = cx.opaque(&l.origin, l.class, inputs, vec![], vec![s]);
    if rank_fixed && let Some(p) = cx.graph.value(out[0]).producer {
        // Its rank does not depend on its input's (see `Graph::rank_is_assumed`).
        cx.graph.ops[p.0 as usize]
            .attrs
            .insert("absolute_rank".into(), Attr::Int(1));
    }
    Ok(out)
}

/// The output shape of an opaque Python call from its config keys and its inputs' shapes.
fn opaque_shape(config: &Node, inputs: &[Option<Shape>]) -> Option<Shape> {
    let unknown = |n: usize| vec![Dim::Unknown; n];
    if let Some(dims) = config.get("out_shape").and_then(Node::as_list) {
        return Some(
            dims.iter()
                .map(|d| match d.as_i64().and_then(|d| u64::try_from(d).ok()) {
                    Some(n) if n > 0 => Dim::Fixed(n),
                    _ => Dim::Unknown,
                })
                .collect(),
        );
    }
    let first = inputs.first().cloned().flatten();
    if let Some(kind) = config.get("shaping").and_then(Node::as_str) {
        return match kind {
            "same" => first,
            "same_rank" => first.map(|s| unknown(s.len())),
            "broadcast" => {
                let mut all = inputs.iter();
                let mut acc = all.next()?.clone()?;
                for s in all {
                    acc = crate::shape::broadcast(&acc, s.as_ref()?)?;
                }
                Some(acc)
            }
            "matmul" => match inputs {
                [a, b] => crate::shape::matmul(a.clone(), b.clone()),
                _ => None,
            },
            _ => None,
        };
    }
    let s = first?;
    if let Some(d) = config.get("rank_delta").and_then(Node::as_i64) {
        let r = i64::try_from(s.len()).ok()?.checked_add(d)?;
        return Some(unknown(usize::try_from(r).ok()?));
    }
    if let Some(axes) = config.get("reduce").and_then(Node::as_list) {
        let mut drop = vec![false; s.len()];
        for a in axes {
            drop[norm_axis(a.as_i64()?, s.len())?] = true;
        }
        return Some(
            s.into_iter()
                .zip(drop)
                .filter(|(_, d)| !d)
                .map(|(x, _)| x)
                .collect(),
        );
    }
    if let Some(a) = config.get("insert").and_then(Node::as_i64) {
        // `unsqueeze(-1)` inserts after the last axis: axes count in the output's rank.
        let at = norm_axis(a, s.len() + 1)?;
        let mut s = s;
        s.insert(at, Dim::Fixed(1));
        return Some(s);
    }
    if let Some(items) = config.get("index").and_then(Node::as_list) {
        let items: Vec<&str> = items.iter().map(Node::as_str).collect::<Option<_>>()?;
        let named = |i: &&&str| !matches!(**i, "None" | "...");
        if items.iter().filter(named).count() > s.len()
            || items.iter().filter(|i| **i == "...").count() > 1
        {
            return None;
        }
        let mut dims = s.into_iter();
        let mut out = vec![];
        for (at, item) in items.iter().enumerate() {
            match *item {
                ":" => out.push(dims.next()?),
                "a:b" => {
                    dims.next()?;
                    out.push(Dim::Unknown);
                }
                "i" => {
                    dims.next()?;
                }
                "None" => out.push(Dim::Fixed(1)),
                "..." => {
                    let after = items[at + 1..].iter().filter(named).count();
                    let rest = dims.len().checked_sub(after)?;
                    out.extend(dims.by_ref().take(rest));
                }
                _ => return None,
            }
        }
        out.extend(dims);
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::keras::tree::Node;

    fn config(json: &str) -> Node {
        crate::load::keras::json::parse(json).unwrap()
    }

    fn dims(s: &[Option<u64>]) -> Option<Shape> {
        Some(
            s.iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Fixed))
                .collect(),
        )
    }

    #[test]
    fn subscripts_keep_drop_and_add_axes() {
        let x = dims(&[None, Some(20), Some(64)]);
        let index = |items: &str| {
            opaque_shape(
                &config(&format!(r#"{{"index": [{items}]}}"#)),
                std::slice::from_ref(&x),
            )
        };
        // `h[:, -1, :]` and `h[:, -1]`: the last step of each sequence.
        assert_eq!(index(r#"":", "i", ":""#), dims(&[None, Some(64)]));
        assert_eq!(index(r#"":", "i""#), dims(&[None, Some(64)]));
        // `h[-1]`, `x[..., 0]`, `x[:, None]`, `x[:, 2:]`.
        assert_eq!(index(r#""i""#), dims(&[Some(20), Some(64)]));
        assert_eq!(index(r#""...", "i""#), dims(&[None, Some(20)]));
        assert_eq!(
            index(r#"":", "None""#),
            dims(&[None, Some(1), Some(20), Some(64)])
        );
        assert_eq!(index(r#"":", "a:b""#), dims(&[None, None, Some(64)]));
        // More integers than axes: not a shape.
        assert_eq!(index(r#""i", "i", "i", "i""#), None);
    }

    #[test]
    fn reductions_broadcasts_and_fixed_shapes() {
        let x = dims(&[None, Some(20), Some(64)]);
        let w = dims(&[None, Some(20), Some(1)]);
        let shape = |c: &str, inputs: &[Option<Shape>]| opaque_shape(&config(c), inputs);
        assert_eq!(
            shape(r#"{"reduce": [1]}"#, std::slice::from_ref(&x)),
            dims(&[None, Some(64)])
        );
        assert_eq!(
            shape(r#"{"insert": -1}"#, &[dims(&[None, Some(5)])]),
            dims(&[None, Some(5), Some(1)])
        );
        assert_eq!(shape(r#"{"shaping": "broadcast"}"#, &[w, x.clone()]), x);
        assert_eq!(
            shape(r#"{"out_shape": [null, null, 128]}"#, &[None]),
            dims(&[None, None, Some(128)])
        );
        // Unknown input, relative shaping: unknown.
        assert_eq!(shape(r#"{"reduce": [1]}"#, &[None]), None);
        assert_eq!(shape(r#"{}"#, &[x]), None);
    }
}
