//! Table 50, egress: what a local endpoint of an egress network sends beyond the overlay
//! leaves through this (its own) host's kernel, source-NATed to the host's address; the
//! replies come back the same way.
//!
//! Mechanism (the why is in the README's pipeline section): the bridge's own internal port
//! (`LOCAL`, the `br-ex` device in the host kernel, MAC [`KERNEL_MAC`] through
//! `other_config:hwaddr`) is the door. `ovs-docker-rs egress-setup` gives that device
//! 100.64.0.1/10 ([`ovs_api::egress::HOST_TRANSIT_IP`]), turns on forwarding and MASQUERADEs what comes from the transit
//! range. Each egress endpoint holds a transit address unique on its host
//! (`state::egress`), so the same address in two tenants becomes two kernel conntrack
//! entries; the mapping here is stateless, one flow each way per endpoint.
//!
//! Contract, for one egress network with a gateway, on one host:
//! - table 40 (cookie kind `Egress`, the network's VNI): below the routes (priority 100),
//!   what is sent to the gateway towards the network's own subnet, a subnet of a network
//!   routed with it, the transit range (other endpoints' transit addresses, the kernel's)
//!   or this host's tunnel address drops (priority 50); any other IPv4 goes to table 50
//!   (priority 10). Networks without egress keep table 40's drop.
//! - table 50, out: from each bound local endpoint's port with its own address (table 10
//!   checked it): `dec_ttl`, `ip_src` = its transit address, `eth_src` = [`ROUTER_MAC`],
//!   `eth_dst` = [`KERNEL_MAC`], out to `LOCAL`.
//! - table 0 (VNI 0, the same flow for every egress network): what `LOCAL` sends goes to
//!   table 50, where only two things pass: an ARP request for a local endpoint's transit
//!   address, answered with [`ROUTER_MAC`]; an IPv4 packet to it, which gets `dec_ttl`,
//!   `ip_dst` = the endpoint's address, `eth_src` = its gateway MAC, `eth_dst` = its MAC
//!   and goes out of its port. Everything else from the kernel drops (table 50,
//!   priority 0, added here because only hosts with egress endpoints have the table).

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use crate::plan::table20_arp;
use ovs_api::egress::{KERNEL_MAC, ROUTER_MAC, TRANSIT_ADDR, TRANSIT_LEN};
use std::collections::BTreeSet;

/// Priority of the fences in table 40 (below the routes, above the hand-over).
pub const FENCE_PRIORITY: u16 = 50;
/// Priority of table 40's hand-over to table 50.
pub const EGRESS_PRIORITY: u16 = 10;

/// Add the egress flows of one network `n` to `out` (none unless it egresses).
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    if !n.net.egress || n.net.gateway.is_none() {
        return;
    }
    let c = cookie(FlowKind::Egress, n.net.vni);
    let ip = |f: Field| vec![n.tun, Field::Ip, f];
    let mut route = TableFlows::new(out, ROUTE, c);
    let nets = std::iter::once(n.net).chain(n.routed.iter().copied());
    for s in nets.map(|r| r.subnet) {
        route.add(FENCE_PRIORITY, ip(Field::IpDstNet(s.addr, s.len)), vec![]);
    }
    route.add(
        FENCE_PRIORITY,
        ip(Field::IpDstNet(TRANSIT_ADDR, TRANSIT_LEN)),
        vec![],
    );
    if let Some(me) = n.tunnel_ip_of(n.host) {
        route.add(FENCE_PRIORITY, ip(Field::IpDst(me)), vec![]);
    }
    route.add(
        EGRESS_PRIORITY,
        vec![n.tun, Field::Ip],
        vec![Act::Goto(EGRESS)],
    );

    let mut t = TableFlows::new(out, EGRESS, c);
    let mut any = false;
    for (e, port) in &n.local {
        let Some(transit) = e.transit else {
            continue;
        };
        any = true;
        let from = vec![n.tun, Field::InPort(*port), Field::Ip, Field::IpSrc(e.ip)];
        let to_kernel = vec![
            Act::DecTtl,
            Act::SetIpSrc(transit),
            Act::SetEthSrc(ROUTER_MAC),
            Act::SetEthDst(KERNEL_MAC),
            Act::OutputLocal,
        ];
        t.add(100, from, to_kernel);
        let arp = vec![
            Field::InPortLocal,
            Field::Arp,
            Field::ArpOp(1),
            Field::ArpTpa(transit),
        ];
        t.add(100, arp, table20_arp::reply(transit, ROUTER_MAC));
        let back = vec![
            Act::DecTtl,
            Act::SetIpDst(e.ip),
            Act::SetEthSrc(n.net.gateway_mac()),
            Act::SetEthDst(e.mac),
            Act::Output(*port),
        ];
        t.add(
            100,
            vec![Field::InPortLocal, Field::Ip, Field::IpDst(transit)],
            back,
        );
    }
    if any {
        let d = cookie(FlowKind::Default, 0);
        out.insert(Flow::new(EGRESS, 0, d, vec![], vec![]));
        let e = cookie(FlowKind::Egress, 0);
        let from_kernel = vec![Act::Goto(EGRESS)];
        out.insert(Flow::new(
            CLASSIFY,
            100,
            e,
            vec![Field::InPortLocal],
            from_kernel,
        ));
    }
}
