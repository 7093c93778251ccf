//! The first packet between containers on two hosts is delivered, on the userspace datapath
//! (`datapath_type=netdev`), which drops a packet to a tunnel peer whose underlay neighbour it
//! has not resolved yet: the controller has every tunnel's neighbour resolved before a
//! packet needs it (`southbound::tunnel_warm`).
//!
//! Checked on `two-hosts.toml` through the controller, before any container traffic: each
//! host's `tnl/neigh/show` comes to hold the other host's underlay address (nothing else
//! sends to it: without the controller's frame the cache stays empty), and then a single
//! echo request from a container on h1 to one on h2 (one packet, no retry) is answered, and
//! the other way round.
//!
//! Needs root, real OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use ovs_lab::{Lab, LabOptions};

/// Waits up to 20 s for `host`'s tunnel neighbour cache to hold `ip`.
fn wait_neighbour(lab: &Lab, host: &str, ip: &str) {
    let h = lab.host(host).unwrap();
    let t0 = Instant::now();
    loop {
        let table = h.appctl(&["tnl/neigh/show"]).unwrap();
        if table
            .lines()
            .any(|l| l.split_whitespace().next() == Some(ip))
        {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{host} never resolved its tunnel peer {ip}:\n{table}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One echo request from `from` to `to`, no retry.
fn one_ping(lab: &Lab, from: &str, to: &str) -> bool {
    let ip = lab.container(to).unwrap().ip.unwrap().addr.to_string();
    let out = lab
        .container(from)
        .unwrap()
        .exec(&["ping", "-c", "1", "-W", "3", &ip])
        .unwrap();
    out.status.success()
}

#[test]
fn the_first_packet_across_hosts_is_delivered() {
    common::require_binaries();
    let Some(lab) = common::up("two-hosts", &LabOptions::controller()) else {
        return;
    };
    let (h1, h2) = (lab.host("h1").unwrap(), lab.host("h2").unwrap());
    wait_neighbour(&lab, "h1", &h2.underlay_ip.to_string());
    wait_neighbour(&lab, "h2", &h1.underlay_ip.to_string());
    assert!(
        one_ping(&lab, "c1", "c3"),
        "the first echo c1 -> c3 was lost"
    );
    assert!(
        one_ping(&lab, "c4", "c2"),
        "the first echo c4 -> c2 was lost"
    );
}
