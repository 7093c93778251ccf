//! OpenFlow framing: where one message ends in a byte stream.
//!
//! Contract: the length is the big-endian u16 at offset 2 and covers the 8-byte header,
//! which stays part of the frame. [`frame_len`] is the sans-IO core: given the bytes
//! received so far it says how long the first frame is, or that more bytes are needed, and
//! rejects lengths under 8 or over the limit with [`FrameError`] (the stream cannot be
//! resynchronised after that). `OfCodec` (feature `tokio`) is a thin tokio-util
//! `Decoder`/`Encoder` adapter over it.

use thiserror::Error;

/// Largest frame a 16-bit OpenFlow length can describe.
pub const MAX_FRAME_LEN: usize = 65535;
/// Smallest frame (the header alone).
pub const MIN_FRAME_LEN: usize = 8;

/// Why a byte stream cannot be framed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length field is under 8 or over the limit.
    #[error("OpenFlow frame length {len} out of range 8..={max}")]
    BadLength {
        /// The length field.
        len: usize,
        /// The limit in force.
        max: usize,
    },
}

/// Length of the first frame in `buf` (`buf` starts at a frame boundary).
///
/// `Ok(None)`: fewer than 4 bytes, the length is not known yet. `Ok(Some(n))`: the frame is
/// `n` bytes long; it is complete once `buf.len() >= n`.
pub fn frame_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, FrameError> {
    let [_, _, hi, lo, ..] = *buf else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < MIN_FRAME_LEN || len > max_len {
        return Err(FrameError::BadLength { len, max: max_len });
    }
    Ok(Some(len))
}

/// The first complete frame of `buf`, if it has fully arrived.
pub fn split_frame(buf: &[u8], max_len: usize) -> Result<Option<&[u8]>, FrameError> {
    Ok(frame_len(buf, max_len)?.and_then(|n| buf.get(..n)))
}

#[cfg(feature = "tokio")]
pub use adapter::OfCodec;

#[cfg(feature = "tokio")]
mod adapter {
    use super::{frame_len, MAX_FRAME_LEN, MIN_FRAME_LEN};
    use bytes::BytesMut;
    use std::io;
    use tokio_util::codec::{Decoder, Encoder};

    /// OpenFlow frame codec for tokio-util `Framed`: one whole message per frame.
    ///
    /// Bad lengths become `InvalidData` I/O errors; encoding a message outside 8..=max_len
    /// bytes is an `InvalidInput` error.
    #[derive(Debug, Clone)]
    pub struct OfCodec {
        max_len: usize,
    }

    impl Default for OfCodec {
        fn default() -> Self {
            OfCodec {
                max_len: MAX_FRAME_LEN,
            }
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
            let len = match frame_len(src, self.max_len) {
                Ok(Some(len)) => len,
                Ok(None) => return Ok(None),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            };
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
            if item.len() < MIN_FRAME_LEN || item.len() > self.max_len {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("OpenFlow message of {} bytes", item.len()),
                ));
            }
            dst.extend_from_slice(&item);
            Ok(())
        }
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

        #[test]
        fn encoder_refuses_oversized_message() {
            let mut c = OfCodec::with_max_len(16);
            let mut dst = BytesMut::new();
            assert!(c.encode(vec![0; 17], &mut dst).is_err());
            assert!(c.encode(vec![0; 7], &mut dst).is_err());
            assert!(dst.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn frame_len_needs_four_bytes() {
        assert_eq!(frame_len(&[4, 0, 0], MAX_FRAME_LEN), Ok(None));
        assert_eq!(frame_len(&[4, 0, 0, 16], MAX_FRAME_LEN), Ok(Some(16)));
    }

    #[test]
    fn frame_len_rejects_under_8_and_over_max() {
        assert_eq!(
            frame_len(&[4, 0, 0, 7], MAX_FRAME_LEN),
            Err(FrameError::BadLength { len: 7, max: 65535 })
        );
        assert!(frame_len(&[4, 0, 0, 101], 100).is_err());
        assert_eq!(frame_len(&[4, 0, 0, 100], 100), Ok(Some(100)));
    }

    #[test]
    fn split_frame_waits_for_the_whole_message_then_stops_at_its_end() {
        let mut all = Message::EchoRequest(vec![1, 2, 3]).encode(7);
        let first = all.len();
        all.extend(Message::BarrierRequest.encode(8));
        for cut in 0..first {
            assert_eq!(split_frame(&all[..cut], MAX_FRAME_LEN), Ok(None), "{cut}");
        }
        let f = split_frame(&all, MAX_FRAME_LEN).ok().flatten();
        assert_eq!(f.map(<[u8]>::len), Some(first));
        let f2 = split_frame(&all[first..], MAX_FRAME_LEN).ok().flatten();
        assert_eq!(
            f2.and_then(|b| Message::decode(b).ok()),
            Some((8, Message::BarrierRequest))
        );
    }
}
