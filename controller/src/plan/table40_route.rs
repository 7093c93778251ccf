//! Table 40, route: what a local endpoint sends to its gateway, routed on this
//! (the source) host into another network of the same router.
//!
//! Contract: table 30 hands over only what a local port (`reg0=0`) sent to
//! the network's gateway MAC. For every endpoint of every other network of the
//! network's router, an IPv4 packet to that endpoint's address gets, in this
//! order: `dec_ttl` (a packet with TTL 0 or 1 is not forwarded: OVS stops the
//! actions there, so it is dropped), `eth_src` = the destination network's
//! gateway MAC, `eth_dst` = the endpoint's MAC, `tun_id` = the destination
//! VNI, then straight out of the endpoint's port (when it is bound on this
//! host) or the tunnel of the destination network's type towards its host;
//! there it enters the destination network's L2 table like any tunnel frame
//! of that VNI (and is never routed again: table 30 hands only local frames
//! over, so nothing loops). Everything else (another tenant's addresses,
//! the gateway addresses themselves, unknown destinations, non-IPv4) hits the
//! table's priority-0 drop. Cookie kind `Route`, VNI = the source network's.

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use std::collections::BTreeSet;

/// Add this table's flows for one (source) network `n` to `out`.
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    if n.net.gateway.is_none() {
        return;
    }
    let mut t = TableFlows::new(out, ROUTE, cookie(FlowKind::Route, n.net.vni));
    for dst in &n.routed {
        if dst.gateway.is_none() {
            continue;
        }
        for e in n.endpoints_of(dst) {
            let port = match e.host == n.host {
                true => n.local_port(e),
                false => n.tunnel_to(dst, &e.host),
            };
            let Some(port) = port else {
                continue;
            };
            t.add(
                100,
                vec![n.tun, Field::Ip, Field::IpDst(e.ip)],
                vec![
                    Act::DecTtl,
                    Act::SetEthSrc(dst.gateway_mac()),
                    Act::SetEthDst(e.mac),
                    Act::SetTunId(u64::from(dst.vni)),
                    Act::Output(port),
                ],
            );
        }
    }
}
