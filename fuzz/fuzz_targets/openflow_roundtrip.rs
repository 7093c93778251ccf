//! Fuzz target: anything that decodes re-encodes to bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok((xid, msg)) = Message::decode(data) {
        let bytes = msg.encode(xid);
        // Canonical re-encoding may add padding the input lacked; past 65535 bytes the
        // 16-bit length cannot describe the message, which the driver refuses to send.
        if bytes.len() > usize::from(u16::MAX) {
            return;
        }
        let again = Message::decode(&bytes).expect("re-encoded message must decode");
        assert_eq!(again, (xid, msg));
    }
});
