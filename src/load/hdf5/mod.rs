//! A bounded reader for the part of HDF5 that Keras and h5py write: superblocks v0–v3, object headers
//! v1 and v2 (with continuation blocks), groups as symbol tables (v1 B-tree + local heap) or as link
//! messages, attributes (fixed-length strings, variable-length strings in the global heap, numbers),
//! and datasets stored compact, contiguous or chunked (v1 B-tree index) with the deflate, shuffle and
//! fletcher32 filters. Written from the HDF5 file format specification; no C library.
//!
//! The whole file is one byte buffer (a memory map or an exact range of an archive). Every address,
//! size and count is checked against that buffer before use, nothing is allocated because the file
//! claims a size, and the work one file can cause is bounded by [`Limits`]: objects visited, bytes
//! decompressed, B-tree depth, attribute size. Contiguous data comes back as a zero-copy slice of the
//! buffer, so a tensor's pages are touched only when a check decodes it.
//!
//! Also read: new-style groups whose links are stored densely (a fractal heap with a v2 B-tree name
//! index of up to 8 levels, as h5py writes for more than 8 links with `libver="latest"`) and layout v4
//! chunk indexes (single chunk, implicit, fixed array). Not read, each a clear error when met: dense
//! attribute storage, nested fractal heap indirect blocks, extensible-array and v2 B-tree
//! chunk indexes, paged fixed arrays, shared or committed messages, external or virtual storage, and
//! filters other than deflate, shuffle and fletcher32 (whose checksum is dropped, not verified).
//! Object header and metadata checksums are not verified either: every field is bounds-checked
//! instead.

mod read;

use std::cell::Cell;
use std::collections::HashSet;
use std::ops::Range;

use bytes::Bytes;

use self::read::Reader;

/// What went wrong, in words for the user (the caller adds which file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(Error(message.into()))
}

/// Bounds on the work one file can cause.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Object headers, continuation blocks, B-tree nodes, heaps and symbol nodes parsed, in total.
    pub max_objects: u64,
    /// Bytes produced by filters (deflate, shuffle), in total.
    pub max_decompressed: u64,
    /// B-tree levels and nested group lookups.
    pub max_depth: usize,
    /// Size of one attribute's value (a vlen string's bytes included).
    pub max_attribute: u64,
    /// Links of one group, messages of one header.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_objects: 200_000,
            max_decompressed: 1 << 30,
            max_depth: 32,
            max_attribute: 64 << 20,
            max_entries: 100_000,
        }
    }
}

pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Where the superblock is: at 0, 512, 1024, 2048, ... (after a user block).
pub fn find_signature(data: &[u8]) -> Option<usize> {
    let mut at = 0usize;
    loop {
        if data.get(at..at.checked_add(8)?)? == SIGNATURE {
            return Some(at);
        }
        at = if at == 0 { 512 } else { at.checked_mul(2)? };
    }
}

/// An open HDF5 file.
pub struct File {
    data: Bytes,
    /// File offset that addresses are relative to.
    base: u64,
    offsets: u8,
    lengths: u8,
    root: u64,
    limits: Limits,
    objects: Cell<u64>,
    decompressed: Cell<u64>,
}

/// Element types nnlint reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datatype {
    Int {
        size: u32,
        signed: bool,
        big_endian: bool,
    },
    Float {
        size: u32,
        big_endian: bool,
    },
    /// Fixed-length string of `size` bytes (null- or space-padded).
    FixedString {
        size: u32,
    },
    /// Variable-length string: each element points into the global heap.
    VlenString,
    /// Any other class (compound, enum, reference, array, opaque, vlen sequence), by class number.
    Other {
        class: u8,
        size: u32,
    },
}

impl Datatype {
    pub fn size(&self) -> u64 {
        match self {
            Datatype::Int { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::FixedString { size }
            | Datatype::Other { size, .. } => u64::from(*size),
            // length (4) + collection address + object index (4); the caller knows the offset size.
            Datatype::VlenString => 0,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Datatype::Int {
                size,
                signed,
                big_endian,
            } => format!(
                "{}int{} {}",
                if *signed { "" } else { "u" },
                u64::from(*size) * 8,
                if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                }
            ),
            Datatype::Float { size, big_endian } => format!(
                "float{} {}",
                u64::from(*size) * 8,
                if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                }
            ),
            Datatype::FixedString { size } => format!("string of {size} bytes"),
            Datatype::VlenString => "variable-length string".into(),
            Datatype::Other { class, size } => format!("datatype class {class} ({size} bytes)"),
        }
    }
}

/// One header message: its type and where its body lies in the file buffer.
#[derive(Debug, Clone)]
struct Message {
    kind: u16,
    flags: u8,
    body: Range<usize>,
}

/// A parsed object header.
pub struct Object {
    pub address: u64,
    messages: Vec<Message>,
}

/// A version 2 B-tree's shape: record size, and per level the most records one node and one
/// subtree hold.
struct BTree2 {
    record: usize,
    max_nrec: Vec<u64>,
    cum: Vec<u64>,
}

/// Bytes HDF5 uses to encode counts up to `n` (its `limit_enc_size`).
fn enc_size(n: u64) -> u64 {
    u64::from(n.max(1).ilog2()) / 8 + 1
}

/// A fractal heap's doubling table, as far as finding managed objects needs it.
struct FractalHeap {
    id_len: usize,
    checksummed: bool,
    width: u64,
    start: u64,
    max_direct: u64,
    offset_bytes: usize,
    root: u64,
    rows: u64,
}

/// How a dataset's bytes are stored.
#[derive(Debug, Clone)]
enum Layout {
    Compact(Range<usize>),
    Contiguous {
        address: u64,
        size: u64,
    },
    Chunked {
        btree: u64,
        chunk: Vec<u64>,
    },
    /// Layout message version 4: the chunk index named, at `address`.
    Chunked4 {
        address: u64,
        chunk: Vec<u64>,
        index: ChunkIndex,
    },
}

#[derive(Debug, Clone, Copy)]
enum ChunkIndex {
    /// One chunk, the whole dataset (its stored size and filter mask when filtered).
    Single { filtered: Option<(u64, u32)> },
    /// Unfiltered chunks stored back to back in grid order.
    Implicit,
    /// A fixed array of chunk addresses (and sizes and masks when filtered), in grid order.
    FixedArray,
}

#[derive(Debug, Clone)]
struct Filter {
    id: u16,
    optional: bool,
    client: Vec<u32>,
}

/// A dataset's type, shape and storage.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub dtype: Datatype,
    pub dims: Vec<u64>,
    layout: Layout,
    filters: Vec<Filter>,
}

impl Dataset {
    pub fn element_count(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
    }
}

/// An attribute's value, undecoded.
pub struct Attribute {
    pub dtype: Datatype,
    pub dims: Vec<u64>,
    data: Range<usize>,
}

const MSG_DATASPACE: u16 = 0x01;
const MSG_LINK_INFO: u16 = 0x02;
const MSG_DATATYPE: u16 = 0x03;
const MSG_LINK: u16 = 0x06;
const MSG_LAYOUT: u16 = 0x08;
const MSG_FILTERS: u16 = 0x0B;
const MSG_ATTRIBUTE: u16 = 0x0C;
const MSG_CONTINUATION: u16 = 0x10;
const MSG_SYMBOL_TABLE: u16 = 0x11;
const MSG_ATTRIBUTE_INFO: u16 = 0x15;

impl File {
    pub fn open(data: Bytes) -> Result<File> {
        File::open_with(data, Limits::default())
    }

    pub fn open_with(data: Bytes, limits: Limits) -> Result<File> {
        let Some(at) = find_signature(&data) else {
            return err("no HDF5 signature");
        };
        let mut r = Reader::new(&data, at + 8, data.len(), "the superblock");
        let version = r.u8()?;
        let (offsets, lengths, base, root);
        match version {
            0 | 1 => {
                let _free_space = r.u8()?;
                let _root_table = r.u8()?;
                r.skip(1)?;
                let _shared = r.u8()?;
                offsets = r.u8()?;
                lengths = r.u8()?;
                check_sizes(offsets, lengths)?;
                r.skip(1)?;
                r.skip(4)?; // group leaf and internal node K
                r.skip(4)?; // consistency flags
                if version == 1 {
                    r.skip(4)?;
                }
                base = r.uint(u64::from(offsets))?;
                let _free = r.uint(u64::from(offsets))?;
                let _eof = r.uint(u64::from(offsets))?;
                let _driver = r.uint(u64::from(offsets))?;
                // Root group symbol table entry: name offset, object header address, cache.
                let _name = r.uint(u64::from(offsets))?;
                root = r.uint(u64::from(offsets))?;
            }
            2 | 3 => {
                offsets = r.u8()?;
                lengths = r.u8()?;
                check_sizes(offsets, lengths)?;
                r.skip(1)?;
                base = r.uint(u64::from(offsets))?;
                let _ext = r.uint(u64::from(offsets))?;
                let _eof = r.uint(u64::from(offsets))?;
                root = r.uint(u64::from(offsets))?;
            }
            v => {
                return err(format!(
                    "superblock version {v} is not one HDF5 defines (0–3)"
                ));
            }
        }
        // A user block before the superblock: addresses count from the superblock's base address,
        // which h5py sets to the superblock's position.
        let base = if base == 0 { at as u64 } else { base };
        if base > data.len() as u64 {
            return err(format!(
                "the base address {base} lies beyond the end of the file ({} bytes)",
                data.len()
            ));
        }
        Ok(File {
            data,
            base,
            offsets,
            lengths,
            root,
            limits,
            objects: Cell::new(0),
            decompressed: Cell::new(0),
        })
    }

    pub fn data(&self) -> &Bytes {
        &self.data
    }

    fn undefined(&self, addr: u64) -> bool {
        let bits = u32::from(self.offsets) * 8;
        addr == if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        }
    }

    /// The file range of `len` bytes at address `addr`, checked.
    fn range(&self, addr: u64, len: u64, what: &str) -> Result<Range<usize>> {
        if self.undefined(addr) {
            return err(format!("{what} has an undefined address"));
        }
        let start = self.base.checked_add(addr);
        let end = start.and_then(|s| s.checked_add(len));
        match (start, end) {
            (Some(s), Some(e)) if e <= self.data.len() as u64 => Ok(s as usize..e as usize),
            _ => err(format!(
                "{what} at address {addr} ({len} bytes) lies beyond the end of the file ({} bytes)",
                self.data.len()
            )),
        }
    }

    /// A reader from `addr` to the end of the file.
    fn reader_at(&self, addr: u64, what: &'static str) -> Result<Reader<'_>> {
        let r = self.range(addr, 0, what)?;
        Ok(Reader::new(&self.data, r.start, self.data.len(), what)
            .with_sizes(self.offsets, self.lengths))
    }

    fn visit(&self, what: &str) -> Result<()> {
        let n = self.objects.get() + 1;
        if n > self.limits.max_objects {
            return err(format!(
                "more than {} objects visited (limit) while reading {what}; a cyclic or enormous structure",
                self.limits.max_objects
            ));
        }
        self.objects.set(n);
        Ok(())
    }

    pub fn root(&self) -> Result<Object> {
        self.object(self.root)
    }

    /// Parses the object header at `addr`, following continuation blocks.
    pub fn object(&self, addr: u64) -> Result<Object> {
        self.visit("an object header")?;
        let mut messages = Vec::new();
        let mut seen = HashSet::new();
        let mut blocks: Vec<(u64, u64, bool)> = Vec::new();
        let first = self.range(addr, 1, "an object header")?;
        let v2 = self.data.get(first.start..first.start + 4) == Some(b"OHDR");
        let mut creation_order = false;
        if v2 {
            let mut r = self.reader_at(addr, "an object header")?;
            r.skip(4)?;
            let version = r.u8()?;
            if version != 2 {
                return err(format!(
                    "object header version {version} after OHDR (expected 2)"
                ));
            }
            let flags = r.u8()?;
            creation_order = flags & 0x04 != 0;
            if flags & 0x20 != 0 {
                r.skip(16)?;
            }
            if flags & 0x10 != 0 {
                r.skip(4)?;
            }
            let size = r.uint(1 << (flags & 3))?;
            let start = r.pos();
            let end = start
                .checked_add(usize::try_from(size).unwrap_or(usize::MAX))
                .filter(|&e| e <= self.data.len())
                .ok_or_else(|| {
                    Error("an object header's messages run past the end of the file".into())
                })?;
            self.messages_v2(start, end, creation_order, &mut messages)?;
        } else {
            let mut r = self.reader_at(addr, "an object header")?;
            let version = r.u8()?;
            if version != 1 {
                return err(format!(
                    "object header at address {addr}: version {version} (expected 1, or the OHDR signature)"
                ));
            }
            r.skip(1)?;
            let _count = r.u16()?;
            let _refs = r.u32()?;
            let size = r.u32()?;
            r.skip(4)?; // alignment of the first message to 8 bytes
            let start = r.pos();
            let end = start
                .checked_add(size as usize)
                .filter(|&e| e <= self.data.len())
                .ok_or_else(|| {
                    Error("an object header's messages run past the end of the file".into())
                })?;
            self.messages_v1(start, end, &mut messages)?;
        }
        // Continuation blocks, breadth first; each block read once.
        let mut i = 0;
        loop {
            while i < messages.len() {
                let m = &messages[i];
                i += 1;
                if m.kind == MSG_CONTINUATION {
                    let mut r = Reader::new(
                        &self.data,
                        m.body.start,
                        m.body.end,
                        "a continuation message",
                    )
                    .with_sizes(self.offsets, self.lengths);
                    let at = r.offset()?;
                    let len = r.length()?;
                    blocks.push((at, len, v2));
                }
            }
            let Some((at, len, v2)) = blocks.pop() else {
                break;
            };
            if !seen.insert(at) {
                return err(format!(
                    "object header at address {addr}: a continuation block at {at} is reached twice (a cycle)"
                ));
            }
            self.visit("a continuation block")?;
            let r = self.range(at, len, "a continuation block")?;
            if v2 {
                if self.data.get(r.start..r.start + 4) != Some(b"OCHK") || r.len() < 8 {
                    return err(format!(
                        "continuation block at {at} lacks its OCHK signature"
                    ));
                }
                self.messages_v2(r.start + 4, r.end - 4, creation_order, &mut messages)?;
            } else {
                self.messages_v1(r.start, r.end, &mut messages)?;
            }
        }
        Ok(Object {
            address: addr,
            messages,
        })
    }

    fn push(&self, out: &mut Vec<Message>, m: Message) -> Result<()> {
        if out.len() >= self.limits.max_entries {
            return err(format!(
                "an object header has more than {} messages (limit)",
                self.limits.max_entries
            ));
        }
        out.push(m);
        Ok(())
    }

    fn messages_v1(&self, start: usize, end: usize, out: &mut Vec<Message>) -> Result<()> {
        let mut r = Reader::new(&self.data, start, end, "object header messages");
        while r.remaining() >= 8 {
            let kind = r.u16()?;
            let size = r.u16()? as usize;
            let flags = r.u8()?;
            r.skip(3)?;
            let body = r.take(size)?;
            self.push(out, Message { kind, flags, body })?;
        }
        Ok(())
    }

    fn messages_v2(
        &self,
        start: usize,
        end: usize,
        creation_order: bool,
        out: &mut Vec<Message>,
    ) -> Result<()> {
        let mut r = Reader::new(&self.data, start, end, "object header messages");
        let head = if creation_order { 6 } else { 4 };
        while r.remaining() >= head {
            let kind = u16::from(r.u8()?);
            let size = r.u16()? as usize;
            let flags = r.u8()?;
            if creation_order {
                r.skip(2)?;
            }
            let body = r.take(size)?;
            self.push(out, Message { kind, flags, body })?;
        }
        Ok(())
    }

    fn body(&self, m: &Message, what: &'static str) -> Result<Reader<'_>> {
        if m.flags & 0x02 != 0 {
            return err(format!(
                "{what} is a shared message, which nnlint does not read"
            ));
        }
        Ok(Reader::new(&self.data, m.body.start, m.body.end, what)
            .with_sizes(self.offsets, self.lengths))
    }

    /// The group's members: (name, object header address), in storage order.
    pub fn links(&self, obj: &Object) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for m in &obj.messages {
            match m.kind {
                MSG_SYMBOL_TABLE => {
                    let mut r = self.body(m, "a symbol table message")?;
                    let btree = r.offset()?;
                    let heap = r.offset()?;
                    let heap = self.local_heap(heap)?;
                    let mut seen = HashSet::new();
                    self.group_btree(btree, &heap, 0, &mut seen, &mut out)?;
                }
                MSG_LINK => {
                    if let Some(link) = self.link(m)? {
                        if out.len() >= self.limits.max_entries {
                            return err(format!(
                                "a group has more than {} links (limit)",
                                self.limits.max_entries
                            ));
                        }
                        out.push(link);
                    }
                }
                MSG_LINK_INFO => {
                    let mut r = self.body(m, "a link info message")?;
                    let _version = r.u8()?;
                    let flags = r.u8()?;
                    if flags & 1 != 0 {
                        r.skip(8)?;
                    }
                    let heap = r.offset()?;
                    let names = r.offset()?;
                    if !self.undefined(heap) {
                        self.dense_links(heap, names, &mut out)?;
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// A link message: a hard link's name and target; soft and external links are skipped.
    fn link(&self, m: &Message) -> Result<Option<(String, u64)>> {
        let r = self.body(m, "a link message")?;
        self.link_from(r)
    }

    fn link_from(&self, mut r: Reader<'_>) -> Result<Option<(String, u64)>> {
        let version = r.u8()?;
        if version != 1 {
            return err(format!("link message version {version} (expected 1)"));
        }
        let flags = r.u8()?;
        let kind = if flags & 0x08 != 0 { r.u8()? } else { 0 };
        if flags & 0x04 != 0 {
            r.skip(8)?;
        }
        if flags & 0x10 != 0 {
            r.skip(1)?;
        }
        let len = r.uint(1 << (flags & 3))?;
        let name = r.take(usize::try_from(len).unwrap_or(usize::MAX))?;
        let name = String::from_utf8_lossy(&self.data[name]).into_owned();
        if kind != 0 {
            return Ok(None);
        }
        Ok(Some((name, r.offset()?)))
    }

    /// Links stored densely (new-style groups with many links): the name index (a version 2 B-tree
    /// of type 5 records: name hash, heap ID) points into a fractal heap holding link messages.
    fn dense_links(&self, heap: u64, names: u64, out: &mut Vec<(String, u64)>) -> Result<()> {
        let heap = self.fractal_heap(heap)?;
        self.visit("a v2 B-tree")?;
        let mut r = self.reader_at(names, "a v2 B-tree header")?;
        if r.bytes(4)? != b"BTHD" {
            return err(format!(
                "v2 B-tree at address {names} lacks its BTHD signature"
            ));
        }
        r.skip(1)?;
        let kind = r.u8()?;
        let node_size = u64::from(r.u32()?);
        let record = r.u16()? as usize;
        let depth = r.u16()?;
        r.skip(2)?;
        let root = r.offset()?;
        let count = r.u16()? as usize;
        if kind != 5 || record < 4 + heap.id_len {
            return err(format!(
                "v2 B-tree at address {names} is not a link name index"
            ));
        }
        if depth > 8 || node_size < 16 {
            return err(format!(
                "v2 B-tree at address {names} declares depth {depth} and {node_size}-byte nodes"
            ));
        }
        // Per level: the most records a node holds and the most a whole subtree holds, which size
        // the child pointers' count fields in internal nodes.
        let rec = record as u64;
        let o = u64::from(self.offsets);
        let mut max_nrec = vec![(node_size - 10) / rec];
        let mut cum = vec![max_nrec[0]];
        for d in 1..=u64::from(depth) {
            let child_ptr = o
                + enc_size(max_nrec[d as usize - 1])
                + if d > 1 {
                    enc_size(cum[d as usize - 1])
                } else {
                    0
                };
            let n = (node_size - 10).saturating_sub(child_ptr) / (rec + child_ptr);
            max_nrec.push(n);
            cum.push(
                (n + 1)
                    .saturating_mul(cum[d as usize - 1])
                    .saturating_add(n),
            );
        }
        let tree = BTree2 {
            record,
            max_nrec,
            cum,
        };
        let mut each = |rec: &[u8]| -> Result<()> {
            let id = &rec[4..4 + heap.id_len];
            let obj = self.heap_object(&heap, id)?;
            let link = Reader::new(&self.data, obj.start, obj.end, "a link message")
                .with_sizes(self.offsets, self.lengths);
            if let Some(l) = self.link_from(link)? {
                if out.len() >= self.limits.max_entries {
                    return err(format!(
                        "a group has more than {} links (limit)",
                        self.limits.max_entries
                    ));
                }
                out.push(l);
            }
            Ok(())
        };
        let mut seen = HashSet::new();
        self.btree2_node(&tree, root, count, depth, &mut seen, &mut each)
    }

    /// Visits the records of the v2 B-tree node at `addr` (`count` records, `depth` levels above
    /// the leaves) and of its subtrees.
    fn btree2_node(
        &self,
        tree: &BTree2,
        addr: u64,
        count: usize,
        depth: u16,
        seen: &mut HashSet<u64>,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        if !seen.insert(addr) {
            return err(format!("a v2 B-tree reaches node {addr} twice (a cycle)"));
        }
        self.visit("a v2 B-tree node")?;
        let mut r = self.reader_at(addr, "a v2 B-tree node")?;
        let sig: &[u8] = if depth == 0 { b"BTLF" } else { b"BTIN" };
        if r.bytes(4)? != sig {
            return err(format!(
                "v2 B-tree node at address {addr} lacks its {} signature",
                String::from_utf8_lossy(sig)
            ));
        }
        r.skip(2)?;
        let d = usize::from(depth);
        if count as u64 > tree.max_nrec.get(d).copied().unwrap_or(0) {
            return err(format!(
                "v2 B-tree node at address {addr} claims {count} records, more than fit"
            ));
        }
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            records.push(r.take(tree.record)?);
        }
        if depth == 0 {
            for rec in records {
                each(&self.data[rec])?;
            }
            return Ok(());
        }
        let nrec_size = enc_size(tree.max_nrec[d - 1]);
        let total_size = if depth > 1 {
            enc_size(tree.cum[d - 1])
        } else {
            0
        };
        let mut children = Vec::with_capacity(count + 1);
        for _ in 0..=count {
            let child = r.offset()?;
            let n = r.uint(nrec_size)?;
            if total_size > 0 {
                r.uint(total_size)?;
            }
            children.push((child, usize::try_from(n).unwrap_or(usize::MAX)));
        }
        for (i, (child, n)) in children.into_iter().enumerate() {
            self.btree2_node(tree, child, n, depth - 1, seen, each)?;
            if let Some(rec) = records.get(i) {
                each(&self.data[rec.clone()])?;
            }
        }
        Ok(())
    }

    fn fractal_heap(&self, addr: u64) -> Result<FractalHeap> {
        self.visit("a fractal heap")?;
        let mut r = self.reader_at(addr, "a fractal heap header")?;
        if r.bytes(4)? != b"FRHP" {
            return err(format!(
                "fractal heap at address {addr} lacks its FRHP signature"
            ));
        }
        r.skip(1)?;
        let id_len = r.u16()? as usize;
        let filters = r.u16()?;
        let flags = r.u8()?;
        r.skip(4)?; // max managed object size
        r.length()?; // next huge object ID
        r.offset()?; // huge object B-tree
        r.length()?; // free space
        r.offset()?; // free space manager
        for _ in 0..8 {
            r.length()?; // managed/allocated space, iterator, object counts and sizes
        }
        let width = u64::from(r.u16()?);
        let start = r.length()?;
        let max_direct = r.length()?;
        let max_bits = r.u16()?;
        r.skip(2)?; // starting rows
        let root = r.offset()?;
        let rows = u64::from(r.u16()?);
        if filters != 0 {
            return err("a fractal heap with I/O filters, which nnlint does not read");
        }
        let pow2 = |n: u64| n.is_power_of_two();
        if width == 0
            || width > 65_536
            || !pow2(start)
            || !pow2(max_direct)
            || max_direct < start
            || !(1..=64).contains(&max_bits)
            || !(2..=16).contains(&id_len)
        {
            return err(format!(
                "fractal heap at address {addr} has an impossible doubling table"
            ));
        }
        Ok(FractalHeap {
            id_len,
            checksummed: flags & 2 != 0,
            width,
            start,
            max_direct,
            offset_bytes: usize::from(max_bits).div_ceil(8),
            root,
            rows,
        })
    }

    /// The bytes of the managed object with heap ID `id`.
    fn heap_object(&self, heap: &FractalHeap, id: &[u8]) -> Result<Range<usize>> {
        if id[0] >> 6 != 0 || (id[0] >> 4) & 3 != 0 {
            return err("a link is a huge or tiny fractal heap object, which nnlint does not read");
        }
        let ob = heap.offset_bytes;
        if 1 + ob >= id.len() {
            return err("a fractal heap ID is too short for its heap");
        }
        let le = |b: &[u8]| b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        let offset = le(&id[1..1 + ob]);
        let len = le(&id[1 + ob..id.len().min(1 + ob + 8)]);
        // Find the direct block holding `offset`.
        let (block, block_offset, size) = if heap.rows == 0 {
            (heap.root, 0, heap.start)
        } else {
            let row_span = heap.width.saturating_mul(heap.start);
            let (row, row_start, row_size) = if offset < row_span {
                (0u64, 0u64, heap.start)
            } else {
                let r = u64::from((offset / row_span).ilog2()) + 1;
                let size = heap.start.checked_shl(r as u32 - 1).unwrap_or(u64::MAX);
                (
                    r,
                    row_span.checked_shl(r as u32 - 1).unwrap_or(u64::MAX),
                    size,
                )
            };
            let direct_rows = u64::from((heap.max_direct / heap.start).ilog2()) + 2;
            if row >= direct_rows || row >= heap.rows {
                return err(
                    "a link lies in a nested fractal heap block, which nnlint does not read yet",
                );
            }
            let col = (offset - row_start) / row_size;
            if col >= heap.width {
                return err("a fractal heap ID points outside its heap's doubling table");
            }
            let entry = row * heap.width + col;
            self.visit("a fractal heap indirect block")?;
            let mut r = self.reader_at(heap.root, "a fractal heap indirect block")?;
            if r.bytes(4)? != b"FHIB" {
                return err(format!(
                    "fractal heap block at {} lacks its FHIB signature",
                    heap.root
                ));
            }
            r.skip(1)?;
            r.offset()?;
            r.skip(heap.offset_bytes)?;
            r.skip(
                usize::try_from(entry)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(usize::from(self.offsets)),
            )?;
            let block = r.offset()?;
            (
                block,
                row_start.saturating_add(col.saturating_mul(row_size)),
                row_size,
            )
        };
        let r = self.range(block, size, "a fractal heap direct block")?;
        if self.data.get(r.start..r.start + 4) != Some(b"FHDB") {
            return err(format!(
                "fractal heap block at {block} lacks its FHDB signature"
            ));
        }
        let header = 5
            + usize::from(self.offsets)
            + heap.offset_bytes
            + if heap.checksummed { 4 } else { 0 };
        let Some(within) = offset.checked_sub(block_offset) else {
            return err("a fractal heap ID points before its block");
        };
        let end = within.checked_add(len);
        match end {
            Some(end) if within >= header as u64 && end <= size => {
                Ok(r.start + within as usize..r.start + end as usize)
            }
            _ => err(format!(
                "a fractal heap object ({len} bytes at heap offset {offset}) lies outside its block"
            )),
        }
    }

    /// The data segment of a local heap.
    fn local_heap(&self, addr: u64) -> Result<Range<usize>> {
        self.visit("a local heap")?;
        let mut r = self.reader_at(addr, "a local heap")?;
        if r.bytes(4)? != b"HEAP" {
            return err(format!(
                "local heap at address {addr} lacks its HEAP signature"
            ));
        }
        r.skip(4)?;
        let size = r.length()?;
        let _free = r.length()?;
        let data = r.offset()?;
        self.range(data, size, "a local heap's data")
    }

    fn heap_name(&self, heap: &Range<usize>, offset: u64) -> Result<String> {
        let seg = &self.data[heap.clone()];
        let start = usize::try_from(offset).ok().filter(|&o| o < seg.len());
        let Some(start) = start else {
            return err(format!(
                "a link name at offset {offset} lies outside its local heap ({} bytes)",
                seg.len()
            ));
        };
        let rest = &seg[start..];
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            return err("a link name in a local heap is not terminated");
        };
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    fn group_btree(
        &self,
        addr: u64,
        heap: &Range<usize>,
        depth: usize,
        seen: &mut HashSet<u64>,
        out: &mut Vec<(String, u64)>,
    ) -> Result<()> {
        if depth > self.limits.max_depth {
            return err(format!(
                "a group B-tree is deeper than {} levels (limit)",
                self.limits.max_depth
            ));
        }
        if !seen.insert(addr) {
            return err(format!(
                "a group B-tree reaches node {addr} twice (a cycle)"
            ));
        }
        self.visit("a group B-tree")?;
        let (level, children) = self.btree_node(addr, 0, 0)?;
        for child in children {
            if level > 0 {
                self.group_btree(child, heap, depth + 1, seen, out)?;
            } else {
                self.symbol_node(child, heap, seen, out)?;
            }
        }
        Ok(())
    }

    /// A v1 B-tree node: its level and children (keys are skipped, `key_size` bytes each).
    fn btree_node(&self, addr: u64, node_type: u8, key_size: usize) -> Result<(u8, Vec<u64>)> {
        let mut r = self.reader_at(addr, "a B-tree node")?;
        if r.bytes(4)? != b"TREE" {
            return err(format!(
                "B-tree node at address {addr} lacks its TREE signature"
            ));
        }
        let kind = r.u8()?;
        if kind != node_type {
            return err(format!(
                "B-tree node at address {addr} has type {kind}, expected {node_type}"
            ));
        }
        let level = r.u8()?;
        let used = r.u16()? as usize;
        r.offset()?;
        r.offset()?;
        let key = if node_type == 0 {
            usize::from(self.lengths)
        } else {
            key_size
        };
        let mut children = Vec::new();
        for _ in 0..used {
            r.skip(key)?;
            children.push(r.offset()?);
        }
        Ok((level, children))
    }

    fn symbol_node(
        &self,
        addr: u64,
        heap: &Range<usize>,
        seen: &mut HashSet<u64>,
        out: &mut Vec<(String, u64)>,
    ) -> Result<()> {
        if !seen.insert(addr) {
            return err(format!(
                "a group B-tree reaches symbol node {addr} twice (a cycle)"
            ));
        }
        self.visit("a symbol table node")?;
        let mut r = self.reader_at(addr, "a symbol table node")?;
        if r.bytes(4)? != b"SNOD" {
            return err(format!(
                "symbol table node at address {addr} lacks its SNOD signature"
            ));
        }
        r.skip(2)?;
        let count = r.u16()?;
        for _ in 0..count {
            let name = r.offset()?;
            let header = r.offset()?;
            r.skip(4 + 4 + 16)?;
            if out.len() >= self.limits.max_entries {
                return err(format!(
                    "a group has more than {} links (limit)",
                    self.limits.max_entries
                ));
            }
            out.push((self.heap_name(heap, name)?, header));
        }
        Ok(())
    }

    /// The member `name` of a group, when present.
    pub fn child(&self, obj: &Object, name: &str) -> Result<Option<Object>> {
        match self.links(obj)?.into_iter().find(|(n, _)| n == name) {
            Some((_, addr)) => Ok(Some(self.object(addr)?)),
            None => Ok(None),
        }
    }

    /// The object at `path` (`a/b/c`) below `obj`.
    pub fn path(&self, obj: &Object, path: &str) -> Result<Option<Object>> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() > self.limits.max_depth {
            return err(format!(
                "path `{path}` is deeper than {} levels (limit)",
                self.limits.max_depth
            ));
        }
        let mut cur: Option<Object> = None;
        for part in parts {
            let here = cur.as_ref().unwrap_or(obj);
            match self.child(here, part)? {
                Some(next) => cur = Some(next),
                None => return Ok(None),
            }
        }
        match cur {
            Some(o) => Ok(Some(o)),
            None => Ok(Some(self.object(obj.address)?)),
        }
    }

    pub fn is_dataset(&self, obj: &Object) -> bool {
        obj.messages.iter().any(|m| m.kind == MSG_LAYOUT)
    }

    fn datatype(&self, r: &mut Reader<'_>) -> Result<Datatype> {
        let head = r.u8()?;
        let class = head & 0x0f;
        let bits = r.bytes(3)?.to_vec();
        let size = r.u32()?;
        Ok(match class {
            0 => {
                r.skip(4)?;
                Datatype::Int {
                    size,
                    signed: bits[0] & 0x08 != 0,
                    big_endian: bits[0] & 1 != 0,
                }
            }
            1 => {
                r.skip(12)?;
                Datatype::Float {
                    size,
                    big_endian: bits[0] & 1 != 0,
                }
            }
            3 => Datatype::FixedString { size },
            // The base type (a one-byte string) follows; it is not needed and not parsed.
            9 if bits[0] & 0x0f == 1 => Datatype::VlenString,
            _ => Datatype::Other { class, size },
        })
    }

    fn dataspace(&self, r: &mut Reader<'_>) -> Result<Vec<u64>> {
        let version = r.u8()?;
        let rank = r.u8()?;
        let flags = r.u8()?;
        match version {
            1 => r.skip(5)?,
            2 => {
                let kind = r.u8()?;
                if kind == 2 {
                    return err("a dataspace is null (no elements)");
                }
            }
            v => return err(format!("dataspace version {v} (expected 1 or 2)")),
        }
        if rank > 32 {
            return err(format!("a dataspace has rank {rank} (HDF5 allows 32)"));
        }
        let mut dims = Vec::with_capacity(usize::from(rank));
        for _ in 0..rank {
            dims.push(r.length()?);
        }
        if flags & 1 != 0 {
            for _ in 0..rank {
                r.length()?;
            }
        }
        Ok(dims)
    }

    /// The attribute `name` of `obj`, when present (attributes in the header; dense storage is not read).
    pub fn attribute(&self, obj: &Object, name: &str) -> Result<Option<Attribute>> {
        let mut dense = false;
        for m in &obj.messages {
            if m.kind == MSG_ATTRIBUTE_INFO {
                let mut r = self.body(m, "an attribute info message")?;
                let _v = r.u8()?;
                let flags = r.u8()?;
                if flags & 1 != 0 {
                    r.skip(2)?;
                }
                dense = !self.undefined(r.offset()?);
            }
            if m.kind != MSG_ATTRIBUTE {
                continue;
            }
            let mut r = self.body(m, "an attribute message")?;
            let version = r.u8()?;
            r.skip(1)?;
            let name_len = r.u16()? as usize;
            let type_len = r.u16()? as usize;
            let space_len = r.u16()? as usize;
            if version == 3 {
                r.skip(1)?;
            }
            let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
            let name_at = r.take(pad(name_len))?;
            let raw = &self.data[name_at.start..name_at.start + name_len.min(name_at.len())];
            let raw = raw.split(|&b| b == 0).next().unwrap_or(&[]);
            if raw != name.as_bytes() {
                continue;
            }
            if !matches!(version, 1..=3) {
                return err(format!(
                    "attribute `{name}`: message version {version} (expected 1–3)"
                ));
            }
            let t = r.take(pad(type_len))?;
            let mut tr = Reader::new(&self.data, t.start, t.end, "an attribute's datatype")
                .with_sizes(self.offsets, self.lengths);
            let dtype = self.datatype(&mut tr)?;
            let s = r.take(pad(space_len))?;
            let mut sr = Reader::new(&self.data, s.start, s.end, "an attribute's dataspace")
                .with_sizes(self.offsets, self.lengths);
            let dims = self.dataspace(&mut sr)?;
            let data = r.pos()..m.body.end;
            return Ok(Some(Attribute { dtype, dims, data }));
        }
        if dense {
            return err(format!(
                "attribute `{name}` may be in dense attribute storage (fractal heap), which nnlint does not read yet"
            ));
        }
        Ok(None)
    }

    /// An attribute's value as strings (fixed-length or variable-length; one per element).
    pub fn attribute_strings(&self, attr: &Attribute, name: &str) -> Result<Vec<String>> {
        let count = attr
            .dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= self.limits.max_entries as u64)
            .ok_or_else(|| Error(format!("attribute `{name}` declares too many elements")))?
            as usize;
        let data = &self.data[attr.data.clone()];
        let mut out = Vec::new();
        if count == 0 {
            // h5py writes an empty list as an empty float64 array.
            return Ok(out);
        }
        let mut total = 0u64;
        match attr.dtype {
            Datatype::FixedString { size } => {
                let size = size as usize;
                let need = size.checked_mul(count).filter(|&n| n <= data.len());
                if need.is_none() {
                    return err(format!(
                        "attribute `{name}`: its strings run past its message"
                    ));
                }
                for i in 0..count {
                    let s = &data[i * size..(i + 1) * size];
                    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                    out.push(String::from_utf8_lossy(&s[..end]).trim_end().to_string());
                }
            }
            Datatype::VlenString => {
                let mut r = Reader::new(
                    &self.data,
                    attr.data.start,
                    attr.data.end,
                    "a variable-length string",
                )
                .with_sizes(self.offsets, self.lengths);
                for _ in 0..count {
                    let len = u64::from(r.u32()?);
                    let collection = r.offset()?;
                    let index = r.u32()?;
                    total += len;
                    if total > self.limits.max_attribute {
                        return err(format!(
                            "attribute `{name}` is larger than {} bytes (limit)",
                            self.limits.max_attribute
                        ));
                    }
                    let bytes = self.global_object(collection, index, len)?;
                    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    match std::str::from_utf8(&bytes[..end]) {
                        Ok(s) => out.push(s.to_string()),
                        Err(_) => return err(format!("attribute `{name}` is not UTF-8 text")),
                    }
                }
            }
            ref other => {
                return err(format!(
                    "attribute `{name}` is a {}, not a string",
                    other.describe()
                ));
            }
        }
        Ok(out)
    }

    /// Object `index` of the global heap collection at `addr`, `len` bytes of it.
    fn global_object(&self, addr: u64, index: u32, len: u64) -> Result<&[u8]> {
        self.visit("a global heap collection")?;
        let mut r = self.reader_at(addr, "a global heap collection")?;
        if r.bytes(4)? != b"GCOL" {
            return err(format!(
                "global heap collection at address {addr} lacks its GCOL signature"
            ));
        }
        r.skip(4)?;
        let size = r.length()?;
        let whole = self.range(addr, size, "a global heap collection")?;
        let mut r = Reader::new(&self.data, r.pos(), whole.end, "a global heap collection")
            .with_sizes(self.offsets, self.lengths);
        let mut steps = 0usize;
        while r.remaining() >= 8 + usize::from(self.lengths) {
            steps += 1;
            if steps > self.limits.max_entries {
                return err("a global heap collection has too many objects (limit)");
            }
            let id = r.u16()?;
            r.skip(6)?;
            let obj_size = r.length()?;
            if id == 0 {
                break;
            }
            let padded = obj_size.div_ceil(8).saturating_mul(8);
            let at = r
                .take(usize::try_from(padded).unwrap_or(usize::MAX))
                .or_else(|_| {
                    // The last object may be unpadded.
                    r.take(usize::try_from(obj_size).unwrap_or(usize::MAX))
                })?;
            if u32::from(id) == index {
                if len > obj_size {
                    return err(format!(
                        "a variable-length string claims {len} bytes of a {obj_size}-byte heap object"
                    ));
                }
                return Ok(&self.data[at.start..at.start + len as usize]);
            }
        }
        err(format!(
            "global heap collection at {addr} has no object {index}"
        ))
    }

    /// The dataset description of `obj` (type, shape, storage, filters).
    pub fn dataset(&self, obj: &Object) -> Result<Dataset> {
        let mut dtype = None;
        let mut dims = None;
        let mut layout = None;
        let mut filters = Vec::new();
        for m in &obj.messages {
            match m.kind {
                MSG_DATATYPE => {
                    dtype = Some(self.datatype(&mut self.body(m, "a datatype message")?)?)
                }
                MSG_DATASPACE => {
                    dims = Some(self.dataspace(&mut self.body(m, "a dataspace message")?)?)
                }
                MSG_LAYOUT => layout = Some(self.layout(m)?),
                MSG_FILTERS => filters = self.filters(m)?,
                _ => {}
            }
        }
        let (Some(dtype), Some(dims), Some(layout)) = (dtype, dims, layout) else {
            return err("a dataset lacks its datatype, dataspace or layout message");
        };
        Ok(Dataset {
            dtype,
            dims,
            layout,
            filters,
        })
    }

    fn layout(&self, m: &Message) -> Result<Layout> {
        let mut r = self.body(m, "a data layout message")?;
        let version = r.u8()?;
        match version {
            1 | 2 => {
                let rank = r.u8()?;
                let class = r.u8()?;
                r.skip(5)?;
                let address = if class != 0 { Some(r.offset()?) } else { None };
                let mut dims = Vec::new();
                for _ in 0..rank {
                    dims.push(u64::from(r.u32()?));
                }
                match (class, address) {
                    (0, _) => {
                        let size = r.u32()? as usize;
                        Ok(Layout::Compact(r.take(size)?))
                    }
                    (1, Some(address)) => {
                        let size = dims
                            .iter()
                            .try_fold(1u64, |a, &d| a.checked_mul(d))
                            .unwrap_or(u64::MAX);
                        Ok(Layout::Contiguous { address, size })
                    }
                    (2, Some(btree)) => {
                        dims.pop();
                        Ok(Layout::Chunked { btree, chunk: dims })
                    }
                    _ => err(format!("data layout class {class} is not one HDF5 defines")),
                }
            }
            3 | 4 => {
                let class = r.u8()?;
                match class {
                    0 => {
                        let size = r.u16()? as usize;
                        Ok(Layout::Compact(r.take(size)?))
                    }
                    1 => {
                        let address = r.offset()?;
                        let size = r.length()?;
                        Ok(Layout::Contiguous { address, size })
                    }
                    2 if version == 3 => {
                        let rank = r.u8()?;
                        let btree = r.offset()?;
                        let mut chunk = Vec::new();
                        for _ in 0..rank {
                            chunk.push(u64::from(r.u32()?));
                        }
                        chunk.pop();
                        Ok(Layout::Chunked { btree, chunk })
                    }
                    2 => {
                        let flags = r.u8()?;
                        let rank = r.u8()?;
                        let width = u64::from(r.u8()?);
                        let mut chunk = Vec::new();
                        for _ in 0..rank {
                            chunk.push(r.uint(width)?);
                        }
                        chunk.pop();
                        let index = match r.u8()? {
                            1 => {
                                let filtered = if flags & 2 != 0 {
                                    Some((r.length()?, r.u32()?))
                                } else {
                                    None
                                };
                                ChunkIndex::Single { filtered }
                            }
                            2 => ChunkIndex::Implicit,
                            3 => {
                                r.skip(1)?;
                                ChunkIndex::FixedArray
                            }
                            4 => {
                                return err(
                                    "chunks indexed by an extensible array, which nnlint does not read yet",
                                );
                            }
                            5 => {
                                return err(
                                    "chunks indexed by a version 2 B-tree, which nnlint does not read yet",
                                );
                            }
                            t => {
                                return err(format!(
                                    "chunk index type {t} is not one HDF5 defines"
                                ));
                            }
                        };
                        let address = r.offset()?;
                        Ok(Layout::Chunked4 {
                            address,
                            chunk,
                            index,
                        })
                    }
                    3 => err("virtual dataset storage, which nnlint does not read"),
                    c => err(format!("data layout class {c} is not one HDF5 defines")),
                }
            }
            v => err(format!("data layout message version {v} (expected 1–4)")),
        }
    }

    fn filters(&self, m: &Message) -> Result<Vec<Filter>> {
        let mut r = self.body(m, "a filter pipeline message")?;
        let version = r.u8()?;
        let count = r.u8()?;
        if version == 1 {
            r.skip(6)?;
        } else if version != 2 {
            return err(format!(
                "filter pipeline message version {version} (expected 1 or 2)"
            ));
        }
        let mut out = Vec::new();
        for _ in 0..count {
            let id = r.u16()?;
            let name_len = if version == 1 || id >= 256 {
                r.u16()? as usize
            } else {
                0
            };
            let flags = r.u16()?;
            let values = r.u16()? as usize;
            if version == 1 {
                r.skip(name_len.div_ceil(8) * 8)?;
            } else {
                r.skip(name_len)?;
            }
            let mut client = Vec::new();
            for _ in 0..values {
                client.push(r.u32()?);
            }
            if version == 1 && values % 2 == 1 {
                r.skip(4)?;
            }
            out.push(Filter {
                id,
                optional: flags & 1 != 0,
                client,
            });
        }
        Ok(out)
    }

    /// The dataset's bytes, as stored (file byte order), exactly `element_count × element size`.
    /// Contiguous and compact data are zero-copy slices of the file buffer.
    pub fn read(&self, ds: &Dataset) -> Result<Bytes> {
        let elem = ds.dtype.size();
        if elem == 0 {
            return err(format!(
                "a dataset of {} has no fixed element size",
                ds.dtype.describe()
            ));
        }
        let total = ds
            .element_count()
            .and_then(|n| n.checked_mul(elem))
            .ok_or_else(|| Error(format!("dataset dims {:?} overflow", ds.dims)))?;
        match &ds.layout {
            Layout::Compact(range) => {
                if (range.len() as u64) < total {
                    return err(format!(
                        "compact dataset holds {} bytes, its shape needs {total}",
                        range.len()
                    ));
                }
                Ok(self.data.slice(range.start..range.start + total as usize))
            }
            Layout::Contiguous { address, size } => {
                if !ds.filters.is_empty() {
                    return err("a contiguous dataset with filters (HDF5 filters need chunks)");
                }
                if *size < total {
                    return err(format!(
                        "contiguous dataset holds {size} bytes, its shape needs {total}"
                    ));
                }
                let r = self.range(*address, total, "a dataset's data")?;
                Ok(self.data.slice(r))
            }
            Layout::Chunked { btree, chunk } => {
                let key = 8 + 8 * (ds.dims.len() + 1);
                self.read_chunked(ds, chunk, elem, total, &mut |each| {
                    let mut seen = HashSet::new();
                    self.chunk_btree(*btree, key, 0, &mut seen, each)
                })
            }
            Layout::Chunked4 {
                address,
                chunk,
                index,
            } => self.read_chunked(ds, chunk, elem, total, &mut |each| {
                self.chunk_index(ds, *address, chunk, elem, *index, each)
            }),
        }
    }

    /// Visits every chunk of a version 4 chunk index.
    fn chunk_index(
        &self,
        ds: &Dataset,
        address: u64,
        chunk: &[u64],
        elem: u64,
        index: ChunkIndex,
        each: &mut ChunkVisitor<'_>,
    ) -> Result<()> {
        let rank = ds.dims.len();
        let grid: Vec<u64> = (0..rank.min(chunk.len()))
            .map(|d| ds.dims[d].div_ceil(chunk[d].max(1)))
            .collect();
        if grid.len() != rank {
            return err("chunk dims do not match the dataset's rank");
        }
        let count = grid
            .iter()
            .try_fold(1u64, |a, &g| a.checked_mul(g))
            .unwrap_or(u64::MAX);
        let chunk_bytes = chunk
            .iter()
            .try_fold(elem, |a, &d| a.checked_mul(d))
            .unwrap_or(u64::MAX);
        let too_big = || Error("a chunk is larger than 4 GiB".into());
        let size32 = u32::try_from(chunk_bytes).map_err(|_| too_big())?;
        // Element offsets of chunk number `i` in grid order.
        let offsets = |mut i: u64| -> Vec<u64> {
            let mut o = vec![0u64; rank];
            for d in (0..rank).rev() {
                o[d] = (i % grid[d].max(1)) * chunk[d];
                i /= grid[d].max(1);
            }
            o
        };
        match index {
            ChunkIndex::Single { filtered } => {
                let (size, mask) = filtered.unwrap_or((chunk_bytes, 0));
                let size = u32::try_from(size).map_err(|_| too_big())?;
                each(size, mask, &vec![0; rank], address)
            }
            ChunkIndex::Implicit => {
                if !ds.filters.is_empty() {
                    return err(
                        "implicitly indexed chunks with filters (HDF5 does not write these)",
                    );
                }
                for i in 0..count {
                    self.visit("a chunk")?;
                    let at = chunk_bytes
                        .checked_mul(i)
                        .and_then(|o| address.checked_add(o));
                    let at = at.ok_or_else(|| Error("chunk addresses overflow".into()))?;
                    each(size32, 0, &offsets(i), at)?;
                }
                Ok(())
            }
            ChunkIndex::FixedArray => {
                self.visit("a fixed array")?;
                let mut r = self.reader_at(address, "a fixed array header")?;
                if r.bytes(4)? != b"FAHD" {
                    return err(format!(
                        "fixed array at address {address} lacks its FAHD signature"
                    ));
                }
                r.skip(1)?;
                let client = r.u8()?;
                let entry = r.u8()? as usize;
                let page_bits = r.u8()?;
                let entries = r.length()?;
                let block = r.offset()?;
                if entries != count {
                    return err(format!(
                        "a fixed array lists {entries} chunks, the dataset has {count}"
                    ));
                }
                if page_bits < 64 && entries > (1u64 << page_bits) {
                    return err("a paged fixed array of chunks, which nnlint does not read yet");
                }
                let o = usize::from(self.offsets);
                let filtered = client == 1;
                if (filtered && (entry <= o + 4 || entry > o + 12)) || (!filtered && entry != o) {
                    return err("a fixed array's entry size does not fit its kind");
                }
                let mut r = self.reader_at(block, "a fixed array data block")?;
                if r.bytes(4)? != b"FADB" {
                    return err(format!(
                        "fixed array data block at {block} lacks its FADB signature"
                    ));
                }
                r.skip(2)?;
                r.offset()?;
                for i in 0..entries {
                    let at = r.offset()?;
                    let (size, mask) = if filtered {
                        let size = r.uint((entry - o - 4) as u64)?;
                        (u32::try_from(size).unwrap_or(u32::MAX), r.u32()?)
                    } else {
                        (size32, 0)
                    };
                    if self.undefined(at) {
                        continue; // never written: stays zero (h5py's fill value)
                    }
                    each(size, mask, &offsets(i), at)?;
                }
                Ok(())
            }
        }
    }

    fn read_chunked(
        &self,
        ds: &Dataset,
        chunk: &[u64],
        elem: u64,
        total: u64,
        walk: &mut dyn FnMut(&mut ChunkVisitor<'_>) -> Result<()>,
    ) -> Result<Bytes> {
        let rank = ds.dims.len();
        if chunk.len() != rank {
            return err(format!(
                "chunk dims {chunk:?} do not match the dataset's rank {rank}"
            ));
        }
        if chunk.contains(&0) {
            return err("a chunk dimension is 0");
        }
        // Filters can expand data by at most deflate's ratio; anything claiming more is refused
        // before allocating.
        let ceiling = (self.data.len() as u64).saturating_mul(1032).max(1 << 20);
        let left = self
            .limits
            .max_decompressed
            .saturating_sub(self.decompressed.get());
        if total > ceiling || total > left {
            return err(format!(
                "a chunked dataset of {total} bytes exceeds the decompression budget ({} bytes left)",
                left.min(ceiling)
            ));
        }
        let chunk_bytes = chunk
            .iter()
            .try_fold(elem, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= left)
            .ok_or_else(|| {
                Error(format!(
                    "chunk dims {chunk:?} exceed the decompression budget"
                ))
            })?;
        let mut out = vec![0u8; total as usize];
        walk(&mut |size, mask, offsets, addr| {
            let r = self.range(addr, u64::from(size), "a chunk")?;
            let raw = self.unfilter(ds, &self.data[r], mask, chunk_bytes)?;
            place(&mut out, &raw, &ds.dims, chunk, offsets, elem as usize)
        })?;
        Ok(Bytes::from(out))
    }

    fn chunk_btree(
        &self,
        addr: u64,
        key: usize,
        depth: usize,
        seen: &mut HashSet<u64>,
        each: &mut ChunkVisitor<'_>,
    ) -> Result<()> {
        if depth > self.limits.max_depth {
            return err(format!(
                "a chunk B-tree is deeper than {} levels (limit)",
                self.limits.max_depth
            ));
        }
        if !seen.insert(addr) {
            return err(format!(
                "a chunk B-tree reaches node {addr} twice (a cycle)"
            ));
        }
        self.visit("a chunk B-tree")?;
        let mut r = self.reader_at(addr, "a B-tree node")?;
        if r.bytes(4)? != b"TREE" {
            return err(format!(
                "B-tree node at address {addr} lacks its TREE signature"
            ));
        }
        if r.u8()? != 1 {
            return err(format!(
                "B-tree node at address {addr} is not a chunk index node"
            ));
        }
        let level = r.u8()?;
        let used = r.u16()?;
        r.offset()?;
        r.offset()?;
        let dims = (key - 8) / 8;
        for _ in 0..used {
            let size = r.u32()?;
            let mask = r.u32()?;
            let mut offsets = Vec::with_capacity(dims);
            for _ in 0..dims {
                offsets.push(r.u64()?);
            }
            let child = r.offset()?;
            if level > 0 {
                self.chunk_btree(child, key, depth + 1, seen, each)?;
            } else {
                offsets.pop();
                each(size, mask, &offsets, child)?;
            }
        }
        Ok(())
    }

    /// Undoes the filter pipeline on one chunk; the result is exactly `want` bytes.
    fn unfilter(&self, ds: &Dataset, stored: &[u8], mask: u32, want: u64) -> Result<Vec<u8>> {
        let mut data = stored.to_vec();
        for (i, f) in ds.filters.iter().enumerate().rev() {
            if i < 32 && mask & (1 << i) != 0 {
                continue;
            }
            data = match f.id {
                1 => self.inflate(&data, want)?,
                2 => {
                    let size = f.client.first().map_or(ds.dtype.size(), |&s| u64::from(s));
                    unshuffle(&data, size as usize)
                }
                3 => {
                    if data.len() < 4 {
                        return err("a fletcher32 chunk is shorter than its checksum");
                    }
                    data.truncate(data.len() - 4);
                    data
                }
                id if f.optional => {
                    return err(format!("filter {id} (optional) is not one nnlint can undo"));
                }
                id => {
                    return err(format!(
                        "filter {id} is not one nnlint reads (deflate, shuffle and fletcher32 are)"
                    ));
                }
            };
        }
        if data.len() as u64 != want {
            return err(format!(
                "a chunk holds {} bytes after its filters, its dims need {want}",
                data.len()
            ));
        }
        Ok(data)
    }

    fn inflate(&self, data: &[u8], want: u64) -> Result<Vec<u8>> {
        use std::io::Read;
        let left = self
            .limits
            .max_decompressed
            .saturating_sub(self.decompressed.get());
        let cap = want.min(left);
        let mut out = Vec::with_capacity(cap.min(1 << 24) as usize);
        let mut z = flate2::read::ZlibDecoder::new(data).take(cap + 1);
        z.read_to_end(&mut out)
            .map_err(|e| Error(format!("a deflated chunk does not inflate ({e})")))?;
        if out.len() as u64 > cap {
            return err(if cap < want {
                format!(
                    "decompressing exceeds the budget of {} bytes (limit)",
                    self.limits.max_decompressed
                )
            } else {
                format!("a deflated chunk inflates to more than the {want} bytes its dims need")
            });
        }
        self.decompressed
            .set(self.decompressed.get() + out.len() as u64);
        Ok(out)
    }
}

/// Called with each chunk's stored size, filter mask, element offsets and address.
type ChunkVisitor<'a> = dyn FnMut(u32, u32, &[u64], u64) -> Result<()> + 'a;

fn check_sizes(offsets: u8, lengths: u8) -> Result<()> {
    for (what, n) in [("offsets", offsets), ("lengths", lengths)] {
        if !matches!(n, 2 | 4 | 8) {
            return err(format!(
                "the superblock declares {n}-byte {what} (2, 4 or 8 expected)"
            ));
        }
    }
    Ok(())
}

fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = vec![0u8; data.len()];
    for b in 0..size {
        for i in 0..n {
            out[i * size + b] = data[b * n + i];
        }
    }
    out[n * size..].copy_from_slice(&data[n * size..]);
    out
}

/// Copies one decoded chunk (dims `chunk`, at element `offsets`) into the dataset buffer `out`.
fn place(
    out: &mut [u8],
    raw: &[u8],
    dims: &[u64],
    chunk: &[u64],
    offsets: &[u64],
    elem: usize,
) -> Result<()> {
    let rank = dims.len();
    if offsets.len() != rank {
        return err("a chunk key has the wrong number of offsets");
    }
    if rank == 0 {
        let n = elem.min(out.len()).min(raw.len());
        out[..n].copy_from_slice(&raw[..n]);
        return Ok(());
    }
    for d in 0..rank {
        if offsets[d] >= dims[d] || !offsets[d].is_multiple_of(chunk[d]) {
            return err(format!(
                "a chunk at offsets {offsets:?} lies outside the dataset's dims {dims:?}"
            ));
        }
    }
    let last = rank - 1;
    let run = chunk[last].min(dims[last] - offsets[last]) as usize * elem;
    let mut idx = vec![0u64; last];
    loop {
        // Source and destination element offsets of this row.
        let mut src = 0u64;
        let mut dst = 0u64;
        for d in 0..last {
            src = src * chunk[d] + idx[d];
            dst = dst * dims[d] + offsets[d] + idx[d];
        }
        src *= chunk[last];
        dst = dst * dims[last] + offsets[last];
        let s = src as usize * elem;
        let t = dst as usize * elem;
        out[t..t + run].copy_from_slice(&raw[s..s + run]);
        // Next row.
        let mut d = last;
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < chunk[d] && offsets[d] + idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

impl File {
    /// Reads every group, dataset and Keras attribute below `obj` (eight levels deep at most),
    /// ignoring errors: what the fuzz target and the regression test exercise the reader with.
    pub fn read_everything(&self, obj: &Object) {
        self.read_below(obj, 0);
    }

    fn read_below(&self, obj: &Object, depth: usize) {
        for name in [
            "model_config",
            "training_config",
            "name",
            "weight_names",
            "layer_names",
            "title",
        ] {
            if let Ok(Some(a)) = self.attribute(obj, name) {
                let _ = self.attribute_strings(&a, name);
            }
        }
        if self.is_dataset(obj) {
            if let Ok(ds) = self.dataset(obj) {
                let _ = self.read(&ds);
            }
            return;
        }
        if depth > 8 {
            return;
        }
        for (_, addr) in self.links(obj).unwrap_or_default() {
            if let Ok(child) = self.object(addr) {
                self.read_below(&child, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests;
