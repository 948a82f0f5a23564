//! A memory budget checked before a `ModelProto` is decoded.
//!
//! Protobuf lets a tiny encoding stand for a large decoded value: an empty `NodeProto` is two bytes in
//! the file and several hundred bytes once decoded and lowered, so a 10 MB file of empty nodes would
//! take gigabytes. Before prost allocates anything, [`check`] walks the wire format of the messages
//! that hold the graph (model, graphs, nodes, attributes, functions, training info; the same field
//! numbers as `proto.rs`), estimates what decoding and lowering will allocate, and refuses the file
//! when that exceeds [`BASE_BYTES`] + [`PER_FILE_BYTE`] × the file size. Other messages (tensors,
//! value infos, types) are charged by their length without being read, so weight payloads are never
//! touched. Malformed wire data stops the walk and is left to prost to report.

use super::LoadError;
use super::proto::{
    AttributeProto, DeviceConfigurationProto, FunctionProto, GraphProto, ModelProto,
    NodeDeviceConfigurationProto, NodeProto, OperatorSetIdProto, SparseTensorProto,
    StringStringEntryProto, TensorAnnotation, TensorProto, TypeProto, ValueInfoProto,
};

/// Memory any model may use for its structure, whatever its size.
pub const BASE_BYTES: u64 = 64 << 20;
/// Further memory allowed per byte of the file (real models stay far below: most of a large file is
/// weights, which stay in the memory map).
pub const PER_FILE_BYTE: u64 = 32;

/// What the IR and the lowering add per message (ops, values, name maps); measured: an empty node
/// costs about 870 bytes decoded and lowered.
const LOWERED: u64 = 512;
/// Charged per length-delimited field (a `String`/`Vec`/boxed message header and its map entries),
/// plus [`PER_LEN_BYTE`] per byte of its content.
const PER_FIELD: u64 = 96;
const PER_LEN_BYTE: u64 = 16;
/// Charged per scalar field.
const PER_SCALAR: u64 = 16;
/// prost's recursion limit; deeper data is left to prost to refuse.
const MAX_DEPTH: usize = 100;

#[derive(Clone, Copy)]
enum Kind {
    Model,
    Training,
    Function,
    Graph,
    Node,
    Attribute,
}

impl Kind {
    fn size(self) -> u64 {
        let size = match self {
            Kind::Model => size_of::<ModelProto>(),
            Kind::Training => size_of::<ModelProto>(),
            Kind::Function => size_of::<FunctionProto>(),
            Kind::Graph => size_of::<GraphProto>(),
            Kind::Node => size_of::<NodeProto>(),
            Kind::Attribute => size_of::<AttributeProto>(),
        };
        size as u64 + LOWERED
    }

    /// The decoded size of a message field that is not walked (charged on top of its length).
    fn leaf(self, field: u64) -> u64 {
        use Kind::*;
        let size = match (self, field) {
            (Model | Function, 8 | 9) => size_of::<OperatorSetIdProto>(),
            (Model, 26) => size_of::<DeviceConfigurationProto>(),
            (Graph, 5) | (Attribute, 5 | 10) => size_of::<TensorProto>(),
            (Graph, 15) | (Attribute, 22 | 23) => size_of::<SparseTensorProto>(),
            (Graph, 11..=13) | (Function, 12) => size_of::<ValueInfoProto>(),
            (Graph, 14) => size_of::<TensorAnnotation>(),
            (Attribute, 14 | 15) => size_of::<TypeProto>(),
            (Node, 10) => size_of::<NodeDeviceConfigurationProto>(),
            (Model, 14) | (Graph, 16) | (Node, 9) | (Function, 14) | (Training, 3 | 4) => {
                size_of::<StringStringEntryProto>()
            }
            _ => return 0,
        };
        size as u64 + LOWERED
    }

    /// The walked message a length-delimited field holds, if any.
    fn child(self, field: u64) -> Option<Kind> {
        use Kind::*;
        match (self, field) {
            (Model, 7) => Some(Graph),
            (Model, 20) => Some(Training),
            (Model, 25) => Some(Function),
            (Training, 1 | 2) => Some(Graph),
            (Function, 7) => Some(Node),
            (Function, 11) => Some(Attribute),
            (Graph, 1) => Some(Node),
            (Node, 5) => Some(Attribute),
            (Attribute, 6 | 11) => Some(Graph),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Walk {
    cost: u64,
    nodes: u64,
}

/// Refuses `bytes` (a serialized `ModelProto`) when decoding it would take more memory than the budget.
pub fn check(bytes: &[u8]) -> Result<(), LoadError> {
    let mut walk = Walk::default();
    walk.message(bytes, Kind::Model, 0);
    let limit = BASE_BYTES.saturating_add(PER_FILE_BYTE.saturating_mul(bytes.len() as u64));
    if walk.cost > limit {
        return Err(LoadError::new(format!(
            "refusing to decode the model: its structure ({} nodes in {} bytes) would take about {} MB \
             of memory, more than the limit of {} MB ({} MB + {PER_FILE_BYTE} × the file size)",
            walk.nodes,
            bytes.len(),
            walk.cost >> 20,
            limit >> 20,
            BASE_BYTES >> 20
        )));
    }
    Ok(())
}

fn varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

impl Walk {
    /// Charges one message and its fields; stops quietly at malformed data.
    fn message(&mut self, bytes: &[u8], kind: Kind, depth: usize) {
        self.cost = self.cost.saturating_add(kind.size());
        if matches!(kind, Kind::Node) {
            self.nodes += 1;
        }
        if depth >= MAX_DEPTH {
            return;
        }
        let mut pos = 0;
        while pos < bytes.len() {
            let Some(key) = varint(bytes, &mut pos) else {
                return;
            };
            let (field, wire) = (key >> 3, key & 7);
            let skip = match wire {
                0 => varint(bytes, &mut pos).map(|_| 0),
                1 => Some(8),
                5 => Some(4),
                2 => varint(bytes, &mut pos),
                _ => None,
            };
            let Some(len) = skip.and_then(|l| usize::try_from(l).ok()) else {
                return;
            };
            let Some(end) = pos.checked_add(len).filter(|&e| e <= bytes.len()) else {
                return;
            };
            if wire == 2 {
                match kind.child(field) {
                    Some(child) => self.message(&bytes[pos..end], child, depth + 1),
                    None => {
                        let charge = PER_FIELD
                            .saturating_add(kind.leaf(field))
                            .saturating_add(PER_LEN_BYTE.saturating_mul(len as u64));
                        self.cost = self.cost.saturating_add(charge);
                    }
                }
            } else {
                self.cost = self.cost.saturating_add(PER_SCALAR);
            }
            pos = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_nodes(n: usize) -> Vec<u8> {
        let graph: Vec<u8> = [0x0a, 0x00].repeat(n);
        let mut len = Vec::new();
        let mut v = graph.len() as u64;
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                len.push(b);
                break;
            }
            len.push(b | 0x80);
        }
        let mut model = vec![0x08, 0x08, 0x3a];
        model.extend(len);
        model.extend(graph);
        model
    }

    #[test]
    fn refuses_millions_of_empty_nodes_and_accepts_a_few() {
        let e = check(&empty_nodes(2_000_000)).unwrap_err();
        assert!(e.message.contains("2000000 nodes"), "{}", e.message);
        check(&empty_nodes(10_000)).unwrap();
    }

    #[test]
    fn malformed_data_is_left_to_prost() {
        check(&[0x3a, 0xff]).unwrap();
        check(&[0xff; 16]).unwrap();
        check(&[]).unwrap();
    }
}
