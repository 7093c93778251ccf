//! tokio-util framing for OpenFlow: one whole message per frame.
//!
//! Contract: the length is the big-endian u16 at offset 2 and covers the 8-byte header,
//! which is kept in the frame. Lengths under 8 or over `max_len` are rejected with an
//! `InvalidData` I/O error (the stream cannot be resynchronised after that).

use bytes::{Buf, BytesMut};
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// OpenFlow frame codec.
#[derive(Debug, Clone)]
pub struct OfCodec {
    max_len: usize,
}

impl Default for OfCodec {
    fn default() -> Self {
        OfCodec { max_len: 65535 }
    }
}

impl OfCodec {
    /// Codec that rejects frames longer than `max_len` bytes.
    pub fn with_max_len(max_len: usize) -> Self {
        OfCodec { max_len }
    }
}

impl Decoder for OfCodec {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = usize::from(u16::from_be_bytes([src[2], src[3]]));
        if len < 8 || len > self.max_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "OpenFlow frame length {len} out of range 8..={}",
                    self.max_len
                ),
            ));
        }
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        Ok(Some(src.split_to(len)))
    }
}

impl Encoder<Vec<u8>> for OfCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Vec<u8>, dst: &mut BytesMut) -> io::Result<()> {
        if item.len() < 8 || item.len() > self.max_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("OpenFlow message of {} bytes", item.len()),
            ));
        }
        dst.extend_from_slice(&item);
        Ok(())
    }
}

/// Unused helper kept to make `Buf` import meaningful for future zero-copy paths.
#[allow(dead_code)]
fn remaining(b: &BytesMut) -> usize {
    b.remaining()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn rejects_length_under_8() {
        let mut c = OfCodec::default();
        let mut b = BytesMut::from(&[4u8, 0, 0, 4, 0, 0, 0, 0][..]);
        assert!(c.decode(&mut b).is_err());
    }

    #[test]
    fn rejects_length_over_max() {
        let mut c = OfCodec::with_max_len(100);
        let mut b = BytesMut::from(&[4u8, 0, 1, 0, 0, 0, 0, 0][..]);
        assert!(c.decode(&mut b).is_err());
    }

    #[test]
    fn split_reads_one_message_across_many() {
        let msg = Message::EchoRequest(vec![1, 2, 3, 4, 5]).encode(7);
        let mut c = OfCodec::default();
        let mut b = BytesMut::new();
        for (i, byte) in msg.iter().enumerate() {
            b.extend_from_slice(&[*byte]);
            let r = c.decode(&mut b).expect("decode");
            if i + 1 < msg.len() {
                assert!(r.is_none());
            } else {
                assert_eq!(r.as_deref(), Some(&msg[..]));
            }
        }
        assert!(b.is_empty());
    }

    #[test]
    fn several_messages_in_one_read() {
        let mut all = Message::BarrierRequest.encode(1);
        all.extend(Message::EchoReply(vec![9; 3]).encode(2));
        all.extend(&Message::hello().encode(3)[..5]);
        let mut c = OfCodec::default();
        let mut b = BytesMut::from(&all[..]);
        let f1 = c.decode(&mut b).expect("ok").expect("frame 1");
        let f2 = c.decode(&mut b).expect("ok").expect("frame 2");
        assert!(c.decode(&mut b).expect("ok").is_none());
        assert_eq!(
            Message::decode(&f1).ok(),
            Some((1, Message::BarrierRequest))
        );
        assert_eq!(
            Message::decode(&f2).ok(),
            Some((2, Message::EchoReply(vec![9; 3])))
        );
        assert_eq!(b.len(), 5);
    }
}
