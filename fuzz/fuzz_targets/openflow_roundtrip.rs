//! Fuzz target: anything that decodes re-encodes to bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok((xid, msg)) = Message::decode(data) {
        let bytes = msg.encode(xid);
        let again = Message::decode(&bytes).expect("re-encoded message must decode");
        assert_eq!(again, (xid, msg));
    }
});
