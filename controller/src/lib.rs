//! `ovs-controller`: a central Open vSwitch controller.
//!
//! Data flows one way: desired state ([`store`]) → per-host plan ([`plan`],
//! pure) → per-host drivers (OVSDB transaction, OpenFlow bundle) → observed
//! state → status ([`api`]).

pub mod api;
pub mod ipam;
pub mod metrics;
pub mod model;
pub mod ofconv;
pub mod plan;
pub mod service;
pub mod southbound;
pub mod store;
