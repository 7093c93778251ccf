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
//! * [`vswitch`]: typed view of the Open_vSwitch tables.
//!
//! # Example
//!
//! ```no_run
//! use ovsdb_client::{row, Client, Condition, Operation, Value};
//!
//! # async fn demo() -> Result<(), ovsdb_client::Error> {
//! let c = Client::connect("unix:/var/run/openvswitch/db.sock").await?;
//! assert!(c.list_dbs().await?.contains(&"Open_vSwitch".to_string()));
//! let schema = c.get_schema("Open_vSwitch").await?;
//! assert!(schema.table("Bridge").is_some());
//!
//! // Add bridge br0 with one internal port, in one transaction.
//! let ovs = c.transact("Open_vSwitch", vec![Operation::select("Open_vSwitch", vec![])]).await?;
//! let root = ovs[0].rows.as_ref().unwrap()[0]["_uuid"].as_uuid().unwrap();
//! let res = c.transact("Open_vSwitch", vec![
//!     Operation::insert("Interface", row! { "name" => "br0", "type" => "internal" }).with_uuid_name("i"),
//!     Operation::insert("Port", row! { "name" => "br0", "interfaces" => Value::named_uuid("i") }).with_uuid_name("p"),
//!     Operation::insert("Bridge", row! { "name" => "br0", "ports" => Value::named_uuid("p") }).with_uuid_name("b"),
//!     Operation::mutate("Open_vSwitch", vec![Condition::uuid(root)],
//!         vec![ovsdb_client::Mutation::insert("bridges", Value::named_uuid("b"))]),
//! ]).await?;
//! println!("bridge uuid {:?}", res[2].uuid);
//! # Ok(()) }
//! ```

pub mod client;
pub mod datum;
pub mod error;
pub mod framing;
pub mod monitor;
pub mod ops;
pub mod protocol;
pub mod reconnect;
pub mod replica;
pub mod schema;
pub mod vswitch;

pub use client::{Client, ClientOptions, Listener, Lock, LockEvent, Monitor, Remote};
pub use datum::{row_from_json, row_to_json, Atom, Row, Uuid, Value};
pub use error::{Error, TxnError, TxnErrorKind};
pub use framing::JsonFramer;
pub use monitor::{MonitorRequest, MonitorSelect, MonitorUpdate, RowUpdate, TableUpdates, UpdateVersion};
pub use ops::{Condition, Function, Mutation, Mutator, OpResult, Operation, WaitUntil};
pub use protocol::{Event, Message, Session};
pub use reconnect::{ConnState, ReconnectOptions, ReconnectingClient};
pub use replica::{apply_column_diff, ChangeKind, Replica, RowChange};
pub use schema::{AtomicType, BaseType, ColumnSchema, ColumnType, DatabaseSchema, TableSchema};
