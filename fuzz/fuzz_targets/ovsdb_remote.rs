//! Fuzz the OVS remote parser (ovs-remote, as ovsdb-client re-exports it):
//! no input panics, and every accepted remote prints in a canonical form that
//! parses back to the same value and prints the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb_client::{Remote, OVSDB_PORT};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Remote::parse(s, OVSDB_PORT) {
        Ok(r) => {
            let text = r.to_string();
            let back = Remote::parse(&text, OVSDB_PORT).expect("canonical form parses");
            assert_eq!(back, r, "{s:?} -> {text:?}");
            assert_eq!(back.to_string(), text);
            assert_eq!(r.is_passive(), r.kind().starts_with('p'));
        }
        Err(e) => assert_eq!(e.input, s),
    }
});
