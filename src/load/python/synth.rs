//! What the interpreter found, written as the Keras 2 config tree `model.to_json()` would give, with
//! spans pointing into the Python text: the layer entry at the constructor call, `class_name` at the
//! callee (`Dense`), every config key at its argument (`activation='softmax'`), the loss at the
//! `loss=` value. The Keras front end then lowers it unchanged, so every rule and numerical check
//! runs as it does on a saved config.

use super::interp::{
    KwValue, LayerRec, ModelKind, ModelRec, ObjectRec, SValue, Value, World, keras_tail,
};
use crate::ir::Span;
use crate::load::keras::tree::{Entry, Kind, Node};

/// Class given to a layer whose arguments the interpreter could not resolve: the lowering keeps it
/// as an opaque op of unknown shape, so nothing after it is guessed.
pub use super::interp::UNRESOLVED_LAYER;
/// Activation name given when `activation=` is an expression nnlint cannot resolve (never "linear").
pub const UNRESOLVED_ACTIVATION: &str = "unresolved_python_activation";

/// Arguments whose value never changes what the numerical checks compute.
fn ignorable(key: &str) -> bool {
    key.ends_with("_initializer")
        || key.ends_with("_regularizer")
        || key.ends_with("_constraint")
        || matches!(
            key,
            "init"
                | "name"
                | "trainable"
                | "W_regularizer"
                | "b_regularizer"
                | "dtype"
                | "batch_size"
                | "seed"
                | "weights"
        )
}

fn node(kind: Kind, span: Span) -> Node {
    Node { span, kind }
}

fn entry(key: &str, key_span: Span, value: Node) -> Entry {
    Entry {
        key: key.to_string(),
        key_span,
        value,
    }
}

fn str_node(s: &str, span: Span) -> Node {
    node(Kind::Str(s.to_string()), span)
}

/// The `config.json` a `transformers` classifier built in source would save: its class, and the
/// keyword arguments that decide its head (`num_labels`, `id2label`, `label2id`, `problem_type`),
/// each with its span. `None` when one of them is given but not known (nothing is guessed).
pub(super) fn hf_config(
    class: &str,
    class_span: Span,
    given: &[(&str, Span, &SValue)],
    w: &World,
) -> Option<Node> {
    let mut entries = vec![entry(
        "architectures",
        class_span,
        node(Kind::List(vec![str_node(class, class_span)]), class_span),
    )];
    for (key, span, v) in given {
        entries.push(entry(key, *span, plain(v, w)?));
    }
    Some(node(Kind::Map(entries), class_span))
}

/// A plain value as a config node; `None` when it is not known.
fn plain(v: &SValue, w: &World) -> Option<Node> {
    let kind = match &v.value {
        Value::Int(i) => Kind::Int(*i),
        Value::Float(f) => Kind::Float(*f),
        Value::Str(s) => Kind::Str(s.clone()),
        Value::Bool(b) => Kind::Bool(*b),
        Value::None => Kind::Null,
        Value::Tuple(items) | Value::List(items) => Kind::List(
            items
                .iter()
                .map(|i| plain(i, w).unwrap_or_else(|| node(Kind::Null, i.span)))
                .collect(),
        ),
        Value::Layer(l) => return Some(layer_object(&w.layers[*l], w, v.span)),
        Value::Dict(items) => Kind::Map(
            items
                .iter()
                .filter_map(|(k, i)| Some(entry(k, i.span, plain(i, w)?)))
                .collect(),
        ),
        _ => return None,
    };
    Some(node(kind, v.span))
}

/// An activation argument: a name, a function (`tf.nn.softmax`), a layer object (`LeakyReLU(0.2)`).
fn activation(v: &SValue, w: &World) -> Node {
    match &v.value {
        Value::Str(s) => str_node(s, v.span),
        Value::None => node(Kind::Null, v.span),
        Value::Path(p) => str_node(
            &function_name(p).unwrap_or(UNRESOLVED_ACTIVATION.into()),
            v.span,
        ),
        Value::Layer(l) => layer_object(&w.layers[*l], w, v.span),
        _ => str_node(UNRESOLVED_ACTIVATION, v.span),
    }
}

/// `tf.nn.softmax`, `keras.activations.sigmoid`, `tf.math.tanh`, `tf.sigmoid`: the activation name.
fn function_name(path: &str) -> Option<String> {
    let last = path.rsplit('.').next()?;
    // `tf.nn.softmax`, also under `tf.compat.v1` / `tf.compat.v2`.
    let tf_fn = super::interp::tf1_tail(path).is_some_and(|rest| {
        !rest.contains('.') || rest.starts_with("nn.") || rest.starts_with("math.")
    });
    let keras_fn = keras_tail(path).is_some_and(|t| t.starts_with("activations."));
    (tf_fn || keras_fn).then(|| last.to_string())
}

/// Positional parameters of the common layers, in order.
fn positional(class: &str) -> &'static [&'static str] {
    match class {
        "Dense" => &["units", "activation"],
        "Activation" => &["activation"],
        "Dropout" | "SpatialDropout1D" | "SpatialDropout2D" | "SpatialDropout3D"
        | "AlphaDropout" => &["rate"],
        "GaussianNoise" => &["stddev"],
        "GaussianDropout" => &["rate"],
        c if c.starts_with("Conv")
            || c.starts_with("SeparableConv")
            || c.starts_with("Convolution") =>
        {
            &["filters", "kernel_size", "strides", "padding"]
        }
        c if c.starts_with("DepthwiseConv") => &["kernel_size", "strides", "padding"],
        c if c.starts_with("MaxPool")
            || c.starts_with("AveragePool")
            || c.starts_with("AvgPool") =>
        {
            &["pool_size", "strides", "padding"]
        }
        "LSTM" | "GRU" | "SimpleRNN" | "CuDNNLSTM" | "CuDNNGRU" => &["units"],
        "Embedding" => &["input_dim", "output_dim"],
        "Reshape" => &["target_shape"],
        "Permute" => &["dims"],
        "LeakyReLU" => &["alpha"],
        "ELU" => &["alpha"],
        "Concatenate" => &["axis"],
        "Add" | "Subtract" | "Multiply" | "Average" | "Maximum" | "Minimum" => &[],
        "TimeDistributed" | "Bidirectional" => &["layer"],
        c if c.starts_with("UpSampling") => &["size"],
        c if c.starts_with("ZeroPadding") => &["padding"],
        c if c.starts_with("Cropping") => &["cropping"],
        _ => &[],
    }
}

/// Initializer names Keras 1 took as `Dense`'s second positional argument.
fn is_initializer(s: &str) -> bool {
    matches!(
        s,
        "uniform"
            | "normal"
            | "zero"
            | "zeros"
            | "one"
            | "ones"
            | "identity"
            | "orthogonal"
            | "glorot_uniform"
            | "glorot_normal"
            | "he_uniform"
            | "he_normal"
            | "lecun_uniform"
            | "lecun_normal"
    )
}

/// The config entries of one layer; `Err` when an argument that matters is unknown.
fn layer_config(l: &LayerRec, w: &World) -> Result<Vec<Entry>, ()> {
    let class = l.class.as_str();
    let mut out: Vec<Entry> = vec![];
    let mut shape_entry: Option<Entry> = None;
    let params = positional(class);
    // Keras 1: Convolution2D(nb_filter, nb_row, nb_col).
    let keras1_conv = class.starts_with("Convolution")
        && l.args.len() == 3
        && l.args.iter().all(|a| matches!(a.value, Value::Int(_)));
    for (i, a) in l.args.iter().enumerate() {
        if keras1_conv && i > 0 {
            continue;
        }
        let key = match (class, i) {
            ("InputLayer", 0) => "shape",
            ("Dense", 1) if matches!(&a.value, Value::Str(s) if is_initializer(s)) => continue,
            _ => match params.get(i) {
                Some(k) => *k,
                None => return Err(()),
            },
        };
        push_arg(&mut out, &mut shape_entry, class, key, a.span, a, w)?;
    }
    if keras1_conv {
        let span = crate::load::keras::tree::join(l.args[1].span, l.args[2].span);
        let dims = l.args[1..].iter().filter_map(|a| plain(a, w)).collect();
        out.push(entry("kernel_size", span, node(Kind::List(dims), span)));
    }
    let mut kernel_rc: Vec<&KwValue> = vec![];
    for k in &l.kwargs {
        if matches!(k.name.as_str(), "nb_row" | "nb_col") {
            kernel_rc.push(k);
            continue;
        }
        push_arg(
            &mut out,
            &mut shape_entry,
            class,
            &k.name,
            k.span,
            &k.value,
            w,
        )?;
    }
    if kernel_rc.len() == 2 {
        let span = crate::load::keras::tree::join(kernel_rc[0].span, kernel_rc[1].span);
        let dims = kernel_rc
            .iter()
            .filter_map(|k| plain(&k.value, w))
            .collect();
        out.push(entry("kernel_size", span, node(Kind::List(dims), span)));
    }
    if let Some(e) = shape_entry {
        out.push(e);
    }
    Ok(out)
}

fn push_arg(
    out: &mut Vec<Entry>,
    shape_entry: &mut Option<Entry>,
    class: &str,
    key: &str,
    key_span: Span,
    v: &SValue,
    w: &World,
) -> Result<(), ()> {
    let embedding = class == "Embedding";
    // Keras 1 spellings.
    let key = match key {
        "output_dim" if !embedding => "units",
        "nb_filter" => "filters",
        "border_mode" => "padding",
        "subsample" => "strides",
        "init" => return Ok(()),
        k => k,
    };
    if key == "activation" {
        out.push(entry(key, key_span, activation(v, w)));
        return Ok(());
    }
    if key == "layer" {
        let Value::Layer(inner) = v.value else {
            return Err(());
        };
        out.push(entry(
            key,
            key_span,
            layer_object(&w.layers[inner], w, v.span),
        ));
        return Ok(());
    }
    // Input shapes become the `batch_input_shape` Keras 2 writes: a leading null for the batch.
    let batch_shape = |n: Node| -> Node {
        let span = n.span;
        let mut dims = vec![node(Kind::Null, span)];
        match n.kind {
            Kind::List(items) => dims.extend(items),
            other => dims.push(node(other, span)),
        }
        node(Kind::List(dims), span)
    };
    let shape_key = match key {
        "input_shape" | "shape" => true,
        "input_dim" if !embedding => true,
        "input_length" if embedding => true,
        _ => false,
    };
    if shape_key {
        // `input_shape=X.shape[1:]`: unknown, so no shape at all (never a guessed rank).
        if let Some(n) = plain(v, w) {
            *shape_entry = Some(entry("batch_input_shape", key_span, batch_shape(n)));
        }
        return Ok(());
    }
    if matches!(key, "batch_input_shape" | "batch_shape") {
        if let Some(n) = plain(v, w) {
            *shape_entry = Some(entry("batch_input_shape", key_span, n));
        }
        return Ok(());
    }
    match plain(v, w) {
        Some(n) => out.push(entry(key, key_span, n)),
        None if ignorable(key) => {}
        // `Dense(len(chars), activation="softmax")`: the width is not in the file, the layer and
        // its activation are (a null width: unknown, never guessed).
        None if class == "Dense" && key == "units" => {
            out.push(entry(key, key_span, node(Kind::Null, key_span)));
        }
        None => return Err(()),
    }
    Ok(())
}

/// A layer as a serialized object (an activation layer given as `activation=`, a wrapped layer).
fn layer_object(l: &LayerRec, w: &World, span: Span) -> Node {
    let (class, config) = match layer_config(l, w) {
        Ok(c) => (keras_class(&l.class), c),
        Err(()) => (UNRESOLVED_LAYER, vec![]),
    };
    node(
        Kind::Map(vec![
            entry("class_name", l.callee_span, str_node(class, l.callee_span)),
            entry("config", l.call_span, node(Kind::Map(config), l.call_span)),
        ]),
        span,
    )
}

/// The class the Keras front end should see. A `Lambda` written in Python is visible source, not
/// the opaque bytecode rule NNL009 is about: it stays an opaque op of another name.
fn keras_class(class: &str) -> &str {
    match class {
        "Lambda" => "PythonLambda",
        c => c,
    }
}

fn snake(class: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in class.chars() {
        if c.is_ascii_uppercase() {
            if prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    if out == "input_layer" {
        "input".into()
    } else {
        out
    }
}

struct Names {
    used: std::collections::HashMap<String, usize>,
}

impl Names {
    fn name(&mut self, l: &LayerRec) -> String {
        let written =
            l.kwargs
                .iter()
                .find(|k| k.name == "name")
                .and_then(|k| match &k.value.value {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                });
        let base = written.unwrap_or_else(|| snake(&l.class));
        let n = self.used.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base
        } else {
            format!("{base}_{}", *n - 1)
        }
    }
}

/// One layer entry of the model's `layers` list.
fn layer_entry(l: &LayerRec, name: &str, w: &World, inbound: Option<Node>) -> Node {
    let (class, mut config) = match layer_config(l, w) {
        Ok(c) => (keras_class(&l.class), c),
        Err(()) => (UNRESOLVED_LAYER, vec![]),
    };
    config.retain(|e| e.key != "name");
    let name_span = l
        .kwargs
        .iter()
        .find(|k| k.name == "name")
        .map_or(l.callee_span, |k| k.value.span);
    config.push(entry("name", name_span, str_node(name, name_span)));
    let mut entries = vec![
        entry("class_name", l.callee_span, str_node(class, l.callee_span)),
        entry("name", name_span, str_node(name, name_span)),
        entry("config", l.call_span, node(Kind::Map(config), l.call_span)),
    ];
    if let Some(i) = inbound {
        entries.push(entry("inbound_nodes", l.call_span, i));
    }
    node(Kind::Map(entries), l.call_span)
}

fn unresolved_entry(span: Span, name: &str) -> Node {
    node(
        Kind::Map(vec![
            entry("class_name", span, str_node(UNRESOLVED_LAYER, span)),
            entry(
                "config",
                span,
                node(
                    Kind::Map(vec![entry("name", span, str_node(name, span))]),
                    span,
                ),
            ),
        ]),
        span,
    )
}

/// The model as a Keras 2 config root (`class_name`, `config`, `training_config`).
pub fn model_tree(m: &ModelRec, w: &World) -> Node {
    let span = m.span;
    let mut names = Names {
        used: Default::default(),
    };
    let (class, config) = match &m.kind {
        ModelKind::Sequential(layers) => {
            let items = layers
                .iter()
                .enumerate()
                .map(|(i, l)| match l {
                    Some(l) => {
                        let rec = &w.layers[*l];
                        let name = names.name(rec);
                        layer_entry(rec, &name, w, None)
                    }
                    None => unresolved_entry(span, &format!("unresolved_{i}")),
                })
                .collect();
            (
                "Sequential",
                vec![entry("layers", span, node(Kind::List(items), span))],
            )
        }
        ModelKind::Functional { inputs, outputs } => {
            // Layers reachable from the outputs, in the order they were created.
            let mut keep = vec![false; w.layers.len()];
            let mut stack: Vec<usize> = outputs.clone();
            stack.extend(inputs);
            let mut seen = vec![false; w.tensors.len()];
            // The calls (nodes) of each layer this model uses: a layer also called on tensors of
            // another model (a second forward with other flags) keeps only this model's calls.
            let mut used: Vec<Vec<usize>> = vec![vec![]; w.layers.len()];
            while let Some(t) = stack.pop() {
                if std::mem::replace(&mut seen[t], true) {
                    continue;
                }
                let rec = &w.tensors[t];
                keep[rec.layer] = true;
                used[rec.layer].push(rec.node);
                if let Some(ins) = w.layers[rec.layer].calls.get(rec.node) {
                    stack.extend(ins.iter().copied());
                }
            }
            let layer_names: Vec<Option<String>> = w
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| keep[i].then(|| names.name(l)))
                .collect();
            for u in &mut used {
                u.sort_unstable();
                u.dedup();
            }
            let tensor_ref = |t: usize, kwargs: bool| -> Node {
                let rec = &w.tensors[t];
                let node_index = used[rec.layer]
                    .iter()
                    .position(|&n| n == rec.node)
                    .unwrap_or(0);
                let mut items = vec![
                    str_node(layer_names[rec.layer].as_deref().unwrap_or(""), span),
                    node(Kind::Int(node_index as i64), span),
                    node(Kind::Int(0), span),
                ];
                if kwargs {
                    items.push(node(Kind::Map(vec![]), span));
                }
                node(Kind::List(items), span)
            };
            let items = w
                .layers
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    let name = layer_names[i].as_ref()?;
                    let inbound = l
                        .calls
                        .iter()
                        .enumerate()
                        .filter(|(n, _)| used[i].contains(n))
                        .map(|(_, ins)| {
                            node(
                                Kind::List(ins.iter().map(|&t| tensor_ref(t, true)).collect()),
                                l.call_span,
                            )
                        })
                        .collect();
                    Some(layer_entry(
                        l,
                        name,
                        w,
                        Some(node(Kind::List(inbound), l.call_span)),
                    ))
                })
                .collect();
            let ends = |ts: &[usize]| {
                node(
                    Kind::List(ts.iter().map(|&t| tensor_ref(t, false)).collect()),
                    span,
                )
            };
            (
                "Functional",
                vec![
                    entry("layers", span, node(Kind::List(items), span)),
                    entry("input_layers", span, ends(inputs)),
                    entry("output_layers", span, ends(outputs)),
                ],
            )
        }
    };
    let mut config = config;
    let name = m.name.clone().unwrap_or_else(|| {
        if class == "Sequential" {
            "sequential".into()
        } else {
            "model".into()
        }
    });
    config.insert(0, entry("name", span, str_node(&name, span)));
    let mut root = vec![
        entry("class_name", span, str_node(class, span)),
        entry("config", span, node(Kind::Map(config), span)),
    ];
    if let Some(c) = &m.compile {
        let mut t = vec![];
        if let Some(loss) = c.loss.as_ref().filter(|_| !m.compile_unknown)
            && let Some(n) = loss_node(&loss.value, w)
        {
            t.push(entry("loss", loss.span, n));
        }
        if let Some(metrics) = &c.metrics
            && let Some(n) = metric_node(&metrics.value, w)
        {
            t.push(entry("metrics", metrics.span, n));
        }
        if let Some(lw) = &c.loss_weights
            && let Some(n) = plain(&lw.value, w)
        {
            t.push(entry("loss_weights", lw.span, n));
        }
        // An empty training config would read as "not compiled"; a compile call whose loss is
        // unknown still says the model is compiled, with nothing nnlint can check.
        if t.is_empty() {
            t.push(entry("optimizer", c.span, node(Kind::Null, c.span)));
        }
        root.push(entry("training_config", c.span, node(Kind::Map(t), c.span)));
    }
    node(Kind::Map(root), span)
}

fn object_node(o: &ObjectRec, w: &World, keys: &[&str]) -> Node {
    let mut config = vec![];
    for k in &o.kwargs {
        if keys.contains(&k.name.as_str())
            && let Some(n) = plain(&k.value, w)
        {
            config.push(entry(&k.name, k.span, n));
        }
    }
    node(
        Kind::Map(vec![
            entry(
                "class_name",
                o.callee_span,
                str_node(&o.class, o.callee_span),
            ),
            entry("config", o.call_span, node(Kind::Map(config), o.call_span)),
        ]),
        o.call_span,
    )
}

fn loss_node(v: &SValue, w: &World) -> Option<Node> {
    match &v.value {
        Value::Dict(items) => Some(node(
            Kind::Map(
                items
                    .iter()
                    .filter_map(|(k, i)| Some(entry(k, i.span, loss_node(i, w)?)))
                    .collect(),
            ),
            v.span,
        )),
        Value::Str(s) => Some(str_node(s, v.span)),
        Value::Path(p) => Some(str_node(p.rsplit('.').next().unwrap_or(p), v.span)),
        Value::Function(f) => Some(str_node(&f.name, v.span)),
        Value::Object(o) => {
            // A positional first argument of a loss class is `from_logits`. (`axis`: the class
            // axis a Keras loss reads, rule NNL015.)
            let mut n = object_node(o, w, &["from_logits", "name", "axis"]);
            if let (Some(first), Kind::Map(entries)) = (o.args.first(), &mut n.kind)
                && let Value::Bool(b) = first.value
                && let Some(cfg) = entries.iter_mut().find(|e| e.key == "config")
                && let Kind::Map(c) = &mut cfg.value.kind
            {
                c.push(entry(
                    "from_logits",
                    first.span,
                    node(Kind::Bool(b), first.span),
                ));
            }
            Some(n)
        }
        Value::List(items) | Value::Tuple(items) => Some(node(
            Kind::List(
                items
                    .iter()
                    .map(|i| loss_node(i, w).unwrap_or_else(|| node(Kind::Null, i.span)))
                    .collect(),
            ),
            v.span,
        )),
        _ => None,
    }
}

fn metric_node(v: &SValue, w: &World) -> Option<Node> {
    match &v.value {
        Value::Dict(items) => Some(node(
            Kind::Map(
                items
                    .iter()
                    .filter_map(|(k, i)| Some(entry(k, i.span, metric_node(i, w)?)))
                    .collect(),
            ),
            v.span,
        )),
        Value::List(items) | Value::Tuple(items) => Some(node(
            Kind::List(
                items
                    .iter()
                    .map(|i| metric_node(i, w).unwrap_or_else(|| node(Kind::Null, i.span)))
                    .collect(),
            ),
            v.span,
        )),
        Value::Object(o) => Some(object_node(o, w, &["threshold", "name"])),
        other => loss_node(
            &SValue {
                value: other.clone(),
                span: v.span,
            },
            w,
        ),
    }
}
