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

mod attributes;
mod data;
mod groups;
mod read;

use std::cell::Cell;
use std::collections::HashSet;
use std::ops::Range;

use bytes::Bytes;

use self::data::{Filter, Layout};
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
}

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
