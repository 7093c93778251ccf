//! A running lab: simulated hosts (one network namespace each, with their own
//! `ovsdb-server` and `ovs-vswitchd` on the userspace datapath), an underlay fabric
//! (a Linux bridge in its own namespace), a controller namespace at `.254`, and
//! containers (bare namespaces).
//!
//! Contract:
//! - [`Lab::up`] first removes stale runs ([`crate::cleanup_stale`]), records the run in a
//!   state file before creating anything, and returns only when every host's OVS answers
//!   and `br-phy` carries the underlay IP. Wiring ([`Wiring`]) is a separate step.
//! - Every name is derived from a per-run prefix, so labs run side by side.
//! - `Drop` tears everything down (also on panic: then the tail of each host's OVS logs is
//!   printed to stderr first). Processes are stopped by pid only. Set `OVS_LAB_KEEP=1` to
//!   keep the run directory (logs, databases).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use ovs_testbed::Peer;

use crate::container::Container;
use crate::host::Host;
use crate::state::{self, ProcRecord, RunState, RunView, RUN_ROOT};
use crate::sys;
use crate::topology::Topology;
use crate::wire_controller::ControllerProc;

/// The overlay bridge name used by both wiring modes.
pub const BR_EX: &str = "br-ex";
/// The underlay bridge name (holds the uplink veth and the underlay IP).
pub const BR_PHY: &str = "br-phy";
/// Environment variable: keep run directories on teardown when set (to anything but 0).
pub const KEEP_ENV: &str = "OVS_LAB_KEEP";
/// Name of the uplink veth inside each host namespace.
pub const UPLINK: &str = "uplink";

/// How containers get connected to the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// No controller: `br-ex` in NORMAL mode, per-network VLAN tags on container ports,
    /// per-peer per-network tunnels (key = VNI) with split horizon.
    Plain,
    /// The project's controller (`ovs-controller`, in the controller namespace) builds
    /// `br-ex`, the tunnels and the flows; containers are attached with
    /// `ovs-docker-rs attach` (see [`Lab::wire_controller`]).
    Controller,
}

impl std::str::FromStr for Wiring {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "plain" => Ok(Wiring::Plain),
            "controller" => Ok(Wiring::Controller),
            _ => bail!("unknown wiring {s:?} (plain | controller)"),
        }
    }
}

/// Options for [`Lab::up`].
#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    /// Wiring to apply at the end of `up` (None: leave the containers unplugged).
    pub wiring: Option<Wiring>,
    /// Print `[i/N] what` progress lines to stdout.
    pub verbose: bool,
    /// Keep the run directory on teardown (also enabled by `OVS_LAB_KEEP`).
    pub keep: bool,
    /// Do not create the topology's container namespaces during `up`.
    pub skip_containers: bool,
    /// Extra `ovs-controller` arguments (controller wiring), e.g. `--bridge-policy report`.
    pub controller_args: Vec<String>,
    /// Plaintext on every channel: hosts' ovsdb-server on `ptcp:6640`, the controller and
    /// every client with `--insecure`. Default (false): the lab's own PKI, mutual TLS.
    pub insecure: bool,
}

impl LabOptions {
    /// Hosts, containers and plain wiring.
    pub fn plain() -> Self {
        LabOptions {
            wiring: Some(Wiring::Plain),
            ..Default::default()
        }
    }

    /// Hosts, containers, wired through `ovs-controller` and `ovs-docker-rs attach`.
    pub fn controller() -> Self {
        LabOptions {
            wiring: Some(Wiring::Controller),
            ..Default::default()
        }
    }

    /// Hosts and container namespaces, nothing plugged (for controller tests).
    pub fn unwired() -> Self {
        LabOptions::default()
    }

    /// The same, in plaintext ([`LabOptions::insecure`]).
    pub fn insecure(self) -> Self {
        LabOptions {
            insecure: true,
            ..self
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn new_prefix() -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(RUN_ROOT).with_context(|| format!("creating {RUN_ROOT}"))?;
    let pid = std::process::id();
    for _ in 0..1000 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut x =
            (u64::from(pid) * 7919 + u64::from(n) * 104_729 + u64::from(nanos)) % 36u64.pow(4);
        let mut id = String::new();
        for _ in 0..4 {
            let d = (x % 36) as u32;
            id.push(char::from_digit(d, 36).unwrap_or('0'));
            x /= 36;
        }
        let prefix = format!("ol{id}");
        let dir = Path::new(RUN_ROOT).join(&prefix);
        // create_dir is atomic: it fails if another run has the prefix.
        if std::fs::create_dir(&dir).is_ok() && !RunState::path_for(&prefix).exists() {
            return Ok((prefix, dir));
        }
    }
    bail!("could not allocate a unique run prefix under {RUN_ROOT}")
}

/// What a lab needs from the machine (for the test bed's skip policy:
/// `ovs_testbed::require!(peers: ovs_lab::PEERS)`).
pub const PEERS: &[Peer] = &[
    Peer::Root,
    Peer::OvsdbServer,
    Peer::OvsVswitchd,
    Peer::Tool {
        program: "ip",
        package: "iproute2",
    },
    Peer::Tool {
        program: "ethtool",
        package: "ethtool",
    },
    Peer::Tool {
        program: "ping",
        package: "iputils-ping",
    },
];

/// Checks root and the OVS / iproute2 tools ([`PEERS`]); a clear error otherwise.
pub fn check_environment() -> Result<()> {
    match ovs_testbed::check(PEERS) {
        Ok(()) => Ok(()),
        Err(m) if m.peer == Peer::Root => {
            bail!("ovs-lab needs root (network namespaces, veths, OVS daemons): run it as root")
        }
        Err(m) => bail!("{m}"),
    }
}

/// A running lab. Dropping it tears everything down.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    topology: Topology,
    run_dir: PathBuf,
    fabric_ns: String,
    ctl_ns: String,
    hosts: Vec<Host>,
    containers: Vec<Container>,
    state: Mutex<RunState>,
    children: Mutex<Vec<Child>>,
    verbose: bool,
    controller_args: Vec<String>,
    step: AtomicU32,
    steps: u32,
    controller: Mutex<Option<ControllerProc>>,
    insecure: bool,
    /// Reattached by [`Lab::attach`]: Drop leaves the run alone.
    attached: bool,
}

impl Lab {
    /// Brings up fabric, controller namespace, hosts (with OVS and `br-phy`) and the
    /// topology's container namespaces, then applies `opts.wiring`.
    pub fn up(topology: &Topology, opts: &LabOptions) -> Result<Lab> {
        check_environment()?;
        if opts.wiring == Some(Wiring::Controller) {
            // Fail before creating anything when the binaries are missing.
            crate::controller_binary()?;
            crate::docker_binary()?;
        }
        let removed = state::cleanup_stale();
        if opts.verbose && !removed.is_empty() {
            println!("removed stale runs: {}", removed.join(", "));
        }
        let (prefix, run_dir) = new_prefix()?;
        let keep = opts.keep || std::env::var(KEEP_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        let hosts = hosts_of(topology, &prefix, &run_dir, !opts.insecure);
        let containers: Vec<Container> = if opts.skip_containers {
            Vec::new()
        } else {
            containers_of(topology, &prefix)
        };
        let fabric_ns = format!("{prefix}-fabric");
        let ctl_ns = format!("{prefix}-ctl");
        let mut netns: Vec<String> = containers.iter().map(|c| c.netns.clone()).collect();
        netns.extend(hosts.iter().map(|h| h.netns.clone()));
        netns.push(ctl_ns.clone());
        netns.push(fabric_ns.clone());
        let me = std::process::id();
        let st = RunState {
            prefix: prefix.clone(),
            topology: topology.name.clone(),
            owner: ProcRecord {
                pid: me,
                start: sys::start_time(me).unwrap_or(0),
            },
            detached: false,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            run_dir: run_dir.clone(),
            host_dirs: hosts.iter().map(|h| h.dir.clone()).collect(),
            netns,
            procs: Vec::new(),
            daemons: Vec::new(),
            keep_dir: keep,
            view: Some(RunView {
                topology: topology.clone(),
                insecure: opts.insecure,
                controller: opts.wiring == Some(Wiring::Controller),
                extra_containers: Vec::new(),
            }),
        };
        st.save()?;
        let wiring_steps = match opts.wiring {
            None => 0,
            Some(Wiring::Plain) => 1,
            // PKI (TLS), controller, registration (one join per host with TLS), switches,
            // one attach per container
            Some(Wiring::Controller) => {
                let tls = if opts.insecure { 0 } else { 1 + hosts.len() };
                3 + tls + containers.iter().filter(|c| c.ip.is_some()).count()
            }
        };
        let steps =
            2 + hosts.len() as u32 + u32::from(!containers.is_empty()) + wiring_steps as u32;
        let mut lab = Lab {
            prefix,
            topology: topology.clone(),
            run_dir,
            fabric_ns,
            ctl_ns,
            hosts,
            containers,
            state: Mutex::new(st),
            children: Mutex::new(Vec::new()),
            verbose: opts.verbose,
            controller_args: opts.controller_args.clone(),
            step: AtomicU32::new(0),
            steps,
            controller: Mutex::new(None),
            insecure: opts.insecure,
            attached: false,
        };
        // From here on, Drop cleans up whatever was created.
        lab.build()?;
        if let Some(w) = opts.wiring {
            lab.wire(w)?;
        }
        Ok(lab)
    }

    /// Reattaches to the recorded running run `st` from another process (the `ovs-lab`
    /// verbs): hosts, containers and the controller's address as `up` made them. Dropping
    /// the result leaves the run alone; do not spawn or add containers through it.
    pub fn attach(st: &RunState) -> Result<Lab> {
        let view = st.view.as_ref().ok_or_else(|| {
            anyhow!(
                "run {}: its state file predates the lab verbs (no view); bring it up again",
                st.prefix
            )
        })?;
        let t = &view.topology;
        let mut containers = containers_of(t, &st.prefix);
        for (name, host) in &view.extra_containers {
            containers.push(Container::extra(&st.prefix, name, host));
        }
        Ok(Lab {
            prefix: st.prefix.clone(),
            topology: t.clone(),
            run_dir: st.run_dir.clone(),
            fabric_ns: format!("{}-fabric", st.prefix),
            ctl_ns: format!("{}-ctl", st.prefix),
            hosts: hosts_of(t, &st.prefix, &st.run_dir, !view.insecure),
            containers,
            state: Mutex::new(st.clone()),
            children: Mutex::new(Vec::new()),
            verbose: false,
            controller_args: Vec::new(),
            step: AtomicU32::new(0),
            steps: 0,
            controller: Mutex::new(None),
            insecure: view.insecure,
            attached: true,
        })
    }

    /// Whether the run was wired through the controller (its status is on the API).
    pub fn controller_wired(&self) -> bool {
        self.lock_state()
            .view
            .as_ref()
            .is_some_and(|v| v.controller)
    }

    pub(crate) fn progress(&self, what: &str) {
        let i = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        if self.verbose {
            println!("[{i}/{}] {what}", self.steps.max(i));
        }
    }

    fn build(&mut self) -> Result<()> {
        let fab = self.fabric_ns.clone();
        self.progress(&format!("fabric namespace {fab} with bridge br0"));
        add_netns(&fab)?;
        ip(&["-n", &fab, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &fab, "link", "set", "br0", "up"])?;

        let ctl = self.ctl_ns.clone();
        let ctl_ip = self.controller_ip();
        self.progress(&format!("controller namespace {ctl} at {ctl_ip}"));
        add_netns(&ctl)?;
        ip(&[
            "-n", &ctl, "link", "add", "eth0", "type", "veth", "peer", "name", "ctl", "netns", &fab,
        ])?;
        attach_fabric_port(&fab, "ctl")?;
        ethtool_tx_off(&ctl, "eth0")?;
        ip(&[
            "-n",
            &ctl,
            "addr",
            "add",
            &format!("{ctl_ip}/{}", self.topology.underlay.prefix),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ctl, "link", "set", "eth0", "up"])?;

        for h in self.hosts.clone() {
            self.progress(&format!(
                "host {} ({}): ovsdb-server, ovs-vswitchd, br-phy {}",
                h.name, h.netns, h.underlay_ip
            ));
            let r = self.build_host(&h);
            self.record_daemons(&h)?;
            r.with_context(|| format!("bringing up host {}", h.name))?;
        }
        if !self.containers.is_empty() {
            self.progress(&format!("{} container namespaces", self.containers.len()));
            for c in &self.containers {
                add_netns(&c.netns)?;
            }
        }
        Ok(())
    }

    fn record_daemons(&self, h: &Host) -> Result<()> {
        let mut st = self.lock_state();
        for pid in [h.ovsdb_pid(), h.vswitchd_pid()].into_iter().flatten() {
            if let Some(start) = sys::start_time(pid) {
                st.daemons.push(ProcRecord { pid, start });
            }
        }
        st.save()
    }

    fn build_host(&self, h: &Host) -> Result<()> {
        std::fs::create_dir_all(&h.dir)?;
        add_netns(&h.netns)?;
        let port = format!("h{}", h.index);
        ip(&[
            "-n",
            &h.netns,
            "link",
            "add",
            UPLINK,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.fabric_ns,
        ])?;
        attach_fabric_port(&self.fabric_ns, &port)?;
        ethtool_tx_off(&h.netns, UPLINK)?;
        ip(&["-n", &h.netns, "link", "set", UPLINK, "up"])?;
        h.start_ovs()?;
        h.vsctl(&[
            "add-br",
            BR_PHY,
            "--",
            "set",
            "bridge",
            BR_PHY,
            "datapath_type=netdev",
            "fail_mode=standalone",
            "--",
            "add-port",
            BR_PHY,
            UPLINK,
        ])?;
        ip(&[
            "-n",
            &h.netns,
            "addr",
            "add",
            &format!("{}/{}", h.underlay_ip, h.underlay_prefix),
            "dev",
            BR_PHY,
        ])?;
        ip(&["-n", &h.netns, "link", "set", BR_PHY, "up"])?;
        if self.insecure {
            h.add_tcp_remote()?;
        }
        Ok(())
    }

    /// Applies a wiring mode to the topology's containers.
    pub fn wire(&self, wiring: Wiring) -> Result<()> {
        match wiring {
            Wiring::Plain => {
                self.progress("wiring: plain (br-ex NORMAL, VLAN per network, tunnel mesh)");
                self.wire_plain()
            }
            Wiring::Controller => self.wire_controller(),
        }
    }

    /// Creates an extra container namespace `name` on `host` (loopback up, no interfaces).
    pub fn add_container(&mut self, host: &str, name: &str) -> Result<Container> {
        if self.host(host).is_none() {
            bail!("unknown host {host:?}");
        }
        if self.containers.iter().any(|c| c.name == name) {
            bail!("container {name:?} exists");
        }
        let c = Container::extra(&self.prefix, name, host);
        {
            let mut st = self.lock_state();
            st.netns.insert(0, c.netns.clone());
            if let Some(v) = st.view.as_mut() {
                v.extra_containers
                    .push((name.to_string(), host.to_string()));
            }
            st.save()?;
        }
        add_netns(&c.netns)?;
        self.containers.push(c.clone());
        Ok(c)
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run prefix (all namespace names start with it).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the lab runs in plaintext ([`LabOptions::insecure`]); else mutual TLS.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// The topology this lab runs.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The run directory (`/tmp/ovs-lab/<prefix>`).
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// All hosts, in topology order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// All containers (topology ones first).
    pub fn containers(&self) -> &[Container] {
        &self.containers
    }

    /// A container by name.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// All namespaces of this run.
    pub fn netns_names(&self) -> Vec<String> {
        self.lock_state().netns.clone()
    }

    /// The fabric namespace (Linux bridge `br0`).
    pub fn fabric_ns(&self) -> &str {
        &self.fabric_ns
    }

    /// The controller namespace.
    pub fn controller_ns(&self) -> &str {
        &self.ctl_ns
    }

    /// The controller's underlay IP (`.254`).
    pub fn controller_ip(&self) -> Ipv4Addr {
        self.topology.controller_ip()
    }

    /// The extra `ovs-controller` arguments of [`LabOptions::controller_args`].
    pub fn controller_args(&self) -> &[String] {
        &self.controller_args
    }

    /// A command that runs `program` in the controller namespace.
    pub fn controller_command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ctl_ns, program]);
        c
    }

    /// Spawns `cmd` (build it with [`Lab::controller_command`] so it runs in the controller
    /// namespace); the process is recorded in the state file and killed on drop. Returns its pid.
    pub fn spawn_in_controller_ns(&self, cmd: Command) -> Result<u32> {
        self.spawn_tracked(cmd)
    }

    /// Spawns any command (e.g. `host.command(..)`), records it in the state file and
    /// kills it on drop. Returns its pid.
    pub fn spawn_tracked(&self, mut cmd: Command) -> Result<u32> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot spawn `{}`", sys::describe(&cmd)))?;
        let pid = child.id();
        let start = sys::start_time(pid).unwrap_or(0);
        {
            let mut st = self.lock_state();
            st.procs.push(ProcRecord { pid, start });
            st.save()?;
        }
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child);
        Ok(pid)
    }

    /// Stops a process started with [`Lab::spawn_tracked`] or [`Lab::spawn_in_controller_ns`]
    /// (SIGTERM, then SIGKILL after 3 s).
    pub fn stop_process(&self, pid: u32) -> Result<()> {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        let i = children
            .iter()
            .position(|c| c.id() == pid)
            .ok_or_else(|| anyhow!("pid {pid} was not spawned by this lab"))?;
        let mut child = children.remove(i);
        sys::terminate(pid, Duration::from_secs(3));
        let _ = child.wait();
        let mut st = self.lock_state();
        st.procs.retain(|p| p.pid != pid);
        st.save()
    }

    /// Marks the run as detached: it survives this process and only `ovs-lab down`
    /// removes it. Its owner becomes this process's parent (who asked for the run, e.g.
    /// the shell or script that ran `ovs-lab up`): while that lives, `ovs-lab down`
    /// without a prefix leaves the run alone. Consumes the lab without tearing it down.
    pub fn detach(self) -> Result<String> {
        let prefix = self.prefix.clone();
        {
            let mut st = self.lock_state();
            st.detached = true;
            let parent = std::os::unix::process::parent_id();
            st.owner = ProcRecord {
                pid: parent,
                start: sys::start_time(parent).unwrap_or(0),
            };
            st.save()?;
        }
        std::mem::forget(self);
        Ok(prefix)
    }

    /// Pings `to_ip` from container `from` (`-c 1 -W 1`, 3 tries).
    pub fn ping(&self, from: &str, to_ip: Ipv4Addr) -> bool {
        self.container(from).is_some_and(|c| c.ping(to_ip, 3))
    }

    /// Prints the tail of every host's OVS logs, its `ovs-vsctl show` and `br-ex` flows
    /// (and the controller log) to stderr.
    pub fn dump_logs(&self) {
        for h in &self.hosts {
            eprintln!("{}", h.log_tail(30));
            match h.vsctl(&["show"]) {
                Ok(s) => eprintln!("==== ovs-vsctl show ({}) ====\n{s}", h.name),
                Err(e) => eprintln!("==== ovs-vsctl show ({}): {e:#}", h.name),
            }
            if let Ok(ports) =
                h.vsctl(&["--columns=name,ofport", "--format=csv", "list", "Interface"])
            {
                eprintln!("==== ofports ({}) ====\n{ports}", h.name);
            }
            if let Ok(flows) = h.dump_flows(BR_EX) {
                eprintln!("==== {BR_EX} flows ({}) ====\n{}", h.name, flows.join("\n"));
            }
        }
        if self.controller_info().is_some() {
            eprintln!("{}", self.controller_log_tail(60));
        }
    }

    pub(crate) fn controller_info(&self) -> Option<ControllerProc> {
        self.controller
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_controller_info(&self, c: ControllerProc) {
        *self.controller.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.attached {
            return;
        }
        if std::thread::panicking() {
            eprintln!("ovs-lab {}: test failed, OVS logs follow", self.prefix);
            self.dump_logs();
        }
        let st = self.lock_state().clone();
        st.teardown();
        for mut c in self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(RunState::path_for(&self.prefix));
    }
}

/// The hosts of `t` in run `prefix` (namespace `PREFIX-NAME`, directory `RUN/NAME`).
fn hosts_of(t: &Topology, prefix: &str, run_dir: &Path, tls: bool) -> Vec<Host> {
    t.hosts
        .iter()
        .map(|h| {
            Host::new(
                &h.name,
                h.index,
                format!("{prefix}-{}", h.name),
                run_dir.join(&h.name),
                (h.underlay_ip, t.underlay.prefix),
                tls,
            )
        })
        .collect()
}

/// The topology containers of `t` in run `prefix` (namespace `PREFIX-c-NAME`).
fn containers_of(t: &Topology, prefix: &str) -> Vec<Container> {
    t.containers
        .iter()
        .map(|c| Container {
            network: Some(c.network.clone()),
            ip: Some(c.ip),
            ..Container::extra(prefix, &c.name, &c.host)
        })
        .collect()
}

pub(crate) fn ip(args: &[&str]) -> Result<()> {
    sys::run_args("ip", args).map(|_| ())
}

fn add_netns(name: &str) -> Result<()> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])
}

fn attach_fabric_port(fab: &str, port: &str) -> Result<()> {
    ethtool_tx_off(fab, port)?;
    ip(&["-n", fab, "link", "set", port, "master", "br0"])?;
    ip(&["-n", fab, "link", "set", port, "up"])
}

pub(crate) fn ethtool_tx_off(ns: &str, dev: &str) -> Result<()> {
    sys::run_args(
        "ip",
        &["netns", "exec", ns, "ethtool", "-K", dev, "tx", "off"],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiring_parses() {
        assert_eq!("plain".parse::<Wiring>().ok(), Some(Wiring::Plain));
        assert_eq!(
            "controller".parse::<Wiring>().ok(),
            Some(Wiring::Controller)
        );
        assert!("other".parse::<Wiring>().is_err());
    }
}
