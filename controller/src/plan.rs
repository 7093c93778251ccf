//! Per-host plan: the OVSDB rows and the OpenFlow flow set a host should have.
//!
//! Contract: [`plan_host`] is a pure function of the desired state, the
//! observed bindings/ofports and the [`PlanConfig`]; equal inputs give equal
//! (sorted) outputs, which is what hitless resync and `diff` rely on. Every
//! flow carries a cookie whose high 16 bits are [`COOKIE_PREFIX`]; flows
//! without it belong to someone else and are never touched.
//!
//! Pipeline (all proactive, priority-0 drop in every table):
//! - table 0 classify: local endpoint port → tun_id=VNI, reg0=0, goto 10;
//!   tunnel port with a served VNI → reg0=1, goto 20.
//! - table 10 port security: only the endpoint's own MAC+IP (IPv4, ARP) pass to 20.
//!   IPv6 and DHCP are not supported (dropped).
//! - table 20 ARP responder for every known endpoint of the VNI, else goto 30.
//! - table 30 L2: known MACs to their local port or tunnel; broadcast/multicast
//!   from a local port to local ports + tunnels to hosts with endpoints of the
//!   VNI, from a tunnel to local ports only; unknown unicast drops.

use crate::model::{DesiredState, Endpoint, MacAddr, TunnelType};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use uuid::Uuid;

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
    /// All tables we use.
    pub const ALL: [u8; 4] = [CLASSIFY, PORT_SECURITY, ARP, L2];
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
    /// Ingress port.
    InPort(u32),
    /// Ethernet source.
    EthSrc(MacAddr),
    /// Ethernet destination.
    EthDst(MacAddr),
    /// Group bit of the Ethernet destination set (broadcast/multicast).
    EthDstMulticast,
    /// IPv4 source.
    IpSrc(Ipv4Addr),
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
            Field::InPort(p) => write!(f, "in_port={p}"),
            Field::EthSrc(m) => write!(f, "dl_src={m}"),
            Field::EthDst(m) => write!(f, "dl_dst={m}"),
            Field::EthDstMulticast => f.write_str("dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"),
            Field::IpSrc(a) => write!(f, "nw_src={a}"),
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
    /// set_field tun_id.
    SetTunId(u64),
    /// set_field reg0.
    SetReg0(u32),
    /// move eth_src → eth_dst.
    MoveEthSrcToDst,
    /// set_field eth_src.
    SetEthSrc(MacAddr),
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
    /// goto_table instruction (must be last).
    Goto(u8),
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Act::SetTunId(v) => write!(f, "set_field:{}->tun_id", c_hex(*v)),
            Act::SetReg0(v) => write!(f, "set_field:{}->reg0", c_hex(u64::from(*v))),
            Act::MoveEthSrcToDst => f.write_str("move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]"),
            Act::SetEthSrc(m) => write!(f, "set_field:{m}->eth_src"),
            Act::SetArpOp(o) => write!(f, "set_field:{o}->arp_op"),
            Act::MoveArpShaToTha => f.write_str("move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]"),
            Act::MoveArpSpaToTpa => f.write_str("move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]"),
            Act::SetArpSha(m) => write!(f, "set_field:{m}->arp_sha"),
            Act::SetArpSpa(a) => write!(f, "set_field:{a}->arp_spa"),
            Act::Output(p) => write!(f, "output:{p}"),
            Act::OutputInPort => f.write_str("IN_PORT"),
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
    fn new(
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

/// Static knobs of planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanConfig {
    /// Integration bridge name.
    pub bridge: String,
    /// Bridge datapath_type (`netdev` in the lab, `system` with the kernel module).
    pub datapath_type: String,
    /// Controller target advertised to switches, e.g. `tcp:192.0.2.254:6653`.
    pub controller_target: String,
    /// Set options:local_ip on tunnel ports.
    pub set_local_ip: bool,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            bridge: "br-ex".into(),
            datapath_type: "netdev".into(),
            controller_target: "tcp:127.0.0.1:6653".into(),
            set_local_ip: false,
        }
    }
}

/// Where an endpoint is plugged in, as observed through OVSDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Binding {
    /// OpenFlow port number (> 0).
    pub ofport: u32,
}

/// Observed southbound state used by planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Bound endpoints per host: host → endpoint id → binding.
    pub bindings: BTreeMap<String, BTreeMap<Uuid, Binding>>,
    /// Ofports of named ports on each host's bridge: host → port name → ofport.
    pub ports: BTreeMap<String, BTreeMap<String, u32>>,
}

impl Observed {
    /// The binding of endpoint `e` on its own host.
    pub fn binding(&self, e: &Endpoint) -> Option<Binding> {
        self.bindings.get(&e.host)?.get(&e.id).copied()
    }
    fn port(&self, host: &str, name: &str) -> Option<u32> {
        self.ports.get(host)?.get(name).copied().filter(|p| *p > 0)
    }
}

/// A tunnel port the host's bridge should have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TunnelPort {
    /// Port and interface name, e.g. `vx-h2`.
    pub name: String,
    /// Encapsulation.
    pub kind: TunnelType,
    /// Peer host name.
    pub peer: String,
    /// Peer underlay address.
    pub remote_ip: Ipv4Addr,
    /// Our underlay address if options:local_ip is set.
    pub local_ip: Option<Ipv4Addr>,
}

/// The bridge row a host should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgePlan {
    /// Bridge name.
    pub name: String,
    /// datapath_type.
    pub datapath_type: String,
    /// fail_mode (always `secure`).
    pub fail_mode: String,
    /// protocols (always `OpenFlow13`).
    pub protocols: String,
    /// other_config:datapath-id, 16 hex digits.
    pub datapath_id: String,
    /// Controller target.
    pub controller: String,
    /// Controller connection_mode (always `out-of-band`).
    pub connection_mode: String,
}

/// Everything one host should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlan {
    /// Host name.
    pub host: String,
    /// Bridge settings.
    pub bridge: BridgePlan,
    /// Tunnel ports by name.
    pub tunnels: BTreeMap<String, TunnelPort>,
    /// Flow set.
    pub flows: BTreeSet<Flow>,
}

impl fmt::Display for HostPlan {
    /// Human-readable plan: bridge row, tunnel ports, then flows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.bridge;
        writeln!(
            f,
            "host {}: bridge {} datapath_type={} fail_mode={} protocols={} other_config:datapath-id={} controller={} ({})",
            self.host, b.name, b.datapath_type, b.fail_mode, b.protocols, b.datapath_id, b.controller, b.connection_mode
        )?;
        for t in self.tunnels.values() {
            writeln!(f, "  port {t}")?;
        }
        for fl in &self.flows {
            writeln!(f, "  flow {fl}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TunnelPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} type={} options:remote_ip={} options:key=flow",
            self.name, self.kind, self.remote_ip
        )?;
        if let Some(l) = self.local_ip {
            write!(f, " options:local_ip={l}")?;
        }
        Ok(())
    }
}

/// Deterministic datapath id of a host (FNV-1a 64 of the name, top bit
/// cleared so it never collides with OVS's random `0000...` style ids).
pub fn datapath_id(host: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h & 0x0000_ffff_ffff_ffff) | (0x0c7e << 48)
}

/// Name of the tunnel port towards `peer` of type `kind` (≤ 15 chars for
/// names accepted by [`crate::model::check_name`]).
pub fn tunnel_port_name(kind: TunnelType, peer: &str) -> String {
    format!("{}{}", kind.port_prefix(), peer)
}

/// Endpoints by network and by host, kept next to a [`DesiredState`] so that
/// planning one host costs the size of the networks it serves, not the size of
/// the whole state. [`Index::of`] builds it; whoever mutates the state keeps it
/// current with [`Index::insert`] / [`Index::remove`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// network → endpoint ids.
    eps: BTreeMap<String, BTreeSet<Uuid>>,
    /// network → host → number of its endpoints there.
    net_hosts: BTreeMap<String, BTreeMap<String, usize>>,
    /// host → network → number of its endpoints there.
    host_nets: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Index {
    /// Index every endpoint of `state`.
    pub fn of(state: &DesiredState) -> Index {
        let mut ix = Index::default();
        for e in state.endpoints.values() {
            ix.insert(e);
        }
        ix
    }

    /// Record a new endpoint.
    pub fn insert(&mut self, e: &Endpoint) {
        if self.eps.entry(e.network.clone()).or_default().insert(e.id) {
            *self
                .net_hosts
                .entry(e.network.clone())
                .or_default()
                .entry(e.host.clone())
                .or_default() += 1;
            *self
                .host_nets
                .entry(e.host.clone())
                .or_default()
                .entry(e.network.clone())
                .or_default() += 1;
        }
    }

    /// Forget an endpoint.
    pub fn remove(&mut self, e: &Endpoint) {
        let Some(ids) = self.eps.get_mut(&e.network) else {
            return;
        };
        if !ids.remove(&e.id) {
            return;
        }
        if ids.is_empty() {
            self.eps.remove(&e.network);
        }
        fn dec(m: &mut BTreeMap<String, BTreeMap<String, usize>>, a: &str, b: &str) {
            if let Some(inner) = m.get_mut(a) {
                if let Some(n) = inner.get_mut(b) {
                    *n -= 1;
                    if *n == 0 {
                        inner.remove(b);
                    }
                }
                if inner.is_empty() {
                    m.remove(a);
                }
            }
        }
        dec(&mut self.net_hosts, &e.network, &e.host);
        dec(&mut self.host_nets, &e.host, &e.network);
    }

    /// Endpoints of `network`, in id order.
    pub fn endpoints_in<'a>(
        &'a self,
        state: &'a DesiredState,
        network: &str,
    ) -> impl Iterator<Item = &'a Endpoint> + 'a {
        self.eps
            .get(network)
            .into_iter()
            .flatten()
            .filter_map(|id| state.endpoints.get(id))
    }

    /// Number of endpoints in `network`.
    pub fn count_in(&self, network: &str) -> usize {
        self.eps.get(network).map_or(0, BTreeSet::len)
    }

    /// Networks with at least one endpoint on `host`.
    pub fn networks_of<'a>(&'a self, host: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.host_nets
            .get(host)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// Hosts with at least one endpoint in `network`.
    pub fn hosts_in<'a>(&'a self, network: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.net_hosts
            .get(network)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// Number of endpoints on `host`.
    pub fn count_on(&self, host: &str) -> usize {
        self.host_nets.get(host).map_or(0, |m| m.values().sum())
    }
}

/// The bridge row of `host`.
pub fn plan_bridge(cfg: &PlanConfig, host: &str) -> BridgePlan {
    BridgePlan {
        name: cfg.bridge.clone(),
        datapath_type: cfg.datapath_type.clone(),
        fail_mode: "secure".into(),
        protocols: "OpenFlow13".into(),
        datapath_id: format!("{:016x}", datapath_id(host)),
        controller: cfg.controller_target.clone(),
        connection_mode: "out-of-band".into(),
    }
}

/// Tunnel ports of `host`: one per (tunnel type, peer) for every peer that
/// has endpoints in a network of that type where `host` has endpoints too.
/// Hosts that share no network get no tunnel between them, so the port count
/// grows with the network sizes, not with the number of hosts squared.
pub fn plan_tunnels(
    state: &DesiredState,
    index: &Index,
    cfg: &PlanConfig,
    host: &str,
) -> BTreeMap<String, TunnelPort> {
    let mut tunnels = BTreeMap::new();
    let Some(me) = state.hosts.get(host) else {
        return tunnels;
    };
    for name in index.networks_of(host) {
        let Some(net) = state.networks.get(name) else {
            continue;
        };
        for peer in index.hosts_in(name).filter(|p| *p != host) {
            let Some(p) = state.hosts.get(peer) else {
                continue;
            };
            let name = tunnel_port_name(net.tunnel, peer);
            tunnels.entry(name.clone()).or_insert_with(|| TunnelPort {
                name,
                kind: net.tunnel,
                peer: peer.to_string(),
                remote_ip: p.tunnel_ip,
                local_ip: cfg.set_local_ip.then_some(me.tunnel_ip),
            });
        }
    }
    tunnels
}

/// Compute the plan of `host`.
pub fn plan_host(
    state: &DesiredState,
    observed: &Observed,
    cfg: &PlanConfig,
    host: &str,
) -> Option<HostPlan> {
    plan_host_with(state, &Index::of(state), observed, cfg, host)
}

/// [`plan_host`] with a prebuilt index.
pub fn plan_host_with(
    state: &DesiredState,
    index: &Index,
    observed: &Observed,
    cfg: &PlanConfig,
    host: &str,
) -> Option<HostPlan> {
    state.hosts.get(host)?;
    Some(HostPlan {
        host: host.to_string(),
        bridge: plan_bridge(cfg, host),
        tunnels: plan_tunnels(state, index, cfg, host),
        flows: plan_flows_with(state, index, observed, host),
    })
}

/// Compute the plans of all hosts.
pub fn plan_all(
    state: &DesiredState,
    observed: &Observed,
    cfg: &PlanConfig,
) -> BTreeMap<String, HostPlan> {
    let index = Index::of(state);
    state
        .hosts
        .keys()
        .filter_map(|h| plan_host_with(state, &index, observed, cfg, h).map(|p| (h.clone(), p)))
        .collect()
}

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

/// Changes turning one flow set into another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowDiff {
    /// Flows to add (OFPFC_ADD replaces a flow with the same key).
    pub adds: Vec<Flow>,
    /// Flows to remove (delete_strict by key).
    pub deletes: Vec<Flow>,
}

impl FlowDiff {
    /// No change.
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.deletes.is_empty()
    }
}

impl fmt::Display for FlowDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.deletes {
            writeln!(f, "- {d}")?;
        }
        for a in &self.adds {
            writeln!(f, "+ {a}")?;
        }
        Ok(())
    }
}

/// Diff between an installed and a desired flow set.
pub fn diff_flows(installed: &BTreeSet<Flow>, desired: &BTreeSet<Flow>) -> FlowDiff {
    let want_keys: BTreeSet<_> = desired.iter().map(Flow::key).collect();
    FlowDiff {
        adds: desired.difference(installed).cloned().collect(),
        deletes: installed
            .iter()
            .filter(|f| !want_keys.contains(&f.key()))
            .cloned()
            .collect(),
    }
}

/// Changes of one host's plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDiff {
    /// Bridge settings changed.
    pub bridge_changed: bool,
    /// Tunnel ports to create or update.
    pub tunnels_add: Vec<TunnelPort>,
    /// Tunnel port names to remove.
    pub tunnels_del: Vec<String>,
    /// Flow changes.
    pub flows: FlowDiff,
}

impl HostDiff {
    /// No change at all.
    pub fn is_empty(&self) -> bool {
        !self.bridge_changed
            && self.tunnels_add.is_empty()
            && self.tunnels_del.is_empty()
            && self.flows.is_empty()
    }
}

impl fmt::Display for HostDiff {
    /// `~ bridge`, `+ port ...`, `- port NAME`, then the flow diff.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bridge_changed {
            writeln!(f, "~ bridge settings")?;
        }
        for t in &self.tunnels_add {
            writeln!(f, "+ port {t}")?;
        }
        for t in &self.tunnels_del {
            writeln!(f, "- port {t}")?;
        }
        write!(f, "{}", self.flows)
    }
}

/// Per-host differences between two plan sets; unchanged hosts are omitted.
/// A host missing from `new` gets all its flows and tunnels deleted.
pub fn diff_plans(
    old: &BTreeMap<String, HostPlan>,
    new: &BTreeMap<String, HostPlan>,
) -> BTreeMap<String, HostDiff> {
    let empty_flows = BTreeSet::new();
    let empty_tunnels = BTreeMap::new();
    let hosts: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = BTreeMap::new();
    for h in hosts {
        let (o, n) = (old.get(h), new.get(h));
        let of = o.map_or(&empty_flows, |p| &p.flows);
        let nf = n.map_or(&empty_flows, |p| &p.flows);
        let ot = o.map_or(&empty_tunnels, |p| &p.tunnels);
        let nt = n.map_or(&empty_tunnels, |p| &p.tunnels);
        let d = HostDiff {
            bridge_changed: o.map(|p| &p.bridge) != n.map(|p| &p.bridge),
            tunnels_add: nt
                .values()
                .filter(|t| ot.get(&t.name) != Some(t))
                .cloned()
                .collect(),
            tunnels_del: ot
                .keys()
                .filter(|k| !nt.contains_key(*k))
                .cloned()
                .collect(),
            flows: diff_flows(of, nf),
        };
        if !d.is_empty() {
            out.insert(h.clone(), d);
        }
    }
    out
}

/// Fixtures shared by unit tests of this crate.
#[cfg(test)]
pub(crate) mod tests_support {
    /// Every flow of every host of the test world.
    pub fn world_flows() -> Vec<super::Flow> {
        let (s, o) = super::tests::world();
        ["h1", "h2", "h3"]
            .iter()
            .flat_map(|h| super::plan_flows(&s, &o, h))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Host, Network};

    /// h1, h2, h3; networks blue (vxlan, VNI 100) and red (gre, VNI 200) with
    /// the SAME subnet. blue: a@h1, b@h2; red: c@h1, d@h3.
    pub(crate) fn world() -> (DesiredState, Observed) {
        let mut s = DesiredState::default();
        for (i, h) in ["h1", "h2", "h3"].iter().enumerate() {
            let ip = format!("192.0.2.{}", i + 1);
            s.hosts.insert(
                h.to_string(),
                Host::new(h, &format!("tcp:{ip}:6640"), &ip).unwrap(),
            );
        }
        s.networks.insert(
            "blue".into(),
            Network::new("blue", 100, "10.244.1.0/24", None, None, None).unwrap(),
        );
        s.networks.insert(
            "red".into(),
            Network::new("red", 200, "10.244.1.0/24", None, Some("gre"), None).unwrap(),
        );
        let mut o = Observed::default();
        for (n, (net, host, ip, mac, port)) in [
            ("blue", "h1", "10.244.1.2", "02:0c:7e:00:00:01", 5u32),
            ("blue", "h2", "10.244.1.3", "02:0c:7e:00:00:02", 5),
            ("red", "h1", "10.244.1.2", "02:0c:7e:00:00:03", 6),
            ("red", "h3", "10.244.1.3", "02:0c:7e:00:00:04", 5),
        ]
        .into_iter()
        .enumerate()
        {
            let e = Endpoint {
                id: Uuid::from_u128(n as u128 + 1),
                network: net.into(),
                host: host.into(),
                container: format!("c{n}"),
                interface: "eth0".into(),
                mac: mac.parse().unwrap(),
                ip: ip.parse().unwrap(),
                prefix_len: 24,
            };
            s.check_add_endpoint(&e).unwrap();
            o.bindings
                .entry(host.into())
                .or_default()
                .insert(e.id, Binding { ofport: port });
            s.endpoints.insert(e.id, e);
        }
        // Tunnel ports: ofport 1x = vxlan, 2x = gre, x = peer index.
        for h in ["h1", "h2", "h3"] {
            let ports = o.ports.entry(h.into()).or_default();
            for (i, p) in ["h1", "h2", "h3"].iter().enumerate() {
                if *p != h {
                    ports.insert(tunnel_port_name(TunnelType::Vxlan, p), 11 + i as u32);
                    ports.insert(tunnel_port_name(TunnelType::Gre, p), 21 + i as u32);
                }
            }
        }
        (s, o)
    }

    fn text(flows: &BTreeSet<Flow>) -> Vec<String> {
        flows.iter().map(|f| f.to_string()).collect()
    }

    /// 12 hosts, 5 networks (mixed tunnels, shared subnets), 300 endpoints: every host
    /// knows exactly the endpoints of the networks it serves, once each.
    #[test]
    fn invariants_at_scale() {
        let mut s = DesiredState::default();
        let mut o = Observed::default();
        let hosts: Vec<String> = (0..12).map(|i| format!("h{i}")).collect();
        for (i, h) in hosts.iter().enumerate() {
            let ip = format!("192.0.2.{}", i + 1);
            s.hosts.insert(
                h.clone(),
                Host::new(h, &format!("tcp:{ip}:6640"), &ip).unwrap(),
            );
        }
        let kinds = ["vxlan", "gre", "geneve"];
        for n in 0..5u32 {
            let net = Network::new(
                &format!("n{n}"),
                10 + n,
                "10.9.0.0/16",
                None,
                Some(kinds[n as usize % 3]),
                None,
            )
            .unwrap();
            s.networks.insert(net.name.clone(), net);
        }
        for i in 0..300u32 {
            // Networks only on some hosts: n{k} lives on hosts k..k+5.
            let net = i % 5;
            let host = &hosts[((net + i / 5) % 6 + net) as usize % 12];
            let e = Endpoint {
                id: Uuid::from_u128(u128::from(i) + 1),
                network: format!("n{net}"),
                host: host.clone(),
                container: format!("c{i}"),
                interface: "eth0".into(),
                mac: MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
                ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 9, 1, 0)) + i / 5 + 1),
                prefix_len: 16,
            };
            s.check_add_endpoint(&e).unwrap();
            o.bindings
                .entry(host.clone())
                .or_default()
                .insert(e.id, Binding { ofport: 100 + i });
            s.endpoints.insert(e.id, e);
        }
        for h in &hosts {
            let ports = o.ports.entry(h.clone()).or_default();
            for (j, p) in hosts.iter().enumerate() {
                for (k, t) in TunnelType::ALL.iter().enumerate() {
                    ports.insert(tunnel_port_name(*t, p), 1000 + 10 * j as u32 + k as u32);
                }
            }
        }
        let plans = plan_all(&s, &o, &PlanConfig::default());
        let mut meshed_hosts = 0;
        for h in &hosts {
            let flows = &plans[h].flows;
            let served: BTreeSet<&str> = s
                .endpoints
                .values()
                .filter(|e| &e.host == h)
                .map(|e| e.network.as_str())
                .collect();
            let expect: Vec<&Endpoint> = s
                .endpoints
                .values()
                .filter(|e| served.contains(e.network.as_str()))
                .collect();
            let unicast = flows
                .iter()
                .filter(|f| f.table == tables::L2 && f.priority == 100)
                .count();
            let arp = flows
                .iter()
                .filter(|f| f.table == tables::ARP && f.priority == 100)
                .count();
            assert_eq!(unicast, expect.len(), "{h}");
            assert_eq!(arp, expect.len(), "{h}");
            for e in &expect {
                let n = flows
                    .iter()
                    .filter(|f| f.matches.contains(&Field::EthDst(e.mac)))
                    .count();
                assert_eq!(n, 1, "{h} {}", e.mac);
            }
            // Naive reference: (type, peer) for every network shared with a peer.
            let want_tunnels: BTreeSet<String> = s
                .endpoints
                .values()
                .filter(|e| &e.host != h && served.contains(e.network.as_str()))
                .map(|e| tunnel_port_name(s.networks[&e.network].tunnel, &e.host))
                .collect();
            let got: BTreeSet<String> = plans[h].tunnels.keys().cloned().collect();
            assert_eq!(got, want_tunnels, "{h}");
            meshed_hosts += usize::from(!got.is_empty());
        }
        assert!(meshed_hosts >= 6, "{meshed_hosts}");
    }

    #[test]
    fn host_plan_rows() {
        let (s, o) = world();
        let cfg = PlanConfig::default();
        let p = plan_host(&s, &o, &cfg, "h1").unwrap();
        assert_eq!(p.bridge.fail_mode, "secure");
        assert_eq!(p.bridge.datapath_id.len(), 16);
        assert_eq!(p.bridge.datapath_id, format!("{:016x}", datapath_id("h1")));
        assert_ne!(datapath_id("h1"), datapath_id("h2"));
        // Tunnels only towards hosts sharing a network, of that network's type:
        // blue (vxlan) with h2, red (gre) with h3; h2 and h3 share nothing.
        let names: Vec<&str> = p.tunnels.keys().map(String::as_str).collect();
        assert_eq!(names, ["gre-h3", "vx-h2"]);
        assert_eq!(p.tunnels["gre-h3"].remote_ip.to_string(), "192.0.2.3");
        let p2 = plan_host(&s, &o, &cfg, "h2").unwrap();
        assert_eq!(p2.tunnels.keys().collect::<Vec<_>>(), ["vx-h1"]);
        assert!(plan_host(&s, &o, &cfg, "nope").is_none());
    }

    #[test]
    fn pipeline_for_h1() {
        let (s, o) = world();
        let f = text(&plan_flows(&s, &o, "h1"));
        let has = |needle: &str| f.iter().any(|l| l.contains(needle));
        // classify
        assert!(has("cookie=0xc7e020000000064, priority=100,in_port=5 actions=set_field:0x64->tun_id,set_field:0->reg0,goto_table:10"));
        assert!(has(
            "cookie=0xc7e0200000000c8, priority=100,in_port=6 actions=set_field:0xc8->tun_id"
        ));
        assert!(has("cookie=0xc7e020000000064, priority=100,tun_id=0x64,in_port=12 actions=set_field:0x1->reg0,goto_table:20"));
        // red uses gre to h3 (port 23), nothing of red goes to h2
        assert!(has(
            "cookie=0xc7e0200000000c8, priority=100,tun_id=0xc8,in_port=23 actions"
        ));
        assert!(!has("tun_id=0xc8,in_port=22"));
        // port security
        assert!(has("table=10, priority=100,ip,in_port=5,dl_src=02:0c:7e:00:00:01,nw_src=10.244.1.2 actions=goto_table:20"));
        assert!(has("table=10, priority=100,arp,in_port=5,dl_src=02:0c:7e:00:00:01,arp_spa=10.244.1.2,arp_sha=02:0c:7e:00:00:01 actions=goto_table:20"));
        // ARP responder for the remote endpoint b
        assert!(has("table=20, priority=100,arp,tun_id=0x64,arp_tpa=10.244.1.3,arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:0c:7e:00:00:02->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:02:0c:7e:00:00:02->arp_sha,set_field:10.244.1.3->arp_spa,IN_PORT"));
        // L2
        assert!(has(
            "table=30, priority=100,tun_id=0x64,dl_dst=02:0c:7e:00:00:01 actions=output:5"
        ));
        assert!(has(
            "table=30, priority=100,reg0=0,tun_id=0x64,dl_dst=02:0c:7e:00:00:02 actions=output:12"
        ));
        assert!(has(
            "table=30, priority=100,reg0=0,tun_id=0xc8,dl_dst=02:0c:7e:00:00:04 actions=output:23"
        ));
        assert!(has("table=30, priority=50,reg0=0,tun_id=0x64,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=output:5,output:12"));
        assert!(has("table=30, priority=50,reg0=0x1,tun_id=0x64,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=output:5"));
        // default drops in every table
        for t in tables::ALL {
            let want = if t == 0 {
                "cookie=0xc7e010000000000, priority=0 actions=drop".to_string()
            } else {
                format!("table={t}, priority=0 actions=drop")
            };
            assert!(has(&want), "{t}");
        }
        // every flow ours
        assert!(plan_flows(&s, &o, "h1")
            .iter()
            .all(|f| f.cookie & COOKIE_MASK == COOKIE_PREFIX));
    }

    #[test]
    fn no_flood_flow_for_known_macs_and_isolation() {
        let (s, o) = world();
        for h in ["h1", "h2", "h3"] {
            let flows = plan_flows(&s, &o, h);
            for f in &flows {
                // Never NORMAL/FLOOD; flooding only for group-bit destinations.
                if f.table == tables::L2 && f.actions.len() > 1 {
                    assert!(f.matches.contains(&Field::EthDstMulticast), "{f}");
                }
                // A flow never mixes two VNIs.
                let tuns: BTreeSet<u64> = f
                    .matches
                    .iter()
                    .chain(std::iter::empty())
                    .filter_map(|m| {
                        if let Field::TunId(v) = m {
                            Some(*v)
                        } else {
                            None
                        }
                    })
                    .chain(f.actions.iter().filter_map(|a| {
                        if let Act::SetTunId(v) = a {
                            Some(*v)
                        } else {
                            None
                        }
                    }))
                    .collect();
                assert!(tuns.len() <= 1, "{f}");
            }
        }
        // h2 serves only blue: no red (0xc8) flow at all.
        assert!(!text(&plan_flows(&s, &o, "h2"))
            .iter()
            .any(|l| l.contains("0xc8")));
    }

    #[test]
    fn unbound_local_endpoint_gets_no_port_flows() {
        let (s, mut o) = world();
        o.bindings
            .get_mut("h1")
            .unwrap()
            .remove(&Uuid::from_u128(1));
        let f = text(&plan_flows(&s, &o, "h1"));
        assert!(!f.iter().any(|l| l.contains("in_port=5")));
        // but remote hosts still know where it lives
        let f2 = text(&plan_flows(&s, &o, "h2"));
        assert!(f2
            .iter()
            .any(|l| l.contains("dl_dst=02:0c:7e:00:00:01 actions=output:11")));
    }

    #[test]
    fn diff_flows_adds_and_deletes() {
        let (s, o) = world();
        let a = plan_flows(&s, &o, "h1");
        assert!(diff_flows(&a, &a).is_empty());
        let empty = BTreeSet::new();
        let d = diff_flows(&empty, &a);
        assert_eq!(d.adds.len(), a.len());
        assert!(d.deletes.is_empty());
        let d = diff_flows(&a, &empty);
        assert_eq!(d.deletes.len(), a.len());
        // Changing actions of one key is an add (replace), not a delete.
        let mut b = a.clone();
        let f = b
            .iter()
            .find(|f| f.table == tables::L2 && f.priority == 100)
            .unwrap()
            .clone();
        b.remove(&f);
        let mut g = f.clone();
        g.actions = vec![Act::Output(99)];
        b.insert(g.clone());
        let d = diff_flows(&a, &b);
        assert_eq!(d.adds, vec![g]);
        assert!(d.deletes.is_empty());
        assert!(d.to_string().starts_with("+ cookie="));
    }

    #[test]
    fn only_changed_hosts_in_plan_diff() {
        let (mut s, o) = world();
        let cfg = PlanConfig::default();
        let before = plan_all(&s, &o, &cfg);
        assert!(diff_plans(&before, &before).is_empty());
        // A new red endpoint on h3 (unbound yet): h1 learns its MAC/ARP, h3 too; h2 untouched.
        let e = Endpoint {
            id: Uuid::from_u128(99),
            network: "red".into(),
            host: "h3".into(),
            container: "x".into(),
            interface: "eth0".into(),
            mac: "02:0c:7e:00:00:09".parse().unwrap(),
            ip: "10.244.1.9".parse().unwrap(),
            prefix_len: 24,
        };
        s.endpoints.insert(e.id, e);
        let after = plan_all(&s, &o, &cfg);
        let d = diff_plans(&before, &after);
        assert_eq!(
            d.keys().map(String::as_str).collect::<Vec<_>>(),
            ["h1", "h3"]
        );
        assert!(d["h1"].flows.deletes.is_empty());
        assert!(!d["h1"].flows.adds.is_empty());
        // A new host without endpoints gets a bridge and no tunnels; nobody
        // else changes.
        s.hosts.insert(
            "h4".into(),
            Host::new("h4", "tcp:192.0.2.4:6640", "192.0.2.4").unwrap(),
        );
        let joined = plan_all(&s, &o, &cfg);
        let d = diff_plans(&after, &joined);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["h4"]);
        assert!(joined["h4"].tunnels.is_empty());
        assert!(joined["h4"]
            .to_string()
            .starts_with("host h4: bridge br-ex datapath_type=netdev fail_mode=secure"));
        // Its first blue endpoint meshes it with the blue hosts h1 and h2 only.
        let e4 = Endpoint {
            id: Uuid::from_u128(98),
            network: "blue".into(),
            host: "h4".into(),
            container: "y".into(),
            interface: "eth0".into(),
            mac: "02:0c:7e:00:00:0a".parse().unwrap(),
            ip: "10.244.1.10".parse().unwrap(),
            prefix_len: 24,
        };
        s.endpoints.insert(e4.id, e4.clone());
        let meshed = plan_all(&s, &o, &cfg);
        let d = diff_plans(&joined, &meshed);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["h1", "h2", "h4"]);
        assert_eq!(d["h1"].tunnels_add.len(), 1); // vx-h4
        let text = d["h1"].to_string();
        assert!(
            text.contains("+ port vx-h4 type=vxlan options:remote_ip=192.0.2.4 options:key=flow"),
            "{text}"
        );
        assert_eq!(
            meshed["h4"].tunnels.keys().collect::<Vec<_>>(),
            ["vx-h1", "vx-h2"]
        );
        s.endpoints.remove(&e4.id);
        s.hosts.remove("h4");
        let d = diff_plans(&meshed, &plan_all(&s, &o, &cfg));
        assert_eq!(d["h1"].tunnels_del, ["vx-h4"]);
        assert!(d["h4"].flows.adds.is_empty() && !d["h4"].flows.deletes.is_empty());
    }
}
