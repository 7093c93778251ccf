//! Table 30, L2 forward: known MACs to their port, group-bit destinations
//! flooded within the VNI.
//!
//! Contract: a local endpoint's MAC goes to its port; a remote endpoint's MAC
//! goes to the tunnel towards its host, only for traffic from a local port
//! (`reg0=0`, no hairpin between hosts). Broadcast/multicast from a local
//! port goes to the other local ports and the tunnels to every host with
//! endpoints of the VNI; from a tunnel, to local ports only. What a local
//! port sends to the network's gateway MAC goes to routing (table 40, cookie
//! kind `Gateway`). Unknown unicast drops.

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use std::collections::BTreeSet;

/// Add this table's flows for one network `n` to `out`.
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    let mut t = TableFlows::new(out, L2, cookie(FlowKind::Unicast, n.net.vni));
    for (e, port) in &n.local {
        t.add(
            100,
            vec![n.tun, Field::EthDst(e.mac)],
            vec![Act::Output(*port)],
        );
    }
    for e in n.eps.iter().filter(|e| e.host != n.host) {
        if let Some(tp) = n.tunnel_of(&e.host) {
            // Only traffic from local ports is tunneled: no hairpin between hosts.
            let from_local = vec![n.tun, Field::Reg0(0), Field::EthDst(e.mac)];
            t.add(100, from_local, vec![Act::Output(tp)]);
        }
    }
    if n.net.gateway.is_some() {
        let mut g = TableFlows::new(out, L2, cookie(FlowKind::Gateway, n.net.vni));
        let to_gateway = vec![n.tun, Field::Reg0(0), Field::EthDst(n.net.gateway_mac())];
        g.add(100, to_gateway, vec![Act::Goto(ROUTE)]);
    }
    let mut t = TableFlows::new(out, L2, cookie(FlowKind::Flood, n.net.vni));
    let local_out: Vec<Act> = n.local.iter().map(|(_, p)| Act::Output(*p)).collect();
    let mut all_out = local_out.clone();
    all_out.extend(
        n.peers
            .iter()
            .filter_map(|p| n.tunnel_of(p))
            .map(Act::Output),
    );
    // From a tunnel (reg0=1): local ports only; from a local port: tunnels too.
    for (reg0, acts) in [(1, local_out), (0, all_out)] {
        if !acts.is_empty() {
            t.add(
                50,
                vec![n.tun, Field::Reg0(reg0), Field::EthDstMulticast],
                acts,
            );
        }
    }
}
