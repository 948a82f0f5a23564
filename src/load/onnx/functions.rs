//! Model-local ONNX functions (`ModelProto.functions`, e.g. torch.onnx's `export_modules_as_functions`)
//! inlined into the main graph before lowering, so a head wrapped in a function is seen op by op.
//!
//! A call node is replaced by the function's nodes with formal inputs and outputs renamed to the
//! call's actual names, values made inside the function prefixed with the call's node name
//! (`head/onnx::Softmax_7`), node names prefixed likewise, and attribute references (`ref_attr_name`)
//! resolved against the call's attributes or the function's defaults. Nested calls are inlined up to
//! [`MAX_DEPTH`] levels. Anything unusual (a recursive call, a graph-valued attribute inside the body,
//! a call with more inputs or outputs than the function declares, a node budget exceeded) leaves that
//! call as it is: an op nnlint does not know, never an error.

use std::collections::HashMap;

use super::proto::{AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto};

/// Deepest chain of function calls inside functions that is inlined.
pub const MAX_DEPTH: usize = 16;
/// Most nodes the inlined graph may have (guards against a function called many times that calls
/// others many times: exponential growth).
pub const MAX_NODES: usize = 1 << 20;

type Key<'a> = (&'a str, &'a str, &'a str);

/// The main graph with every call of a model-local function inlined; `None` when there is none.
pub fn inline(model: &ModelProto, graph: &GraphProto) -> Option<GraphProto> {
    if model.functions.is_empty() {
        return None;
    }
    let table: HashMap<Key<'_>, &FunctionProto> = model
        .functions
        .iter()
        .map(|f| ((f.domain.as_str(), f.name.as_str(), f.overload.as_str()), f))
        .collect();
    let calls = |n: &NodeProto| {
        table.contains_key(&(n.domain.as_str(), n.op_type.as_str(), n.overload.as_str()))
    };
    if !graph.node.iter().any(calls) {
        return None;
    }
    let mut cx = Inliner {
        table,
        budget: MAX_NODES,
        counter: 0,
        stack: vec![],
    };
    let mut out = graph.clone();
    out.node = cx.expand(&graph.node, 0);
    Some(out)
}

struct Inliner<'a> {
    table: HashMap<Key<'a>, &'a FunctionProto>,
    budget: usize,
    counter: usize,
    /// Functions being expanded (recursion guard).
    stack: Vec<&'a FunctionProto>,
}

impl<'a> Inliner<'a> {
    fn expand(&mut self, nodes: &[NodeProto], depth: usize) -> Vec<NodeProto> {
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            match self.call(node, depth) {
                Some(body) => out.extend(body),
                None => out.push(node.clone()),
            }
        }
        out
    }

    /// The inlined body of a call, or `None` to keep the node as it is.
    fn call(&mut self, node: &NodeProto, depth: usize) -> Option<Vec<NodeProto>> {
        let key = (
            node.domain.as_str(),
            node.op_type.as_str(),
            node.overload.as_str(),
        );
        let f: &'a FunctionProto = self.table.get(&key).copied()?;
        if depth >= MAX_DEPTH
            || self.stack.iter().any(|s| std::ptr::eq(*s, f))
            || node.input.len() > f.input.len()
            || node.output.len() > f.output.len()
            || f.node.len() > self.budget
            || f.node.iter().any(|n| {
                n.attribute
                    .iter()
                    .any(|a| a.g.is_some() || !a.graphs.is_empty())
            })
        {
            return None;
        }
        self.budget -= f.node.len();
        self.counter += 1;
        let prefix = if node.name.is_empty() {
            format!("{}#{}", f.name, self.counter)
        } else {
            node.name.clone()
        };
        let mut names: HashMap<&str, String> = HashMap::new();
        for (i, formal) in f.input.iter().enumerate() {
            names.insert(formal, node.input.get(i).cloned().unwrap_or_default());
        }
        for (i, formal) in f.output.iter().enumerate() {
            // An output the call does not take still gets a unique internal name.
            let actual = match node.output.get(i) {
                Some(a) if !a.is_empty() => a.clone(),
                _ => format!("{prefix}/{formal}"),
            };
            names.insert(formal, actual);
        }
        let rename = |names: &HashMap<&str, String>, n: &str| -> String {
            if n.is_empty() {
                return String::new();
            }
            names
                .get(n)
                .cloned()
                .unwrap_or_else(|| format!("{prefix}/{n}"))
        };
        let mut body = Vec::with_capacity(f.node.len());
        for inner in &f.node {
            let mut n = inner.clone();
            n.input = inner.input.iter().map(|i| rename(&names, i)).collect();
            n.output = inner.output.iter().map(|o| rename(&names, o)).collect();
            n.name = if inner.name.is_empty() {
                prefix.clone()
            } else {
                format!("{prefix}/{}", inner.name)
            };
            n.attribute = inner
                .attribute
                .iter()
                .filter_map(|a| resolve(a, node, f))
                .collect();
            body.push(n);
        }
        self.stack.push(f);
        let body = self.expand(&body, depth + 1);
        self.stack.pop();
        Some(body)
    }
}

/// An attribute of a node inside the function, with a reference resolved: the call's attribute of
/// that name, else the function's default; dropped when neither exists (the op's default applies).
fn resolve(a: &AttributeProto, call: &NodeProto, f: &FunctionProto) -> Option<AttributeProto> {
    if a.ref_attr_name.is_empty() {
        return Some(a.clone());
    }
    let source = call
        .attribute
        .iter()
        .chain(&f.attribute_proto)
        .find(|c| c.name == a.ref_attr_name)?;
    let mut out = source.clone();
    out.name = a.name.clone();
    out.ref_attr_name.clear();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, domain: &str, inputs: &[&str], outputs: &[&str], name: &str) -> NodeProto {
        NodeProto {
            op_type: op.into(),
            domain: domain.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn model(functions: Vec<FunctionProto>, nodes: Vec<NodeProto>) -> (ModelProto, GraphProto) {
        let g = GraphProto {
            node: nodes,
            ..Default::default()
        };
        (
            ModelProto {
                functions,
                ..Default::default()
            },
            g,
        )
    }

    fn head_fn() -> FunctionProto {
        let mut softmax = node("Softmax", "", &["z"], &["y"], "sm");
        softmax.attribute.push(AttributeProto {
            name: "axis".into(),
            ref_attr_name: "dim".into(),
            ..Default::default()
        });
        FunctionProto {
            name: "Head".into(),
            domain: "local".into(),
            input: vec!["x".into(), "w".into()],
            output: vec!["y".into()],
            attribute_proto: vec![AttributeProto {
                name: "dim".into(),
                i: Some(-1),
                r#type: 2,
                ..Default::default()
            }],
            node: vec![node("MatMul", "", &["x", "w"], &["z"], "mm"), softmax],
            ..Default::default()
        }
    }

    #[test]
    fn a_call_becomes_the_function_body_with_names_and_attributes_resolved() {
        let mut call = node("Head", "local", &["h", "W"], &["out"], "head");
        call.attribute.push(AttributeProto {
            name: "dim".into(),
            i: Some(1),
            r#type: 2,
            ..Default::default()
        });
        let (m, g) = model(
            vec![head_fn()],
            vec![node("Relu", "", &["in"], &["h"], "r"), call],
        );
        let out = inline(&m, &g).unwrap();
        let ops: Vec<&str> = out.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Relu", "MatMul", "Softmax"]);
        assert_eq!(out.node[1].input, ["h", "W"]);
        assert_eq!(out.node[1].output, ["head/z"]);
        assert_eq!(out.node[2].input, ["head/z"]);
        assert_eq!(out.node[2].output, ["out"]);
        assert_eq!(out.node[2].name, "head/sm");
        assert_eq!(out.node[2].attribute[0].name, "axis");
        assert_eq!(out.node[2].attribute[0].i, Some(1));
        assert!(out.node[2].attribute[0].ref_attr_name.is_empty());
    }

    #[test]
    fn defaults_apply_and_recursion_is_left_alone() {
        let (m, g) = model(
            vec![head_fn()],
            vec![node("Head", "local", &["a", "b"], &["c"], "")],
        );
        let out = inline(&m, &g).unwrap();
        assert_eq!(out.node[1].attribute[0].i, Some(-1));
        assert_eq!(out.node[0].name, "Head#1/mm");

        let mut rec = head_fn();
        rec.node
            .push(node("Head", "local", &["y", "w"], &["y2"], "again"));
        let (m, g) = model(
            vec![rec],
            vec![node("Head", "local", &["a", "b"], &["c"], "h")],
        );
        let out = inline(&m, &g).unwrap();
        let ops: Vec<&str> = out.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["MatMul", "Softmax", "Head"]);
    }

    #[test]
    fn no_functions_no_copy() {
        let (m, g) = model(vec![], vec![node("Relu", "", &["a"], &["b"], "")]);
        assert!(inline(&m, &g).is_none());
    }
}
