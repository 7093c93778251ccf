//! Fuzz target: anything that decodes re-encodes to bytes that decode to the same message,
//! and `try_encode` agrees with `encode` whenever it succeeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok((xid, msg)) = Message::decode(data) {
        let bytes = msg.encode(xid);
        match msg.try_encode(xid) {
            Ok(b) => assert_eq!(b, bytes, "try_encode and encode differ"),
            // Canonical re-encoding may add padding the input lacked; past 65535 bytes the
            // 16-bit length cannot describe the message, which the driver refuses to send.
            Err(_) => {
                assert!(
                    bytes.len() > usize::from(u16::MAX),
                    "try_encode refused a fitting message"
                );
                return;
            }
        }
        let again = Message::decode(&bytes).expect("re-encoded message must decode");
        assert_eq!(again, (xid, msg));
    }
});
