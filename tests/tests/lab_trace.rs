//! `ovs-controller trace` (and `ovs-lab trace`) against a real lab of
//! `topologies/routed.toml` wired through the controller over mutual TLS: the forwarding
//! path of a good packet across two hosts (source chain, tunnel, destination chain,
//! container port) and of a routed one into the other network on a third host; the
//! dropping table of a cross-tenant packet (route, and L2 on a shared subnet) and of a
//! spoofed source (port security); each verdict checked against a real ping; error cases
//! (unknown container, a host's control socket missing, no way to reach the hosts).
//!
//! Needs root, OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use ovs_lab::{Lab, LabOptions};
use serde_json::Value;

/// `ovs-lab`'s trace command (`--target` of the run's sockets) with `extra` flags.
fn trace(lab: &Lab, from: &str, to: &str, extra: &[&str]) -> Output {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    lab.trace_command(from, to, &extra)
        .unwrap()
        .output()
        .unwrap()
}

/// The JSON report of a trace, asserting its exit code.
fn report(lab: &Lab, from: &str, to: &str, extra: &[&str], code: i32) -> Value {
    let mut a = extra.to_vec();
    a.extend(["-o", "json"]);
    let o = trace(lab, from, to, &a);
    assert_eq!(o.status.code(), Some(code), "{}", common::text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `ovs-controller ARGS` against the lab, without the lab's `--target`.
fn ctl(lab: &Lab, args: &[&str]) -> Output {
    let bin = ovs_lab::controller_binary().unwrap();
    let mut cmd: Command = lab.controller_command(&bin.to_string_lossy());
    cmd.args(args)
        .arg("--controller")
        .arg(lab.northbound_url())
        .args(lab.admin_auth_args());
    cmd.output().unwrap()
}

/// The table numbers of hop `i`.
fn tables(r: &Value, i: usize) -> Vec<u64> {
    r["hops"][i]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["table"].as_u64().unwrap())
        .collect()
}

fn ip_of(lab: &Lab, c: &str) -> std::net::Ipv4Addr {
    lab.container(c).unwrap().ip.unwrap().addr
}

#[test]
fn trace_follows_good_packets_and_names_the_dropping_table() {
    common::require_binaries();
    let Some(lab) = common::up("routed", &LabOptions::controller()) else {
        return;
    };
    let h2_ip = lab.host("h2").unwrap().underlay_ip.to_string();
    let h3_ip = lab.host("h3").unwrap().underlay_ip.to_string();

    // A good packet across two hosts: b1 (h1) -> b2 (h2), both blue (VXLAN).
    let o = trace(&lab, "b1", "b2", &[]);
    let text = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    for want in [
        "host h1 (from port ",
        "  0      classify ",
        "  10     port security ",
        "  30     forward ",
        &format!("-> tunnel vx-h2 to {h2_ip} (h2), tun_id 0x7d1"),
        "host h2 (from tunnel vx-h1, tun_id 0x7d1",
        ": container b2\n",
    ] {
        assert!(text.contains(want), "want {want:?} in\n{text}");
    }
    assert!(
        text.ends_with("verdict: delivered to container b2 on host h2\n"),
        "{text}"
    );
    let r = report(&lab, "b1", "b2", &["--tcp", "80"], 0);
    assert_eq!(tables(&r, 0), [0, 10, 20, 30]);
    assert_eq!(tables(&r, 1), [0, 20, 30]);
    assert_eq!(r["hops"][1]["host"], "h2");
    assert_eq!(r["hops"][1]["ingress"]["port"], "vx-h1");
    assert_eq!(r["hops"][1]["legs"][0]["kind"], "local");
    assert_eq!(r["hops"][1]["legs"][0]["reaches"], "b2");
    assert_eq!(r["verdict"]["delivered"], true);
    assert!(lab.ping("b1", ip_of(&lab, "b2")), "the data plane agrees");

    // Routed into green on a third host: the route table rewrites and changes the VNI.
    let r = report(&lab, "b1", "g2", &["--udp", "53"], 0);
    assert_eq!(tables(&r, 0), [0, 10, 20, 30, 40]);
    assert_eq!(r["hops"][0]["steps"][4]["name"], "route");
    assert_eq!(r["hops"][0]["legs"][0]["port"], "gnv-h3");
    assert_eq!(r["hops"][0]["legs"][0]["tun_dst"], h3_ip.as_str());
    assert_eq!(r["hops"][0]["legs"][0]["tun_id"], 0x7d2);
    assert_eq!(r["hops"][1]["host"], "h3");
    assert_eq!(r["hops"][1]["legs"][0]["packet"]["ttl"], 63);
    assert_eq!(
        r["verdict"]["text"],
        "delivered to container g2 on host h3 (routed from blue into green)"
    );
    assert!(lab.ping("b1", ip_of(&lab, "g2")), "the data plane agrees");

    // Cross-tenant, off the subnet: zeta's p1 is no route of acme's router (table 40).
    let r = report(&lab, "b1", "p1", &[], 7);
    assert_eq!(r["verdict"]["table"], 40);
    assert_eq!(r["hops"].as_array().unwrap().len(), 1, "nothing left h1");
    let v = r["verdict"]["text"].as_str().unwrap();
    assert!(
        v.starts_with("dropped on host h1 in table 40 (route): no route"),
        "{v}"
    );
    assert!(
        v.ends_with(
            "b1 is in network blue (tenant acme), p1 in network pink (tenant zeta): other tenant"
        ),
        "{v}"
    );
    assert!(!lab.ping("b1", ip_of(&lab, "p1")), "the data plane agrees");

    // Cross-tenant on the same subnet: zeta's r1 at acme's b2's MAC (table 30).
    let o = trace(&lab, "r1", "b2", &[]);
    let text = common::text(&o);
    assert_eq!(o.status.code(), Some(7), "{text}");
    assert!(
        text.contains("verdict: dropped on host h1 in table 30 (forward): no such MAC"),
        "{text}"
    );
    assert!(text.contains("other tenant"), "{text}");

    // A spoofed source: port security (table 10).
    let r = report(&lab, "b1", "b2", &["--src-ip", "10.60.1.99"], 7);
    assert_eq!(r["verdict"]["table"], 10);
    assert_eq!(tables(&r, 0), [0, 10]);
    let v = r["verdict"]["text"].as_str().unwrap();
    assert!(
        v.contains("in table 10 (port security)") && v.contains("spoofed source"),
        "{v}"
    );
    let r = report(&lab, "b1", "b2", &["--src-mac", "1e:d1:0a:3c:01:99"], 7);
    assert_eq!(r["verdict"]["table"], 10);

    // The lab verb runs the same command.
    let o = common::ovs_lab_cli(&[
        "trace",
        "--run",
        lab.prefix(),
        "b1",
        "g2",
        "--",
        "--tcp",
        "443",
    ]);
    let text = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("verdict: delivered to container g2 on host h3"),
        "{text}"
    );

    // Through a command prefix (here the host's namespace) instead of a local socket.
    let via = format!("ip netns exec {}-{{host}}", lab.prefix());
    let target = lab.trace_target().unwrap();
    let o = ctl(
        &lab,
        &[
            "trace", "--from", "b1", "--to", "g2", "--via", &via, "--target", &target,
        ],
    );
    let text = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("verdict: delivered to container g2 on host h3"),
        "{text}"
    );

    // Errors: an unknown container (3), a missing control socket (6), no way to reach
    // the hosts or a target without {host} (2).
    let o = trace(&lab, "nope", "b2", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", common::text(&o));
    assert!(common::text(&o).contains("--from nope: no endpoint of container \"nope\""));
    let o = trace(&lab, "b1", "nope", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", common::text(&o));
    let missing = "/tmp/ovs-lab/trace-missing/{host}/ovs-vswitchd.ctl";
    let o = ctl(
        &lab,
        &["trace", "--from", "b1", "--to", "b2", "--target", missing],
    );
    let text = common::text(&o);
    assert_eq!(o.status.code(), Some(6), "{text}");
    assert!(
        text.contains("host h1: ovs-vswitchd control socket /tmp/ovs-lab/trace-missing/h1/ovs-vswitchd.ctl: no such file"),
        "{text}"
    );
    let o = ctl(&lab, &["trace", "--from", "b1", "--to", "b2"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o));
    assert!(common::text(&o).contains("--via"), "{}", common::text(&o));
    let o = ctl(
        &lab,
        &[
            "trace",
            "--from",
            "b1",
            "--to",
            "b2",
            "--target",
            "/run/x.ctl",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", common::text(&o));
}
