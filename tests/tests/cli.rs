//! The `ovs-lab` binary's error paths: clear messages and exit status 1, nothing left
//! behind when a bring-up fails. Needs root (and `setpriv` for the not-root case).
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
fn controller_wiring_is_a_clear_todo_and_cleans_up() {
    let before: Vec<_> = ovs_lab::list_runs().into_iter().map(|r| r.prefix).collect();
    let o = ovs_lab(&[
        "check",
        &path("../topologies/two-hosts.toml"),
        "--wiring",
        "controller",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("todo: controller wiring"), "{}", text(&o));
    // Its namespaces are gone: the failed run was torn down, not left stale.
    let fabric = text(&o)
        .split_whitespace()
        .find(|w| w.ends_with("-fabric"))
        .unwrap()
        .to_string();
    assert!(!std::path::Path::new("/run/netns").join(&fabric).exists());
    let prefix = fabric.trim_end_matches("-fabric");
    assert!(!before.iter().any(|p| p == prefix));
    assert!(!ovs_lab::list_runs().iter().any(|r| r.prefix == prefix));
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
