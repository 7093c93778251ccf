//! `ovs-controller`: a central Open vSwitch controller.
//!
//! Data flows one way, one folder per stage: desired state ([`state`]) →
//! per-host plan ([`plan`], pure) → per-host drivers ([`southbound`]: OVSDB
//! transaction, OpenFlow bundle) → observed state → status ([`northbound`]).
//! [`service`] is the thin core holding the shared runtime state the stages
//! meet in; [`config`] the settings passed down to all of them. Imports only
//! point down this list: state ← plan ← config ← service ← southbound,
//! northbound. [`tls`] is the transport security every driver is given.

/// The northbound API types and RPC trait live in their own crate, `ovs-api`.
pub use ovs_api as api;
pub mod config;
pub mod northbound;
pub mod plan;
pub mod service;
pub mod southbound;
pub mod state;
pub mod tls;
pub mod trace;

pub use northbound::metrics;
pub use southbound::flow_encode as ofconv;
pub use state::{ipam, store};

/// The model types under their old path (`ovs_controller::model::…`).
pub mod model {
    pub use crate::state::desired::DesiredState;
    pub use crate::state::model::*;
}
