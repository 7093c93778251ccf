//! Northbound: the JSON-RPC API server ([`rpc`]; its join calls in [`join`]) and Prometheus `/metrics`
//! ([`metrics`]).

pub mod join;
pub mod metrics;
pub mod rpc;
