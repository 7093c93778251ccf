//! Table 10, port security: a local endpoint may only send as itself.
//!
//! Contract: from its port, only untagged IPv4 with the endpoint's MAC and
//! address, or untagged ARP with its MAC as Ethernet and ARP sender and its
//! address as ARP sender address, passes on to table 20. "Untagged" means no
//! 802.1Q header at all ([`Field::Untagged`]): VLAN-tagged and
//! priority-tagged (VID 0) frames are dropped, whatever they carry. IPv6 and
//! DHCP are not supported. Everything dropped here hits the table's
//! priority-0 drop.

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use std::collections::BTreeSet;

/// Add this table's flows for one network `n` to `out`.
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    let c = cookie(FlowKind::PortSecurity, n.net.vni);
    let mut t = TableFlows::new(out, PORT_SECURITY, c);
    for (e, port) in &n.local {
        let from = [Field::InPort(*port), Field::Untagged, Field::EthSrc(e.mac)];
        let ip = [Field::Ip, Field::IpSrc(e.ip)];
        let arp = [Field::Arp, Field::ArpSpa(e.ip), Field::ArpSha(e.mac)];
        t.add(100, [&from[..], &ip].concat(), vec![Act::Goto(ARP)]);
        t.add(100, [&from[..], &arp].concat(), vec![Act::Goto(ARP)]);
    }
}
