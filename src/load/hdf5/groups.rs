//! Groups: links in symbol tables (v1 B-tree + local heap), link messages and dense storage (a
//! fractal heap with a v2 B-tree name index); paths and children.

use super::*;

/// A version 2 B-tree's shape: record size, and per level the most records one node and one
/// subtree hold.
pub(super) struct BTree2 {
    pub(super) record: usize,
    pub(super) max_nrec: Vec<u64>,
    pub(super) cum: Vec<u64>,
}

/// Bytes HDF5 uses to encode counts up to `n` (its `limit_enc_size`).
pub(super) fn enc_size(n: u64) -> u64 {
    u64::from(n.max(1).ilog2()) / 8 + 1
}

/// A fractal heap's doubling table, as far as finding managed objects needs it.
pub(super) struct FractalHeap {
    pub(super) id_len: usize,
    pub(super) checksummed: bool,
    pub(super) width: u64,
    pub(super) start: u64,
    pub(super) max_direct: u64,
    pub(super) offset_bytes: usize,
    pub(super) root: u64,
    pub(super) rows: u64,
}

impl File {
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
    pub(super) fn link(&self, m: &Message) -> Result<Option<(String, u64)>> {
        let r = self.body(m, "a link message")?;
        self.link_from(r)
    }

    pub(super) fn link_from(&self, mut r: Reader<'_>) -> Result<Option<(String, u64)>> {
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
    pub(super) fn dense_links(
        &self,
        heap: u64,
        names: u64,
        out: &mut Vec<(String, u64)>,
    ) -> Result<()> {
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
    pub(super) fn btree2_node(
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

    pub(super) fn fractal_heap(&self, addr: u64) -> Result<FractalHeap> {
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
    pub(super) fn heap_object(&self, heap: &FractalHeap, id: &[u8]) -> Result<Range<usize>> {
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
    pub(super) fn local_heap(&self, addr: u64) -> Result<Range<usize>> {
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

    pub(super) fn heap_name(&self, heap: &Range<usize>, offset: u64) -> Result<String> {
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

    pub(super) fn group_btree(
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
    pub(super) fn btree_node(
        &self,
        addr: u64,
        node_type: u8,
        key_size: usize,
    ) -> Result<(u8, Vec<u64>)> {
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

    pub(super) fn symbol_node(
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
}
