//! The `ovs-lab` binary's error paths: clear messages and exit status 1 (that nothing is
//! left behind after a run is checked in `lab_controller.rs` and `lab_stale.rs`). Needs
//! root (and `setpriv` for the not-root case).
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn ovs_lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(args)
        .output()
        .unwrap()
}

fn path(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn validate_ok_and_bad() {
    let o = ovs_lab(&["validate", &path("../topologies/multi-tenant.toml")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("2 hosts, 2 networks, 5 containers"),
        "{}",
        text(&o)
    );
    let o = ovs_lab(&["validate", &path("fixtures/bad-unknown-host.toml")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("bad-unknown-host.toml:13: containers[0].host"),
        "{}",
        text(&o)
    );
}

#[test]
fn missing_ovs_is_explained() {
    let o = Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["up", &path("../topologies/two-hosts.toml")])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("apt-get install openvswitch-switch"),
        "{}",
        text(&o)
    );
}

#[test]
fn not_root_is_explained() {
    if Command::new("setpriv").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("OVS_TESTS_STRICT").is_none(),
            "setpriv missing (OVS_TESTS_STRICT is set, so no skipping)"
        );
        eprintln!("setpriv missing: skipping");
        return;
    }
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["up", &path("../topologies/two-hosts.toml")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("needs root"), "{}", text(&o));
}
