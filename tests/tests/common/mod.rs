//! What the lab's integration tests share: the skip policy for a lab (through the
//! workspace's test bed: a missing peer skips the test, or fails it under
//! `OVS_TESTS_STRICT`), topologies by name, and running the `ovs-lab` binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Command, Output};

use ovs_lab::{Lab, LabOptions, Topology};
use ovs_testbed::Peer;

/// `iperf3`, for the TCP tests.
pub const IPERF3: Peer = Peer::Tool {
    program: "iperf3",
    package: "iperf3",
};

/// Fails with the build command to run when the binaries are missing.
pub fn require_binaries() {
    for r in [ovs_lab::controller_binary(), ovs_lab::docker_binary()] {
        if let Err(e) = r {
            panic!("controller-wired tests need the workspace binaries: {e:#}");
        }
    }
}

/// The shipped topology `name` (`topologies/<name>.toml`).
pub fn topo(name: &str) -> Topology {
    Topology::named(name).unwrap_or_else(|e| panic!("{e}"))
}

/// `topologies/<name>.toml` as a string (for the `ovs-lab` binary).
pub fn topo_path(name: &str) -> String {
    Topology::path_of(name).display().to_string()
}

/// Brings up the shipped topology `name` with `opts`; None (the test skips) when a peer
/// of the lab is missing.
pub fn up(name: &str, opts: &LabOptions) -> Option<Lab> {
    ovs_testbed::require!(peers: ovs_lab::PEERS => None);
    match Lab::up(&topo(name), opts) {
        Ok(l) => Some(l),
        Err(e) => panic!("bring-up of {name} failed: {e:#}"),
    }
}

/// Runs `ovs-lab ARGS` to completion.
pub fn ovs_lab_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(args)
        .output()
        .unwrap()
}

/// stdout and stderr of `o`, for assertions.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Pings every ordered pair of topology containers; asserts the matrix is what the
/// topology expects and that `reached` pairs were reached. Returns the matrix.
pub fn assert_pingall(lab: &Lab, reached: usize) -> ovs_lab::Matrix {
    let m = lab.pingall();
    m.print();
    assert!(m.all_as_expected(), "{m}");
    assert_eq!(m.reached_count(), reached, "{m}");
    m
}

/// `multi-tenant.toml`: red1's ping of red2's address (which green2 has too) is answered
/// by red2 itself; an address that exists only in green is unreachable from red and
/// reachable from green.
pub fn assert_tenants_isolated(lab: &Lab) {
    let red1 = lab.container("red1").unwrap();
    let red2 = lab.container("red2").unwrap();
    let green2 = lab.container("green2").unwrap();
    let ip = red2.ip.unwrap().addr;
    assert_eq!(
        Some(ip),
        green2.ip.map(|i| i.addr),
        "the tenants' twin address"
    );
    assert!(red1.ping(ip, 3));
    assert_eq!(red1.neighbour_mac(ip), red2.mac());
    assert_ne!(red2.mac(), green2.mac());
    assert!(!lab.ping("red1", "10.244.1.9".parse().unwrap()));
    assert!(lab.ping("green1", "10.244.1.9".parse().unwrap()));
}

/// Asserts that `o` exited with status 1 and that its output mentions `needle`; returns
/// the output.
pub fn assert_fails_with(o: &Output, needle: &str) -> String {
    let out = text(o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(needle), "{needle:?} not in:\n{out}");
    out
}

/// The first word after `prefix` on the first line of `out` that starts with it (after
/// leading blanks), e.g. the run prefix in `run ol3k9x ...`.
pub fn word_after(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
        .to_string()
}
