//! A private Open vSwitch for one benchmark run, started through the workspace's test bed
//! (`ovs-testbed`): `ovsdb-server` and `ovs-vswitchd` (with `--enable-dummy`, so
//! `type=dummy` interfaces need no kernel device) in a run directory of their own, inside
//! a network namespace created for the run.
//!
//! Contract: everything started here is stopped by pid (checked against its command line)
//! and the namespace and directory are removed when the [`Ovs`] is dropped, also on error;
//! `OVS_BENCH_KEEP` keeps the directory (logs, database).

use anyhow::Result;
use ovs_testbed::Bridge;
use std::path::PathBuf;
use std::process::{Command, Output};

/// One OVS instance (database + switch daemon) in its own namespace.
#[derive(Debug)]
pub struct Ovs {
    /// Run directory (database, sockets, pid files, logs).
    pub dir: PathBuf,
    inner: ovs_testbed::Ovs,
}

impl Ovs {
    /// Starts ovsdb-server and ovs-vswitchd in a fresh namespace `ovsb<pid>x<n>`.
    pub fn start() -> Result<Ovs> {
        let inner = ovs_testbed::Ovs::builder("ovsb")
            .netns()
            .dummy()
            .vsctl_timeout(60)
            .keep_dir(std::env::var_os("OVS_BENCH_KEEP").is_some())
            .start()?;
        Ok(Ovs {
            dir: inner.dir().to_path_buf(),
            inner,
        })
    }

    /// `unix:DIR/db.sock`.
    pub fn db(&self) -> String {
        self.inner.db()
    }

    /// `unix:DIR/BRIDGE.mgmt`.
    pub fn mgmt(&self, bridge: &str) -> String {
        self.inner.mgmt(bridge)
    }

    /// `program` inside the namespace with OVS_RUNDIR & co. pointing at the run directory.
    pub fn command(&self, program: &str) -> Command {
        self.inner.command(program)
    }

    /// `ovs-vsctl --timeout=60 --db=.. ARGS`.
    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        Ok(self.inner.vsctl(args)?)
    }

    /// `ovs-ofctl -O OpenFlow13 ARGS`.
    pub fn ofctl(&self, args: &[&str]) -> Result<String> {
        Ok(self.inner.ofctl(args)?)
    }

    /// (Re)creates `bridge` on the userspace datapath, fail_mode=secure, OpenFlow13 only.
    pub fn fresh_bridge(&self, bridge: &str) -> Result<()> {
        Ok(self
            .inner
            .fresh_bridge(&Bridge::new(bridge).secure().openflow13())?)
    }

    /// Last lines of the daemon logs (for error reports).
    pub fn log_tail(&self) -> String {
        self.inner.log_tail(10)
    }
}

/// Runs `c`; an error (with stderr) unless it exits 0.
pub fn run(c: &mut Command) -> Result<Output> {
    Ok(ovs_testbed::process::run(c)?)
}
