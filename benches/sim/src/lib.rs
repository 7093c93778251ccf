//! `ovs-sim`: lightweight simulated Open vSwitch hosts for controller scale
//! runs. Each [`host::SimHost`] is an in-process OVSDB server ([`ovsdb`])
//! plus an OpenFlow switch ([`switch`]) that dials the controller named in
//! its database; [`scenario`] drives the real `ovs-controller` binary
//! against many of them and measures convergence, fan-out and restart.

pub mod host;
pub mod ovsdb;
pub mod scenario;
pub mod switch;
