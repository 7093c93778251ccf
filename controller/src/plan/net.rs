//! One network as seen from one host: what every flow table module needs.
//!
//! Contract: a [`NetView`] is computed once per (host, network) from the
//! desired and observed state; the table modules only read it.

use crate::plan::bridge::tunnel_port_name;
use crate::plan::flow::Field;
use crate::plan::input::Observed;
use crate::state::desired::DesiredState;
use crate::state::model::{Endpoint, Network};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// What the table modules need to know about one network on one host.
#[derive(Debug)]
pub struct NetView<'a> {
    /// The network.
    pub net: &'a Network,
    /// Its VNI as a tunnel id.
    pub tun_id: u64,
    /// The `tun_id` match of the network.
    pub tun: Field,
    /// Every endpoint of the network, in id order.
    pub eps: Vec<&'a Endpoint>,
    /// Peer hosts with endpoints in the network.
    pub peers: BTreeSet<&'a str>,
    /// Bound local endpoints with their ofports.
    pub local: Vec<(&'a Endpoint, u32)>,
    /// The other networks of the network's router (none if it has no router).
    pub routed: Vec<&'a Network>,
    /// Peer hosts with endpoints in a routed network: they may send into this VNI.
    pub routed_peers: BTreeSet<&'a str>,
    /// The host planned.
    pub host: &'a str,
    state: &'a DesiredState,
    observed: &'a Observed,
}

impl NetView<'_> {
    /// Our tunnel's ofport towards `peer` for this network's tunnel type, if known.
    pub fn tunnel_of(&self, peer: &str) -> Option<u32> {
        self.tunnel_to(self.net, peer)
    }
    /// Our tunnel's ofport towards `peer` for `net`'s tunnel type, if known.
    pub fn tunnel_to(&self, net: &Network, peer: &str) -> Option<u32> {
        self.observed
            .port(self.host, &tunnel_port_name(net.tunnel, peer))
    }
    /// The ofport of local endpoint `e`, if it is bound here.
    pub fn local_port(&self, e: &Endpoint) -> Option<u32> {
        (e.host == self.host)
            .then(|| self.observed.binding(e).map(|b| b.ofport))
            .flatten()
    }
    /// Every endpoint of network `net`, in id order.
    pub fn endpoints_of<'s>(&'s self, net: &'s Network) -> impl Iterator<Item = &'s Endpoint> {
        self.state.endpoints_in(&net.name)
    }
    /// The registered tunnel (underlay) address of host `peer`, if known.
    pub fn tunnel_ip_of(&self, peer: &str) -> Option<Ipv4Addr> {
        self.state.host(peer).map(|h| h.tunnel_ip)
    }
}

impl<'a> NetView<'a> {
    /// The view of `net` from `host`.
    pub fn new(
        state: &'a DesiredState,
        observed: &'a Observed,
        host: &'a str,
        net: &'a Network,
    ) -> NetView<'a> {
        let eps: Vec<&Endpoint> = state.endpoints_in(&net.name).collect();
        let routed: Vec<&Network> = state.routed_with(&net.name).collect();
        let routed_peers = routed
            .iter()
            .flat_map(|r| state.hosts_in(&r.name))
            .filter(|h| *h != host)
            .collect();
        NetView {
            routed,
            routed_peers,
            net,
            tun_id: u64::from(net.vni),
            tun: Field::TunId(u64::from(net.vni)),
            peers: eps
                .iter()
                .map(|e| e.host.as_str())
                .filter(|h| *h != host)
                .collect(),
            local: eps
                .iter()
                .filter(|e| e.host == host)
                .filter_map(|e| observed.binding(e).map(|b| (*e, b.ofport)))
                .collect(),
            eps,
            host,
            state,
            observed,
        }
    }
}
