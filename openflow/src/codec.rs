//! The wire toolkit every layout is written with: [`Reader`], [`Writer`] and [`Wire`].
//!
//! Contract: every `Reader` accessor checks bounds and returns [`DecodeError`] instead of
//! panicking; `sub(len)` / `sub_tlv` carve a nested reader so a nested structure can never
//! read past its own declared length. A [`Writer`] appends big-endian fields; lengths are
//! patched in after the body is written (`patch_len16`, `patch_len8`) and 8-byte alignment
//! is added with `pad_to_8`. A length that does not fit its field is written saturated and
//! remembered: [`Writer::finish`] reports it as [`EncodeError::TooLong`]. Each wire
//! structure implements [`Wire`] once (parse and emit side by side, beside its type).

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

    /// A nested reader over the next TLV-like entry, whose u16 length at `len_at` covers
    /// the whole entry and must be at least `min` and a multiple of 8.
    pub fn sub_tlv(&mut self, len_at: usize, min: usize, what: &'static str) -> Result<Reader<'a>> {
        let len = self.peek_tlv_len(len_at, min, what)?;
        self.sub(len, what)
    }

    /// The checked length of the next TLV-like entry (as [`Reader::sub_tlv`]), unconsumed.
    pub fn peek_tlv_len(&self, len_at: usize, min: usize, what: &'static str) -> Result<usize> {
        let len = usize::from(self.peek_u16(len_at, what)?);
        if len < min || len % 8 != 0 {
            return Err(DecodeError::Misaligned { what, len });
        }
        Ok(len)
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
        let at = self.pos.saturating_add(off);
        match self.buf.get(at..at.saturating_add(2)) {
            Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
            _ => Err(DecodeError::Truncated {
                what,
                need: off.saturating_add(2),
                have: self.remaining(),
            }),
        }
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

/// A wire structure: parsed from a reader bounded by its enclosing structure, emitted to a
/// [`Writer`]. Parse and emit live together in one `impl` beside the type.
pub trait Wire: Sized {
    /// Reads one value.
    fn parse(r: &mut Reader<'_>) -> Result<Self>;

    /// Appends the wire form (lengths filled in after the body is written).
    fn emit(&self, w: &mut Writer);

    /// Encoded size in bytes (by emitting into a scratch writer unless overridden).
    fn wire_len(&self) -> usize {
        let mut w = Writer::new();
        self.emit(&mut w);
        w.len()
    }
}

/// Parses values until the reader is empty (the reader must hold exactly the list).
pub fn parse_list<T: Wire>(r: &mut Reader<'_>) -> Result<Vec<T>> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(T::parse(r)?);
    }
    Ok(v)
}

/// Emits every value of a list.
pub fn emit_list<T: Wire>(list: &[T], w: &mut Writer) {
    for x in list {
        x.emit(w);
    }
}

/// Emits into `buf` (appending); overflowing lengths are saturated, as the old
/// `encode(&mut Vec<u8>)` methods did.
pub(crate) fn emit_into<T: Wire>(x: &T, buf: &mut Vec<u8>) {
    let mut w = Writer::from_vec(std::mem::take(buf));
    x.emit(&mut w);
    *buf = w.into_vec();
}

/// Appends big-endian fields; patches lengths after the fact and remembers the first one
/// that did not fit.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    overflow: Option<EncodeError>,
}

impl Writer {
    /// Empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// Empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Writer::from_vec(Vec::with_capacity(n))
    }

    /// Writer that appends to `buf`.
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Writer {
            buf,
            overflow: None,
        }
    }

    /// Bytes written so far (offsets for `patch_len16` are positions in this count).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes, with any overflowing length saturated.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes, or the first length that did not fit its field.
    pub fn finish(self) -> std::result::Result<Vec<u8>, EncodeError> {
        match self.overflow {
            Some(e) => Err(e),
            None => Ok(self.buf),
        }
    }

    /// Appends a u8.
    pub fn put_u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Appends a big-endian u16.
    pub fn put_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian u32.
    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian u64.
    pub fn put_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Appends `n` zero bytes.
    pub fn put_zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }
    /// Appends raw bytes.
    pub fn put_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// Zero-pads so that the bytes since `start` are a multiple of 8.
    pub fn pad_to_8(&mut self, start: usize) {
        let l = self.buf.len() - start;
        self.put_zeros(pad8(l) - l);
    }
    /// Writes `len` into the u16 field at `at` (saturating and remembering an overflow).
    pub fn patch_len16(&mut self, at: usize, len: usize, what: &'static str) {
        let v = u16::try_from(len).unwrap_or_else(|_| {
            self.note_overflow(what, len);
            u16::MAX
        });
        if let Some(b) = self.buf.get_mut(at..at + 2) {
            b.copy_from_slice(&v.to_be_bytes());
        }
    }
    /// Writes `len` into the u8 field at `at` (saturating and remembering an overflow).
    pub fn patch_len8(&mut self, at: usize, len: usize, what: &'static str) {
        let v = u8::try_from(len).unwrap_or_else(|_| {
            self.note_overflow(what, len);
            u8::MAX
        });
        if let Some(b) = self.buf.get_mut(at) {
            *b = v;
        }
    }
    /// Appends a u16 length known up front (saturating and remembering an overflow).
    pub fn put_len16(&mut self, len: usize, what: &'static str) {
        let at = self.len();
        self.put_u16(0);
        self.patch_len16(at, len, what);
    }
    /// Writes `b` into a fixed `n`-byte NUL-padded field (truncating).
    pub fn put_fixed(&mut self, b: &[u8], n: usize) {
        let take = b.len().min(n);
        self.buf.extend_from_slice(&b[..take]);
        self.put_zeros(n - take);
    }
    fn note_overflow(&mut self, what: &'static str, len: usize) {
        self.overflow
            .get_or_insert(EncodeError::TooLong { what, len });
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
    fn writer_reports_a_length_that_does_not_fit() {
        let mut w = Writer::new();
        w.put_u16(0);
        w.put_zeros(70_000);
        w.patch_len16(0, w.len(), "thing");
        assert_eq!(w.clone().into_vec()[..2], [0xff, 0xff]);
        assert_eq!(
            w.finish(),
            Err(EncodeError::TooLong {
                what: "thing",
                len: 70_002
            })
        );
        let mut w = Writer::new();
        w.put_u8(0);
        w.patch_len8(0, 256, "oxm");
        assert!(w.finish().is_err());
    }

    #[test]
    fn sub_tlv_checks_length_and_alignment() {
        let b = [0u8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            Reader::new(&b).sub_tlv(0, 8, "entry"),
            Err(DecodeError::Misaligned {
                what: "entry",
                len: 12
            })
        ));
        let b = [0u8, 8, 0, 0, 0, 0, 0, 0, 1];
        let mut r = Reader::new(&b);
        assert_eq!(r.sub_tlv(0, 8, "entry").map(|s| s.remaining()), Ok(8));
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn pad_rounding() {
        assert_eq!(pad8(0), 0);
        assert_eq!(pad8(1), 8);
        assert_eq!(pad8(8), 8);
        assert_eq!(pad8(9), 16);
    }
}
