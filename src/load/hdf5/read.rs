//! A cursor over a checked window of the file buffer: every read fails cleanly past the window.

use std::ops::Range;

use super::{Error, Result};

pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
    what: &'static str,
    offsets: u8,
    lengths: u8,
}

impl<'a> Reader<'a> {
    /// A reader of `data[start..end]` (clamped to the buffer).
    pub fn new(data: &'a [u8], start: usize, end: usize, what: &'static str) -> Self {
        let end = end.min(data.len());
        Reader {
            data,
            pos: start.min(end),
            end,
            what,
            offsets: 8,
            lengths: 8,
        }
    }

    pub fn with_sizes(mut self, offsets: u8, lengths: u8) -> Self {
        self.offsets = offsets;
        self.lengths = lengths;
        self
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn short(&self, n: usize) -> Error {
        Error(format!(
            "{} is truncated ({n} bytes needed at byte {}, {} left)",
            self.what,
            self.pos,
            self.remaining()
        ))
    }

    /// The range of the next `n` bytes, consumed; nothing is consumed on failure.
    pub fn take(&mut self, n: usize) -> Result<Range<usize>> {
        if n > self.remaining() {
            return Err(self.short(n));
        }
        let r = self.pos..self.pos + n;
        self.pos += n;
        Ok(r)
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let r = self.take(n)?;
        Ok(&self.data[r])
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    /// A little-endian unsigned integer of `n` (≤ 8) bytes.
    pub fn uint(&mut self, n: u64) -> Result<u64> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > 8 {
            return Err(Error(format!("{}: a {n}-byte integer", self.what)));
        }
        let b = self.bytes(n)?;
        Ok(b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(self.uint(2)? as u16)
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(self.uint(4)? as u32)
    }

    pub fn u64(&mut self) -> Result<u64> {
        self.uint(8)
    }

    /// An address (size of offsets).
    pub fn offset(&mut self) -> Result<u64> {
        self.uint(u64::from(self.offsets))
    }

    /// A size (size of lengths).
    pub fn length(&mut self) -> Result<u64> {
        self.uint(u64::from(self.lengths))
    }
}
