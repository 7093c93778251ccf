//! Per-host plan: the OVSDB rows and the OpenFlow flow set a host should have.
//!
//! Contract: [`plan_host`] is a pure function of the desired state, the
//! observed bindings/ofports and the [`PlanConfig`]; equal inputs give equal
//! (sorted) outputs, which is what hitless resync and `diff` rely on. Every
//! flow carries a cookie whose high 16 bits are [`COOKIE_PREFIX`]; flows
//! without it belong to someone else and are never touched.
//!
//! Pipeline (all proactive, priority-0 drop in every table):
//! - table 0 classify: local endpoint port → tun_id=VNI, reg0=0, goto 10;
//!   tunnel port towards a peer + tun_src = that peer's tunnel IP + a VNI both
//!   hosts serve → reg0=1, goto 20; anything else from a tunnel port drops
//!   (one counted drop flow per tunnel port).
//! - table 10 port security: only the endpoint's own MAC+IP (IPv4, ARP), untagged
//!   (no 802.1Q header, priority tag included), pass to 20. IPv6 and DHCP are not
//!   supported (dropped).
//! - table 20 ARP responder for every known endpoint of the VNI, else goto 30.
//! - table 30 L2: known MACs to their local port or tunnel; broadcast/multicast
//!   from a local port to local ports + tunnels to hosts with endpoints of the
//!   VNI, from a tunnel to local ports only; unknown unicast drops; what a
//!   local port sends to the gateway MAC goes to 40.
//! - table 20 also answers ARP for the network's gateway address with its
//!   virtual MAC (every host alike: a distributed gateway).
//! - table 40 route: into the other networks of the network's router, on the
//!   source host (dec_ttl, MAC rewrite, destination VNI, straight to the
//!   destination's port or host); a peer with endpoints in a routed network
//!   may send this VNI (table 0).
//!
//! - table 50 egress (only on hosts with egress endpoints): what a network marked
//!   for egress sends beyond the overlay is mapped to its endpoint's transit address and
//!   handed to the host kernel through the bridge's internal port (`LOCAL`), which
//!   source-NATs it to the host's address; replies come back from `LOCAL` (table 0) and are
//!   mapped back to the endpoint.
//!
//! Layout: [`input`] (config, observed state), [`flow`] (tables, cookies,
//! fields, actions), [`bridge`] (bridge row and tunnel ports), one module per
//! flow table ([`table0_classify`], [`table10_port_security`],
//! [`table20_arp`], [`table30_forward`], [`table40_route`],
//! [`table50_egress`]) over a [`net::NetView`], joined by
//! [`flows`]; [`host`] (the whole plan) and [`diff`]. This file only
//! re-exports; the modules import each other directly, never through it.

pub mod bridge;
pub mod diff;
pub mod flow;
pub mod flows;
pub mod host;
pub mod input;
pub mod net;
pub mod table0_classify;
pub mod table10_port_security;
pub mod table20_arp;
pub mod table30_forward;
pub mod table40_route;
pub mod table50_egress;

pub use bridge::{
    datapath_id, plan_bridge, plan_tunnels, tunnel_port_name, BridgePlan, TunnelPort,
};
pub use diff::{diff_flows, diff_plans, FlowDiff, HostDiff};
pub use flow::{cookie, tables, Act, Field, Flow, FlowKind, COOKIE_MASK, COOKIE_PREFIX};
pub use flows::plan_flows;
pub use host::{plan_all, plan_host, HostPlan};
pub use input::{Bfd, Binding, Observed, PlanConfig, BFD_INTERVAL_MS, BFD_INTERVAL_RANGE};

/// Fixtures shared by unit tests of this crate.
#[cfg(test)]
pub(crate) mod tests_support {
    /// Every flow of every host of the test world.
    pub fn world_flows() -> Vec<super::Flow> {
        let (s, o) = super::tests::world();
        ["h1", "h2", "h3"]
            .iter()
            .flat_map(|h| super::plan_flows(&s, &o, h))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_egress;
#[cfg(test)]
mod tests_route;
