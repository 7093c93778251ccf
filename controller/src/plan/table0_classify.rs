//! Table 0, classify: where a packet comes from decides its VNI.
//!
//! Contract: a bound local endpoint port sets `tun_id` to the network's VNI
//! and `reg0=0` (from local), then goes to port security (10); a tunnel port
//! from a peer serving the VNI, with that `tun_id`, sets `reg0=1` (from a
//! tunnel) and goes straight to the ARP table (20). Anything else hits the
//! table's priority-0 drop.

use crate::plan::flow::{cookie, tables::*, Act, Field, Flow, FlowKind, TableFlows};
use crate::plan::net::NetView;
use std::collections::BTreeSet;

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
    for peer in &n.peers {
        if let Some(tp) = n.tunnel_of(peer) {
            let to_arp = vec![Act::SetReg0(1), Act::Goto(ARP)];
            t.add(100, vec![Field::InPort(tp), n.tun], to_arp);
        }
    }
}
