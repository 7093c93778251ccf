//! Northbound: the JSON-RPC API server ([`rpc`]; its join calls in [`join`]), who may call
//! what ([`access`]), `plan` ([`plan`]), the listeners with TLS, timeouts and connection caps ([`server`]) and
//! Prometheus `/metrics` ([`metrics`]), and the `watch` stream as each credential may see it
//! ([`watch`]).

pub mod access;
pub mod join;
pub mod metrics;
pub mod plan;
pub mod rpc;
pub mod server;
pub mod watch;
