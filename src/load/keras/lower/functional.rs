//! Functional models: each layer's inbound nodes (Keras 3 `__keras_tensor__` entries, Keras 2 nested
//! lists) resolved to the tensors of earlier calls, in an order that respects them; the model's
//! inputs and outputs.

use super::*;

/// `[layer_name, node_index, tensor_index]` and the shape the file declares for that tensor.
struct TensorRefNode {
    layer: String,
    node: usize,
    tensor: usize,
    shape: Option<Shape>,
    span: Span,
}

fn parse_ref(node: &Node) -> Option<TensorRefNode> {
    let list = node.as_list()?;
    let layer = list.first()?.as_str()?.to_string();
    let index = |i: usize| -> Option<usize> {
        match list.get(i) {
            None => Some(0),
            Some(n) => n.as_i64().and_then(|v| usize::try_from(v).ok()),
        }
    };
    Some(TensorRefNode {
        layer,
        node: index(1)?,
        tensor: index(2)?,
        shape: None,
        span: node.span,
    })
}

/// Keras 3 writes tensors as `{"class_name": "__keras_tensor__", "config": {"shape", "keras_history"}}`
/// anywhere inside a node's `args`/`kwargs`; collect them in order.
fn collect_keras_tensors(node: &Node, out: &mut Vec<TensorRefNode>) {
    match &node.kind {
        Kind::Map(entries) => {
            if node.get("class_name").and_then(Node::as_str) == Some("__keras_tensor__") {
                let cfg = node.get("config");
                if let Some(mut r) = cfg.and_then(|c| c.get("keras_history")).and_then(parse_ref) {
                    r.shape = cfg.and_then(|c| c.get("shape")).and_then(keras_shape);
                    r.span = node.span;
                    out.push(r);
                }
                return;
            }
            for e in entries {
                collect_keras_tensors(&e.value, out);
            }
        }
        Kind::List(items) => items.iter().for_each(|i| collect_keras_tensors(i, out)),
        _ => {}
    }
}

/// `[name, node, tensor]` lists inside a Keras 2 kwargs mapping.
fn collect_keras2_refs(node: &Node, out: &mut Vec<TensorRefNode>) {
    match &node.kind {
        Kind::Map(entries) => entries
            .iter()
            .for_each(|e| collect_keras2_refs(&e.value, out)),
        Kind::List(items) => {
            let is_ref = items.len() == 3
                && items[0].as_str().is_some()
                && items[1].as_i64().is_some()
                && items[2].as_i64().is_some();
            match (is_ref, parse_ref(node)) {
                (true, Some(r)) => out.push(r),
                _ => items.iter().for_each(|i| collect_keras2_refs(i, out)),
            }
        }
        _ => {}
    }
}

/// The inputs of one call of a layer, in either layout.
fn parse_inbound(node: &Node, layer: &Layer) -> Result<Vec<TensorRefNode>> {
    let mut refs = vec![];
    match &node.kind {
        // Keras 3: {"args": [...], "kwargs": {...}}
        Kind::Map(_) => {
            if let Some(args) = node.get("args") {
                collect_keras_tensors(args, &mut refs);
            }
            if let Some(kwargs) = node.get("kwargs") {
                collect_keras_tensors(kwargs, &mut refs);
            }
        }
        // Keras 2: [[name, node, tensor, kwargs], ...], or one [name, node, tensor, kwargs] (TFOpLambda).
        // Tensors passed as keyword arguments are written as [name, node, tensor] inside kwargs.
        Kind::List(items) => {
            let entries: Vec<&Node> = if items.first().is_some_and(|f| f.as_str().is_some()) {
                vec![node]
            } else {
                items.iter().collect()
            };
            let mut kwarg_refs = vec![];
            for item in entries {
                match parse_ref(item) {
                    Some(r) => refs.push(r),
                    None => {
                        return fail(
                            format!(
                                "{}: an inbound node entry must be [layer_name, node_index, tensor_index, kwargs]",
                                layer.what()
                            ),
                            Some(item.span),
                        );
                    }
                }
                if let Some(kwargs) = item.as_list().and_then(|l| l.get(3)) {
                    collect_keras2_refs(kwargs, &mut kwarg_refs);
                }
            }
            refs.extend(kwarg_refs);
        }
        _ => {
            return fail(
                format!(
                    "{}: an inbound node must be a list or a mapping, found {}",
                    layer.what(),
                    node.type_name()
                ),
                Some(node.span),
            );
        }
    }
    Ok(refs)
}

/// `input_layers` / `output_layers`: one `[name, node, tensor]`, a list of them, or a dict of them.
fn parse_endpoints(
    node: Option<&Node>,
    what: &str,
    path: &str,
) -> Result<Vec<(Option<String>, TensorRefNode)>> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Ok(vec![]);
    };
    let bad = |n: &Node| LowerError {
        message: format!(
            "model `{path}`: `{what}` entries must be [layer_name, node_index, tensor_index]"
        ),
        at: Some(n.span),
    };
    match &node.kind {
        Kind::List(items) if items.first().is_some_and(|f| f.as_str().is_some()) => {
            Ok(vec![(None, parse_ref(node).ok_or_else(|| bad(node))?)])
        }
        Kind::List(items) => items
            .iter()
            .map(|i| parse_ref(i).map(|r| (None, r)).ok_or_else(|| bad(i)))
            .collect(),
        Kind::Map(entries) => entries
            .iter()
            .map(|e: &Entry| {
                parse_ref(&e.value)
                    .map(|r| (Some(e.key.clone()), r))
                    .ok_or_else(|| bad(&e.value))
            })
            .collect(),
        _ => Err(bad(node)),
    }
}

pub(super) fn lower_functional(
    cx: &mut Cx,
    config: &Node,
    layers: &[Node],
    path: &str,
    bound: Option<&[ValueId]>,
) -> Result<(Vec<ValueId>, Vec<Vec<String>>)> {
    let parsed: Vec<Layer> = layers
        .iter()
        .enumerate()
        .map(|(i, n)| Layer::parse(n, i, path))
        .collect::<Result<_>>()?;
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, l) in parsed.iter().enumerate() {
        if by_name.insert(l.name.as_str(), i).is_some() {
            return fail(
                format!("model `{path}` has two layers named `{}`", l.name),
                Some(l.node.span),
            );
        }
    }
    // Every call of every layer: (layer index, node index, inputs).
    let mut calls: Vec<(usize, usize, Vec<TensorRefNode>)> = vec![];
    for (i, l) in parsed.iter().enumerate() {
        let nodes = match l.node.get("inbound_nodes") {
            None => vec![],
            Some(n) if n.is_null() => vec![],
            Some(n) => n
                .as_list()
                .ok_or_else(|| LowerError {
                    message: format!("{}: `inbound_nodes` must be a list", l.what()),
                    at: Some(n.span),
                })?
                .iter()
                .collect(),
        };
        if nodes.is_empty() && !is_input_layer(l.class) {
            continue; // defined but never called
        }
        if is_input_layer(l.class) {
            continue;
        }
        for (k, node) in nodes.into_iter().enumerate() {
            calls.push((i, k, parse_inbound(node, l)?));
        }
    }

    let node_count = |l: &Layer| -> usize {
        if is_input_layer(l.class) {
            return 1;
        }
        l.node
            .get("inbound_nodes")
            .and_then(Node::as_list)
            .map_or(0, <[Node]>::len)
    };
    // Keras 2 numbers the calls of a nested model that starts with an InputLayer from 1: its node 0 is
    // the model's own construction, which the config leaves out (tf.keras `_should_skip_first_node`).
    let keras2_nodes = parsed.iter().any(|l| {
        l.node
            .get("inbound_nodes")
            .and_then(Node::as_list)
            .is_some_and(|n| n.iter().any(|x| x.as_list().is_some()))
    });
    let skip_first: Vec<bool> = parsed
        .iter()
        .map(|l| {
            keras2_nodes
                && l.config
                    .get("layers")
                    .and_then(Node::as_list)
                    .and_then(<[Node]>::first)
                    .and_then(|f| f.get("class_name"))
                    .and_then(Node::as_str)
                    .is_some_and(is_input_layer)
        })
        .collect();
    let adjust = |r: &mut TensorRefNode, src: usize, who: &str| -> Result<()> {
        if skip_first[src] {
            if r.node == 0 {
                return fail(
                    format!(
                        "{who} takes node 0 of nested model `{}`, which Keras 2 never saves",
                        r.layer
                    ),
                    Some(r.span),
                );
            }
            r.node -= 1;
        }
        Ok(())
    };
    for (li, k, refs) in &mut calls {
        for r in refs.iter_mut() {
            let Some(&src) = by_name.get(r.layer.as_str()) else {
                return fail(
                    format!(
                        "{} takes input from `{}`, which is not a layer of model `{path}`",
                        parsed[*li].what(),
                        r.layer
                    ),
                    Some(r.span),
                );
            };
            adjust(r, src, &parsed[*li].what())?;
            if r.node >= node_count(&parsed[src]) {
                return fail(
                    format!(
                        "{} (call {k}) takes node {} of `{}`, which has no such node",
                        parsed[*li].what(),
                        r.node,
                        r.layer
                    ),
                    Some(r.span),
                );
            }
        }
    }

    let inputs = parse_endpoints(config.get("input_layers"), "input_layers", path)?;
    let mut outputs = parse_endpoints(config.get("output_layers"), "output_layers", path)?;
    for (_, r) in &mut outputs {
        if let Some(&src) = by_name.get(r.layer.as_str()) {
            adjust(r, src, &format!("model `{path}`"))?;
        }
    }
    let mut produced: HashMap<(usize, usize), Vec<ValueId>> = HashMap::new();

    if let Some(bound) = bound
        && bound.len() != inputs.len()
    {
        return fail(
            format!(
                "model `{path}` is called on {} tensors but declares {} inputs",
                bound.len(),
                inputs.len()
            ),
            Some(config.span),
        );
    }
    for (pos, (_, r)) in inputs.iter().enumerate() {
        let &i = by_name.get(r.layer.as_str()).ok_or_else(|| LowerError {
            message: format!(
                "model `{path}`: input layer `{}` is not a layer of the model",
                r.layer
            ),
            at: Some(r.span),
        })?;
        let v = match bound {
            Some(b) => b[pos],
            None => {
                let shape = input_layer_shape(&parsed[i])?;
                input_value(cx, &parsed[i], shape)?
            }
        };
        produced.insert((i, 0), vec![v]);
    }
    // InputLayers not listed as model inputs still define a tensor.
    for (i, l) in parsed.iter().enumerate() {
        if is_input_layer(l.class) && !produced.contains_key(&(i, 0)) && bound.is_none() {
            let shape = input_layer_shape(l)?;
            let v = input_value(cx, l, shape)?;
            produced.insert((i, 0), vec![v]);
        }
    }

    // Resolve calls in file order, pass after pass, until nothing is left or nothing moves.
    let mut pending: Vec<usize> = (0..calls.len()).collect();
    while !pending.is_empty() {
        let mut next = vec![];
        let mut progressed = false;
        for &c in &pending {
            let (li, k, refs) = &calls[c];
            let mut ready = true;
            for r in refs {
                if !produced.contains_key(&(by_name[r.layer.as_str()], r.node)) {
                    ready = false;
                    break;
                }
            }
            if !ready {
                next.push(c);
                continue;
            }
            let mut args = vec![];
            for r in refs {
                let src = by_name[r.layer.as_str()];
                let v = output_of(cx, &parsed[src], &mut produced, src, r)?;
                cx.set_shape(v, r.shape.clone());
                args.push(v);
            }
            let outs = super::super::layers::lower_layer(cx, &parsed[*li], &args, *k)?;
            produced.insert((*li, *k), outs);
            progressed = true;
        }
        if !progressed {
            let (li, k, refs) = &calls[next[0]];
            let missing = refs
                .iter()
                .find(|r| !produced.contains_key(&(by_name[r.layer.as_str()], r.node)))
                .map(|r| format!("`{}` node {}", r.layer, r.node))
                .unwrap_or_default();
            return fail(
                format!(
                    "the inbound nodes of model `{path}` form a cycle: {} (call {k}) waits for {missing}, which depends on it",
                    parsed[*li].what()
                ),
                Some(parsed[*li].node.span),
            );
        }
        pending = next;
    }

    let mut out_values = vec![];
    let mut out_names = vec![];
    for (key, r) in &outputs {
        let &src = by_name.get(r.layer.as_str()).ok_or_else(|| LowerError {
            message: format!(
                "model `{path}`: output layer `{}` is not a layer of the model",
                r.layer
            ),
            at: Some(r.span),
        })?;
        if !produced.contains_key(&(src, r.node)) {
            return fail(
                format!(
                    "model `{path}`: output `{}` node {} is never computed",
                    r.layer, r.node
                ),
                Some(r.span),
            );
        }
        let v = output_of(cx, &parsed[src], &mut produced, src, r)?;
        out_values.push(v);
        let mut names = vec![];
        if let Some(k) = key {
            names.push(k.clone());
        }
        names.push(r.layer.clone());
        out_names.push(names);
    }
    if out_values.is_empty() {
        return fail(
            format!("model `{path}` declares no outputs"),
            Some(config.span),
        );
    }
    Ok((out_values, out_names))
}

/// Output `r.tensor` of a call; an opaque layer grows extra outputs on demand.
fn output_of(
    cx: &mut Cx,
    layer: &Layer,
    produced: &mut HashMap<(usize, usize), Vec<ValueId>>,
    src: usize,
    r: &TensorRefNode,
) -> Result<ValueId> {
    let outs = produced
        .get_mut(&(src, r.node))
        .expect("checked by the caller");
    if let Some(&v) = outs.get(r.tensor) {
        return Ok(v);
    }
    let producer = outs.first().and_then(|&v| cx.graph.value(v).producer);
    let opaque = producer.is_some_and(|p| cx.graph.op(p).domain == "keras");
    if !opaque || r.tensor > 64 {
        return fail(
            format!(
                "{} has no output #{} (it has {})",
                layer.what(),
                r.tensor,
                outs.len()
            ),
            Some(r.span),
        );
    }
    let op_id = producer.expect("opaque implies a producer");
    while outs.len() <= r.tensor {
        let base = cx.graph.value(outs[0]).name.clone();
        let v = cx.value(&format!("{base}:{}", outs.len()), None);
        let dtype = cx.graph.value(outs[0]).dtype;
        cx.graph.value_mut(v).producer = Some(op_id);
        cx.graph.value_mut(v).dtype = dtype;
        cx.graph.ops[op_id.0 as usize].outputs.push(v);
        outs.push(v);
    }
    Ok(outs[r.tensor])
}
