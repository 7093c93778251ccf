//! Bounds-checked byte reading and length-patching writing helpers.
//!
//! Contract: every `Reader` accessor checks bounds and returns [`DecodeError`] instead of
//! panicking; `sub(len)` carves a nested reader so a nested structure can never read past its
//! own declared length. Writers append to a `Vec<u8>`; lengths are patched in after the body
//! is written (`patch_u16`) and 8-byte alignment is added with `pad_to_8`.

use thiserror::Error;

/// Why a byte sequence could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Input ended before a structure was complete.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A length field is impossible (too small, too large, or inconsistent).
    #[error("bad length {len} in {what}")]
    BadLength {
        /// Structure whose length is wrong.
        what: &'static str,
        /// The offending length.
        len: usize,
    },
    /// A length that must be a multiple of 8 (or a field's fixed size) is not.
    #[error("misaligned {what}: length {len}")]
    Misaligned {
        /// Structure whose length is misaligned.
        what: &'static str,
        /// The offending length.
        len: usize,
    },
    /// Bytes left over after a structure that must consume its whole buffer.
    #[error("{len} trailing bytes after {what}")]
    Trailing {
        /// Structure that was followed by junk.
        what: &'static str,
        /// Number of leftover bytes.
        len: usize,
    },
    /// Message with an OpenFlow version other than 1.3 (only HELLO may differ).
    #[error("unsupported OpenFlow version {0:#x}")]
    BadVersion(u8),
    /// Structurally invalid content.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A length does not fit its wire field (e.g. a message over 65535 bytes, an OXM
    /// payload over 255 bytes).
    #[error("{what} of {len} bytes does not fit its length field")]
    TooLong {
        /// Structure whose length overflowed.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
}

/// Result alias for decoders.
pub type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over a byte slice that never reads out of bounds.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Wraps `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything was consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Unconsumed bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Consumes and returns all remaining bytes.
    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.pos..];
        self.pos = self.buf.len();
        r
    }

    /// Consumes `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                what,
                need: n,
                have: self.remaining(),
            });
        }
        let r = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(r)
    }

    /// A nested reader over the next `n` bytes (which are consumed).
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>> {
        Ok(Reader::new(self.take(n, what)?))
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<()> {
        self.take(n, what).map(|_| ())
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a u8.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// Reads a big-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Peeks a big-endian u16 at `off` bytes ahead without consuming.
    pub fn peek_u16(&self, off: usize, what: &'static str) -> Result<u16> {
        let mut r = self.clone();
        r.skip(off, what)?;
        r.u16(what)
    }

    /// Fails with [`DecodeError::Trailing`] unless everything was consumed.
    pub fn finish(&self, what: &'static str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing {
                what,
                len: self.remaining(),
            })
        }
    }
}

/// Appends big-endian integers to a byte vector.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_zeros(&mut self, n: usize);
    fn pad_to_8(&mut self, start: usize);
    fn patch_u16(&mut self, at: usize, v: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad_to_8(&mut self, start: usize) {
        let l = self.len() - start;
        self.put_zeros(pad8(l) - l);
    }
    fn patch_u16(&mut self, at: usize, v: usize) {
        let v = u16::try_from(v).unwrap_or(u16::MAX);
        self[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

/// `n` rounded up to a multiple of 8.
pub(crate) fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Bytes up to the first NUL, as text (lossy).
pub fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Reads a fixed-size NUL-padded string field, keeping the bytes up to the last non-NUL.
pub(crate) fn fixed_bytes(r: &mut Reader<'_>, n: usize, what: &'static str) -> Result<Vec<u8>> {
    let s = r.take(n, what)?;
    let end = s.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    Ok(s[..end].to_vec())
}

/// Writes a fixed-size NUL-padded string field (truncating).
pub(crate) fn put_fixed(w: &mut Vec<u8>, b: &[u8], n: usize) {
    let take = b.len().min(n);
    w.extend_from_slice(&b[..take]);
    w.put_zeros(n - take);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_bounds() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16("x").ok(), Some(0x0102));
        assert!(matches!(r.u16("y"), Err(DecodeError::Truncated { .. })));
        assert_eq!(r.u8("z").ok(), Some(3));
        assert!(r.finish("r").is_ok());
    }

    #[test]
    fn sub_is_bounded() {
        let mut r = Reader::new(&[0, 1, 2, 3, 4]);
        let mut s = r.sub(2, "s").expect("sub");
        assert!(s.u32("u").is_err());
        assert_eq!(r.remaining(), 3);
    }

    #[test]
    fn pad_rounding() {
        assert_eq!(pad8(0), 0);
        assert_eq!(pad8(1), 8);
        assert_eq!(pad8(8), 8);
        assert_eq!(pad8(9), 16);
    }
}
