//! The flow set of one host: the whole pipeline of tables 0, 10, 20 and 30.
//!
//! Contract (pure): [`plan_flows`] depends only on the desired state, the
//! observed bindings and ofports, and the host; equal inputs give equal sets.

use crate::plan::bridge::tunnel_port_name;
use crate::plan::flow::{cookie, tables, Act, Field, Flow, FlowKind};
use crate::plan::Observed;
use crate::state::desired::DesiredState;
use crate::state::index::Index;
use crate::state::model::Endpoint;
use std::collections::BTreeSet;

/// The flow set of `host`.
pub fn plan_flows(state: &DesiredState, observed: &Observed, host: &str) -> BTreeSet<Flow> {
    plan_flows_with(state, &Index::of(state), observed, host)
}

/// [`plan_flows`] with a prebuilt index.
pub fn plan_flows_with(
    state: &DesiredState,
    index: &Index,
    observed: &Observed,
    host: &str,
) -> BTreeSet<Flow> {
    use tables::*;
    let mut flows = BTreeSet::new();
    let dc = cookie(FlowKind::Default, 0);
    for t in tables::ALL {
        flows.insert(Flow::new(t, 0, dc, vec![], vec![]));
    }
    for name in index.networks_of(host) {
        let Some(net) = state.networks.get(name) else {
            continue;
        };
        let eps: Vec<&Endpoint> = index.endpoints_in(state, name).collect();
        let vni = u64::from(net.vni);
        let tun = Field::TunId(vni);
        // Peers with endpoints of this network, and our tunnel ofport to each.
        let peers: BTreeSet<&str> = eps
            .iter()
            .map(|e| e.host.as_str())
            .filter(|h| *h != host)
            .collect();
        let tunnel_of = |peer: &str| observed.port(host, &tunnel_port_name(net.tunnel, peer));
        let local: Vec<(&Endpoint, u32)> = eps
            .iter()
            .filter(|e| e.host == host)
            .filter_map(|e| observed.binding(e).map(|b| (*e, b.ofport)))
            .collect();

        // table 0: classify
        let c = cookie(FlowKind::Classify, net.vni);
        for (_, port) in &local {
            flows.insert(Flow::new(
                CLASSIFY,
                100,
                c,
                vec![Field::InPort(*port)],
                vec![
                    Act::SetTunId(vni),
                    Act::SetReg0(0),
                    Act::Goto(PORT_SECURITY),
                ],
            ));
        }
        for peer in &peers {
            if let Some(tp) = tunnel_of(peer) {
                flows.insert(Flow::new(
                    CLASSIFY,
                    100,
                    c,
                    vec![Field::InPort(tp), tun],
                    vec![Act::SetReg0(1), Act::Goto(ARP)],
                ));
            }
        }
        // table 10: port security
        let c = cookie(FlowKind::PortSecurity, net.vni);
        for (e, port) in &local {
            flows.insert(Flow::new(
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
            flows.insert(Flow::new(
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
        // table 20: ARP responder for every known endpoint, else on to L2.
        let c = cookie(FlowKind::Arp, net.vni);
        for e in &eps {
            flows.insert(Flow::new(
                ARP,
                100,
                c,
                vec![tun, Field::Arp, Field::ArpOp(1), Field::ArpTpa(e.ip)],
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
            ));
        }
        flows.insert(Flow::new(ARP, 1, c, vec![tun], vec![Act::Goto(L2)]));
        // table 30: L2
        let c = cookie(FlowKind::Unicast, net.vni);
        for (e, port) in &local {
            flows.insert(Flow::new(
                L2,
                100,
                c,
                vec![tun, Field::EthDst(e.mac)],
                vec![Act::Output(*port)],
            ));
        }
        for e in eps.iter().filter(|e| e.host != host) {
            if let Some(tp) = tunnel_of(&e.host) {
                // Only traffic from local ports is tunneled: no hairpin between hosts.
                flows.insert(Flow::new(
                    L2,
                    100,
                    c,
                    vec![tun, Field::Reg0(0), Field::EthDst(e.mac)],
                    vec![Act::Output(tp)],
                ));
            }
        }
        let c = cookie(FlowKind::Flood, net.vni);
        let local_out: Vec<Act> = local.iter().map(|(_, p)| Act::Output(*p)).collect();
        let mut all_out = local_out.clone();
        all_out.extend(peers.iter().filter_map(|p| tunnel_of(p)).map(Act::Output));
        if !local_out.is_empty() {
            flows.insert(Flow::new(
                L2,
                50,
                c,
                vec![tun, Field::Reg0(1), Field::EthDstMulticast],
                local_out,
            ));
        }
        if !all_out.is_empty() {
            flows.insert(Flow::new(
                L2,
                50,
                c,
                vec![tun, Field::Reg0(0), Field::EthDstMulticast],
                all_out,
            ));
        }
    }
    flows
}
