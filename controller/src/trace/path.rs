//! What one host's trace means: where the packet leaves the bridge (a tunnel with its
//! `tun_id` and outer destination, a local port, back out of its ingress port) or the
//! table and flow that dropped it, and the packet as it leaves (after our MAC rewrites and
//! `dec_ttl`).
//!
//! Contract (pure): [`interpret`] reads only the parsed trace and the bridge's ports; the
//! reason of a drop comes from the table and the cookie's kind ([`drop_reason`]), the
//! table's name from [`crate::plan::tables::name`].

use crate::plan::flow::{cookie, tables, FlowKind, COOKIE_MASK, COOKIE_PREFIX};
use crate::trace::packet::{set_tun_id, Packet};
use crate::trace::parse::{BridgeTrace, Port, Step};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// How the packet leaves one host's bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Exit {
    /// Out of a tunnel port.
    Tunnel {
        /// The tunnel port (e.g. `vx-h2`).
        port: String,
        /// Its encapsulation as OVS names it (`vxlan`, `geneve`, `gre`).
        encap: String,
        /// The tunnel id (VNI) at output.
        tun_id: u64,
        /// The outer destination (from OVS's `tunneling to` note, else the port's remote_ip).
        tun_dst: Option<Ipv4Addr>,
        /// The packet as it leaves.
        packet: Packet,
        /// The table whose flow output it.
        table: u8,
    },
    /// Out of a local (container) port.
    Local {
        /// OpenFlow port number.
        ofport: u32,
        /// Its name, if `dpif/show` listed it.
        port: Option<String>,
        /// The packet as it leaves.
        packet: Packet,
        /// The table whose flow output it.
        table: u8,
    },
    /// Back out of the port it came in on (the ARP responder's reply).
    InPort {
        /// The table whose flow output it.
        table: u8,
    },
    /// Dropped.
    Drop {
        /// The table that dropped it.
        table: u8,
        /// Why, in words.
        reason: String,
    },
}

/// One host's trace, interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HopResult {
    /// Every way the packet left (several for a flood; one `Drop` when nothing left).
    pub exits: Vec<Exit>,
    /// Things worth knowing that do not change the OpenFlow path (e.g. an unresolved
    /// underlay neighbour: OVS drops that first packet in the datapath).
    pub warnings: Vec<String>,
}

/// The packet `packet` entering with tunnel id `tun_id` (None from a container port) went
/// through `trace` on a bridge with `ports`: where did it leave?
pub fn interpret(
    trace: &BridgeTrace,
    ports: &BTreeMap<u32, Port>,
    mut packet: Packet,
    mut tun_id: Option<u64>,
) -> HopResult {
    let mut exits = Vec::new();
    let mut warnings = Vec::new();
    let mut stopped = None;
    for step in &trace.steps {
        for (i, action) in step.actions.iter().enumerate() {
            packet.apply(action);
            if let Some(t) = set_tun_id(action) {
                tun_id = Some(t);
            }
            let notes: Vec<&str> = step
                .notes
                .iter()
                .filter(|(at, _)| *at == i)
                .map(|(_, n)| n.as_str())
                .collect();
            for n in &notes {
                if n.starts_with("neighbor cache miss") {
                    warnings.push(format!(
                        "{n}: the datapath drops this first packet until the underlay \
                         neighbour is resolved; the OpenFlow path is as shown"
                    ));
                }
            }
            if let Some(why) = notes.iter().find_map(|n| n.strip_prefix(">> ")) {
                stopped = Some(Exit::Drop {
                    table: step.table,
                    reason: format!("{why} after {action:?}"),
                });
                break;
            }
            if let Some(port) = action.strip_prefix("output:") {
                exits.push(output(
                    port.trim_matches('"'),
                    ports,
                    &packet,
                    tun_id,
                    &notes,
                    step.table,
                ));
            } else if action == "IN_PORT" || action == "in_port" {
                exits.push(Exit::InPort { table: step.table });
            }
        }
        if stopped.is_some() {
            break;
        }
    }
    if let Some(s) = stopped {
        exits.push(s);
    } else if exits.is_empty() {
        if let Some(last) = trace.steps.last() {
            exits.push(Exit::Drop {
                table: last.table,
                reason: drop_reason(last),
            });
        }
    }
    HopResult { exits, warnings }
}

/// The exit of `output:PORT` (a number, or a name with `--names`).
fn output(
    port: &str,
    ports: &BTreeMap<u32, Port>,
    packet: &Packet,
    tun_id: Option<u64>,
    notes: &[&str],
    table: u8,
) -> Exit {
    let found = match port.parse::<u32>() {
        Ok(n) => ports.get(&n),
        Err(_) => ports.values().find(|p| p.name == port),
    };
    let ofport = found.map(|p| p.ofport).or_else(|| port.parse().ok());
    let tunneled = notes
        .iter()
        .any(|n| n.starts_with("output to native tunnel") || n.starts_with("tunneling to"));
    let is_tunnel = found.is_some_and(|p| p.remote_ip.is_some()) || tunneled;
    if is_tunnel {
        let tun_dst = notes
            .iter()
            .find_map(|n| n.strip_prefix("tunneling to "))
            .and_then(|r| r.split(' ').next())
            .and_then(|ip| ip.parse().ok())
            .or_else(|| found.and_then(|p| p.remote_ip));
        return Exit::Tunnel {
            port: found.map_or_else(|| port.to_string(), |p| p.name.clone()),
            encap: found.map(|p| p.kind.clone()).unwrap_or_default(),
            tun_id: tun_id.unwrap_or(0),
            tun_dst,
            packet: packet.clone(),
            table,
        };
    }
    Exit::Local {
        ofport: ofport.unwrap_or(0),
        port: found.map(|p| p.name.clone()),
        packet: packet.clone(),
        table,
    }
}

/// The kind of one of our cookies (None for a cookie that is not ours or unknown).
pub fn cookie_kind(c: u64) -> Option<FlowKind> {
    if c & COOKIE_MASK != COOKIE_PREFIX {
        return None;
    }
    let vni = (c & 0xff_ffff) as u32;
    [
        FlowKind::Default,
        FlowKind::Classify,
        FlowKind::PortSecurity,
        FlowKind::Arp,
        FlowKind::Unicast,
        FlowKind::Flood,
        FlowKind::TunnelDrop,
        FlowKind::Gateway,
        FlowKind::Route,
    ]
    .into_iter()
    .find(|k| cookie(*k, vni) == c)
}

/// Why the flow of `step` (the last one, whose actions output nothing) dropped the packet.
pub fn drop_reason(step: &Step) -> String {
    if step.miss {
        return "no flow matched (table miss)".into();
    }
    let Some(c) = step.cookie else {
        return "dropped by a flow without a cookie".into();
    };
    let kind = cookie_kind(c);
    if kind.is_none() {
        return format!("dropped by a flow that is not ours (cookie {c:#x})");
    }
    match (step.table, kind) {
        (_, Some(FlowKind::TunnelDrop)) => "tunnel packet refused: its VNI is not one both hosts \
             serve, or its outer source is not the peer's registered tunnel address"
            .into(),
        (tables::CLASSIFY, _) => "the ingress port is neither a bound container port nor a \
             tunnel to a peer"
            .into(),
        (tables::PORT_SECURITY, _) => "the source MAC or IP is not the container's own \
             (spoofed source), or the frame is VLAN-tagged or not IPv4/ARP"
            .into(),
        (tables::ARP, _) => "no flows for this VNI on the host".into(),
        (tables::L2, _) => "no such MAC in the network (unknown unicast)".into(),
        (tables::ROUTE, _) => "no route: the destination is no container of another network \
             of this network's router"
            .into(),
        _ => "dropped".into(),
    }
}
