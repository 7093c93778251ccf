//! The mininet-style verbs of `ovs-lab` on a running run, from any process: choose the run
//! ([`select_run`]), name a node ([`Lab::node`]), cut or restore a host's underlay link,
//! iperf3 between two containers, and a [`Snapshot`] of the live topology (hosts with their
//! link and controller sessions, tunnels with their BFD sessions read from each host's OVSDB,
//! networks, containers
//! with addresses) that `ovs-lab net` prints and `ovs-lab graph` draws (`graph.rs`).
//!
//! Contract: a verb acts on one run only. Without `--run` it picks the only running run
//! and refuses (listing them) when there are none or several, so a node name never
//! silently resolves into another owner's run. Nothing here creates or removes a run.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ovs_api::HostStatus;

use crate::container::Container;
use crate::host::Host;
use crate::lab::{ip, Lab};
use crate::state::{list_runs, state_dir, RunState};
use crate::sys;
use crate::topology::{Ipv4Net, NetworkSpec, TunnelType};
use crate::tunnel_ports::{tunnel_ports, BfdView};
use crate::wire_controller::link_admin_up;

/// The run a verb acts on: `--run PREFIX` if given (it must be running), else the only
/// running run; an error listing the running runs otherwise.
pub fn select_run(run: Option<&str>) -> Result<RunState> {
    let running: Vec<RunState> = list_runs().into_iter().filter(|r| r.running()).collect();
    let listing = || {
        running
            .iter()
            .map(describe_run)
            .collect::<Vec<_>>()
            .join("; ")
    };
    if let Some(p) = run {
        return running
            .iter()
            .find(|r| r.prefix == p)
            .cloned()
            .ok_or_else(|| match running.is_empty() {
                true => anyhow!("--run {p}: no running lab run has that prefix (none are up)"),
                false => anyhow!(
                    "--run {p}: no running lab run has that prefix (running: {})",
                    listing()
                ),
            });
    }
    match running.len() {
        0 => bail!(
            "no running lab run (in {}); start one with `ovs-lab up FILE`",
            state_dir().display()
        ),
        1 => Ok(running[0].clone()),
        _ => bail!(
            "{} lab runs are up; choose one with --run PREFIX: {}",
            running.len(),
            listing()
        ),
    }
}

/// `PREFIX (TOPOLOGY, owner pid N[, detached])`, for run listings.
pub fn describe_run(r: &RunState) -> String {
    let owner = match (r.owner_alive(), r.owner.pid) {
        (true, pid) => format!("owner pid {pid}"),
        (false, _) => "owner gone".to_string(),
    };
    let detached = if r.detached { ", detached" } else { "" };
    format!("{} ({}, {owner}{detached})", r.prefix, r.topology)
}

/// A host or a container of a run.
#[derive(Debug, Clone, Copy)]
pub enum Node<'a> {
    /// A simulated host (its namespace, with its OVS environment).
    Host(&'a Host),
    /// A container (its namespace).
    Container(&'a Container),
}

impl Node<'_> {
    /// A command that runs `program` in the node's namespace (hosts: with `OVS_RUNDIR` and
    /// friends set, so `ovs-vsctl`, `ovs-ofctl` and `ovs-appctl` talk to that host's OVS).
    pub fn command(&self, program: &str) -> Command {
        match self {
            Node::Host(h) => h.command(program),
            Node::Container(c) => c.command(program),
        }
    }
}

/// iperf3's result between two containers.
#[derive(Debug, Clone, PartialEq)]
pub struct IperfResult {
    /// Received throughput (the receiver's sum), bits per second.
    pub bits_per_second: f64,
    /// TCP retransmits reported by the sender.
    pub retransmits: u64,
    /// Test duration in seconds.
    pub seconds: u32,
}

impl Lab {
    /// A host or container by name; the error names `NODE` and lists the run's nodes.
    pub fn node(&self, name: &str) -> Result<Node<'_>> {
        if let Some(h) = self.host(name) {
            return Ok(Node::Host(h));
        }
        if let Some(c) = self.container(name) {
            return Ok(Node::Container(c));
        }
        let hosts: Vec<&str> = self.hosts().iter().map(|h| h.name.as_str()).collect();
        let cs: Vec<&str> = self.containers().iter().map(|c| c.name.as_str()).collect();
        bail!(
            "NODE: no host or container {name:?} in run {} (hosts: {}; containers: {})",
            self.prefix(),
            hosts.join(", "),
            if cs.is_empty() {
                "none".into()
            } else {
                cs.join(", ")
            }
        )
    }

    /// The fabric-side port of `host`'s underlay link (`hN` in the fabric namespace).
    fn fabric_port(&self, host: &str) -> Result<String> {
        let h = self.host(host).ok_or_else(|| {
            let names: Vec<&str> = self.hosts().iter().map(|h| h.name.as_str()).collect();
            anyhow!(
                "HOST: no host {host:?} in run {} (hosts: {})",
                self.prefix(),
                names.join(", ")
            )
        })?;
        Ok(format!("h{}", h.index))
    }

    /// Cuts (`up == false`) or restores `host`'s underlay link: the fabric-side end of its
    /// uplink veth goes administratively down or up, like pulling the cable.
    pub fn set_link(&self, host: &str, up: bool) -> Result<()> {
        let port = self.fabric_port(host)?;
        let state = if up { "up" } else { "down" };
        ip(&["-n", self.fabric_ns(), "link", "set", &port, state])
            .with_context(|| format!("setting the underlay link of {host} {state}"))
    }

    /// Whether `host`'s underlay link is up (its fabric-side port is administratively up).
    pub fn link_up(&self, host: &str) -> Result<bool> {
        let port = self.fabric_port(host)?;
        let line = sys::run_args("ip", &["-n", self.fabric_ns(), "-o", "link", "show", &port])?;
        Ok(link_admin_up(&line))
    }

    /// Runs iperf3 (TCP, `seconds` long) from container `a` to container `b`'s overlay
    /// address: a one-off server in `b`, the client in `a`, the server stopped afterwards.
    pub fn iperf(&self, a: &str, b: &str, seconds: u32) -> Result<IperfResult> {
        if !(1..=60).contains(&seconds) {
            bail!("--time: {seconds} is out of range (1..=60 seconds)");
        }
        let ca = self.container_named(a, "A")?;
        let cb = self.container_named(b, "B")?;
        let dst = cb
            .ip
            .map(|n| n.addr)
            .ok_or_else(|| anyhow!("B: container {b} has no overlay address"))?;
        if ca.ip.is_none() {
            bail!("A: container {a} has no overlay address");
        }
        let mut server = cb
            .command("iperf3")
            .args(["-s", "-1", "-B", &dst.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the iperf3 server (is iperf3 installed? scripts/install-deps)")?;
        let r = iperf_client(ca, dst, seconds);
        if server.try_wait().ok().flatten().is_none() {
            sys::terminate(server.id(), Duration::from_secs(2));
        }
        let _ = server.wait();
        r.with_context(|| format!("iperf3 from {a} to {b} ({dst})"))
    }

    fn container_named(&self, name: &str, field: &str) -> Result<&Container> {
        self.container(name).ok_or_else(|| {
            let cs: Vec<&str> = self.containers().iter().map(|c| c.name.as_str()).collect();
            anyhow!(
                "{field}: no container {name:?} in run {} (containers: {})",
                self.prefix(),
                cs.join(", ")
            )
        })
    }

    /// The live topology: every host's link, sessions (from the controller's status when
    /// the run is controller-wired) and tunnel ports (from its OVSDB), networks, containers.
    pub fn snapshot(&self) -> Snapshot {
        let (status, controller_error) = if self.controller_wired() {
            match self.controller_status() {
                Ok(s) => (s, None),
                Err(e) => (Vec::new(), Some(format!("{e:#}"))),
            }
        } else {
            (Vec::new(), None)
        };
        let hosts = self
            .hosts()
            .iter()
            .map(|h| HostView {
                name: h.name.clone(),
                netns: h.netns.clone(),
                underlay_ip: h.underlay_ip,
                link_up: self.link_up(&h.name).ok(),
                status: status.iter().find(|s| s.name == h.name).cloned(),
            })
            .collect();
        let mut tunnels = Vec::new();
        let mut errors = Vec::new();
        for h in self.hosts() {
            match tunnel_ports(h) {
                Ok(ports) => tunnels.extend(ports.into_iter().map(|p| {
                    let peer = self
                        .hosts()
                        .iter()
                        .find(|h| Some(h.underlay_ip) == p.remote)
                        .map(|h| h.name.clone());
                    TunnelView {
                        host: h.name.clone(),
                        port: p.name,
                        kind: p.kind,
                        remote_ip: p.remote,
                        peer,
                        bfd: p.bfd,
                    }
                })),
                Err(e) => errors.push(format!("{}: {e:#}", h.name)),
            }
        }
        let containers = self
            .containers()
            .iter()
            .map(|c| ContainerView {
                name: c.name.clone(),
                host: c.host.clone(),
                network: c.network.clone(),
                ip: c.ip,
                mac: c.mac(),
            })
            .collect();
        Snapshot {
            prefix: self.prefix().to_string(),
            topology: self.topology().name.clone(),
            controller: self.controller_wired().then(|| ControllerView {
                url: self.northbound_url(),
                ip: self.controller_ip(),
                error: controller_error,
            }),
            hosts,
            tunnels,
            networks: self.topology().networks.clone(),
            containers,
            errors,
        }
    }
}

/// Runs the iperf3 client, retrying while the server is not listening yet (bounded by
/// 5 s plus the run). `iperf3 -J` exits 0 even when it could not connect, with only an
/// `error` in its JSON, so the JSON decides, not the exit status.
fn iperf_client(a: &Container, dst: Ipv4Addr, seconds: u32) -> Result<IperfResult> {
    let dst = dst.to_string();
    let secs = seconds.to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(5 + u64::from(seconds));
    loop {
        let o = a.exec(&["iperf3", "-c", &dst, "-t", &secs, "-J"])?;
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let error = iperf_error(&text);
        let not_listening = error.contains("unable to connect") || error.contains("refused");
        if !not_listening && o.status.success() {
            return parse_iperf_json(&text, seconds);
        }
        if !not_listening || std::time::Instant::now() > deadline {
            bail!("iperf3 client failed: {error}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `error` field of iperf3's JSON output, or the text itself.
fn iperf_error(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string())
}

/// Reads `end.sum_received.bits_per_second` and `end.sum_sent.retransmits` of `iperf3 -J`;
/// an `error` in the output (iperf3 exits 0 on some failures) is the error.
fn parse_iperf_json(text: &str, seconds: u32) -> Result<IperfResult> {
    let v: serde_json::Value = serde_json::from_str(text).context("iperf3 -J output")?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {e}");
    }
    let end = v.get("end").ok_or_else(|| anyhow!("iperf3 -J: no `end`"))?;
    let bits_per_second = end
        .pointer("/sum_received/bits_per_second")
        .and_then(|b| b.as_f64())
        .ok_or_else(|| anyhow!("iperf3 -J: no end.sum_received.bits_per_second"))?;
    let retransmits = end
        .pointer("/sum_sent/retransmits")
        .and_then(|r| r.as_u64())
        .unwrap_or(0);
    Ok(IperfResult {
        bits_per_second,
        retransmits,
        seconds,
    })
}

/// What `ovs-lab net` prints and `ovs-lab graph` draws.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Run prefix.
    pub prefix: String,
    /// Topology name.
    pub topology: String,
    /// The controller (controller-wired runs only).
    pub controller: Option<ControllerView>,
    /// Hosts in topology order.
    pub hosts: Vec<HostView>,
    /// Tunnel ports of every host.
    pub tunnels: Vec<TunnelView>,
    /// Overlay networks.
    pub networks: Vec<NetworkSpec>,
    /// Containers.
    pub containers: Vec<ContainerView>,
    /// Hosts whose OVSDB could not be read (`HOST: error`).
    pub errors: Vec<String>,
}

/// The controller as the verbs see it.
#[derive(Debug, Clone)]
pub struct ControllerView {
    /// Northbound URL.
    pub url: String,
    /// Underlay address.
    pub ip: Ipv4Addr,
    /// Why its status could not be read, if it could not.
    pub error: Option<String>,
}

/// One host, live.
#[derive(Debug, Clone)]
pub struct HostView {
    /// Host name.
    pub name: String,
    /// Its namespace.
    pub netns: String,
    /// Underlay address.
    pub underlay_ip: Ipv4Addr,
    /// Underlay link state (None: unknown).
    pub link_up: Option<bool>,
    /// The controller's status of this host (None: no controller or not reported).
    pub status: Option<HostStatus>,
}

/// One tunnel port.
#[derive(Debug, Clone)]
pub struct TunnelView {
    /// The host the port is on.
    pub host: String,
    /// Port name.
    pub port: String,
    /// Encapsulation.
    pub kind: TunnelType,
    /// `options:remote_ip` (None: `flow` or unset).
    pub remote_ip: Option<Ipv4Addr>,
    /// The host that owns `remote_ip`.
    pub peer: Option<String>,
    /// Its BFD session (None: no `bfd_status`).
    pub bfd: Option<BfdView>,
}

/// One container, live.
#[derive(Debug, Clone)]
pub struct ContainerView {
    /// Name.
    pub name: String,
    /// Host.
    pub host: String,
    /// Network (topology containers).
    pub network: Option<String>,
    /// Overlay address (topology containers).
    pub ip: Option<Ipv4Net>,
    /// MAC of its `eth0` (None: not plugged).
    pub mac: Option<String>,
}

/// `up`, `down` or `?`.
pub(crate) fn updown(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "up",
        Some(false) => "down",
        None => "?",
    }
}

impl HostView {
    /// `ovsdb up, openflow up, flows 12/12` from the controller's status, or why not.
    pub fn sessions(&self) -> String {
        match &self.status {
            Some(s) => {
                let mut t = format!(
                    "ovsdb {}, openflow {}, flows {}/{}",
                    updown(Some(s.ovsdb_connected)),
                    updown(Some(s.openflow_connected)),
                    s.flows_installed,
                    s.flows_desired
                );
                if s.drift > 0 {
                    let _ = write!(t, ", drift {}", s.drift);
                }
                if let Some(e) = &s.ovsdb_error {
                    let _ = write!(t, ", ovsdb error: {e}");
                }
                t
            }
            None => "sessions unknown".into(),
        }
    }
}

impl Snapshot {
    /// The `ovs-lab net` listing.
    pub fn net_text(&self) -> String {
        let mut s = format!("run {} ({})\n", self.prefix, self.topology);
        match &self.controller {
            Some(c) => {
                let _ = writeln!(s, "controller {} at {}", c.url, c.ip);
                if let Some(e) = &c.error {
                    let _ = writeln!(s, "  status unavailable: {e}");
                }
            }
            None => s.push_str("controller: none (plain wiring)\n"),
        }
        s.push_str("hosts:\n");
        for h in &self.hosts {
            let sessions = match self.controller {
                Some(_) => format!("  {}", h.sessions()),
                None => String::new(),
            };
            let _ = writeln!(
                s,
                "  {} ns {} underlay {} link {}{sessions}",
                h.name,
                h.netns,
                h.underlay_ip,
                updown(h.link_up)
            );
        }
        s.push_str("tunnels:\n");
        for t in &self.tunnels {
            let remote = t.remote_ip.map(|r| r.to_string()).unwrap_or("flow".into());
            let peer = t.peer.as_deref().unwrap_or("?");
            let bfd = t
                .bfd
                .as_ref()
                .map_or(String::new(), |b| format!(" bfd {}", b.label()));
            let _ = writeln!(
                s,
                "  {} {} {} -> {peer} ({remote}){bfd}",
                t.host, t.port, t.kind
            );
        }
        s.push_str("networks:\n");
        for n in &self.networks {
            let _ = writeln!(s, "  {} vni {} {} {}", n.name, n.vni, n.subnet, n.tunnel);
        }
        s.push_str("containers:\n");
        for c in &self.containers {
            let _ = writeln!(
                s,
                "  {} on {} network {} ip {} mac {}",
                c.name,
                c.host,
                c.network.as_deref().unwrap_or("-"),
                c.ip.map(|i| i.to_string()).unwrap_or("-".into()),
                c.mac.as_deref().unwrap_or("-")
            );
        }
        for e in &self.errors {
            let _ = writeln!(s, "error: {e}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn iperf_json_gives_the_received_rate() {
        let r = parse_iperf_json(
            r#"{"end":{"sum_sent":{"retransmits":3},"sum_received":{"bits_per_second":1.5e9}}}"#,
            5,
        )
        .unwrap();
        assert_eq!(r.bits_per_second, 1.5e9);
        assert_eq!(r.retransmits, 3);
        assert!(parse_iperf_json(r#"{"error":"x"}"#, 5).is_err());
        assert_eq!(
            iperf_error(r#"{"error":"unable to connect"}"#),
            "unable to connect"
        );
    }
}
