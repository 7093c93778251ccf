//! RFC 7047 OVSDB client.
//!
//! * [`datum`]: the data model ([`Atom`], [`Value`], [`Uuid`], [`Row`]).
//! * [`schema`]: [`DatabaseSchema`] from `get_schema`.
//! * [`ops`]: typed transaction [`Operation`] builders and [`OpResult`]s;
//!   failures become [`Error::Transaction`] ([`TxnError`] with the op index).
//! * [`framing`]: string/escape-aware JSON stream scanner (tokio-util codec).
//! * [`protocol`]: sans-IO JSON-RPC [`Session`] (ids, matching, echo, probe).
//! * [`client`]: tokio driver — [`Client`] (cloneable, pipelined) and the
//!   passive [`Listener`] for `ptcp:`/`punix:`.
//! * [`monitor`]: monitor requests and update/update2/update3 parsing.
//! * [`replica`]: in-memory copy of monitored tables with change events.
//! * [`reconnect`]: [`ReconnectingClient`] with backoff and replica resync.
//! * `tls` (feature `tls`): `Client::connect_tls` for `ssl:` remotes with a
//!   caller's rustls config.
//! * [`typed`]: typed columns ([`typed::Column`]) and typed insert/update/mutate builders.
//! * [`vswitch`]: typed models of the Open_vSwitch tables (reads and writes).
//!
// The examples use the tokio driver, so they exist only with the `tokio` feature.
#![cfg_attr(
    feature = "tokio",
    doc = r#"
# Example

```no_run
use ovsdb_client::{row, Client, Condition, Operation, Value};

# async fn demo() -> Result<(), ovsdb_client::Error> {
let c = Client::connect("unix:/var/run/openvswitch/db.sock").await?;
assert!(c.list_dbs().await?.contains(&"Open_vSwitch".to_string()));
let schema = c.get_schema("Open_vSwitch").await?;
assert!(schema.table("Bridge").is_some());

// Add bridge br0 with one internal port, in one transaction.
let ovs = c.transact("Open_vSwitch", vec![Operation::select("Open_vSwitch", vec![])]).await?;
let root = ovs[0].rows.as_ref().unwrap()[0]["_uuid"].as_uuid().unwrap();
let res = c.transact("Open_vSwitch", vec![
    Operation::insert("Interface", row! { "name" => "br0", "type" => "internal" }).with_uuid_name("i"),
    Operation::insert("Port", row! { "name" => "br0", "interfaces" => Value::named_uuid("i") }).with_uuid_name("p"),
    Operation::insert("Bridge", row! { "name" => "br0", "ports" => Value::named_uuid("p") }).with_uuid_name("b"),
    Operation::mutate("Open_vSwitch", vec![Condition::uuid(root)],
        vec![ovsdb_client::Mutation::insert("bridges", Value::named_uuid("b"))]),
]).await?;
println!("bridge uuid {:?}", res[2].uuid);
# Ok(()) }
```

# Following a database: replica + change events + reconnect

```no_run
use ovsdb_client::{vswitch::{self, TypedRow}, ChangeKind, MonitorRequest, ReconnectOptions, ReconnectingClient};
use std::collections::BTreeMap;

# async fn demo() {
let tables: BTreeMap<String, MonitorRequest> = [
    ("Interface".to_string(), MonitorRequest::columns(&["name", "ofport", "external_ids"])),
].into();
let rc = ReconnectingClient::start("tcp:127.0.0.1:6640", vswitch::DB, tables, ReconnectOptions::default());
let mut events = rc.subscribe();
rc.wait_synced().await;
for ifc in vswitch::Interface::all(&rc.replica()) {
    println!("{} ofport={:?} {:?}", ifc.name, ifc.ofport, ifc.external_ids);
}
while let Ok(ch) = events.recv().await {
    if ch.kind != ChangeKind::Delete {
        let ifc = vswitch::Interface::from_row(ch.uuid, ch.new.as_ref().unwrap());
        println!("{:?} {} ofport={:?}", ch.kind, ifc.name, ifc.ofport);
    }
}
# }
```

# Passive mode (`ovs-vsctl set-manager tcp:CONTROLLER:6640`)

```no_run
use ovsdb_client::{Listener, MonitorRequest, ReconnectingClient};
# async fn demo() -> Result<(), ovsdb_client::Error> {
let listener = Listener::bind("ptcp:6640").await?;
loop {
    let client = listener.accept().await?;            // one per ovsdb-server
    let tables = [("Interface".to_string(), MonitorRequest::all())].into();
    let host = ReconnectingClient::attach(client, "Open_vSwitch", tables);
    tokio::spawn(async move { host.wait_synced().await; /* ... */ host.wait_closed().await });
}
# }
```
"#
)]
//!
//!
//! # Notes
//!
//! * The background task always answers the server's `echo` requests and,
//!   by default, probes the server after 5 s of silence (disconnecting after
//!   another 5 s without data), see [`ClientOptions`].
//! * Monitor updates are delivered in order on an unbounded channel; the
//!   [`ReconnectingClient`] change broadcast holds 4096 events — a lagging
//!   subscriber should re-read [`ReconnectingClient::replica`].
//! * Locks taken with [`Client::lock`] are per connection; list them in
//!   [`ReconnectOptions::locks`] to have [`ReconnectingClient`] re-request them
//!   after every reconnect.
//! * Remote strings are parsed by [`ovs_remote::Remote`] (re-exported as
//!   [`Remote`]); `ssl:` needs `Client::connect_tls` (feature `tls`), the
//!   plain connect refuses it with [`Error::Unsupported`]; `pssl:` is not
//!   served (OVS's ovsdb-server listens, we dial).

#[cfg(feature = "tokio")]
pub mod client;
pub mod datum;
pub mod error;
pub mod framing;
pub mod monitor;
pub mod ops;
pub mod protocol;
#[cfg(feature = "tokio")]
pub mod reconnect;
pub mod replica;
pub mod schema;
#[cfg(feature = "tls")]
pub mod tls;
pub mod typed;
pub mod vswitch;

#[cfg(feature = "tokio")]
pub use client::{Client, ClientOptions, Listener, Lock, LockEvent, Monitor};
pub use datum::{row_from_json, row_to_json, Atom, Row, Uuid, Value};
pub use error::{Error, TxnError, TxnErrorKind};
pub use framing::JsonFramer;
pub use monitor::{
    MonitorRequest, MonitorSelect, MonitorUpdate, RowUpdate, TableUpdates, UpdateVersion,
};
pub use ops::{Condition, Function, Mutation, Mutator, OpResult, Operation, WaitUntil};
pub use ovs_remote::{self, Backoff, Remote, RemoteError, OVSDB_PORT};
pub use protocol::{Event, Message, Session};
#[cfg(feature = "tokio")]
pub use reconnect::{
    ConnState, Connect, ReconnectOptions, ReconnectingClient, DEFAULT_EVENT_CAPACITY,
};
pub use replica::{apply_column_diff, ChangeKind, Follower, Replica, RowChange};
pub use schema::{AtomicType, BaseType, ColumnSchema, ColumnType, DatabaseSchema, TableSchema};
