//! Fuzz target: OpenFlow framing + message decoding must never panic.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use openflow::{Message, OfCodec};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let _ = Message::decode(data);
    let mut codec = OfCodec::default();
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        let _ = Message::decode(&frame);
    }
});
