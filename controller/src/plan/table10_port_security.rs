//! Table 10, port security: a local endpoint may only send as itself.
//!
//! Contract: from its port, only IPv4 with the endpoint's MAC and address,
//! or ARP with its MAC as Ethernet and ARP sender and its address as ARP
//! sender address, passes on to table 20. IPv6 and DHCP are not supported
//! (dropped by the table's priority-0 drop).

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind};
use crate::plan::net::NetView;
use std::collections::BTreeSet;

/// Add this table's flows for one network `n` to `out`.
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    let c = cookie(FlowKind::PortSecurity, n.net.vni);
    for (e, port) in &n.local {
        out.insert(Flow::new(
            PORT_SECURITY,
            100,
            c,
            vec![
                Field::InPort(*port),
                Field::EthSrc(e.mac),
                Field::Ip,
                Field::IpSrc(e.ip),
            ],
            vec![Act::Goto(ARP)],
        ));
        out.insert(Flow::new(
            PORT_SECURITY,
            100,
            c,
            vec![
                Field::InPort(*port),
                Field::EthSrc(e.mac),
                Field::Arp,
                Field::ArpSpa(e.ip),
                Field::ArpSha(e.mac),
            ],
            vec![Act::Goto(ARP)],
        ));
    }
}
