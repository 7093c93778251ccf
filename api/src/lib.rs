//! `ovs-api`: the northbound API of `ovs-controller`, shared by the controller (server), the
//! host CLI `ovs-docker-rs`, the lab and the benches (clients).
//!
//! * [`types`]: the wire types (JSON-RPC params and results, `watch` events).
//! * [`MacAddr`], [`TunnelType`]: the one MAC type and the tunnel kinds of the project;
//!   [`Ipv4Net`] (re-exported from `ipnet`) for subnets and addresses with a prefix length;
//!   [`RequestedIp`] for an endpoint's requested address.
//! * [`codes`] / [`ErrorCode`]: the stable JSON-RPC error codes; [`ParseError`].
//! * `Northbound` (features `server` and/or `client`): the jsonrpsee RPC trait; `server`
//!   generates `NorthboundServer`, `client` the `NorthboundClient` extension trait.
//!
//! Without features the crate has no jsonrpsee at all (types and serde only); neither feature
//! pulls a transport: consumers add jsonrpsee's `server`, `ws-client` or `http-client`.

pub mod error;
mod mac;
#[cfg(any(feature = "server", feature = "client"))]
mod rpc;
mod tunnel;
pub mod types;

pub use error::{codes, ErrorCode, ParseError};
pub use ipnet::Ipv4Net;
pub use mac::MacAddr;
#[cfg(any(feature = "server", feature = "client"))]
pub use rpc::*;
pub use tunnel::TunnelType;
pub use types::*;
