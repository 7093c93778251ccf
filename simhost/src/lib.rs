//! `ovs-simhost`: simulated Open vSwitch hosts that run inside the process
//! that uses them. Each [`host::SimHost`] is an OVSDB server ([`ovsdb`]: the
//! real `vswitch.ovsschema`, transactions, monitors, indexes, ofports
//! assigned like ovs-vswitchd) plus an OpenFlow 1.3 switch ([`switch`]: flow
//! table, bundles, flow/aggregate/port-desc stats) that dials the controller
//! named in its database. A socket-backed host can speak TLS on both
//! channels like a joined OVS host ([`net::HostTls`]).
//!
//! Two users: `ovs-scale` (crate `ovs-sim`) runs thousands of them over
//! loopback TCP against the real controller process; the controller's driver
//! tests run a few in memory ([`host::SimHost::in_memory`]) under tokio's
//! paused clock, with faults injected through [`ovsdb::Faults`]. This crate
//! depends only on the protocol crates (and rustls), so the controller can dev-depend on it.

pub mod host;
pub mod net;
pub mod ovsdb;
pub mod switch;

pub use host::SimHost;
pub use net::HostTls;
