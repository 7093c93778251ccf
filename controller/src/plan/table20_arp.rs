//! Table 20, ARP responder: every endpoint of the VNI is answered locally.
//!
//! Contract: an ARP request for a known endpoint address of the VNI is turned
//! into the reply (that endpoint's MAC) and sent back out of the ingress
//! port; so is a request for the network's gateway address (with the gateway's
//! virtual MAC, cookie kind `Gateway`), on every host alike: a distributed
//! gateway. Everything else of the VNI goes on to table 30.

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use crate::state::model::MacAddr;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Add this table's flows for one network `n` to `out`.
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    let mut t = TableFlows::new(out, ARP, cookie(FlowKind::Arp, n.net.vni));
    for e in &n.eps {
        answer(&mut t, n, e.ip, e.mac);
    }
    t.add(1, vec![n.tun], vec![Act::Goto(L2)]);
    if let Some(gw) = n.net.gateway {
        let mut g = TableFlows::new(out, ARP, cookie(FlowKind::Gateway, n.net.vni));
        answer(&mut g, n, gw, n.net.gateway_mac());
    }
}

/// The ARP reply for `ip` at `mac`, made from the request and sent back where it came from.
fn answer(t: &mut TableFlows<'_>, n: &NetView<'_>, ip: Ipv4Addr, mac: MacAddr) {
    let request = vec![n.tun, Field::Arp, Field::ArpOp(1), Field::ArpTpa(ip)];
    t.add(100, request, reply(ip, mac));
}

/// The actions turning an ARP request for `ip` into the reply "`ip` is at `mac`", sent
/// back out of the ingress port.
pub(crate) fn reply(ip: Ipv4Addr, mac: MacAddr) -> Vec<Act> {
    vec![
        Act::MoveEthSrcToDst,
        Act::SetEthSrc(mac),
        Act::SetArpOp(2),
        Act::MoveArpShaToTha,
        Act::MoveArpSpaToTpa,
        Act::SetArpSha(mac),
        Act::SetArpSpa(ip),
        Act::OutputInPort,
    ]
}
