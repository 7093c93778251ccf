//! The flow vocabulary of the plan: tables, cookies, match fields, actions
//! and [`Flow`] itself, each printed the way `ovs-ofctl dump-flows` prints it.
//!
//! Contract: every flow we own carries a cookie whose high 16 bits are
//! [`COOKIE_PREFIX`]; a flow's switch-side identity is [`Flow::key`].

use crate::state::model::MacAddr;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

/// High 16 bits of every cookie this controller owns.
pub const COOKIE_PREFIX: u64 = 0x0c7e << 48;
/// Mask selecting the prefix bits of a cookie.
pub const COOKIE_MASK: u64 = 0xffff << 48;

/// Table numbers.
pub mod tables {
    /// Classification.
    pub const CLASSIFY: u8 = 0;
    /// Port security.
    pub const PORT_SECURITY: u8 = 10;
    /// ARP responder.
    pub const ARP: u8 = 20;
    /// L2 forwarding.
    pub const L2: u8 = 30;
    /// Routing between the networks of a router (what is sent to a gateway MAC).
    pub const ROUTE: u8 = 40;
    /// Egress through the host kernel and back (only on hosts with egress endpoints,
    /// which get its priority-0 drop from `table50_egress`).
    pub const EGRESS: u8 = 50;
    /// The tables every host has (each with its priority-0 drop).
    pub const ALL: [u8; 5] = [CLASSIFY, PORT_SECURITY, ARP, L2, ROUTE];

    /// The name of table `t` (as `trace` and the READMEs call it), None if it is not ours.
    pub fn name(t: u8) -> Option<&'static str> {
        Some(match t {
            CLASSIFY => "classify",
            PORT_SECURITY => "port security",
            ARP => "ARP",
            L2 => "forward",
            ROUTE => "route",
            _ => return None,
        })
    }
}

/// Kind of flow, encoded in cookie bits 47..40.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum FlowKind {
    /// Default drops / fallthroughs.
    Default = 1,
    /// Table 0 classification.
    Classify = 2,
    /// Table 10 port security.
    PortSecurity = 3,
    /// Table 20 ARP responder.
    Arp = 4,
    /// Table 30 unicast.
    Unicast = 5,
    /// Table 30 broadcast/multicast.
    Flood = 6,
    /// Table 0 per-tunnel-port drop: what a tunnel port delivers that no
    /// classify flow accepted (counted per port).
    TunnelDrop = 7,
    /// The network's gateway: its ARP answer (table 20) and the hand-over of what is
    /// sent to its MAC to routing (table 30).
    Gateway = 8,
    /// Table 40 routes into another network of the router (cookie VNI: the source's).
    Route = 9,
    /// Egress: table 40's hand-over and fences, table 50's mappings to and from transit
    /// addresses, table 0's entry from the bridge's internal port (VNI 0).
    Egress = 10,
}

/// Cookie of a flow of `kind` for `vni` (0 when not network-specific).
pub fn cookie(kind: FlowKind, vni: u32) -> u64 {
    COOKIE_PREFIX | (u64::from(kind as u8) << 40) | u64::from(vni & 0xff_ffff)
}

/// Match fields we use, in ovs-ofctl print order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Field {
    /// eth_type=0x0800 (`ip`).
    Ip,
    /// eth_type=0x0806 (`arp`).
    Arp,
    /// NXM reg0.
    Reg0(u32),
    /// Tunnel id.
    TunId(u64),
    /// Tunnel outer IPv4 source (the sending host's tunnel address).
    TunSrc(Ipv4Addr),
    /// Ingress port.
    InPort(u32),
    /// Ingress port is the bridge's own internal port (`in_port=LOCAL`).
    InPortLocal,
    /// No 802.1Q header at all (`vlan_tci=0x0000/0x1fff`; OpenFlow 1.3: VLAN_VID =
    /// OFPVID_NONE): VLAN-tagged and priority-tagged (VID 0) frames do not match.
    Untagged,
    /// Ethernet source.
    EthSrc(MacAddr),
    /// Ethernet destination.
    EthDst(MacAddr),
    /// Group bit of the Ethernet destination set (broadcast/multicast).
    EthDstMulticast,
    /// IPv4 source.
    IpSrc(Ipv4Addr),
    /// IPv4 destination.
    IpDst(Ipv4Addr),
    /// IPv4 destination in a prefix (address, length 1..=32).
    IpDstNet(Ipv4Addr, u8),
    /// ARP sender protocol address.
    ArpSpa(Ipv4Addr),
    /// ARP target protocol address.
    ArpTpa(Ipv4Addr),
    /// ARP opcode.
    ArpOp(u16),
    /// ARP sender hardware address.
    ArpSha(MacAddr),
}

/// C's `%#x` as OVS prints it: `0` for zero, `0x..` otherwise.
fn c_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Ip => f.write_str("ip"),
            Field::Arp => f.write_str("arp"),
            Field::Reg0(v) => write!(f, "reg0={}", c_hex(u64::from(*v))),
            Field::TunId(v) => write!(f, "tun_id={}", c_hex(*v)),
            Field::TunSrc(a) => write!(f, "tun_src={a}"),
            Field::InPort(p) => write!(f, "in_port={p}"),
            Field::InPortLocal => f.write_str("in_port=LOCAL"),
            Field::Untagged => f.write_str("vlan_tci=0x0000/0x1fff"),
            Field::EthSrc(m) => write!(f, "dl_src={m}"),
            Field::EthDst(m) => write!(f, "dl_dst={m}"),
            Field::EthDstMulticast => f.write_str("dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"),
            Field::IpSrc(a) => write!(f, "nw_src={a}"),
            Field::IpDst(a) => write!(f, "nw_dst={a}"),
            Field::IpDstNet(a, l) => write!(f, "nw_dst={a}/{l}"),
            Field::ArpSpa(a) => write!(f, "arp_spa={a}"),
            Field::ArpTpa(a) => write!(f, "arp_tpa={a}"),
            Field::ArpOp(o) => write!(f, "arp_op={o}"),
            Field::ArpSha(m) => write!(f, "arp_sha={m}"),
        }
    }
}

/// Actions/instructions we use, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Act {
    /// dec_ttl (OFPAT_DEC_NW_TTL): a packet with TTL 0 or 1 is not forwarded.
    DecTtl,
    /// set_field eth_dst.
    SetEthDst(MacAddr),
    /// set_field tun_id.
    SetTunId(u64),
    /// set_field reg0.
    SetReg0(u32),
    /// move eth_src → eth_dst.
    MoveEthSrcToDst,
    /// set_field eth_src.
    SetEthSrc(MacAddr),
    /// set_field ip_src (OVS fixes the L4 checksum).
    SetIpSrc(Ipv4Addr),
    /// set_field ip_dst (OVS fixes the L4 checksum).
    SetIpDst(Ipv4Addr),
    /// set_field arp_op.
    SetArpOp(u16),
    /// move arp_sha → arp_tha.
    MoveArpShaToTha,
    /// move arp_spa → arp_tpa.
    MoveArpSpaToTpa,
    /// set_field arp_sha.
    SetArpSha(MacAddr),
    /// set_field arp_spa.
    SetArpSpa(Ipv4Addr),
    /// output to a port.
    Output(u32),
    /// output to the ingress port.
    OutputInPort,
    /// output to the bridge's own internal port (the host kernel).
    OutputLocal,
    /// goto_table instruction (must be last).
    Goto(u8),
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Act::DecTtl => f.write_str("dec_ttl"),
            Act::SetEthDst(m) => write!(f, "set_field:{m}->eth_dst"),
            Act::SetTunId(v) => write!(f, "set_field:{}->tun_id", c_hex(*v)),
            Act::SetReg0(v) => write!(f, "set_field:{}->reg0", c_hex(u64::from(*v))),
            Act::MoveEthSrcToDst => f.write_str("move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]"),
            Act::SetEthSrc(m) => write!(f, "set_field:{m}->eth_src"),
            Act::SetIpSrc(a) => write!(f, "set_field:{a}->ip_src"),
            Act::SetIpDst(a) => write!(f, "set_field:{a}->ip_dst"),
            Act::SetArpOp(o) => write!(f, "set_field:{o}->arp_op"),
            Act::MoveArpShaToTha => f.write_str("move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]"),
            Act::MoveArpSpaToTpa => f.write_str("move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]"),
            Act::SetArpSha(m) => write!(f, "set_field:{m}->arp_sha"),
            Act::SetArpSpa(a) => write!(f, "set_field:{a}->arp_spa"),
            Act::Output(p) => write!(f, "output:{p}"),
            Act::OutputInPort => f.write_str("IN_PORT"),
            Act::OutputLocal => f.write_str("LOCAL"),
            Act::Goto(t) => write!(f, "goto_table:{t}"),
        }
    }
}

/// One flow entry. Identity in the switch is (table, priority, match).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Flow {
    /// Table id.
    pub table: u8,
    /// Priority.
    pub priority: u16,
    /// Match fields, sorted.
    pub matches: Vec<Field>,
    /// Cookie (prefix [`COOKIE_PREFIX`]).
    pub cookie: u64,
    /// Actions; empty = drop.
    pub actions: Vec<Act>,
}

impl Flow {
    /// A flow with its match fields sorted.
    pub(crate) fn new(
        table: u8,
        priority: u16,
        cookie: u64,
        mut matches: Vec<Field>,
        actions: Vec<Act>,
    ) -> Flow {
        matches.sort();
        Flow {
            table,
            priority,
            matches,
            cookie,
            actions,
        }
    }
    /// The switch-side identity of this flow.
    pub fn key(&self) -> (u8, u16, &[Field]) {
        (self.table, self.priority, &self.matches)
    }
}

/// The flows one table module adds for one network: one table, one cookie.
pub(crate) struct TableFlows<'a> {
    out: &'a mut BTreeSet<Flow>,
    table: u8,
    cookie: u64,
}

impl<'a> TableFlows<'a> {
    /// Flows of `table` with `cookie`, added to `out`.
    pub(crate) fn new(out: &'a mut BTreeSet<Flow>, table: u8, cookie: u64) -> Self {
        TableFlows { out, table, cookie }
    }
    /// Add one flow of this table.
    pub(crate) fn add(&mut self, priority: u16, matches: Vec<Field>, actions: Vec<Act>) {
        let flow = Flow::new(self.table, priority, self.cookie, matches, actions);
        self.out.insert(flow);
    }
}

impl fmt::Display for Flow {
    /// ovs-ofctl style: `cookie=0x..., table=N, priority=P,match actions=...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As `ovs-ofctl --no-stats dump-flows` prints it: table 0 is implicit.
        write!(f, "cookie={:#x}, ", self.cookie)?;
        if self.table != 0 {
            write!(f, "table={}, ", self.table)?;
        }
        write!(f, "priority={}", self.priority)?;
        for m in &self.matches {
            write!(f, ",{m}")?;
        }
        f.write_str(" actions=")?;
        if self.actions.is_empty() {
            return f.write_str("drop");
        }
        for (i, a) in self.actions.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}
