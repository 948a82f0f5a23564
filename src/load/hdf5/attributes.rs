//! Attributes: fixed- and variable-length strings (the global heap) and numbers.

use super::*;

impl File {
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
    pub(super) fn global_object(&self, addr: u64, index: u32, len: u64) -> Result<&[u8]> {
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
}
