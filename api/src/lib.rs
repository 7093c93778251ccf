//! `ovs-api`: the northbound API of `ovs-controller`, shared by the controller (server), the
//! host CLI `ovs-docker-rs`, the lab and the benches (clients).
//!
//! * [`types`]: the wire types (JSON-RPC params and results, `watch` events).
//! * [`MacAddr`], [`TunnelType`]: the one MAC type and the tunnel kinds of the project;
//!   [`Ipv4Net`] (re-exported from `ipnet`) for subnets and addresses with a prefix length;
//!   [`RequestedIp`] for an endpoint's requested address.
//! * [`health`]: the BFD state of each tunnel ([`TunnelHealth`] in `HostStatus::tunnels`).
//! * [`join`]: the one-time [`JoinToken`] and the types of `join_token_create`/`host_join`.
//! * [`plan`]: the types of `plan` (what would change on each host, `--dry-run`).
//! * [`codes`] / [`ErrorCode`]: the stable JSON-RPC error codes; [`ParseError`].
//! * [`names`]: the one set of rules for names, container ids, interface names, tunnel
//!   addresses and OVSDB remotes (API, controller model, CLI and topology files), each
//!   refusal a [`FieldError`] naming the field.
//! * `Northbound` (features `server` and/or `client`): the jsonrpsee RPC trait; `server`
//!   generates `NorthboundServer`, `client` the `NorthboundClient` extension trait.
//!
//! * [`connect`] (feature `connect`): `connect_ws`/`connect_http` over mutual TLS or, with
//!   `--insecure`, plaintext.
//!
//! Without features the crate has no jsonrpsee at all (types and serde only); neither `server`
//! nor `client` pulls a transport: consumers add jsonrpsee's `server`, `ws-client` or
//! `http-client` (or use `connect`).

#[doc(hidden)]
pub use serde as __serde;

/// Implements `Serialize` through `Display` and `Deserialize` through `FromStr` (the error
/// message is the type's own parse error), for the address types that travel as strings.
#[macro_export]
macro_rules! serde_as_str {
    ($t:ty) => {
        impl $crate::__serde::Serialize for $t {
            fn serialize<S: $crate::__serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $t {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as $crate::__serde::Deserialize>::deserialize(d)?;
                s.parse().map_err($crate::__serde::de::Error::custom)
            }
        }
    };
}

pub mod backup;
#[cfg(feature = "connect")]
pub mod connect;
pub mod egress;
pub mod error;
pub mod health;
pub mod join;
mod mac;
pub mod names;
pub mod plan;
pub mod router;
#[cfg(any(feature = "server", feature = "client"))]
mod rpc;
mod tunnel;
pub mod types;

pub use backup::StateBackup;
pub use error::{codes, ErrorCode, ParseError};
pub use health::{BfdState, TunnelHealth};
pub use ipnet::Ipv4Net;
pub use join::{JoinRequest, JoinToken, JoinTokenCreated, JoinTokenSpec, Joined};
pub use mac::MacAddr;
pub use names::FieldError;
pub use plan::{Changed, Changes, HostPlan, PlanChange, PlanRequest};
#[cfg(any(feature = "server", feature = "client"))]
pub use rpc::*;
pub use tunnel::TunnelType;
pub use types::*;
