//! The `ovs-lab` binary's error paths: clear messages and exit status 1 (that nothing is
//! left behind after a run is checked in `lab_controller.rs` and `lab_stale.rs`). Needs
//! root (and `setpriv` for the not-root case).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{assert_fails_with, ovs_lab_cli, text, topo_path};
use ovs_testbed::{require, Peer};

fn path(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_ok_and_bad() {
    let o = ovs_lab_cli(&["validate", &topo_path("multi-tenant")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("2 hosts, 2 networks, 5 containers"),
        "{}",
        text(&o)
    );
    let o = ovs_lab_cli(&["validate", &path("fixtures/bad-unknown-host.toml")]);
    assert_fails_with(&o, "bad-unknown-host.toml:13: containers[0].host");
}

#[test]
fn missing_ovs_is_explained() {
    // As root, the first thing found missing is OVS (not root).
    require!(Peer::Root);
    let o = Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["up", &topo_path("two-hosts")])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_fails_with(&o, "apt-get install openvswitch-switch");
}

#[test]
fn not_root_is_explained() {
    require!(Peer::Root, Peer::Setpriv);
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["up", &topo_path("two-hosts")])
        .output()
        .unwrap();
    assert_fails_with(&o, "needs root");
}
