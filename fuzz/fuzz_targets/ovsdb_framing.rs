//! Fuzz the OVSDB JSON-RPC framing, JSON decoding and message classification.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ovsdb_client::{JsonFramer, Message, MonitorUpdate, Session, Value};

fuzz_target!(|data: &[u8]| {
    // Split the input at a data-derived point to exercise incremental scanning.
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let (a, b) = data.split_at(split);

    let mut framer = JsonFramer::new(1 << 16);
    let mut buf = BytesMut::new();
    'outer: for chunk in [a, b] {
        buf.extend_from_slice(chunk);
        loop {
            match framer.next_value(&mut buf) {
                Ok(Some(j)) => {
                    let _ = Value::from_json(&j);
                    if let Ok(Message::Notification { method, params }) = Message::from_json(j) {
                        let _ = MonitorUpdate::from_notification(&method, &params);
                    }
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }

    // The whole sans-IO session must never panic either.
    let now = std::time::Instant::now();
    let mut s = Session::new(now, Some(std::time::Duration::from_secs(5)), 1 << 16);
    let _ = s.send_request("list_dbs", serde_json::json!([]));
    for chunk in [a, b] {
        if s.receive(chunk, now).is_err() {
            break;
        }
        while s.poll_event().is_some() {}
        let _ = s.take_output();
    }
});
