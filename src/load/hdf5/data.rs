//! Datasets: layouts (compact, contiguous, chunked with v1 B-tree or layout-v4 indexes), filters
//! (deflate, shuffle, fletcher32) and reading the bytes.

use super::*;

/// How a dataset's bytes are stored.
#[derive(Debug, Clone)]
pub(super) enum Layout {
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
pub(super) enum ChunkIndex {
    /// One chunk, the whole dataset (its stored size and filter mask when filtered).
    Single { filtered: Option<(u64, u32)> },
    /// Unfiltered chunks stored back to back in grid order.
    Implicit,
    /// A fixed array of chunk addresses (and sizes and masks when filtered), in grid order.
    FixedArray,
}

#[derive(Debug, Clone)]
pub(super) struct Filter {
    pub(super) id: u16,
    pub(super) optional: bool,
    pub(super) client: Vec<u32>,
}

impl File {
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

    pub(super) fn layout(&self, m: &Message) -> Result<Layout> {
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

    pub(super) fn filters(&self, m: &Message) -> Result<Vec<Filter>> {
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
    pub(super) fn chunk_index(
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

    pub(super) fn read_chunked(
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

    pub(super) fn chunk_btree(
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
    pub(super) fn unfilter(
        &self,
        ds: &Dataset,
        stored: &[u8],
        mask: u32,
        want: u64,
    ) -> Result<Vec<u8>> {
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

    pub(super) fn inflate(&self, data: &[u8], want: u64) -> Result<Vec<u8>> {
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
pub(super) type ChunkVisitor<'a> = dyn FnMut(u32, u32, &[u64], u64) -> Result<()> + 'a;

pub(super) fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
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
pub(super) fn place(
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
