//! Integration tests against Debian's ovsdb-server.
#![allow(clippy::unwrap_used)]

mod common;

use common::Server;
use ovsdb_client::*;
use std::time::Duration;

const DB: &str = "Open_vSwitch";

macro_rules! need_server {
    () => {
        if !Server::available() {
            eprintln!("ovsdb-server not installed; skipping");
            return;
        }
    };
}

async fn root_uuid(c: &Client) -> Uuid {
    let r = c.transact(DB, vec![Operation::select("Open_vSwitch", vec![])]).await.unwrap();
    r[0].rows.as_ref().unwrap()[0]["_uuid"].as_uuid().unwrap()
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
        let ports = &schema.table("Bridge").unwrap().column("ports").unwrap().column_type;
        assert_eq!(ports.key.ref_table.as_deref(), Some("Port"));
        assert_eq!(ports.max, None);
        assert_eq!(c.echo(serde_json::json!(["hi"])).await.unwrap(), serde_json::json!(["hi"]));
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
    assert!(out.contains("brx") && out.contains(&bridge_uuid.to_string()) && out.contains("secure"), "{out}");
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
                vec![Condition::includes("external_ids", Value::map([("container_id", "c1")]))],
            )
            .with_columns(&["_uuid", "name"])],
        )
        .await
        .unwrap();
    let rows = r[0].rows.as_ref().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"].as_str(), Some("veth1"));
    let port = c
        .transact(DB, vec![Operation::select("Port", vec![Condition::eq("name", "veth1")])])
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
                Operation::mutate("Bridge", vec![Condition::eq("name", "brx")], vec![Mutation::delete("ports", Value::uuid(port))]),
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
    let e = c
        .transact(
            DB,
            vec![
                Operation::comment("x"),
                Operation::insert("Port", row! { "name" => "p", "interfaces" => Value::uuid(Uuid::new_v4()) }),
            ],
        )
        .await
        .unwrap_err();
    match e {
        Error::Transaction(t) => {
            assert_eq!(t.kind, TxnErrorKind::ReferentialIntegrityViolation, "{t:?}");
            assert!(t.details.is_some());
        }
        e => panic!("unexpected {e:?}"),
    }
    // Constraint violation: Interface.ofport_request has maxInteger 65279.
    let e = c
        .transact(DB, vec![Operation::insert("Interface", row! { "name" => "i", "ofport_request" => 70000i64 })])
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Transaction(t) if t.kind == TxnErrorKind::ConstraintViolation), "{e:?}");
    // wait with timeout 0 on a condition that is false → "timed out", index 1.
    let e = c
        .transact(
            DB,
            vec![
                Operation::comment("c"),
                Operation::wait("Bridge", vec![], &["name"], WaitUntil::Eq, vec![row! {"name" => "nope"}], Some(0)),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Transaction(t) if t.kind == TxnErrorKind::TimedOut && t.index == 1), "{e:?}");
    // assert on a lock we don't hold → "not owner".
    let e = c.transact(DB, vec![Operation::assert_lock("nolock")]).await.unwrap_err();
    assert!(matches!(&e, Error::Transaction(t) if t.kind == TxnErrorKind::NotOwner), "{e:?}");
    // abort → "aborted".
    let e = c.transact(DB, vec![Operation::abort()]).await.unwrap_err();
    assert!(matches!(&e, Error::Transaction(t) if t.kind == TxnErrorKind::Aborted), "{e:?}");
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
                    vec![Mutation::insert("external_ids", Value::map([(format!("k{i}"), "v")]))],
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
    let r = c.transact(DB, vec![Operation::select("Open_vSwitch", vec![])]).await.unwrap();
    assert_eq!(r[0].rows.as_ref().unwrap()[0]["external_ids"].as_map().len(), 50);
    let _ = Duration::from_secs(0);
}
