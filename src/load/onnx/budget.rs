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
use super::wire::{self, Field, Kind, Source, Visitor};

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

/// The decoded size of a message the budget charges as a whole.
fn size(kind: Kind) -> u64 {
    let size = match kind {
        Kind::Model | Kind::Training => size_of::<ModelProto>(),
        Kind::Function => size_of::<FunctionProto>(),
        Kind::Graph => size_of::<GraphProto>(),
        Kind::Node => size_of::<NodeProto>(),
        Kind::Attribute => size_of::<AttributeProto>(),
        Kind::Tensor => size_of::<TensorProto>(),
        Kind::Sparse => size_of::<SparseTensorProto>(),
    };
    size as u64 + LOWERED
}

/// The decoded size of a length-delimited field of a `kind` message that holds another message
/// (charged on top of its length), or 0 for strings and bytes.
fn leaf(kind: Kind, field: u64) -> u64 {
    use Kind::*;
    let size = match (kind, field) {
        (Model | Function, 8 | 9) => size_of::<OperatorSetIdProto>(),
        (Model, 26) => size_of::<DeviceConfigurationProto>(),
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

/// Estimates what decoding and lowering will allocate, as a visitor of the wire walk. Tensors and
/// sparse tensors are charged by their length without looking inside, so weight payloads cost nothing
/// to read.
#[derive(Default)]
pub struct Budget {
    cost: u64,
    nodes: u64,
    /// Nesting inside a message charged as a whole.
    opaque: usize,
}

impl Visitor for Budget {
    fn enter(&mut self, kind: Kind, len: usize) {
        if self.opaque > 0 || matches!(kind, Kind::Tensor | Kind::Sparse) {
            if self.opaque == 0 {
                self.charge(
                    PER_FIELD
                        .saturating_add(size(kind))
                        .saturating_add(PER_LEN_BYTE.saturating_mul(len as u64)),
                );
            }
            self.opaque += 1;
            return;
        }
        self.charge(size(kind));
        self.nodes += u64::from(kind == Kind::Node);
    }

    fn exit(&mut self, _kind: Kind) {
        self.opaque = self.opaque.saturating_sub(1);
    }

    fn scalar(&mut self, _kind: Kind) {
        if self.opaque == 0 {
            self.charge(PER_SCALAR);
        }
    }

    fn bytes<S: Source>(&mut self, _: &mut S, f: Field) -> Option<()> {
        if self.opaque == 0 {
            self.charge(
                PER_FIELD
                    .saturating_add(leaf(f.kind, f.number))
                    .saturating_add(PER_LEN_BYTE.saturating_mul(f.body.len() as u64)),
            );
        }
        Some(())
    }
}

impl Budget {
    fn charge(&mut self, bytes: u64) {
        self.cost = self.cost.saturating_add(bytes);
    }

    /// Refuses a model of `file_len` bytes whose walk cost more than the budget.
    pub fn check(&self, file_len: usize) -> Result<(), LoadError> {
        let limit = BASE_BYTES.saturating_add(PER_FILE_BYTE.saturating_mul(file_len as u64));
        if self.cost > limit {
            return Err(LoadError::new(format!(
                "refusing to decode the model: its structure ({} nodes in {} bytes) would take about {} MB \
                 of memory, more than the limit of {} MB ({} MB + {PER_FILE_BYTE} × the file size)",
                self.nodes,
                file_len,
                self.cost >> 20,
                limit >> 20,
                BASE_BYTES >> 20
            )));
        }
        Ok(())
    }
}

/// Refuses `bytes` (a serialized `ModelProto`) when decoding it would take more memory than the budget.
pub fn check(bytes: &[u8]) -> Result<(), LoadError> {
    let mut budget = Budget::default();
    let mut source = bytes;
    // Malformed data stops the walk; what it counted stands, and prost reports the error.
    let _ = wire::walk(&mut source, &mut budget, Kind::Model, 0, bytes.len());
    budget.check(bytes.len())
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
