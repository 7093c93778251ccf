//! Scripted fake server over an in-process socket pair: monitor fallback,
//! echo answering, inactivity probe, notifications split across writes.
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use ovsdb_client::*;
use serde_json::{json, Value as Json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

struct Peer {
    s: UnixStream,
    buf: BytesMut,
    f: JsonFramer,
}

impl Peer {
    async fn recv(&mut self) -> Json {
        loop {
            if let Some(v) = self.f.next_value(&mut self.buf).unwrap() {
                return v;
            }
            let mut b = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut b))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "client closed");
            self.buf.extend_from_slice(&b[..n]);
        }
    }
    async fn send(&mut self, v: Json) {
        self.s.write_all(v.to_string().as_bytes()).await.unwrap();
    }
}

fn pair(opts: ClientOptions) -> (Client, Peer) {
    let (a, b) = UnixStream::pair().unwrap();
    (
        Client::from_stream(a, opts),
        Peer {
            s: b,
            buf: BytesMut::new(),
            f: JsonFramer::default(),
        },
    )
}

fn no_probe() -> ClientOptions {
    ClientOptions {
        probe_interval: None,
        ..Default::default()
    }
}

#[tokio::test]
async fn monitor_falls_back_to_cond_then_v1() {
    let (c, mut p) = pair(no_probe());
    let u = Uuid::new_v4().to_string();
    let srv = tokio::spawn(async move {
        for expected in ["monitor_cond_since", "monitor_cond"] {
            let r = p.recv().await;
            assert_eq!(r["method"], json!(expected));
            p.send(json!({"id": r["id"], "result": null, "error": "unknown method"}))
                .await;
        }
        let r = p.recv().await;
        assert_eq!(r["method"], json!("monitor"));
        let mon_id = r["params"][1].clone();
        p.send(json!({"id": r["id"], "error": null,
            "result": {"Bridge": {u.clone(): {"new": {"name": "br0"}}}}}))
            .await;
        // An update notification split into two writes.
        let n = json!({"method": "update", "id": null,
            "params": [mon_id, {"Bridge": {u.clone(): {"old": {"name": "br0"}, "new": {"name": "br1"}}}}]})
        .to_string();
        let (a, b) = n.as_bytes().split_at(n.len() / 2);
        p.s.write_all(a).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.s.write_all(b).await.unwrap();
        p
    });
    let reqs = [("Bridge".to_string(), MonitorRequest::all())].into();
    let mut m = c.monitor("Open_vSwitch", &reqs, None).await.unwrap();
    assert_eq!(m.version, UpdateVersion::V1);
    let mut r = Replica::new(None);
    r.apply(&m.initial);
    let upd = tokio::time::timeout(Duration::from_secs(5), m.updates.recv())
        .await
        .unwrap()
        .unwrap();
    let ch = r.apply_update(&upd);
    assert_eq!(ch[0].kind, ChangeKind::Modify);
    assert_eq!(ch[0].new.as_ref().unwrap()["name"].as_str(), Some("br1"));
    srv.await.unwrap();
}

#[tokio::test]
async fn server_echo_is_answered_by_background_task() {
    let (c, mut p) = pair(no_probe());
    p.send(json!({"method": "echo", "params": ["x", 1], "id": "echo"}))
        .await;
    let r = p.recv().await;
    assert_eq!(r, json!({"id": "echo", "result": ["x", 1], "error": null}));
    // Numeric ids too, and several in one write.
    p.s.write_all(br#"{"method":"echo","params":[],"id":7}{"method":"echo","params":[],"id":8}"#)
        .await
        .unwrap();
    assert_eq!(p.recv().await["id"], json!(7));
    assert_eq!(p.recv().await["id"], json!(8));
    assert!(!c.is_closed());
}

#[tokio::test]
async fn our_probe_disconnects_a_silent_server() {
    let (c, mut p) = pair(ClientOptions {
        probe_interval: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    let r = p.recv().await;
    assert_eq!(r["method"], json!("echo"));
    // Don't answer: the client must give up after another interval.
    tokio::time::timeout(Duration::from_secs(2), c.closed())
        .await
        .unwrap();
    assert!(matches!(c.list_dbs().await, Err(Error::Disconnected)));
}

#[tokio::test]
async fn answered_probe_keeps_connection() {
    let (c, mut p) = pair(ClientOptions {
        probe_interval: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    for _ in 0..5 {
        let r = p.recv().await;
        assert_eq!(r["method"], json!("echo"));
        p.send(json!({"id": r["id"], "result": r["params"], "error": null}))
            .await;
    }
    assert!(!c.is_closed());
}

#[tokio::test]
async fn pipelined_responses_out_of_order() {
    let (c, mut p) = pair(no_probe());
    let srv = tokio::spawn(async move {
        let a = p.recv().await;
        let b = p.recv().await;
        // Reply to the second first, both in one write.
        let s = format!(
            "{}{}",
            json!({"id": b["id"], "result": [{"count": 2}], "error": null}),
            json!({"id": a["id"], "result": [{"count": 1}], "error": null})
        );
        p.s.write_all(s.as_bytes()).await.unwrap();
        p
    });
    let op = || vec![Operation::delete("Bridge", vec![])];
    let (ra, rb) = tokio::join!(c.transact("db", op()), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.transact("db", op()).await
    });
    assert_eq!(ra.unwrap()[0].count, Some(1));
    assert_eq!(rb.unwrap()[0].count, Some(2));
    drop(srv.await.unwrap());
}

#[tokio::test]
async fn garbage_from_server_closes_and_fails_pending() {
    let (c, mut p) = pair(no_probe());
    let c2 = c.clone();
    let h = tokio::spawn(async move { c2.list_dbs().await });
    p.recv().await;
    p.s.write_all(b"}}}garbage").await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(2), h)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(r, Err(Error::Disconnected)), "{r:?}");
    assert!(c.is_closed());
}

#[tokio::test]
async fn lock_notifications_are_routed() {
    let (c, mut p) = pair(no_probe());
    let srv = tokio::spawn(async move {
        let r = p.recv().await;
        assert_eq!(r["method"], json!("lock"));
        p.send(json!({"id": r["id"], "result": {"locked": false}, "error": null}))
            .await;
        p.send(json!({"method": "locked", "params": ["L"], "id": null}))
            .await;
        p.send(json!({"method": "stolen", "params": ["L"], "id": null}))
            .await;
        p
    });
    let mut l = c.lock("L").await.unwrap();
    assert!(!l.locked);
    tokio::time::timeout(Duration::from_secs(2), l.wait_locked())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.events.recv().await, Some(LockEvent::Stolen));
    drop(srv.await.unwrap());
}
