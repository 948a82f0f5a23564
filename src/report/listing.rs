//! A binary ONNX file has no text to point at, so findings on graphs are shown against a short listing
//! of the part of the graph that matters: one line per node with its op, inputs → outputs, shapes and
//! key attributes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::ir::{Attr, Graph, OpId, shape_to_string};

/// The listing text and, for every op shown, the byte range of its line.
pub struct Listing {
    pub text: String,
    pub lines: Vec<(OpId, usize, usize)>,
}

impl Listing {
    pub fn span_of(&self, op: OpId) -> Option<(usize, usize)> {
        self.lines
            .iter()
            .find(|(o, _, _)| *o == op)
            .map(|&(_, start, len)| (start, len))
    }
}

/// Lists `focus` with a few producers before it and the consumers after it up to the graph outputs.
/// With `max_line`, long tensor names are abbreviated and each line is cut to that many characters.
pub fn around(graph: &Graph, focus: &[OpId], max_line: Option<usize>) -> Listing {
    let mut shown: BTreeSet<OpId> = BTreeSet::new();
    for &op in focus {
        walk_back(graph, op, 3, &mut shown);
        walk_forward(graph, op, 3, &mut shown);
    }
    let mut text = String::new();
    let mut lines = vec![];
    for op in shown {
        let start = text.len();
        let mut line = String::new();
        write_op(graph, op, max_line.map(|w| (w / 4).max(12)), &mut line);
        // On a narrow display only the node's name and op are underlined, so that the label text
        // next to the underline fits too.
        let mut labelled = line.len();
        if let Some(max) = max_line {
            line = cut(&line, max);
            labelled = line.find('(').unwrap_or(line.len());
        }
        text.push_str(&line);
        lines.push((op, start, labelled));
        text.push('\n');
    }
    Listing { text, lines }
}

fn walk_back(graph: &Graph, op: OpId, depth: usize, shown: &mut BTreeSet<OpId>) {
    if !shown.insert(op) || depth == 0 {
        return;
    }
    for input in graph.op(op).inputs.iter().flatten() {
        if let Some(p) = graph.value(*input).producer
            && graph.value(*input).constant.is_none()
        {
            walk_back(graph, p, depth - 1, shown);
        }
    }
}

fn walk_forward(graph: &Graph, op: OpId, depth: usize, shown: &mut BTreeSet<OpId>) {
    shown.insert(op);
    if depth == 0 {
        return;
    }
    for &out in &graph.op(op).outputs {
        for c in graph.consumers(out) {
            walk_forward(graph, c, depth - 1, shown);
        }
    }
}

/// `text` cut to at most `max` characters, the cut marked with `…`.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A name of at most `max` characters: its start and its end around `…` (the end of a tensor name,
/// `…/head_1/MatMul:0`, tells most).
fn abbreviate(name: &str, max: Option<usize>) -> String {
    let n = name.chars().count();
    match max {
        Some(max) if n > max => {
            let head = max / 3;
            let tail = max - head - 1;
            let start: String = name.chars().take(head).collect();
            let end: String = name.chars().skip(n - tail).collect();
            format!("{start}…{end}")
        }
        _ => name.to_string(),
    }
}

fn write_op(graph: &Graph, id: OpId, max_name: Option<usize>, text: &mut String) {
    let op = graph.op(id);
    // The node's own name is what the finding names and labels: it gets twice the room of the
    // tensor names around it.
    let name = if op.name.is_empty() {
        format!("#{}", op.origin.index)
    } else {
        abbreviate(&op.name, max_name.map(|m| m * 2))
    };
    let value = |v: &crate::ir::ValueId| {
        let val = graph.value(*v);
        let mut s = format!(
            "{} {}",
            abbreviate(&val.name, max_name),
            shape_to_string(val.shape.as_ref())
        );
        if graph.is_output(*v) {
            s.push_str(" (graph output)");
        }
        s
    };
    let inputs: Vec<String> = op
        .inputs
        .iter()
        .map(|i| i.as_ref().map_or_else(|| "∅".to_string(), value))
        .collect();
    let outputs: Vec<String> = op.outputs.iter().map(value).collect();
    let _ = write!(
        text,
        "{name}: {}({}) -> {}",
        op.op_type,
        inputs.join(", "),
        outputs.join(", ")
    );
    let attrs: Vec<String> = op
        .attrs
        .iter()
        .filter_map(|(k, v)| {
            let shown = match v {
                Attr::Int(i) => i.to_string(),
                Attr::Float(f) => f.to_string(),
                Attr::String(s) => format!("{:?}", String::from_utf8_lossy(s)),
                Attr::Ints(v) if v.len() <= 8 => format!("{v:?}"),
                Attr::Floats(v) if v.len() <= 8 => format!("{v:?}"),
                _ => return None,
            };
            Some(format!("{k}={shown}"))
        })
        .collect();
    if !attrs.is_empty() {
        let _ = write!(text, "  {}", attrs.join(" "));
    }
}
