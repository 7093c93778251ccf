//! Southbound: from per-host plans to the switches, and back.
//!
//! Layout: pure translations beside the drivers that use them:
//! [`ovsdb_ops`] (OVSDB rows of our bridge and tunnels), [`ovsdb_foreign`]
//! (what else is on the bridge, container ports to restore), [`flow_encode`]
//! (OpenFlow encoding), [`foreign`] (flows that are not ours) and [`bfd`] (the tunnels'
//! BFD sessions, read from the replica); the drivers
//! [`ovsdb`] (one task per host, kept by [`supervisor`]) and [`openflow`]
//! (one task per switch, fed by [`openflow_accept`]'s listener). Every driver
//! ends when its `CancellationToken` is cancelled;
//! their settings come from [`crate::config::Timing`].

pub mod bfd;
pub mod flow_encode;
pub mod foreign;
pub mod openflow;
pub mod openflow_accept;
pub mod ovsdb;
pub mod ovsdb_foreign;
pub mod ovsdb_ops;
pub mod supervisor;
pub mod tunnel_warm;

pub use self::openflow::{serve_switch, Peer};
pub use openflow_accept::{serve_openflow, serve_stream, ListenError, OpenflowListener};
pub use ovsdb::{ovsdb_route, OvsdbDial, OvsdbReach, OvsdbRoute};
pub use ovsdb_ops::{
    decommission_ops, monitor_tables, observe, ovsdb_ops, tunnel_kind_of, SwitchView, OWNER_KEY,
};
pub use supervisor::{supervise_hosts, supervise_hosts_with};
