//! Egress on real OVS (issue 13, deliverable 3): `egress.toml` (tenants acme and zeta with
//! the same subnet, both marked for egress, one container of each with the same address
//! on h1, a network without egress) through the controller and `ovs-docker-rs attach`,
//! each host prepared by `ovs-docker-rs egress-setup`, and an "outside" namespace the test
//! puts on the underlay segment (an address of the lab's underlay, never a real one).
//!
//! Checked: b1 and r1 (same address, same host, two tenants) and b2 (the other host) ping
//! the outside; both h1 containers hold a TCP connection to one outside server port *at
//! the same time from the same source address and port*, each gets its own reply back, and
//! the server sees both coming from h1's underlay address (on two different ports: two
//! conntrack entries); a TCP transfer (iperf3) from the outside server, which reports h2's
//! address for b2; n1 (no egress) reaches nothing outside; the tenants still do not reach
//! each other; the kernel's transit address and the host's own address are fenced off.
//!
//! Needs root, real OVS, iptables and the workspace binaries (`cargo build --workspace
//! --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::process::Stdio;

use ovs_lab::{Container, Lab, LabOptions};
use ovs_testbed::Peer;

const IPTABLES: Peer = Peer::Tool {
    program: "iptables",
    package: "iptables",
};
const BUSYBOX: Peer = Peer::Tool {
    program: "busybox",
    package: "busybox-static",
};

/// The outside server's address: the underlay's .200 (hosts are .1, .2, the controller .254).
fn outside_ip(lab: &Lab) -> Ipv4Addr {
    let u = lab.topology().underlay;
    Ipv4Addr::from(u32::from(u.network()) + 200)
}

/// `egress.toml` through the controller, every host prepared for egress, and the outside
/// namespace on the underlay bridge; None: a peer is missing (the `require!` policy).
fn up() -> Option<(Lab, Container)> {
    ovs_testbed::require!(peers: ovs_lab::PEERS => None);
    ovs_testbed::require!(common::IPERF3 => None);
    ovs_testbed::require!(IPTABLES => None);
    ovs_testbed::require!(BUSYBOX => None);
    common::require_binaries();
    let mut lab = common::up("egress", &LabOptions::controller())?;
    let docker = ovs_lab::docker_binary().unwrap();
    for h in lab.hosts() {
        let mut c = h.command(docker.to_str().unwrap());
        c.args(["egress-setup", "--bridge", "br-ex"]);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "egress-setup on {}: {}",
            h.name,
            String::from_utf8_lossy(&out.stderr)
        );
        // A second run converges to the same rules (idempotent).
        let mut again = h.command(docker.to_str().unwrap());
        let again = again.arg("egress-setup").output().unwrap();
        assert!(again.status.success(), "second egress-setup on {}", h.name);
    }
    let outside = lab.add_container("h1", "outside").unwrap();
    let fabric = lab.fabric_ns().to_string();
    let port = format!("{}-out", lab.prefix());
    let sh = |args: &[&str]| {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let port = &port[port.len().saturating_sub(15)..];
    sh(&[
        "-n",
        &outside.netns,
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        port,
        "netns",
        &fabric,
    ]);
    sh(&["-n", &fabric, "link", "set", port, "master", "br0", "up"]);
    outside
        .run(&["ethtool", "-K", "eth0", "tx", "off"])
        .unwrap();
    let addr = format!("{}/{}", outside_ip(&lab), lab.topology().underlay.prefix);
    outside
        .run(&["ip", "addr", "add", &addr, "dev", "eth0"])
        .unwrap();
    outside.run(&["ip", "link", "set", "eth0", "up"]).unwrap();
    Some((lab, outside))
}

fn underlay_ip(lab: &Lab, host: &str) -> Ipv4Addr {
    lab.host(host).unwrap().underlay_ip
}

/// A TCP server in namespace `netns` on `port` that accepts `n` connections, reads one
/// line from each once all are open, answers each with its own line, and returns each
/// peer's address with the line it sent.
fn serve(netns: &str, port: u16, n: usize) -> std::thread::JoinHandle<Vec<(SocketAddr, String)>> {
    let ns = std::fs::File::open(format!("/run/netns/{netns}")).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let l = TcpListener::bind(("0.0.0.0", port)).unwrap();
        let conns: Vec<_> = (0..n).map(|_| l.accept().unwrap()).collect();
        let mut seen = Vec::new();
        for (s, peer) in conns {
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            let mut w = &s;
            w.write_all(format!("back to {}", line).as_bytes()).unwrap();
            seen.push((peer, line.trim().to_string()));
        }
        seen
    })
}

/// `busybox nc` from container `c` to `dst:port` from local port `sport`, sending `line`;
/// the child, with its stdin kept open.
fn nc(c: &Container, dst: Ipv4Addr, port: u16, sport: u16, line: &str) -> std::process::Child {
    let mut cmd = c.command("busybox");
    cmd.args([
        "nc",
        "-w",
        "5",
        "-p",
        &sport.to_string(),
        &dst.to_string(),
        &port.to_string(),
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    writeln!(child.stdin.as_mut().unwrap(), "{line}").unwrap();
    child
}

/// What `child` printed until the server closed the connection.
fn reply(mut child: std::process::Child) -> String {
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    drop(child.stdin.take());
    let _ = child.wait();
    out.trim().to_string()
}

/// The remote host iperf3's server (in `outside`, one test, JSON) saw for a 1 MB transfer
/// from `client`; retried while the server starts.
fn iperf_remote_host(lab: &Lab, outside: &Container, client: &str) -> String {
    let mut srv = outside.command("iperf3");
    srv.args(["-s", "-1", "-J", "-p", "5401"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let srv = srv.spawn().unwrap();
    let dst = outside_ip(lab).to_string();
    let cli = lab.container(client).unwrap();
    let mut last = String::new();
    let ok = (0..20).any(|_| {
        let out = cli
            .exec(&["iperf3", "-c", &dst, "-p", "5401", "-n", "1M", "-J"])
            .unwrap();
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        // The client sent it all and saw no error (the server's count may stop short: it
        // ends the test when the client says so, before its socket is drained).
        let sent = v["end"]["sum_sent"]["bytes"].as_u64().unwrap_or(0) >= 1 << 20;
        let done = sent && v.get("error").is_none();
        if !done {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        done
    });
    assert!(ok, "iperf3 {client} -> outside never completed: {last}");
    let out = srv.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["start"]["connected"][0]["remote_host"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn egress_networks_reach_the_outside_natted_to_their_own_host() {
    let Some((lab, outside)) = up() else {
        return;
    };
    let out_ip = outside_ip(&lab);
    let c = |n: &str| lab.container(n).unwrap();
    assert_eq!(c("b1").ip.unwrap().addr, c("r1").ip.unwrap().addr);
    for name in ["b1", "r1", "b2"] {
        assert!(c(name).ping(out_ip, 5), "{name} -> outside {out_ip}");
    }
    assert!(
        !c("n1").ping(out_ip, 2),
        "n1 (no egress) reached the outside"
    );

    // Two tenants, one address, one source port, one server port, at the same time.
    let server = serve(&outside.netns, 7000, 2);
    let b1 = nc(c("b1"), out_ip, 7000, 40000, "b1");
    let r1 = nc(c("r1"), out_ip, 7000, 40000, "r1");
    let (rb, rr) = (reply(b1), reply(r1));
    let seen = server.join().unwrap();
    assert_eq!((rb.as_str(), rr.as_str()), ("back to b1", "back to r1"));
    let h1 = underlay_ip(&lab, "h1");
    assert_eq!(seen.len(), 2);
    for (peer, who) in &seen {
        assert_eq!(
            peer.ip(),
            std::net::IpAddr::V4(h1),
            "{who} seen from {peer}"
        );
    }
    assert_ne!(
        seen[0].0.port(),
        seen[1].0.port(),
        "one conntrack entry for two: {seen:?}"
    );

    // A TCP transfer from the other host: the outside sees h2.
    assert_eq!(
        iperf_remote_host(&lab, &outside, "b2"),
        underlay_ip(&lab, "h2").to_string()
    );

    // Fences: the host kernel's transit address and the host's own address are not
    // reachable through egress; the other tenant's container is not either.
    let b1 = c("b1");
    assert!(
        !b1.ping(ovs_api::egress::HOST_TRANSIT_IP, 2),
        "b1 reached 100.64.0.1"
    );
    assert!(
        !b1.ping(ovs_api::egress::transit_pool().nth(1).unwrap(), 2),
        "b1 reached a transit address"
    );
    assert!(!b1.ping(h1, 2), "b1 reached its host's own address");
    // The outside cannot open a connection to a container through a transit address.
    outside
        .run(&[
            "ip",
            "route",
            "add",
            "100.64.0.0/10",
            "via",
            &h1.to_string(),
        ])
        .unwrap();
    assert!(
        !outside.ping(ovs_api::egress::transit_pool().next().unwrap(), 2),
        "outside reached b1 unsolicited"
    );
}
