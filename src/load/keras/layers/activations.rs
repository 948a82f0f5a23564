//! Activations: by name (an `activation` argument or an `Activation` layer) and as layers (`Softmax`,
//! `ReLU`, `LeakyReLU`, ...).

use super::*;

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

pub(super) fn f(v: f64) -> Attr {
    Attr::Float(v as f32)
}

/// Keras's built-in activations by name; an unknown name stays an opaque elementwise op.
pub(super) fn named_activation(cx: &mut Cx, l: &Layer, x: ValueId, name: &str) -> ValueId {
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

pub(super) fn clip(cx: &mut Cx, l: &Layer, x: ValueId, lo: f32, hi: f32) -> ValueId {
    let s = cx.shape(x);
    let min = cx.const_f32(&l.path, &format!("clip_min_{lo}"), vec![], vec![lo]);
    let max = cx.const_f32(&l.path, &format!("clip_max_{hi}"), vec![], vec![hi]);
    cx.op(&l.origin, "Clip", &[x, min, max], vec![], s)
}

/// Layers that are an activation: Softmax, ReLU, LeakyReLU, ELU, PReLU, ThresholdedReLU.
pub(super) fn activation_layer(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let o = &l.origin;
    match l.class {
        "Softmax" => {
            let axis = match l.get("axis") {
                None => Some(-1),
                // PyTorch's implicit dim: 0 for ranks 0, 1 and 3, else 1; unknown rank, unknown.
                Some(n) if n.as_str() == Some(super::super::TORCH_IMPLICIT_DIM) => s
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
