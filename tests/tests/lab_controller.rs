//! Controller wiring on real OVS: topologies brought up THROUGH `ovs-controller` (in the
//! lab's controller namespace) and `ovs-docker-rs attach` (in each host's namespace).
//! The pingall matrix matches the topology (full mesh within a network, isolation between
//! tenants with overlapping subnets, replies from the target's own MAC), the bridges are
//! the controller's (fail_mode=secure, its flows, its tunnels), and teardown leaves nothing:
//! no namespaces, no controller process, no state file.
//!
//! Needs root and the binaries `ovs-controller` and `ovs-docker-rs` in the same target
//! directory as this test (`cargo build --workspace --bins`, as `scripts/test-all` does).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{
    assert_fails_with, assert_pingall, assert_tenants_isolated, ovs_lab_cli, text, topo_path,
    word_after,
};
use ovs_api::{EndpointFilter, NorthboundClient};
use ovs_lab::{Lab, LabOptions, BR_EX};

/// Fails with the build command to run when the binaries are missing.
fn require_binaries() {
    for r in [ovs_lab::controller_binary(), ovs_lab::docker_binary()] {
        if let Err(e) = r {
            panic!("controller-wired tests need the workspace binaries: {e:#}");
        }
    }
}

/// The shipped topology `name` wired through the controller; None: a peer is missing.
fn up(name: &str) -> Option<Lab> {
    ovs_testbed::require!(peers: ovs_lab::PEERS => None);
    require_binaries();
    common::up(name, &LabOptions::controller())
}

/// Everything the lab created is gone once it is dropped.
fn assert_torn_down(lab: Lab) {
    let ctl = lab.controller_process().expect("controller was started");
    let netns = lab.netns_names();
    let prefix = lab.prefix().to_string();
    let run_dir = lab.run_dir().to_path_buf();
    assert!(
        ctl.alive(),
        "controller pid {} died before teardown",
        ctl.pid
    );
    drop(lab);
    assert!(!ctl.alive(), "controller pid {} survived teardown", ctl.pid);
    for ns in netns {
        assert!(!Path::new("/run/netns").join(&ns).exists(), "{ns} left");
    }
    assert!(!run_dir.exists(), "{} left", run_dir.display());
    assert!(!ovs_lab::list_runs().iter().any(|r| r.prefix == prefix));
}

/// The controller, not the harness, built br-ex: secure fail mode, the controller as its
/// OpenFlow controller, flows installed and confirmed, every endpoint known.
fn assert_controller_owns_bridges(lab: &Lab) {
    let target = format!("tcp:{}:{}", lab.controller_ip(), ovs_lab::OPENFLOW_PORT);
    for h in lab.hosts() {
        assert_eq!(h.vsctl(&["get-fail-mode", BR_EX]).unwrap(), "secure");
        assert_eq!(h.vsctl(&["get-controller", BR_EX]).unwrap(), target);
        let flows = h.dump_flows(BR_EX).unwrap();
        assert!(flows.len() > 1, "{}: flows {flows:?}", h.name);
    }
    let status = lab.controller_status().unwrap();
    assert_eq!(status.len(), lab.hosts().len(), "{status:?}");
    for s in &status {
        assert!(s.ovsdb_connected && s.openflow_connected, "{s:?}");
        assert!(s.flows_installed > 0, "{s:?}");
    }
    let eps = lab
        .northbound(|c| async move { Ok(c.endpoint_list(EndpointFilter::default()).await?) })
        .unwrap();
    let topo_containers = &lab.topology().containers;
    assert_eq!(eps.len(), topo_containers.len(), "{eps:?}");
    for c in topo_containers {
        let ep = eps.iter().find(|e| e.container == c.name).unwrap();
        assert_eq!(ep.ip, ovs_api::Ipv4Net::from(c.ip));
        assert_eq!((&ep.host, &ep.network), (&c.host, &c.network));
        // The container's interface carries the controller's MAC.
        let mac = lab.container(&c.name).unwrap().mac();
        assert_eq!(mac, Some(ep.mac.to_string()), "{}", c.name);
    }
}

/// Brings up the shipped topology `name` through the controller, runs `check` on it,
/// then asserts the controller owns the bridges and teardown is clean.
fn through_controller(name: &str, check: impl FnOnce(&Lab)) {
    let Some(lab) = up(name) else {
        return;
    };
    check(&lab);
    assert_controller_owns_bridges(&lab);
    assert_torn_down(lab);
}

#[test]
fn two_hosts_through_controller_full_matrix_and_clean_teardown() {
    through_controller("two-hosts", |lab| {
        let m = assert_pingall(lab, 12);
        assert_eq!(m.names.len(), 4);
    });
}

#[test]
fn multi_tenant_through_controller_isolation() {
    through_controller("multi-tenant", |lab| {
        // red: 2 ordered pairs; green: 3 containers -> 6 ordered pairs; the other 12 isolated.
        assert_pingall(lab, 8);
        assert_tenants_isolated(lab);
    });
}

#[test]
fn three_hosts_vxlan_and_gre_through_controller() {
    through_controller("three-hosts-mixed", |lab| {
        // web: 3 containers -> 6 pairs; db: 2 -> 2 pairs.
        assert_pingall(lab, 8);
        // The controller built tunnels of both types on the host that has both networks.
        let h1 = lab.host("h1").unwrap();
        let types = h1
            .vsctl(&["--columns=type", "--bare", "list", "Interface"])
            .unwrap();
        assert!(types.contains("vxlan"), "{types}");
        assert!(types.contains("gre"), "{types}");
    });
}

/// `ovs-lab up` (controller wiring is the default) leaves the run and its controller
/// running after it exits; `ovs-lab down` removes both.
#[test]
fn cli_up_detached_then_down_stops_the_controller() {
    ovs_testbed::require!(peers: ovs_lab::PEERS);
    require_binaries();
    let file = topo_path("two-hosts");
    let o = ovs_lab_cli(&["up", &file]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    let prefix = word_after(&out, "run ");
    let pid: u32 = word_after(&out, "ovs-controller pid ").parse().unwrap();
    let run = ovs_lab::list_runs()
        .into_iter()
        .find(|r| r.prefix == prefix)
        .unwrap();
    let ctl = *run.procs.iter().find(|p| p.pid == pid).unwrap();
    assert!(ctl.alive(), "controller not running after up:\n{out}");
    let o = ovs_lab_cli(&["down", &prefix]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!ctl.alive(), "controller {pid} survived `ovs-lab down`");
    for ns in &run.netns {
        assert!(!Path::new("/run/netns").join(ns).exists(), "{ns} left");
    }
}

/// Runs `ovs-lab check two-hosts` with `env` set; returns the output after checking that it
/// failed (exit 1) after bringing the lab up and left no namespaces of its run behind.
fn check_fails_cleanly(env: &[(&str, &str)]) -> String {
    let file = topo_path("two-hosts");
    let o = Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["check", &file])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let out = assert_fails_with(&o, "-fabric");
    let fabric = out
        .split_whitespace()
        .find(|w| w.ends_with("-fabric"))
        .unwrap()
        .to_string();
    let prefix = fabric.trim_end_matches("-fabric");
    assert!(!Path::new("/run/netns").join(&fabric).exists(), "{out}");
    assert!(!ovs_lab::list_runs().iter().any(|r| r.prefix == prefix));
    out
}

#[test]
fn missing_or_failing_binaries_are_clear_errors() {
    ovs_testbed::require!(peers: ovs_lab::PEERS);
    require_binaries();
    // A binary that does not exist: the error names the variable and the build command,
    // before anything is created.
    let file = topo_path("two-hosts");
    let o = Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["check", &file])
        .env("OVS_CONTROLLER_BIN", "/nonexistent/ovs-controller")
        .output()
        .unwrap();
    let out = assert_fails_with(&o, "OVS_CONTROLLER_BIN");
    assert!(out.contains("cargo build -p ovs-controller"), "{out}");
    assert!(!out.contains("-fabric"), "{out}");

    // A controller that exits at once: reported as such, with its log.
    let dir = std::env::temp_dir().join(format!("ovs-lab-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ctl = dir.join("fake-controller");
    std::fs::write(
        &ctl,
        "#!/bin/sh\necho 'fake controller: refusing to start' >&2\nexit 2\n",
    )
    .unwrap();
    // An attach that fails: its exit status and its error output are shown.
    let cli = dir.join("fake-docker");
    std::fs::write(
        &cli,
        "#!/bin/sh\n[ \"$1\" = attach ] && [ \"$2\" = --help ] && exit 0\n\
         echo \"fake attach: no luck for $*\" >&2\nexit 7\n",
    )
    .unwrap();
    for f in [&ctl, &cli] {
        Command::new("chmod").arg("+x").arg(f).status().unwrap();
    }
    let out = check_fails_cleanly(&[("OVS_CONTROLLER_BIN", ctl.to_str().unwrap())]);
    assert!(out.contains("exited during startup"), "{out}");
    assert!(out.contains("fake controller: refusing to start"), "{out}");

    let out = check_fails_cleanly(&[("OVS_DOCKER_RS_BIN", cli.to_str().unwrap())]);
    assert!(out.contains("exit status: 7"), "{out}");
    assert!(out.contains("fake attach: no luck for"), "{out}");
    assert!(out.contains("--network blue"), "{out}");
    // The real controller ran and its log tail is part of the error.
    assert!(out.contains("ovs-controller started"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
