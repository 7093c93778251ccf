//! A simulated host of the lab: a network namespace whose `ovsdb-server` and
//! `ovs-vswitchd` are started through the workspace's test bed (`ovs-testbed`), plus the
//! host-level helpers the tests and the lab use (`ovs-vsctl`, `ovs-ofctl`, `ovs-appctl`,
//! flow dumps, daemon restart).
//!
//! Contract: a [`Host`] is a description plus handles; it owns nothing and stops nothing
//! when dropped. The lab tears the daemons down through its state file (by the pid files in
//! the host's run directory, checked against their command line), also from another
//! process (`ovs-lab down`, stale-run cleanup).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use ovs_testbed::{Instance, Ovs};

use crate::lab::BR_EX;

/// A simulated host: a namespace with its own OVS.
#[derive(Debug, Clone)]
pub struct Host {
    /// Host name from the topology.
    pub name: String,
    /// 1-based index.
    pub index: u32,
    /// Network namespace name.
    pub netns: String,
    /// Run directory: database, sockets, pid files, logs.
    pub dir: PathBuf,
    /// Underlay IP (on `br-phy`).
    pub underlay_ip: Ipv4Addr,
    /// Underlay prefix length.
    pub underlay_prefix: u8,
    tls: bool,
    ovs: Instance,
}

impl Host {
    /// The host `name` with run directory `dir`, to run in the namespace `netns` (which
    /// the lab creates).
    pub(crate) fn new(
        name: &str,
        index: u32,
        netns: String,
        dir: PathBuf,
        underlay: (Ipv4Addr, u8),
        tls: bool,
    ) -> Host {
        let ovs = Self::builder(&netns, &dir, tls).instance();
        Host {
            name: name.to_string(),
            index,
            netns,
            dir,
            underlay_ip: underlay.0,
            underlay_prefix: underlay.1,
            tls,
            ovs,
        }
    }

    /// With `tls`, ovsdb-server takes its remotes and TLS files from the database (as
    /// Debian's ovs-ctl starts it), which `ovs-docker-rs join` configures.
    fn builder(netns: &str, dir: &std::path::Path, tls: bool) -> ovs_testbed::Builder {
        let b = Ovs::builder("h").dir(dir).in_netns(netns).vsctl_timeout(20);
        if tls {
            b.ssl_from_db()
        } else {
            b
        }
    }

    /// Starts ovsdb-server and ovs-vswitchd (in the existing namespace); teardown stays
    /// with the lab's state file.
    pub(crate) fn start_ovs(&self) -> Result<()> {
        Self::builder(&self.netns, &self.dir, self.tls)
            .start()
            .with_context(|| format!("starting OVS on host {}", self.name))?
            .into_unmanaged();
        Ok(())
    }

    /// The test bed's handle of this host's OVS.
    pub fn ovs(&self) -> &Instance {
        &self.ovs
    }

    /// `unix:DIR/db.sock`.
    pub fn db_sock(&self) -> String {
        self.ovs.db()
    }

    /// `tcp:IP:6640` (reachable from the controller namespace when the lab is insecure;
    /// with TLS the host listens on `ssl:IP:6640` only, see [`crate::Lab::ovsdb_remote`]).
    pub fn ovsdb_tcp(&self) -> String {
        format!("tcp:{}:6640", self.underlay_ip)
    }

    /// `unix:DIR/<bridge>.mgmt`: the bridge's OpenFlow management socket.
    pub fn mgmt(&self, bridge: &str) -> String {
        self.ovs.mgmt(bridge)
    }

    /// `DIR/ovs-vswitchd.ctl`.
    pub fn vswitchd_ctl(&self) -> PathBuf {
        self.ovs.vswitchd_ctl()
    }

    /// `DIR/ovsdb-server.ctl`.
    pub fn ovsdb_ctl(&self) -> PathBuf {
        self.ovs.ovsdb_ctl()
    }

    /// Environment for OVS tools of this host (OVS_RUNDIR, OVS_LOGDIR, OVS_DBDIR, OVS_SYSCONFDIR).
    pub fn env(&self) -> Vec<(String, String)> {
        self.ovs.env()
    }

    /// A command that runs `program` inside this host's namespace with [`Host::env`].
    pub fn command(&self, program: &str) -> Command {
        self.ovs.command(program)
    }

    /// Runs `args[0] args[1..]` in the host namespace; returns the output whatever the exit status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        if args.is_empty() {
            return Err(anyhow!("empty command"));
        }
        Ok(self.ovs.exec(args)?)
    }

    fn on_host<T>(&self, r: Result<T, ovs_testbed::Error>) -> Result<T> {
        r.with_context(|| format!("on host {}", self.name))
    }

    /// `ovs-vsctl --timeout=20 --db=unix:.. ARGS`; stdout or an error with stderr.
    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        self.on_host(self.ovs.vsctl(args))
    }

    /// `ovs-ofctl -O OpenFlow13 ARGS` (pass the target, e.g. `host.mgmt("br-ex")`, yourself).
    pub fn ofctl(&self, args: &[&str]) -> Result<String> {
        self.on_host(self.ovs.ofctl(args))
    }

    /// `ovs-appctl -t DIR/ovs-vswitchd.ctl ARGS`.
    pub fn appctl(&self, args: &[&str]) -> Result<String> {
        self.on_host(self.ovs.appctl(args))
    }

    /// Adds `ptcp:6640:<underlay ip>` to the running ovsdb-server (once the IP is up).
    pub(crate) fn add_tcp_remote(&self) -> Result<()> {
        let remote = format!("ptcp:6640:{}", self.underlay_ip);
        let r = self.ovs.ovsdb_appctl(&["ovsdb-server/add-remote", &remote]);
        self.on_host(r).map(|_| ())
    }

    /// The flows of `bridge`, normalized: no durations, counters or ages; sorted.
    pub fn dump_flows(&self, bridge: &str) -> Result<Vec<String>> {
        self.on_host(self.ovs.dump_flows(bridge))
    }

    /// The pid of the running ovs-vswitchd (from its pid file).
    pub fn vswitchd_pid(&self) -> Option<u32> {
        self.ovs.vswitchd_pid()
    }

    /// The pid of the running ovsdb-server (from its pid file).
    pub fn ovsdb_pid(&self) -> Option<u32> {
        self.ovs.ovsdb_pid()
    }

    /// Starts ovs-vswitchd (returns once it answers).
    pub fn start_vswitchd(&self) -> Result<()> {
        self.ovs
            .start_vswitchd()
            .with_context(|| format!("ovs-vswitchd of {} does not answer", self.name))
    }

    /// Stops ovs-vswitchd by its pid (SIGTERM, then SIGKILL after 3 s).
    pub fn stop_vswitchd(&self) -> Result<()> {
        self.on_host(self.ovs.stop_vswitchd())
    }

    /// Stops ovs-vswitchd (by pid) and starts it again; waits until it answers.
    /// OpenFlow state (flows, port config) is lost; OVSDB config is kept.
    pub fn restart_vswitchd(&self) -> Result<()> {
        self.stop_vswitchd()?;
        self.start_vswitchd()
    }

    /// The last `n` lines of each OVS log of this host.
    pub fn log_tail(&self, n: usize) -> String {
        format!("(host {})\n{}", self.name, self.ovs.log_tail(n))
    }

    /// The OpenFlow port number of `port` (polls until OVS assigned one).
    pub fn ofport(&self, port: &str) -> Result<u32> {
        let mut found = 0;
        crate::wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            let v = self.vsctl(&["get", "Interface", port, "ofport"])?;
            found = v.trim().parse::<i64>().unwrap_or(-1).max(0) as u32;
            Ok(found > 0)
        })
        .with_context(|| format!("{}: port {port} has no ofport", self.name))?;
        Ok(found)
    }

    /// `ovs-ofctl -O OpenFlow10 mod-port br-ex PORT no-flood` (once the port has an ofport).
    pub(crate) fn ofctl_v10_no_flood(&self, port: &str) -> Result<()> {
        self.ofport(port)?;
        let r = self.ovs.run(
            "ovs-ofctl",
            &[
                "-O",
                "OpenFlow10",
                "mod-port",
                &self.mgmt(BR_EX),
                port,
                "no-flood",
            ],
        );
        self.on_host(r).map(|_| ())
    }
}
