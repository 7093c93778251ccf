//! JSON-RPC framing over a byte stream: a string- and escape-aware scanner
//! that finds where each top-level JSON value ends.
//!
//! OVSDB has no length prefix: messages are concatenated JSON texts. The
//! [`JsonFramer`] keeps its scan state between calls so that each byte is
//! examined once, then parses the complete value once with serde_json.

use bytes::{Buf, BytesMut};
use serde_json::Value as Json;
#[cfg(feature = "tokio")]
use tokio_util::codec::{Decoder, Encoder};

use crate::error::Error;

/// Default maximum message size (OVS itself has no hard limit; 64 MiB is generous).
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Incremental scanner / tokio codec for concatenated JSON values.
#[derive(Debug, Clone)]
pub struct JsonFramer {
    max_len: usize,
    /// Bytes of the buffer already scanned for the current value.
    pos: usize,
    depth: usize,
    in_string: bool,
    escape: bool,
    started: bool,
}

impl Default for JsonFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl JsonFramer {
    pub fn new(max_len: usize) -> Self {
        JsonFramer {
            max_len,
            pos: 0,
            depth: 0,
            in_string: false,
            escape: false,
            started: false,
        }
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.depth = 0;
        self.in_string = false;
        self.escape = false;
        self.started = false;
    }

    /// Find the end (exclusive) of the first complete top-level value in `buf`,
    /// skipping leading whitespace (which is consumed from `buf`).
    /// Returns `Ok(None)` if more bytes are needed.
    pub fn scan(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, Error> {
        if !self.started {
            let ws = buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .count();
            buf.advance(ws);
            match buf.first() {
                None => return Ok(None),
                Some(b'{') | Some(b'[') => {
                    self.started = true;
                    self.pos = 0;
                }
                Some(&b) => {
                    let e = Error::Framing(format!(
                        "unexpected byte 0x{b:02x} at start of message (expected '{{' or '[')"
                    ));
                    self.reset();
                    return Err(e);
                }
            }
        }
        let mut i = self.pos;
        // A complete message may be at most `max_len` bytes long.
        let limit = buf.len().min(self.max_len);
        while i < limit {
            let b = buf[i];
            i += 1;
            if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    if self.depth == 0 {
                        self.reset();
                        return Err(Error::Framing("unbalanced closing bracket".into()));
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.reset();
                        return Ok(Some(i));
                    }
                }
                _ => {}
            }
        }
        if buf.len() > self.max_len {
            self.reset();
            return Err(Error::TooLarge(buf.len()));
        }
        self.pos = i;
        Ok(None)
    }

    /// Extract and parse the next complete value from `buf`, if any.
    pub fn next_value(&mut self, buf: &mut BytesMut) -> Result<Option<Json>, Error> {
        match self.scan(buf)? {
            None => Ok(None),
            Some(end) => {
                let chunk = buf.split_to(end);
                Ok(Some(serde_json::from_slice(&chunk)?))
            }
        }
    }
}

#[cfg(feature = "tokio")]
impl Decoder for JsonFramer {
    type Item = Json;
    type Error = Error;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Json>, Error> {
        self.next_value(src)
    }
}

#[cfg(feature = "tokio")]
impl Encoder<Json> for JsonFramer {
    type Error = Error;
    fn encode(&mut self, item: Json, dst: &mut BytesMut) -> Result<(), Error> {
        let v = serde_json::to_vec(&item)?;
        dst.extend_from_slice(&v);
        Ok(())
    }
}
