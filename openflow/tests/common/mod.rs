//! Real-OVS fixture for the OpenFlow tests, on the workspace's test bed (`ovs-testbed`):
//! ovsdb-server + ovs-vswitchd in a fresh run directory and network namespace, with bridge
//! br0 (netdev datapath, OpenFlow13 only, fail_mode=secure).
//!
//! Contract: [`Ovs::start`] applies the test bed's skip policy (None: the test skips, or
//! fails under `OVS_TESTS_STRICT`); dropping the fixture stops only its own daemons (by
//! pid), deletes its namespace and directory, and prints the logs if the test failed.
#![allow(dead_code, clippy::unwrap_used)]

use anyhow::Result;
use ovs_testbed::{require, Bridge};
use std::path::PathBuf;

/// One OVS instance with bridge br0.
pub struct Ovs(ovs_testbed::Ovs);

impl Ovs {
    /// Starts the daemons and creates br0; None when a peer is missing (skip).
    pub fn start() -> Option<Ovs> {
        let b = ovs_testbed::Ovs::builder("of")
            .netns()
            .vsctl_timeout(10)
            .bridge(Bridge::new("br0").openflow13().secure());
        require!(peers: b.peers() => None);
        Some(Ovs(b.start().unwrap_or_else(|e| panic!("{e}"))))
    }

    /// ovs-vsctl against this instance.
    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        Ok(self.0.vsctl(args)?)
    }

    /// `unix:$D/br0.mgmt`.
    pub fn mgmt(&self) -> String {
        self.0.mgmt("br0")
    }

    /// ovs-ofctl -O OpenFlow13 CMD unix:$D/br0.mgmt ARGS...
    pub fn ofctl(&self, cmd: &str, args: &[&str]) -> Result<String> {
        let m = self.mgmt();
        let mut v = vec![cmd, m.as_str()];
        v.extend_from_slice(args);
        Ok(self.0.ofctl(&v)?)
    }

    /// Flows as ovs-ofctl prints them, without statistics, sorted.
    pub fn dump_flows(&self) -> Result<Vec<String>> {
        Ok(self.0.dump_flows("br0")?)
    }

    /// Path of the namespace handle (for setns).
    pub fn netns_path(&self) -> PathBuf {
        self.0.netns_path().unwrap()
    }
}
