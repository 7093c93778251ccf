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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{
    assert_fails_with, assert_pingall, assert_tenants_isolated, ovs_lab_cli, text, topo_path,
    word_after,
};
use ovs_api::{EndpointFilter, NorthboundClient};
use ovs_lab::{Lab, LabOptions, BR_EX};

/// The shipped topology `name` wired through the controller; None: a peer is missing.
fn up(name: &str) -> Option<Lab> {
    ovs_testbed::require!(peers: ovs_lab::PEERS => None);
    common::require_binaries();
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
/// OpenFlow controller (`ssl:`, or `tcp:` when the lab is insecure), flows installed and
/// confirmed, every endpoint known.
fn assert_controller_owns_bridges(lab: &Lab) {
    let scheme = if lab.insecure() { "tcp" } else { "ssl" };
    let target = format!(
        "{scheme}:{}:{}",
        lab.controller_ip(),
        ovs_lab::OPENFLOW_PORT
    );
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
    common::require_binaries();
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
    common::require_binaries();
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
    // (`pki` commands go to the real binary: the lab makes its PKI before starting it.)
    let real = ovs_lab::controller_binary().unwrap();
    std::fs::write(
        &ctl,
        format!(
            "#!/bin/sh\n[ \"$1\" = pki ] && exec '{}' \"$@\"\n\
             echo 'fake controller: refusing to start' >&2\nexit 2\n",
            real.display()
        ),
    )
    .unwrap();
    // An attach that fails: its exit status and its error output are shown. (`join`, which
    // the lab runs first on every host, goes to the real binary.)
    let real_docker = ovs_lab::docker_binary().unwrap();
    let cli = dir.join("fake-docker");
    std::fs::write(
        &cli,
        format!(
            "#!/bin/sh\n[ \"$1\" = attach ] && [ \"$2\" = --help ] && exit 0\n\
             [ \"$3\" = join ] && exec '{}' \"$@\"\n\
             echo \"fake attach: no luck for $*\" >&2\nexit 7\n",
            real_docker.display()
        ),
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

/// What a plaintext peer gets back from `addr` after sending `hello`: the first bytes of
/// the answer (empty when the connection was closed or reset, or nothing came within 5 s).
fn plaintext_answer(lab: &Lab, addr: SocketAddr, hello: &'static [u8]) -> Vec<u8> {
    ovs_lab::in_netns(lab.controller_ns(), move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(hello)?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        Ok(buf[..n].to_vec())
    })
    .unwrap()
}

/// Every channel of a TLS lab is TLS: each switch's controller target is `ssl:` and its
/// ovsdb-server's only TCP remote is `pssl:` with the host's joined certificate in the SSL
/// row; the controller reports both sessions of every host up (it dials and accepts TLS
/// only); and plaintext peers get no protocol answer from the controller's OpenFlow and
/// northbound ports or from a host's OVSDB port.
fn assert_every_channel_is_tls(lab: &Lab) {
    assert!(!lab.insecure());
    let ctl = lab.controller_ip();
    for h in lab.hosts() {
        let c = h.vsctl(&["get-controller", BR_EX]).unwrap();
        assert_eq!(
            c,
            format!("ssl:{ctl}:{}", ovs_lab::OPENFLOW_PORT),
            "{}",
            h.name
        );
        let m = h.vsctl(&["get-manager"]).unwrap();
        assert_eq!(
            m,
            format!("pssl:{}:{}", ovs_lab::OVSDB_TLS_PORT, h.underlay_ip)
        );
        let ssl = h.vsctl(&["get-ssl"]).unwrap();
        let files = lab.host_files(h);
        assert!(ssl.contains(&files.cert.display().to_string()), "{ssl}");
        let show = h.vsctl(&["show"]).unwrap();
        ovs_lab::require_ssl_targets(&show).unwrap();
        // vswitchd writes the Controller row's status in its periodic status update (with
        // the tunnels' bfd_status since BFD), so give it a few rounds.
        let mut show = show;
        for _ in 0..100 {
            if show.contains("is_connected: true") {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            show = h.vsctl(&["show"]).unwrap();
        }
        assert!(show.contains("is_connected: true"), "{}: {show}", h.name);
        // A plaintext OVSDB client gets no JSON-RPC answer from the host.
        let addr = SocketAddr::from((h.underlay_ip, ovs_lab::OVSDB_TLS_PORT));
        let got = plaintext_answer(lab, addr, br#"{"id":0,"method":"list_dbs","params":[]}"#);
        assert!(
            !String::from_utf8_lossy(&got).contains("Open_vSwitch"),
            "{got:?}"
        );
    }
    for s in lab.controller_status().unwrap() {
        assert!(s.ovsdb_connected && s.openflow_connected, "{s:?}");
    }
    // OpenFlow 1.3 HELLO in plaintext: no HELLO comes back.
    let hello = &[4u8, 0, 0, 8, 0, 0, 0, 1];
    let of = plaintext_answer(lab, SocketAddr::from((ctl, ovs_lab::OPENFLOW_PORT)), hello);
    assert!(
        !of.starts_with(&[4, 0]),
        "plaintext OpenFlow answered: {of:?}"
    );
    // A plaintext JSON-RPC call: no HTTP answer.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"status","params":[]}"#;
    let req: &'static [u8] = Box::leak(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let nb = plaintext_answer(lab, SocketAddr::from((ctl, ovs_lab::NORTHBOUND_PORT)), req);
    assert!(
        !nb.starts_with(b"HTTP/"),
        "plaintext northbound answered: {nb:?}"
    );
}

/// Every shipped topology, wired through the controller over TLS (the lab's default):
/// the pingall matrix is the topology's expectation, every channel is TLS, plaintext
/// peers are refused, the controller owns the bridges, teardown is clean.
#[test]
fn every_topology_passes_over_tls() {
    let mut names: Vec<String> = std::fs::read_dir(ovs_lab::TOPOLOGY_DIR)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 9, "{names:?}");
    for name in names {
        eprintln!("== {name} over TLS");
        through_controller(&name, |lab| {
            let m = lab.pingall();
            m.print();
            assert!(m.all_as_expected(), "{name}:\n{m}");
            assert_every_channel_is_tls(lab);
        });
    }
}

/// Plaintext only when asked for on both ends: `ovs-lab check --insecure` runs the
/// controller and every client with `--insecure` and says so.
#[test]
fn cli_check_insecure_is_plaintext_on_both_ends() {
    ovs_testbed::require!(peers: ovs_lab::PEERS);
    common::require_binaries();
    let o = ovs_lab_cli(&["check", "--insecure", &topo_path("two-hosts")]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("PLAINTEXT (--insecure)"), "{out}");
    assert!(out.contains("all 12 pairs as expected"), "{out}");
}
