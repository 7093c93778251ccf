//! Fuzz target: OpenFlow framing (sans-IO and the tokio-util adapter) + message decoding
//! must never panic, and both framings must cut the same frames.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use openflow::framing::{split_frame, MAX_FRAME_LEN};
use openflow::{Message, OfCodec};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let _ = Message::decode(data);
    let mut codec = OfCodec::default();
    let mut buf = BytesMut::from(data);
    let mut rest = data;
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        let _ = Message::decode(&frame);
        let sans_io = split_frame(rest, MAX_FRAME_LEN).ok().flatten();
        assert_eq!(sans_io, Some(&frame[..]));
        rest = &rest[frame.len()..];
    }
});
