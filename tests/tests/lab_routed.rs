//! Gateways and routing on real OVS (issue 13, deliverables 1 and 2): `routed.toml` (two
//! tenants × two networks with the same subnets, routers per tenant, VXLAN, Geneve, GRE
//! and VXLAN networks over three hosts) brought up through the controller and
//! `ovs-docker-rs attach`.
//!
//! Checked: every container's default route is its network's gateway, which answers ARP
//! with its own virtual MAC (a different one per network, so the other tenant's gateway
//! at the same address is not it); the pingall matrix is the topology's (every pair of a
//! tenant across its networks and hosts, no pair across tenants, both directions); TCP
//! through the routed path over each pair of tunnel types; frames sent straight to the
//! other tenant's gateway MAC reach nobody there; a TTL=1 packet into another network is
//! dropped while TTL=2 gets through.
//!
//! Needs root, real OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::Ipv4Addr;
use std::process::Stdio;

use ovs_api::NorthboundClient;
use ovs_lab::{Lab, LabOptions};

/// `routed.toml` through the controller; None: a peer is missing (the `require!` policy).
fn up() -> Option<Lab> {
    ovs_testbed::require!(peers: ovs_lab::PEERS => None);
    ovs_testbed::require!(common::IPERF3 => None);
    common::require_binaries();
    common::up("routed", &LabOptions::controller())
}

fn ip(lab: &Lab, container: &str) -> Ipv4Addr {
    lab.container(container).unwrap().ip.unwrap().addr
}

/// A 1 MB TCP transfer from `client` to `server` (iperf3; retried while the server starts).
fn tcp(lab: &Lab, client: &str, server: &str) -> Result<(), String> {
    let srv = lab.container(server).unwrap();
    let mut cmd = srv.command("iperf3");
    cmd.args(["-s", "-1", "-p", "5202"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let pid = lab.spawn_tracked(cmd).map_err(|e| e.to_string())?;
    let dst = ip(lab, server).to_string();
    let cli = lab.container(client).unwrap();
    let mut last = String::new();
    let done = (0..20).any(|_| {
        let out = cli
            .exec(&["iperf3", "-c", &dst, "-p", "5202", "-n", "1M"])
            .unwrap();
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        out.status.success()
    });
    let _ = lab.stop_process(pid);
    done.then_some(())
        .ok_or(format!("TCP {client} -> {server}: {last}"))
}

#[test]
fn routed_tenants_reach_their_networks_and_never_each_other() {
    let Some(lab) = up() else {
        return;
    };
    let nets = lab
        .northbound(|c| async move { Ok(c.network_list().await?) })
        .unwrap();
    let net = |name: &str| nets.iter().find(|n| n.name == name).unwrap().clone();

    // Default route via the gateway, which answers with its network's virtual MAC.
    for c in &lab.topology().containers {
        let n = net(&c.network);
        let gw = n.gateway.unwrap();
        let routes = lab
            .container(&c.name)
            .unwrap()
            .run(&["ip", "route", "show", "default"]);
        let routes = routes.unwrap();
        assert!(
            routes.contains(&format!("default via {gw} dev eth0")),
            "{}: {routes}",
            c.name
        );
        let box_ = lab.container(&c.name).unwrap();
        // Resolve the gateway (a ping to it is not answered: the gateway only routes).
        let _ = box_.exec(&["ping", "-n", "-q", "-c", "1", "-W", "1", &gw.to_string()]);
        assert_eq!(
            box_.neighbour_mac(gw),
            n.gateway_mac.map(|m| m.to_string()),
            "{}: gateway {gw}",
            c.name
        );
    }
    // blue and red share subnet and gateway address, not the gateway MAC.
    assert_eq!(net("blue").gateway, net("red").gateway);
    assert_ne!(net("blue").gateway_mac, net("red").gateway_mac);
    assert_eq!(net("blue").router.as_deref(), Some("acme-r"));

    // Within a tenant every pair across networks and hosts; across tenants none, both
    // directions (8 containers, 4 per tenant: 4 * 3 * 2 = 24 pairs).
    let m = common::assert_pingall(&lab, 24);
    assert!(m.all_as_expected());

    // TCP on the routed path: blue (VXLAN) h1 -> green (Geneve) h3, green h1 -> blue h2,
    // red (GRE) h1 -> pink (VXLAN) h2, pink h3 -> red h3 (local: both on h3).
    for (client, server) in [("b1", "g2"), ("g1", "b2"), ("r1", "p1"), ("p2", "r2")] {
        tcp(&lab, client, server).unwrap();
    }

    // Straight to the other tenant's gateway MAC: b1 (acme) sends to p1 (zeta, pink)
    // through a next hop that resolves to red's gateway MAC. Nothing gets there; the
    // same path to acme's own gateway MAC (the control) works towards g1.
    let b1 = lab.container("b1").unwrap();
    let hop = Ipv4Addr::new(10, 60, 1, 254);
    let red_gw = net("red").gateway_mac.unwrap().to_string();
    let blue_gw = net("blue").gateway_mac.unwrap().to_string();
    for (mac, target, want) in [(&blue_gw, "g1", true), (&red_gw, "p1", false)] {
        b1.pin_neighbour(hop, mac).unwrap();
        let dst = format!("{}/32", ip(&lab, target));
        b1.run(&[
            "ip",
            "route",
            "replace",
            &dst,
            "via",
            &hop.to_string(),
            "dev",
            "eth0",
        ])
        .unwrap();
        assert_eq!(
            b1.ping(ip(&lab, target), 3),
            want,
            "b1 -> {target} via MAC {mac}"
        );
        b1.run(&["ip", "route", "del", &dst]).unwrap();
    }
    // p1 (zeta) at b1's address space: 10.60.1.2 is blue's b1; zeta's red has no .2.
    let p1 = lab.container("p1").unwrap();
    assert!(!p1.ping(ip(&lab, "b1"), 2), "p1 reached b1");

    // TTL: 1 is dropped on the sending host (dec_ttl), 2 gets there and back.
    let g2 = ip(&lab, "g2").to_string();
    let ttl = |t: &str| {
        let out = b1
            .exec(&["ping", "-n", "-q", "-c", "2", "-W", "1", "-t", t, &g2])
            .unwrap();
        out.status.success()
    };
    assert!(ttl("2"), "TTL=2 b1 -> g2 lost (the control)");
    assert!(!ttl("1"), "TTL=1 b1 -> g2 was forwarded");
}
