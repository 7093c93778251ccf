//! Bridge and tunnel planning: the `br-ex` row and the tunnel ports a host
//! should have.
//!
//! Contract (pure): [`plan_bridge`] depends on the host name and the
//! [`PlanConfig`] only; [`plan_tunnels`] gives one port per (tunnel type,
//! peer) for every peer sharing a network with the host, and for every peer
//! with endpoints in a network routed with one of the host's (both networks'
//! types: the host sends into the peer's network, the peer into the host's), each with the
//! BFD settings of the [`PlanConfig`] (BFD's status is observed, never planned).

use crate::plan::input::{Bfd, PlanConfig};
use crate::state::desired::DesiredState;
use crate::state::model::TunnelType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

/// A tunnel port the host's bridge should have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TunnelPort {
    /// Port and interface name, e.g. `vx-h2`.
    pub name: String,
    /// Encapsulation.
    pub kind: TunnelType,
    /// Peer host name.
    pub peer: String,
    /// Peer underlay address.
    pub remote_ip: Ipv4Addr,
    /// Our underlay address if options:local_ip is set.
    pub local_ip: Option<Ipv4Addr>,
    /// BFD on this port (`bfd:enable=true` with these intervals); None: no BFD.
    pub bfd: Option<Bfd>,
}

/// The bridge row a host should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgePlan {
    /// Bridge name.
    pub name: String,
    /// datapath_type.
    pub datapath_type: String,
    /// fail_mode (always `secure`).
    pub fail_mode: String,
    /// protocols (always `OpenFlow13`).
    pub protocols: String,
    /// other_config:datapath-id, 16 hex digits.
    pub datapath_id: String,
    /// other_config:hwaddr, the MAC of the bridge's internal port: always
    /// [`ovs_api::egress::KERNEL_MAC`], where egress flows send into the host kernel.
    pub hwaddr: String,
    /// Controller target.
    pub controller: String,
    /// Controller connection_mode (always `out-of-band`).
    pub connection_mode: String,
}

impl fmt::Display for TunnelPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} type={} options:remote_ip={} options:key=flow",
            self.name, self.kind, self.remote_ip
        )?;
        if let Some(l) = self.local_ip {
            write!(f, " options:local_ip={l}")?;
        }
        if let Some(b) = self.bfd {
            write!(
                f,
                " bfd:enable=true bfd:min_rx={} bfd:min_tx={}",
                b.min_rx_ms, b.min_tx_ms
            )?;
        }
        Ok(())
    }
}

/// Deterministic datapath id of a host (FNV-1a 64 of the name, top bit
/// cleared so it never collides with OVS's random `0000...` style ids).
pub fn datapath_id(host: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h & 0x0000_ffff_ffff_ffff) | (0x0c7e << 48)
}

/// Name of the tunnel port towards `peer` of type `kind` (≤ 15 chars for
/// host names accepted by [`ovs_api::names::host_name`]).
pub fn tunnel_port_name(kind: TunnelType, peer: &str) -> String {
    format!("{}{}", kind.port_prefix(), peer)
}

/// The bridge row of `host`.
pub fn plan_bridge(cfg: &PlanConfig, host: &str) -> BridgePlan {
    BridgePlan {
        name: cfg.bridge.clone(),
        datapath_type: cfg.datapath_type.clone(),
        fail_mode: "secure".into(),
        protocols: "OpenFlow13".into(),
        datapath_id: format!("{:016x}", datapath_id(host)),
        hwaddr: ovs_api::egress::KERNEL_MAC.to_string(),
        controller: cfg.controller_target.clone(),
        connection_mode: "out-of-band".into(),
    }
}

/// Tunnel ports of `host`: one per (tunnel type, peer) for every peer that
/// has endpoints in a network of that type where `host` has endpoints too, and
/// to every peer with endpoints in a network routed with one of `host`'s (of
/// both networks' types). Hosts that share no network get no tunnel between them, so the port count
/// grows with the network sizes, not with the number of hosts squared.
pub fn plan_tunnels(
    state: &DesiredState,
    cfg: &PlanConfig,
    host: &str,
) -> BTreeMap<String, TunnelPort> {
    let mut tunnels = BTreeMap::new();
    let Some(me) = state.host(host) else {
        return tunnels;
    };
    for name in state.networks_of(host) {
        let Some(net) = state.network(name) else {
            continue;
        };
        let mut add = |kind: TunnelType, peer: &str| {
            let Some(p) = state.host(peer).filter(|_| peer != host) else {
                return;
            };
            let name = tunnel_port_name(kind, peer);
            tunnels.entry(name.clone()).or_insert_with(|| TunnelPort {
                name,
                kind,
                peer: peer.to_string(),
                remote_ip: p.tunnel_ip,
                local_ip: cfg.set_local_ip.then_some(me.tunnel_ip),
                bfd: cfg.bfd,
            });
        };
        for peer in state.hosts_in(name) {
            add(net.tunnel, peer);
        }
        // Routed networks: we send into theirs, they send into ours.
        for other in state.routed_with(name) {
            for peer in state.hosts_in(&other.name) {
                add(other.tunnel, peer);
                add(net.tunnel, peer);
            }
        }
    }
    tunnels
}
