//! Structure-only reading of a large ONNX file.
//!
//! Decoding straight from a memory map touches a page next to every weight (each tensor's header sits
//! right before its `raw_data`), and the kernel maps the whole page-cache folio around a touched page —
//! up to megabytes per tensor. So a large file is instead walked with `pread`: every byte the decoder
//! will look at is copied into an anonymous buffer at its own offset, and `raw_data` payloads are left
//! out (those pages of the buffer are never touched, so they cost no memory). After decoding, each
//! payload left out is replaced by the same byte range of the file's memory map, which nothing touches
//! until a numerical check decodes that tensor.
//!
//! The walk knows which fields of which messages are messages that can hold a `TensorProto` (the same
//! field numbers as `proto.rs`); everything else is read whole. Anything unexpected (a malformed key or
//! length, a group, an I/O error) makes [`read`] return `None` and the caller decodes from the map, so
//! errors are still reported by prost.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use super::wire::{self, Field, Kind, Source, Visitor};

/// Files smaller than this are decoded straight from the map: touching all of them costs little.
pub const MIN_FILE: u64 = 1 << 20;

/// `raw_data` payloads at least this long are left in the file.
const MIN_SKIP: usize = 4096;

const PAGE: usize = 4096;

/// Pages read beyond what is needed while the walk reads forward through structure.
const READ_AHEAD: usize = 32;

/// `TensorProto.raw_data`.
const RAW_DATA: u64 = 9;

/// The structure of a model file, read without its `raw_data` payloads.
pub struct Structure {
    /// As long as the file; bytes the decoder reads are loaded, payloads left out read as zero.
    pub bytes: Bytes,
    /// The payloads left out, in file order.
    pub skipped: Vec<Range<usize>>,
}

/// Reads the structure of `file` (`len` bytes); `None` when the walk cannot vouch for the result.
/// `also` sees the same walk (the memory budget), so the file is walked once.
pub fn read(file: &File, len: usize, also: &mut impl Visitor) -> Option<Structure> {
    let buf = memmap2::MmapMut::map_anon(len).ok()?;
    let mut reader = Reader {
        file,
        buf,
        loaded: vec![0; len.div_ceil(PAGE).div_ceil(64)],
    };
    let mut loader = Loader {
        skipped: Vec::new(),
        also,
    };
    wire::walk(&mut reader, &mut loader, Kind::Model, 0, len)?;
    let (buf, skipped) = (reader.buf, loader.skipped);
    let buf = buf.make_read_only().ok()?;
    Some(Structure {
        bytes: Bytes::from_owner(buf),
        skipped,
    })
}

/// Points every `raw_data` left out by [`read`] at the same range of `file` (the memory map of the
/// file `structure` was read from). Returns `false` when some payload left out is not such a field
/// of the decoded model (it could then be read as zeros); the caller must not use `model`.
pub fn attach_payloads(model: &mut ModelProto, structure: &Structure, file: &Bytes) -> bool {
    if file.len() != structure.bytes.len() {
        return false;
    }
    let mut attach = Attach {
        base: structure.bytes.as_ptr() as usize,
        len: structure.bytes.len(),
        skipped: &structure.skipped,
        file,
        attached: 0,
    };
    if let Some(g) = model.graph.as_mut() {
        attach.graph(g);
    }
    for t in &mut model.training_info {
        for g in [t.initialization.as_mut(), t.algorithm.as_mut()]
            .into_iter()
            .flatten()
        {
            attach.graph(g);
        }
    }
    for f in &mut model.functions {
        f.node.iter_mut().for_each(|n| attach.node(n));
        f.attribute_proto
            .iter_mut()
            .for_each(|a| attach.attribute(a));
    }
    attach.attached == structure.skipped.len()
}

struct Reader<'f> {
    file: &'f File,
    buf: memmap2::MmapMut,
    /// One bit per page of `buf`: read from the file.
    loaded: Vec<u64>,
}

/// Loads every byte the decoder will read and leaves large `raw_data` payloads out.
struct Loader<'v, V> {
    skipped: Vec<Range<usize>>,
    also: &'v mut V,
}

impl<V: Visitor> Visitor for Loader<'_, V> {
    fn enter(&mut self, kind: Kind, len: usize) {
        self.also.enter(kind, len);
    }
    fn exit(&mut self, kind: Kind) {
        self.also.exit(kind);
    }
    fn scalar(&mut self, kind: Kind) {
        self.also.scalar(kind);
    }
    fn bytes<S: Source>(&mut self, source: &mut S, f: Field) -> Option<()> {
        let body = f.body.clone();
        self.also.bytes(source, f.clone())?;
        if f.kind == Kind::Tensor && f.number == RAW_DATA && body.len() >= MIN_SKIP {
            self.skipped.push(body);
            Some(())
        } else {
            source.ensure(body.start, body.end, body.end)
        }
    }
}

impl Reader<'_> {
    fn is_loaded(&self, page: usize) -> bool {
        self.loaded[page / 64] & (1 << (page % 64)) != 0
    }

    /// Reads every page of `[start, end)` not read yet. A run of missing pages that continues a loaded
    /// page is extended by [`READ_AHEAD`] pages, but not past `cap` (the end of the enclosing message).
    fn ensure(&mut self, start: usize, end: usize, cap: usize) -> Option<()> {
        if start >= end {
            return Some(());
        }
        let last = (end - 1) / PAGE;
        let cap_page = (cap.min(self.buf.len()).max(end) - 1) / PAGE;
        let mut page = start / PAGE;
        while page <= last {
            if self.is_loaded(page) {
                page += 1;
                continue;
            }
            let sequential = page > 0 && self.is_loaded(page - 1);
            let want = if sequential {
                last.max(page + READ_AHEAD)
            } else {
                last
            }
            .min(cap_page);
            let mut run_end = page;
            while run_end < want && !self.is_loaded(run_end + 1) {
                run_end += 1;
            }
            let from = page * PAGE;
            let to = ((run_end + 1) * PAGE).min(self.buf.len());
            self.file
                .read_exact_at(&mut self.buf[from..to], from as u64)
                .ok()?;
            for p in page..=run_end {
                self.loaded[p / 64] |= 1 << (p % 64);
            }
            page = run_end + 1;
        }
        Some(())
    }
}

impl Source for Reader<'_> {
    fn ensure(&mut self, start: usize, end: usize, cap: usize) -> Option<()> {
        Reader::ensure(self, start, end, cap)
    }
    fn byte(&self, pos: usize) -> u8 {
        self.buf[pos]
    }
}

struct Attach<'a> {
    base: usize,
    len: usize,
    skipped: &'a [Range<usize>],
    file: &'a Bytes,
    attached: usize,
}

impl Attach<'_> {
    fn graph(&mut self, g: &mut GraphProto) {
        g.node.iter_mut().for_each(|n| self.node(n));
        g.initializer.iter_mut().for_each(|t| self.tensor(t));
        for s in &mut g.sparse_initializer {
            for t in [s.values.as_deref_mut(), s.indices.as_deref_mut()]
                .into_iter()
                .flatten()
            {
                self.tensor(t);
            }
        }
    }

    fn node(&mut self, n: &mut NodeProto) {
        n.attribute.iter_mut().for_each(|a| self.attribute(a));
    }

    fn attribute(&mut self, a: &mut AttributeProto) {
        if let Some(t) = a.t.as_deref_mut() {
            self.tensor(t);
        }
        a.tensors.iter_mut().for_each(|t| self.tensor(t));
        if let Some(g) = a.g.as_deref_mut() {
            self.graph(g);
        }
        a.graphs.iter_mut().for_each(|g| self.graph(g));
        let sparse = a.sparse_tensor.as_deref_mut().into_iter();
        for s in sparse.chain(a.sparse_tensors.iter_mut()) {
            for t in [s.values.as_deref_mut(), s.indices.as_deref_mut()]
                .into_iter()
                .flatten()
            {
                self.tensor(t);
            }
        }
    }

    fn tensor(&mut self, t: &mut TensorProto) {
        let Some(raw) = t.raw_data.as_ref() else {
            return;
        };
        let Some(start) = (raw.as_ptr() as usize).checked_sub(self.base) else {
            return;
        };
        let range = start..start + raw.len();
        if range.end > self.len || raw.is_empty() {
            return;
        }
        if self
            .skipped
            .binary_search_by_key(&range.start, |r| r.start)
            .is_ok_and(|i| self.skipped[i] == range)
        {
            t.raw_data = Some(self.file.slice(range));
            self.attached += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::load::onnx::proto::{
        FunctionProto, OperatorSetIdProto, SparseTensorProto, TrainingInfoProto,
    };

    /// A walk with no second visitor.
    struct Nothing;
    impl Visitor for Nothing {}

    fn tensor(name: &str, bytes: usize, seed: u8) -> TensorProto {
        TensorProto {
            name: name.into(),
            data_type: 2,
            dims: vec![bytes as i64],
            raw_data: Some(Bytes::from(
                (0..bytes)
                    .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                    .collect::<Vec<u8>>(),
            )),
            ..Default::default()
        }
    }

    fn graph(name: &str, depth: usize) -> GraphProto {
        let mut node = NodeProto {
            op_type: "If".into(),
            name: format!("{name}_node"),
            input: vec!["x".into()],
            output: vec!["y".into()],
            attribute: vec![AttributeProto {
                name: "value".into(),
                r#type: 4,
                t: Some(Box::new(tensor(&format!("{name}_attr"), 9000, 1))),
                tensors: vec![tensor("small", 16, 2), tensor("big", 5000, 3)],
                strings: vec![Bytes::from_static(b"kept as bytes")],
                ..Default::default()
            }],
            ..Default::default()
        };
        if depth > 0 {
            node.attribute.push(AttributeProto {
                name: "then_branch".into(),
                r#type: 5,
                g: Some(Box::new(graph(&format!("{name}_then"), depth - 1))),
                graphs: vec![graph(&format!("{name}_else"), depth - 1)],
                ..Default::default()
            });
        }
        GraphProto {
            name: name.into(),
            node: vec![node],
            initializer: vec![
                tensor(&format!("{name}_w1"), 70_000, 4),
                tensor(&format!("{name}_b1"), 100, 5),
                tensor(&format!("{name}_w2"), 4096, 6),
                TensorProto {
                    name: format!("{name}_floats"),
                    data_type: 1,
                    dims: vec![3],
                    float_data: vec![1.0, 2.0, 3.0],
                    ..Default::default()
                },
            ],
            sparse_initializer: vec![SparseTensorProto {
                values: Some(Box::new(tensor(&format!("{name}_sv"), 8000, 7))),
                indices: Some(Box::new(tensor(&format!("{name}_si"), 8, 8))),
                dims: vec![8000],
            }],
            ..Default::default()
        }
    }

    fn model() -> ModelProto {
        ModelProto {
            ir_version: 10,
            producer_name: "test".into(),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 18,
            }],
            graph: Some(graph("main", 2)),
            training_info: vec![TrainingInfoProto {
                initialization: Some(graph("init", 0)),
                algorithm: Some(graph("algo", 1)),
                ..Default::default()
            }],
            functions: vec![FunctionProto {
                name: "f".into(),
                node: graph("fn", 1).node,
                attribute_proto: vec![AttributeProto {
                    name: "default".into(),
                    r#type: 4,
                    t: Some(Box::new(tensor("fn_default", 6000, 9))),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn written(bytes: &[u8]) -> (tempfile::NamedTempFile, Bytes) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        let map = unsafe { memmap2::Mmap::map(f.as_file()) }.unwrap();
        (f, Bytes::from_owner(map))
    }

    #[test]
    fn decodes_the_same_model_with_payloads_from_the_map() {
        let expected = model();
        let bytes = expected.encode_to_vec();
        let (f, map) = written(&bytes);
        let structure = read(f.as_file(), bytes.len(), &mut Nothing).expect("walk");
        // w1, w2, sparse values, attribute t and tensors[1] per graph; 4096 is the threshold itself.
        assert!(structure.skipped.len() >= 20, "{}", structure.skipped.len());
        let mut decoded = ModelProto::decode(structure.bytes.clone()).unwrap();
        assert_ne!(
            decoded, expected,
            "payloads left out must read as zeros before attaching"
        );
        assert!(attach_payloads(&mut decoded, &structure, &map));
        assert_eq!(decoded, expected);
        let w1 = &decoded.graph.as_ref().unwrap().initializer[0];
        let raw = w1.raw_data.as_ref().unwrap();
        let offset = raw.as_ptr() as usize - map.as_ptr() as usize;
        assert_eq!(&bytes[offset..offset + raw.len()], &raw[..]);
    }

    #[test]
    fn payloads_are_not_read() {
        let mut m = model();
        // A payload whose pages lie wholly inside the skipped range: never loaded into the buffer.
        m.graph.as_mut().unwrap().initializer[0] = tensor("w", 1 << 20, 11);
        let bytes = m.encode_to_vec();
        let (f, _) = written(&bytes);
        let structure = read(f.as_file(), bytes.len(), &mut Nothing).unwrap();
        let big = structure
            .skipped
            .iter()
            .find(|r| r.len() == 1 << 20)
            .unwrap()
            .clone();
        let inner = big.start.div_ceil(PAGE) * PAGE..big.end / PAGE * PAGE;
        assert!(structure.bytes[inner].iter().all(|&b| b == 0));
    }

    #[test]
    fn load_onnx_reads_large_files_structure_only_with_the_same_weights() {
        use crate::ir::TensorData;
        let mut m = model();
        let g = m.graph.as_mut().unwrap();
        g.initializer[0] = tensor("main_w1", (MIN_FILE as usize) + 12_345, 13);
        g.node.clear();
        g.sparse_initializer.clear();
        m.training_info.clear();
        m.functions.clear();
        let bytes = m.encode_to_vec();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.onnx");
        std::fs::write(&path, &bytes).unwrap();
        let (f, map) = written(&bytes);
        assert!(super::super::decode_structure(f.as_file(), &map).is_some());
        let lowered = crate::load::onnx::load_onnx(&path).unwrap();
        let initializers = &m.graph.as_ref().unwrap().initializer;
        for (i, expected) in initializers.iter().enumerate() {
            let value = lowered
                .graph
                .values
                .iter()
                .find(|v| v.name == expected.name);
            let constant = value.and_then(|v| v.constant.as_ref()).unwrap();
            match (&constant.data, &expected.raw_data) {
                (TensorData::Raw(got), Some(want)) => assert_eq!(got, want, "initializer {i}"),
                (TensorData::Floats(got), None) => assert_eq!(&got[..], &expected.float_data[..]),
                (other, _) => panic!("initializer {i}: {other:?}"),
            }
        }
    }

    #[test]
    fn mutated_files_decode_exactly_as_from_the_map() {
        use rand::{Rng, SeedableRng};
        let original = model().encode_to_vec();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut walked = 0;
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            let (f, map) = written(&bytes);
            let direct = ModelProto::decode(map.clone()).ok();
            match super::super::decode_structure(f.as_file(), &map) {
                Some(proto) => {
                    walked += 1;
                    assert_eq!(Some(proto.expect("within budget")), direct);
                }
                None => assert!(
                    direct.is_none() || read(f.as_file(), bytes.len(), &mut Nothing).is_none()
                ),
            }
        }
        assert!(
            walked > 100,
            "only {walked} mutants took the structure path"
        );
    }

    #[test]
    fn malformed_files_fall_back() {
        let bytes = model().encode_to_vec();
        let (f, _) = written(&bytes[..bytes.len() - 7]);
        assert!(read(f.as_file(), bytes.len() - 7, &mut Nothing).is_none());
        let (f, _) = written(&[0x0b, 0x00, 0x0c]);
        assert!(
            read(f.as_file(), 3, &mut Nothing).is_none(),
            "groups are left to prost"
        );
        let (f, _) = written(&[0xff; 12]);
        assert!(read(f.as_file(), 12, &mut Nothing).is_none());
    }

    #[test]
    fn a_payload_the_decoder_drops_refuses_the_result() {
        // Two raw_data fields in one tensor: prost keeps the last, so the first is never attached.
        let mut t = tensor("twice", 8, 0).encode_to_vec();
        for _ in 0..2 {
            t.push((RAW_DATA << 3 | 2) as u8);
            prost::encoding::encode_varint(5000, &mut t);
            t.extend(std::iter::repeat_n(7u8, 5000));
        }
        let mut g = Vec::new();
        prost::encoding::encode_key(5, prost::encoding::WireType::LengthDelimited, &mut g);
        prost::encoding::encode_varint(t.len() as u64, &mut g);
        g.extend(&t);
        let mut m = Vec::new();
        prost::encoding::encode_key(7, prost::encoding::WireType::LengthDelimited, &mut m);
        prost::encoding::encode_varint(g.len() as u64, &mut m);
        m.extend(&g);
        let (f, map) = written(&m);
        let structure = read(f.as_file(), m.len(), &mut Nothing).unwrap();
        assert_eq!(structure.skipped.len(), 2);
        let mut decoded = ModelProto::decode(structure.bytes.clone()).unwrap();
        assert!(!attach_payloads(&mut decoded, &structure, &map));
    }
}
