//! Integration tests against Debian's ovsdb-server.
#![allow(clippy::unwrap_used)]

mod common;

use common::Server;
use ovsdb_client::*;
use std::time::Duration;

const DB: &str = "Open_vSwitch";

macro_rules! need_server {
    () => {
        ovs_testbed::require!(ovs_testbed::Peer::OvsdbServer)
    };
}

async fn root_uuid(c: &Client) -> Uuid {
    let r = c
        .transact(DB, vec![Operation::select("Open_vSwitch", vec![])])
        .await
        .unwrap();
    r[0].rows.as_ref().unwrap()[0]["_uuid"].as_uuid().unwrap()
}

/// The transaction error `ops` must end in.
async fn refusal(c: &Client, ops: Vec<Operation>) -> TxnError {
    match c.transact(DB, ops).await {
        Err(Error::Transaction(t)) => t,
        other => panic!("expected a transaction error, got {other:?}"),
    }
}

/// A client of `remote` that sends its own inactivity probes every `probe_interval`.
async fn connect_probing(remote: &str, probe_interval: Option<Duration>) -> Client {
    let opts = ClientOptions {
        probe_interval,
        ..Default::default()
    };
    Client::connect_with(remote, opts).await.unwrap()
}

/// Binds `listen`, starts an ovsdb-server that dials `remote(&listener)`, and returns the
/// server with the session the listener accepted from it.
async fn accept_from_server(
    listen: &str,
    remote: impl Fn(&Listener) -> String,
) -> (Server, Client) {
    let l = Listener::bind(listen).await.unwrap();
    let s = Server::start_with(vec![remote(&l)]);
    let c = tokio::time::timeout(Duration::from_secs(15), l.accept())
        .await
        .unwrap()
        .unwrap();
    (s, c)
}

/// [`accept_from_server`] on `ptcp:0:127.0.0.1`.
async fn accept_from_server_over_tcp() -> (Server, Client) {
    accept_from_server("ptcp:0:127.0.0.1", |l| {
        format!("tcp:127.0.0.1:{}", l.local_addr().unwrap().port())
    })
    .await
}

#[tokio::test]
async fn list_dbs_schema_tcp_and_unix() {
    need_server!();
    let s = Server::start();
    for remote in [s.unix_remote(), s.tcp_remote()] {
        let c = Client::connect(&remote).await.unwrap();
        let dbs = c.list_dbs().await.unwrap();
        assert!(dbs.contains(&DB.to_string()), "{dbs:?}");
        let schema = c.get_schema(DB).await.unwrap();
        assert_eq!(schema.name, DB);
        let ifc = schema.table("Interface").unwrap();
        let ofport = &ifc.column("ofport").unwrap().column_type;
        assert!(ofport.is_optional());
        let ports = &schema
            .table("Bridge")
            .unwrap()
            .column("ports")
            .unwrap()
            .column_type;
        assert_eq!(ports.key.ref_table.as_deref(), Some("Port"));
        assert_eq!(ports.max, None);
        assert_eq!(
            c.echo(serde_json::json!(["hi"])).await.unwrap(),
            serde_json::json!(["hi"])
        );
    }
}

#[tokio::test]
async fn create_bridge_in_one_transaction_and_read_with_vsctl() {
    need_server!();
    let s = Server::start();
    let c = Client::connect(&s.unix_remote()).await.unwrap();
    let root = root_uuid(&c).await;
    let res = c
        .transact(
            DB,
            vec![
                Operation::insert(
                    "Interface",
                    row! { "name" => "veth1", "external_ids" => Value::map([("container_id", "c1")]) },
                )
                .with_uuid_name("i1"),
                Operation::insert("Interface", row! { "name" => "brx", "type" => "internal" }).with_uuid_name("i2"),
                Operation::insert("Port", row! { "name" => "veth1", "interfaces" => Value::named_uuid("i1"), "tag" => 10i64 })
                    .with_uuid_name("p1"),
                Operation::insert("Port", row! { "name" => "brx", "interfaces" => Value::named_uuid("i2") })
                    .with_uuid_name("p2"),
                Operation::insert(
                    "Bridge",
                    row! {
                        "name" => "brx",
                        "ports" => Value::Set(vec![Atom::named("p1"), Atom::named("p2")]),
                        "fail_mode" => "secure",
                    },
                )
                .with_uuid_name("b"),
                Operation::mutate("Open_vSwitch", vec![Condition::uuid(root)], vec![Mutation::insert("bridges", Value::named_uuid("b"))]),
                Operation::comment("test: add brx"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(res.len(), 7);
    let bridge_uuid = res[4].uuid.unwrap();
    assert_eq!(res[5].count, Some(1));

    let out = s.vsctl_ok(&["--columns=_uuid,name,fail_mode", "list", "Bridge"]);
    assert!(
        out.contains("brx") && out.contains(&bridge_uuid.to_string()) && out.contains("secure"),
        "{out}"
    );
    let out = s.vsctl_ok(&["list-ports", "brx"]);
    assert_eq!(out.trim(), "veth1", "{out}");
    let out = s.vsctl_ok(&["get", "Interface", "veth1", "external_ids:container_id"]);
    assert_eq!(out.trim().trim_matches('"'), "c1");
    let out = s.vsctl_ok(&["get", "Port", "veth1", "tag"]);
    assert_eq!(out.trim(), "10");
    let out = s.vsctl_ok(&["list", "Interface"]);
    assert!(out.contains("veth1") && out.contains("internal"), "{out}");

    // Find by external_ids, then delete the port (and its interface via GC).
    let r = c
        .transact(
            DB,
            vec![Operation::select(
                "Interface",
                vec![Condition::includes(
                    "external_ids",
                    Value::map([("container_id", "c1")]),
                )],
            )
            .with_columns(&["_uuid", "name"])],
        )
        .await
        .unwrap();
    let rows = r[0].rows.as_ref().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"].as_str(), Some("veth1"));
    let port = c
        .transact(
            DB,
            vec![Operation::select(
                "Port",
                vec![Condition::eq("name", "veth1")],
            )],
        )
        .await
        .unwrap()[0]
        .rows
        .clone()
        .unwrap()[0]["_uuid"]
        .as_uuid()
        .unwrap();
    let r = c
        .transact(
            DB,
            vec![
                Operation::mutate(
                    "Bridge",
                    vec![Condition::eq("name", "brx")],
                    vec![Mutation::delete("ports", Value::uuid(port))],
                ),
                Operation::delete("Port", vec![Condition::uuid(port)]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r[1].count, Some(1));
    let out = s.vsctl_ok(&["list-ports", "brx"]);
    assert_eq!(out.trim(), "");
}

#[tokio::test]
async fn transaction_errors_are_typed() {
    need_server!();
    let s = Server::start();
    let c = Client::connect(&s.tcp_remote()).await.unwrap();
    // Port referencing a nonexistent interface → referential integrity violation at commit.
    let dangling = row! { "name" => "p", "interfaces" => Value::uuid(Uuid::new_v4()) };
    let ops = vec![Operation::comment("x"), Operation::insert("Port", dangling)];
    let t = refusal(&c, ops).await;
    assert_eq!(t.kind, TxnErrorKind::ReferentialIntegrityViolation, "{t:?}");
    assert!(t.details.is_some());
    // Constraint violation: Interface.ofport_request has maxInteger 65279.
    let too_big = row! { "name" => "i", "ofport_request" => 70000i64 };
    let t = refusal(&c, vec![Operation::insert("Interface", too_big)]).await;
    assert_eq!(t.kind, TxnErrorKind::ConstraintViolation, "{t:?}");
    // wait with timeout 0 on a condition that is false → "timed out", index 1.
    let nope = vec![row! {"name" => "nope"}];
    let wait = Operation::wait("Bridge", vec![], &["name"], WaitUntil::Eq, nope, Some(0));
    let t = refusal(&c, vec![Operation::comment("c"), wait]).await;
    assert_eq!(t.kind, TxnErrorKind::TimedOut, "{t:?}");
    assert_eq!(t.index, 1, "{t:?}");
    // assert on a lock we don't hold → "not owner".
    let t = refusal(&c, vec![Operation::assert_lock("nolock")]).await;
    assert_eq!(t.kind, TxnErrorKind::NotOwner, "{t:?}");
    // abort → "aborted".
    let t = refusal(&c, vec![Operation::abort()]).await;
    assert_eq!(t.kind, TxnErrorKind::Aborted, "{t:?}");
    // commit durable succeeds.
    c.transact(DB, vec![Operation::commit(true)]).await.unwrap();
}

#[tokio::test]
async fn pipelined_transacts_from_many_tasks() {
    need_server!();
    let s = Server::start();
    let c = Client::connect(&s.unix_remote()).await.unwrap();
    let mut hs = vec![];
    for i in 0..50 {
        let c = c.clone();
        hs.push(tokio::spawn(async move {
            c.transact(
                DB,
                vec![Operation::mutate(
                    "Open_vSwitch",
                    vec![],
                    vec![Mutation::insert(
                        "external_ids",
                        Value::map([(format!("k{i}"), "v")]),
                    )],
                )],
            )
            .await
            .unwrap()[0]
                .count
                .unwrap()
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let r = c
        .transact(DB, vec![Operation::select("Open_vSwitch", vec![])])
        .await
        .unwrap();
    assert_eq!(
        r[0].rows.as_ref().unwrap()[0]["external_ids"]
            .as_map()
            .len(),
        50
    );
    let _ = Duration::from_secs(0);
}

fn tables(names: &[&str]) -> std::collections::BTreeMap<String, MonitorRequest> {
    names
        .iter()
        .map(|n| (n.to_string(), MonitorRequest::all()))
        .collect()
}

async fn next_change(
    rx: &mut tokio::sync::broadcast::Receiver<RowChange>,
    pred: impl Fn(&RowChange) -> bool,
) -> RowChange {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let c = rx.recv().await.unwrap();
            if pred(&c) {
                return c;
            }
        }
    })
    .await
    .expect("timed out waiting for change event")
}

/// A replica of `names` over `remote`, synced, with a change subscription
/// taken before the initial sync (so it sees the initial inserts).
async fn follow(
    remote: &str,
    names: &[&str],
) -> (
    ReconnectingClient,
    tokio::sync::broadcast::Receiver<RowChange>,
) {
    let rc = ReconnectingClient::start(remote, DB, tables(names), fast_reconnect());
    let ev = rc.subscribe();
    tokio::time::timeout(Duration::from_secs(10), rc.wait_synced())
        .await
        .unwrap();
    (rc, ev)
}

fn fast_reconnect() -> ReconnectOptions {
    ReconnectOptions {
        min_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(1),
        ..Default::default()
    }
}

/// Read-your-writes: right after `ReconnectingClient::transact` returns, the
/// replica shows the transaction (200 times in a row, each checked at once, no
/// waiting). Planning the next transaction from a replica that has not seen the
/// last one re-sends inserts, which the server rejects as duplicate names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transact_returns_after_replica_shows_it() {
    need_server!();
    let s = Server::start();
    let (rc, _) = follow(
        &s.unix_remote(),
        &["Open_vSwitch", "Bridge", "Port", "Interface"],
    )
    .await;
    for n in 0..200 {
        // Bridge, Port and Interface are not root tables: the bridge must be
        // referenced from Open_vSwitch or the server garbage-collects it all.
        let name = format!("b{n}");
        let mut i = Row::new();
        i.insert("name".into(), Value::string(&name));
        i.insert("type".into(), Value::string("internal"));
        let mut p = Row::new();
        p.insert("name".into(), Value::string(&name));
        p.insert("interfaces".into(), Value::named_uuid("i"));
        let mut b = Row::new();
        b.insert("name".into(), Value::string(&name));
        b.insert("ports".into(), Value::named_uuid("p"));
        let ops = vec![
            Operation::insert("Interface", i).with_uuid_name("i"),
            Operation::insert("Port", p).with_uuid_name("p"),
            Operation::insert("Bridge", b).with_uuid_name("b"),
            Operation::mutate(
                "Open_vSwitch",
                vec![],
                vec![Mutation::insert(
                    "bridges",
                    Value::Set(vec![Atom::named("b")]),
                )],
            ),
        ];
        let r = tokio::time::timeout(Duration::from_secs(10), rc.transact(ops))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.len(), 4);
        let seen = rc.replica().find_by("Interface", "name", &name).len();
        assert_eq!(seen, 1, "transaction {n} not yet in the replica on return");
    }
}

/// After `shutdown`, the client says so: state Closed, `transact` fails at once
/// instead of waiting for a connection or an update that never comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transact_after_shutdown_fails_instead_of_hanging() {
    need_server!();
    let s = Server::start();
    let (rc, _) = follow(&s.unix_remote(), &["Open_vSwitch", "Bridge"]).await;
    rc.shutdown();
    tokio::time::timeout(Duration::from_secs(5), rc.wait_closed())
        .await
        .expect("state becomes Closed after shutdown");
    let r = tokio::time::timeout(Duration::from_secs(5), rc.transact(vec![]))
        .await
        .expect("transact after shutdown must not hang");
    assert!(matches!(r, Err(Error::Disconnected)), "{r:?}");
}

#[tokio::test]
async fn vsctl_change_appears_in_replica() {
    need_server!();
    let s = Server::start();
    let (rc, mut ev) = follow(&s.unix_remote(), &["Bridge", "Port", "Interface"]).await;
    assert_eq!(rc.replica().len("Bridge"), 0);
    s.vsctl_words("add-br br0 -- set Interface br0 external_ids:a=1");
    let c = next_change(&mut ev, |c| {
        c.table == "Interface" && c.kind == ChangeKind::Insert
    })
    .await;
    assert_eq!(c.new.as_ref().unwrap()["name"].as_str(), Some("br0"));
    s.vsctl_words("set Interface br0 external_ids:b=2 ofport_request=7 -- remove Interface br0 external_ids a");
    let c = next_change(&mut ev, |c| {
        c.table == "Interface" && c.kind == ChangeKind::Modify
    })
    .await;
    let new = c.new.unwrap();
    assert_eq!(
        new["external_ids"].to_string_map(),
        [("b".to_string(), "2".to_string())].into()
    );
    assert_eq!(new["ofport_request"].as_i64(), Some(7));
    s.vsctl_ok(&["add-port", "br0", "p1", "--", "add-port", "br0", "p2"]);
    next_change(&mut ev, |c| {
        c.table == "Bridge" && c.kind == ChangeKind::Modify
    })
    .await;
    // The replica agrees with a fresh select.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = rc
        .transact(vec![Operation::select("Bridge", vec![])])
        .await
        .unwrap();
    let row = &fresh[0].rows.as_ref().unwrap()[0];
    let rep = rc.replica();
    let (_, rrow) = rep.find_by("Bridge", "name", "br0")[0];
    assert!(rrow["ports"].same_as(&row["ports"]));
    assert_eq!(rrow["ports"].len(), 3);
    rc.shutdown();
}

#[tokio::test]
async fn monitor_v1_and_v2_and_v3_agree() {
    need_server!();
    let s = Server::start();
    s.vsctl_words("add-br br0 -- add-port br0 x -- set Interface x type=internal");
    let c = Client::connect(&s.unix_remote()).await.unwrap();
    let schema = c.get_schema(DB).await.unwrap();
    let t = tables(&["Interface", "Port", "Bridge"]);
    let mut reps = vec![];
    let mut mons = vec![];
    for m in [
        c.monitor_v1(DB, &t).await.unwrap(),
        c.monitor_cond(DB, &t).await.unwrap(),
        c.monitor_cond_since(DB, &t, None).await.unwrap(),
    ] {
        let mut r = Replica::new(Some(schema.clone()));
        for t in t.keys() {
            r.set_monitored_columns(t, None);
        }
        r.apply(&m.initial);
        reps.push(r);
        mons.push(m);
    }
    s.vsctl_words("set Interface x external_ids:k=v -- set Port x trunks=1,2,3");
    s.vsctl_words("set Port x trunks=2,3,4 -- set Interface x external_ids:k=w");
    s.vsctl_ok(&["del-port", "br0", "x"]);
    s.vsctl_ok(&["add-port", "br0", "y"]);
    for (m, r) in mons.iter_mut().zip(reps.iter_mut()) {
        for _ in 0..4 {
            let u = tokio::time::timeout(Duration::from_secs(10), m.updates.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(u.version, m.version);
            r.apply_update(&u);
        }
    }
    for r in &reps {
        assert_eq!(r.len("Interface"), 2);
        assert_eq!(r.find_by("Port", "name", "y").len(), 1);
        assert_eq!(r.find_by("Port", "name", "x").len(), 0);
    }
    // Compare all rows across versions.
    for t in ["Interface", "Port", "Bridge"] {
        for (u, row) in reps[0].table(t) {
            for other in &reps[1..] {
                let o = other.get(t, u).unwrap();
                for (k, v) in row {
                    assert!(v.same_as(&o[k]), "{t}.{k}: {v:?} vs {:?}", o[k]);
                }
            }
        }
    }
    assert!(reps[2].last_txn_id().is_some());
    c.monitor_cancel(&mons[0].id).await.unwrap();
}

#[tokio::test]
async fn reconnect_after_server_restart_resyncs_replica() {
    need_server!();
    let s = Server::start();
    s.vsctl_words("add-br br1 -- add-br br2 -- add-port br2 p2");
    let (rc, mut ev) = follow(&s.tcp_remote(), &["Open_vSwitch", "Bridge", "Port"]).await;
    assert_eq!(rc.replica().len("Bridge"), 2);
    let br2 = rc.replica().find_by("Bridge", "name", "br2")[0].0;

    s.kill();
    // Change the database while the server is down.
    let txn = serde_json::json!([
        "Open_vSwitch",
        {"op": "mutate", "table": "Open_vSwitch", "where": [],
         "mutations": [["bridges", "delete", ["set", [["uuid", br2.to_string()]]]]]},
        {"op": "update", "table": "Bridge", "where": [["name", "==", "br1"]],
         "row": {"external_ids": ["map", [["while", "down"]]]}}
    ]);
    let o = std::process::Command::new("ovsdb-tool")
        .arg("transact")
        .arg(s.dir.join("conf.db"))
        .arg(txn.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.launch();

    let c = next_change(&mut ev, |c| {
        c.table == "Bridge" && c.kind == ChangeKind::Delete
    })
    .await;
    assert_eq!(c.uuid, br2);
    tokio::time::timeout(Duration::from_secs(20), rc.wait_synced_n(2))
        .await
        .unwrap();
    {
        let r = rc.replica();
        assert_eq!(r.len("Bridge"), 1);
        assert_eq!(r.find_by("Port", "name", "p2").len(), 0);
        let (_, b1) = r.find_by("Bridge", "name", "br1")[0];
        assert_eq!(
            b1["external_ids"]
                .to_string_map()
                .get("while")
                .map(String::as_str),
            Some("down")
        );
    }
    // And it keeps following changes on the new connection.
    s.vsctl_ok(&["add-br", "br3"]);
    let c = next_change(&mut ev, |c| {
        c.table == "Bridge" && c.kind == ChangeKind::Insert
    })
    .await;
    assert_eq!(c.new.unwrap()["name"].as_str(), Some("br3"));
    rc.shutdown();
}

#[tokio::test]
async fn lock_contention_unlock_and_steal() {
    need_server!();
    let s = Server::start();
    let c1 = Client::connect(&s.unix_remote()).await.unwrap();
    let c2 = Client::connect(&s.unix_remote()).await.unwrap();
    let mut l1 = c1.lock("ctl").await.unwrap();
    assert!(l1.locked);
    let mut l2 = c2.lock("ctl").await.unwrap();
    assert!(!l2.locked);
    // c2 can't assert the lock.
    let t = refusal(&c2, vec![Operation::assert_lock("ctl")]).await;
    assert_eq!(t.kind, TxnErrorKind::NotOwner, "{t:?}");
    c1.transact(DB, vec![Operation::assert_lock("ctl")])
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), l2.wait_locked())
            .await
            .is_err()
    );
    c1.unlock("ctl").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), l2.wait_locked())
        .await
        .unwrap()
        .unwrap();
    c2.transact(DB, vec![Operation::assert_lock("ctl")])
        .await
        .unwrap();
    // c1 steals; c2 is told.
    l1 = c1.steal("ctl").await.unwrap();
    assert!(l1.locked);
    let ev = tokio::time::timeout(Duration::from_secs(5), l2.events.recv())
        .await
        .unwrap();
    assert_eq!(ev, Some(LockEvent::Stolen));
}

#[tokio::test]
async fn server_echo_is_answered_when_idle() {
    need_server!();
    let s = Server::start();
    // ovsdb-server probes TCP clients every 5 s and drops them after 10 s of silence.
    let c = connect_probing(&s.tcp_remote(), None).await;
    c.list_dbs().await.unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(!c.is_closed(), "server dropped us:\n{}", s.log());
    c.list_dbs().await.unwrap();
    assert!(
        !s.log().contains("no response to inactivity probe"),
        "{}",
        s.log()
    );
}

#[tokio::test]
async fn our_probe_keeps_idle_connection_alive() {
    need_server!();
    let s = Server::start();
    let c = connect_probing(&s.unix_remote(), Some(Duration::from_millis(200))).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!c.is_closed());
    c.list_dbs().await.unwrap();
}

#[tokio::test]
async fn passive_punix_accepts_active_server() {
    need_server!();
    let dir = std::env::temp_dir().join(format!("ovsdb-listen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("ctl.sock");
    let (s, c) = accept_from_server(&format!("punix:{}", sock.display()), |_| {
        format!("unix:{}", sock.display())
    })
    .await;
    assert!(c.list_dbs().await.unwrap().contains(&DB.to_string()));
    let r = c
        .transact(DB, vec![Operation::select("Open_vSwitch", vec![])])
        .await
        .unwrap();
    assert_eq!(r[0].rows.as_ref().unwrap().len(), 1);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn passive_ptcp_accepts_active_server() {
    need_server!();
    let (s, c) = accept_from_server_over_tcp().await;
    assert!(c.list_dbs().await.unwrap().contains(&DB.to_string()));
    drop(s);
}

#[tokio::test]
async fn cancel_a_blocked_wait() {
    need_server!();
    let s = Server::start();
    let c = Client::connect(&s.unix_remote()).await.unwrap();
    let id = c.alloc_id();
    let c2 = c.clone();
    let h = tokio::spawn(async move {
        c2.transact_with_id(
            id,
            DB,
            vec![Operation::wait(
                "Bridge",
                vec![],
                &["name"],
                WaitUntil::Eq,
                vec![row! {"name" => "never"}],
                None,
            )],
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.cancel(id).unwrap();
    // ovsdb-server may or may not honour `cancel` (3.1 looks the trigger up by
    // the notification's null id); either way the session must stay usable and
    // other requests must not be blocked by the pending wait.
    if let Ok(r) = tokio::time::timeout(Duration::from_secs(2), h).await {
        assert!(r.unwrap().is_err());
    }
    c.set_db_change_aware(true).await.unwrap();
    assert!(c.list_dbs().await.unwrap().contains(&DB.to_string()));
}

#[tokio::test]
async fn vswitch_typed_view_matches_installed_schema() {
    need_server!();
    let s = Server::start();
    let c = Client::connect(&s.unix_remote()).await.unwrap();
    let schema = c.get_schema(DB).await.unwrap();
    vswitch::check_schema(&schema).unwrap();
}

#[tokio::test]
async fn vswitch_helpers_build_bridge_ports_controller() {
    use vswitch::TypedRow;
    need_server!();
    let s = Server::start();
    let rc = ReconnectingClient::start(
        &s.unix_remote(),
        DB,
        tables(&["Open_vSwitch", "Bridge", "Port", "Interface", "Controller"]),
        fast_reconnect(),
    );
    rc.wait_synced().await;
    let mut ev = rc.subscribe();
    let r = rc
        .transact(vswitch::add_bridge_ops(
            "br-ex",
            Some("secure"),
            &["OpenFlow13"],
            "system",
        ))
        .await
        .unwrap();
    let br_uuid = r[2].uuid.unwrap();
    let r = rc
        .transact(vswitch::add_port_ops(
            "br-ex",
            &vswitch::NewInterface::new("vx0")
                .with_type("vxlan")
                .option("remote_ip", "10.0.0.2")
                .external_id("peer", "h2"),
            None,
        ))
        .await
        .unwrap();
    let port_uuid = r[1].uuid.unwrap();
    rc.transact(vswitch::set_controller_ops(
        "br-ex",
        &["tcp:127.0.0.1:6653"],
        Some("out-of-band"),
    ))
    .await
    .unwrap();
    next_change(&mut ev, |c| {
        c.table == "Controller" && c.kind == ChangeKind::Insert
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    {
        let rep = rc.replica();
        let br = vswitch::Bridge::get(&rep, &br_uuid).unwrap();
        assert_eq!(br.name, "br-ex");
        assert_eq!(br.fail_mode.as_deref(), Some("secure"));
        assert_eq!(br.protocols, vec!["OpenFlow13".to_string()]);
        assert_eq!(br.ports.len(), 2);
        assert_eq!(br.controller.len(), 1);
        let ctl = vswitch::Controller::get(&rep, &br.controller[0]).unwrap();
        assert_eq!(ctl.target, "tcp:127.0.0.1:6653");
        assert_eq!(ctl.connection_mode.as_deref(), Some("out-of-band"));
        let ifs = vswitch::Interface::all(&rep);
        let vx = ifs.iter().find(|i| i.name == "vx0").unwrap();
        assert_eq!(vx.type_, "vxlan");
        assert_eq!(
            vx.options.get("remote_ip").map(String::as_str),
            Some("10.0.0.2")
        );
        assert_eq!(vx.ofport, None);
        let root = &vswitch::OpenVSwitch::all(&rep)[0];
        assert_eq!(root.bridges, vec![br_uuid]);
    }
    assert_eq!(
        s.vsctl_ok(&["get-controller", "br-ex"]).trim(),
        "tcp:127.0.0.1:6653"
    );
    assert_eq!(
        s.vsctl_ok(&["get", "Interface", "vx0", "options:remote_ip"])
            .trim()
            .trim_matches('"'),
        "10.0.0.2"
    );
    // Find by external_ids and delete.
    let found = rc
        .transact(vec![Operation::select(
            "Port",
            vec![vswitch::external_id_is("peer", "h2")],
        )])
        .await
        .unwrap();
    assert_eq!(found[0].rows.as_ref().unwrap().len(), 1);
    rc.transact(vswitch::del_port_ops("br-ex", port_uuid))
        .await
        .unwrap();
    let c = next_change(&mut ev, |c| {
        c.table == "Interface" && c.kind == ChangeKind::Delete
    })
    .await;
    assert_eq!(c.old.unwrap()["name"].as_str(), Some("vx0"));
    assert_eq!(s.vsctl_ok(&["list-ports", "br-ex"]).trim(), "");
    rc.shutdown();
}

/// A typed `vswitch::Cache` following the replica: up to date when
/// `transact` returns (read-your-writes covers the follower), its iface-id
/// index follows changes made by others, and `updates()` wakes its reader.
#[tokio::test]
async fn typed_cache_follows_replica_with_iface_id_index() {
    use std::sync::{Arc, Mutex};
    use vswitch::{Bridge, Cache, Interface, Port, Ref, TypedRow};
    need_server!();
    let s = Server::start();
    let cache = Arc::new(Mutex::new(Cache::new()));
    let rc = ReconnectingClient::start_following(
        &s.unix_remote(),
        DB,
        tables(&["Open_vSwitch", "Bridge", "Port", "Interface", "Controller"]),
        fast_reconnect(),
        cache.clone(),
    );
    rc.wait_synced().await;
    let mut updates = rc.updates();
    updates.borrow_and_update();
    rc.transact(vswitch::add_bridge_ops("br-t", None, &[], "netdev"))
        .await
        .unwrap();
    rc.transact(vec![
        Interface::insert()
            .set(Interface::NAME, "p1")
            .set(Interface::TYPE, "internal")
            .set(Interface::EXTERNAL_IDS, [(vswitch::IFACE_ID, "e1")])
            .uuid_name("i")
            .into(),
        Port::insert()
            .set(Port::NAME, "p1")
            .set(Port::INTERFACES, Ref::named("i"))
            .uuid_name("p")
            .into(),
        Bridge::mutate([Bridge::NAME.eq("br-t")])
            .insert(Bridge::PORTS, Ref::named("p"))
            .into(),
    ])
    .await
    .unwrap();
    assert!(updates.has_changed().unwrap());
    {
        let c = cache.lock().unwrap();
        let names: Vec<&str> = c
            .bridge_ifaces("br-t")
            .iter()
            .map(|(_, i)| i.name.as_str())
            .collect();
        assert!(
            names.contains(&"p1") && names.contains(&"br-t"),
            "{names:?}"
        );
        let e1: Vec<&str> = c
            .interfaces_with_iface_id("e1")
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(e1, ["p1"]);
        assert_eq!(c.bridges().count(), Bridge::all(&rc.replica()).len());
    }
    // Someone else rebinds the interface: the index follows.
    s.vsctl_ok(&["set", "Interface", "p1", "external_ids:iface-id=e2"]);
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            updates.changed().await.unwrap();
            if cache.lock().unwrap().interfaces_with_iface_id("e2").count() == 1 {
                break;
            }
        }
    })
    .await
    .expect("iface-id change reached the cache");
    assert_eq!(
        cache.lock().unwrap().interfaces_with_iface_id("e1").count(),
        0
    );
    rc.shutdown();
}

#[tokio::test]
async fn passive_listener_with_attached_replica() {
    need_server!();
    let (s, c) = accept_from_server_over_tcp().await;
    let rc = ReconnectingClient::attach(c, DB, tables(&["Interface"]));
    let mut ev = rc.subscribe();
    tokio::time::timeout(Duration::from_secs(10), rc.wait_synced())
        .await
        .unwrap();
    s.vsctl_words("add-br brp -- set Interface brp external_ids:iface-id=x");
    let c = next_change(&mut ev, |c| {
        c.table == "Interface" && c.kind == ChangeKind::Insert
    })
    .await;
    assert_eq!(
        c.new.unwrap()["external_ids"].to_string_map()["iface-id"],
        "x"
    );
    s.kill();
    tokio::time::timeout(Duration::from_secs(10), rc.wait_closed())
        .await
        .unwrap();
}

#[tokio::test]
async fn forced_reconnect_without_restart_keeps_replica_exact() {
    need_server!();
    let s = Server::start();
    s.vsctl_ok(&["add-br", "bra"]);
    let rc = ReconnectingClient::start(&s.unix_remote(), DB, tables(&["Bridge"]), fast_reconnect());
    let mut ev = rc.subscribe();
    tokio::time::timeout(Duration::from_secs(10), rc.wait_synced())
        .await
        .unwrap();
    while ev.try_recv().is_ok() {}
    // Make the server drop every connection, then change things right away.
    s.appctl(&["ovsdb-server/reconnect"]);
    s.vsctl_ok(&["add-br", "brb", "--", "del-br", "bra"]);
    tokio::time::timeout(Duration::from_secs(20), rc.wait_synced_n(2))
        .await
        .unwrap();
    let mut seen = vec![];
    // Whether the change raced the reconnect or not, the events describe it exactly once:
    // those already received, then those of the next 300 ms.
    for settle in [Duration::ZERO, Duration::from_millis(300)] {
        tokio::time::sleep(settle).await;
        while let Ok(c) = ev.try_recv() {
            let name = c.new.or(c.old).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string();
            seen.push((c.kind, name));
        }
    }
    assert!(
        seen.contains(&(ChangeKind::Insert, "brb".into())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(ChangeKind::Delete, "bra".into())),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
    let r = rc.replica();
    assert_eq!(r.len("Bridge"), 1);
    assert_eq!(r.find_by("Bridge", "name", "brb").len(), 1);
}

#[tokio::test]
async fn monitor_cond_with_where_and_cond_change() {
    need_server!();
    let s = Server::start();
    s.vsctl_ok(&["add-br", "b1", "--", "add-br", "b2"]);
    let c = Client::connect(&s.unix_remote()).await.unwrap();
    let only = |name: &str| -> std::collections::BTreeMap<String, MonitorRequest> {
        [(
            "Bridge".to_string(),
            MonitorRequest {
                columns: Some(vec!["name".into()]),
                where_: Some(vec![Condition::eq("name", name)]),
                select: None,
            },
        )]
        .into()
    };
    let mut m = c.monitor_cond(DB, &only("b1")).await.unwrap();
    let names = |u: &TableUpdates| -> Vec<String> {
        u.get("Bridge")
            .map(|t| {
                t.values()
                    .filter_map(|r| match r {
                        RowUpdate::Initial(r) | RowUpdate::Insert(r) => {
                            r["name"].as_str().map(str::to_string)
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&m.initial), vec!["b1".to_string()]);
    c.monitor_cond_change(
        &mut m,
        &[("Bridge".to_string(), vec![Condition::eq("name", "b2")])].into(),
    )
    .await
    .unwrap();
    // The server sends b1 deleted and b2 as initial/insert in an update2.
    let u = tokio::time::timeout(Duration::from_secs(5), m.updates.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&u.updates), vec!["b2".to_string()]);
    c.monitor_cancel(&m.id).await.unwrap();
}

#[tokio::test]
async fn dropping_reconnecting_client_closes_connection() {
    need_server!();
    let s = Server::start();
    let rc = ReconnectingClient::start(&s.unix_remote(), DB, tables(&["Bridge"]), fast_reconnect());
    tokio::time::timeout(Duration::from_secs(10), rc.wait_synced())
        .await
        .unwrap();
    let c = rc.client().await;
    let rc2 = rc.clone();
    drop(rc);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!c.is_closed(), "a clone is still alive");
    drop(rc2);
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = s.appctl(&["memory/show"]);
    assert!(!out.contains("monitors:1"), "{out}");
}

#[tokio::test]
async fn reconnecting_clients_hand_over_a_lock() {
    need_server!();
    let s = Server::start();
    let opts = || ReconnectOptions {
        locks: vec!["leader".into()],
        ..fast_reconnect()
    };
    let a = ReconnectingClient::start(&s.unix_remote(), DB, tables(&["Bridge"]), opts());
    tokio::time::timeout(Duration::from_secs(10), a.wait_lock("leader"))
        .await
        .unwrap();
    let b = ReconnectingClient::start(&s.unix_remote(), DB, tables(&["Bridge"]), opts());
    tokio::time::timeout(Duration::from_secs(10), b.wait_synced())
        .await
        .unwrap();
    assert!(a.has_lock("leader"));
    assert!(!b.has_lock("leader"));
    drop(a);
    tokio::time::timeout(Duration::from_secs(10), b.wait_lock("leader"))
        .await
        .unwrap();
    b.transact(vec![Operation::assert_lock("leader")])
        .await
        .unwrap();
}
