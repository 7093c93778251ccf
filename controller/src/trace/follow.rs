//! Following a packet from host to host: trace it on the source host, and for every tunnel
//! it leaves by, trace it again on the host at the tunnel's outer destination as it arrives
//! there (in_port = that host's tunnel port towards the sender, the `tun_id` it left with,
//! tun_src/tun_dst = the two hosts' registered tunnel addresses); then the verdict.
//!
//! Contract: the hosts are reached only through a [`HostRunner`] (it runs `ovs-appctl`
//! with the arguments given, on the host given); at most [`MAX_TRACES`] traces are run,
//! and a (host, ingress) pair is traced once. Nothing here panics on what a host prints:
//! output it cannot read is a [`TraceError::Parse`] naming the host and the line.

use crate::api::{Endpoint, Host, TunnelType};
use crate::plan::bridge::tunnel_port_name;
use crate::plan::flow::tables;
use crate::trace::packet::{Ingress, Packet};
use crate::trace::parse::{parse_dpif_show, parse_trace, ParseError, Port, Step};
use crate::trace::path::{interpret, Exit};
use crate::trace::resolve::{Target, World};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// Most `ofproto/trace` runs of one trace.
pub const MAX_TRACES: usize = 8;

/// Runs `ovs-appctl ARGS` against a host's ovs-vswitchd and returns its stdout.
pub trait HostRunner {
    /// `ovs-appctl ... ARGS` on `host`; Err: why it could not be run or what it said.
    fn appctl(&mut self, host: &Host, args: &[String]) -> Result<String, String>;
}

/// A trace that could not be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceError {
    /// A host's ovs-vswitchd could not be asked.
    Host {
        /// The host.
        host: String,
        /// Why.
        message: String,
    },
    /// A host's output could not be read.
    Parse {
        /// The host.
        host: String,
        /// What was not understood.
        error: ParseError,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Host { host, message } => write!(f, "host {host}: {message}"),
            TraceError::Parse { host, error } => write!(f, "host {host}: {error}"),
        }
    }
}

impl std::error::Error for TraceError {}

/// What to trace.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// What the API listed.
    pub world: &'a World,
    /// The source endpoint.
    pub from: &'a Endpoint,
    /// Its OpenFlow port on its host.
    pub from_ofport: u32,
    /// The destination.
    pub to: Target,
    /// The first packet.
    pub packet: Packet,
    /// The OpenFlow ports of the endpoints known, by endpoint id (to name the container a
    /// local output reaches).
    pub ofports: BTreeMap<String, u32>,
    /// The integration bridge.
    pub bridge: String,
}

/// One table step, for printing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HopStep {
    /// Table number.
    pub table: u8,
    /// Our name of the table (None if it is not one of ours).
    pub name: Option<&'static str>,
    /// The flow's priority (None on a table miss).
    pub priority: Option<u16>,
    /// The flow's cookie, hex (None on a table miss).
    pub cookie: Option<String>,
    /// The flow's match.
    #[serde(rename = "match")]
    pub matches: String,
    /// Its actions, as OVS printed them.
    pub actions: Vec<String>,
}

/// How the packet left a host, with the host or container it reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leg {
    /// The exit.
    #[serde(flatten)]
    pub exit: Exit,
    /// For a tunnel: the host at its outer destination; for a local port: the container.
    pub reaches: Option<String>,
}

/// One host's trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// The host.
    pub host: String,
    /// How the packet entered.
    pub ingress: Ingress,
    /// The flow given to `ofproto/trace`.
    pub flow: String,
    /// The tables it went through.
    pub steps: Vec<HopStep>,
    /// How it left.
    pub legs: Vec<Leg>,
    /// Notes that do not change the path.
    pub warnings: Vec<String>,
}

/// The outcome, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Delivered to the destination container.
    pub delivered: bool,
    /// The sentence.
    pub text: String,
    /// The host where it ended.
    pub host: Option<String>,
    /// The dropping table, if dropped.
    pub table: Option<u8>,
}

/// A whole trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The source endpoint.
    pub from: Endpoint,
    /// The destination.
    pub to: Target,
    /// The packet as the source sends it.
    pub packet: Packet,
    /// The bridge traced on each host.
    pub bridge: String,
    /// Every host's trace, in order.
    pub hops: Vec<Hop>,
    /// The outcome.
    pub verdict: Verdict,
}

/// Runs the trace of `req` through `runner`.
pub fn follow(req: &Request<'_>, runner: &mut dyn HostRunner) -> Result<Report, TraceError> {
    let w = req.world;
    let mut queue = VecDeque::new();
    let first = Ingress::Port {
        ofport: req.from_ofport,
    };
    queue.push_back((req.from.host.clone(), first, req.packet.clone(), None));
    let mut seen = BTreeSet::new();
    let mut ports_of: BTreeMap<String, BTreeMap<u32, Port>> = BTreeMap::new();
    let mut hops = Vec::new();
    let mut truncated = false;
    while let Some((host_name, ingress, packet, tun_id)) = queue.pop_front() {
        if !seen.insert((host_name.clone(), format!("{ingress:?}"))) {
            continue;
        }
        if hops.len() >= MAX_TRACES {
            truncated = true;
            break;
        }
        let host = w.host(&host_name).ok_or_else(|| TraceError::Host {
            host: host_name.clone(),
            message: "not a registered host".into(),
        })?;
        let herr = |message: String| TraceError::Host {
            host: host_name.clone(),
            message,
        };
        if !ports_of.contains_key(&host_name) {
            let text = runner
                .appctl(host, &["dpif/show".to_string()])
                .map_err(herr)?;
            ports_of.insert(host_name.clone(), parse_dpif_show(&text, &req.bridge));
        }
        let ports = ports_of.get(&host_name).cloned().unwrap_or_default();
        let flow = packet.flow(&ingress);
        let args = [
            "ofproto/trace".to_string(),
            req.bridge.clone(),
            flow.clone(),
        ];
        let text = runner.appctl(host, &args).map_err(herr)?;
        let trace = parse_trace(&text, &req.bridge).map_err(|error| TraceError::Parse {
            host: host_name.clone(),
            error,
        })?;
        let result = interpret(&trace, &ports, packet, tun_id);
        let mut legs = Vec::new();
        for exit in result.exits {
            let reaches = match &exit {
                Exit::Tunnel {
                    port,
                    encap,
                    tun_id,
                    tun_dst,
                    packet,
                    ..
                } => {
                    let peer = tun_dst.and_then(|ip| w.host_at(ip));
                    if let Some(peer) = peer {
                        let port_there = match encap.parse::<TunnelType>() {
                            Ok(kind) => tunnel_port_name(kind, &host.name),
                            // Our tunnel ports are named PREFIX + peer: the same prefix there.
                            Err(_) => match port.strip_suffix(peer.name.as_str()) {
                                Some(prefix) => format!("{prefix}{}", host.name),
                                None => port.clone(),
                            },
                        };
                        let arrive = Ingress::Tunnel {
                            port: port_there,
                            tun_id: *tun_id,
                            tun_src: host.tunnel_ip,
                            tun_dst: peer.tunnel_ip,
                        };
                        queue.push_back((peer.name.clone(), arrive, packet.clone(), Some(*tun_id)));
                    }
                    peer.map(|p| p.name.clone())
                }
                Exit::Local { ofport, .. } => container_at(req, &host_name, *ofport),
                _ => None,
            };
            legs.push(Leg { exit, reaches });
        }
        hops.push(Hop {
            host: host_name.clone(),
            ingress,
            flow,
            steps: trace.steps.iter().map(hop_step).collect(),
            legs,
            warnings: result.warnings,
        });
    }
    let verdict = verdict(req, &hops, truncated);
    Ok(Report {
        from: req.from.clone(),
        to: req.to.clone(),
        packet: req.packet.clone(),
        bridge: req.bridge.clone(),
        hops,
        verdict,
    })
}

/// The container whose endpoint on `host` has `ofport`.
fn container_at(req: &Request<'_>, host: &str, ofport: u32) -> Option<String> {
    req.world
        .endpoints
        .iter()
        .find(|e| e.host == host && req.ofports.get(&e.id) == Some(&ofport))
        .map(|e| e.container.clone())
}

fn hop_step(s: &Step) -> HopStep {
    HopStep {
        table: s.table,
        name: tables::name(s.table),
        priority: s.priority,
        cookie: s.cookie.map(|c| format!("{c:#x}")),
        matches: s.matches.clone(),
        actions: s.actions.clone(),
    }
}

/// The table as `table 10 (port security)`.
pub fn table_label(t: u8) -> String {
    match tables::name(t) {
        Some(n) => format!("table {t} ({n})"),
        None => format!("table {t}"),
    }
}

fn verdict(req: &Request<'_>, hops: &[Hop], truncated: bool) -> Verdict {
    let dst = match &req.to {
        Target::Endpoint { endpoint } => Some(endpoint),
        Target::Address { .. } => None,
    };
    let legs = || hops.iter().flat_map(|h| h.legs.iter().map(move |l| (h, l)));
    let make = |delivered, text: String, host: Option<&str>, table| Verdict {
        delivered,
        text,
        host: host.map(str::to_string),
        table,
    };
    // Delivered to the destination container?
    if let Some(d) = dst {
        let want = req.ofports.get(&d.id);
        let hit = legs().find(|(h, l)| {
            h.host == d.host
                && matches!(l.exit, Exit::Local { ofport, .. } if Some(&ofport) == want)
        });
        if let Some((h, _)) = hit {
            let via = if d.network != req.from.network {
                format!(" (routed from {} into {})", req.from.network, d.network)
            } else {
                String::new()
            };
            let text = format!(
                "delivered to container {} on host {}{via}",
                d.container, h.host
            );
            return make(true, text, Some(&h.host), None);
        }
    }
    if let Some((h, l)) = legs().find(|(_, l)| matches!(l.exit, Exit::Drop { .. })) {
        if let Exit::Drop { table, reason } = &l.exit {
            let mut text = format!(
                "dropped on host {} in {}: {reason}",
                h.host,
                table_label(*table)
            );
            if let Some(sep) = dst.and_then(|d| req.world.separation(req.from, d)) {
                text.push_str(&format!("; {sep}"));
            }
            return make(false, text, Some(&h.host), Some(*table));
        }
    }
    if let Some((h, l)) = legs().find(|(_, l)| matches!(l.exit, Exit::Local { .. })) {
        let who = l.reaches.clone().map_or_else(
            || "a port that is no known endpoint".to_string(),
            |c| format!("container {c}"),
        );
        let text = match dst {
            Some(d) => format!(
                "not delivered to {}: output on host {} to {who}",
                d.container, h.host
            ),
            None => format!("output on host {} to {who}", h.host),
        };
        return make(false, text, Some(&h.host), None);
    }
    if let Some((h, l)) = legs().find(|(_, l)| l.reaches.is_none()) {
        if let Exit::Tunnel { port, tun_dst, .. } = &l.exit {
            let dst = tun_dst.map_or_else(|| "an unknown address".to_string(), |a| a.to_string());
            let text = format!(
                "sent on host {} into tunnel {port} to {dst}, which is no registered host",
                h.host
            );
            return make(false, text, Some(&h.host), None);
        }
        if let Exit::InPort { table } = &l.exit {
            let text = format!(
                "sent back out of its ingress port on host {} by {}",
                h.host,
                table_label(*table)
            );
            return make(false, text, Some(&h.host), Some(*table));
        }
    }
    let text = if truncated {
        format!("not finished: stopped after {MAX_TRACES} traces")
    } else {
        "not delivered: the packet left no host towards the destination".to_string()
    };
    make(false, text, None, None)
}
