//! Unit tests: framing, data model, protocol session, replica.
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use ovsdb_client::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn frame_all(framer: &mut JsonFramer, chunks: &[&[u8]]) -> Result<Vec<serde_json::Value>, Error> {
    let mut buf = BytesMut::new();
    let mut out = vec![];
    for c in chunks {
        buf.extend_from_slice(c);
        while let Some(v) = framer.next_value(&mut buf)? {
            out.push(v);
        }
    }
    Ok(out)
}

const TRICKY: &str =
    r#"{"method":"echo","params":["a}\"]{[\\","\u00e9\ud83d\ude00 {\"x\":1}"],"id":"\\"}"#;

#[test]
fn framing_strings_escapes_and_braces() {
    let mut f = JsonFramer::default();
    let v = frame_all(&mut f, &[TRICKY.as_bytes()]).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["params"][0], json!("a}\"]{[\\"));
    assert_eq!(v[0]["params"][1], json!("é😀 {\"x\":1}"));
    assert_eq!(v[0]["id"], json!("\\"));
}

#[test]
fn framing_several_messages_per_chunk_and_whitespace() {
    let mut f = JsonFramer::default();
    let input = format!("  {TRICKY}\n[1,[2,{{}}]]\r\n\t{{\"a\":\"]\"}}{TRICKY}");
    let v = frame_all(&mut f, &[input.as_bytes()]).unwrap();
    assert_eq!(v.len(), 4);
    assert_eq!(v[1], json!([1, [2, {}]]));
    assert_eq!(v[2], json!({"a": "]"}));
}

#[test]
fn framing_byte_by_byte_and_arbitrary_splits() {
    let input = format!("{TRICKY}{TRICKY} [\"x\\\"\"]{TRICKY}");
    let bytes = input.as_bytes();
    let whole = frame_all(&mut JsonFramer::default(), &[bytes]).unwrap();
    assert_eq!(whole.len(), 4);
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(
        frame_all(&mut JsonFramer::default(), &singles).unwrap(),
        whole
    );
    for split in 0..bytes.len() {
        let (a, b) = bytes.split_at(split);
        assert_eq!(
            frame_all(&mut JsonFramer::default(), &[a, b]).unwrap(),
            whole,
            "split at {split}"
        );
    }
    // Escape split across reads: backslash at the end of a chunk.
    let s = br#"{"a":"x\"y"}"#;
    let pos = s.iter().position(|&c| c == b'\\').unwrap() + 1;
    let v = frame_all(&mut JsonFramer::default(), &[&s[..pos], &s[pos..]]).unwrap();
    assert_eq!(v[0]["a"], json!("x\"y"));
}

#[test]
fn framing_rejects_bad_input_without_panicking() {
    for bad in [
        &b"x"[..],
        b"]",
        b"}",
        b"123",
        b"\"str\"",
        b"{\"a\":}",
        b"{]",
        b"[}",
    ] {
        let r = frame_all(&mut JsonFramer::default(), &[bad]);
        assert!(r.is_err(), "{:?} should fail", String::from_utf8_lossy(bad));
    }
    // Incomplete input is not an error, just pending.
    assert_eq!(
        frame_all(&mut JsonFramer::default(), &[b"{\"a\":[1,2"])
            .unwrap()
            .len(),
        0
    );
    // Invalid UTF-8 inside a string is a JSON error, not a panic.
    assert!(frame_all(&mut JsonFramer::default(), &[b"[\"\xff\xfe\"]"]).is_err());
}

#[test]
fn framing_oversize_is_an_error() {
    let mut f = JsonFramer::new(100);
    let big = format!("[\"{}\"]", "a".repeat(200));
    assert!(matches!(
        frame_all(&mut f, &[big.as_bytes()]),
        Err(Error::TooLarge(_))
    ));
    // Also when it arrives in small pieces, and before the value completes.
    let mut f = JsonFramer::new(100);
    let chunks: Vec<&[u8]> = big.as_bytes()[..150].chunks(7).collect();
    assert!(matches!(
        frame_all(&mut f, &chunks),
        Err(Error::TooLarge(_))
    ));
    // Exactly at the limit is fine.
    let ok = format!("[\"{}\"]", "a".repeat(96));
    assert_eq!(ok.len(), 100);
    assert_eq!(
        frame_all(&mut JsonFramer::new(100), &[ok.as_bytes()])
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn datum_round_trips() {
    let u = Uuid::new_v4();
    let cases = vec![
        json!(5),
        json!(-7),
        json!(1.5),
        json!(true),
        json!("s"),
        json!(["uuid", u.to_string()]),
        json!(["named-uuid", "row1"]),
        json!(["set", []]),
        json!(["set", [1, 2, 3]]),
        json!(["set", [["uuid", u.to_string()]]]),
        json!(["map", []]),
        json!(["map", [["k", "v"], ["k2", ["uuid", u.to_string()]]]]),
        json!(["map", [[1, true]]]),
    ];
    for j in cases {
        let v = Value::from_json(&j).unwrap();
        assert_eq!(v.to_json(), j, "{j}");
    }
    assert_eq!(
        Value::from_json(&json!(["uuid", u.to_string()]))
            .unwrap()
            .as_uuid(),
        Some(u)
    );
    assert_eq!(
        Value::from_json(&json!(["set", ["a"]])).unwrap().as_str(),
        Some("a")
    );
    let m = Value::from_json(&json!(["map", [["a", "1"], ["b", "2"]]])).unwrap();
    assert_eq!(m.to_string_map().len(), 2);
    assert!(Value::set([1i64, 2]).same_as(&Value::set([2i64, 1])));
    assert!(Value::integer(1).same_as(&Value::set([1i64])));
}

#[test]
fn datum_rejects_malformed() {
    for bad in [
        json!(null),
        json!({}),
        json!([]),
        json!(["uuid"]),
        json!(["uuid", "not-a-uuid"]),
        json!(["uuid", 5]),
        json!(["named-uuid", ""]),
        json!(["set", [["set", []]]]),
        json!(["set", "x"]),
        json!(["map", [["k"]]]),
        json!(["map", [1]]),
        json!(["bogus", []]),
        json!([1, 2]),
        json!(["set", [{}]]),
    ] {
        assert!(Value::from_json(&bad).is_err(), "{bad} should be rejected");
    }
    assert!(row_from_json(&json!([1])).is_err());
    assert!("0123".parse::<Uuid>().is_err());
}

#[test]
fn schema_parse() {
    let s = DatabaseSchema::from_json(&json!({
        "name": "T", "version": "1.0.0",
        "tables": {"A": {"columns": {
            "i": {"type": "integer"},
            "e": {"type": {"key": {"type": "string", "enum": ["set", ["x", "y"]]}, "min": 0, "max": 1}},
            "r": {"type": {"key": {"type": "uuid", "refTable": "A", "refType": "weak"}, "min": 0, "max": "unlimited"}},
            "m": {"type": {"key": "string", "value": {"type": "integer", "minInteger": 1, "maxInteger": 9}, "min": 0, "max": "unlimited"}}
        }, "isRoot": true, "indexes": [["i"]]}}
    }))
    .unwrap();
    let t = s.table("A").unwrap();
    assert!(t.is_root);
    assert!(t.column("i").unwrap().column_type.is_scalar());
    let e = &t.column("e").unwrap().column_type;
    assert!(e.is_optional());
    assert_eq!(e.key.enum_values.as_ref().unwrap().len(), 2);
    let r = &t.column("r").unwrap().column_type;
    assert_eq!(r.max, None);
    assert!(r.key.ref_type_weak);
    let m = &t.column("m").unwrap().column_type;
    assert!(m.is_map() && m.is_composite());
    assert_eq!(m.value.as_ref().unwrap().max_integer, Some(9));
    assert!(DatabaseSchema::from_json(&json!({"name": "x"})).is_err());
    assert!(DatabaseSchema::from_json(
        &json!({"name": "x", "tables": {"A": {"columns": {"c": {"type": "nope"}}}}})
    )
    .is_err());
}

#[test]
fn operations_serialize_like_rfc() {
    let op = Operation::insert("Bridge", row! {"name" => "br0"}).with_uuid_name("b");
    assert_eq!(
        op.to_json(),
        json!({"op": "insert", "table": "Bridge", "row": {"name": "br0"}, "uuid-name": "b"})
    );
    let op = Operation::mutate(
        "T",
        vec![Condition::eq("a", 1i64)],
        vec![Mutation::new("n", Mutator::Add, 2i64)],
    );
    assert_eq!(
        op.to_json(),
        json!({"op": "mutate", "table": "T", "where": [["a", "==", 1]], "mutations": [["n", "+=", 2]]})
    );
    let op = Operation::wait(
        "T",
        vec![],
        &["a"],
        WaitUntil::Ne,
        vec![row! {"a" => 1i64}],
        Some(10),
    );
    assert_eq!(op.to_json()["until"], json!("!="));
    assert_eq!(op.to_json()["timeout"], json!(10));
    assert_eq!(
        Operation::commit(true).to_json(),
        json!({"op": "commit", "durable": true})
    );
    assert_eq!(
        Operation::assert_lock("l").to_json(),
        json!({"op": "assert", "lock": "l"})
    );
}

#[test]
fn transact_results_and_errors() {
    let u = Uuid::new_v4();
    let r = ovsdb_client::ops::parse_transact_result(
        &json!([{"uuid": ["uuid", u.to_string()]}, {"count": 2}, {"rows": [{"a": 1}]}, {}]),
        4,
    )
    .unwrap();
    assert_eq!(r[0].uuid, Some(u));
    assert_eq!(r[1].count, Some(2));
    assert_eq!(r[2].rows.as_ref().unwrap()[0]["a"].as_i64(), Some(1));
    let e = ovsdb_client::ops::parse_transact_result(
        &json!([{}, {"error": "constraint violation", "details": "bad"}, null]),
        3,
    )
    .unwrap_err();
    match e {
        Error::Transaction(t) => {
            assert_eq!(t.index, 1);
            assert_eq!(t.kind, TxnErrorKind::ConstraintViolation);
            assert_eq!(t.details.as_deref(), Some("bad"));
        }
        e => panic!("{e:?}"),
    }
    // Commit-time error: extra element past the operations.
    let e = ovsdb_client::ops::parse_transact_result(
        &json!([{}, {"error": "referential integrity violation"}]),
        1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Transaction(t) if t.index == 1 && t.kind == TxnErrorKind::ReferentialIntegrityViolation)
    );
}

#[test]
fn session_matches_responses_answers_echo_and_probes() {
    let t0 = Instant::now();
    let mut s = Session::new(t0, Some(Duration::from_secs(5)), 1 << 20);
    let id = s.send_request("list_dbs", json!([]));
    let out = s.take_output().unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(sent, json!({"method": "list_dbs", "params": [], "id": id}));
    // Response split over two reads, plus an echo request and a notification in one read.
    let resp = format!(
        r#"{{"id":{id},"result":["Open_vSwitch"],"error":null}}{{"method":"echo","params":[],"id":"echo"}}"#
    );
    let (a, b) = resp.as_bytes().split_at(10);
    s.receive(a, t0).unwrap();
    assert!(s.poll_event().is_none());
    s.receive(b, t0).unwrap();
    s.receive(br#"{"method":"locked","params":["l"],"id":null}"#, t0)
        .unwrap();
    assert_eq!(
        s.poll_event(),
        Some(Event::Response {
            id,
            method: "list_dbs".into(),
            result: Ok(json!(["Open_vSwitch"]))
        })
    );
    assert_eq!(
        s.poll_event(),
        Some(Event::Notification {
            method: "locked".into(),
            params: json!(["l"])
        })
    );
    let echo: serde_json::Value = serde_json::from_slice(&s.take_output().unwrap()).unwrap();
    assert_eq!(echo, json!({"id": "echo", "result": [], "error": null}));
    // Probe: idle 5 s → echo request; another 5 s without data → timeout.
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    s.handle_timeout(t0 + Duration::from_secs(5)).unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&s.take_output().unwrap()).unwrap();
    assert_eq!(probe["method"], json!("echo"));
    assert!(matches!(
        s.handle_timeout(t0 + Duration::from_secs(10)),
        Err(Error::ProbeTimeout)
    ));
    // Error responses.
    let id2 = s.send_request("monitor_cond_since", json!([]));
    s.receive(
        format!(r#"{{"id":{id2},"result":null,"error":"unknown method"}}"#).as_bytes(),
        t0,
    )
    .unwrap();
    match s.poll_event() {
        Some(Event::Response { result: Err(e), .. }) => assert!(Error::Rpc(e).is_unknown_method()),
        e => panic!("{e:?}"),
    }
    // Garbage closes the session with an error, no panic.
    assert!(s.receive(b"{\"foo\":1}", t0).is_err());
}

/// The client parses remotes with the shared `ovs-remote` parser (tested in
/// full there): OVSDB's default port, and a typed error naming the input.
#[test]
fn remotes_parse() {
    use ovsdb_client::ovs_remote::Host;
    let p = |s: &str| Remote::parse(s, ovsdb_client::OVSDB_PORT);
    assert_eq!(
        p("tcp:127.0.0.1:6640").unwrap(),
        Remote::Tcp {
            host: Host::Ip("127.0.0.1".parse().unwrap()),
            port: 6640
        }
    );
    assert_eq!(p("tcp:[::1]").unwrap().to_string(), "tcp:[::1]:6640");
    assert_eq!(
        p("unix:/x/db.sock").unwrap(),
        Remote::Unix("/x/db.sock".into())
    );
    assert_eq!(
        p("ptcp:6640").unwrap().listen_addr(),
        Some("0.0.0.0:6640".parse().unwrap())
    );
    assert_eq!(
        p("ptcp:6640:127.0.0.1").unwrap().listen_addr(),
        Some("127.0.0.1:6640".parse().unwrap())
    );
    assert_eq!(p("punix:/s").unwrap(), Remote::PUnix("/s".into()));
    assert!(p("ssl:1.2.3.4:6640").unwrap().is_tls());
    for bad in ["", "tcp:", "ptcp:x", "foo:bar", "tcp:1.2.3.4:99999"] {
        assert!(p(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn connect_and_bind_refuse_the_wrong_direction_and_tls() {
    let e = Client::connect("ptcp:6640").await.unwrap_err();
    assert!(matches!(e, Error::WrongRemote(_, "active")), "{e}");
    let e = Client::connect("tcp:garbage:zz").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid remote "tcp:garbage:zz": port "zz" is not a number"#
    );
    assert!(matches!(
        Client::connect("ssl:127.0.0.1:1").await.unwrap_err(),
        Error::Unsupported(_)
    ));
    let e = Listener::bind("tcp:127.0.0.1:6640").await.unwrap_err();
    assert!(matches!(e, Error::WrongRemote(_, "passive")), "{e}");
    assert!(matches!(
        Listener::bind("pssl:0:127.0.0.1").await.unwrap_err(),
        Error::Unsupported(_)
    ));
}

fn schema() -> DatabaseSchema {
    DatabaseSchema::from_json(&json!({"name": "T", "tables": {"A": {"columns": {
        "name": {"type": "string"},
        "n": {"type": {"key": "integer", "min": 0, "max": 1}},
        "s": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
        "m": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}}
    }}}}))
    .unwrap()
}

fn upd(method: &str, params: serde_json::Value) -> MonitorUpdate {
    MonitorUpdate::from_notification(method, &params).unwrap().1
}

#[test]
fn replica_update2_set_and_map_diffs() {
    let u = Uuid::new_v4().to_string();
    let mut r = Replica::new(Some(schema()));
    let ch = r.apply_update(&upd(
        "update2",
        json!(["m", {"A": {u.clone(): {"initial": {"name": "a", "n": 5, "s": ["set", ["x", "y"]], "m": ["map", [["k1", "v1"], ["k2", "v2"]]]}}}}]),
    ));
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].kind, ChangeKind::Insert);
    // Diff: s gets y removed and z added; m: k1 removed (same value), k2 changed, k3 added; n → none.
    let ch = r.apply_update(&upd(
        "update2",
        json!(["m", {"A": {u.clone(): {"modify": {
            "s": ["set", ["y", "z"]],
            "m": ["map", [["k1", "v1"], ["k2", "new"], ["k3", "v3"]]],
            "n": ["set", []]
        }}}}]),
    ));
    assert_eq!(ch[0].kind, ChangeKind::Modify);
    let uu: Uuid = u.parse().unwrap();
    let row = r.get("A", &uu).unwrap();
    assert!(row["s"].same_as(&Value::set(["x", "z"])));
    assert!(row["m"].same_as(&Value::map([("k2", "new"), ("k3", "v3")])));
    assert!(row["n"].is_empty());
    assert_eq!(ch[0].old.as_ref().unwrap()["n"].as_i64(), Some(5));
    // Single-element set diff (sent as a bare atom) toggles membership.
    r.apply_update(&upd(
        "update2",
        json!(["m", {"A": {u.clone(): {"modify": {"s": "x", "n": 7}}}}]),
    ));
    let row = r.get("A", &uu).unwrap();
    assert!(row["s"].same_as(&Value::set(["z"])));
    assert_eq!(row["n"].as_i64(), Some(7));
    let ch = r.apply_update(&upd(
        "update2",
        json!(["m", {"A": {u.clone(): {"delete": null}}}]),
    ));
    assert_eq!(ch[0].kind, ChangeKind::Delete);
    assert_eq!(r.len("A"), 0);
}

#[test]
fn replica_update1_and_update3() {
    let u = Uuid::new_v4().to_string();
    let mut r = Replica::new(None);
    r.apply_update(&upd(
        "update",
        json!([null, {"A": {u.clone(): {"new": {"name": "a", "s": ["set", ["x"]]}}}}]),
    ));
    let ch = r.apply_update(&upd(
        "update",
        json!([null, {"A": {u.clone(): {"old": {"s": ["set", ["x"]]}, "new": {"name": "a", "s": ["set", ["x", "y"]]}}}}]),
    ));
    assert_eq!(ch[0].kind, ChangeKind::Modify);
    assert_eq!(r.get("A", &u.parse().unwrap()).unwrap()["s"].len(), 2);
    r.apply_update(&upd(
        "update",
        json!([null, {"A": {u.clone(): {"old": {"name": "a"}}}}]),
    ));
    assert_eq!(r.len("A"), 0);

    let mut r = Replica::new(Some(schema()));
    r.set_monitored_columns("A", None);
    r.apply_update(&upd(
        "update3",
        json!(["m", "txn-1", {"A": {u.clone(): {"insert": {"name": "b"}}}}]),
    ));
    assert_eq!(r.last_txn_id(), Some("txn-1"));
    // Defaults were filled for omitted columns.
    let row = r.get("A", &u.parse().unwrap()).unwrap();
    assert!(row["m"].is_empty() && row["s"].is_empty());
    r.apply_update(&upd(
        "update3",
        json!(["m", "txn-2", {"A": {u.clone(): {"modify": {"m": ["map", [["a", "b"]]]}}}}]),
    ));
    assert_eq!(r.last_txn_id(), Some("txn-2"));
    assert_eq!(
        r.get("A", &u.parse().unwrap()).unwrap()["m"]
            .to_string_map()
            .len(),
        1
    );
}

#[test]
fn replica_resync_emits_deletes_and_modifies() {
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut r = Replica::new(Some(schema()));
    let init = |rows: serde_json::Value| {
        ovsdb_client::monitor::parse_table_updates(&rows, UpdateVersion::V2).unwrap()
    };
    r.apply(&init(json!({"A": {a.to_string(): {"initial": {"name": "a"}}, b.to_string(): {"initial": {"name": "b"}}}})));
    let ch = r.resync(
        &["A".to_string()],
        &init(json!({"A": {a.to_string(): {"initial": {"name": "a2"}}, c.to_string(): {"initial": {"name": "c"}}}})),
    );
    let kinds: std::collections::BTreeMap<Uuid, ChangeKind> =
        ch.iter().map(|c| (c.uuid, c.kind)).collect();
    assert_eq!(kinds[&a], ChangeKind::Modify);
    assert_eq!(kinds[&b], ChangeKind::Delete);
    assert_eq!(kinds[&c], ChangeKind::Insert);
    assert_eq!(r.len("A"), 2);
    // A resync with an empty snapshot clears the table.
    let ch = r.resync(&["A".to_string()], &init(json!({})));
    assert_eq!(ch.len(), 2);
    assert_eq!(r.len("A"), 0);
}

#[test]
fn monitor_update_parse_rejects_garbage() {
    assert!(MonitorUpdate::from_notification("update2", &json!(["m"])).is_err());
    assert!(MonitorUpdate::from_notification(
        "update2",
        &json!(["m", {"A": {"not-uuid": {"insert": {}}}}])
    )
    .is_err());
    assert!(MonitorUpdate::from_notification(
        "update2",
        &json!(["m", {"A": {Uuid::new_v4().to_string(): {"bogus": {}}}}])
    )
    .is_err());
    assert!(MonitorUpdate::from_notification("update3", &json!(["m", {}])).is_err());
    assert!(MonitorUpdate::from_notification("nope", &json!([])).is_err());
}

#[test]
fn random_input_never_panics() {
    // Tiny deterministic PRNG; biased towards JSON punctuation.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let alphabet = b"{}[]\"\\:,ua0 1\n-.e\xff\xc3";
    for _ in 0..2000 {
        let mut data = vec![];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 64) as usize;
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let mut f = JsonFramer::new(32);
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(j)) = f.next_value(&mut buf) {
            let _ = Value::from_json(&j);
            let _ = Message::from_json(j);
        }
        let mut s = Session::new(Instant::now(), None, 32);
        let _ = s.receive(&data, Instant::now());
    }
}

#[test]
fn replica_coerces_reals_with_schema() {
    let s = DatabaseSchema::from_json(&json!({"name": "T", "tables": {"A": {"columns": {
        "r": {"type": "real"},
        "m": {"type": {"key": "string", "value": "real", "min": 0, "max": "unlimited"}}
    }}}}))
    .unwrap();
    let u = Uuid::new_v4();
    let mut r = Replica::new(Some(s));
    r.apply_update(&upd(
        "update2",
        json!(["m", {"A": {u.to_string(): {"insert": {"r": 1, "m": ["map", [["a", 2]]]}}}}]),
    ));
    let row = r.get("A", &u).unwrap();
    assert_eq!(row["r"], Value::Atom(Atom::Real(1.0)));
    assert_eq!(row["m"].as_map()[0].1, Atom::Real(2.0));
}
