//! Table 0, classify: where a packet comes from decides its VNI.
//!
//! Contract: a bound local endpoint port sets `tun_id` to the network's VNI
//! and `reg0=0` (from local), then goes to port security (10). From a
//! tunnel, only what the peer may send is accepted: `in_port` = our tunnel
//! port towards that peer, `tun_src` = the peer's registered tunnel address
//! and `tun_id` = a VNI both hosts serve; that sets `reg0=1` (from a tunnel)
//! and goes straight to the ARP table (20). A peer with endpoints in a network
//! routed with this one (same router) may send this VNI too: it routes into
//! it on its side (`table40_route`). Everything else a tunnel port
//! delivers (another VNI, another outer source) hits that port's own drop
//! flow (priority 10, cookie kind [`FlowKind::TunnelDrop`], VNI 0, so its
//! counters say which peer sent it); anything else hits the table's
//! priority-0 drop. A peer's *spoofed* address cannot be told from the peer:
//! the underlay is not authenticated.

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use std::collections::BTreeSet;

/// Priority of the per-tunnel-port drop, below every accepting flow.
pub const TUNNEL_DROP_PRIORITY: u16 = 10;

/// Add this table's flows for one network `n` to `out`.
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    let mut t = TableFlows::new(out, CLASSIFY, cookie(FlowKind::Classify, n.net.vni));
    for (_, port) in &n.local {
        let to_security = vec![
            Act::SetTunId(n.tun_id),
            Act::SetReg0(0),
            Act::Goto(PORT_SECURITY),
        ];
        t.add(100, vec![Field::InPort(*port)], to_security);
    }
    let mut accepted = Vec::new();
    for peer in n.peers.union(&n.routed_peers) {
        if let (Some(tp), Some(ip)) = (n.tunnel_of(peer), n.tunnel_ip_of(peer)) {
            let to_arp = vec![Act::SetReg0(1), Act::Goto(ARP)];
            t.add(
                100,
                vec![Field::InPort(tp), Field::TunSrc(ip), n.tun],
                to_arp,
            );
            accepted.push(tp);
        }
    }
    // One drop per tunnel port, the same flow from every network using the
    // port (VNI 0 in the cookie), so the set holds it once.
    let mut drops = TableFlows::new(out, CLASSIFY, cookie(FlowKind::TunnelDrop, 0));
    for tp in accepted {
        drops.add(TUNNEL_DROP_PRIORITY, vec![Field::InPort(tp)], vec![]);
    }
}
