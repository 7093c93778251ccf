//! Flows shared by the golden-vector and real-switch tests, built once.

use openflow::{Action, FlowMod, Mac, Match, OxmKind, OFPP_IN_PORT};
use std::net::Ipv4Addr;

/// The controller's ARP responder for 10.0.0.1 at `mac` (table 0, priority 300), as
/// `ovs-ofctl add-flow` encodes `arp,arp_op=1,arp_tpa=10.0.0.1 actions=move:...`.
pub fn arp_responder(mac: Mac) -> FlowMod {
    FlowMod::add(0, 300)
        .match_(
            Match::new()
                .eth_type(0x0806)
                .arp_op(1)
                .arp_tpa(Ipv4Addr::new(10, 0, 0, 1)),
        )
        .apply(vec![
            Action::move_field(OxmKind::EthSrc, OxmKind::EthDst),
            Action::set_field(OxmKind::EthSrc, mac),
            Action::set_field(OxmKind::ArpOp, 2u16.to_be_bytes()),
            Action::move_field(OxmKind::ArpSha, OxmKind::ArpTha),
            Action::move_field(OxmKind::ArpSpa, OxmKind::ArpTpa),
            Action::set_field(OxmKind::ArpSha, mac),
            Action::set_field(OxmKind::ArpSpa, [10, 0, 0, 1]),
            Action::output(OFPP_IN_PORT),
        ])
}
