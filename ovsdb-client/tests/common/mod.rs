//! Real-ovsdb-server fixture for the OVSDB client tests, on the workspace's test bed
//! (`ovs-testbed`): ovsdb-server alone (no ovs-vswitchd), vswitch schema, in a fresh run
//! directory, on a unix socket and a loopback TCP port.
//!
//! Contract: the test skips (or fails under `OVS_TESTS_STRICT`) through the test bed's
//! `require!` before starting one; dropping a [`Server`] stops only its own daemon (by pid)
//! and removes its directory, or prints the server log and keeps it if the test failed.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

/// One ovsdb-server with the `Open_vSwitch` database, initialised like `ovs-ctl` does.
pub struct Server {
    /// The run directory (`conf.db`, `db.sock`, log).
    pub dir: PathBuf,
    ovs: ovs_testbed::Ovs,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(vec![])
    }

    /// Start with additional `--remote=` arguments (e.g. `unix:OUR_SOCKET`).
    pub fn start_with(extra_remotes: Vec<String>) -> Server {
        let mut b = ovs_testbed::Ovs::builder("ovsdb")
            .no_vswitchd()
            .tcp_loopback(ovs_testbed::free_port().unwrap())
            .vsctl_timeout(10);
        for r in extra_remotes {
            b = b.remote(r);
        }
        let ovs = b.start().unwrap_or_else(|e| panic!("{e}"));
        Server {
            dir: ovs.dir().to_path_buf(),
            ovs,
        }
    }

    /// Starts the server again (after [`Server::kill`]), same database, same remotes.
    pub fn launch(&self) {
        if let Err(e) = self.ovs.start_ovsdb() {
            panic!("ovsdb-server did not come up: {e}\n{}", self.log());
        }
    }

    pub fn unix_remote(&self) -> String {
        self.ovs.db()
    }
    pub fn tcp_remote(&self) -> String {
        self.ovs.tcp_remote().unwrap()
    }
    pub fn log(&self) -> String {
        self.ovs.log("ovsdb-server.log")
    }

    /// Kill the server (SIGKILL, by pid) and wait for it to exit.
    pub fn kill(&self) {
        self.ovs.kill_ovsdb();
    }

    /// ovs-vsctl (`--no-wait`) that must succeed; returns stdout.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        match self.ovs.vsctl(args) {
            Ok(out) => out,
            Err(e) => panic!("ovs-vsctl {args:?}: {e}\nserver log:\n{}", self.log()),
        }
    }

    /// [`Server::vsctl_ok`] with the white-space separated words of `cmd` as arguments.
    pub fn vsctl_words(&self, cmd: &str) -> String {
        self.vsctl_ok(&cmd.split_whitespace().collect::<Vec<_>>())
    }

    /// ovs-appctl against the server; its stdout (empty on failure).
    pub fn appctl(&self, args: &[&str]) -> String {
        self.ovs.ovsdb_appctl(args).unwrap_or_default()
    }
}
