//! Northbound: the JSON-RPC API server ([`rpc`]) and Prometheus `/metrics`
//! ([`metrics`]).

pub mod metrics;
pub mod rpc;
