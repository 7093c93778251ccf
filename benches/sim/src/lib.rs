//! `ovs-sim`: controller scale runs with simulated Open vSwitch hosts. The
//! hosts themselves (an in-process OVSDB server plus an OpenFlow switch
//! each) are the crate `ovs-simhost`; [`scenario`] drives the real
//! `ovs-controller` binary against many of them and measures convergence,
//! fan-out and restart, and [`observe`] reads a simulated host the way the
//! controller does.

pub mod observe;
pub mod scenario;
