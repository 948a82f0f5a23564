//! The one protobuf wire-format walker over a serialized `ModelProto`, and the one table of which
//! length-delimited fields hold the messages it looks into (the field numbers of `proto.rs`). The
//! memory budget (`budget.rs`) and the structure-only read of large files (`structure.rs`) are two
//! visitors of the same walk, so a large file is walked once.
//!
//! The walk stops at the first malformed key or length, a group, or a field number out of range and
//! returns `None`: what it saw so far stands, and prost reports the error when it decodes.

use std::ops::Range;

/// The messages whose fields the walk looks into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    Training,
    Function,
    Graph,
    Node,
    Attribute,
    Sparse,
    Tensor,
}

/// The kind of a length-delimited field of a `kind` message, when it is a message the walk looks into.
pub fn child(kind: Kind, field: u64) -> Option<Kind> {
    use Kind::*;
    match (kind, field) {
        (Model, 7) => Some(Graph),
        (Model, 20) => Some(Training),
        (Model, 25) => Some(Function),
        (Training, 1 | 2) => Some(Graph),
        (Function, 7) => Some(Node),
        (Function, 11) => Some(Attribute),
        (Graph, 1) => Some(Node),
        (Graph, 5) => Some(Tensor),
        (Graph, 15) => Some(Sparse),
        (Node, 5) => Some(Attribute),
        (Attribute, 5 | 10) => Some(Tensor),
        (Attribute, 6 | 11) => Some(Graph),
        (Attribute, 22 | 23) => Some(Sparse),
        (Sparse, 1 | 2) => Some(Tensor),
        _ => None,
    }
}

/// prost refuses deeper nesting; deeper messages are handed to the visitor as bytes.
pub const MAX_DEPTH: usize = 100;

/// Where the walk reads bytes from: a slice, or a file read on demand.
pub trait Source {
    /// Makes `[start, end)` readable; `cap` is the end of the enclosing message (a bound for
    /// read-ahead). `None` on an I/O error.
    fn ensure(&mut self, start: usize, end: usize, cap: usize) -> Option<()>;
    /// The byte at `pos`, once ensured.
    fn byte(&self, pos: usize) -> u8;
}

impl Source for &[u8] {
    fn ensure(&mut self, _start: usize, end: usize, _cap: usize) -> Option<()> {
        (end <= self.len()).then_some(())
    }
    fn byte(&self, pos: usize) -> u8 {
        self[pos]
    }
}

/// A length-delimited field of a `kind` message, its body at `body` in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub kind: Kind,
    pub number: u64,
    pub body: Range<usize>,
}

/// What a walk reports. Every method has a default, so a visitor implements what it needs.
pub trait Visitor {
    /// A message of `kind`, `len` bytes long, begins (the model itself, or a field the table names).
    fn enter(&mut self, _kind: Kind, _len: usize) {}
    /// The message entered last ends.
    fn exit(&mut self, _kind: Kind) {}
    /// A varint or fixed-width field of a `kind` message.
    fn scalar(&mut self, _kind: Kind) {}
    /// A length-delimited field that is not walked into. Returning `None` stops the walk.
    fn bytes<S: Source>(&mut self, _source: &mut S, _field: Field) -> Option<()> {
        Some(())
    }
}

/// Walks a `kind` message stored at `[start, end)` of `source`.
pub fn walk<S: Source, V: Visitor>(
    source: &mut S,
    visitor: &mut V,
    kind: Kind,
    start: usize,
    end: usize,
) -> Option<()> {
    message(source, visitor, kind, start, end, 0)
}

fn message<S: Source, V: Visitor>(
    source: &mut S,
    visitor: &mut V,
    kind: Kind,
    start: usize,
    end: usize,
    depth: usize,
) -> Option<()> {
    visitor.enter(kind, end - start);
    let mut pos = start;
    while pos < end {
        let key = varint(source, &mut pos, end)?;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return None;
        }
        match key & 7 {
            0 => {
                varint(source, &mut pos, end)?;
                visitor.scalar(kind);
            }
            wire @ (1 | 5) => {
                let width = if wire == 1 { 8 } else { 4 };
                let next = pos.checked_add(width).filter(|&n| n <= end)?;
                source.ensure(pos, next, end)?;
                visitor.scalar(kind);
                pos = next;
            }
            2 => {
                let len = usize::try_from(varint(source, &mut pos, end)?).ok()?;
                let body_end = pos.checked_add(len).filter(|&n| n <= end)?;
                match child(kind, field) {
                    Some(inner) if depth < MAX_DEPTH => {
                        message(source, visitor, inner, pos, body_end, depth + 1)?;
                    }
                    _ => visitor.bytes(
                        source,
                        Field {
                            kind,
                            number: field,
                            body: pos..body_end,
                        },
                    )?,
                }
                pos = body_end;
            }
            _ => return None,
        }
    }
    visitor.exit(kind);
    Some(())
}

fn varint<S: Source>(source: &mut S, pos: &mut usize, end: usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        if *pos >= end {
            return None;
        }
        source.ensure(*pos, *pos + 1, end)?;
        let byte = source.byte(*pos);
        *pos += 1;
        value |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count {
        nodes: usize,
        scalars: usize,
        leaves: Vec<(Kind, u64, usize)>,
    }

    impl Visitor for Count {
        fn enter(&mut self, kind: Kind, _len: usize) {
            self.nodes += usize::from(kind == Kind::Node);
        }
        fn scalar(&mut self, _kind: Kind) {
            self.scalars += 1;
        }
        fn bytes<S: Source>(&mut self, _: &mut S, f: Field) -> Option<()> {
            self.leaves.push((f.kind, f.number, f.body.len()));
            Some(())
        }
    }

    #[test]
    fn walks_into_the_messages_of_the_table_and_reports_the_rest() {
        // ModelProto { ir_version: 8, graph: { node: [{ op_type: "Relu" }, {}] }, producer_name: "x" }
        let node = [0x22, 4, b'R', b'e', b'l', b'u'];
        let mut graph = vec![0x0a, node.len() as u8];
        graph.extend(node);
        graph.extend([0x0a, 0]);
        let mut model = vec![0x08, 0x08, 0x3a, graph.len() as u8];
        model.extend(&graph);
        model.extend([0x12, 1, b'x']);
        let mut count = Count::default();
        let mut src: &[u8] = &model;
        walk(&mut src, &mut count, Kind::Model, 0, model.len()).unwrap();
        assert_eq!(count.nodes, 2);
        assert_eq!(count.scalars, 1);
        assert_eq!(count.leaves, vec![(Kind::Node, 4, 4), (Kind::Model, 2, 1)]);
    }

    #[test]
    fn malformed_data_stops_the_walk() {
        for bad in [&[0x3a, 0xff][..], &[0xff; 16], &[0x03], &[0x00, 0x00]] {
            let mut src: &[u8] = bad;
            assert!(walk(&mut src, &mut Count::default(), Kind::Model, 0, bad.len()).is_none());
        }
    }
}
