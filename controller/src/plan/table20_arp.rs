//! Table 20, ARP responder: every endpoint of the VNI is answered locally.
//!
//! Contract: an ARP request for a known endpoint address of the VNI is turned
//! into the reply (that endpoint's MAC) and sent back out of the ingress
//! port; everything else of the VNI goes on to table 30.

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use std::collections::BTreeSet;

/// Add this table's flows for one network `n` to `out`.
pub fn plan(n: &NetView<'_>, out: &mut BTreeSet<Flow>) {
    let mut t = TableFlows::new(out, ARP, cookie(FlowKind::Arp, n.net.vni));
    for e in &n.eps {
        t.add(
            100,
            vec![n.tun, Field::Arp, Field::ArpOp(1), Field::ArpTpa(e.ip)],
            vec![
                Act::MoveEthSrcToDst,
                Act::SetEthSrc(e.mac),
                Act::SetArpOp(2),
                Act::MoveArpShaToTha,
                Act::MoveArpSpaToTpa,
                Act::SetArpSha(e.mac),
                Act::SetArpSpa(e.ip),
                Act::OutputInPort,
            ],
        );
    }
    t.add(1, vec![n.tun], vec![Act::Goto(L2)]);
}
