//! `trace`: where a packet from one container goes, told with our table names.
//!
//! Contract: pure except for [`follow::HostRunner`], the one way a host is asked (the CLI
//! implements it with `ovs-appctl`, locally or through a command prefix). [`resolve`] makes
//! the first packet from what the northbound API lists; [`follow`] traces it with
//! `ofproto/trace` on the source host and across every tunnel it leaves by on the host at
//! the other end, and ends with a [`follow::Verdict`]; [`parse`] reads OVS's text (never
//! panicking: "could not parse" with the line), [`path`] says what one host's trace means
//! (the flow that forwarded or dropped the packet, with the reason by table and cookie
//! kind), [`packet`] holds the packet and its `ofproto/trace` flow syntax. Table names
//! come from [`crate::plan::tables::name`].

pub mod follow;
pub mod packet;
pub mod parse;
pub mod path;
pub mod resolve;

pub use follow::{follow, HostRunner, Report, Request, TraceError, Verdict};
pub use packet::{Ingress, Packet, Proto};
pub use resolve::{ResolveError, Target, World};

#[cfg(test)]
mod tests;
