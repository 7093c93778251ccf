//! Resolving each tunnel's underlay neighbour before the first real packet needs it.
//!
//! In the userspace datapath (`datapath_type=netdev`) a packet sent to a tunnel peer whose
//! underlay MAC OVS has not learnt yet (`ovs-appctl tnl/neigh/show`) is dropped while OVS
//! sends the ARP request for it: without help, the first packet of a new container's first
//! conversation with a host is lost (seen as a lost first ping between Docker containers).
//! Contract: once per OpenFlow session, as soon as a tunnel port is in the host's flow set
//! (its drop flow in classify, [`FlowKind::TunnelDrop`], names every tunnel port we use), the
//! session sends one frame out of it by PACKET_OUT, so that OVS resolves the neighbour then.
//! The frame carries VNI 0, which no network uses: a peer that receives it (its neighbour
//! was already known here) drops it in classify on that port's drop flow, where it counts as
//! one packet from that peer. The kernel datapath resolves neighbours itself; there the frame
//! is only that one dropped packet.

use crate::plan::{Field, Flow, FlowKind};
use openflow::driver::Switch;
use openflow::{Action, Message, PacketOut, OFPP_CONTROLLER, OFP_NO_BUFFER};
use std::collections::BTreeSet;

/// The tunnel ports in `flows` (the in_port of each classify drop flow of kind
/// [`FlowKind::TunnelDrop`]).
pub fn tunnel_ports(flows: &BTreeSet<Flow>) -> BTreeSet<u32> {
    let kind = crate::plan::cookie(FlowKind::TunnelDrop, 0);
    flows
        .iter()
        .filter(|f| f.cookie == kind)
        .flat_map(|f| f.matches.iter())
        .filter_map(|m| match m {
            Field::InPort(p) => Some(*p),
            _ => None,
        })
        .collect()
}

/// The frame: broadcast from a locally administered address, IEEE local experimental
/// ethertype 0x88b5, zero payload (60 bytes, the Ethernet minimum without FCS).
pub fn frame() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x0a, 0x0c, 0x7e, 0xff, 0xff, 0xff]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f
}

/// The PACKET_OUT sending [`frame`] out of `port`.
pub fn packet_out(port: u32) -> Message {
    Message::PacketOut(PacketOut {
        buffer_id: OFP_NO_BUFFER,
        in_port: OFPP_CONTROLLER,
        actions: vec![Action::Output { port, max_len: 0 }],
        data: frame(),
    })
}

/// Send [`packet_out`] out of every tunnel port of `flows` not in `warmed` (this session's),
/// and add it there.
pub async fn warm(
    sw: &Switch,
    flows: &BTreeSet<Flow>,
    warmed: &mut BTreeSet<u32>,
) -> Result<(), openflow::driver::Error> {
    for port in tunnel_ports(flows) {
        if warmed.insert(port) {
            sw.send(packet_out(port)).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::{cookie, tables, Act};

    #[test]
    fn the_tunnel_ports_are_the_in_ports_of_the_tunnel_drops() {
        let drop = |p| {
            Flow::new(
                tables::CLASSIFY,
                10,
                cookie(FlowKind::TunnelDrop, 0),
                vec![Field::InPort(p)],
                vec![],
            )
        };
        let accept = Flow::new(
            tables::CLASSIFY,
            100,
            cookie(FlowKind::Classify, 7),
            vec![Field::InPort(3)],
            vec![Act::Goto(tables::ARP)],
        );
        let flows = BTreeSet::from([drop(5), drop(9), accept]);
        assert_eq!(tunnel_ports(&flows), BTreeSet::from([5, 9]));
    }

    #[test]
    fn ovs_decodes_the_packet_out() {
        ovs_testbed::require!(ovs_testbed::Peer::OvsOfctl);
        let hex: String = packet_out(7)
            .encode(1)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let out = std::process::Command::new("ovs-ofctl")
            .args(["ofp-print", &hex])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("OFPT_PACKET_OUT")
                && text.contains("in_port=CONTROLLER")
                && text.contains("actions=output:7"),
            "{text}"
        );
        assert!(
            text.contains("dl_type=0x88b5") || text.contains("0x88b5"),
            "{text}"
        );
    }
}
