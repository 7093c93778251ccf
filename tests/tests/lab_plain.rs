//! Plain wiring (no controller) on real OVS: the pingall matrix of each shipped topology
//! matches the topology's expectation, TCP works across a tunnel, and the host API
//! (OVSDB over TCP from the controller namespace, flow dumps, vswitchd restart,
//! controller-namespace processes) behaves as documented. Needs root.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{assert_pingall, assert_tenants_isolated, up, IPERF3};
use ovs_lab::{assert_flows_eventually, wait_until, LabOptions, BR_EX, BR_PHY};
use ovs_testbed::process::gone;
use ovs_testbed::require;

#[test]
fn two_hosts_plain_full_matrix() {
    let Some(lab) = up("two-hosts", &LabOptions::plain()) else {
        return;
    };
    let m = assert_pingall(&lab, 12);
    assert_eq!(m.names.len(), 4);
}

#[test]
fn multi_tenant_plain_isolation() {
    let Some(lab) = up("multi-tenant", &LabOptions::plain()) else {
        return;
    };
    // red: 2 ordered pairs; green: 3 containers -> 6 ordered pairs.
    assert_pingall(&lab, 8);
    assert_tenants_isolated(&lab);
}

#[test]
fn three_hosts_vxlan_and_gre_plain() {
    let Some(lab) = up("three-hosts-mixed", &LabOptions::plain()) else {
        return;
    };
    assert_pingall(&lab, 8);
    let h1 = lab.host("h1").unwrap();
    let gre = h1.vsctl(&["get", "Interface", "t3n2", "type"]).unwrap();
    assert_eq!(gre, "gre");
}

#[test]
fn tcp_across_vxlan_tunnel() {
    require!(IPERF3);
    let Some(lab) = up("two-hosts", &LabOptions::plain()) else {
        return;
    };
    let server = lab.container("c3").unwrap();
    let client = lab.container("c1").unwrap();
    let mut srv = server.command("iperf3");
    srv.args(["-s", "-1", "-p", "5201"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut srv = srv.spawn().unwrap();
    let ip = server.ip.unwrap().addr.to_string();
    let mut out = None;
    wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        let o = client.exec(&[
            "iperf3",
            "-c",
            &ip,
            "-p",
            "5201",
            "-n",
            "2M",
            "--connect-timeout",
            "1000",
        ])?;
        let ok = o.status.success();
        out = Some(o);
        Ok(ok)
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", out));
    let _ = srv.kill();
    let _ = srv.wait();
}

#[test]
fn host_api_controller_ns_flows_and_restart() {
    // Plaintext OVSDB over TCP is what this test reads, so the lab is explicitly insecure.
    let Some(mut lab) = up("two-hosts", &LabOptions::plain().insecure()) else {
        return;
    };
    let h1 = lab.host("h1").unwrap().clone();

    // OVSDB over TCP on the underlay, from the controller namespace.
    let mut c = lab.controller_command("ovs-vsctl");
    c.args([
        "--timeout=10",
        &format!("--db={}", h1.ovsdb_tcp()),
        "list-br",
    ]);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let brs = String::from_utf8_lossy(&out.stdout);
    assert!(brs.contains(BR_PHY) && brs.contains(BR_EX), "{brs}");

    // Flow dumps are normalized.
    let flows = assert_flows_eventually(&h1, BR_EX, |f| {
        f.iter().any(|l| l.contains("priority=0 actions=NORMAL"))
    })
    .unwrap();
    assert!(
        flows
            .iter()
            .all(|l| !l.contains("n_packets") && !l.contains("duration")),
        "{flows:?}"
    );

    // Restart: new pid, bridges kept (OVSDB), OpenFlow state lost.
    let before = h1.vswitchd_pid().unwrap();
    h1.restart_vswitchd().unwrap();
    let after = h1.vswitchd_pid().unwrap();
    assert_ne!(before, after);
    assert!(gone(before), "old vswitchd {before} still running");
    assert!(h1.vsctl(&["list-br"]).unwrap().contains(BR_EX));
    assert_flows_eventually(&h1, BR_EX, |f| !f.iter().any(|l| l.contains("priority=50"))).unwrap();
    assert!(h1.appctl(&["version"]).unwrap().contains("ovs-vswitchd"));

    // A process in the controller namespace, killed on drop.
    let mut sleeper = lab.controller_command("sleep");
    sleeper.arg("300");
    let pid = lab.spawn_in_controller_ns(sleeper).unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    // Extra container namespace.
    let extra = lab.add_container("h2", "extra").unwrap();
    assert!(Path::new("/run/netns").join(&extra.netns).exists());
    let names = lab.netns_names();
    drop(lab);
    assert!(gone(pid), "controller-ns process {pid} survived drop");
    for ns in names {
        assert!(
            !Path::new("/run/netns").join(&ns).exists(),
            "{ns} left behind"
        );
    }
    assert!(gone(after), "vswitchd {after} survived drop");
}

#[test]
fn cleanup_stale_never_touches_a_live_run() {
    let Some(lab) = up("two-hosts", &LabOptions::unwired()) else {
        return;
    };
    let removed = ovs_lab::cleanup_stale();
    assert!(!removed.contains(&lab.prefix().to_string()));
    for ns in lab.netns_names() {
        assert!(
            Path::new("/run/netns").join(&ns).exists(),
            "{ns} was removed"
        );
    }
    assert!(lab.hosts()[0].appctl(&["version"]).is_ok());
    // Unwired: no br-ex yet, containers have only loopback.
    assert!(!lab.hosts()[0].vsctl(&["list-br"]).unwrap().contains(BR_EX));
    assert!(lab.containers()[0].mac().is_none());
}

#[test]
fn geneve_network_plain() {
    let Some(lab) = up("geneve", &LabOptions::plain()) else {
        return;
    };
    assert_eq!(lab.controller_ip().to_string(), "198.51.100.254");
    assert_pingall(&lab, 2);
    let mtu = lab
        .container("x")
        .unwrap()
        .run(&["cat", "/sys/class/net/eth0/mtu"])
        .unwrap();
    assert_eq!(mtu, "1442");
}

/// The matrix is not a rubber stamp: breaking isolation on purpose shows up as `X!`.
#[test]
fn pingall_detects_an_isolation_leak() {
    let Some(lab) = up("isolation-leak", &LabOptions::plain()) else {
        return;
    };
    assert_pingall(&lab, 0);
    // Put b1's port into network a's VLAN: a1 and b1 now share a segment.
    lab.host("h1")
        .unwrap()
        .vsctl(&["set", "Port", "p-b1", "tag=1"])
        .unwrap();
    let m = lab.pingall();
    m.print();
    assert!(!m.all_as_expected(), "{m}");
    let bad = m.unexpected();
    assert!(
        bad.contains(&("a1".to_string(), "b1".to_string(), true)),
        "{m}"
    );
    assert!(m.to_string().contains("X!"), "{m}");
}
